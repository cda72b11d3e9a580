package stdlib

import (
	"fmt"
	"math"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/num"
	"gonum.org/v1/gonum/mat"
)

// SVD / linear-algebra family: sd-mecha 1.1.5 sd_mecha/extensions/builtin/merge_methods/svd.py
// (rotate, truncate_rank, get_rank_from_ratio) and kronecker.py (truncate_kronecker), plus the
// fork's isotropic and isotropic_overrided (6DammK9/sd-mecha, commits f758dc0..3e3aea3).
//
// Numerics: both modes run the same algorithm (sd-mecha's), on gonum's LAPACK instead of
// OpenBLAS's: results agree with sd-mecha's to a few fp64 ulps, not bit for bit (golden
// tolerance ulp:1). Tensor hypers (rotate's alpha) are float32 in sd-mecha numerics, exact in
// exact numerics; float/int/bool hypers are exact in both. Linear algebra helpers:
// svd_linalg.go, svd_stiefel.go; the randomized range finder: svd_random.go; the fast polar
// decomposition of the isotropic methods: svd_polar.go.

// svdMatrix2D returns the 2-D view sd-mecha takes of a tensor of rank >= 2: (shape[0], rest),
// or for rotate's 4-D convolution kernels with a spatial extent (shape[0]*shape[1], kh*kw).
func svdMatrix2D(shape []int, convSplit bool) (int, int) {
	if convSplit && len(shape) == 4 && shape[2]*shape[3] != 1 {
		return shape[0] * shape[1], shape[2] * shape[3]
	}
	return shape[0], ops.NumElements(shape[1:])
}

// svdTensorArg returns argument v as a tensor.
func svdTensorArg(name string, i int, v ops.Value) (*ops.Tensor, error) {
	if v.Kind != ops.KindTensor || v.T == nil {
		return nil, fmt.Errorf("%s: argument %d is %s, want a tensor", name, i+1, v.Kind)
	}
	return v.T, nil
}

// svdNumberArg reads a number argument (a constant or a one-element tensor).
func svdNumberArg(name, param string, v ops.Value) (float64, error) {
	x, ok := v.Float64()
	if !ok {
		return 0, fmt.Errorf("%s: %s must be a number, not %s", name, param, v)
	}
	return x, nil
}

// svdIntArg reads an int argument as Python's int() would.
func svdIntArg(name, param string, v ops.Value) (int, error) {
	x, ok := v.Int64()
	if !ok {
		return 0, fmt.Errorf("%s: %s must be an integer, not %s", name, param, v)
	}
	return int(x), nil
}

// svdBoolArg reads a bool argument (int(value) != 0).
func svdBoolArg(name, param string, v ops.Value) (bool, error) {
	b, ok := v.Truth()
	if !ok {
		return false, fmt.Errorf("%s: %s must be a bool, not %s", name, param, v)
	}
	return b, nil
}

// svdSeedArg reads an optional int seed: (seed, true), or (0, false) for null.
func svdSeedArg(name string, v ops.Value) (uint64, bool, error) {
	if v.Kind == ops.KindNull {
		return 0, false, nil
	}
	x, ok := v.Int64()
	if !ok {
		return 0, false, fmt.Errorf("%s: approximate_basis_seed must be an integer or null, not %s", name, v)
	}
	return uint64(x), true, nil
}

// svdPyRound is Python's round() of a float to an int: halves to even.
func svdPyRound(x float64) int { return int(math.RoundToEven(x)) }

// laWrite copies m (row-major) into out.
func laWrite(out []float64, m *mat.Dense) {
	r, c := m.Dims()
	for i := range r {
		mat.Row(out[i*c:(i+1)*c], i, m)
	}
}

var (
	stiefelEpsDefault   = ops.Float(1e-8)
	approxSeedParamNull = ops.Param{Name: "approximate_basis_seed", Type: ops.IntHyper, Default: nullDefault(), Spaces: ops.ParamSpace, Optional: true}
)

// rotate: orthogonal Procrustes alignment of a to b (svd.py rotate).
var rotateDef = define(&ops.Def{
	Name: "rotate",
	Params: []ops.Param{
		symbolIn("a"), symbolIn("b"),
		floatDefault("alignment", 1.0),
		alphaParam(0.0),
		floatDefault("centralization", 1.0),
		{Name: "stiefel_eps", Type: ops.FloatHyper, Default: &stiefelEpsDefault, Spaces: ops.ParamSpace},
		intDefault("stiefel_max_iters", 100),
	},
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.LinearAlgebra,
	Keys:          ops.KeysIntersect,
	Formula:       "A' = A - c*mean0(A), B' likewise; Q = procrustes(A', B'); lerp(A', B' Q^-1, alpha) Q^alignment + lerp(c*mean0(A), c*mean0(B), alignment)",
	Doc: "Aligns a to b by an orthogonal transform (orthogonal Procrustes on the rows, centred by " +
		"centralization times the column means): alignment = 1 applies the whole rotation, a fraction " +
		"a fractional power of it (eig-based for square/tall 2-D views, a Stiefel geodesic for wide " +
		"ones), and alpha interpolates what the rotation cannot reach (a's singular values) towards b's. " +
		"alignment = alpha = 0 returns a, alignment = alpha = 1 returns b. Tensors of rank <= 1 and " +
		"pairs equal in float16 (torch.allclose of the .half() values) get a plain lerp(a, b, alpha). " +
		"4-D convolution kernels are viewed as (out*in, kh*kw).",
	Kernel:     rotateKernel,
	Flops:      rotateFlops,
	ScratchFor: rotateScratch,
})

