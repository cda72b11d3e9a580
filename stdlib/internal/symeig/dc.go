package symeig

import (
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// Cuppen's divide and conquer for the eigenvectors of a symmetric tridiagonal matrix (the
// method of LAPACK's dstedc): split T in halves by a rank-one tear, solve the halves, and
// merge them through the rank-one update D + ρ z zᵀ. The merge's eigenvalues are the roots
// of the secular equation, its eigenvectors (D - λ)⁻¹ẑ with ẑ recomputed from the roots
// (Gu and Eisenstat), which keeps them orthogonal however close the roots. Most of the work
// is in one matrix product per merge, on the BLAS, where the QL iteration spends it in plane
// rotations: at 2560 those took ~60% of a decomposition. As in the rotations, every product
// that feeds a sum is rounded first (float64 conversions), so no compiler fuses them and the
// bits do not depend on the CPU.

// dcLeaf is the largest subproblem solved by the QL iteration (LAPACK's SMLSIZ is 25).
var dcLeaf = 32 // a variable for the tests

// dcParallel is the smallest subproblem whose halves are solved on two goroutines.
const dcParallel = 256

// tridiagonalDC returns the eigenvectors of the symmetric tridiagonal matrix with diagonal d
// and off-diagonal e (e[i] couples i and i+1) as the columns of z (n x n, row-major); d
// becomes the eigenvalues, ascending. e is not modified. d and e must be finite.
func tridiagonalDC(d, e []float64, n int) ([]float64, error) {
	z := make([]float64, n*n)
	scale := 0.0
	for _, x := range d {
		scale = max(scale, math.Abs(x))
	}
	for _, x := range e[:n-1] {
		scale = max(scale, math.Abs(x))
	}
	if scale == 0 {
		for i := range n {
			z[i*n+i] = 1
		}
		return z, nil
	}
	// Scaled to a largest entry of 1, as dstedc does: no product of the merges overflows.
	es := make([]float64, n-1)
	for i := range d {
		d[i] /= scale
	}
	for i := range es {
		es[i] = e[i] / scale
	}
	if err := dcSolve(d, es, z); err != nil {
		return nil, err
	}
	for i := range d {
		d[i] *= scale
	}
	return z, nil
}

// dcSolve diagonalizes the tridiagonal (d, e) of size m = len(d): d becomes the eigenvalues
// ascending, z (m x m) the eigenvectors as columns.
func dcSolve(d, e, z []float64) error {
	m := len(d)
	if m <= dcLeaf {
		vt := make([]float64, m*m)
		for i := range m {
			vt[i*m+i] = 1
		}
		if err := tridiagonalQL(d, e[:max(m-1, 0)], vt, m); err != nil {
			return err
		}
		copy(d, sortAscending(d, vt, m))
		for i := range m {
			for j := range m {
				z[j*m+i] = vt[i*m+j]
			}
		}
		return nil
	}
	m1 := m / 2
	m2 := m - m1
	beta := e[m1-1]
	// T = diag(T1 - |β| e_last e_lastᵀ, T2 - |β| e_1 e_1ᵀ) + |β| u uᵀ, u = [e_last; sign(β) e_1].
	d[m1-1] -= math.Abs(beta)
	d[m1] -= math.Abs(beta)
	z1, z2 := make([]float64, m1*m1), make([]float64, m2*m2)
	var err1, err2 error
	if m >= dcParallel {
		var wg sync.WaitGroup
		wg.Go(func() { err1 = dcSolve(d[:m1], e[:m1-1], z1) })
		err2 = dcSolve(d[m1:], e[m1:], z2)
		wg.Wait()
	} else {
		err1 = dcSolve(d[:m1], e[:m1-1], z1)
		err2 = dcSolve(d[m1:], e[m1:], z2)
	}
	if err1 != nil {
		return err1
	}
	if err2 != nil {
		return err2
	}
	dcMerge(d, z, z1, z2, m1, beta)
	return nil
}

// Column kinds of diag(Z1, Z2) in a merge: nonzero in the top m1 rows only, in both (two
// columns turned together by a deflation), or in the bottom rows only.
const (
	colTop = iota
	colMixed
	colBottom
)

// dcMerge diagonalizes diag(Z1, Z2) (diag(D1, D2) + ρ u uᵀ) diag(Z1, Z2)ᵀ, D1 = d[:m1] and
// D2 = d[m1:] the halves' eigenvalues, into d and z.
func dcMerge(d, z, z1, z2 []float64, m1 int, beta float64) {
	m := len(d)
	m2 := m - m1
	// z = diag(Z1, Z2)ᵀ u / √2 (unit norm), ρ = 2|β|.
	rho := 2 * math.Abs(beta)
	zv := make([]float64, m)
	for j := range m1 {
		zv[j] = z1[(m1-1)*m1+j] / math.Sqrt2
	}
	sgn := 1.0
	if beta < 0 {
		sgn = -1
	}
	for j := range m2 {
		zv[m1+j] = sgn * z2[j] / math.Sqrt2
	}
	// The columns in ascending order of their eigenvalue, each a dense column of m.
	perm := ascendingOrder(d)
	dl, zl := make([]float64, m), make([]float64, m)
	cols := make([][]float64, m)
	kind := make([]int, m)
	for k, p := range perm {
		dl[k], zl[k] = d[p], zv[p]
		c := make([]float64, m)
		if p < m1 {
			for i := range m1 {
				c[i] = z1[i*m1+p]
			}
			kind[k] = colTop
		} else {
			for i := range m2 {
				c[m1+i] = z2[i*m2+p-m1]
			}
			kind[k] = colBottom
		}
		cols[k] = c
	}

	// Deflation (dlaed2): a negligible ρ z_j leaves d_j and its column as they are; two close
	// eigenvalues are turned so that one of them has z = 0 and deflates.
	dmax, zmax := 0.0, 0.0
	for k := range m {
		dmax, zmax = max(dmax, math.Abs(dl[k])), max(zmax, math.Abs(zl[k]))
	}
	tol := 8 * dlamchE * max(dmax, zmax) // dlaed2: 8 eps, eps = DLAMCH('E') = 2^-53
	keep := make([]int, 0, m)            // the non-deflated, ascending
	deflated := make([]bool, m)
	pj := -1
	for j := range m {
		if rho*math.Abs(zl[j]) <= tol {
			deflated[j] = true
			continue
		}
		if pj < 0 {
			pj = j
			continue
		}
		s, c := zl[pj], zl[j]
		tau := math.Hypot(c, s)
		t := dl[j] - dl[pj]
		c /= tau
		s = -s / tau
		if math.Abs(t*c*s) > tol {
			keep = append(keep, pj)
			pj = j
			continue
		}
		// Turn columns pj and j: z_pj becomes 0, z_j tau.
		zl[j], zl[pj] = tau, 0
		x, y := cols[pj], cols[j]
		for i := range x {
			xv, yv := x[i], y[i]
			x[i] = float64(c*xv) + float64(s*yv)
			y[i] = float64(c*yv) - float64(s*xv)
		}
		if kind[pj] != kind[j] {
			kind[pj], kind[j] = colMixed, colMixed
		}
		tp := float64(dl[pj]*c*c) + float64(dl[j]*s*s)
		dl[j] = float64(dl[pj]*s*s) + float64(dl[j]*c*c)
		dl[pj] = tp
		deflated[pj] = true
		pj = j
	}
	if pj >= 0 {
		keep = append(keep, pj)
	}

	K := len(keep)
	lam := make([]float64, m)
	out := make([][]float64, m) // the merged eigenvectors, by index into dl
	for j := range m {
		if deflated[j] {
			lam[j], out[j] = dl[j], cols[j]
		}
	}
	if K > 0 {
		dk, zk := make([]float64, K), make([]float64, K)
		for i, j := range keep {
			dk[i], zk[i] = dl[j], zl[j]
		}
		roots, u := secularSolve(dk, zk, rho)
		vecs := dcProduct(cols, kind, keep, u, m, m1)
		for i, j := range keep {
			lam[j] = roots[i]
			out[j] = vecs[i*m : i*m+m]
		}
	}
	// Ascending, stable: equal eigenvalues keep the order above.
	for k, j := range ascendingOrder(lam) {
		d[k] = lam[j]
		c := out[j]
		for i := range m {
			z[i*m+k] = c[i]
		}
	}
}

// dcProduct returns the merged eigenvectors of the non-deflated columns, the rows of the
// result (K x m): vector i = Σ_j cols[keep[j]] u[j][i]. The columns are grouped by kind so
// that the top rows are a product over the top and mixed columns only and the bottom rows
// over the mixed and bottom ones: half the work of a dense product when little deflates.
func dcProduct(cols [][]float64, kind []int, keep []int, u []float64, m, m1 int) []float64 {
	K := len(keep)
	m2 := m - m1
	var group [3][]int // positions in keep, by kind
	for j, c := range keep {
		group[kind[c]] = append(group[kind[c]], j)
	}
	top := append(append([]int(nil), group[colTop]...), group[colMixed]...)
	bot := append(append([]int(nil), group[colMixed]...), group[colBottom]...)
	res := make([]float64, K*m)
	impl := blas64.Implementation()
	// resᵀ[rows r0:r1] = Q[r0:r1, sel] U[sel, :] computed as its transpose,
	// res[:, r0:r1] = U[sel, :]ᵀ Q[r0:r1, sel]ᵀ: both operands gathered contiguous.
	half := func(sel []int, r0, rows int) {
		if len(sel) == 0 || rows == 0 {
			return
		}
		qt := make([]float64, len(sel)*rows) // row s: column cols[keep[sel[s]]][r0:r0+rows]
		us := make([]float64, len(sel)*K)    // row s: u's row sel[s]
		for s, j := range sel {
			copy(qt[s*rows:(s+1)*rows], cols[keep[j]][r0:r0+rows])
			copy(us[s*K:(s+1)*K], u[j*K:(j+1)*K])
		}
		impl.Dgemm(blas.Trans, blas.NoTrans, K, rows, len(sel), 1, us, K, qt, rows, 0, res[r0:], m)
	}
	half(top, 0, m1)
	half(bot, m1, m2)
	return res
}

// secularSolve returns the eigenvalues of diag(dk) + ρ zk zkᵀ (dk strictly ascending, every
// zk nonzero, ρ > 0), ascending, and its eigenvectors as the columns of u (K x K, row-major).
// Root i lies in (dk[i], dk[i+1]), the last in (dk[K-1], dk[K-1] + ρ|zk|²]; each is found
// relative to the nearer end of its interval, which keeps every difference dk[j] - λ_i to
// full relative accuracy, and those differences give ẑ (Gu and Eisenstat) and the vectors.
func secularSolve(dk, zk []float64, rho float64) ([]float64, []float64) {
	K := len(dk)
	roots := make([]float64, K)
	del := make([]float64, K*K) // row i: dk[j] - λ_i for every j
	workers := min(runtime.GOMAXPROCS(0), max(1, K*K/(1<<16)))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < K; i += workers {
				roots[i] = secularRoot(dk, zk, rho, i, del[i*K:(i+1)*K])
			}
		})
	}
	wg.Wait()
	// ẑ_j² = Π_i (λ_i - d_j) / (ρ Π_{i≠j} (d_i - d_j)), each factor positive.
	zh := make([]float64, K)
	for j := range K {
		p := -del[j*K+j] / rho
		for i := range K {
			if i != j {
				p *= -del[i*K+j] / (dk[i] - dk[j])
			}
		}
		zh[j] = math.Copysign(math.Sqrt(p), zk[j])
	}
	// Vector i: ẑ_j / (d_j - λ_i), normalized; u's column i.
	u := make([]float64, K*K)
	for i := range K {
		row := del[i*K : (i+1)*K]
		ss := 0.0
		for j := range K {
			row[j] = zh[j] / row[j]
			ss += float64(row[j] * row[j])
		}
		nrm := math.Sqrt(ss)
		for j := range K {
			u[j*K+i] = row[j] / nrm
		}
	}
	return roots, u
}

