package stdlib

import (
	"fmt"
	"math"
	"sync"

	"gonum.org/v1/gonum/dsp/fourier"

	"github.com/mechac/mechac/ops"
)

// Limiting, cosine and crossover families: sd-mecha 1.1.5
// sd_mecha/extensions/builtin/merge_methods/limiting.py (clamp), cosine.py (add_cosine_a,
// add_cosine_b) and crossover.py (crossover). sd-mecha 1.0.x's distribution_crossover is not
// registered in 1.1.5 (its last release was 0.0.29), so it has no definition here.
//
// Numerics: clamp and crossover take Python-float hyper-parameters (exact in both modes);
// add_cosine_* take a Tensor alpha (float32 in sd-mecha numerics). The formulas are the same
// in both modes: torch 1.13's operation order, its reductions (reduce.go) and, for crossover, a
// float32 filter as torch builds it (torch.linspace's default dtype).

// ---- torch elementwise details ----

// vecEnd is where torch 1.13's vectorised loop over n float64 elements stops: it handles
// chunks of 2 vectors of 4 lanes, and the n%8 tail goes through the scalar lambda. The two
// differ for maximum/minimum on zeros of opposite signs.
func vecEnd(n int) int { return n - n%8 }

// torchMaximum is torch.maximum: NaN if either is NaN; on equal values (+0 and -0) the vector
// path (_mm256_max_pd) returns b, the scalar path (std::max) a.
func torchMaximum(a, b float64, vec bool) float64 {
	if a != a || b != b {
		return math.NaN()
	}
	if vec {
		if a > b {
			return a
		}
		return b
	}
	if a < b {
		return b
	}
	return a
}

// torchMinimum is torch.minimum, with the same zero rule as torchMaximum.
func torchMinimum(a, b float64, vec bool) float64 {
	if a != a || b != b {
		return math.NaN()
	}
	if vec {
		if a < b {
			return a
		}
		return b
	}
	if b < a {
		return b
	}
	return a
}

// clamp01 is torch.clamp(x, 0, 1): NaN and -0.0 pass.
func clamp01(x float64) float64 {
	if x < 0 {
		return 0
	}
	if x > 1 {
		return 1
	}
	return x
}

// ---- complex powers as glibc computes them ----

// clogAxis is glibc's clog(x + yi) for y = ±0, the only case here (real tensors promoted to
// complex): the real part is log|x| computed as glibc's branches do (log1p((x-1)(x+1))/2 for
// 0.5 <= |x| < 2, scaling for huge and subnormal |x|), the imaginary part atan2(y, x).
func clogAxis(x, y float64) (float64, float64) {
	switch {
	case x == 0:
		im := 0.0
		if math.Signbit(x) {
			im = math.Pi
		}
		return -1 / math.Abs(x), math.Copysign(im, y)
	case x != x:
		return math.NaN(), math.NaN()
	}
	ax := math.Abs(x)
	scale := 0
	if ax > math.MaxFloat64/2 {
		scale = -1
		ax = math.Ldexp(ax, scale)
	} else if ax < 0x1p-1022 {
		scale = 53
		ax = math.Ldexp(ax, scale)
	}
	var re float64
	switch {
	case ax == 1 && scale == 0:
		re = 0
	case scale == 0 && ((ax > 1 && ax < 2) || (ax < 1 && ax >= 0.5)):
		d2m1 := float64(ax-1) * float64(ax+1)
		re = math.Log1p(d2m1) / 2
	default:
		re = logFast(ax) - float64(scale)*math.Ln2
	}
	return re, math.Atan2(y, x)
}

// sincosMemo remembers the last sincosDD result: within one key the phases of cpow repeat
// (geometric_sum: (1-alpha)·π and alpha·π for every negative base).
type sincosMemo struct {
	x, sin, cos float64
	ok          bool
}

func (m *sincosMemo) sincos(x float64) (float64, float64) {
	if m == nil {
		return sincosDD(x)
	}
	if !m.ok || math.Float64bits(m.x) != math.Float64bits(x) {
		m.sin, m.cos = sincosDD(x)
		m.x, m.ok = x, true
	}
	return m.sin, m.cos
}

// cexpGlibc is glibc's cexp(x + yi).
func cexpGlibc(x, y float64, memo *sincosMemo) (float64, float64) {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case finite(x):
		if !finite(y) {
			return math.NaN(), math.NaN()
		}
		sin, cos := y, 1.0
		if math.Abs(y) > 0x1p-1022 {
			sin, cos = memo.sincos(y)
		}
		const t = 709 // (int)((DBL_MAX_EXP - 1) * M_LN2)
		if x > t {
			e := math.Exp(t)
			x -= t
			sin, cos = sin*e, cos*e
			if x > t {
				x -= t
				sin, cos = sin*e, cos*e
			}
		}
		if x > t {
			return math.MaxFloat64 * cos, math.MaxFloat64 * sin
		}
		e := expFast(x)
		return e * cos, e * sin
	case math.IsInf(x, 0):
		if finite(y) {
			v := math.Inf(1)
			if math.Signbit(x) {
				v = 0
			}
			if y == 0 {
				return v, y
			}
			sin, cos := y, 1.0
			if math.Abs(y) > 0x1p-1022 {
				sin, cos = memo.sincos(y)
			}
			return math.Copysign(v, cos), math.Copysign(v, sin)
		}
		if !math.Signbit(x) {
			return math.Inf(1), y - y
		}
		return 0, math.Copysign(0, y)
	}
	if y == 0 {
		return math.NaN(), y
	}
	return math.NaN(), math.NaN()
}

