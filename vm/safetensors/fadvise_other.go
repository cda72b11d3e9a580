//go:build !(linux && (amd64 || arm64))

package safetensors

import "os"

// fadviseWillNeed is a no-op where the fadvise64 system call is not wired up: it finds
// nothing cached.
func fadviseWillNeed(*os.File, int64, int64) bool { return false }

// cachedAt finds nothing cached where fadviseWillNeed does not probe.
func cachedAt(*os.File, int64) bool { return false }
