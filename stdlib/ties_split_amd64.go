package stdlib

import "golang.org/x/sys/cpu"

// The vote's inner loop (tiesSplitPass) four columns at a time with AVX2: the same additions in
// the same order per slot (plus +0 to the slot an element does not go to, which leaves a sum
// started at +0 unchanged), so the same sums; TestTiesSplitAVX2 compares it with the Go loop.

//go:noescape
func tiesSplitAVX2(m *float64, split *float64, cnt *int32, n int, lom1 int64)

var tiesSplitVector = cpu.X86.HasAVX2

// tiesSplitFast runs the first len(m) &^ 3 columns of tiesSplitPass with AVX2 when it can and
// returns how many it did.
func tiesSplitFast(m, split []float64, cnt []int32, lo uint64) int {
	n := len(m) &^ 3
	if !tiesSplitVector || n == 0 || lo > 1<<63-1 {
		return 0
	}
	tiesSplitAVX2(&m[0], &split[0], &cnt[0], n, int64(lo)-1)
	return n
}

//go:noescape
func tiesAbsKeysAVX(dst *uint32, src *float64, n int)

// tiesAbsKeys writes absKey(src[j]) to dst[j] for every j (len(dst) >= len(src)).
func tiesAbsKeys(dst []uint32, src []float64) {
	dst = dst[:len(src)]
	j := 0
	if n := len(src) &^ 3; tiesSplitVector && n > 0 {
		tiesAbsKeysAVX(&dst[0], &src[0], n)
		j = n
	}
	for ; j < len(src); j++ {
		dst[j] = absKey(src[j])
	}
}
