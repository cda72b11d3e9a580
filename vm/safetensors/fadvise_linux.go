//go:build linux && (amd64 || arm64)

package safetensors

import (
	"os"
	"syscall"
)

// fadvWillNeed is POSIX_FADV_WILLNEED on Linux.
const fadvWillNeed = 3

// fadviseWillNeed starts the kernel's asynchronous read of [off, off+n) of f into the page
// cache. Go's syscall package has no Fadvise wrapper, so this is the raw fadvise64 call.
func fadviseWillNeed(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		syscall.Syscall6(syscall.SYS_FADVISE64, fd, uintptr(off), uintptr(n), fadvWillNeed, 0, 0)
	})
}
