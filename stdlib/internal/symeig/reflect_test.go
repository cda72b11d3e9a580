package symeig

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/lapack/gonum"
)

// TestApplyQ holds applyQ to gonum's Dormqr on reflectors from a QR factorization: the same
// product, rounded differently (block sizes), so to a tolerance. Block sizes that do and do not
// divide the reflector count, and a single block.
func TestApplyQ(t *testing.T) {
	defer func(b, p int) { reflectBlock, reflectPanel = b, p }(reflectBlock, reflectPanel)
	rng := rand.New(rand.NewPCG(3, 4))
	var impl gonum.Implementation
	for _, c := range []struct{ m, nc, k, block int }{
		{1, 1, 1, 128}, {5, 3, 5, 2}, {40, 17, 40, 8}, {40, 17, 33, 8}, {64, 64, 63, 16},
		{100, 7, 100, 128}, {130, 50, 129, 32}, {300, 301, 299, 128},
	} {
		t.Run(fmt.Sprintf("%dx%d_k%d_b%d", c.m, c.nc, c.k, c.block), func(t *testing.T) {
			reflectBlock, reflectPanel = c.block, max(c.nc/3, 1)
			a := make([]float64, c.m*c.k)
			for i := range a {
				a[i] = rng.NormFloat64()
			}
			tau := make([]float64, c.k)
			work := make([]float64, 64*c.m)
			impl.Dgeqrf(c.m, c.k, a, c.k, tau, work, len(work))
			if c.k == c.m {
				tau[c.k-1] = 0 // as Dsytrd leaves its last reflector: H = I
			}
			x := make([]float64, c.m*c.nc)
			for i := range x {
				x[i] = rng.NormFloat64()
			}
			want, got := slices.Clone(x), slices.Clone(x)
			impl.Dormqr(blas.Left, blas.NoTrans, c.m, c.nc, c.k, a, c.k, tau, want, c.nc, work, len(work))
			applyQ(c.m, c.nc, c.k, a, c.k, tau, got, c.nc)
			worst := 0.0
			for i := range want {
				worst = max(worst, math.Abs(got[i]-want[i]))
			}
			if worst > 1e-12 || math.IsNaN(worst) {
				t.Fatalf("largest difference from Dormqr %g", worst)
			}
		})
	}
}

// BenchmarkApplyQ: a symmetric eigen-decomposition's back-transformation at 2048 (Q from a
// tridiagonal reduction applied to the tridiagonal's eigenvectors), blocked here and by
// gonum's Dormqr.
func BenchmarkApplyQ(b *testing.B) {
	const n = 2048
	rng := rand.New(rand.NewPCG(5, 6))
	a := make([]float64, n*n)
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	tau := make([]float64, n)
	var impl gonum.Implementation
	work := make([]float64, 64*n)
	impl.Dgeqrf(n, n, a, n, tau, work, len(work))
	z := make([]float64, n*n)
	for i := range n {
		z[i*n+i] = 1
	}
	c := make([]float64, n*n)
	b.Run("blocked", func(b *testing.B) {
		for range b.N {
			copy(c, z)
			applyQ(n, n, n, a, n, tau, c, n)
		}
	})
	b.Run("Dormqr", func(b *testing.B) {
		for range b.N {
			copy(c, z)
			impl.Dormqr(blas.Left, blas.NoTrans, n, n, n, a, n, tau, c, n, work, len(work))
		}
	})
}