// cmulC is C's complex multiplication as GCC compiles it (the four products, then libgcc's
// __muldc3 recovery of infinities when both parts come out NaN).
func cmulC(a, b, c, d float64) (float64, float64) {
	ac, bd, ad, bc := a*c, b*d, a*d, b*c
	x, y := ac-bd, ad+bc
	if x == x || y == y {
		return x, y
	}
	box := func(v float64) float64 {
		if math.IsInf(v, 0) {
			return math.Copysign(1, v)
		}
		return math.Copysign(0, v)
	}
	zeroNaN := func(v float64) float64 {
		if v != v {
			return math.Copysign(0, v)
		}
		return v
	}
	inf := func(v float64) bool { return math.IsInf(v, 0) }
	recalc := false
	if inf(a) || inf(b) {
		a, b = box(a), box(b)
		c, d = zeroNaN(c), zeroNaN(d)
		recalc = true
	}
	if inf(c) || inf(d) {
		c, d = box(c), box(d)
		a, b = zeroNaN(a), zeroNaN(b)
		recalc = true
	}
	if !recalc && (inf(ac) || inf(bd) || inf(ad) || inf(bc)) {
		a, b, c, d = zeroNaN(a), zeroNaN(b), zeroNaN(c), zeroNaN(d)
		recalc = true
	}
	if recalc {
		x = math.Inf(1) * (float64(a*c) - float64(b*d))
		y = math.Inf(1) * (float64(a*d) + float64(b*c))
	}
	return x, y
}

// cpow is std::pow(complex<double>, complex<double>) as torch 1.13 calls it on Linux: glibc's
// cpow(x, y) = cexp(y * clog(x)). x is on the real axis (imaginary part ±0). memo may be nil.
func cpow(x, y complex128, memo *sincosMemo) complex128 {
	lr, li := clogAxis(real(x), imag(x))
	zr, zi := cmulC(real(y), imag(y), lr, li)
	return complex(cexpGlibc(zr, zi, memo))
}

// ---- clamp ----

// clampDef: clamp(a, *bounds, stiffness: float = 0.0) -> a limited to the bounds' range.
//
//	hi = max_k bounds_k, lo = min_k bounds_k
//	stiffness != 0: avg = mean_k bounds_k; sp = smallest bound >= avg, ln = largest bound <= avg
//	                hi = (1-s)*hi + s*sp, lo = (1-s)*lo + s*ln
//	out = min(max(a, lo), hi)
var clampDef = define(&ops.Def{
	Name:          "clamp",
	Params:        []ops.Param{symbolIn("a")},
	Varargs:       &ops.Param{Name: "bounds", Type: ops.TensorIn, Spaces: ops.AnySpace, Symbol: "S"},
	KwOnly:        []ops.Param{floatDefault("stiffness", 0)},
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.Elementwise,
	Keys:          ops.KeysIntersect,
	Formula:       "min(max(a, lo), hi); lo, hi = min/max of bounds, pulled toward the bounds nearest their mean by stiffness",
	Doc: "Limits a element by element to the range spanned by the bounds (sd-mecha's clamp; " +
		"0.0.x called it clip). With a non-zero stiffness the limits move from the extreme " +
		"bounds toward the bounds closest to their mean (from above and from below): " +
		"hi = (1-s)·max + s·(smallest bound >= mean), lo likewise. The mean is torch's " +
		"stack(bounds).mean(dim=0); maximum/minimum propagate NaN. stiffness is a Python float.",
	Kernel: clampKernel("clamp", clampMean),
})

// clampCentre says which centre a stiffness pulls clamp's limits toward.
type clampCentre uint8

const (
	// clampMean: torch.stack(bounds).mean(dim=0) (sd-mecha 0.0.25 on).
	clampMean clampCentre = iota
	// clampMidrange: (maximums + minimums) / 2, one rounded sum halved (sd-mecha up to 0.0.24,
	// clip before 0.0.17).
	clampMidrange
)

