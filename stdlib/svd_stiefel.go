package stdlib

import (
	"fmt"

	"gonum.org/v1/gonum/mat"
)

// The Stiefel-manifold geodesics of rotate's fractional alignment for wide matrices (sd-mecha
// 1.1.5 svd.py: LowRankOrthogonalMatmul, exp_stiefel, log_stiefel, orthogonal_complete,
// solve_symmetric_sylvester): the same steps, on gonum.

// orthogonalComplete extends the n orthonormal columns of a (m x n, m > n) to an m x m
// orthogonal matrix: [a, Q(I[:, n:] - a a^T[:, n:])].
func orthogonalComplete(a *mat.Dense) *mat.Dense {
	m, n := a.Dims()
	if m <= n {
		return a
	}
	proj := mat.NewDense(m, m-n, nil)
	// a @ a.mH[..., n:] is a times the last m-n columns of a^T (rows n.. of a, transposed).
	aat := laMul(a, a.Slice(n, m, 0, n).T())
	for i := range m {
		for j := range m - n {
			v := -aat.At(i, j)
			if i == n+j {
				v += 1
			}
			proj.Set(i, j, v)
		}
	}
	ext := laOrthoBasis(proj)
	out := mat.NewDense(m, m, nil)
	out.Slice(0, m, 0, n).(*mat.Dense).Copy(a)
	out.Slice(0, m, n, m).(*mat.Dense).Copy(ext)
	return out
}

// logStiefel is sd-mecha's log_stiefel(a, b, eps, max_iters): the tangent at a (n x p, n > p)
// of the geodesic to b, by the iteration of Zimmermann's algorithm: logm of the completed
// orthogonal matrix, stopping when the Frobenius norm of its lower-right block is <= eps or
// after max_iters steps (sd-mecha then only warns; so do we, silently). The tangent is kept
// in its factors (stiefelLog), for the points along it.
func logStiefel(a, b *mat.Dense, eps float64, maxIters int) (*stiefelLog, error) {
	n, p := b.Dims()
	if n <= p {
		return nil, fmt.Errorf("log_stiefel: a and b must be tall, are %dx%d", n, p)
	}
	if maxIters < 1 {
		return nil, fmt.Errorf("log_stiefel: stiefel_max_iters must be at least 1, is %d", maxIters)
	}
	k := min(n-p, p)
	m := laMul(a.T(), b)
	q, nm := laQRPos(laSub(b, laMul(a, m)))
	q = laClone(q.Slice(0, n, 0, k))
	nm = laClone(nm.Slice(0, k, 0, p))
	stack := mat.NewDense(p+k, p, nil)
	stack.Slice(0, p, 0, p).(*mat.Dense).Copy(m)
	stack.Slice(p, p+k, 0, p).(*mat.Dense).Copy(nm)
	v := orthogonalComplete(stack)

	r, sigma, rhT, err := laSVD(laClone(v.Slice(p, p+k, p, p+k)))
	if err != nil {
		return nil, fmt.Errorf("log_stiefel: %v", err)
	}
	q = laMul(q, r)
	v.Slice(p, p+k, 0, p).(*mat.Dense).Copy(laMul(r.T(), nm))
	v.Slice(0, p, p, p+k).(*mat.Dense).Copy(laMul(v.Slice(0, p, p, p+k), rhT.T()))
	for i := range k {
		for j := range k {
			v.Set(p+i, p+j, 0)
		}
		v.Set(p+i, p+i, sigma[i])
	}
	if laDetSign(v) < 0 {
		for i := range p + k {
			v.Set(i, p+k-1, -v.At(i, p+k-1))
		}
	}

	lg := &stiefelLog{a: a, q: q, p: p, k: k}
	for range maxIters {
		parts, err := orthoDecompose("logm", v)
		if err != nil {
			return nil, fmt.Errorf("log_stiefel: %v", err)
		}
		lg.last = parts
		// A step reads rows p.. of l = logm(v) only: its lower-right block c, made exactly
		// skew (see laLogm), and lb = l[p:, :p].
		rows := parts.logmRows(p)
		c := laClone(rows.Slice(0, k, p, p+k))
		cd := c.RawMatrix().Data
		laSymSkew(nil, cd, cd, k)
		if laFrobenius(c) <= eps {
			lg.converged = parts
			break
		}
		lb := rows.Slice(0, k, 0, p)
		s := laMul(lb, lb.T())
		s.Scale(1.0/12, s)
		for i := range k {
			s.Set(i, i, s.At(i, i)-0.5)
		}
		g, err := solveSymmetricSylvester(s, c)
		if err != nil {
			return nil, fmt.Errorf("log_stiefel: %v", err)
		}
		right := v.Slice(0, p+k, p, p+k)
		right.(*mat.Dense).Copy(laMul(right, laExpm(g)))
	}
	return lg, nil
}

