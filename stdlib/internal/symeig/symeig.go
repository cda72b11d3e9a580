// Package symeig is the eigen-decomposition of a dense real symmetric matrix, for the
// SVD-family methods that need many of them at SDXL sizes (rotate's fractional powers and
// Stiefel logarithms take one of 1280x1280 or 2560x2560 per key, or per iteration).
//
// The steps are LAPACK's dsyevd: Householder reduction to tridiagonal form (gonum's Dsytrd,
// whose level-3 part runs on whatever BLAS blas64 holds: fastblas in mechac, which also
// supplies its Dsymv), Cuppen's divide and conquer on the tridiagonal matrix (dc.go; blocks
// of up to 32 by the implicit QL iteration), and the reflectors applied to its eigenvectors
// (LAPACK's dormtr, in larger blocks than gonum's Dormqr: reflect.go). gonum's Dsyev instead
// applies the QL iteration's plane rotations to two strided columns of the vector matrix at a
// time: 9.4 s at 1280x1280. This
// takes 0.42 s at 1280 and 3.0 s at 2560 (BenchmarkDecompose; 0.8 s and 6.6 s with the QL
// iteration for the whole matrix, its rotations batched as the leaves' still are).
//
// The result does not depend on the number of goroutines: the halves of a split, the roots of
// a merge and the strips of a batch of rotations are independent, and fastblas fixes its
// order of operations. Products are rounded before they are added (no fused multiply-add) in
// the rotations, so it does not depend on the CPU either.
package symeig

import (
	"errors"
	"math"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/lapack/gonum"
)

// ErrNoConvergence is returned when the QL iteration needs more than 30 sweeps per
// eigenvalue (LAPACK's limit); it does not happen for finite input.
var ErrNoConvergence = errors.New("symmetric eigen-decomposition did not converge")

// Decompose returns the eigenvalues of the n x n symmetric matrix whose lower triangle is in
// a (row-major, row stride n; the strict upper triangle is not read), in ascending order, and
// the orthonormal eigenvectors as the rows of vt (row j belongs to w[j]): a = vtᵀ diag(w) vt.
// a is overwritten. The input must be finite.
func Decompose(a []float64, n int) (w, vt []float64, err error) {
	if n == 0 {
		return nil, nil, nil
	}
	if len(a) < n*n {
		panic("symeig: matrix slice too short")
	}
	var impl gonum.Implementation
	d, e, tau := make([]float64, n), make([]float64, max(n-1, 1)), make([]float64, max(n-1, 1))
	query := []float64{0}
	impl.Dsytrd(blas.Lower, n, a, n, d, e, tau, query, -1)
	work := make([]float64, max(int(query[0]), n))
	impl.Dsytrd(blas.Lower, n, a, n, d, e, tau, work, len(work))
	// a holds T's reflectors below the subdiagonal: A = Q T Qᵀ, Q = H(0) ... H(n-2).
	z, err := tridiagonalDC(d, e[:n-1], n)
	if err != nil {
		return nil, nil, err
	}
	// The eigenvectors are Q Z: the reflectors applied to Z's rows 1.. (LAPACK's dormtr for a
	// lower Dsytrd), ~2n³ flops where forming Q (Dorgtr) and multiplying took ~10n³/3.
	if n > 1 {
		applyQ(n-1, n, n-1, a[n:], n, tau, z[n:], n)
	}
	vt = make([]float64, n*n)
	transpose(vt, z, n)
	return d, vt, nil
}

// transpose sets dst to the transpose of the n x n matrix src (packed rows), 32 x 32 tiles at
// a time: element by element, every write of a 2560² matrix's column went to another page.
// (fastblas.Transpose does the same for stdlib; symeig imports no other mechac package, by the
// architecture's import rules, deps_test.go.)
func transpose(dst, src []float64, n int) {
	const t = 32
	for i0 := 0; i0 < n; i0 += t {
		i1 := min(i0+t, n)
		for j0 := 0; j0 < n; j0 += t {
			j1 := min(j0+t, n)
			for i := i0; i < i1; i++ {
				for j, x := range src[i*n+j0 : i*n+j1] {
					dst[(j0+j)*n+i] = x
				}
			}
		}
	}
}

// sortAscending orders the eigenvalues, and the rows of vt with them (a stable order, so
// equal eigenvalues keep the QL's order).
func sortAscending(w, vt []float64, n int) []float64 {
	idx := ascendingOrder(w)
	if slices.IsSorted(idx) {
		return w
	}
	sw, sv := make([]float64, n), make([]float64, n*n)
	for k, i := range idx {
		sw[k] = w[i]
		copy(sv[k*n:k*n+n], vt[i*n:i*n+n])
	}
	copy(vt, sv)
	return sw
}

// ascendingOrder returns the indices of w in ascending order of their values, equal values in
// index order (a stable sort).
func ascendingOrder(w []float64) []int {
	idx := make([]int, len(w))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(x, y int) int {
		switch {
		case w[x] < w[y]:
			return -1
		case w[x] > w[y]:
			return 1
		}
		return 0
	})
	return idx
}

