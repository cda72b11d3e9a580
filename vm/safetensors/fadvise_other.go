//go:build !(linux && (amd64 || arm64))

package safetensors

import "os"

// fadviseWillNeed is a no-op where the fadvise64 system call is not wired up.
func fadviseWillNeed(*os.File, int64, int64) {}