// rotateScratch is rotate's scratch (ops.Def.ScratchFor) for a key of n elements viewed as
// m x c: the centred copies and the transform's products, 2n + 4c² for a tall or square view and
// 4n + 4m² for a wide one, and for a wide view at a fractional alignment 8s² more for the
// Stiefel iteration's s x s matrices (s = m + min(c - m, m)) and their decompositions. Measured
// peaks of live heap above the inputs and output (GOGC=5, b = a + 0.01 noise): 4096x1024 2.3n,
// 1024² 5.9n, 1024x4096 5.1n at alignment 1; 1024² 6.1n, 1024x4096 9.1n and 1024x2048 17n at
// 0.5. The bound: 3n, 6n, 5n; 6n, 12n, 20n.
func rotateScratch(shape []int, hp map[string]float64) int64 {
	if len(shape) < 2 {
		return 0
	}
	m, c := svdMatrix2D(shape, true)
	n, fm, fc := float64(m*c), float64(m), float64(c)
	if m >= c {
		return int64(8 * (2*n + 4*fc*fc))
	}
	b := 4*n + 4*fm*fm
	alignment := 1.0
	if x, ok := hp["alignment"]; ok {
		alignment = x
	}
	if !isClose(alignment, math.RoundToEven(alignment)) {
		s := float64(m + min(c-m, m))
		b += 8 * s * s
	}
	return int64(8 * b)
}

// rotateFlops prices rotate for `mechac plan` (ops.Def.Flops), in flops of its measured matrix
// speed, calibrated on BenchmarkRotateSDXL (BENCHMARKS.md, session 9: 2470 CPU-s for a whole
// SDXL model at alignment 1, 8895 at 0.5 with related models): 48 m n min(m, n) for the
// Procrustes rotation of the key's m x n view; at a fractional alignment, 36 n³ more for the
// matrix power of a square or tall view and 150 s³ for a wide view's Stiefel iteration (3-4
// steps on an s x s orthogonal matrix, s = m + min(n-m, m)), with a note: between unrelated
// models the iteration runs to stiefel_max_iters.
func rotateFlops(shape []int, hp map[string]float64) (float64, string) {
	if len(shape) < 2 {
		return 0, ""
	}
	alignment, alpha := 1.0, hp["alpha"]
	if x, ok := hp["alignment"]; ok {
		alignment = x
	}
	if isClose(alignment, 0) && alpha == 0 {
		return 0, "" // a's copy
	}
	m, n := svdMatrix2D(shape, true)
	fm, fn := float64(m), float64(n)
	flops := 48 * fm * fn * min(fm, fn)
	switch {
	case isClose(alignment, math.RoundToEven(alignment)):
		return flops, ""
	case m >= n:
		return flops + 36*fn*fn*fn, ""
	}
	s := float64(m + min(n-m, m))
	return flops + 150*s*s*s, "rotate at a fractional alignment: wide keys priced at the 3-4 Stiefel steps of two related models; " +
		"between unrelated ones the iteration runs to stiefel_max_iters (100), ~20-30x longer"
}

func rotateKernel(c *ops.Call) error {
	const name = "rotate"
	a, err := svdTensorArg(name, 0, c.Args[0])
	if err != nil {
		return err
	}
	b, err := svdTensorArg(name, 1, c.Args[1])
	if err != nil {
		return err
	}
	alignment, err := svdNumberArg(name, "alignment", c.Args[2])
	if err != nil {
		return err
	}
	alpha, err := svdTensorArg(name, 3, c.Args[3])
	if err != nil {
		return err
	}
	centralization, err := svdNumberArg(name, "centralization", c.Args[4])
	if err != nil {
		return err
	}
	eps, err := svdNumberArg(name, "stiefel_eps", c.Args[5])
	if err != nil {
		return err
	}
	maxIters, err := svdIntArg(name, "stiefel_max_iters", c.Args[6])
	if err != nil {
		return err
	}
	out := c.Out.Data
	n := len(out)
	if l := len(alpha.Data); l != 1 && l != n {
		return fmt.Errorf("%s: alpha has %d elements, the output %d", name, l, n)
	}
	if alpha.IsScalar() {
		w := alpha.Data[0]
		if isClose(alignment, 0) && w == 0 {
			return copyInto(name, c.Out, c.Args[0])
		}
		if isClose(alignment, 1) && isClose(w, 1) {
			return copyInto(name, c.Out, c.Args[1])
		}
	}
	if _, err := tensors(name, n, c.Args[0], c.Args[1]); err != nil {
		return err
	}
	if len(a.Shape) <= 1 || halfAllClose(a, b) {
		for i := range out {
			out[i] = Lerp(a.At(i), b.At(i), alpha.At(i))
		}
		return nil
	}
	if !ops.SameShape(a.Shape, b.Shape) {
		return fmt.Errorf("%s: shapes %s and %s differ", name, ops.FormatShape(a.Shape), ops.FormatShape(b.Shape))
	}
	rows, cols := svdMatrix2D(a.Shape, true)
	// a's centred copy is made in the output's storage, which is written only at the end
	// (from res: a new matrix, b's centred copy, or a2 itself at alignment 0, element by
	// element in place): one key-sized allocation less, whose fresh pages cost page faults
	// (a 290 MB token embedding's copies were 8% of an SD1 rotate's CPU time).
	copy(out, a.Data)
	a2 := mat.NewDense(rows, cols, out)
	b2 := laDenseOf(rows, cols, b.Data)
	aMean := svdCentre(a2, centralization)
	bMean := svdCentre(b2, centralization)

	cancel := !isClose(alignment, math.RoundToEven(alignment))
	tr, err := procrustes(a2, b2, cancel)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	tr.eps, tr.maxIters = eps, maxIters
	if !alpha.IsScalar() || alpha.Data[0] != 0 {
		tb, err := tr.apply(b2, -1)
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		for i := range rows {
			ar, br := laRow(a2, i), laRow(tb, i)
			for j := range ar {
				ar[j] = Lerp(ar[j], br[j], alpha.At(i*cols+j))
			}
		}
	}
	// b's centred copy is not read past this point: a full-rank transform writes its product
	// there instead of into a fresh key-sized matrix (the same product, so the same bits).
	res, err := tr.applyInto(b2, a2, alignment)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	for j := range cols {
		aMean[j] = Lerp(aMean[j], bMean[j], alignment)
	}
	laAddRowsTo(out, res, aMean)
	return nil
}

