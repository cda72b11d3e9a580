package fastblas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// trsmOperands returns a well-conditioned triangular-ready A (k x k, stride k+pad: the unused
// triangle holds garbage that must not be read) and B (m x n, stride n+pad).
func trsmOperands(k, m, n, pad int, seed uint64) (a []float64, lda int, b []float64, ldb int) {
	rng := rand.New(rand.NewPCG(seed, 3))
	lda, ldb = k+pad, n+pad
	a = make([]float64, k*lda)
	for i := range a {
		a[i] = rng.NormFloat64() / math.Sqrt(float64(k))
	}
	for i := range k {
		a[i*lda+i] = 1 + rng.Float64() // diagonally dominant enough
	}
	b = make([]float64, m*ldb)
	for i := range b {
		b[i] = rng.NormFloat64()
	}
	return
}

// TestDtrsm: every side/uplo/transpose/diag combination equals gonum's native Dtrsm up to
// rounding, and gives the same bits with the assembly or pure-Go kernel and any number of
// goroutines.
func TestDtrsm(t *testing.T) { testTriangular(t, false) }

// TestDtrmm: the same for Dtrmm.
func TestDtrmm(t *testing.T) { testTriangular(t, true) }

func testTriangular(t *testing.T, mul bool) {
	// The last two shapes split the leaves among goroutines (parallelChunks).
	for _, sh := range [][2]int{{1, 5}, {40, 3}, {100, 77}, {257, 130}, {70, 300}, {300, 1}, {1, 300}, {200, 9}, {64, 2100}, {2100, 64}} {
		for _, s := range []blas.Side{blas.Left, blas.Right} {
			for _, ul := range []blas.Uplo{blas.Upper, blas.Lower} {
				for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
					for _, d := range []blas.Diag{blas.NonUnit, blas.Unit} {
						m, n := sh[0], sh[1]
						k := n
						if s == blas.Left {
							k = m
						}
						name := fmt.Sprintf("mul=%v/%dx%d/%c%c%c%c", mul, m, n, s, ul, tA, d)
						a, lda, b0, ldb := trsmOperands(k, m, n, k%3, uint64(m*n))
						run := func(impl blas.Float64, asm bool, procs int) []float64 {
							defer func(old bool, p int) { setAsm(old); runtime.GOMAXPROCS(p) }(useAsm, runtime.GOMAXPROCS(procs))
							setAsm(asm)
							b := append([]float64(nil), b0...)
							if mul {
								impl.Dtrmm(s, ul, tA, d, m, n, 0.75, a, lda, b, ldb)
							} else {
								impl.Dtrsm(s, ul, tA, d, m, n, 0.75, a, lda, b, ldb)
							}
							return b
						}
						want := run(gonum.Implementation{}, false, 1)
						ref := run(Implementation{}, false, 1)
						for i := range want {
							if math.Abs(ref[i]-want[i]) > 1e-10*(1+math.Abs(want[i])) {
								t.Fatalf("%s: element %d is %v, gonum gives %v", name, i, ref[i], want[i])
							}
						}
						for _, procs := range []int{1, 2} {
							if i := sameBits(ref, run(Implementation{}, asmAvailable, procs)); i >= 0 {
								t.Errorf("%s procs=%d: element %d differs from the pure-Go run", name, procs, i)
							}
						}
					}
				}
			}
		}
	}
}

func BenchmarkDtrsm(b *testing.B) {
	const n = 1280
	a, lda, b0, ldb := trsmOperands(n, n, n, 0, 5)
	for _, im := range []struct {
		name string
		impl blas.Float64
	}{{"fast", Implementation{}}, {"gonum", gonum.Implementation{}}} {
		b.Run(fmt.Sprintf("%s/%d", im.name, n), func(b *testing.B) {
			x := make([]float64, len(b0))
			for range b.N {
				copy(x, b0)
				im.impl.Dtrsm(blas.Left, blas.Lower, blas.NoTrans, blas.Unit, n, n, 1, a, lda, x, ldb)
			}
		})
	}
}
