package stdlib

import (
	"math"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// The polar factor of a rank-deficient matrix, for orthogonal Procrustes (rotate).
//
// Why: rotate centres both tensors on their column means (centralization = 1 by default). A
// centred square key loses a rank (its rows sum to zero), so the matrix Aᵀ B whose polar factor
// is the Procrustes rotation is singular. The Newton iteration needs a nonsingular matrix, and
// the fallback (gonum's SVD with vectors, unblocked) takes ~11 s per 1280 x 1280 key: hours on
// a full SDXL model. A singular matrix's polar factor is unique on its range and free on its
// null space (there the SVD's basis is whatever LAPACK's rotations leave, in torch as here);
// rotate's result at alignment ±1 does not depend on that part at all (A' u = 0 for a left null
// vector u of A'ᵀ B', B' v = 0 for a right one, when the null space comes from the centring).
//
// So the null space is deflated: each numerical null pair (u, v), a unit left and right null
// vector found by inverse iteration on the LU, is replaced by s u vᵀ with s the largest
// singular value. The deflated matrix has the same polar factor on the range, is well
// conditioned, and its polar factor maps v to u: on the null space the rotation is the map
// closest to the identity (u oriented so that uᵀ v >= 0), or, when the "null" singular value
// is small but above rounding, the one the matrix itself points to (u oriented along a v).

// polarNullMax is the largest numerical null space polarNull deflates; a larger one goes to
// the SVD.
const polarNullMax = 8

// nullPair is a deflated pair: unit vectors with uᵀ a ≈ 0 and a v ≈ 0, and p v = u for the
// polar factor p returned.
type nullPair struct{ u, v []float64 }

// polarNull returns the polar factor of the tall or square a (m x n, m >= n) with its
// numerical null space deflated, and the deflated pairs (in a's row and column spaces). ok is
// false when the Newton iteration cannot be used (a non-finite value, a null space larger than
// polarNullMax, no convergence): the caller takes the SVD.
func polarNull(a *mat.Dense) (p *mat.Dense, pairs []nullPair, ok bool) {
	m, n := a.Dims()
	if m < n {
		return nil, nil, false
	}
	q, r, lu := polarOpen(a)
	x := r
	smax := 0.0
	for k := 0; !(lu.Cond() < polarCondLimit); k++ {
		if k == polarNullMax {
			return nil, nil, false
		}
		if k == 0 {
			x = laClone(r)
			smax = largestSingularValue(r)
			if !(smax > 0) || math.IsInf(smax, 0) {
				return nil, nil, false
			}
		}
		pr, found := nullPairOf(x, lu, k)
		if !found {
			return nil, nil, false
		}
		// x += smax u vᵀ
		xd := x.RawMatrix()
		blas64.Ger(smax, blas64.Vector{N: n, Inc: 1, Data: pr.u}, blas64.Vector{N: n, Inc: 1, Data: pr.v}, xd)
		pairs = append(pairs, pr)
		lu.Factorize(x)
	}
	p, ok = polarNewton(x, lu)
	if !ok {
		return nil, nil, false
	}
	if q != nil {
		p = laMul(q, p)
		for i, pr := range pairs {
			u := mat.NewVecDense(m, nil)
			u.MulVec(q, mat.NewVecDense(n, pr.u))
			pairs[i].u = u.RawVector().Data
		}
	}
	return p, pairs, true
}

// nullPairOf finds a unit right null vector v of the square x (LU lu, numerically singular) by
// three steps of inverse iteration, and the matching left null vector u by three on xᵀ; k
// varies the deterministic start vectors between deflation rounds. u is oriented along x v when
// that is above rounding (a small but genuine singular value keeps its own orientation), else
// so that uᵀ v >= 0.
func nullPairOf(x *mat.Dense, lu *mat.LU, k int) (nullPair, bool) {
	n, _ := x.Dims()
	v, ok := inverseIteration(lu, n, 2*k, 11, 3, false)
	if !ok {
		return nullPair{}, false
	}
	u, ok := inverseIteration(lu, n, 2*k+1, 11, 3, true)
	if !ok {
		return nullPair{}, false
	}
	xv := mat.NewVecDense(n, nil)
	xv.MulVec(x, mat.NewVecDense(n, v))
	uv := mat.Dot(mat.NewVecDense(n, u), mat.NewVecDense(n, v))
	along := mat.Dot(mat.NewVecDense(n, u), xv)
	// The residual of an exact null vector is rounding: n ε |x| at most.
	noise := float64(n) * 0x1p-52 * mat.Norm(x, math.Inf(1))
	if (math.Abs(along) > noise && along < 0) || (math.Abs(along) <= noise && uv < 0) {
		for i := range u {
			u[i] = -u[i]
		}
	}
	return nullPair{u: u, v: v}, true
}

// smallestRightSingular returns the unit right singular vector of the smallest singular value
// of the square nonsingular a (LU lu): inverse iteration on aᵀ a, ten steps of two LU solves.
func smallestRightSingular(a *mat.Dense, lu *mat.LU) ([]float64, bool) {
	n, _ := a.Dims()
	return inverseIteration(lu, n, 0, 13, 10, true, false)
}

// inverseIteration runs steps steps of inverse iteration with the LU lu of a square matrix a of
// order n, from the deterministic start v_i = 1 + ((i+seed) mod m)/m: a step solves, for each
// flag of trans in turn, a x = v (false) or aᵀ x = v (true), then normalizes. It returns the
// unit iterate, or false when a solve fails or an iterate is zero or not finite. (A condition
// warning is expected: the matrices inverted here are nearly singular on purpose.)
func inverseIteration(lu *mat.LU, n, seed, m, steps int, trans ...bool) ([]float64, bool) {
	v := mat.NewVecDense(n, nil)
	for i := range n {
		v.SetVec(i, 1+float64((i+seed)%m)/float64(m))
	}
	w := mat.NewVecDense(n, nil)
	for range steps {
		for _, t := range trans {
			if err := lu.SolveVecTo(w, t, v); err != nil {
				if _, ok := err.(mat.Condition); !ok {
					return nil, false
				}
			}
			v, w = w, v
		}
		nv := mat.Norm(v, 2)
		if nv == 0 || math.IsInf(nv, 0) || math.IsNaN(nv) {
			return nil, false
		}
		v.ScaleVec(1/nv, v)
	}
	return v.RawVector().Data, true
}

// flipPair returns p (I - 2 v vᵀ): p with the direction of the unit v reversed (p v becomes
// -p v), still orthogonal and with det p's sign reversed. It is sd-mecha's cancel_reflection
// (the last column of U divided by det(U Vᵀ)) when v is the right singular vector of the
// smallest singular value.
func flipPair(p *mat.Dense, v []float64) *mat.Dense {
	r, c := p.Dims()
	pv := mat.NewVecDense(r, nil)
	pv.MulVec(p, mat.NewVecDense(c, v))
	f := laClone(p)
	blas64.Ger(-2, pv.RawVector(), blas64.Vector{N: c, Inc: 1, Data: v}, f.RawMatrix())
	return f
}
