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

// expStiefel is sd-mecha's exp_stiefel(u, delta): the point reached from u (n x p, n > p) along
// the tangent delta.
func expStiefel(u, delta *mat.Dense) (*mat.Dense, error) {
	n, p := u.Dims()
	if n <= p {
		return nil, fmt.Errorf("exp_stiefel: u must be tall, is %dx%d", n, p)
	}
	k := min(n-p, p)
	a := laMul(u.T(), delta)
	q, r := laQRPos(laSub(delta, laMul(u, a)))
	q = mat.DenseCopyOf(q.Slice(0, n, 0, k))
	r = mat.DenseCopyOf(r.Slice(0, k, 0, p))
	w := mat.NewDense(p+k, p+k, nil)
	w.Slice(0, p, 0, p).(*mat.Dense).Copy(a)
	for i := range p {
		for j := range k {
			w.Set(i, p+j, -r.At(j, i))
		}
	}
	w.Slice(p, p+k, 0, p).(*mat.Dense).Copy(r)
	m := laExpm(w)
	return laAdd(laMul(u, m.Slice(0, p, 0, p)), laMul(q, m.Slice(p, p+k, 0, p))), nil
}

// logStiefel is sd-mecha's log_stiefel(a, b, eps, max_iters): the tangent at a (n x p, n > p)
// of the geodesic to b, by the iteration of Zimmermann's algorithm: logm of the completed
// orthogonal matrix, stopping when the Frobenius norm of its lower-right block is <= eps or
// after max_iters steps (sd-mecha then only warns; so do we, silently).
func logStiefel(a, b *mat.Dense, eps float64, maxIters int) (*mat.Dense, error) {
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
	q = mat.DenseCopyOf(q.Slice(0, n, 0, k))
	nm = mat.DenseCopyOf(nm.Slice(0, k, 0, p))
	stack := mat.NewDense(p+k, p, nil)
	stack.Slice(0, p, 0, p).(*mat.Dense).Copy(m)
	stack.Slice(p, p+k, 0, p).(*mat.Dense).Copy(nm)
	v := orthogonalComplete(stack)

	r, sigma, rhT, err := laSVDLarge(mat.DenseCopyOf(v.Slice(p, p+k, p, p+k)))
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

	var l *mat.Dense
	for range maxIters {
		l, err = laLogm(v)
		if err != nil {
			return nil, fmt.Errorf("log_stiefel: %v", err)
		}
		c := mat.DenseCopyOf(l.Slice(p, p+k, p, p+k))
		if laFrobenius(c) <= eps {
			break
		}
		lb := l.Slice(p, p+k, 0, p)
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
	return laAdd(laMul(a, l.Slice(0, p, 0, p)), laMul(q, l.Slice(p, p+k, 0, p))), nil
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
