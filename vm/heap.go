package vm

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
)

// The Go heap on huge pages. The runtime maps its heap without MADV_HUGEPAGE, so where the
// kernel's transparent huge pages are "madvise" (the usual default) every 4 KiB page of it is
// faulted in on its first touch. In a virtual machine a fault costs ~5-15 µs: on the scale-4
// SDXL TIES benchmark the heap's ~12 K faults (key buffers, chunks, headers) were ~4% of the
// CPU time. PrepareHeap grows the heap by an advised block and frees it at once; the runtime
// reuses freed pages before it maps new ones, so later allocations land there and fault 2 MiB
// at a time. Measured on that benchmark (10 interleaved pairs): faults 12-13 K -> 1.3-2.1 K,
// wall 1.555 -> 1.466 s, CPU 2.673 -> 2.523 s; the uniform average of 8 0.928 -> 0.881 s.

// hugePageBytes is the transparent huge page size of x86-64 and of most arm64 kernels.
const hugePageBytes = 2 << 20

// PrepareHeap readies n bytes of Go heap address space for transparent huge pages, where the
// kernel's setting makes the advice matter ("madvise"; with "always" it is the default, with
// "never" it is ignored). It allocates an n-byte block, advises it and collects it: its pages
// stay mapped, untouched, and the runtime hands them out before growing the heap. It runs two
// collections. The pages never touched cost no memory. Resident memory may then grow by up to
// one huge page per partly used 2 MiB of heap, which is why a run under a memory budget does
// not call it (SPEC §5.2).
//
// A call for no more bytes than an earlier one does nothing: compilation uses little of its
// block, and a second one costs two more collections.
func PrepareHeap(n int64) {
	if n < 2*hugePageBytes || !thpAdvised() || n <= heapPrepared.Load() {
		return
	}
	heapPrepared.Store(n)
	// The runtime clears a large allocation that takes pages it handed out before, unless
	// they were returned to the OS since (they read as zeros): every free page is returned
	// first, so that the block is not cleared, which would fault it all in (it starts in the
	// free pages next to the heap's end when they fit: after compilation on the TIES
	// benchmark, 231 MiB cleared, 10% of the CPU time, once 0.6 s), and again after, so that
	// the block's pages are handed out untouched.
	//
	// Only a collection frees pages: before the first one completes, every free page of the
	// heap is one the runtime never handed out, and the first return is not needed. That is
	// `mechac run`'s call at its start: 3.6-7.7 ms of its serial start, scavenging a heap
	// that had nothing to return.
	if gcCycles() > 0 {
		debug.FreeOSMemory()
	}
	// (A block this large is a span of its own, page-aligned as madvise needs.)
	adviseHugePages(make([]byte, n))
	debug.FreeOSMemory() // collects the block, which nothing references any more
}

// heapPrepared is the largest block PrepareHeap advised.
var heapPrepared atomic.Int64

// thpAdvised reports whether transparent huge pages are given where advised only: the
// kernel's setting, read once.
var thpAdvised = sync.OnceValue(func() bool {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	return err == nil && strings.Contains(string(b), "[madvise]")
})

// gcCycles is the number of completed collections.
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 1 // unknown: assume pages were freed
	}
	return s[0].Value.Uint64()
}
