package stdlib

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/lapack/gonum"
	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"

	"github.com/mechac/mechac/stdlib/internal/fastblas"
	"github.com/mechac/mechac/stdlib/internal/symeig"
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

// laRow is row i of m, its storage (m's rows are contiguous: gonum's Dense is row-major).
func laRow(m *mat.Dense, i int) []float64 {
	raw := m.RawMatrix()
	return raw.Data[i*raw.Stride : i*raw.Stride+raw.Cols]
}

// laSubRow subtracts the row vector v from every row of m, in place.
func laSubRow(m *mat.Dense, v []float64) {
	r, _ := m.Dims()
	for i := range r {
		row := laRow(m, i)
		for j := range row {
			row[j] -= v[j]
		}
	}
}

// laAddRowsTo writes m plus the row vector add to out (m's rows after one another), a row at a
// time: the matrices are row-major, and a column at a time (as the formula reads, and as the
// loops once ran) strided the whole of a 290 MB token embedding once per column.
func laAddRowsTo(out []float64, m *mat.Dense, add []float64) {
	r, c := m.Dims()
	for i := range r {
		o := out[i*c : (i+1)*c]
		for j, x := range laRow(m, i) {
			o[j] = x + add[j]
		}
	}
}

// laAddInto is x + y, written into y.
func laAddInto(x, y *mat.Dense) *mat.Dense {
	y.Add(x, y)
	return y
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

// laClone returns a copy of a. Dense matrices and their transposes are copied here: gonum's
// DenseCopyOf copies a transposed view one strided column at a time (blas Dcopy), a cache miss
// per element for the 5120 x 1280 transposes of rotate's wide keys.
func laClone(a mat.Matrix) *mat.Dense {
	switch m := a.(type) {
	case *mat.Dense:
		g := m.RawMatrix()
		if g.Rows > 0 && g.Cols > 0 {
			out := make([]float64, g.Rows*g.Cols)
			for i := range g.Rows {
				copy(out[i*g.Cols:(i+1)*g.Cols], g.Data[i*g.Stride:i*g.Stride+g.Cols])
			}
			return mat.NewDense(g.Rows, g.Cols, out)
		}
	case mat.Transpose:
		if d, ok := m.Matrix.(*mat.Dense); ok {
			g := d.RawMatrix()
			if g.Rows > 0 && g.Cols > 0 {
				out := make([]float64, g.Rows*g.Cols)
				fastblas.Transpose(out, g.Data, g.Rows, g.Cols, g.Stride)
				return mat.NewDense(g.Cols, g.Rows, out)
			}
		}
	}
	return mat.DenseCopyOf(a)
}

// lapackSVD, when set (build tag mechac_openblas: svd_openblas.go), computes the thin SVD (or,
// without vectors, the singular values) with an optimized LAPACK through cgo, overwriting a;
// nil in the default pure-Go build.
var lapackSVD func(a *mat.Dense, vectors bool) (u *mat.Dense, s []float64, vt *mat.Dense, err error)

// laSVD is torch.linalg.svd(a, full_matrices=False): u (m x k), s (k, descending), vt (k x n),
// k = min(m, n). From procrustesPolarMin singular values on (and without an optimized LAPACK,
// lapackSVD) it goes through the polar factor (laSVDPolar), else, or if that fails, gonum's
// Dgesvd.
func laSVD(a mat.Matrix) (u *mat.Dense, s []float64, vt *mat.Dense, err error) {
	if err := laCheckFinite("svd", a); err != nil {
		return nil, nil, nil, err
	}
	if lapackSVD != nil {
		u, s, vt, err = lapackSVD(laClone(a), true)
		if err == nil && flipSignsForTest {
			laNegateCols(u)
			laNegateRows(vt)
		}
		return u, s, vt, err
	}
	if r, c := a.Dims(); procrustesPolar(min(r, c)) {
		if u, s, vt, ok := laSVDPolar(a); ok {
			return u, s, vt, nil
		}
	}
	var f mat.SVD
	if !f.Factorize(a, mat.SVDThin) {
		return nil, nil, nil, errors.New("SVD did not converge")
	}
	u, v := new(mat.Dense), new(mat.Dense)
	f.UTo(u)
	f.VTo(v)
	vt = laClone(v.T())
	if flipSignsForTest {
		laNegateCols(u)
		laNegateRows(vt)
	}
	return u, f.Values(nil), vt, nil
}

// laSVDPolar is the thin SVD through the polar factor (polarNull, then laSVDFromPolar), of a
// itself when it is tall or square, else of aᵀ (aᵀ = U S Vᵀ gives a = V S Uᵀ). ok = false when
// polarNull gives up (more null directions than it deflates). Why: gonum's Dgesvd applies its
// bidiagonal QR's rotations to strided columns: 12-14 s for a 1280x1280 SVD with vectors
// (truncate_rank's exact path, 0.0.x rotate's fractional power); this is ~2 s.
func laSVDPolar(a mat.Matrix) (u *mat.Dense, s []float64, vt *mat.Dense, ok bool) {
	r, c := a.Dims()
	x := laClone(a)
	if r < c {
		x = laClone(a.T())
	}
	p, _, ok := polarNull(x)
	if !ok {
		return nil, nil, nil, false
	}
	u, s, vt, err := laSVDFromPolar(x, p)
	if err != nil {
		return nil, nil, nil, false
	}
	if r < c {
		u, vt = laClone(vt.T()), laClone(u.T())
	}
	return u, s, vt, true
}

// laSVDFromPolar is the thin SVD of the tall or square a (r x c, r >= c) from its polar factor
// p (a = p h, h = pᵀ a symmetric positive semi-definite, polarNull's with a deflated null
// space): h = W diag(w) Wᵀ by symeig, so a = (p W) diag(w) Wᵀ; the singular values are |w|
// (a null direction's w may round below zero: its u column takes the sign), descending as
// torch's. Why: gonum's Dgesvd applies its bidiagonal QR's rotations to strided columns, as
// Dsteqr does: 12 s of a 1280x1280 SVD with vectors; this is a Newton polar iteration and
// one symmetric decomposition, ~2 s. The vectors of equal or zero singular values are any
// orthonormal basis of their space, as in any SVD.
func laSVDFromPolar(a, p *mat.Dense) (u *mat.Dense, s []float64, vt *mat.Dense, err error) {
	_, c := a.Dims()
	h := laData(laMul(p.T(), a))
	sym := make([]float64, c*c)
	for i := range c {
		for j := 0; j <= i; j++ {
			sym[i*c+j] = (h[i*c+j] + h[j*c+i]) / 2
		}
	}
	w, y, err := symeig.Decompose(sym, c)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("svd: %v", err)
	}
	order := make([]int, c) // by |w| descending; w is ascending, so start from its end
	for k := range order {
		order[k] = c - 1 - k
	}
	slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(math.Abs(w[y]), math.Abs(w[x])) })
	s = make([]float64, c)
	vt = mat.NewDense(c, c, nil)
	signed := mat.NewDense(c, c, nil)
	for k, j := range order {
		s[k] = math.Abs(w[j])
		row := y[j*c : j*c+c]
		copy(vt.RawRowView(k), row)
		sr := signed.RawRowView(k)
		for i, v := range row {
			if w[j] < 0 {
				v = -v
			}
			sr[i] = v
		}
	}
	u = laMul(p, signed.T())
	if flipSignsForTest {
		laNegateCols(u)
		laNegateRows(vt)
	}
	return u, s, vt, nil
}

