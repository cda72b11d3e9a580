package stdlib

import (
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/lapack/gonum"
	"gonum.org/v1/gonum/mat"
)

// The polar decomposition a = P H (P = U V^T of a's thin SVD, H = V S V^T) without singular
// vectors: what the isotropic methods need. gonum's SVD with U and V is slow on large matrices
// (pure Go, unblocked Givens rotations: ~30 s for 1280 x 1280); the polar factor comes instead
// from a scaled Newton iteration whose steps are LU solves (blocked, fast). The singular values
// are not needed either: their sum is trace(P^T a) = sum(P .* a), the sum of their squares
// |a|_F^2, and the sum of their logarithms log|det a| (from the same LU). See the benchmarks in
// svd_bench_test.go and the SPEC entry.

// polarCondLimit: above this estimated condition number the Newton iteration is not used and
// the polar factor comes from the full SVD (a rank-deficient matrix has no unique polar factor;
// the SVD picks one as torch's would).
const polarCondLimit = 1e10

// polarResult is a's polar factor p (same shape as a) and log|det| of its square part
// (sum of log singular values; -Inf when a is singular).
type polarResult struct {
	p         *mat.Dense
	logAbsDet float64
	// s holds the singular values when the full SVD was used (nil otherwise).
	s []float64
}

// polarFactor returns the polar factor of a and the sum of its log singular values.
func polarFactor(a *mat.Dense) (polarResult, error) {
	m, n := a.Dims()
	if m < n {
		r, err := polarFactor(laClone(a.T()))
		if err != nil {
			return polarResult{}, err
		}
		r.p = laClone(r.p.T())
		return r, nil
	}
	if lapackSVD == nil { // an optimized LAPACK's SVD beats the Newton iteration on gonum
		if pr, ok := polarByNewton(a); ok {
			return pr, nil
		}
	}
	u, s, vt, err := laSVD(a)
	if err != nil {
		return polarResult{}, err
	}
	logDet := 0.0
	for _, x := range s {
		logDet += math.Log(x)
	}
	return polarResult{p: laMul(u, vt), logAbsDet: logDet, s: s}, nil
}

// polarOpen is how the Newton polar factors start on a tall or square a (m >= n): a tall a is
// reduced to its n x n R (a = Q R, so polar(a) = Q polar(R), with the same singular values;
// q is nil for a square a, r is a itself), and r is LU-factorized for the condition estimate
// and the first Newton step.
func polarOpen(a *mat.Dense) (q, r *mat.Dense, lu *mat.LU) {
	r = a
	if m, n := a.Dims(); m > n {
		q, r = laQR(a)
	}
	lu = new(mat.LU)
	lu.Factorize(r)
	return q, r, lu
}

// polarByNewton is polarFactor for a tall or square a by the Newton iteration, if a is
// well-conditioned enough.
func polarByNewton(a *mat.Dense) (polarResult, bool) {
	q, r, lu := polarOpen(a)
	if c := lu.Cond(); !(c < polarCondLimit) {
		return polarResult{}, false
	}
	logDet, _ := lu.LogDet()
	pr, ok := polarNewton(r, lu)
	if !ok {
		return polarResult{}, false
	}
	if q != nil {
		pr = laMul(q, pr)
	}
	return polarResult{p: pr, logAbsDet: logDet}, true
}

