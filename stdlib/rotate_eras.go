package stdlib

import (
	"fmt"
	"math"

	"github.com/mechac/mechac/ops"
	"gonum.org/v1/gonum/mat"
)

// rotate before sd-mecha 0.1.0 (read from 8259d55, 0d1b193, 953313a, e0305da, 165704a,
// be45b2c, the tags 0.0.10 .. 0.0.29 and the fork's 4edc67c .. 1458190 of ljleb/sd-mecha).
// Every 0.0.x rotate centres both tensors on their column means, finds the orthogonal
// Procrustes rotation R of the centred rows from the full SVD of Aᵀ B (cols x cols, whatever
// the shape: no low-rank path), raises it to the power `alignment`, optionally interpolates
// the centred rows toward B Rᵀ, and adds back the weighted sum of the two centroids. Three
// signatures and edge rules:
//
//   - 8259d55 .. 60d0764 (era 0.0.4): keywords alpha (the alignment) and beta (the
//     interpolation), both required; 0-dim tensors and 4-D kernels with kw != 1 get
//     ws(a, b, beta), 1-D and [1, n] tensors ws(a, b, alpha) (their centroid is themselves).
//   - 953313a, e0305da (era 0.0.5): the same keywords; every tensor of rank < 2 gets
//     ws(a, b, beta), and 4-D kernels with kw != 1 are viewed as (-1, kh*kw).
//   - 165704a (0.0.6) .. 0.0.29 (eras 0.0.9, 0.0.29, the fork's): alignment = 1.0 and
//     alpha = 0.0 (the interpolation), with 0.0.5's edge rules.
//
// The hyper-parameters are Python floats and every weighted sum is 0.0.x's (1-w)·x + w·y.

// rotate00x holds what distinguishes the 0.0.x rotate definitions.
type rotate00x struct {
	// centroidOnly1D: rank-1 and [1, n] tensors return ws(a, b, alignment), and 4-D kernels with
	// kw != 1 are not rotated (8259d55 .. 60d0764).
	centroidOnly1D bool
	// lastDimView: a tensor of rank 2, 3 or >= 5 is viewed as (-1, shape[-1]) (8259d55 .. 0.0.24;
	// 0.0.29 views it as (shape[0], rest), which differs for rank 3 and >= 5 only).
	lastDimView bool
}

// view is the 2-D shape the era reshapes a tensor of rank >= 2 to.
func (r rotate00x) view(shape []int) (rows, cols int) {
	n := ops.NumElements(shape)
	switch {
	case len(shape) == 4 && shape[3] != 1:
		cols = shape[2] * shape[3]
	case len(shape) == 4 || !r.lastDimView:
		cols = ops.NumElements(shape[1:])
	default:
		cols = shape[len(shape)-1]
	}
	if cols == 0 {
		return 0, 0
	}
	return n / cols, cols
}

// scratch is the era's ops.Def.ScratchFor, alignment the era's name for it: the centred copies
// and the products, 8·(4n + 5c²) bytes on a tall or square rows x c view and 8·(6n + 5m²) on a
// wide m x cols one at alignment 1 (the polar path, from procrustesPolarMin columns), else
// 8·(3n + 6c²) (the c x c SVD and the eigen power). Measured live-heap peaks above the inputs
// and output (GOGC=5, interpolation 0.3): alignment 1 2048x512 2.6n, 512² 5.8n, 512x2048 4.9n;
// 0.5 512² 7.9n, 512x1024 12.3n, 2048x512 2.8n; the bound: 5.25n, 9n, 7.25n; 9n, 15n, 4.5n.
func (r rotate00x) scratch(alignment string) func(shape []int, hp map[string]float64) int64 {
	return func(shape []int, hp map[string]float64) int64 {
		if len(shape) < 2 {
			return 0
		}
		rows, cols := r.view(shape)
		n, fm, fc := float64(rows*cols), float64(rows), float64(cols)
		al, ok := hp[alignment]
		if !ok && alignment == "alignment" {
			al = 1 // 0.0.x's default; 0.0.4 and 0.0.5 require it
		}
		switch {
		case al == 1 && procrustesPolar(cols) && rows >= cols:
			return int64(8 * (4*n + 5*fc*fc))
		case al == 1 && procrustesPolar(cols):
			return int64(8 * (6*n + 5*fm*fm))
		}
		return int64(8 * (3*n + 6*fc*fc))
	}
}