// clampKernel is clamp's body; only the centre differs between the eras, so every clamp and
// clip definition shares it.
func clampKernel(name string, centre clampCentre) ops.Kernel {
	return func(c *ops.Call) error {
		n := len(c.Out.Data)
		if len(c.Var) == 0 {
			return fmt.Errorf("%s: no bounds", name)
		}
		ts, err := tensors(name, n, append([]ops.Value{c.Args[0]}, c.Var...)...)
		if err != nil {
			return err
		}
		a, bounds := ts[0], ts[1:]
		s, ok := c.Kw[0].Float64()
		if !ok {
			return fmt.Errorf("%s: stiffness must be a number, got %s", name, c.Kw[0])
		}
		var avg []float64
		if s != 0 && centre == clampMean { // Python truthiness: NaN is true
			avg = meanDim0(bounds, n)
		}
		nv := vecEnd(n)
		for i := range c.Out.Data {
			vec := i < nv
			hi, lo := bounds[0].At(i), bounds[0].At(i)
			for _, b := range bounds[1:] {
				hi = torchMaximum(hi, b.At(i), vec)
			}
			for _, b := range bounds[1:] {
				lo = torchMinimum(lo, b.At(i), vec)
			}
			if s != 0 {
				m := (hi + lo) / 2
				if avg != nil {
					m = avg[i]
				}
				sp, ln := hi, lo
				for _, b := range bounds {
					x := b.At(i)
					if sp >= x && x >= m {
						sp = x
					}
				}
				for _, b := range bounds {
					x := b.At(i)
					if ln <= x && x <= m {
						ln = x
					}
				}
				hi = float64((1-s)*hi) + float64(s*sp)
				lo = float64((1-s)*lo) + float64(s*ln)
			}
			c.Out.Data[i] = torchMinimum(torchMaximum(a.At(i), lo, vec), hi, vec)
		}
		return nil
	}
}

// meanDim0 is torch.stack(ts).mean(dim=0) of n elements each: SumDim0Torch / len(ts). The
// stack is built a slice of columns at a time (multiples of 16 columns, so that every column
// keeps its place in SumDim0Torch's 16-column blocks, and never a lone last column, which
// SumDim0Torch would sum as a contiguous run) to bound the memory for large tensors.
func meanDim0(ts []*ops.Tensor, n int) []float64 {
	const chunk = 4096
	r := len(ts)
	avg := make([]float64, n)
	buf := make([]float64, r*min(n, chunk+1))
	for j0 := 0; j0 < n; {
		w := min(chunk, n-j0)
		if n-j0-w == 1 {
			w++ // the last column joins this slice
		}
		stack := buf[:r*w]
		for k, t := range ts {
			for j := 0; j < w; j++ {
				stack[k*w+j] = t.At(j0 + j)
			}
		}
		SumDim0Torch(stack, r, w, avg[j0:j0+w])
		j0 += w
	}
	for i := range avg {
		avg[i] /= float64(r)
	}
	return avg
}

// ---- cosine ----

// weightPair is (a: weight, b: weight, alpha: Tensor = 1.0) -> weight.
func weightPair() []ops.Param {
	return []ops.Param{
		{Name: "a", Type: ops.TensorIn, Spaces: ops.WeightSpace},
		{Name: "b", Type: ops.TensorIn, Spaces: ops.WeightSpace},
		alphaParam(1.0),
	}
}

// dim0 returns the [rows, cols] view of a tensor for reductions over dim 0 (a 0-dim tensor
// is [1, 1], as torch wraps dim 0 of a scalar).
func dim0(shape []int, n int) (rows, cols int) {
	if len(shape) == 0 || n == 0 {
		return 1, n
	}
	return shape[0], n / shape[0]
}

// sameShapePair checks that a and b have the output's shape (no broadcasting: the dim-0
// reductions need whole tensors).
func sameShapePair(name string, c *ops.Call) (*ops.Tensor, *ops.Tensor, *ops.Tensor, error) {
	n := len(c.Out.Data)
	ts, err := tensors(name, n, c.Args...)
	if err != nil {
		return nil, nil, nil, err
	}
	a, b := ts[0], ts[1]
	if len(a.Data) != n || len(b.Data) != n || !ops.SameShape(a.Shape, b.Shape) {
		return nil, nil, nil, fmt.Errorf("%s: a %s and b %s must have the same shape", name, ops.FormatShape(a.Shape), ops.FormatShape(b.Shape))
	}
	return a, b, ts[2], nil
}

// addCosine is add_cosine_generic: lerp(a, b, 1 - clamp(sim - alpha, 0, 1)), sim over
// a.shape[1:] broadcast along dim 0.
func addCosine(out []float64, a, b, alpha *ops.Tensor, sim []float64) {
	cols := len(sim)
	for i := range out {
		k := 1 - clamp01(sim[i%cols]-alpha.At(i))
		out[i] = Lerp(a.Data[i], b.Data[i], k)
	}
}

// cosineSimA is add_cosine_a's similarity of each column (slice along dim 0):
// F.cosine_similarity(F.normalize(a, dim=0), F.normalize(b, dim=0), dim=0), eps 1e-12 and 1e-8.
// Every sd-mecha version from 8259d55 on computes it this way.
func cosineSimA(a, b *ops.Tensor) []float64 {
	n := len(a.Data)
	rows, cols := dim0(a.Shape, n)
	buf := make([]float64, 2*n+2*cols)
	an, bn, nrm, sim := buf[:n], buf[n:2*n], buf[2*n:2*n+cols], buf[2*n+cols:]
	for _, p := range []struct{ src, dst []float64 }{{a.Data, an}, {b.Data, bn}} {
		NormDim0Torch(p.src, rows, cols, nrm)
		for i, v := range p.src {
			p.dst[i] = v / clampMin(nrm[i%cols], 1e-12)
		}
	}
	CosineSimilarityDim0Torch(an, bn, rows, cols, 1e-8, sim)
	return sim
}