// svdCentre subtracts centralization times the column means from m in place and returns them
// (torch: mean = m.mean(0) * centralization; m - mean).
func svdCentre(m *mat.Dense, centralization float64) []float64 {
	r, c := m.Dims()
	mean := make([]float64, c)
	for i := range r {
		for j, x := range laRow(m, i) {
			mean[j] += x
		}
	}
	for j := range mean {
		mean[j] = mean[j] / float64(r) * centralization
	}
	laSubRow(m, mean)
	return mean
}

// halfAllClose is torch.allclose(a.half(), b.half()): every |a16 - b16| <= 1e-8 + 1e-5*|b16|
// (rtol 1e-5, atol 1e-8), NaN never close, infinities only to themselves. The difference is
// rounded to float16 as torch's half arithmetic does.
func halfAllClose(a, b *ops.Tensor) bool {
	n := max(len(a.Data), len(b.Data))
	for i := range n {
		x := num.Narrow(a.At(i), ops.F16, true)
		y := num.Narrow(b.At(i), ops.F16, true)
		if x == y {
			continue
		}
		d := math.Abs(num.Narrow(x-y, ops.F16, true))
		if math.IsNaN(d) || math.IsInf(d, 0) || d > 1e-8+1e-5*math.Abs(y) {
			return false
		}
	}
	return true
}

// orthoTransform is the orthogonal map procrustes found: the full rotation q (square/tall 2-D
// views), or for wide views the pair (u, v) of orthonormal column sets it maps onto each other
// (sd-mecha's FullRankOrthogonalMatmul / LowRankOrthogonalMatmul).
type orthoTransform struct {
	q    *mat.Dense // full rank: x -> x q^t
	u, v *mat.Dense // low rank: x -> x - x v v^T + x u v^T at t = 1
	// Low rank, from procrustes: b^T = bq br, m = a^T br^T = u S vh, v = bq vh^T; pm = u vh is
	// m's polar factor when procrustes took it (u and v are then computed only if needed).
	bq, m, pm *mat.Dense
	eps       float64
	maxIters  int
}

// procrustesPolarMin: from this size on (the smaller side of the matrix whose SVD orthogonal
// Procrustes takes), the rotation comes from that matrix's polar factor (polarFactor: a scaled
// Newton iteration on the fast BLAS) instead of an SVD with singular vectors. U Vh of a
// matrix's SVD is its polar factor, so both give the same rotation up to rounding; the polar
// factor is ~7x faster at 1280 x 1280 (gonum's SVD with vectors is unblocked). Smaller keys,
// among them every golden case, keep the SVD.
var procrustesPolarMin = 128 // a variable for the tests: they compare both paths

// procrustesPolar reports whether an orthogonal Procrustes problem whose SVD would be of a
// matrix with k columns (the smaller side) takes the deflated polar factor (polarNull): from
// procrustesPolarMin on, and not when an optimized LAPACK's SVD is at hand (build tag
// mechac_openblas), which beats the Newton iteration on gonum.
func procrustesPolar(k int) bool { return k >= procrustesPolarMin && lapackSVD == nil }

// procrustes is sd-mecha's orthogonal_procrustes(a, b, cancel_reflection).
func procrustes(a, b *mat.Dense, cancelReflection bool) (*orthoTransform, error) {
	n, p := a.Dims()
	if n < p {
		bq, br := laQR(b.T())
		m := laMul(a.T(), br.T())
		tr := &orthoTransform{bq: bq, m: m}
		if procrustesPolar(min(n, p)) {
			if pm, _, ok := polarNull(m); ok {
				tr.pm = pm
				return tr, nil
			}
		}
		return tr, tr.lowRankVectors()
	}
	m := laMul(a.T(), b)
	if procrustesPolar(p) {
		if pm, pairs, ok := polarNull(m); ok {
			if !cancelReflection || laDetSign(pm) > 0 {
				return &orthoTransform{q: pm}, nil
			}
			// Cancel the reflection by reversing the pair of the smallest singular value, as
			// sd-mecha reverses the SVD's last: a deflated null pair if there is one (then the
			// result is unique: the rest of the rotation is fixed by the range), else the
			// smallest singular pair by inverse iteration.
			var v []float64
			if len(pairs) > 0 {
				v = pairs[len(pairs)-1].v
			} else {
				var lu mat.LU
				lu.Factorize(m)
				if v, ok = smallestRightSingular(m, &lu); !ok {
					goto svd
				}
			}
			return &orthoTransform{q: flipPair(pm, v)}, nil
		}
	}
svd:
	u, _, vh, err := laSVD(m)
	if err != nil {
		return nil, err
	}
	if cancelReflection {
		s := laDetSign(laMul(u, vh))
		r, c := u.Dims()
		for i := range r {
			u.Set(i, c-1, u.At(i, c-1)/s)
		}
	}
	return &orthoTransform{q: laMul(u, vh)}, nil
}