// kernel is rotate for the keywords (alignment, interpolation) in this order, whatever their
// names in the era.
func (r rotate00x) kernel(c *ops.Call) error {
	const name = "rotate"
	kw, err := kwFloats00x(name, c)
	if err != nil {
		return err
	}
	alignment, interp := kw[0], kw[1]
	out := c.Out.Data
	ts, err := tensors(name, len(out), c.Args[0], c.Args[1])
	if err != nil {
		return err
	}
	a, b := ts[0], ts[1]
	ws := func(w float64) error {
		for i := range out {
			out[i] = ws00x(a.At(i), b.At(i), w)
		}
		return nil
	}
	if alignment == 0 && interp == 0 {
		return copyInto(name, c.Out, c.Args[0])
	}
	nd := len(a.Shape)
	if r.centroidOnly1D {
		if nd == 0 || (nd == 4 && a.Shape[3] != 1) || halfAllClose(a, b) {
			return ws(interp)
		}
		if nd == 1 || (nd == 2 && a.Shape[0] == 1) {
			return ws(alignment)
		}
	} else if nd < 2 || halfAllClose(a, b) {
		return ws(interp)
	}
	if !ops.SameShape(a.Shape, b.Shape) || len(a.Data) != len(out) {
		return fmt.Errorf("%s: shapes %s and %s differ", name, ops.FormatShape(a.Shape), ops.FormatShape(b.Shape))
	}
	if math.IsNaN(alignment) || math.IsInf(alignment, 0) {
		// Python's round() of NaN or ±inf raises.
		return fmt.Errorf("%s: alignment must be finite, got %v", name, alignment)
	}
	rows, cols := r.view(a.Shape)
	am, ca := centreRows(a.Data, rows, cols)
	bm, cb := centreRows(b.Data, rows, cols)
	mulRT, mulPow, err := procrustes00x(am, bm, alignment)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	if interp != 0 {
		// Interpolate the relationship between the neurons: ws(A, B Rᵀ, interp).
		br := mulRT(bm)
		for i := range rows {
			ar, brr := laRow(am, i), laRow(br, i)
			for j := range ar {
				ar[j] = ws00x(ar[j], brr[j], interp)
			}
		}
	}
	res := mulPow(am)
	for j := range cols {
		ca[j] = ws00x(ca[j], cb[j], alignment)
	}
	laAddRowsTo(out, res, ca)
	return nil
}

// centreRows returns x as a rows x cols matrix minus its column means (torch's mean(0): the
// sum over dim 0 divided by rows), and the means.
func centreRows(x []float64, rows, cols int) (*mat.Dense, []float64) {
	mean := make([]float64, cols)
	SumDim0Torch(x, rows, cols, mean)
	for j := range mean {
		mean[j] /= float64(rows)
	}
	m := laDenseOf(rows, cols, x)
	laSubRow(m, mean)
	return m, mean
}

// procrustes00x returns the maps x -> x Rᵀ and x -> x R^alignment of 0.0.x's rotate. At
// alignment 1, on views of at least procrustesPolarMin columns, R comes from a polar factor
// (svd_null.go) instead of the full SVD of Aᵀ B (cols x cols, unblocked in gonum: minutes for a
// 1280 x 5120 key): for rows >= cols the polar factor of Aᵀ B with its null space (one
// direction, from the centring) deflated; for rows < cols, with Bᵀ = Q R, Aᵀ B = (Aᵀ Rᵀ) Qᵀ
// and R = polar(Aᵀ Rᵀ) Qᵀ on the range. Only R on the range of Aᵀ B reaches the result: A's
// centred rows are orthogonal to Aᵀ B's left null space and B's to its right one (a vector
// there is mapped by A, or B, into the span of the ones, and the centred rows sum to zero), so
// the part of R the SVD chooses arbitrarily is never applied. Other alignments take the SVD.
func procrustes00x(a, b *mat.Dense, alignment float64) (mulRT, mulPow func(*mat.Dense) *mat.Dense, err error) {
	rows, cols := a.Dims()
	if alignment == 1 && procrustesPolar(cols) {
		if rows >= cols {
			if p, _, ok := polarNull(laMul(a.T(), b)); ok {
				return func(x *mat.Dense) *mat.Dense { return laMul(x, p.T()) },
					func(x *mat.Dense) *mat.Dense { return laMul(x, p) }, nil
			}
		} else {
			q, r := laQR(b.T())
			if p, _, ok := polarNull(laMul(a.T(), r.T())); ok {
				return func(x *mat.Dense) *mat.Dense { return laMul(laMul(x, q), p.T()) },
					func(x *mat.Dense) *mat.Dense { return laMul(laMul(x, p), q.T()) }, nil
			}
		}
	}
	rotation, transform, err := procrustesPower00x(a, b, alignment)
	if err != nil {
		return nil, nil, err
	}
	return func(x *mat.Dense) *mat.Dense { return laMul(x, rotation.T()) },
		func(x *mat.Dense) *mat.Dense { return laMul(x, transform) }, nil
}