// simA is cosineSimA with cosineSimB's signature (it needs no scratch space).
func simA(a, b *ops.Tensor, _ []float64) []float64 { return cosineSimA(a, b) }

// cosineSimB is add_cosine_b's similarity of each column: the mean of its
// F.cosine_similarity(dim=0, eps=1e-8) and of the whole tensors' sum(a*b)/(|a||b|). prod (len
// a) is scratch space for a*b.
func cosineSimB(a, b *ops.Tensor, prod []float64) []float64 {
	n := len(a.Data)
	rows, cols := dim0(a.Shape, n)
	sim := make([]float64, cols)
	CosineSimilarityDim0Torch(a.Data, b.Data, rows, cols, 1e-8, sim)
	for i := range prod {
		prod[i] = a.Data[i] * b.Data[i]
	}
	mag := SumTorch(prod) / (NormTorch(a.Data) * NormTorch(b.Data))
	for j := range sim {
		sim[j] = (sim[j] + mag) / 2
	}
	return sim
}

// cosineDef is today's add_cosine_<x>(a: weight, b: weight, alpha: Tensor = 1.0): the
// similarity of sim (prod scratch of len a) and addCosine's lerp.
func cosineDef(name, formula, doc string, sim func(a, b *ops.Tensor, prod []float64) []float64) *ops.Def {
	return define(&ops.Def{
		Name:    name,
		Params:  weightPair(),
		Returns: ops.WeightSpace,
		Traits:  ops.WholeTensor,
		Keys:    ops.KeysIntersect,
		Formula: formula,
		Doc:     doc,
		Kernel: func(c *ops.Call) error {
			a, b, alpha, err := sameShapePair(name, c)
			if err != nil {
				return err
			}
			addCosine(c.Out.Data, a, b, alpha, sim(a, b, c.Out.Data))
			return nil
		},
	})
}

// addCosineA: add_cosine_a(a, b, alpha = 1.0) -> lerp(a, b, 1 - clamp(cos(an, bn) - alpha, 0, 1)).
var addCosineA = cosineDef("add_cosine_a",
	"lerp(a, b, 1 - clamp(cos_dim0(a/|a|_dim0, b/|b|_dim0) - alpha, 0, 1))",
	"Interpolates toward b where the columns of a and b (slices along dim 0) are less "+
		"similar than alpha: k = 1 - clamp(similarity - alpha, 0, 1) per column, then lerp(a, b, "+
		"k). The similarity is F.cosine_similarity(dim=0, eps=1e-8) of a and b first normalised "+
		"with F.normalize(dim=0, eps=1e-12), as sd-mecha does (normalising twice). Norms over "+
		"dim 0 are torch's sequential fused sums of squares, the cosine's sums torch's sum(dim=0).",
	simA)

// addCosineB: add_cosine_b(a, b, alpha = 1.0) -> as add_cosine_a with the similarity
// (cos_dim0(a, b) + sum(a*b)/(|a||b|)) / 2.
var addCosineB = cosineDef("add_cosine_b",
	"lerp(a, b, 1 - clamp((cos_dim0(a, b) + Σab/(|a||b|))/2 - alpha, 0, 1))",
	"Like add_cosine_a, with the similarity of each column the mean of its cosine "+
		"similarity (F.cosine_similarity(dim=0, eps=1e-8)) and the cosine similarity of the "+
		"whole tensors (cascade sum of a*b over the product of the sequential norms).",
	cosineSimB)

// ---- crossover ----