// lowRankVectors sets u and v of a low-rank transform from the SVD of m: m = u S vh,
// v = bq vh^T.
func (tr *orthoTransform) lowRankVectors() error {
	var u, vh *mat.Dense
	var err error
	if tr.pm != nil {
		u, _, vh, err = laSVDFromPolar(tr.m, tr.pm)
	} else {
		u, _, vh, err = laSVD(tr.m)
	}
	if err != nil {
		return err
	}
	tr.u, tr.v = u, laMul(tr.bq, vh.T()) // (vh bqᵀ)ᵀ: the same products in the same order
	return nil
}

// applyInto is apply, its result written into dst (x's size, aliasing neither x nor the
// transform) where the transform is a full rotation; it returns the result, dst or not.
func (tr *orthoTransform) applyInto(dst, x *mat.Dense, t float64) (*mat.Dense, error) {
	if tr.q == nil || isClose(t, 0) {
		return tr.apply(x, t)
	}
	return tr.rotate(dst, x, t)
}

// rotate is a full-rank transform's x q^t, into dst unless it is nil.
func (tr *orthoTransform) rotate(dst, x *mat.Dense, t float64) (*mat.Dense, error) {
	p, err := fractionalOrthogonalPower(tr.q, t)
	if err != nil {
		return nil, err
	}
	if dst == nil {
		dst = new(mat.Dense)
	}
	dst.Mul(x, p)
	return dst, nil
}

// apply is the transform's __call__(x, t).
func (tr *orthoTransform) apply(x *mat.Dense, t float64) (*mat.Dense, error) {
	if isClose(t, 0) {
		return x, nil
	}
	if tr.q != nil {
		return tr.rotate(nil, x, t)
	}
	if tr.pm != nil && (isClose(t, 1) || isClose(t, -1)) {
		// u v^T = pm bq^T, v v^T = bq bq^T, u u^T = pm pm^T, v u^T = bq pm^T, so
		// t = 1:  x - x v v^T + x u v^T = x + (x pm - x bq) bq^T
		// t = -1: x - x u u^T + x v u^T = x + (x bq - x pm) pm^T
		xp, xb := laMul(x, tr.pm), laMul(x, tr.bq)
		// The sums and differences overwrite their temporaries (the same operations).
		if isClose(t, 1) {
			xp.Sub(xp, xb)
			return laAddInto(x, laMul(xp, tr.bq.T())), nil
		}
		xb.Sub(xb, xp)
		return laAddInto(x, laMul(xb, tr.pm.T())), nil
	}
	if tr.u == nil {
		if err := tr.lowRankVectors(); err != nil {
			return nil, err
		}
	}
	u, v := tr.u, tr.v
	switch {
	case isClose(t, 1):
		return laLowRankApply(x, v, u), nil
	case isClose(t, -1):
		return laLowRankApply(x, u, v), nil
	}
	uvLog, err := logStiefel(v, u, tr.eps, tr.maxIters)
	if err != nil {
		return nil, err
	}
	// exp_stiefel(v, uv_log (t+1)/2) and exp_stiefel(v, uv_log (1-t)/2)
	l, r := uvLog.point((t+1)/2), uvLog.point((1-t)/2)
	return laLowRankApply(x, r, l), nil
}

// laLowRankApply is (x - x r rᵀ) + x l rᵀ, its sums in the temporaries (the same operations
// in the same order as with fresh matrices).
func laLowRankApply(x, r, l *mat.Dense) *mat.Dense {
	d := laMul(laMul(x, r), r.T())
	d.Sub(x, d)
	e := laMul(laMul(x, l), r.T())
	e.Add(d, e)
	return e
}

// fractionalOrthogonalPower is sd-mecha's fractional_orthogonal_matrix_power(q, t).
func fractionalOrthogonalPower(q *mat.Dense, t float64) (*mat.Dense, error) {
	switch {
	case isClose(t, 0):
		n, _ := q.Dims()
		return laEye(n), nil
	case isClose(t, 1):
		return q, nil
	case isClose(t, -1):
		return laClone(q.T()), nil
	case isClose(t, math.RoundToEven(t)):
		return laMatrixPower(q, svdPyRound(t))
	}
	return orthogonalMatrixPower(q, t)
}

// truncate_rank: the best rank-r approximation of a delta (svd.py truncate_rank).
var truncateRank = define(&ops.Def{
	Name: "truncate_rank",
	Params: []ops.Param{
		{Name: "a", Type: ops.TensorIn, Spaces: ops.DeltaSpace},
		// sd-mecha types rank as int; it is a Tensor hyper here so that it can also come from
		// a param-space merge (get_rank_from_ratio), which int parameters cannot yet.
		rankParam(8),
		boolDefault("use_approximate_basis", true),
		intDefault("approximate_basis_iters", 2),
		approxSeedParamNull,
	},
	Returns:    ops.DeltaSpace,
	Traits:     ops.LinearAlgebra | ops.Random,
	Keys:       ops.KeysIntersect,
	ScratchFor: truncateRankScratch,
	Formula:    "r = clamp(round(rank), 0, min(shape2d)); U[:, :r] diag(S[:r]) Vh[:r] of the (randomized if use_approximate_basis) SVD of a as (shape[0], rest)",
	Doc: "Truncates a delta to its r largest singular directions (a viewed as shape[0] x rest). " +
		"Tensors of rank < 2 and r = min(shape2d) return a unchanged, r = 0 gives zeros. With " +
		"use_approximate_basis (default) the SVD is torch's randomized svd_lowrank: a Gaussian test " +
		"matrix from torch.randn seeded with approximate_basis_seed (MT19937, float64 Box-Muller), " +
		"approximate_basis_iters power iterations with Householder QR, then an exact SVD of the " +
		"small projection; the result is the projection onto the randomized range, so it is " +
		"independent of vector signs. A null seed uses a fresh generator with torch's default seed " +
		"(67280421310721), as the first draw of a new process would: deterministic, unlike " +
		"sd-mecha's global generator.",
	Kernel: truncateRankKernel,
})