// stiefelLog is log_stiefel's result in factors: the tangent at a is
// delta = a l[:p, :p] + q l[p:, :p], l the logarithm of the iteration's last matrix v, whose
// first p columns [a q] maps to b.
type stiefelLog struct {
	a, q *mat.Dense // n x p and n x k, orthonormal columns, q ⟂ a
	l    *mat.Dense // (p+k) x (p+k), skew; made from last when first needed
	p, k int
	// last is the decomposition of the last logm's v; converged is the same when the
	// iteration stopped on eps (|l[p:, p:]| <= eps), nil when it ran out of steps.
	last, converged *orthoParts
}

// logm is l, the last logm, whole: the steps made only its rows p.. (logmRows).
func (lg *stiefelLog) logm() *mat.Dense {
	if lg.l == nil {
		lg.l = lg.last.logm()
	}
	return lg.l
}

// delta is the tangent, sd-mecha's log_stiefel result.
func (lg *stiefelLog) delta() *mat.Dense {
	p, k := lg.p, lg.k
	l := lg.logm()
	return laAdd(laMul(lg.a, l.Slice(0, p, 0, p)), laMul(lg.q, l.Slice(p, p+k, 0, p)))
}

// point is sd-mecha's exp_stiefel(a, c·delta), computed in the factors.
//
// exp_stiefel takes A = aᵀ(c delta) = c l11 and the QR of c delta - a A = c q l21; with
// l21 = Q2 R2 that QR is (q Q2)(c R2) (for c < 0, signs aside), and its result
// a m11 + (q Q2) m21, m = expm([[A, -(cR2)ᵀ], [cR2, 0]]), is [a q] expm(c l̃)[:, :p], where l̃ is
// l with its lower-right block zeroed: the same matrix in the basis diag(I, Q2). So the
// n x p QR (a 5120 x 1280 one per call for SDXL's widest keys) is not needed, which changes
// only the rounding.
//
// When the iteration converged, expm(c l̃) is within |c| eps of expm(c l) = v^c (exp is
// 1-Lipschitz between skew matrices in the 2-norm, and |l - l̃| = |l[p:, p:]| <= eps), and v^c
// is a function of v's decomposition, which the last logm made: two GEMMs instead of a
// (p+k)² matrix exponential (~4.5 s at 2560). The points then differ from sd-mecha's by at
// most |c| eps (1e-8 by default) in norm, the accuracy sd-mecha asks of the iteration; at
// c = 1 the point is b itself, where sd-mecha's is within eps of it. Without convergence
// (stiefel_max_iters reached, l[p:, p:] not small) the exponential of c l̃ is taken.
func (lg *stiefelLog) point(c float64) *mat.Dense {
	p, k := lg.p, lg.k
	var e *mat.Dense // (p+k) x p
	if lg.converged != nil {
		e = lg.converged.fn(orthoPower(c, 1), p) // logm is 0 on a plane turned by pi
	} else {
		lt := mat.NewDense(p+k, p+k, nil)
		lt.Scale(c, lg.logm())
		for i := p; i < p+k; i++ {
			clear(lt.RawRowView(i)[p:])
		}
		e = laExpm(lt).Slice(0, p+k, 0, p).(*mat.Dense)
	}
	return laAdd(laMul(lg.a, e.Slice(0, p, 0, p)), laMul(lg.q, e.Slice(p, p+k, 0, p)))
}

// solveSymmetricSylvester solves s g + g s = c for symmetric s through eigh(s) = (w, V):
// g = V ((V^T c V) / (w_i + w_j)) V^T.
func solveSymmetricSylvester(s, c *mat.Dense) (*mat.Dense, error) {
	w, vs, err := laEighSym(s)
	if err != nil {
		return nil, err
	}
	ct := laMul(laMul(vs.T(), c), vs)
	k := len(w)
	for i := range k {
		for j := range k {
			ct.Set(i, j, ct.At(i, j)/(w[j]+w[i]))
		}
	}
	return laMul(laMul(vs, ct), vs.T()), nil
}
