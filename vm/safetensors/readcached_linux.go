//go:build linux && (amd64 || arm64)

package safetensors

import (
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reading a tensor from the page cache without the scheduler. A pread is a blocking system
// call to the Go runtime: one that lasts past a sysmon tick (20 µs, a 200 KiB copy) has its P
// handed to another thread, which wakes to look for work, finds none and sleeps again, and
// the reader, back from the kernel, takes a P again. With every P busy (the workers) each
// long read cost a few context switches; sysmon, retaking Ps, woke every few hundred
// microseconds. Where the page cache holds the bytes, readCached copies them with preadv2 and
// RWF_NOWAIT, which never waits for the disk, as a raw system call: the goroutine keeps its
// P. On the scale-4 TIES benchmark (warm, 8 interleaved pairs): wall 1.298 -> 1.218 s, CPU
// 2.201 -> 2.056 s, context switches ~8 K -> ~3.5 K. Bytes not cached are read by the
// ordinary blocking pread, which lets the scheduler run others while the disk works.

// cachedReadMax bounds one raw system call's copy (~0.4 ms at 10 GB/s): while it runs, its
// goroutine cannot be preempted, and a collection's stop-the-world waits for it. A variable
// for the tests.
var cachedReadMax = 4 << 20

// readCachedOff is set once the kernel refuses RWF_NOWAIT reads (EOPNOTSUPP, or EINVAL and
// ENOSYS before 4.14): every read is then the blocking kind, without a probe first.
var readCachedOff atomic.Bool

// readCached copies into buf the bytes of the file of rc from off that the page cache holds,
// up to the first that it does not, and returns how many it copied (0 when none are cached or
// the kernel cannot tell).
func readCached(rc syscall.RawConn, buf []byte, off int64) (done int) {
	if len(buf) == 0 || rc == nil || readCachedOff.Load() {
		return 0
	}
	_ = rc.Control(func(fd uintptr) {
		for done < len(buf) {
			iov := unix.Iovec{Base: &buf[done]}
			iov.SetLen(min(len(buf)-done, cachedReadMax))
			n, _, errno := syscall.RawSyscall6(unix.SYS_PREADV2, fd, uintptr(unsafe.Pointer(&iov)), 1,
				uintptr(off+int64(done)), 0, unix.RWF_NOWAIT)
			switch errno {
			case 0:
			case unix.EOPNOTSUPP, unix.EINVAL, unix.ENOSYS:
				readCachedOff.Store(true)
				return
			default: // EAGAIN: the next byte is not cached; EINTR and others: the blocking read
				return
			}
			if n == 0 {
				return // end of file: the blocking read reports it
			}
			done += int(n)
		}
	})
	return done
}