// polarNewton is the scaled Newton iteration for the orthogonal polar factor of a square
// nonsingular x (Higham, Functions of Matrices, 8.3): X <- (z X + (z X)^-T) / 2, with Byers
// and Xu's scaling (SIAM J. Matrix Anal. Appl. 30, 2008): z_0 = 1/sqrt(a b) from estimates a
// of the largest and b of the smallest singular value, z_1 = sqrt(2 sqrt(a b) / (a + b)),
// z_k = 1/sqrt((z_{k-1} + 1/z_{k-1}) / 2), at most 9 steps to rounding level for condition
// numbers up to 1e16 (6-8 on SDXL-sized random matrices). It stops when the relative change
// is below 1e-8: the error of the last iterate is then about its square (quadratic
// convergence). lu is x's LU.
func polarNewton(a *mat.Dense, lu *mat.LU) (*mat.Dense, bool) {
	x := laClone(a)
	n, _ := x.Dims()
	smax, smin := extremeSingularValues(a, lu)
	if !(smax > 0 && smin > 0) || math.IsInf(smax, 0) {
		return nil, false
	}
	// Each step solves Xᵀ Y = I for X^-T with LAPACK's getrf and getrs (blocked, on fastblas)
	// on a copy: mat.LU's Factorize also estimates the condition number (level-2 work, ~15% of
	// the iteration). X starts as a, whose condition the caller checked, and Newton steps only
	// bring the singular values towards 1; an exactly singular X stops the iteration.
	lu2 := make([]float64, n*n)
	xit := make([]float64, n*n)
	ipiv := make([]int, n)
	var impl gonum.Implementation
	z := 1 / math.Sqrt(smax*smin)
	for it := 0; it < 50; it++ {
		xd := x.RawMatrix()
		for i := range n {
			copy(lu2[i*n:i*n+n], xd.Data[i*xd.Stride:i*xd.Stride+n])
		}
		if !impl.Dgetrf(n, n, lu2, n, ipiv) {
			return nil, false
		}
		clear(xit)
		for i := range n {
			xit[i*n+i] = 1
		}
		impl.Dgetrs(blas.Trans, n, n, lu2, n, ipiv, xit, n)
		change, size := 0.0, 0.0
		for i := range n {
			xr := xd.Data[i*xd.Stride : i*xd.Stride+n]
			ir := xit[i*n : i*n+n]
			for j := range n {
				v := 0.5 * (z*xr[j] + ir[j]/z)
				d := v - xr[j]
				change += d * d
				size += v * v
				xr[j] = v
			}
		}
		rel := math.Sqrt(change / size)
		if math.IsNaN(rel) {
			return nil, false
		}
		if rel < 1e-8 {
			return x, true
		}
		if it == 0 {
			z = math.Sqrt(2 * math.Sqrt(smax*smin) / (smax + smin))
		} else {
			z = 1 / math.Sqrt((z+1/z)/2)
		}
	}
	return nil, false
}

// extremeSingularValues estimates the largest and smallest singular values of the square a
// (LU lu) by 30 steps of power iteration on a^T a and on (a^T a)^-1 (two LU solves a step):
// O(n^2) a step, a few per cent accurate, which is all the scaling needs.
func extremeSingularValues(a *mat.Dense, lu *mat.LU) (float64, float64) {
	smax := largestSingularValue(a)
	if smax == 0 {
		return 0, 0
	}
	return smax, smallestSingularValue(a, lu)
}

// largestSingularValue is extremeSingularValues' estimate of the largest singular value of
// the square a alone (0 for a zero matrix): all that polarNull needs of a singular matrix, whose
// inverse iteration (memory-bound triangular solves, 3% of an SD1 rotate) it threw away.
func largestSingularValue(a *mat.Dense) float64 {
	n, _ := a.Dims()
	v := mat.NewVecDense(n, nil)
	for i := range n {
		v.SetVec(i, 1+float64(i%7)/7) // deterministic, not orthogonal to anything in particular
	}
	w := mat.NewVecDense(n, nil)
	smax := 0.0
	for range 30 {
		w.MulVec(a, v)
		v.MulVec(a.T(), w)
		nv := mat.Norm(v, 2)
		if nv == 0 {
			return 0
		}
		smax = math.Sqrt(nv)
		v.ScaleVec(1/nv, v)
	}
	return smax
}

// smallestSingularValue is extremeSingularValues' estimate of the smallest singular value of
// the square a (LU lu), or 0 when the inverse iteration breaks down.
func smallestSingularValue(a *mat.Dense, lu *mat.LU) float64 {
	n, _ := a.Dims()
	v := mat.NewVecDense(n, nil)
	w := mat.NewVecDense(n, nil)
	for i := range n {
		v.SetVec(i, 1+float64(i%5)/5)
	}
	inv := 0.0
	for range 30 {
		if err := lu.SolveVecTo(w, true, v); err != nil {
			if _, ok := err.(mat.Condition); !ok {
				return 0
			}
		}
		if err := lu.SolveVecTo(v, false, w); err != nil {
			if _, ok := err.(mat.Condition); !ok {
				return 0
			}
		}
		nv := mat.Norm(v, 2)
		if nv == 0 || math.IsInf(nv, 0) || math.IsNaN(nv) {
			return 0
		}
		inv = math.Sqrt(nv)
		v.ScaleVec(1/nv, v)
	}
	return 1 / inv
}
