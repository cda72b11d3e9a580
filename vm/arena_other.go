//go:build !unix

package vm

// newArena returns a buffer of n bytes' capacity for a worker's lifetime (the heap here).
func newArena(n int) []byte { return make([]byte, 0, n) }

// arenaReserve is 0: a heap buffer is resident (zeroed) whole, so it grows only as needed.
const arenaReserve = 0

// freeArena releases an arena from newArena (the GC does, here).
func freeArena([]byte) {}

// adviseHugePages is a no-op here.
func adviseHugePages([]byte) {}
