package stdlib

import (
	"math"
	"math/rand/v2"
	"testing"
)

// weightedSumsByElement is the element-by-element loop weightedSumsBlocked replaced: the
// bitwise reference.
func weightedSumsByElement(ps [][]float64, w, dst []float64) {
	for j := range dst {
		s := 0.0
		for i, wi := range w {
			s += float64(ps[i][j] * wi)
		}
		dst[j] = s
	}
}

// TestGeometricMedianRowsBlocked: the column-blocked weighted sums give the element-by-element
// loop's bits through the whole Weiszfeld iteration, over model counts, sizes across several
// blocks, and non-finite values.
func TestGeometricMedianRowsBlocked(t *testing.T) {
	rnd := rand.New(rand.NewPCG(12, 34))
	for _, r := range []int{1, 2, 3, 5, 11} {
		for _, n := range []int{1, 7, 1024, 1025, 3000} {
			ps := make([][]float64, r)
			for i := range ps {
				ps[i] = make([]float64, n)
				for j := range ps[i] {
					ps[i][j] = rnd.NormFloat64() * math.Ldexp(1, rnd.IntN(30)-15)
				}
			}
			if r > 2 && n > 10 {
				ps[1][5] = math.Inf(1)
			}
			got, want := make([]float64, n), make([]float64, n)
			geometricMedianRows(ps, n, 1e-6, 20, 1e-20, got)
			geometricMedianRowsWith(ps, n, 1e-6, 20, 1e-20, want, weightedSumsByElement)
			for j := range got {
				if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
					t.Fatalf("r=%d n=%d: [%d] = %v, want %v", r, n, j, got[j], want[j])
				}
			}
		}
	}
}

// geometricMedianTwoPass is the Weiszfeld loop as sd-mecha writes it and as mechac ran it
// before its one-pass form: the weighted average (element by element), then the distances
// (DistsTorch) in a second pass, and a last weighted average for the result.
func geometricMedianTwoPass(ps [][]float64, n int, eps float64, maxiter int64, ftol float64, out []float64) {
	r := len(ps)
	weighted := func(w, dst []float64) {
		weightedSumsByElement(ps, w, dst)
		den := 0.0
		for _, v := range w {
			den += v
		}
		for j := range dst {
			dst[j] /= den
		}
	}
	median := make([]float64, n)
	for j := range median {
		s := 0.0
		for i := 0; i < r; i++ {
			s += ps[i][j]
		}
		median[j] = s / float64(r)
	}
	dists := make([]float64, r)
	objective := func() float64 {
		DistsTorch(func(i int) []float64 { return ps[i][:n] }, median, dists)
		return SumTorch(dists) / float64(r)
	}
	w := make([]float64, r)
	fill(w, 1)
	obj := objective()
	for it := int64(0); it < maxiter; it++ {
		prev := obj
		for i := range w {
			w[i] = 1 / clampMin(dists[i], eps)
		}
		weighted(w, median)
		obj = objective()
		if math.Abs(prev-obj) <= ftol*obj {
			break
		}
	}
	weighted(w, out)
}

// TestGeometricMedianOnePass: the fused Weiszfeld step (weighted average and distances in one
// pass over column blocks) and the reuse of the last median give the two-pass loop's bits,
// for sizes across several blocks, maxiter 0, 1 and more, early stops and non-finite values.
func TestGeometricMedianOnePass(t *testing.T) {
	rnd := rand.New(rand.NewPCG(56, 78))
	for _, r := range []int{1, 2, 5, 8} {
		for _, n := range []int{1, 9, 4096, 4097, 9000} {
			for _, maxiter := range []int64{0, 1, 3, 50} {
				for _, ftol := range []float64{1e-20, 1e-3} {
					ps := make([][]float64, r)
					for i := range ps {
						ps[i] = make([]float64, n)
						for j := range ps[i] {
							ps[i][j] = rnd.NormFloat64() * math.Ldexp(1, rnd.IntN(30)-15)
						}
					}
					if r > 2 && n > 5000 && maxiter == 3 {
						ps[1][4500] = math.NaN()
					}
					got, want := make([]float64, n), make([]float64, n)
					geometricMedianRows(ps, n, 1e-6, maxiter, ftol, got)
					geometricMedianTwoPass(ps, n, 1e-6, maxiter, ftol, want)
					for j := range got {
						if math.Float64bits(got[j]) != math.Float64bits(want[j]) && !(math.IsNaN(got[j]) && math.IsNaN(want[j])) {
							t.Fatalf("r=%d n=%d maxiter=%d ftol=%g: [%d] = %v, want %v", r, n, maxiter, ftol, j, got[j], want[j])
						}
					}
				}
			}
		}
	}
}