// laSingularValues is torch.linalg.svdvals(a), descending.
func laSingularValues(a mat.Matrix) ([]float64, error) {
	if err := laCheckFinite("svd", a); err != nil {
		return nil, err
	}
	if lapackSVD != nil {
		_, s, _, err := lapackSVD(laClone(a), false)
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
	q := laClone(f.Slice(0, m, 0, k))
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
	f := laClone(a)
	q := laHouseholderQ(f, laGeqrf(f))
	if flipSignsForTest {
		laNegateCols(q)
	}
	return q
}

// laQR is torch.linalg.qr(a) (mode "reduced"): q (m x k), r (k x n), k = min(m, n).
func laQR(a mat.Matrix) (q, r *mat.Dense) {
	f := laClone(a)
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

// laDetSign is torch.slogdet(a)[0] for a real square matrix: -1, 0 or +1, from the signs of
// an LU factorization's pivots and row swaps (LAPACK's getrf directly: mat.LU would also
// estimate the condition number, level-2 work that cost more than the sign itself at 2560).
func laDetSign(a mat.Matrix) float64 {
	n, _ := a.Dims()
	lu := laData(laClone(a))
	ipiv := make([]int, n)
	var impl gonum.Implementation
	impl.Dgetrf(n, n, lu, n, ipiv)
	sign := 1.0
	for i := range n {
		d := lu[i*n+i]
		if d == 0 {
			return 0
		}
		if d < 0 {
			sign = -sign
		}
		if ipiv[i] != i {
			sign = -sign
		}
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

// orthogonalMatrixPower is sd-mecha's orthogonal_matrix_power(q, t) for an orthogonal q: the
// principal power, which sd-mecha takes as Re(V diag(l^t) V^H) from eig(q), l^t = exp(t log l)
// with arg l in (-pi, pi]. Here it is a function of q's symmetric part instead (orthoFunc): on
// each plane that q turns by an angle a, q^t turns by t a. An eigenvalue at -1 (a = pi, where
// the principal branch is ambiguous) gives cos(pi t), as sd-mecha's real part does when LAPACK
// returns that eigenvalue real.
func orthogonalMatrixPower(q mat.Matrix, t float64) (*mat.Dense, error) {
	return orthoFunc("matrix power", q, orthoPower(t, math.Cos(math.Pi*t)))
}

// orthoPower is the power t of an orthogonal matrix as an orthoFunc function: a turn by a
// becomes a turn by t a. atPi is g on a plane turned by pi, where the principal branch is
// ambiguous: cos(pi t) for the matrix power (sd-mecha's real part), 1 for exp(t logm) (logm
// is 0 there).
func orthoPower(t, atPi float64) func(cos, sin float64) (g, h float64) {
	return func(cos, sin float64) (g, h float64) {
		switch {
		case sin > 0:
			a := math.Atan2(sin, cos)
			return math.Cos(t * a), math.Sin(t*a) / sin
		case cos > 0:
			return 1, t // the limit of sin(t a)/sin(a) at a = 0
		}
		return atPi, 0
	}
}

// laLogm is sd-mecha's logm(m) for the orthogonal m that log_stiefel gives it: Re(V diag(log l)
// V^-1) from eig(m), the principal logarithm, skew-symmetric. Here it is a function of m's
// symmetric part (orthoFunc): a/sin(a) times m's skew part on each plane that m turns by a.
// At a = pi (eigenvalue -1, ambiguous) it is 0, sd-mecha's real part of i pi.
//
// The result is made exactly skew ((l - lᵀ)/2): log_stiefel turns half of its matrix by expm
// of a Sylvester solution built from l's lower-right block, which is orthogonal only if that
// block is skew. The formula's rounding leaves a symmetric part of ~1e-12, and the iteration
// fed it back growing ~4x a step (measured on the golden's clip_l keys: by step 17 the matrix
// was no longer orthogonal and the iteration diverged to NaN, where eig's route converged).
func laLogm(m mat.Matrix) (*mat.Dense, error) {
	o, err := orthoDecompose("logm", m)
	if err != nil {
		return nil, err
	}
	return o.logm(), nil
}

// logm is laLogm of the decomposed matrix.
func (o *orthoParts) logm() *mat.Dense {
	n, _ := o.y.Dims()
	l := o.fn(logmOfOrtho, n)
	d := l.RawMatrix().Data
	laSymSkew(nil, d, d, n) // in place: l's skew part
	return l
}

// logmOfOrtho is laLogm's function of an orthogonal matrix (orthoFunc): on a plane turned by
// a, a/sin(a) times the skew part; 0 at a = pi.
func logmOfOrtho(cos, sin float64) (g, h float64) {
	switch {
	case sin > 0:
		return 0, math.Atan2(sin, cos) / sin
	case cos > 0:
		return 0, 1
	}
	return 0, 0
}

// orthoFunc evaluates a function of an orthogonal matrix q given as g(C) + h(C) S, where
// C = (q + qᵀ)/2 and S = (q - qᵀ)/2 are q's symmetric and skew parts. q is normal, so they
// commute, and on each plane that q turns by an angle a (q = cos a I + sin a J there), C is
// cos a and S is sin a J: any function of q that maps a turn by a to some cos b I + sin b J is
// g + h S with g = cos b and h = sin b / sin a, and f gives (g, h) from (cos a, sin a).
//
// Why not eig(q) as sd-mecha: gonum's non-symmetric eigensolver (Dgeev's Hessenberg QR) takes
// ~12 s for one 1280x1280 q; C is symmetric, and symeig decomposes it in 0.8 s. With C's
// eigenvalues w (ascending) and orthonormal eigenvectors y_j (rows of Y), S y_j is sin a_j
// times a unit vector of the same plane, so sin a_j = |S y_j| (accurate even where w_j is
// near -1 and acos would lose half the digits; sinFromCos says where the cheaper
// sqrt(1 - w_j²) is as good), and with W = S Yᵀ (columns S y_j) and S skew, Y S = -Wᵀ:
//
//	g(C) + h(C) S = Yᵀ diag(g) Y + Yᵀ diag(h) Y S = Yᵀ (diag(g) Y - diag(h) Wᵀ).
func orthoFunc(op string, q mat.Matrix, f func(cos, sin float64) (g, h float64)) (*mat.Dense, error) {
	o, err := orthoDecompose(op, q)
	if err != nil {
		return nil, err
	}
	n, _ := q.Dims()
	return o.fn(f, n), nil
}

// orthoParts is an orthogonal matrix's symmetric part decomposed for orthoFunc: the
// eigenvalues cos a_j of C, the sines sin a_j, the eigenvectors y_j (rows of y), q's skew part
// s, and the first columns of W = S Yᵀ as wt's rows, (S y_j)ᵀ, made when a function needs
// them. One decomposition serves any number of functions of q.
type orthoParts struct {
	cos, sin []float64
	y, s, wt *mat.Dense
}

// sinFromCos: at or above this cos a_j, sin a_j is sqrt((1 - cos)(1 + cos)); below it, |S y_j|.
// The formula's error is the eigenvalue's (~1e-16) over sin a_j: large for small angles, where
// every function orthoFunc takes is even in a_j (depends on a_j² ~ sin² a_j, to ~1e-16 with
// it), and large for angles near pi, where logm's a/sin(a) is not: those take the product.
// Computing every |S y_j| was a full product, W = S Yᵀ, per decomposition (~2n³ flops; 15% of
// a wide key's fractional rotate), where log_stiefel's steps need no other column of W.
const sinFromCos = -0.5

// orthoDecompose decomposes q's symmetric part for orthoFunc: one symmetric
// eigen-decomposition, and the product S y_j for each angle near pi.
func orthoDecompose(op string, q mat.Matrix) (*orthoParts, error) {
	if err := laCheckFinite(op, q); err != nil {
		return nil, err
	}
	n, _ := q.Dims()
	var qd []float64 // read only
	if d, ok := q.(*mat.Dense); ok {
		qd = laData(d)
	} else {
		qd = laData(laClone(q))
	}
	sym, skew := make([]float64, n*n), make([]float64, n*n)
	laSymSkew(sym, skew, qd, n)
	w, yt, err := symeig.Decompose(sym, n)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", op, err)
	}
	// yt and skew are ours: no copies.
	o := &orthoParts{cos: w, sin: make([]float64, n), y: mat.NewDense(n, n, yt), s: mat.NewDense(n, n, skew)}
	var far []int
	for j, c := range w {
		if c >= sinFromCos {
			o.sin[j] = math.Sqrt(max(0, (1-c)*(1+c)))
		} else {
			far = append(far, j)
		}
	}
	if len(far) > 0 {
		yf := mat.NewDense(len(far), n, nil)
		for i, j := range far {
			copy(yf.RawRowView(i), o.y.RawRowView(j))
		}
		sy := laMul(yf, o.s.T()) // rows (S y_j)ᵀ
		for i, j := range far {
			o.sin[j] = floats.Norm(sy.RawRowView(i), 2)
		}
	}
	return o, nil
}

// wtCols returns the first cols columns of wt (rows (S y_j)ᵀ), making them if needed: wt = Y
// Sᵀ, each element the same products summed in the same order as in column j of S Yᵀ, without
// that product's transpose copied.
func (o *orthoParts) wtCols(cols int) *mat.Dense {
	if o.wt != nil {
		if _, c := o.wt.Dims(); c >= cols {
			return o.wt
		}
	}
	n, _ := o.y.Dims()
	o.wt = laMul(o.y, o.s.Slice(0, cols, 0, n).T())
	return o.wt
}

// logmRows is rows r.. of laLogm of q: h(C) S with h = a/sin(a) (logmOfOrtho), as
// (Y[:, r:]ᵀ diag(h) Y) S, two products of (n-r) x n x n; log_stiefel's steps need only these
// rows until the last. Not made exactly skew.
func (o *orthoParts) logmRows(r int) *mat.Dense {
	n, _ := o.y.Dims()
	hy := laClone(o.y.Slice(0, n, r, n)) // diag(h) Y[:, r:]
	for j := range n {
		_, h := logmOfOrtho(o.cos[j], o.sin[j])
		floats.Scale(h, hy.RawRowView(j))
	}
	return laMul(laMul(hy.T(), o.y), o.s)
}

// laSymSkew sets sym and skew to the symmetric and skew parts (q + qᵀ)/2 and (q - qᵀ)/2 of the
// n x n matrix q (packed rows), a tile of the lower triangle at a time with its mirror: (x+y)/2
// and -(x-y)/2 are the mirror's values exactly, and the tiles keep the column reads of qᵀ in
// cache (a 2560² q is 52 MB). sym may be nil (skew part only), and skew may be q itself: each
// pair of mirrored elements is read before either is written.
func laSymSkew(sym, skew, q []float64, n int) {
	const t = fastblas.TransposeTile
	for i0 := 0; i0 < n; i0 += t {
		i1 := min(i0+t, n)
		for j0 := 0; j0 <= i0; j0 += t {
			j1 := min(j0+t, n)
			for i := i0; i < i1; i++ {
				for j := j0; j < min(j1, i); j++ {
					x, y := q[i*n+j], q[j*n+i]
					k := (x - y) / 2
					skew[i*n+j], skew[j*n+i] = k, -k
					if sym != nil {
						s := (x + y) / 2
						sym[i*n+j], sym[j*n+i] = s, s
					}
				}
			}
		}
	}
	for i := range n {
		x := q[i*n+i]
		skew[i*n+i] = (x - x) / 2
		if sym != nil {
			sym[i*n+i] = (x + x) / 2
		}
	}
}

// fn is the function f of q (orthoFunc), or its first cols columns: a function of the first
// columns only (log_stiefel's geodesic points) costs a GEMM of that width.
func (o *orthoParts) fn(f func(cos, sin float64) (g, h float64), cols int) *mat.Dense {
	n, _ := o.y.Dims()
	mid := mat.NewDense(n, cols, nil)
	wt := o.wtCols(cols)
	for j := range n {
		g, h := f(o.cos[j], o.sin[j])
		yr, wr, out := o.y.RawRowView(j)[:cols], wt.RawRowView(j)[:cols], mid.RawRowView(j)
		for k := range out {
			out[k] = float64(g*yr[k]) - float64(h*wr[k])
		}
	}
	return laMul(o.y.T(), mid)
}

// laExpm is torch.linalg.matrix_exp (gonum: scaling and squaring with a Pade approximant).
func laExpm(a mat.Matrix) *mat.Dense {
	var e mat.Dense
	e.Exp(a)
	return &e
}

// laEighSym is torch.linalg.eigh(s): ascending eigenvalues and orthonormal eigenvectors (the
// columns of v) of the symmetric part of s; like LAPACK, only its lower triangle is read.
// symeig, not gonum's EigenSym (Dsyev): 0.8 s against 9.4 s at 1280x1280, where log_stiefel
// needs one per iteration.
func laEighSym(s *mat.Dense) ([]float64, *mat.Dense, error) {
	if err := laCheckFinite("eigh", s); err != nil {
		return nil, nil, err
	}
	n, _ := s.Dims()
	w, vt, err := symeig.Decompose(laData(laClone(s)), n)
	if err != nil {
		return nil, nil, fmt.Errorf("eigh: %v", err)
	}
	v := laClone(mat.NewDense(n, n, vt).T())
	if flipSignsForTest {
		laNegateCols(v)
	}
	return w, v, nil
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