// tridiagonalQL diagonalizes the symmetric tridiagonal matrix with diagonal d and
// off-diagonal e (e[i] couples i and i+1) by the implicit QL iteration with Wilkinson shifts
// (the textbook tql2 / tqli): d becomes the eigenvalues, unsorted, and each plane rotation of
// the iteration, on indices i and i+1, is applied to rows i and i+1 of vt (n x n).
func tridiagonalQL(d, e, vt []float64, n int) error {
	ee := make([]float64, n) // e with a zero past the end
	copy(ee, e)
	rot := newRotations(vt, n)
	maxSweeps := 30 * n
	for l := 0; l < n; l++ {
		for sweeps := 0; ; sweeps++ {
			// The block l..m ends at the first negligible off-diagonal element.
			m := l
			for ; m < n-1; m++ {
				dd := math.Abs(d[m]) + math.Abs(d[m+1])
				if math.Abs(ee[m]) <= dlamchE*dd {
					ee[m] = 0
					break
				}
			}
			if m == l {
				break
			}
			if maxSweeps == 0 {
				return ErrNoConvergence
			}
			maxSweeps--
			// Wilkinson's shift from the leading 2x2 block, folded into the first rotation.
			g := (d[l+1] - d[l]) / (2 * ee[l])
			r := math.Hypot(g, 1)
			g = d[m] - d[l] + ee[l]/(g+math.Copysign(r, g))
			s, c, p := 1.0, 1.0, 0.0
			underflow := false
			for i := m - 1; i >= l; i-- {
				f, b := s*ee[i], c*ee[i]
				r = math.Hypot(f, g)
				ee[i+1] = r
				if r == 0 {
					// The shifted block split: deflate and start again.
					d[i+1] -= p
					ee[m] = 0
					underflow = true
					break
				}
				s, c = f/r, g/r
				g = d[i+1] - p
				r = float64((d[i]-g)*s) + float64(2*c*b)
				p = s * r
				d[i+1] = g + p
				g = float64(c*r) - b
				rot.add(i, c, s)
			}
			if underflow {
				continue
			}
			d[l] -= p
			ee[l] = g
			ee[m] = 0
		}
	}
	rot.flush()
	return nil
}

// dlamchE is LAPACK's relative machine precision (half an ulp of 1).
const dlamchE = 1.0 / (1 << 53)

// rotations records plane rotations and applies them to vt's rows in batches.
type rotations struct {
	vt  []float64
	n   int
	idx []int32   // the rotation's first row
	cs  []float64 // its cosine and sine, interleaved
}

// batchRotations is how many rotations are recorded before a pass over the vectors: a few
// dozen sweeps at SDXL sizes, so each strip of the vectors is loaded once for that many.
var batchRotations = 1 << 16 // a variable for the tests

// stripWidth is the number of vector columns a goroutine turns at a time: 64 doubles of every
// row, 640 KiB for n = 1280, within a core's L2.
var stripWidth = 64 // a variable for the tests

func newRotations(vt []float64, n int) *rotations {
	c := min(batchRotations, 4*n*n)
	return &rotations{vt: vt, n: n, idx: make([]int32, 0, c), cs: make([]float64, 0, 2*c)}
}

func (r *rotations) add(i int, c, s float64) {
	r.idx = append(r.idx, int32(i))
	r.cs = append(r.cs, c, s)
	if len(r.idx) == batchRotations {
		r.flush()
	}
}

// flush applies the recorded rotations in order, strip by strip, and forgets them.
func (r *rotations) flush() {
	if len(r.idx) == 0 {
		return
	}
	if int(slices.Max(r.idx))+1 >= r.n {
		panic("symeig: rotation outside the matrix") // the assembly relies on it
	}
	strips := (r.n + stripWidth - 1) / stripWidth
	workers := min(runtime.GOMAXPROCS(0), strips)
	if len(r.idx)*r.n < 1<<16 {
		workers = 1
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := strips*w/workers, strips*(w+1)/workers
		wg.Go(func() {
			for s := lo; s < hi; s++ {
				j0 := s * stripWidth
				r.applyStrip(j0, min(j0+stripWidth, r.n))
			}
		})
	}
	wg.Wait()
	r.idx, r.cs = r.idx[:0], r.cs[:0]
}

// applyStrip applies every recorded rotation to columns j0..j1 of vt: the columns by fours in
// assembly where there is AVX, the rest (all of them elsewhere) in Go, with the same operations.
// Columns are independent, so the split does not change a bit.
func (r *rotations) applyStrip(j0, j1 int) {
	n := r.n
	if w4 := (j1 - j0) &^ 3; useAVX && w4 > 0 {
		rotStripAVX(&r.vt[j0], n, w4, &r.idx[0], &r.cs[0], len(r.idx))
		j0 += w4
		if j0 == j1 {
			return
		}
	}
	for k, i := range r.idx {
		c, s := r.cs[2*k], r.cs[2*k+1]
		lo := int(i)*n + j0
		x := r.vt[lo : lo+j1-j0]
		y := r.vt[lo+n : lo+n+j1-j0]
		rotateRows(x, y, c, s)
	}
}

// rotateRows sets y = s x + c y and x = c x - s y (old y), element by element.
func rotateRows(x, y []float64, c, s float64) {
	y = y[:len(x)]
	for j, xv := range x {
		yv := y[j]
		y[j] = float64(s*xv) + float64(c*yv)
		x[j] = float64(c*xv) - float64(s*yv)
	}
}
