//go:build linux && (amd64 || arm64)

package safetensors

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// fadvWillNeed is POSIX_FADV_WILLNEED on Linux.
const fadvWillNeed = 3

// fadviseWillNeed starts the kernel's asynchronous read of [off, off+n) of f into the page
// cache. Go's syscall package has no Fadvise wrapper, so this is the raw fadvise64 call.
//
// It is skipped when the range's last byte is cached already (cachedByte): the VM reads a
// tensor from its start, so a cached end almost always means a cached tensor, and on a
// warm page cache the advice walked every page of every input only to find it there (2% of
// the CPU time of the scale-4 TIES benchmark, warm). A range cached only in part is advised.
func fadviseWillNeed(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil || n <= 0 {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		if cachedByte(int(fd), off+n-1) {
			return
		}
		syscall.Syscall6(syscall.SYS_FADVISE64, fd, uintptr(off), uintptr(n), fadvWillNeed, 0, 0)
	})
}

// cachedByte reports whether the byte at off of fd is in the page cache: a one-byte preadv2
// with RWF_NOWAIT, which fails with EAGAIN rather than wait for the disk. A kernel without
// RWF_NOWAIT for buffered reads (EOPNOTSUPP, before 4.14: ENOSYS or EINVAL) answers false.
func cachedByte(fd int, off int64) bool {
	var b [1]byte
	n, err := unix.Preadv2(fd, [][]byte{b[:]}, off, unix.RWF_NOWAIT)
	return err == nil && n == 1
}
