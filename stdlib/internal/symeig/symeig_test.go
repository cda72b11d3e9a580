package symeig

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// symCase builds a named symmetric test matrix (full, row-major).
type symCase struct {
	name string
	n    int
	make func(rng *rand.Rand, n int) []float64
}

func gaussianSym(rng *rand.Rand, n int) []float64 {
	a := make([]float64, n*n)
	for i := range n {
		for j := 0; j <= i; j++ {
			v := rng.NormFloat64()
			a[i*n+j], a[j*n+i] = v, v
		}
	}
	return a
}

// orthogonalSym is (Q + Qᵀ)/2 of a random orthogonal Q: every eigenvalue twice (cos θ), the
// matrices rotate's fractional powers decompose. near makes Q close to the identity, as for
// two fine-tunes of one model: a cluster of eigenvalues just below 1.
func orthogonalSym(near bool) func(rng *rand.Rand, n int) []float64 {
	return func(rng *rand.Rand, n int) []float64 {
		g := mat.NewDense(n, n, nil)
		for i := range n {
			for j := range n {
				v := rng.NormFloat64()
				if near {
					v *= 1e-3
					if i == j {
						v += 1
					}
				}
				g.Set(i, j, v)
			}
		}
		var qr mat.QR
		qr.Factorize(g)
		var q mat.Dense
		qr.QTo(&q)
		a := make([]float64, n*n)
		for i := range n {
			for j := range n {
				a[i*n+j] = (q.At(i, j) + q.At(j, i)) / 2
			}
		}
		return a
	}
}

func symCases() []symCase {
	diag := func(vals ...float64) func(*rand.Rand, int) []float64 {
		return func(_ *rand.Rand, n int) []float64 {
			a := make([]float64, n*n)
			for i := range n {
				a[i*n+i] = vals[i%len(vals)]
			}
			return a
		}
	}
	return []symCase{
		{"1x1", 1, diag(-3)},
		{"zero", 5, diag(0)},
		{"identity", 7, diag(1)},
		{"diagonal repeated", 9, diag(2, -1, 2, 5)},
		{"2x2", 2, gaussianSym},
		{"gaussian 10", 10, gaussianSym},
		{"gaussian 100", 100, gaussianSym},
		{"gaussian 200", 200, gaussianSym},
		{"orthogonal pairs 64", 64, orthogonalSym(false)},
		{"orthogonal pairs 150", 150, orthogonalSym(false)},
		{"near identity 130", 130, orthogonalSym(true)},
		{"rank one", 40, func(rng *rand.Rand, n int) []float64 {
			v := make([]float64, n)
			for i := range v {
				v[i] = rng.NormFloat64()
			}
			a := make([]float64, n*n)
			for i := range n {
				for j := range n {
					a[i*n+j] = v[i] * v[j]
				}
			}
			return a
		}},
		{"graded", 30, func(rng *rand.Rand, n int) []float64 {
			a := gaussianSym(rng, n)
			for i := range n {
				for j := range n {
					a[i*n+j] *= math.Pow(10, float64(i+j)/4)
				}
			}
			return a
		}},
	}
}

// TestDecompose checks the decomposition against its definition (the residual a vᵀ = vᵀ diag(w)
// and orthonormal vectors, both to a few hundred ulps of the matrix's norm), the ascending
// order, and the eigenvalues against gonum's EigenSym (Dsyev).
func TestDecompose(t *testing.T) {
	for _, tc := range symCases() {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(tc.n)))
			a := tc.make(rng, tc.n)
			n := tc.n
			orig := slices.Clone(a)
			in := slices.Clone(a)
			for i := range n { // garbage in the strict upper triangle: it must not be read
				for j := i + 1; j < n; j++ {
					in[i*n+j] = math.NaN()
				}
			}
			w, vt, err := Decompose(in, n)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.IsSorted(w) {
				t.Errorf("eigenvalues not ascending: %v", w)
			}
			A := mat.NewDense(n, n, orig)
			norm := math.Max(mat.Norm(A, 2), 1e-300)
			tol := 300 * float64(n) * 0x1p-52 * norm
			if norm == 1e-300 {
				tol = 0
			}
			V := mat.NewDense(n, n, vt) // rows are vectors
			var av mat.Dense
			av.Mul(A, V.T())
			for j := range n {
				for i := range n {
					if r := av.At(i, j) - w[j]*V.At(j, i); math.Abs(r) > tol {
						t.Fatalf("residual (%d,%d) = %g > %g", i, j, r, tol)
					}
				}
			}
			var vv mat.Dense
			vv.Mul(V, V.T())
			for i := range n {
				for j := range n {
					want := 0.0
					if i == j {
						want = 1
					}
					if d := math.Abs(vv.At(i, j) - want); d > 300*float64(n)*0x1p-52 {
						t.Fatalf("VVᵀ(%d,%d) off by %g", i, j, d)
					}
				}
			}
			sym := mat.NewSymDense(n, orig)
			var es mat.EigenSym
			if !es.Factorize(sym, false) {
				t.Fatal("gonum EigenSym failed")
			}
			for i, v := range es.Values(nil) {
				if math.Abs(v-w[i]) > tol {
					t.Errorf("eigenvalue %d: %g, gonum %g", i, w[i], v)
				}
			}
		})
	}
}

// TestDecomposeIndependentOfBatching: the bits do not depend on the batch of rotations or the
// strip width (the QL iteration, here on the whole matrix), nor on the number of goroutines
// (the QL's strips; divide and conquer's halves and secular roots at 600, where both run in
// parallel: a Gaussian matrix, whose merges deflate little).
func TestDecomposeIndependentOfBatching(t *testing.T) {
	defer func(b, s, p, l int) {
		batchRotations, stripWidth, dcLeaf = b, s, l
		runtime.GOMAXPROCS(p)
	}(batchRotations, stripWidth, runtime.GOMAXPROCS(0), dcLeaf)
	for _, tc := range []struct {
		n, leaf int
		make    func(*rand.Rand, int) []float64
	}{{170, 1 << 30, orthogonalSym(false)}, {600, dcLeaf, gaussianSym}} {
		dcLeaf = tc.leaf
		rng := rand.New(rand.NewPCG(3, 4))
		a := tc.make(rng, tc.n)
		ref := func() ([]float64, []float64) {
			w, vt, err := Decompose(slices.Clone(a), tc.n)
			if err != nil {
				t.Fatal(err)
			}
			return w, vt
		}
		runtime.GOMAXPROCS(2)
		w0, v0 := ref()
		for _, c := range []struct{ batch, strip, procs int }{{1, 64, 2}, {7, 3, 1}, {1000, 1, 4}, {1 << 20, 200, 3}} {
			batchRotations, stripWidth = c.batch, c.strip
			runtime.GOMAXPROCS(c.procs)
			w, v := ref()
			if !slices.Equal(w, w0) || !slices.Equal(v, v0) {
				t.Errorf("n %d leaf %d: batch %d strip %d procs %d: bits differ", tc.n, tc.leaf, c.batch, c.strip, c.procs)
			}
		}
	}
}

func BenchmarkDecompose(b *testing.B) {
	for _, n := range []int{640, 1280, 2560} {
		rng := rand.New(rand.NewPCG(1, 2))
		a := orthogonalSym(false)(rng, n)
		b.Run(itoa(n), func(b *testing.B) {
			for range b.N {
				if _, _, err := Decompose(slices.Clone(a), n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func itoa(n int) string {
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}
