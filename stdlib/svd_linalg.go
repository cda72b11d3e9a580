package stdlib

import (
	"errors"
	"fmt"
	"math"
	"math/cmplx"

	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"
)

// Linear algebra for the SVD family (svd.go), on gonum (pure Go LAPACK and BLAS). Each helper
// mirrors one torch.linalg call of sd-mecha's svd.py; the results equal LAPACK's up to a few
// fp64 ulps (other summation orders), and only in ways the methods are invariant to (the
// signs, or phases, of singular and eigen vectors: every method here multiplies a vector by its
// own transpose or by its partner's, so a sign flip cancels).

// flipSignsForTest, set by the tests only, makes every factorization below return another
// valid choice of its vectors' signs (phases): alternate singular vector pairs negated, QR
// columns of Q with the matching rows of R negated, eigenvectors times -1 or a unit phase.
// The methods' results must not change (svd_test.go TestSignInvariance).
var flipSignsForTest bool

// laNegateCols negates the odd-numbered columns of m.
func laNegateCols(m *mat.Dense) {
	r, c := m.Dims()
	for i := range r {
		for j := 1; j < c; j += 2 {
			m.Set(i, j, -m.At(i, j))
		}
	}
}

// laNegateRows negates the odd-numbered rows of m.
func laNegateRows(m *mat.Dense) {
	r, c := m.Dims()
	for i := 1; i < r; i += 2 {
		for j := range c {
			m.Set(i, j, -m.At(i, j))
		}
	}
}

// laCheckFinite reports a matrix holding NaN or an infinity, which torch.linalg refuses (and on
// which gonum's eigen-decomposition would not terminate).
func laCheckFinite(op string, a mat.Matrix) error {
	r, c := a.Dims()
	for i := range r {
		for j := range c {
			if x := a.At(i, j); math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("%s: the matrix contains NaN or infinity", op)
			}
		}
	}
	return nil
}

// laDenseOf copies an r x c row-major block of data into a new matrix (the kernels never write
// into their inputs).
func laDenseOf(r, c int, data []float64) *mat.Dense {
	return mat.NewDense(r, c, append([]float64(nil), data...))
}

// laMul returns a b.
func laMul(a, b mat.Matrix) *mat.Dense {
	var c mat.Dense
	c.Mul(a, b)
	return &c
}

// laSub returns a - b.
func laSub(a, b mat.Matrix) *mat.Dense {
	var c mat.Dense
	c.Sub(a, b)
	return &c
}

// laAdd returns a + b.
func laAdd(a, b mat.Matrix) *mat.Dense {
	var c mat.Dense
	c.Add(a, b)
	return &c
}

// laClone returns a copy of a.
func laClone(a mat.Matrix) *mat.Dense {
	return mat.DenseCopyOf(a)
}

// lapackSVD, when set (build tag mechac_openblas: svd_openblas.go), computes the thin SVD (or,
// without vectors, the singular values) with an optimized LAPACK through cgo, overwriting a;
// nil in the default pure-Go build.
var lapackSVD func(a *mat.Dense, vectors bool) (u *mat.Dense, s []float64, vt *mat.Dense, err error)

// lapackEig, when set (the same build tag), computes the eigenvalues and right eigenvectors of a
// square matrix (real and imaginary parts) with an optimized LAPACK's dgeev; nil in the default
// build, where gonum's Dgeev (mat.Eigen) does: rotate's fractional matrix power is ~12 CPU-s per
// 1280² key there, 70% of it in the Hessenberg QR sweeps (Dlaqr5).
var lapackEig func(a *mat.Dense) (vals []complex128, re, im *mat.Dense, err error)