// secularRoot finds root i of 1 + ρ Σ_j z_j²/(d_j - λ) = 0 and stores d_j - λ in del. The
// unknown is τ = λ - d_o, o the nearer end of the root's interval; each step solves a model
// with the two poles around the root (d_i and d_{i+1}; d_{K-1} alone for the last root)
// matched to the function's parts and derivatives left and right of the root (Li's "middle
// way"), kept inside the bracket, and bisects when the model leaves it.
func secularRoot(d, z []float64, rho float64, i int, del []float64) float64 {
	K := len(d)
	last := i == K-1
	o := i
	var lo, hi float64 // bracket in τ: f(lo) < 0 <= f(hi)
	if last {
		nz := 0.0
		for _, x := range z {
			nz += x * x
		}
		lo, hi = 0, rho*nz
	} else {
		// f at the middle of the interval, in the coordinates of d[i] (dlaed4's
		// (d[j] - d[i]) - midpt): d[i] + gap/2 rounded to a float64 can be ulps off the
		// middle of an interval only a few ulps wide, enough to flip f's sign there and
		// choose the wrong half.
		gap := d[i+1] - d[i]
		f := 1.0
		for j := range K {
			f += rho * z[j] * z[j] / ((d[j] - d[i]) - gap/2)
		}
		if f >= 0 {
			lo, hi = 0, gap/2
		} else {
			o = i + 1
			lo, hi = -gap/2, 0
		}
	}
	do := d[o]
	base := make([]float64, K) // d_j - d_o
	for j := range K {
		base[j] = d[j] - do
	}
	tau := (lo + hi) / 2
	if o == i && !last {
		tau = hi / 2
	} else if o == i+1 {
		tau = lo / 2
	}
	const eps = dlamchE // DLAMCH('E'), as dlaed4
	for iter := 0; ; iter++ {
		// f, its left part (poles at or below d_i) and right part, and their derivatives.
		psi, dpsi, phi, dphi := 0.0, 0.0, 0.0, 0.0
		for j := range K {
			dj := base[j] - tau
			del[j] = dj
			t := rho * z[j] / dj
			if j <= i {
				psi += float64(t * z[j])
				dpsi += t * t / rho
			} else {
				phi += float64(t * z[j])
				dphi += t * t / rho
			}
		}
		f := 1 + psi + phi
		// LAPACK's bound on f's rounding (dlaed4's erretm, in spirit).
		errb := eps * (float64(8*(phi-psi)) + 1 + float64(math.Abs(tau)*(dpsi+dphi)))
		if math.Abs(f) <= errb || iter == 100 {
			break
		}
		if f < 0 {
			lo = tau
		} else {
			hi = tau
		}
		if hi-lo <= 2*eps*max(math.Abs(lo), math.Abs(hi)) {
			break
		}
		a := del[i]
		var h float64
		ok := false
		if last {
			// c + s1/(a - h) = 0
			c := f - float64(dpsi*a)
			if c != 0 {
				h = a + dpsi*a*a/c
				ok = true
			}
		} else {
			b := del[i+1]
			s1, s2 := dpsi*a*a, dphi*b*b
			c := f - float64(dpsi*a) - float64(dphi*b)
			// c h² - (c(a+b) + s1 + s2) h + (c a b + s1 b + s2 a) = 0, the root in (a, b).
			qa, qb, qc := c, -(float64(c*(a+b)) + s1 + s2), float64(c*a*b)+float64(s1*b)+float64(s2*a)
			if qa == 0 {
				if qb != 0 {
					h, ok = -qc/qb, true
				}
			} else if disc := float64(qb*qb) - float64(4*qa*qc); disc >= 0 {
				q := -(qb + math.Copysign(math.Sqrt(disc), qb)) / 2
				r1, r2 := q/qa, 0.0
				if q != 0 {
					r2 = qc / q
				}
				switch {
				case r1 > a && r1 < b:
					h, ok = r1, true
				case r2 > a && r2 < b:
					h, ok = r2, true
				}
			}
		}
		next := tau + h
		if !ok || !(next > lo && next < hi) {
			next = lo + (hi-lo)/2
		}
		tau = next
	}
	return do + tau
}
