package stdlib

import "math"

//go:noescape
func dellaOffsetsAVX2(ranks *uint32, n int, ne, center, e float32, off *float64)

// dellaOffsetsFast writes dellaOffsets' offsets of the first len(ranks) &^ 7 ranks with AVX2
// and returns how many it wrote (0 without AVX2, or for 2^31 - 1 ranks or more, whose rank + 1
// the signed conversion would misread). On x215a the scalar loop, a float32 division per
// element, was 4.3% of the merge's CPU samples.
func dellaOffsetsFast(ranks []uint32, ne, center, e float32, off []float64) int {
	n := len(ranks) &^ 7
	if !vecSubVector || n == 0 || len(ranks) >= math.MaxInt32 || len(off) < n {
		return 0
	}
	dellaOffsetsAVX2(&ranks[0], n, ne, center, e, &off[0])
	return n
}

//go:noescape
func dellaFillQAVX2(qs, off *float64, pMin float64, fix bool, n int)

// dellaFillQFast writes dellaFillQ's probabilities pMin + off[j] (with fix, NaN -> 1e-20 and
// clamped to [1e-20, 1]) for the first len(qs) &^ 3 and returns how many it wrote (0 without
// AVX2). The Go loop was 2.6-2.8% of x215a's CPU samples.
func dellaFillQFast(qs, off []float64, pMin float64, fix bool) int {
	n := len(qs) &^ 3
	if !vecSubVector || n == 0 || len(off) < n {
		return 0
	}
	dellaFillQAVX2(&qs[0], &off[0], pMin, fix, n)
	return n
}