// crossoverDef: crossover(a, b, alpha: float = 0.5, tilt: float = 0.0) -> frequency-domain mix.
//
//	alpha == 0 -> a; alpha == 1 -> b; tilt == 1, 0-dim or allclose(a, b) -> lerp(a, b, alpha)
//	else irfftn((1-F)·rfftn(a) + F·rfftn(b)), F = create_filter(shape of rfftn(a), alpha, tilt)
var crossoverDef = define(&ops.Def{
	Name: "crossover",
	Params: []ops.Param{
		symbolIn("a"), symbolIn("b"),
		floatDefault("alpha", 0.5), floatDefault("tilt", 0),
	},
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.WholeTensor,
	Keys:          ops.KeysIntersect,
	Formula:       "irfftn((1-F)·rfftn(a) + F·rfftn(b)), F = create_filter(alpha, tilt) over all dims",
	Scratch:       crossoverScratch,
	Doc: "Mixes a and b by frequency: low frequencies (over all dimensions of the tensor) from " +
		"a, high frequencies from b, the cut set by alpha (the share of b) and tilted by tilt " +
		"(0: a sharp cut, 0.5: a 45° ramp, 1: a plain weighted sum, 2: the cut inverted; tilt is " +
		"taken modulo 4 and above 2 the filter is inverted). The filter is built in float32 as " +
		"torch builds it: per dimension normalised frequencies (torch.linspace), their radial " +
		"mean sqrt(Σg²/ndim). alpha 0 or 1 returns a or b, and a 0-dim tensor, tilt 1 or a and b " +
		"equal within torch.allclose give lerp(a, b, alpha). alpha outside [0, 1] is an error. " +
		"The FFTs are gonum's FFTPACK (torch uses pocketfft: the same algorithm family, results " +
		"within float64 rounding noise).",
	Kernel: func(c *ops.Call) error {
		n := len(c.Out.Data)
		ts, err := tensors("crossover", n, c.Args[0], c.Args[1])
		if err != nil {
			return err
		}
		a, b := ts[0], ts[1]
		alpha, ok1 := c.Args[2].Float64()
		tilt, ok2 := c.Args[3].Float64()
		if !ok1 || !ok2 {
			return fmt.Errorf("crossover: alpha and tilt must be numbers, got %s and %s", c.Args[2], c.Args[3])
		}
		switch {
		case alpha == 0:
			return copyInto("crossover", c.Out, c.Args[0])
		case alpha == 1:
			return copyInto("crossover", c.Out, c.Args[1])
		}
		lerp := func() error {
			for i := range c.Out.Data {
				c.Out.Data[i] = Lerp(a.At(i), b.At(i), alpha)
			}
			return nil
		}
		if tilt == 1 || len(a.Shape) == 0 || allClose(a, b, n) {
			return lerp()
		}
		if len(a.Data) != n || len(b.Data) != n || !ops.SameShape(a.Shape, b.Shape) {
			return fmt.Errorf("crossover: a %s and b %s must have the same shape", ops.FormatShape(a.Shape), ops.FormatShape(b.Shape))
		}
		shape := a.Shape
		fa, cshape := rfftn(a.Data, shape)
		fb, _ := rfftn(b.Data, shape)
		filter, err := crossoverFilter(cshape, alpha, tilt)
		if err != nil {
			return err
		}
		for i, f := range filter {
			f1 := float64(1 - f) // float32 1 - filter, widened; a complex weight (f, +0)
			w := float64(f)
			ar, ai, br, bi := real(fa[i]), imag(fa[i]), real(fb[i]), imag(fb[i])
			re := (f1*ar - 0*ai) + (w*br - 0*bi)
			im := (f1*ai + 0*ar) + (w*bi + 0*br)
			fa[i] = complex(re, im)
		}
		irfftn(c.Out.Data, fa, shape)
		return nil
	},
})

// crossoverScratch is Def.Scratch of the crossovers: two half spectra of complex128 (about
// 8 bytes per element each) and the float32 mesh and filter over a spectrum.
func crossoverScratch(r, n int) int64 { return 24 * int64(n) }

// allClose is torch.allclose(a, b) (rtol 1e-5, atol 1e-8, NaN never close).
func allClose(a, b *ops.Tensor, n int) bool {
	for i := 0; i < n; i++ {
		x, y := a.At(i), b.At(i)
		if x == y {
			continue
		}
		d := math.Abs(x - y)
		if math.IsInf(d, 0) || d != d || !(d <= math.Abs(1e-5*y)+1e-8) {
			return false
		}
	}
	return true
}

// fftAlong transforms every fiber of data (C-order shape) along axis ax in place.
func fftAlong(data []complex128, shape []int, ax int, forward bool) {
	m := shape[ax]
	if m <= 1 {
		return
	}
	stride := 1
	for _, d := range shape[ax+1:] {
		stride *= d
	}
	outer := len(data) / (m * stride)
	plan := fourier.NewCmplxFFT(m)
	buf := make([]complex128, m)
	for o := 0; o < outer; o++ {
		for j := 0; j < stride; j++ {
			base := o*m*stride + j
			for k := range buf {
				buf[k] = data[base+k*stride]
			}
			if forward {
				plan.Coefficients(buf, buf)
			} else {
				plan.Sequence(buf, buf)
			}
			for k, v := range buf {
				data[base+k*stride] = v
			}
		}
	}
}

// rfftn is torch.fft.rfftn over every dimension (pocketfft's order: a real transform of the
// last dimension, then complex transforms of the others, first to last). It returns the
// half spectrum and its shape (last dimension n/2+1).
func rfftn(x []float64, shape []int) ([]complex128, []int) {
	k := len(shape)
	last := shape[k-1]
	h := last/2 + 1
	rows := 0
	if last > 0 {
		rows = len(x) / last
	}
	out := make([]complex128, rows*h)
	if rows > 0 {
		plan := fourier.NewFFT(last)
		for r := 0; r < rows; r++ {
			plan.Coefficients(out[r*h:(r+1)*h], x[r*last:(r+1)*last])
		}
	}
	cshape := append([]int{}, shape...)
	cshape[k-1] = h
	for ax := 0; ax < k-1; ax++ {
		fftAlong(out, cshape, ax, true)
	}
	return out, cshape
}

