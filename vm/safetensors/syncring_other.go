//go:build !linux

package safetensors

import (
	"errors"
	"os"
	"sync/atomic"
)

// syncRing is io_uring's writeback submission (syncring_linux.go); other systems have none
// and take the Writer's goroutine.
type syncRing struct{ asked atomic.Int64 }

var useSyncRing = false

func newSyncRing(*os.File) (*syncRing, error) { return nil, errors.ErrUnsupported }
func (r *syncRing) kick() error               { return nil }
func (r *syncRing) wait() error               { return nil }
func (r *syncRing) close()                    {}