// procrustesPower00x is 0.0.x's orthogonal_procrustes(A, B) and its power: R = U Vᵀ from the
// SVD of Aᵀ B, the last column of U divided by det(U)·det(Vᵀ) (the sign here) when alignment
// is not an integer, so that R is a rotation with a real fractional power; transform = R^t by
// eigendecomposition for a fractional t, the identity for 0, R^round(t) by repeated squaring
// otherwise.
func procrustesPower00x(a, b *mat.Dense, alignment float64) (rotation, transform *mat.Dense, err error) {
	u, _, vt, err := laSVD(laMul(a.T(), b))
	if err != nil {
		return nil, nil, err
	}
	fractional := alignment != math.RoundToEven(alignment)
	if fractional {
		s := laDetSign(u) * laDetSign(vt)
		r, c := u.Dims()
		for i := range r {
			u.Set(i, c-1, u.At(i, c-1)/s)
		}
	}
	rotation = laMul(u, vt)
	switch {
	case fractional:
		transform, err = orthogonalMatrixPower(rotation, alignment)
	case alignment == 0:
		n, _ := rotation.Dims()
		transform = laEye(n)
	case alignment == 1:
		transform = rotation
	default:
		transform, err = laMatrixPower(rotation, int(math.RoundToEven(alignment)))
	}
	return rotation, transform, err
}

const rotateFormula00x = "A, B = rows of a, b minus their column means ca, cb; R = U Vᵀ, U S Vᵀ = svd(Aᵀ B); " +
	"out = ws(A, B Rᵀ, interp) · R^alignment + ws(ca, cb, alignment)"

// rotateDoc00x is the part of the Docs every 0.0.x rotate shares.
const rotateDoc00x = " Both tensors are centred on their column means; R is the orthogonal Procrustes " +
	"rotation from the full SVD of Aᵀ B (cols x cols: for wide views, rows < cols, R on the null " +
	"space of Aᵀ B is whatever the SVD's basis there is, in sd-mecha as here, so such keys match " +
	"sd-mecha only as far as the two SVDs choose alike); a non-integer alignment first flips the " +
	"last singular vector so that det R = 1, then takes R's principal fractional power by " +
	"eigendecomposition. ws is the 0.0.x weighted sum; the keywords are Python floats. Results " +
	"agree with sd-mecha's to rounding (LAPACK differs), not bit for bit."

// rotateAlphaBeta00x is rotate of 8259d55 .. e0305da in era: alpha the alignment, beta the
// interpolation, both required.
func rotateAlphaBeta00x(era, doc string, r rotate00x) *ops.Def {
	return define00x(&ops.Def{
		Name: "rotate", Era: era,
		Params: []ops.Param{symbolIn00x("a"), symbolIn00x("b")},
		KwOnly: []ops.Param{requiredFloat("alpha"), requiredFloat("beta")},
		Traits: ops.LinearAlgebra, Formula: rotateFormula00x + "; alignment = alpha, interp = beta",
		Doc:        doc + rotateDoc00x,
		Kernel:     r.kernel,
		ScratchFor: r.scratch("alpha"),
	})
}

var (
	rotate004 = rotateAlphaBeta00x("0.0.4", "rotate of 8259d55 .. 60d0764: alpha is the alignment, "+
		"beta the interpolation, both required. alpha = beta = 0 gives a; a 0-dim key, a 4-D "+
		"kernel with kw != 1 or a pair equal in float16 gives ws(a, b, beta); a 1-D or [1, n] key "+
		"gives ws(a, b, alpha) (its centroid); other keys are viewed as (-1, shape[-1]), 4-D ones "+
		"as (shape[0], rest).", rotate00x{centroidOnly1D: true, lastDimView: true})
	rotate005 = rotateAlphaBeta00x("0.0.5", "rotate of 953313a and e0305da (0.0.5): alpha is the "+
		"alignment, beta the interpolation, both required (renamed alignment and alpha in "+
		"165704a, 0.0.6). alpha = beta = 0 gives a; keys of rank < 2 and pairs equal in float16 "+
		"give ws(a, b, beta); 4-D kernels with kw != 1 are viewed as (-1, kh*kw), other 4-D keys "+
		"as (shape[0], rest), the rest as (-1, shape[-1]).", rotate00x{lastDimView: true})
	rotate00xDef = define00x(&ops.Def{
		Name: "rotate", Era: "0.0.x",
		Params: []ops.Param{symbolIn00x("a"), symbolIn00x("b")},
		KwOnly: []ops.Param{floatDefault("alignment", 1), floatDefault("alpha", 0)},
		Traits: ops.LinearAlgebra, Formula: rotateFormula00x + "; interp = alpha",
		Doc: "rotate of 165704a (0.0.6) .. 0.0.29 and the fork's 0.0.x eras: alignment (default " +
			"1.0) is the power of the rotation, alpha (default 0.0) the interpolation toward b's " +
			"rotated rows; always centred (today's centralization = 1). alignment = alpha = 0 gives " +
			"a; keys of rank < 2 and pairs equal in float16 give ws(a, b, alpha); 4-D kernels with " +
			"kw != 1 are viewed as (-1, kh*kw), the rest as (shape[0], rest) (0.0.29's view; " +
			"0.0.6 .. 0.0.24 viewed rank-3 keys as (-1, shape[-1]), which SD checkpoints do not " +
			"have)." + rotateDoc00x,
		Kernel:     rotate00x{}.kernel,
		ScratchFor: rotate00x{}.scratch("alignment"),
	})
)