// irfftn is torch.fft.irfftn(X, s=shape) with the default "backward" norm: inverse complex
// transforms of every dimension but the last (first to last), then the inverse real transform
// of the last (which ignores the imaginary parts of its zero and Nyquist frequencies), each
// output multiplied by 1/N as pocketfft does. X is overwritten.
func irfftn(out []float64, X []complex128, shape []int) {
	k := len(shape)
	last := shape[k-1]
	h := last/2 + 1
	cshape := append([]int{}, shape...)
	cshape[k-1] = h
	for ax := 0; ax < k-1; ax++ {
		fftAlong(X, cshape, ax, false)
	}
	if last == 0 {
		return
	}
	fct := 1 / float64(len(out))
	plan := fourier.NewFFT(last)
	rows := len(out) / last
	for r := 0; r < rows; r++ {
		row := out[r*last : (r+1)*last]
		plan.Sequence(row, X[r*h:(r+1)*h])
		for i := range row {
			row[i] *= fct
		}
	}
}

// fma32 is a float32 fused multiply-add, a*b+c rounded once (math.FMA then float32 could round
// twice; the exact error of the float64 sum settles the float32 midpoints).
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b) // exact: 48 significant bits at most
	s := p + float64(c)
	bb := s - p
	e := (p - (s - bb)) + (float64(c) - bb) // s + e == p + c exactly
	r := float32(s)
	if e == 0 || float64(r) == s {
		return r
	}
	// s is not a float32; if it is the midpoint of two float32 values, e decides.
	other := math.Nextafter32(r, float32(math.Copysign(math.Inf(1), s-float64(r))))
	if s-float64(r) == float64(other)-s {
		if (e > 0) == (float64(other) > float64(r)) {
			return other
		}
		return r
	}
	return r
}

// linspace32 is torch.linspace(start, end, steps) in float32 (torch 1.13's linspace_kernel,
// FMA-contracted): the first half start + step*i, the second half end - step*(steps-1-i); the
// vectorised chunks of 8 (inside the leading 16*floor(steps/16) elements) compute their first
// element that way and the others as base + j*step.
func linspace32(start, end float32, steps int) []float32 {
	out := make([]float32, steps)
	if steps == 0 {
		return out
	}
	if steps == 1 {
		out[0] = start
		return out
	}
	step := (end - start) / float32(steps-1)
	half := steps / 2
	at := func(i int) float32 {
		if i < half {
			return fma32(step, float32(i), start)
		}
		return fma32(-step, float32(steps-i-1), end)
	}
	nv := steps - steps%16
	for i := 0; i < nv; i += 8 {
		base := at(i)
		out[i] = base
		out[i+1] = base + step
		for j := 2; j < 8; j++ {
			out[i+j] = fma32(float32(j), step, base)
		}
	}
	for i := nv; i < steps; i++ {
		out[i] = at(i)
	}
	return out
}

// pyFloorDiv is Python's float a // b.
func pyFloorDiv(a, b float64) float64 {
	mod := math.Mod(a, b)
	div := (a - mod) / b
	if mod != 0 && (b < 0) != (mod < 0) {
		div--
	}
	if div == 0 {
		return math.Copysign(0, a/b)
	}
	fd := math.Floor(div)
	if div-fd > 0.5 {
		fd++
	}
	return fd
}

// crossoverFilter is sd-mecha's create_filter(shape, alpha, tilt) in float32: per dimension
// the normalised frequencies (the last, halved dimension 0..1; the others 0..1..0 over the
// positive then negative frequencies, divided by s//2), the radial mesh
// sqrt(sum_d g_d² / ndim), then the cut: tilt ≈ 0: mesh > 1-alpha; tilt ≈ 2: mesh < 1-alpha;
// else a ramp of slope cot(π·tilt/2) clipped to [0, 1]. tilt is taken modulo 4; above 2 alpha
// is 1-alpha and the filter is inverted.
func crossoverFilter(shape []int, alpha, tilt float64) ([]float32, error) {
	if !(0 <= alpha && alpha <= 1) {
		return nil, fmt.Errorf("crossover: alpha must be between 0 and 1, got %v", alpha)
	}
	tilt -= math.Floor(pyFloorDiv(tilt, 4) * 4)
	inverted := tilt > 2
	if inverted {
		alpha = 1 - alpha
	}
	k := len(shape)
	grads := make([][]float32, k)
	for d, s := range shape {
		if d == k-1 || s == 1 {
			grads[d] = linspace32(0, 1, s)
			continue
		}
		g := append(linspace32(0, float32((s-1)/2), s-s/2), linspace32(float32(s/2), 1, s/2)...)
		div := float32(s / 2)
		for i := range g {
			g[i] /= div
		}
		grads[d] = g
	}
	n := ops.NumElements(shape)
	mesh := make([]float32, n)
	if k == 1 {
		copy(mesh, grads[0])
	} else {
		for d := range grads {
			for i, v := range grads[d] {
				grads[d][i] = v * v
			}
		}
		idx := make([]int, k)
		nd := float32(k)
		for i := range mesh {
			var acc float32
			for d := range grads {
				acc += grads[d][idx[d]]
			}
			mesh[i] = float32(math.Sqrt(float64(acc / nd)))
			for d := k - 1; d >= 0; d-- {
				idx[d]++
				if idx[d] < shape[d] {
					break
				}
				idx[d] = 0
			}
		}
	}
	f := mesh // reused in place
	cut := float32(1 - alpha)
	switch {
	case tilt < 1e-10 || math.Abs(tilt-4) < 1e-10:
		for i, m := range mesh {
			f[i] = b2f(m > cut)
		}
	case math.Abs(tilt-2) < 1e-10:
		for i, m := range mesh {
			f[i] = b2f(m < cut)
		}
	default:
		cot := 1 / math.Tan(math.Pi*tilt/2)
		c32, ac32, a32 := float32(cot), float32(alpha*cot), float32(alpha)
		rising := tilt <= 1 || (2 < tilt && tilt <= 3)
		for i, m := range mesh {
			var v float32
			if rising {
				v = float32(float32(float32(m*c32)+ac32)+a32) - c32
			} else {
				v = float32(float32(m*c32)-ac32) + a32
			}
			if v < 0 {
				v = 0
			} else if v > 1 {
				v = 1
			}
			f[i] = v
		}
	}
	if inverted {
		for i, v := range f {
			f[i] = 1 - v
		}
	}
	return f, nil
}