func rankParam(def int64) ops.Param {
	v := ops.Int(def)
	return ops.Param{Name: "rank", Type: ops.TensorHyper, Default: &v, Spaces: ops.ParamSpace}
}

// truncArgs are the arguments truncate_rank and truncate_kronecker share: the tensor, their
// number (rank or ratio), and the approximate-basis options.
type truncArgs struct {
	a      *ops.Tensor
	x      float64
	approx bool
	iters  int
	seed   uint64
	seeded bool
}

// truncateArgs reads the shared arguments. It returns nil when the call is already done (a
// tensor of rank < 2 is copied unchanged) or failed (err).
func truncateArgs(name, param string, c *ops.Call) (*truncArgs, error) {
	var t truncArgs
	var err error
	if t.a, err = svdTensorArg(name, 0, c.Args[0]); err != nil {
		return nil, err
	}
	if t.x, err = svdNumberArg(name, param, c.Args[1]); err != nil {
		return nil, err
	}
	if t.approx, err = svdBoolArg(name, "use_approximate_basis", c.Args[2]); err != nil {
		return nil, err
	}
	if t.iters, err = svdIntArg(name, "approximate_basis_iters", c.Args[3]); err != nil {
		return nil, err
	}
	if t.seed, t.seeded, err = svdSeedArg(name, c.Args[4]); err != nil {
		return nil, err
	}
	if len(t.a.Shape) < 2 {
		return nil, copyInto(name, c.Out, c.Args[0])
	}
	if len(t.a.Data) != len(c.Out.Data) {
		return nil, fmt.Errorf("%s: a has %d elements, the output %d", name, len(t.a.Data), len(c.Out.Data))
	}
	return &t, nil
}

func truncateRankKernel(c *ops.Call) error {
	const name = "truncate_rank"
	t, err := truncateArgs(name, "rank", c)
	if t == nil {
		return err
	}
	a, rankF, approx, iters, seed, seeded := t.a, t.x, t.approx, t.iters, t.seed, t.seeded
	rows, cols := svdMatrix2D(a.Shape, false)
	maxRank := min(rows, cols)
	if math.IsNaN(rankF) || math.IsInf(rankF, 0) {
		return fmt.Errorf("%s: rank %v is not finite", name, rankF)
	}
	target := min(max(svdPyRound(rankF), 0), maxRank)
	if target == maxRank {
		return copyInto(name, c.Out, c.Args[0])
	}
	if target == 0 {
		fill(c.Out.Data, 0)
		c.Out.DType = a.DType
		return nil
	}
	a2 := laDenseOf(rows, cols, a.Data)
	var u, vt *mat.Dense
	var s []float64
	if approx {
		u, s, vt, err = svdLowRank(a2, target, iters, seed, seeded)
	} else {
		u, s, vt, err = laSVD(a2)
	}
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	us := laClone(u.Slice(0, rows, 0, target))
	for i := range rows {
		for j := range target {
			us.Set(i, j, us.At(i, j)*s[j])
		}
	}
	laWrite(c.Out.Data, laMul(us, vt.Slice(0, target, 0, cols)))
	return nil
}

// truncateRankScratch is truncate_rank's scratch (ops.Def.ScratchFor) for a key of n elements
// viewed as m x c (k the smaller side, l the larger): the exact SVD's copies and factors,
// 8·(4n + 5k²) bytes; the randomized one's, 8·(2n + 2(l + k) r) for rank r (k when the rank is
// not a constant: it may come from get_rank_from_ratio). Measured live-heap peaks above the input
// and output (GOGC=5, rank k/2): exact 4096x1024 5.0n, 1024² 8.2n, 1024x4096 5.0n; randomized
// 2.6n, 3.7n, 2.6n; the bound: 5.25n, 9n, 5.25n; 3.25n, 4n, 3.25n.
func truncateRankScratch(shape []int, hp map[string]float64) int64 {
	if len(shape) < 2 {
		return 0
	}
	m, c := svdMatrix2D(shape, false)
	r := float64(min(m, c))
	if x, ok := hp["rank"]; ok && x >= 0 && x < r {
		r = math.Round(x)
	}
	return svdTruncScratch(m, c, hp, r)
}

// svdTruncScratch is the scratch of an exact or randomized (rank r) SVD of an m x c matrix of
// n elements and the products back (truncate_rank, truncate_kronecker): 8·(4n + 5k²) bytes for
// the exact one, 8·(2n + 2(l + k) r) for the randomized (k, l the smaller and larger side).
func svdTruncScratch(m, c int, hp map[string]float64, r float64) int64 {
	n, k, l := float64(m*c), float64(min(m, c)), float64(max(m, c))
	if approx, ok := hp["use_approximate_basis"]; ok && approx == 0 {
		return int64(8 * (4*n + 5*k*k))
	}
	return int64(8 * (2*n + 2*(l+k)*r))
}

// truncateKroneckerScratch is truncate_kronecker's scratch (ops.Def.ScratchFor): the rearranged
// matrix (m1 n1 x m2 n2 kernel, kronDims of kronecker_ratio) and its rank-1 SVD (svdTruncScratch).
// Measured live-heap peaks above the input and output (GOGC=5): exact 7.6n-8.6n against a bound
// of 9.4n-10n, randomized 1.2n-1.3n against 3n (1024², 640x2560, 320x320x3x3).
func truncateKroneckerScratch(shape []int, hp map[string]float64) int64 {
	if len(shape) < 2 {
		return 0
	}
	ratio := 0.5
	if x, ok := hp["kronecker_ratio"]; ok {
		ratio = x
	}
	m1, m2, n1, n2 := kronDims(shape, ratio)
	rows, cols := m1*n1, m2*n2*ops.NumElements(shape[2:])
	return 8*int64(rows*cols) + svdTruncScratch(rows, cols, hp, 1)
}

