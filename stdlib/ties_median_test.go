package stdlib

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refGeometricMedianRows is geometricMedianRows with its weighted sums taken element by
// element over the models (the loop the blocked one replaced), as the bitwise reference.
func refGeometricMedianRows(ps [][]float64, n int, eps float64, maxiter int64, ftol float64, out []float64) {
	r := len(ps)
	p := func(i int) []float64 { return ps[i][:n] }
	weighted := func(w []float64, dst []float64) {
		for j := range dst {
			s := 0.0
			for i := 0; i < r; i++ {
				s += float64(ps[i][j] * w[i])
			}
			dst[j] = s
		}
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
		DistsTorch(p, median, dists) // times the weights (ones): exact
		return SumTorch(dists) / float64(r)
	}
	w := make([]float64, r)
	fill(w, 1)
	obj := objective()
	for it := int64(0); it < maxiter; it++ {
		prev := obj
		// dists holds dist(p_i, median) for this very median (the objective's, times the
		// weight 1, which is exact): sd-mecha computes it a second time, with the same bits.
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

// TestGeometricMedianRowsBlocked: the column-blocked weighted sums give the element-by-element
// loop's bits, over model counts, sizes across several blocks, and non-finite values.
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
			refGeometricMedianRows(ps, n, 1e-6, 20, 1e-20, want)
			for j := range got {
				if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
					t.Fatalf("r=%d n=%d: [%d] = %v, want %v", r, n, j, got[j], want[j])
				}
			}
		}
	}
}
