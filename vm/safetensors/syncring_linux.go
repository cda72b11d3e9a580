//go:build linux

package safetensors

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The output's writebacks (fdatasync every writebackBytes, see wrote) are asked of an
// io_uring (io_uring_setup(2)) where the kernel has one: the worker that crosses the
// threshold submits an IORING_OP_FSYNC, which the kernel runs on a thread of its own (an
// fsync cannot be issued without blocking, so io_uring hands it to its io-wq), and returns
// at once; the completions are read from the ring's memory at the next submission and at
// Commit. Why not the goroutine that did it before: a goroutine needs one of GOMAXPROCS Ps
// to run, and with every P running a worker it got one by preemption of a worker, then held
// it in fdatasync (~30 ms each here) until the runtime's monitor took it back, after up to
// its 10 ms sleep: on the TIES benchmark (22 writebacks) the preempted workers were runnable
// but not running ~70 ms a run (execution trace). A kernel without io_uring, or one that
// refuses it (io_uring_disabled, a seccomp filter), gets the goroutine.

// io_uring's ABI (include/uapi/linux/io_uring.h).
const (
	uringOffSQRing      = 0
	uringOffSQEs        = 0x10000000
	uringFeatSingleMap  = 1 << 0
	uringOpFsync        = 3
	uringFsyncDatasync  = 1
	uringEnterGetEvents = 1
	uringSQESize        = 64
	uringCQESize        = 16
)

// uringParams is struct io_uring_params.
type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  struct {
		head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
		userAddr                                                        uint64
	}
	cqOff struct {
		head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
		userAddr                                                        uint64
	}
}

// syncRingDepth is the most writebacks in flight: one running and one asked for meanwhile,
// as the goroutine had (each covers every byte written before it starts); a request past
// them is dropped, the next one covering its bytes.
const syncRingDepth = 2

// syncRing submits fdatasyncs of one file to an io_uring of its own.
type syncRing struct {
	mu       sync.Mutex
	ringFd   int
	fileFd   int
	ring     []byte // the submission and completion rings (one mapping)
	sqes     []byte
	sqTail   *uint32
	sqMask   uint32
	sqArray  unsafe.Pointer
	cqHead   *uint32
	cqTail   *uint32
	cqMask   uint32
	cqes     unsafe.Pointer
	inflight int
	err      error        // the first failed writeback, until returned
	enter    uintptr      // io_uring_enter's number (the tests make a submission fail)
	asked    atomic.Int64 // writebacks submitted (for the tests)
}

// useSyncRing: ask writebacks of an io_uring when the kernel offers one (the tests turn it
// off to count or fail the goroutine's writeback calls).
var useSyncRing = true

// newSyncRing returns a ring for f's writebacks, or an error when the kernel has none to give.
func newSyncRing(f *os.File) (*syncRing, error) {
	var p uringParams
	fd, _, errno := syscall.RawSyscall(unix.SYS_IO_URING_SETUP, 4, uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, errno
	}
	r := &syncRing{ringFd: int(fd), fileFd: int(f.Fd()), enter: unix.SYS_IO_URING_ENTER}
	if p.features&uringFeatSingleMap == 0 {
		r.close()
		return nil, errors.New("io_uring without IORING_FEAT_SINGLE_MMAP")
	}
	size := max(p.sqOff.array+4*p.sqEntries, p.cqOff.cqes+uringCQESize*p.cqEntries)
	var err error
	if r.ring, err = unix.Mmap(r.ringFd, uringOffSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		r.close()
		return nil, err
	}
	if r.sqes, err = unix.Mmap(r.ringFd, uringOffSQEs, int(uringSQESize*p.sqEntries), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		r.close()
		return nil, err
	}
	at := func(off uint32) unsafe.Pointer { return unsafe.Pointer(&r.ring[off]) }
	r.sqTail = (*uint32)(at(p.sqOff.tail))
	r.sqMask = *(*uint32)(at(p.sqOff.ringMask))
	r.sqArray = at(p.sqOff.array)
	r.cqHead = (*uint32)(at(p.cqOff.head))
	r.cqTail = (*uint32)(at(p.cqOff.tail))
	r.cqMask = *(*uint32)(at(p.cqOff.ringMask))
	r.cqes = at(p.cqOff.cqes)
	return r, nil
}

// kick submits a writeback unless syncRingDepth are in flight. It returns the error of a
// writeback that completed since the last call, if one failed.
func (r *syncRing) kick() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reap()
	if r.inflight < syncRingDepth && r.err == nil {
		tail := *r.sqTail // only this side writes it
		i := tail & r.sqMask
		sqe := r.sqes[uringSQESize*i : uringSQESize*(i+1)]
		clear(sqe)
		sqe[0] = uringOpFsync
		*(*int32)(unsafe.Pointer(&sqe[4])) = int32(r.fileFd)
		*(*uint32)(unsafe.Pointer(&sqe[28])) = uringFsyncDatasync
		*(*uint32)(unsafe.Add(r.sqArray, 4*i)) = i
		atomic.StoreUint32(r.sqTail, tail+1)
		// Submit only: the fsync goes to the kernel's worker thread, so this does not block.
		n, _, errno := syscall.RawSyscall6(r.enter, uintptr(r.ringFd), 1, 0, 0, 0, 0)
		if errno != 0 || n != 1 {
			// Not submitted (the kernel short of memory, say): take the entry back and skip
			// this writeback, which only hastens the disk writes; Commit's fsync covers the
			// bytes and reports their errors, since no fsync of the ring has seen them.
			atomic.StoreUint32(r.sqTail, tail)
		} else {
			r.inflight++
			r.asked.Add(1)
		}
	}
	err := r.err
	r.err = nil
	return err
}

// reap reads the completed writebacks, keeping the first error.
func (r *syncRing) reap() {
	head := *r.cqHead
	for tail := atomic.LoadUint32(r.cqTail); head != tail; head++ {
		cqe := unsafe.Add(r.cqes, uringCQESize*uintptr(head&r.cqMask))
		if res := *(*int32)(unsafe.Add(cqe, 8)); res < 0 {
			r.fail(syscall.Errno(-res))
		}
		r.inflight--
	}
	atomic.StoreUint32(r.cqHead, head)
}

func (r *syncRing) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// wait waits for the writebacks in flight and returns the first error not returned yet.
func (r *syncRing) wait() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.reap(); r.inflight > 0; r.reap() {
		// A blocking call, made as one (the runtime may give the P to another goroutine).
		_, _, errno := syscall.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.ringFd), 0, uintptr(r.inflight), uringEnterGetEvents, 0, 0)
		if errno != 0 && errno != syscall.EINTR {
			r.fail(errno)
			break
		}
	}
	err := r.err
	r.err = nil
	return err
}

// close unmaps the ring and closes it; the writebacks in flight, if any, complete anyway.
func (r *syncRing) close() {
	if r.sqes != nil {
		unix.Munmap(r.sqes)
	}
	if r.ring != nil {
		unix.Munmap(r.ring)
	}
	syscall.Close(r.ringFd)
	r.sqes, r.ring = nil, nil
}
