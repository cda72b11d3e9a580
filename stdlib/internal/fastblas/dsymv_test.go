package fastblas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// TestDsymv: both triangles, strides (negative too), alpha and beta special values, against
// gonum's native Dsymv up to rounding; the other triangle (NaN here) is never read; the same
// bits with the assembly or pure-Go row kernel and any number of goroutines.
func TestDsymv(t *testing.T) {
	for _, n := range []int{1, 2, 7, 9, 130, 300, 1000} {
		for _, ul := range []blas.Uplo{blas.Lower, blas.Upper} {
			for _, c := range []struct {
				incX, incY  int
				alpha, beta float64
			}{{1, 1, 1, 0}, {3, 2, -0.5, 2}, {-2, 1, 1.5, 1}, {1, -3, 0.25, -1}, {2, 2, 0, 3}, {1, 1, 0, 0}} {
				name := fmt.Sprintf("n=%d/%c/%+v", n, ul, c)
				rng := rand.New(rand.NewPCG(uint64(n), 9))
				lda := n + n%4
				a := make([]float64, n*lda)
				for i := range n {
					for j := range n {
						a[i*lda+j] = rng.NormFloat64()
						if stored := j <= i && ul == blas.Lower || j >= i && ul == blas.Upper; !stored {
							a[i*lda+j] = math.NaN() // must not be read
						}
					}
				}
				x := make([]float64, 1+(n-1)*abs(c.incX))
				y0 := make([]float64, 1+(n-1)*abs(c.incY))
				for i := range x {
					x[i] = rng.NormFloat64()
				}
				for i := range y0 {
					y0[i] = rng.NormFloat64()
					if c.beta == 0 {
						y0[i] = math.NaN() // beta = 0: y is not read
					}
				}
				run := func(impl blas.Float64, asm bool, procs int) (y []float64) {
					withKernel(asm, procs, func() {
						y = slices.Clone(y0)
						impl.Dsymv(ul, n, c.alpha, a, lda, x, c.incX, c.beta, y, c.incY)
					})
					return y
				}
				got := run(Implementation{}, true, 2)
				// gonum reads the stored triangle only too, but multiplies NaN y by beta = 0.
				want := run(gonum.Implementation{}, false, 1)
				for i := range got {
					if c.beta == 0 && math.IsNaN(want[i]) {
						continue
					}
					if d := math.Abs(got[i] - want[i]); !(d <= 1e-12*math.Sqrt(float64(n))*(1+math.Abs(want[i]))) {
						t.Fatalf("%s: y[%d] = %v, gonum %v", name, i, got[i], want[i])
					}
					if math.IsNaN(got[i]) {
						t.Fatalf("%s: NaN read from the other triangle or from y", name)
					}
				}
				checkSameBits(t, name, got, func(asm bool, procs int) []float64 { return run(Implementation{}, asm, procs) })
			}
		}
	}
}

func BenchmarkDsymv(b *testing.B) {
	for _, n := range []int{1280, 2560} {
		rng := rand.New(rand.NewPCG(1, 1))
		a := make([]float64, n*n)
		for i := range a {
			a[i] = rng.NormFloat64()
		}
		x, y := make([]float64, n), make([]float64, n)
		for i := range x {
			x[i] = rng.NormFloat64()
		}
		for _, impl := range []struct {
			name string
			b    blas.Float64
		}{{"fastblas", Implementation{}}, {"gonum", gonum.Implementation{}}} {
			b.Run(fmt.Sprintf("%d/%s", n, impl.name), func(b *testing.B) {
				for range b.N {
					impl.b.Dsymv(blas.Lower, n, 1, a, n, x, 1, 0, y, 1)
				}
			})
		}
	}
}

// withKernel runs f with the assembly kernels on (where available) or off and procs as
// GOMAXPROCS, and restores both.
func withKernel(asm bool, procs int, f func()) {
	defer func(old bool, p int) { setAsm(old); runtime.GOMAXPROCS(p) }(useAsm, runtime.GOMAXPROCS(procs))
	setAsm(asm)
	f()
}

// checkSameBits fails unless run gives ref's bits with the pure-Go kernels on one and three
// goroutines and with the assembly ones on one.
func checkSameBits(t *testing.T, name string, ref []float64, run func(asm bool, procs int) []float64) {
	t.Helper()
	for _, v := range []struct {
		asm   bool
		procs int
	}{{false, 1}, {true, 1}, {false, 3}} {
		if i := sameBits(run(v.asm, v.procs), ref); i >= 0 {
			t.Fatalf("%s: asm=%v procs=%d changes element %d", name, v.asm, v.procs, i)
		}
	}
}