// laSVD is torch.linalg.svd(a, full_matrices=False): u (m x k), s (k, descending), vt (k x n),
// k = min(m, n).
func laSVD(a mat.Matrix) (u *mat.Dense, s []float64, vt *mat.Dense, err error) {
	if err := laCheckFinite("svd", a); err != nil {
		return nil, nil, nil, err
	}
	if lapackSVD != nil {
		u, s, vt, err = lapackSVD(mat.DenseCopyOf(a), true)
		if err == nil && flipSignsForTest {
			laNegateCols(u)
			laNegateRows(vt)
		}
		return u, s, vt, err
	}
	var f mat.SVD
	if !f.Factorize(a, mat.SVDThin) {
		return nil, nil, nil, errors.New("SVD did not converge")
	}
	u, v := new(mat.Dense), new(mat.Dense)
	f.UTo(u)
	f.VTo(v)
	vt = mat.DenseCopyOf(v.T())
	if flipSignsForTest {
		laNegateCols(u)
		laNegateRows(vt)
	}
	return u, f.Values(nil), vt, nil
}

// laSingularValues is torch.linalg.svdvals(a), descending.
func laSingularValues(a mat.Matrix) ([]float64, error) {
	if err := laCheckFinite("svd", a); err != nil {
		return nil, err
	}
	if lapackSVD != nil {
		_, s, _, err := lapackSVD(mat.DenseCopyOf(a), false)
		return s, err
	}
	var f mat.SVD
	if !f.Factorize(a, mat.SVDNone) {
		return nil, errors.New("SVD did not converge")
	}
	return f.Values(nil), nil
}

// laGeqrf factors a (m x n) in place as LAPACK dgeqrf does (Householder reflectors below the
// diagonal, R on and above it) and returns the scalar factors tau.
func laGeqrf(a *mat.Dense) []float64 {
	g := a.RawMatrix()
	k := min(g.Rows, g.Cols)
	tau := make([]float64, k)
	work := make([]float64, 1)
	lapack64.Geqrf(g, tau, work, -1)
	work = make([]float64, int(work[0]))
	lapack64.Geqrf(g, tau, work, len(work))
	return tau
}

// laHouseholderQ returns the first k = min(m, n) columns of Q of a factored by geqrf (LAPACK
// dorgqr, torch.linalg.householder_product).
func laHouseholderQ(f *mat.Dense, tau []float64) *mat.Dense {
	m, n := f.Dims()
	k := min(m, n)
	q := mat.DenseCopyOf(f.Slice(0, m, 0, k))
	g := q.RawMatrix()
	work := make([]float64, 1)
	lapack64.Orgqr(g, tau, work, -1)
	work = make([]float64, int(work[0]))
	lapack64.Orgqr(g, tau, work, len(work))
	return q
}

// laOrthoBasis is torch.linalg.householder_product(*torch.geqrf(a)): the Q of a's QR
// factorization, m x min(m, n).
func laOrthoBasis(a mat.Matrix) *mat.Dense {
	f := mat.DenseCopyOf(a)
	q := laHouseholderQ(f, laGeqrf(f))
	if flipSignsForTest {
		laNegateCols(q)
	}
	return q
}

// laQR is torch.linalg.qr(a) (mode "reduced"): q (m x k), r (k x n), k = min(m, n).
func laQR(a mat.Matrix) (q, r *mat.Dense) {
	f := mat.DenseCopyOf(a)
	tau := laGeqrf(f)
	m, n := f.Dims()
	k := min(m, n)
	r = mat.NewDense(k, n, nil)
	for i := range k {
		for j := i; j < n; j++ {
			r.Set(i, j, f.At(i, j))
		}
	}
	q = laHouseholderQ(f, tau)
	if flipSignsForTest {
		laNegateCols(q)
		laNegateRows(r)
	}
	return q, r
}

// laQRPos is sd-mecha's qr_pos: the reduced QR with R's diagonal made non-negative (torch.sign,
// 0 counted as +1), which makes the factorization unique.
func laQRPos(a mat.Matrix) (q, r *mat.Dense) {
	q, r = laQR(a)
	m, k := q.Dims()
	_, n := r.Dims()
	for j := range k {
		if r.At(j, j) >= 0 || math.IsNaN(r.At(j, j)) {
			continue
		}
		for i := range m {
			q.Set(i, j, -q.At(i, j))
		}
		for c := range n {
			r.Set(j, c, -r.At(j, c))
		}
	}
	return q, r
}