func b2f(b bool) float32 {
	if b {
		return 1
	}
	return 0
}

// ---- accurate elementary functions for cpow and torch.log ----
//
// glibc's exp, log, sin and cos are correctly rounded in practice (documented bounds < 0.52-0.55
// ulp), and so, mostly, are Sleef's u10 functions torch uses for tensor log/sin/acos; Go's are
// within 1 ulp and differ from glibc's on 2-27% of inputs (measured on 30000 random arguments
// each: exp 14%, log 2%, sin 22%, cos 27%). cpow (geometric_sum, multiply_quotient) and
// multiply_quotient's logs therefore use functions accurate to ~2^-70 before one final
// rounding: they agree with glibc on 99.9% of inputs (the rest: inputs glibc rounds the other
// way). expFast/logFast (table-driven, 20-35 ns) serve the per-element calls; sincosDD
// (double-double Taylor, ~0.7 µs) the phases, which repeat within a key (sincosMemo); ddExpRaw
// builds the tables. glibc's log1p is FDLIBM's algorithm, as Go's math.Log1p (they agree on
// 99.9%; a correctly rounded log1p would agree on 91% only), so clogAxis keeps math.Log1p.

// dd is an unevaluated sum hi + lo with |lo| <= ulp(hi)/2.
type dd struct{ hi, lo float64 }

func twoSum(a, b float64) dd {
	s := a + b
	bb := s - a
	return dd{s, (a - (s - bb)) + (b - bb)}
}

func twoProd(a, b float64) dd {
	p := a * b
	return dd{p, math.FMA(a, b, -p)}
}

func (x dd) add(y dd) dd {
	s := twoSum(x.hi, y.hi)
	t := twoSum(x.lo, y.lo)
	s.lo += t.hi
	s = twoSum(s.hi, s.lo)
	s.lo += t.lo
	return twoSum(s.hi, s.lo)
}

func (x dd) mul(y dd) dd {
	p := twoProd(x.hi, y.hi)
	p.lo += x.hi*y.lo + x.lo*y.hi
	return twoSum(p.hi, p.lo)
}

func (x dd) mulF(y float64) dd {
	p := twoProd(x.hi, y)
	p.lo += x.lo * y
	return twoSum(p.hi, p.lo)
}

func (x dd) neg() dd { return dd{-x.hi, -x.lo} }

func (x dd) float() float64 { return x.hi + x.lo }

var (
	ddLn2    = dd{0x1.62e42fefa39efp-01, 0x1.abc9e3b39803fp-56}
	ddHalfPi = [3]float64{0x1.921fb54442d18p+00, 0x1.1a62633145c07p-54, -0x1.f1976b7ed8fbcp-110}
)

// ddExpRaw is e^x for a double-double x with |x| <= ~710, in double-double.
func ddExpRaw(x dd) dd {
	k := math.Round(x.hi / ddLn2.hi)
	r := x.add(ddLn2.mulF(-k)) // |r| <= 0.35, ln2·k exact to ~106 bits
	const sq = 8
	r = dd{math.Ldexp(r.hi, -sq), math.Ldexp(r.lo, -sq)}
	// Taylor to degree 11 (|r| < 0.0014: the remainder is below 2^-110).
	sum := dd{1, 0}
	term := dd{1, 0}
	for i := 1; i <= 11; i++ {
		term = ddDivF(term.mul(r), float64(i))
		sum = sum.add(term)
	}
	for range sq {
		sum = sum.mul(sum)
	}
	return dd{math.Ldexp(sum.hi, int(k)), math.Ldexp(sum.lo, int(k))}
}

