//go:build linux && (amd64 || arm64)

package safetensors

import (
	"os"
	"sync/atomic"
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
//
// It reports whether it found the range's last byte cached (and so gave no advice).
func fadviseWillNeed(f *os.File, off, n int64) (cached bool) {
	rc, err := f.SyscallConn()
	if err != nil || n <= 0 {
		return false
	}
	_ = rc.Control(func(fd uintptr) {
		if cached = cachedByte(int(fd), off+n-1); cached {
			return
		}
		syscall.Syscall6(syscall.SYS_FADVISE64, fd, uintptr(off), uintptr(n), fadvWillNeed, 0, 0)
	})
	return cached
}

// cachedAt reports whether the byte at off of f is in the page cache (cachedByte).
func cachedAt(f *os.File, off int64) (cached bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	_ = rc.Control(func(fd uintptr) { cached = cachedByte(int(fd), off) })
	return cached
}

// cacheProbes counts cachedByte's system calls (for the tests).
var cacheProbes atomic.Int64

// cachedByte reports whether the byte at off of fd is in the page cache: a one-byte preadv2
// with RWF_NOWAIT, which fails with EAGAIN rather than wait for the disk. A kernel without
// RWF_NOWAIT for buffered reads (EOPNOTSUPP, before 4.14: ENOSYS or EINVAL) answers false.
func cachedByte(fd int, off int64) bool {
	cacheProbes.Add(1)
	var b [1]byte
	n, err := unix.Preadv2(fd, [][]byte{b[:]}, off, unix.RWF_NOWAIT)
	return err == nil && n == 1
}