// get_rank_from_ratio: round(min(shape2d) * ratio), clamped (svd.py get_rank_from_ratio).
var getRankFromRatio = define(&ops.Def{
	Name: "get_rank_from_ratio",
	Params: []ops.Param{
		{Name: "a", Type: ops.TensorIn, Spaces: ops.WeightSpace | ops.DeltaSpace},
		floatDefault("ratio", 0.5),
	},
	Returns: ops.ParamSpace,
	Keys:    ops.KeysIntersect,
	Formula: "clamp(round(min(shape[0], numel/shape[0]) * ratio), 0, min(shape[0], numel/shape[0]))",
	Doc: "The rank of a key's 2-D view (shape[0] x rest; 1 for 0-dim and 1-D tensors) times ratio, " +
		"rounded half to even (Python round), as a 0-dim param-space value: truncate_rank's rank " +
		"per key. Reads only the shape.",
	OutShape: func(args, vars, kw []ops.Value) ([]int, error) { return []int{}, nil },
	Kernel: func(c *ops.Call) error {
		const name = "get_rank_from_ratio"
		a, err := svdTensorArg(name, 0, c.Args[0])
		if err != nil {
			return err
		}
		ratio, err := svdNumberArg(name, "ratio", c.Args[1])
		if err != nil {
			return err
		}
		if len(c.Out.Data) != 1 {
			return fmt.Errorf("%s: output has %d elements, want 1", name, len(c.Out.Data))
		}
		rows, cols := 1, 1
		if len(a.Shape) > 0 {
			rows, cols = svdMatrix2D(a.Shape, false)
		}
		maxRank := min(rows, cols)
		x := float64(maxRank) * ratio
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%s: ratio %v gives no rank", name, ratio)
		}
		c.Out.Data[0] = float64(min(max(svdPyRound(x), 0), maxRank))
		c.Out.DType = ops.F64
		return nil
	},
})

// truncate_kronecker: the nearest Kronecker product w1 (x) w2 (kronecker.py).
var truncateKronecker = define(&ops.Def{
	Name: "truncate_kronecker",
	Params: []ops.Param{
		{Name: "a", Type: ops.TensorIn, Spaces: ops.DeltaSpace},
		floatDefault("kronecker_ratio", 0.5),
		boolDefault("use_approximate_basis", true),
		intDefault("approximate_basis_iters", 2),
		approxSeedParamNull,
	},
	Returns:    ops.DeltaSpace,
	Traits:     ops.LinearAlgebra | ops.Random,
	Keys:       ops.KeysIntersect,
	ScratchFor: truncateKroneckerScratch,
	Formula:    "(m1, m2, n1, n2) = kron_dims(shape, kronecker_ratio); u s vh = SVD(rearranged a); kron(sqrt(s0) u0, sqrt(s0) vh0)",
	Doc: "Replaces a delta of rank >= 2 by its nearest Kronecker product w1 (m1 x n1) (x) w2 " +
		"(m2 x n2 x kernel) (Van Loan-Pitsianis: the rank-1 SVD of a rearranged a). The factor " +
		"sizes come from the divisors of shape[0] and shape[1]: kronecker_ratio 0 makes w1 small, 1 " +
		"makes w2 small, 0.5 balances them (ties: the most square factors, then the first found). " +
		"The SVD is randomized (torch svd_lowrank, seeded as in truncate_rank) with " +
		"use_approximate_basis. Tensors of rank < 2 are returned unchanged.",
	Kernel: truncateKroneckerKernel,
})

func truncateKroneckerKernel(c *ops.Call) error {
	const name = "truncate_kronecker"
	t, err := truncateArgs(name, "kronecker_ratio", c)
	if t == nil {
		return err
	}
	a, ratio, approx, iters, seed, seeded := t.a, t.x, t.approx, t.iters, t.seed, t.seeded
	m1, m2, n1, n2 := kronDims(a.Shape, ratio)
	p2 := ops.NumElements(a.Shape[2:])
	// a.reshape(m1, m2, n1, n2*p2).permute(0, 2, 1, 3).reshape(m1*n1, m2*n2*p2)
	rows, cols := m1*n1, m2*n2*p2
	r := mat.NewDense(rows, cols, nil)
	q := n2 * p2
	for i1 := range m1 {
		for i2 := range m2 {
			for j1 := range n1 {
				src := ((i1*m2+i2)*n1 + j1) * q
				dst := r.RawRowView(i1*n1 + j1)[i2*q : (i2+1)*q]
				copy(dst, a.Data[src:src+q])
			}
		}
	}
	var u, vt *mat.Dense
	var s []float64
	if approx {
		u, s, vt, err = svdLowRank(r, 1, iters, seed, seeded)
	} else {
		u, s, vt, err = laSVD(r)
	}
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	s0 := math.Sqrt(s[0])
	w1 := make([]float64, rows) // (m1, n1)
	for i := range rows {
		w1[i] = u.At(i, 0) * s0
	}
	w2 := make([]float64, cols) // (m2, n2, *kernel)
	for j := range cols {
		w2[j] = s0 * vt.At(0, j)
	}
	// torch.kron(w1[..., None, None], w2): out[i1*m2+i2, j1*n2+j2, k] = w1[i1, j1] * w2[i2, j2, k].
	n := n1 * n2
	out := c.Out.Data
	for i1 := range m1 {
		for i2 := range m2 {
			for j1 := range n1 {
				x := w1[i1*n1+j1]
				for j2 := range n2 {
					dst := ((i1*m2+i2)*n + j1*n2 + j2) * p2
					src := (i2*n2 + j2) * p2
					for k := range p2 {
						out[dst+k] = x * w2[src+k]
					}
				}
			}
		}
	}
	return nil
}

