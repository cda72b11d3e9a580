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