// laDetSign is torch.slogdet(a)[0] for a real square matrix: -1, 0 or +1.
func laDetSign(a mat.Matrix) float64 {
	var lu mat.LU
	lu.Factorize(a)
	logdet, sign := lu.LogDet()
	if math.IsInf(logdet, -1) {
		return 0
	}
	return sign
}

// laEye returns the n x n identity.
func laEye(n int) *mat.Dense {
	e := mat.NewDense(n, n, nil)
	for i := range n {
		e.Set(i, i, 1)
	}
	return e
}

// laMatrixPower is torch.linalg.matrix_power(q, n): repeated squaring, the inverse for n < 0.
func laMatrixPower(q *mat.Dense, n int) (*mat.Dense, error) {
	r, _ := q.Dims()
	base := q
	if n < 0 {
		inv := new(mat.Dense)
		if err := inv.Inverse(q); err != nil {
			var c mat.Condition
			if !errors.As(err, &c) {
				return nil, err
			}
		}
		base, n = inv, -n
	}
	res := laEye(r)
	first := true
	for n > 0 {
		if n&1 == 1 {
			if first {
				res, first = laClone(base), false
			} else {
				res = laMul(res, base)
			}
		}
		n >>= 1
		if n > 0 {
			base = laMul(base, base)
		}
	}
	return res, nil
}

// laCmat is a complex matrix held as its real and imaginary parts.
type laCmat struct{ re, im *mat.Dense }

// laEig is torch.linalg.eig(a) for a real square matrix: the eigenvalues and the right
// eigenvectors (unit Euclidean norm, largest component real, as LAPACK dgeev).
func laEig(a mat.Matrix) ([]complex128, laCmat, error) {
	if err := laCheckFinite("eig", a); err != nil {
		return nil, laCmat{}, err
	}
	var vals []complex128
	var at func(i, j int) complex128
	if lapackEig != nil {
		v, vre, vim, err := lapackEig(mat.DenseCopyOf(a))
		if err != nil {
			return nil, laCmat{}, err
		}
		vals = v
		at = func(i, j int) complex128 { return complex(vre.At(i, j), vim.At(i, j)) }
	} else {
		var e mat.Eigen
		if !e.Factorize(a, mat.EigenRight) {
			return nil, laCmat{}, errors.New("eigen-decomposition did not converge")
		}
		vals = e.Values(nil)
		var v mat.CDense
		e.VectorsTo(&v)
		at = v.At
	}
	n := len(vals)
	re, im := mat.NewDense(n, n, nil), mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			z := at(i, j)
			if flipSignsForTest {
				// -1 for real eigenvalues, i and -i for a conjugate pair (keeps them conjugate).
				switch l := vals[j]; {
				case imag(l) == 0:
					z = -z
				case imag(l) > 0:
					z *= 1i
				default:
					z *= -1i
				}
			}
			re.Set(i, j, real(z))
			im.Set(i, j, imag(z))
		}
	}
	return vals, laCmat{re, im}, nil
}

// laScaleCols returns v diag(d) (column j times d[j]).
func laScaleCols(v laCmat, d []complex128) laCmat {
	r, c := v.re.Dims()
	re, im := mat.NewDense(r, c, nil), mat.NewDense(r, c, nil)
	for i := range r {
		for j := range c {
			z := complex(v.re.At(i, j), v.im.At(i, j)) * d[j]
			re.Set(i, j, real(z))
			im.Set(i, j, imag(z))
		}
	}
	return laCmat{re, im}
}

// laRealMulH returns the real part of w v^H: w_re v_re^T + w_im v_im^T.
func laRealMulH(w, v laCmat) *mat.Dense {
	return laAdd(laMul(w.re, v.re.T()), laMul(w.im, v.im.T()))
}