// sincosDD returns sin(x) and cos(x), each rounded once, for |x| < 2^20.
func sincosDD(x float64) (float64, float64) {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) >= 0x1p20 {
		return math.Sincos(x)
	}
	k := math.Round(x / ddHalfPi[0])
	// r = x - k·π/2 with π/2 in three parts: each k·part exact as a double-double.
	r := dd{x, 0}.add(twoProd(-k, ddHalfPi[0])).add(twoProd(-k, ddHalfPi[1])).add(dd{-k * ddHalfPi[2], 0})
	r2 := r.mul(r)
	// Taylor series; |r| <= π/4: 27 terms reach 2^-110.
	sin, cos := r, dd{1, 0}
	ts, tc := r, dd{1, 0}
	for i := 1; i <= 13; i++ {
		ts = ts.mul(r2).neg()
		ts = ddDivF(ts, float64((2*i)*(2*i+1)))
		sin = sin.add(ts)
		tc = tc.mul(r2).neg()
		tc = ddDivF(tc, float64((2*i-1)*(2*i)))
		cos = cos.add(tc)
	}
	s, c := sin.float(), cos.float()
	switch int(math.Mod(math.Mod(k, 4)+4, 4)) {
	case 1:
		return c, -s
	case 2:
		return -s, -c
	case 3:
		return -c, s
	}
	return s, c
}

// ddDivF is x / d for a small integer d, to double-double precision.
func ddDivF(x dd, d float64) dd {
	q1 := x.hi / d
	p := twoProd(q1, d)
	rem := ((x.hi - p.hi) - p.lo + x.lo) / d
	return twoSum(q1, rem)
}

// Fast near-correctly-rounded exp and log for the per-element calls (about 2^-70 relative
// before the final rounding, so they round as correctly rounded functions do except within
// ~2^-18 ulp of a midpoint): table-driven, double-double only where it matters.

const expN = 256

var (
	expTab [expN]dd // 2^(i/expN)
	ln2N   = dd{ddLn2.hi / expN, ddLn2.lo / expN}
	logTab [logN + logN/2 + 2]struct {
		c float64
		l dd
	} // c = 1/(j/logN), l = -log(c)
	tabOnce sync.Once
)

const logN = 128

func initTabs() {
	for i := range expTab {
		expTab[i] = ddExpRaw(ln2N.mulF(float64(i)))
	}
	for j := logN/2 + logN/5; j < len(logTab); j++ {
		c := logN / float64(j)
		y0 := math.Log(c)
		t := dd{c, 0}.mul(ddExpRaw(dd{-y0, 0})).add(dd{-1, 0})
		l := twoSum(y0, t.hi-t.hi*t.hi/2)
		logTab[j].c, logTab[j].l = c, l.neg()
	}
}

// expFast is exp(x): 2^(k/256) from a double-double table times a degree-6 polynomial.
func expFast(x float64) float64 {
	if !(x > -700 && x < 700) {
		return math.Exp(x)
	}
	tabOnce.Do(initTabs)
	kf := math.Round(x * (expN / math.Ln2))
	t := twoProd(kf, ln2N.hi)
	rr := twoSum(x-t.hi, -(t.lo + kf*ln2N.lo)) // x - t.hi is exact (Sterbenz)
	r := rr.hi
	q := r * r * (0.5 + r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720)))))
	plo := rr.lo + q
	k := int(kf)
	T := expTab[k&(expN-1)]
	s := twoProd(T.hi, r)
	h := twoSum(T.hi, s.hi)
	h.lo += s.lo + T.hi*plo + T.lo + T.lo*(r+plo)
	return math.Ldexp(h.hi+h.lo, k>>8)
}

// logFast is log(x): x = 2^e·m, m·c_j = 1 + r with c_j ≈ 1/m from a table, log1p(r) by its
// series (|r| < 0.008), -log(c_j) from a double-double table.
func logFast(x float64) float64 {
	if !(x > 0x1p-1000 && x < 0x1p1000) {
		return math.Log(x)
	}
	tabOnce.Do(initTabs)
	m, e := math.Frexp(x)
	if m < math.Sqrt2/2 {
		m *= 2
		e--
	}
	j := int(m*logN + 0.5)
	ent := &logTab[j]
	p := twoProd(m, ent.c)
	r := twoSum(p.hi-1, p.lo) // exact
	rh := r.hi
	r2 := twoProd(rh, rh)
	tail := rh * rh * rh * (1.0/3 - rh*(1.0/4-rh*(1.0/5-rh*(1.0/6-rh*(1.0/7-rh*(1.0/8-rh*(1.0/9-rh*(1.0/10-rh*(1.0/11-rh/12)))))))))
	l1 := twoSum(rh, -r2.hi/2)
	l1.lo += r.lo - r2.lo/2 - rh*r.lo + tail
	fe := float64(e)
	E := twoProd(fe, ddLn2.hi)
	E.lo += fe * ddLn2.lo
	sum := E.add(ent.l).add(l1)
	return sum.hi + sum.lo
}