// kronDims is kronecker.py kron_dims_from_ratio: among the divisor pairs m1*m2 = shape[0],
// n1*n2 = shape[1], the one whose log(m1*n1) - log(sqrt(numel)) is nearest to
// (2*ratio - 1) * (its largest magnitude), ties to the most balanced, then the first. The
// logarithms are correctly rounded (crLog), as CPython's are: exact ties are decided by them.
func kronDims(shape []int, ratio float64) (m1, m2, n1, n2 int) {
	md, nd := kronDivisors(shape[0]), kronDivisors(shape[1])
	logSqrtNumel := 0.5 * crLog(float64(ops.NumElements(shape)))
	type cand struct {
		s, bal         float64
		m1, m2, n1, n2 int
	}
	var cs []cand
	sMin, sMax := math.Inf(1), math.Inf(-1)
	for _, a1 := range md {
		a2 := shape[0] / a1
		for _, b1 := range nd {
			b2 := shape[1] / b1
			s := crLog(float64(a1*b1)) - logSqrtNumel
			bal := math.Abs(crLog(float64(a1)/float64(a2))) + math.Abs(crLog(float64(b1)/float64(b2)))
			cs = append(cs, cand{s, bal, a1, a2, b1, b2})
			sMin, sMax = min(sMin, s), max(sMax, s)
		}
	}
	sRange := max(math.Abs(sMin), math.Abs(sMax))
	if sRange == 0 {
		best := cs[0]
		for _, x := range cs[1:] {
			if x.bal < best.bal {
				best = x
			}
		}
		return best.m1, best.m2, best.n1, best.n2
	}
	target := (2*ratio - 1) * sRange
	best, bd, bb := cs[0], math.Inf(1), math.Inf(1)
	for _, x := range cs {
		d := math.Abs(x.s - target)
		if d < bd || (d == bd && x.bal < bb) {
			best, bd, bb = x, d, x.bal
		}
	}
	return best.m1, best.m2, best.n1, best.n2
}

// kronDivisors returns the divisors of n in increasing order.
func kronDivisors(n int) []int {
	var lo, hi []int
	for d := 1; d*d <= n; d++ {
		if n%d == 0 {
			lo = append(lo, d)
			if d != n/d {
				hi = append(hi, n/d)
			}
		}
	}
	for i := len(hi) - 1; i >= 0; i-- {
		lo = append(lo, hi[i])
	}
	return lo
}

// isoParams are the hyper-parameters the two isotropic methods share.
var isoParams = []ops.Param{floatDefault("z_cof", 0), boolDefault("apply_exp", false), boolDefault("apply_high_dim", false)}

// isotropic: Iso-C merging of task vectors (the fork's svd.py isotropic; arXiv 2502.04959).
var isotropic = define(&ops.Def{
	Name:       "isotropic",
	Varargs:    &ops.Param{Name: "deltas", Type: ops.TensorIn, Spaces: ops.DeltaSpace},
	KwOnly:     isoParams,
	Returns:    ops.DeltaSpace,
	Traits:     ops.LinearAlgebra,
	Keys:       ops.KeysIntersect,
	ScratchFor: isoScratch,
	Formula:    "D = sum(deltas); rank 2 (or > 2 with apply_high_dim): U diag(iso(S; z_cof)) Vh of D as (shape[0], rest); else D / n",
	Doc: "Iso-C (fork method, 6DammK9/sd-mecha): sums the deltas and flattens the spectrum of the sum: " +
		"every singular value is replaced by z_cof*(S_i - mean) + mean, mean being the arithmetic mean of " +
		"the singular values (geometric with apply_exp); z_cof = 0 is Iso-C, 1 leaves the sum unchanged. " +
		"Only 2-D keys are transformed unless apply_high_dim (then shape[0] x rest); the others get the " +
		"plain mean of the deltas. As in the fork, a spectrum with zero or undefined variance (a zero " +
		"sum, a single row or column) gives NaN. " + isoAlgorithmDoc,
	Kernel: func(c *ops.Call) error {
		const name = "isotropic"
		if len(c.Var) == 0 {
			return fmt.Errorf("%s: no deltas", name)
		}
		ds, err := tensors(name, len(c.Out.Data), c.Var...)
		if err != nil {
			return err
		}
		out := c.Out.Data
		for i := range out {
			s := 0.0 // Python's sum starts from the int 0: 0 + (-0.0) is +0.0
			for _, d := range ds {
				s += d.At(i)
			}
			out[i] = s
		}
		if !isoTransforms(c.Out.Shape, c.Kw[2]) {
			k := float64(len(ds))
			for i := range out {
				out[i] /= k
			}
			return nil
		}
		return isoKernel(name, c, out)
	},
})

