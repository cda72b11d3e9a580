//go:build !linux

package safetensors

import "os"

// preallocate is a no-op where fallocate(2) is not available; the caller's Truncate sets the
// size (sparse, so a full disk is only noticed while writing).
func preallocate(f *os.File, size int64) error { return nil }
