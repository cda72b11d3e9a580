package fastblas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// TestDsyr2k: both triangles and transposes, alpha and beta special values, k = 0, blocks of
// several diagonal blocks, against gonum's native Dsyr2k up to rounding; the other triangle
// keeps its bits (NaN payloads here); the same bits with the assembly or pure-Go kernel and any
// number of goroutines.
func TestDsyr2k(t *testing.T) {
	for _, sh := range [][2]int{{1, 1}, {5, 0}, {7, 3}, {40, 32}, {300, 32}, {600, 17}} {
		n, k := sh[0], sh[1]
		for _, ul := range []blas.Uplo{blas.Lower, blas.Upper} {
			for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
				for _, ab := range [][2]float64{{-1, 1}, {0.5, 0}, {0, 2}, {1.5, -0.25}} {
					name := fmt.Sprintf("%dx%d/%c%c/alpha=%v beta=%v", n, k, ul, tA, ab[0], ab[1])
					rng := rand.New(rand.NewPCG(uint64(n), uint64(k)))
					rows, cols := n, k
					if tA == blas.Trans {
						rows, cols = k, n
					}
					lda, ldb, ldc := cols+1, cols+2, n+3
					a, b := make([]float64, rows*lda), make([]float64, rows*ldb)
					for i := range a {
						a[i] = rng.NormFloat64()
					}
					for i := range b {
						b[i] = rng.NormFloat64()
					}
					c0 := make([]float64, n*ldc)
					for i := range n {
						for j := range n {
							c0[i*ldc+j] = rng.NormFloat64()
							if stored := j <= i && ul == blas.Lower || j >= i && ul == blas.Upper; !stored {
								c0[i*ldc+j] = math.Float64frombits(0x7ff8_dead_0000_0000 + uint64(i*n+j))
							} else if ab[1] == 0 {
								c0[i*ldc+j] = math.NaN() // beta = 0: C is not read
							}
						}
					}
					run := func(impl blas.Float64, asm bool, procs int) (c []float64) {
						withKernel(asm, procs, func() {
							c = slices.Clone(c0)
							impl.Dsyr2k(ul, tA, n, k, ab[0], a, lda, b, ldb, ab[1], c, ldc)
						})
						return c
					}
					got := run(Implementation{}, true, 2)
					want := run(gonum.Implementation{}, false, 1)
					for i := range n {
						for j := range n {
							g, w := got[i*ldc+j], want[i*ldc+j]
							if stored := j <= i && ul == blas.Lower || j >= i && ul == blas.Upper; !stored {
								if math.Float64bits(g) != math.Float64bits(c0[i*ldc+j]) {
									t.Fatalf("%s: (%d,%d) of the other triangle written", name, i, j)
								}
								continue
							}
							if d := math.Abs(g - w); !(d <= 1e-13*float64(k+1)*(1+math.Abs(w))) {
								t.Fatalf("%s: (%d,%d) = %v, gonum %v", name, i, j, g, w)
							}
						}
					}
					checkSameBits(t, name, got, func(asm bool, procs int) []float64 { return run(Implementation{}, asm, procs) })
				}
			}
		}
	}
}