// isotropic_overrided: Iso-C on an already merged delta (the fork's isotropic_overrided).
var isotropicOverrided = define(&ops.Def{
	Name:       "isotropic_overrided",
	Params:     append([]ops.Param{{Name: "d_ta", Type: ops.TensorIn, Spaces: ops.DeltaSpace}}, isoParams...),
	Returns:    ops.DeltaSpace,
	Traits:     ops.LinearAlgebra,
	Keys:       ops.KeysIntersect,
	ScratchFor: isoScratch,
	Formula:    "rank 2 (or > 2 with apply_high_dim): U diag(iso(S; z_cof)) Vh of d_ta as (shape[0], rest); else d_ta",
	Doc: "isotropic applied to one delta (fork method, 6DammK9/sd-mecha; used by the AstolfoMix recipes " +
		"after a TIES or DARE merge): the singular values of d_ta become z_cof*(S_i - mean) + mean, mean " +
		"arithmetic (geometric with apply_exp). Keys of rank < 2, and of rank > 2 without apply_high_dim, " +
		"are returned unchanged. As in the fork, a spectrum with zero or undefined variance (a zero " +
		"delta, a single row or column) gives NaN. " + isoAlgorithmDoc,
	Kernel: func(c *ops.Call) error {
		const name = "isotropic_overrided"
		d, err := svdTensorArg(name, 0, c.Args[0])
		if err != nil {
			return err
		}
		if !isoTransforms(d.Shape, c.Args[3]) {
			return copyInto(name, c.Out, c.Args[0])
		}
		if len(d.Data) != len(c.Out.Data) {
			return fmt.Errorf("%s: d_ta has %d elements, the output %d", name, len(d.Data), len(c.Out.Data))
		}
		copy(c.Out.Data, d.Data)
		return isoKernel(name, &ops.Call{Out: c.Out, Kw: c.Args[1:]}, c.Out.Data)
	},
})

const isoAlgorithmDoc = "U diag(S') Vh with S' = z_cof*S + (1 - z_cof)*mean is computed as z_cof*D + " +
	"(1 - z_cof)*mean*P, P = U Vh the polar factor, from a scaled Newton iteration (the full SVD only " +
	"for ill-conditioned or rank-deficient keys), and the mean from trace(P^T D) (or log|det D| for " +
	"the geometric mean): several times faster than a full SVD and equal to it up to rounding."

// isoScratch is the isotropic methods' scratch (ops.Def.ScratchFor): for a key they transform
// (isoTransforms), the polar factor's copies and products, 8·(3n + 4c²) bytes for a tall or
// square m x c view (shape[0] x rest) and 8·(4n + 4m²) for a wide one. Measured live-heap peaks
// above the input and output (GOGC=5): 4096x1024 3.0n, 1024² 4.1n, 1024x1000 6.1n, 1024x4096
// 4.4n; the bound: 4n, 7n, 6.9n, 5n.
func isoScratch(shape []int, hp map[string]float64) int64 {
	if len(shape) < 2 || len(shape) > 2 && hp["apply_high_dim"] == 0 {
		return 0
	}
	m, c := svdMatrix2D(shape, false)
	n, fm, fc := float64(m*c), float64(m), float64(c)
	if m >= c {
		return int64(8 * (3*n + 4*fc*fc))
	}
	return int64(8 * (4*n + 4*fm*fm))
}

// isoTransforms reports whether a tensor of this shape gets the SVD treatment.
func isoTransforms(shape []int, highDim ops.Value) bool {
	hd, _ := highDim.Truth()
	return len(shape) == 2 || (len(shape) > 2 && hd)
}

// isoKernel replaces d (the output buffer, holding the delta, shape c.Out.Shape) by its
// isotropic version; c.Kw holds z_cof, apply_exp, apply_high_dim.
func isoKernel(name string, c *ops.Call, d []float64) error {
	z, err := svdNumberArg(name, "z_cof", c.Kw[0])
	if err != nil {
		return err
	}
	useExp, err := svdBoolArg(name, "apply_exp", c.Kw[1])
	if err != nil {
		return err
	}
	rows, cols := svdMatrix2D(c.Out.Shape, false)
	a := laDenseOf(rows, cols, d)
	pr, err := polarFactor(a)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	pd := laData(pr.p)
	// The spectrum's statistics without the singular values: sum S = trace(P^T D) = sum(P .* D),
	// sum S^2 = |D|_F^2, sum log S = log|det| (polarFactor).
	k := float64(min(rows, cols))
	sumS, sumS2 := 0.0, 0.0
	for i, x := range d {
		sumS += pd[i] * x
		sumS2 += x * x
	}
	am := sumS / k
	mean := am
	if useExp {
		mean = math.Exp(pr.logAbsDet / k)
	}
	// torch's S_z = ((S - mean)/var*z)*var + mean is NaN everywhere when var is NaN (one
	// singular value) or 0 (all equal: a zero delta). For a nearly isotropic spectrum decide
	// on the singular values themselves.
	ok := k > 1 && sumS2 > 0
	if ok && (sumS2-k*am*am)/(k-1) <= 1e-12*am*am {
		s := pr.s
		if s == nil {
			if s, err = laSingularValues(a); err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
		}
		_, ok = isoSpectrum(s, z, useExp)
	}
	if !ok {
		fill(d, math.NaN())
		return nil
	}
	// U diag(z*S + (1-z)*mean) Vh = z*D + (1-z)*mean*P
	beta := (1 - z) * mean
	for i := range d {
		d[i] = z*d[i] + beta*pd[i]
	}
	return nil
}

// isoSpectrum computes the fork's S_z = ((S - mean)/var * z_cof) * var + mean, mean the
// arithmetic (or, with apply_exp, geometric) mean of the singular values and var their unbiased
// variance; it returns mean and whether every S_z is finite (else the fork's result is NaN or
// infinite everywhere).
func isoSpectrum(s []float64, z float64, useExp bool) (float64, bool) {
	k := float64(len(s))
	mean := 0.0
	if useExp {
		for _, x := range s {
			mean += math.Log(x)
		}
		mean = math.Exp(mean / k)
	} else {
		for _, x := range s {
			mean += x
		}
		mean /= k
	}
	am := 0.0
	for _, x := range s {
		am += x
	}
	am /= k
	v := 0.0
	for _, x := range s {
		v += (x - am) * (x - am)
	}
	v /= k - 1 // torch.var: unbiased; NaN for one value
	for _, x := range s {
		sz := (x-mean)/v*z*v + mean
		if math.IsNaN(sz) || math.IsInf(sz, 0) {
			return mean, false
		}
	}
	return mean, true
}