// orthogonalMatrixPower is sd-mecha's orthogonal_matrix_power(q, t): with q = V diag(l) V^-1
// from eig (V unitary for an orthogonal q with distinct eigenvalues), Re(V diag(l^t) V^H),
// l^t on the principal branch (exp(t log l), arg in (-pi, pi]). An eigenvalue at -1 whose
// conjugate partner LAPACK returns as a second real -1 gets +i pi from both; the imaginary
// residual is then dropped with the rest (sd-mecha only warns).
func orthogonalMatrixPower(q mat.Matrix, t float64) (*mat.Dense, error) {
	vals, vecs, err := laEig(q)
	if err != nil {
		return nil, err
	}
	pow := make([]complex128, len(vals))
	for i, l := range vals {
		pow[i] = cmplx.Pow(l, complex(t, 0))
	}
	return laRealMulH(laScaleCols(vecs, pow), vecs), nil
}

// laLogm is sd-mecha's laLogm(m): laEig(m) = (l, V); Re(V diag(log l) V^-1), the complex solve done
// as the real 2n x 2n system of its real embedding.
func laLogm(m mat.Matrix) (*mat.Dense, error) {
	vals, vecs, err := laEig(m)
	if err != nil {
		return nil, err
	}
	n := len(vals)
	lg := make([]complex128, n)
	for i, l := range vals {
		lg[i] = cmplx.Log(l)
	}
	b := laScaleCols(vecs, lg)
	// X V = B  <=>  V^T X^T = B^T. Embedding complex Z = A + iB as [[A, -B], [B, A]], the first
	// block row of X's embedding is [Xr, -Xi] = [Br, -Bi] Vemb^-1, i.e. Vemb^T Y = [Br, -Bi]^T.
	vemb := mat.NewDense(2*n, 2*n, nil)
	for i := range n {
		for j := range n {
			r, im := vecs.re.At(i, j), vecs.im.At(i, j)
			vemb.Set(i, j, r)
			vemb.Set(i+n, j+n, r)
			vemb.Set(i, j+n, -im)
			vemb.Set(i+n, j, im)
		}
	}
	rhs := mat.NewDense(n, 2*n, nil)
	for i := range n {
		for j := range n {
			rhs.Set(i, j, b.re.At(i, j))
			rhs.Set(i, j+n, -b.im.At(i, j))
		}
	}
	var y mat.Dense
	if err := y.Solve(vemb.T(), rhs.T()); err != nil {
		var c mat.Condition
		if !errors.As(err, &c) {
			return nil, fmt.Errorf("logm: %v", err)
		}
	}
	out := mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			out.Set(i, j, y.At(j, i))
		}
	}
	return out, nil
}

// laExpm is torch.linalg.matrix_exp (gonum: scaling and squaring with a Pade approximant).
func laExpm(a mat.Matrix) *mat.Dense {
	var e mat.Dense
	e.Exp(a)
	return &e
}

// laEighSym is torch.linalg.eigh(s): ascending eigenvalues and orthonormal eigenvectors of the
// symmetric part of s (LAPACK reads one triangle; so do we: the lower one, torch's default).
func laEighSym(s *mat.Dense) ([]float64, *mat.Dense, error) {
	if err := laCheckFinite("eigh", s); err != nil {
		return nil, nil, err
	}
	n, _ := s.Dims()
	sym := mat.NewSymDense(n, nil)
	for i := range n {
		for j := 0; j <= i; j++ {
			sym.SetSym(i, j, s.At(i, j))
		}
	}
	var e mat.EigenSym
	if !e.Factorize(sym, true) {
		return nil, nil, errors.New("eigh did not converge")
	}
	var v mat.Dense
	e.VectorsTo(&v)
	if flipSignsForTest {
		laNegateCols(&v)
	}
	return e.Values(nil), &v, nil
}

// laFrobenius is torch.linalg.matrix_norm(a) (Frobenius).
func laFrobenius(a mat.Matrix) float64 {
	return mat.Norm(a, 2)
}

// laData returns the row-major elements of a (a copy when a is a view).
func laData(a *mat.Dense) []float64 {
	g := a.RawMatrix()
	if g.Stride == g.Cols {
		return g.Data[:g.Rows*g.Cols]
	}
	out := make([]float64, 0, g.Rows*g.Cols)
	for i := range g.Rows {
		out = append(out, g.Data[i*g.Stride:i*g.Stride+g.Cols]...)
	}
	return out
}
