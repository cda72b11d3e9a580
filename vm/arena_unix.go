//go:build unix

package vm

import "syscall"

// newArena returns n bytes outside the Go heap (an anonymous mapping), for a buffer that lives
// as long as a worker: on the heap it would also raise the garbage collector's goal by its
// size (GOGC), about doubling what it costs in resident memory. freeArena releases it.
func newArena(n int) []byte {
	if n <= 0 {
		return nil
	}
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return make([]byte, 0, n) // no mapping to be had: the heap will do
	}
	adviseHugePages(b)
	return b[:0]
}

// arenaReserve is the capacity a worker's staged input cache maps at once: a mapping's
// untouched pages are not resident.
const arenaReserve = stageCacheBytes

// freeArena releases an arena from newArena.
func freeArena(b []byte) {
	if cap(b) == 0 {
		return
	}
	b = b[:cap(b)]
	// A heap fallback is not a mapping: Munmap refuses it (EINVAL) and the GC frees it.
	_ = syscall.Munmap(b)
}
