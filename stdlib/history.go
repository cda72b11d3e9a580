package stdlib

import (
	"fmt"
	"math"
	"slices"

	"github.com/mechac/mechac/ops"
)

// Names sd-mecha no longer registers in 1.1.5, defined with the math of the eras that had them
// (catalogue §3 "Names across history"; facts read from the sd-mecha tags and commits cited in
// each Doc). 0.0.x hyper-parameters are keyword-only Python floats and the tensors share
// 0.0.x's MODEL|DELTA symbol (symbolIn00x); every torch operation is rounded on its own (the
// float64 conversions below forbid Go from fusing a product into a multiply-add).
//
// Variants inside one era of the era table that the table cannot tell apart are documented on
// the Def: the newest math of the era wins.

// kwFloat00x reads keyword-only parameter i as a Python float.
func kwFloat00x(name string, c *ops.Call, i int) (float64, error) {
	v, ok := c.Kw[i].Float64()
	if !ok {
		return 0, fmt.Errorf("%s: keyword %d must be a number, got %s", name, i+1, c.Kw[i])
	}
	return v, nil
}

// requiredFloat is a keyword-only Python float without a default (0.0.x `alpha: float`).
func requiredFloat(name string) ops.Param {
	return ops.Param{Name: name, Type: ops.FloatHyper, Spaces: ops.ParamSpace}
}

// elementwise00x is the kernel of a 0.0.x elementwise method of len(Params) tensors and
// Python-float keywords: out[i] = f(tensor values at i, keyword values).
func elementwise00x(name string, f func(x, kw []float64) float64) ops.Kernel {
	return func(c *ops.Call) error {
		ts, err := tensors(name, len(c.Out.Data), c.Args...)
		if err != nil {
			return err
		}
		kw := make([]float64, len(c.Kw))
		for i := range c.Kw {
			if kw[i], err = kwFloat00x(name, c, i); err != nil {
				return err
			}
		}
		x := make([]float64, len(ts))
		for i := range c.Out.Data {
			for j, t := range ts {
				x[j] = t.At(i)
			}
			c.Out.Data[i] = f(x, kw)
		}
		return nil
	}
}

// ws00x is 0.0.x's weighted_sum.__wrapped__(a, b, alpha) for one element: two rounded products
// and a rounded sum.
func ws00x(a, b, alpha float64) float64 {
	return float64((1-alpha)*a) + float64(alpha*b)
}

// ---- clip (8259d55 .. 0.0.16) ----

var clip00x = define(&ops.Def{
	Name: "clip", Era: "0.0.x",
	Params:  []ops.Param{symbolIn00x("a")},
	Varargs: &ops.Param{Name: "bounds", Type: ops.TensorIn, Spaces: ops.WeightSpace | ops.DeltaSpace, Symbol: "S"},
	KwOnly:  []ops.Param{floatDefault("stiffness", 0)},
	Returns: ops.WeightSpace | ops.DeltaSpace, ReturnsSymbol: "S",
	Traits: ops.Elementwise, Keys: ops.KeysIntersect,
	Formula: "min(max(a, lo), hi); lo, hi = min/max of bounds, pulled toward the bounds nearest (max+min)/2 by stiffness",
	Doc: "clamp under its old name (8259d55 .. 0.0.16; clamp from 0.0.18): the same limits, " +
		"but the centre the stiffness pulls toward is the midrange (max+min)/2 of the bounds, not " +
		"their mean (0.0.25 switched clamp to stack(bounds).mean(0)); the pulled limits are 0.0.x " +
		"weighted sums (1-s)*hi + s*sp. stiffness is a Python float, truthy when non-zero or NaN.",
	Kernel: func(c *ops.Call) error {
		n := len(c.Out.Data)
		if len(c.Var) == 0 {
			return fmt.Errorf("clip: no bounds")
		}
		ts, err := tensors("clip", n, append([]ops.Value{c.Args[0]}, c.Var...)...)
		if err != nil {
			return err
		}
		s, err := kwFloat00x("clip", c, 0)
		if err != nil {
			return err
		}
		a, bounds := ts[0], ts[1:]
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
				sp, ln := hi, lo
				for _, b := range bounds {
					if x := b.At(i); sp >= x && x >= m {
						sp = x
					}
				}
				for _, b := range bounds {
					if x := b.At(i); ln <= x && x <= m {
						ln = x
					}
				}
				hi, lo = ws00x(hi, sp, s), ws00x(lo, ln, s)
			}
			c.Out.Data[i] = torchMinimum(torchMaximum(a.At(i), lo, vec), hi, vec)
		}
		return nil
	},
})

// ---- copy_region / copy_top_k (8259d55 .. e0305da) ----

var widthOffset00x = []ops.Param{requiredFloat("width"), requiredFloat("offset")}

var copyRegion00x = define(&ops.Def{
	Name: "copy_region", Era: "0.0.x",
	Params:  []ops.Param{symbolIn00x("a"), symbolIn00x("b")},
	KwOnly:  widthOffset00x,
	Returns: ops.WeightSpace | ops.DeltaSpace, ReturnsSymbol: "S",
	Traits: ops.WholeTensor, Keys: ops.KeysIntersect,
	Formula: "tensor_sum(a, b, width, offset)",
	Doc: "tensor_sum under its first name (8259d55 .. e0305da; renamed tensor_sum in be45b2c): rows " +
		"[start, end) of dim 0 from b, the rest from a (swapped when the region wraps). width and " +
		"offset are required keyword Python floats. The 0-dim rule (b when width > 0.5) is " +
		"e0305da's; 8259d55 .. 60d0764 failed on a 0-dim key.",
	Kernel: func(c *ops.Call) error {
		return tensorSum.Kernel(&ops.Call{Key: c.Key, Numerics: c.Numerics, Out: c.Out,
			Args: []ops.Value{c.Args[0], c.Args[1], c.Kw[0], c.Kw[1]}})
	},
})

var copyTopK00x = define(&ops.Def{
	Name: "copy_top_k", Era: "0.0.x",
	Params:  []ops.Param{symbolIn00x("a"), symbolIn00x("b")},
	KwOnly:  widthOffset00x,
	Returns: ops.WeightSpace | ops.DeltaSpace, ReturnsSymbol: "S",
	Traits: ops.WholeTensor, Keys: ops.KeysIntersect,
	Formula: "a_i, or sorted(a)[rank_b(i)] where kth(start) < |that value| <= kth(end) (outside when wrapped)",
	Doc: "top_k_tensor_sum under its first name (8259d55 .. e0305da; renamed in be45b2c), with " +
		"the band open at the bottom: kth(start) < |x| (today's is closed, <=). kth is the " +
		"float32 kthvalue of |sorted a|, -1 for k <= 0; b's ranks from a stable argsort. width " +
		"and offset are required keyword Python floats.",
	Kernel: func(c *ops.Call) error {
		const name = "copy_top_k"
		width, err := kwFloat00x(name, c, 0)
		if err != nil {
			return err
		}
		offset, err := kwFloat00x(name, c, 1)
		if err != nil {
			return err
		}
		out := c.Out.Data
		ts, err := tensors(name, len(out), c.Args[0], c.Args[1])
		if err != nil {
			return err
		}
		a, b := ts[0], ts[1]
		n := len(a.Data)
		if len(b.Data) != n || n != len(out) {
			return fmt.Errorf("%s: a has %d elements, b %d", name, n, len(b.Data))
		}
		aDist, redist, lo, hi, inverted, err := topKSelection(name, a.Data, b.Data, width, offset)
		if err != nil {
			return err
		}
		for i := range out {
			v := aDist[redist[i]]
			in := lo < math.Abs(v) && math.Abs(v) <= hi
			if inverted {
				in = !in
			}
			m := 0.0
			if in {
				m = 1
			}
			out[i] = float64((1-m)*a.Data[i]) + float64(m*v)
		}
		return nil
	},
})

// ---- copy_difference / train_difference ----

var copyDifference00x = define(&ops.Def{
	Name: "copy_difference", Era: "0.0.x",
	Params:  []ops.Param{symbolIn00x("a"), symbolIn00x("b"), symbolIn00x("c")},
	Returns: ops.WeightSpace | ops.DeltaSpace, ReturnsSymbol: "S",
	Traits: ops.Elementwise, Keys: ops.KeysIntersect,
	Formula: "sign(b-c)·|s|·|a-b|·1.8, s = |b-a|/(|b-c|+|b-a|) (0 where the sum is 0)",
	Doc: "The first train difference (8259d55 .. e0305da; replaced by train_difference in be45b2c). " +
		"It returns the scaled difference itself, not a plus it, and has no alpha.",
	Kernel: elementwise00x("copy_difference", func(x, _ []float64) float64 {
		a, b, c := x[0], x[1], x[2]
		bc, ba := math.Abs(b-c), math.Abs(b-a)
		scale := 0.0
		if sum := bc + ba; sum != 0 {
			scale = ba / sum
		}
		return float64(float64(tiesSign(b-c)*math.Abs(scale))*math.Abs(a-b)) * 1.8
	}),
})

// trainDifferenceKw is 0.0.x's `alpha: Hyper = 1.0`.
var trainDifferenceKw = []ops.Param{floatDefault("alpha", 1)}

func abc00x() []ops.Param {
	return []ops.Param{symbolIn00x("a"), symbolIn00x("b"), symbolIn00x("c")}
}

// addMasked00x is a + (b - c)*alpha*mask with each operation rounded.
func addMasked00x(a, b, c, alpha, mask float64) float64 {
	return a + float64(float64((b-c)*alpha)*mask)
}

// maxAbs is torch.maximum(|x|, |y|) (NaN propagates).
func maxAbs(x, y float64) float64 { return torchMaximum(math.Abs(x), math.Abs(y), true) }

// trainDifferenceOld is be45b2c .. 0.0.19's train_difference, in era: the 0.0.9 era and the
// fork's eras built on 0.0.12, 0.0.13 and 0.0.19.
func trainDifferenceOld(era string) *ops.Def {
	return define(&ops.Def{
		Name: "train_difference", Era: era,
		Params: abc00x(), KwOnly: trainDifferenceKw,
		Returns: ops.WeightSpace | ops.DeltaSpace, ReturnsSymbol: "S",
		Traits: ops.Elementwise, Keys: ops.KeysIntersect,
		Formula: "a + (b-c)·alpha·max(nan0((c-a)(b-c)/max(|a-c|,|b-c|)²), 0)",
		Doc: "train_difference of be45b2c .. 0.0.19 and of the fork's eras built on them (the 0.0.29 " +
			"era gets 0.0.20's formula, so upstream 0.0.19 alone is not reproduced): the dissimilarity " +
			"of the two differences from c, clamped at 0. alpha a Python float, default 1.0.",
		Kernel: elementwise00x("train_difference", func(x, kw []float64) float64 {
			a, b, c := x[0], x[1], x[2]
			t := maxAbs(a-c, b-c)
			d := clampMin(nanToNum(float64((c-a)*(b-c))/float64(t*t), 0), 0)
			return addMasked00x(a, b, c, kw[0], d)
		}),
	})
}

var (
	_ = trainDifferenceOld("0.0.9")
	_ = trainDifferenceOld("fork-0.0.12")
	_ = trainDifferenceOld("fork-0.0.13")
	_ = trainDifferenceOld("fork-0.0.19")
)

var trainDifference00x = define(&ops.Def{
	Name: "train_difference", Era: "0.0.x",
	Params: abc00x(), KwOnly: trainDifferenceKw,
	Returns: ops.WeightSpace | ops.DeltaSpace, ReturnsSymbol: "S",
	Traits: ops.Elementwise, Keys: ops.KeysIntersect,
	Formula: "a + (b-c)·alpha·1.8·nan0(|b-a|/(|b-a|+|b-c|))",
	Doc: "train_difference of 0.0.20 .. 0.0.29 (6a517f0, #35, brought back the first formula; 1.0's train_difference_mask returns the mask " +
		"instead). alpha a Python float, default 1.0; nan0 is nan_to_num(nan=0).",
	Kernel: elementwise00x("train_difference", func(x, kw []float64) float64 {
		a, b, c := x[0], x[1], x[2]
		m := 1.8 * nanToNum(math.Abs(b-a)/(math.Abs(b-a)+math.Abs(b-c)), 0)
		return addMasked00x(a, b, c, kw[0], m)
	}),
})

var addOpposite00x = define(&ops.Def{
	Name: "add_opposite", Era: "0.0.x",
	Params: abc00x(), KwOnly: trainDifferenceKw,
	Returns: ops.WeightSpace | ops.DeltaSpace, ReturnsSymbol: "S",
	Traits: ops.Elementwise, Keys: ops.KeysIntersect,
	Formula: "a + (b-c)·alpha·2·nan0(|a-b|/(|a-b|+|a+b-2c|))",
	Doc: "add_opposite of 0.0.21 .. 0.0.29 (0.1.0 renamed it add_opposite_mask, returning the mask). " +
		"0.0.20 had mask 1 - nan0((a-c)(b-c)/max(|a-c|,|b-c|)²), an era the table does not " +
		"separate. alpha a Python float, default 1.0.",
	Kernel: elementwise00x("add_opposite", func(x, kw []float64) float64 {
		a, b, c := x[0], x[1], x[2]
		d := math.Abs(a - b)
		m := 2 * nanToNum(d/(d+math.Abs(float64(a+b)-2*c)), 0)
		return addMasked00x(a, b, c, kw[0], m)
	}),
})

var clampedAddOpposite00x = define(&ops.Def{
	Name: "clamped_add_opposite", Era: "0.0.x",
	Params: abc00x(), KwOnly: trainDifferenceKw,
	Returns: ops.WeightSpace | ops.DeltaSpace, ReturnsSymbol: "S",
	Traits: ops.Elementwise, Keys: ops.KeysIntersect,
	Formula: "a + (b-c)·alpha·2·max(nan0((c-a)(b-c)/max(|a-c|,|b-c|)²), 0)",
	Doc: "clamped_add_opposite of 0.0.20 .. 0.0.29 (0.1.0 renamed it add_strict_opposite_mask, " +
		"returning the mask). alpha a Python float, default 1.0.",
	Kernel: elementwise00x("clamped_add_opposite", func(x, kw []float64) float64 {
		a, b, c := x[0], x[1], x[2]
		t := maxAbs(a-c, b-c)
		m := clampMin(nanToNum(float64((c-a)*(b-c))/float64(t*t), 0), 0) * 2
		return addMasked00x(a, b, c, kw[0], m)
	}),
})

// ---- select_max_delta ----

// meanStd is x.mean() and x.std(correction) computed in two passes (the mean, then the sum of
// squared deviations, both torch cascade sums). torch's std uses Welford's algorithm: the two
// can differ in the last bit, which matters only for a comparison exactly at a tie.
func meanStd(x []float64, correction int) (mean, std float64) {
	n := len(x)
	mean = SumTorch(x) / float64(n)
	dev := make([]float64, n)
	for i, v := range x {
		d := v - mean
		dev[i] = d * d
	}
	return mean, math.Sqrt(SumTorch(dev) / float64(n-correction))
}

func deltaPair() []ops.Param {
	return []ops.Param{
		{Name: "a", Type: ops.TensorIn, Spaces: ops.DeltaSpace},
		{Name: "b", Type: ops.TensorIn, Spaces: ops.DeltaSpace},
	}
}

var selectMaxDelta00x = define(&ops.Def{
	Name: "select_max_delta", Era: "0.0.x",
	Params:  deltaPair(),
	KwOnly:  []ops.Param{floatDefault("alpha", 0.5)},
	Returns: ops.DeltaSpace,
	Traits:  ops.WholeTensor, Keys: ops.KeysIntersect,
	Formula: "where((1-alpha)|a/std(a)| >= alpha|b/std(b)|, a, b)",
	Doc: "select_max_delta of 0.0.21 .. 0.0.29: per element the delta with the larger magnitude " +
		"relative to its tensor's (unbiased) standard deviation; a NaN comparison picks b. " +
		"0.0.20 compared raw magnitudes (no std), an era the table does not separate. " +
		"alpha a Python float, default 0.5.",
	Kernel: func(c *ops.Call) error {
		out := c.Out.Data
		ts, err := tensors("select_max_delta", len(out), c.Args[0], c.Args[1])
		if err != nil {
			return err
		}
		alpha, err := kwFloat00x("select_max_delta", c, 0)
		if err != nil {
			return err
		}
		a, b := ts[0], ts[1]
		_, sa := meanStd(a.Data, 1)
		_, sb := meanStd(b.Data, 1)
		for i := range out {
			x, y := a.At(i), b.At(i)
			if float64((1-alpha)*math.Abs(x/sa)) >= float64(alpha*math.Abs(y/sb)) {
				out[i] = x
			} else {
				out[i] = y
			}
		}
		return nil
	},
})

var selectMaxDelta10 = define(&ops.Def{
	Name: "select_max_delta", Era: "1.0",
	Params:  append(deltaPair(), alphaParam(0.5)),
	Returns: ops.DeltaSpace,
	Traits:  ops.WholeTensor, Keys: ops.KeysIntersect,
	Formula: "where((1-alpha)|z(a)| >= alpha|z(b)|, a, b), z(x) = nan_to_num((x-mean(x))/std(x), nan=0)",
	Doc: "select_max_delta of 0.1.0 .. 1.0.8 (removed in 1.0.9): as 0.0.x's but the deltas are " +
		"standardised ((x - mean)/std, unbiased std, NaN -> 0, ±inf -> ±max). alpha a Tensor hyper.",
	Kernel: func(c *ops.Call) error {
		out := c.Out.Data
		ts, err := tensors("select_max_delta", len(out), c.Args...)
		if err != nil {
			return err
		}
		a, b, alpha := ts[0], ts[1], ts[2]
		in32 := f32Hyper(c, alpha)
		ma, sa := meanStd(a.Data, 1)
		mb, sb := meanStd(b.Data, 1)
		for i := range out {
			x, y, al := a.At(i), b.At(i), alpha.At(i)
			za := math.Abs(nanToNum((x-ma)/sa, 0))
			zb := math.Abs(nanToNum((y-mb)/sb, 0))
			if float64(oneMinus(al, in32)*za) >= float64(al*zb) {
				out[i] = x
			} else {
				out[i] = y
			}
		}
		return nil
	},
})

var _ = define(&ops.Def{
	Name: "select_max_white_delta", Era: "1.0",
	Params:  append(deltaPair(), alphaParam(0.5)),
	Returns: ops.DeltaSpace,
	Traits:  ops.WholeTensor | ops.LinearAlgebra, Keys: ops.KeysIntersect,
	Formula: "where((1-alpha)|a_w| >= alpha|b_w|, a, b), (a_w, b_w) = (C^-1/2 · d)ᵀ, C = cov(d), d = stack(z(a), z(b), dim=-1)",
	Doc:     "select_max_white_delta of 0.1.0 .. 1.0.8 (removed in 1.0.9).",
	Pending: "sd-mecha's torch.cov(d) on the [N, 2] stack treats the N elements as variables (rows are " +
		"variables): the covariance is an N×N rank-1 matrix, so eigh gives N-1 eigenvalues that are " +
		"rounding noise around 0 and 1/sqrt of them is inf or NaN; the result depends on LAPACK's " +
		"rounding (and needs N² memory), so no faithful port exists",
})

// ---- copy_distribution ----

var _ = define(&ops.Def{
	Name: "copy_distribution", Era: "1.0",
	Params:  []ops.Param{{Name: "a", Type: ops.TensorIn, Spaces: ops.AnySpace, Symbol: "S"}},
	Returns: ops.AnySpace, ReturnsSymbol: "S",
	Traits: ops.WholeTensor | ops.Random, Keys: ops.KeysIntersect,
	Formula: "randn_like(a)·std(a, correction=0) + mean(a)",
	Doc:     "copy_distribution of 0.1.0rc1 .. 1.0.8 (removed in 1.0.9): noise with a's mean and population std.",
	Pending: "sd-mecha draws randn_like(a) from the unseeded global torch generator: no recipe " +
		"fixes its numbers, so mechac does not invent a seed for it",
})

// ---- distribution_crossover ----

var distributionCrossover00x = define(&ops.Def{
	Name: "distribution_crossover", Era: "0.0.x",
	Params:  abc00x(),
	KwOnly:  []ops.Param{requiredFloat("alpha"), requiredFloat("tilt")},
	Returns: ops.WeightSpace | ops.DeltaSpace, ReturnsSymbol: "S",
	Traits: ops.WholeTensor, Keys: ops.KeysIntersect,
	Formula: "ungather(irfft((1-F)·rfft(a[σ]) + F·rfft(b[σ]))), σ = argsort(c), F = create_filter(alpha, tilt)",
	Doc: "distribution_crossover of 0.0.26 .. 0.0.29 (not in 0.1.0): a and b are ordered by c, " +
		"mixed by frequency with crossover's 1-D filter (tilt modulo 4, inverted above 2), and put " +
		"back in place. alpha 0 gives a, 1 gives b; tilt 1 or a 0-dim key give the 0.0.x weighted " +
		"sum. argsort(c) is stable here (torch's default sort leaves ties unspecified). Not " +
		"separated by the era table: 0.0.14 .. 0.0.25 (and the fork's 0.0.19) took tilt modulo 2 " +
		"without the inverted branch. The 0.0.4 and 0.0.9 eras have their own definition (a " +
		"trained cut).",
	Kernel: func(c *ops.Call) error {
		const name = "distribution_crossover"
		out := c.Out.Data
		n := len(out)
		ts, err := tensors(name, n, c.Args...)
		if err != nil {
			return err
		}
		alpha, err := kwFloat00x(name, c, 0)
		if err != nil {
			return err
		}
		tilt, err := kwFloat00x(name, c, 1)
		if err != nil {
			return err
		}
		a, b, cc := ts[0], ts[1], ts[2]
		switch {
		case alpha == 0:
			return copyInto(name, c.Out, c.Args[0])
		case alpha == 1:
			return copyInto(name, c.Out, c.Args[1])
		case tilt == 1 || len(a.Shape) == 0:
			return weightedSum00x.Kernel(&ops.Call{Key: c.Key, Numerics: c.Numerics, Out: c.Out,
				Args: c.Args[:2], Kw: []ops.Value{ops.Float(alpha)}})
		}
		return sortedCrossover(name, out, a, b, cc, func(m int) ([]float32, error) {
			return crossoverFilter([]int{m}, alpha, tilt)
		})
	},
})

// sortedCrossover is distribution_crossover's body: a and b gathered in the order of c (stable
// argsort), their rffts mixed as (1-F)·A + F·B with the float32 filter F for the rfft length,
// the irfft put back in place.
func sortedCrossover(name string, out []float64, a, b, cc *ops.Tensor, filter func(m int) ([]float32, error)) error {
	n := len(out)
	if len(a.Data) != n || len(b.Data) != n || len(cc.Data) != n {
		return fmt.Errorf("%s: a, b and c must have %d elements", name, n)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(x, y int) int { return tiesLessNaNLast(cc.Data[x], cc.Data[y]) })
	ad, bd := make([]float64, n), make([]float64, n)
	for j, i := range idx {
		ad[j], bd[j] = a.Data[i], b.Data[i]
	}
	shape := []int{n}
	fa, cshape := rfftn(ad, shape)
	fb, _ := rfftn(bd, shape)
	f, err := filter(cshape[0])
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	for i, w32 := range f {
		f1, w := float64(1-w32), float64(w32)
		fa[i] = complex(float64(f1*real(fa[i]))+float64(w*real(fb[i])), float64(f1*imag(fa[i]))+float64(w*imag(fb[i])))
	}
	irfftn(ad, fa, shape)
	for j, i := range idx {
		out[i] = ad[j]
	}
	return nil
}

// trainedFilter1D is create_filter of 0d1b193 .. 0.0.13 for one dimension of m frequencies:
// mesh = linspace(0, 1, m)² (float32), then up to 100 steps that slide the cut's offset until
// the filter's mean is within 1e-10 of `mean`: tilt < 1e-10: mesh > 1 - offset; else
// clamp(mesh·cot + offset·cot + offset - cot, 0, 1), cot = 1/tan(π·tilt/2). The offset starts
// as the Python float mean and becomes a float32 tensor after the first step (offset += loss);
// every tensor operation is float32. The filter's mean is its float64 sum rounded to float32
// over m (torch sums float32 in float32: the binary cut's means are exact either way).
func trainedFilter1D(m int, mean, tilt float64) ([]float32, error) {
	if !(0 <= mean && mean <= 1) {
		return nil, fmt.Errorf("filter mean must be between 0 and 1")
	}
	mesh := linspace32(0, 1, m)
	for i, g := range mesh {
		mesh[i] = g * g
	}
	f := make([]float32, m)
	off, first := mean, true
	cot := 0.0
	if tilt >= 1e-10 {
		cot = 1 / math.Tan(math.Pi*tilt/2)
	}
	c32 := float32(cot)
	for step := 0; step < 100; step++ {
		if tilt < 1e-10 {
			cut := float32(1 - off)
			for i, x := range mesh {
				f[i] = b2f(x > cut)
			}
		} else {
			oc, o32 := float32(off*cot), float32(off)
			if !first {
				oc = o32 * c32
			}
			for i, x := range mesh {
				v := float32(float32(float32(x*c32)+oc)+o32) - c32
				f[i] = float32(clamp01(float64(v)))
			}
		}
		sum := 0.0
		for _, v := range f {
			sum += float64(v)
		}
		cur := float32(sum) / float32(m)
		loss := float32(mean) - cur
		if math.Abs(float64(loss)) < 1e-10 {
			break
		}
		off = float64(float32(off) + loss)
		first = false
	}
	return f, nil
}

// distributionCrossoverTrained is distribution_crossover of 0d1b193 .. 0.0.13 in era.
func distributionCrossoverTrained(era string) *ops.Def {
	return define(&ops.Def{
		Name: "distribution_crossover", Era: era,
		Params:  abc00x(),
		KwOnly:  []ops.Param{requiredFloat("mean"), requiredFloat("tilt")},
		Returns: ops.WeightSpace | ops.DeltaSpace, ReturnsSymbol: "S",
		Traits: ops.WholeTensor, Keys: ops.KeysIntersect,
		Formula: "ungather(irfft((1-F)·rfft(a[σ]) + F·rfft(b[σ]))), σ = argsort(c), F = the 1-D cut trained to mean `mean`",
		Doc: "distribution_crossover of 0d1b193 .. 0.0.13 (and the fork's eras on 0.0.12/0.0.13): as " +
			"0.0.26's, but the filter over the rfft's frequencies is the squared linspace(0, 1) cut whose " +
			"offset is trained for up to 100 steps until the filter's mean equals `mean`. mean 0 " +
			"gives a; tilt 1 or a 0-dim key give the 0.0.x weighted sum with alpha = mean. 8259d55 " +
			"named the keywords alpha/beta and had only the 0-dim shortcut.",
		Kernel: func(c *ops.Call) error {
			const name = "distribution_crossover"
			out := c.Out.Data
			ts, err := tensors(name, len(out), c.Args...)
			if err != nil {
				return err
			}
			mean, err := kwFloat00x(name, c, 0)
			if err != nil {
				return err
			}
			tilt, err := kwFloat00x(name, c, 1)
			if err != nil {
				return err
			}
			switch {
			case mean == 0:
				return copyInto(name, c.Out, c.Args[0])
			case tilt == 1 || len(ts[0].Shape) == 0:
				return weightedSum00x.Kernel(&ops.Call{Key: c.Key, Numerics: c.Numerics, Out: c.Out,
					Args: c.Args[:2], Kw: []ops.Value{ops.Float(mean)}})
			}
			return sortedCrossover(name, out, ts[0], ts[1], ts[2], func(m int) ([]float32, error) {
				return trainedFilter1D(m, mean, tilt)
			})
		},
	})
}

var (
	_ = distributionCrossoverTrained("0.0.4")
	_ = distributionCrossoverTrained("0.0.9")
	_ = distributionCrossoverTrained("fork-0.0.12")
	_ = distributionCrossoverTrained("fork-0.0.13")
)

// ---- multiply_difference, similarity_add_difference (8259d55) ----

var multiplyDifference004 = define(&ops.Def{
	Name: "multiply_difference", Era: "0.0.4",
	Params:  deltaPair(),
	KwOnly:  []ops.Param{requiredFloat("alpha"), requiredFloat("sign_alpha")},
	Returns: ops.DeltaSpace,
	Traits:  ops.Elementwise, Keys: ops.KeysIntersect,
	Formula: "copysign(|a|^(1-alpha)·|b|^alpha, (1-sign_alpha)·a + sign_alpha·b)",
	Doc: "multiply_difference of 8259d55 only (0d1b193 replaced it with geometric_sum): a geometric " +
		"mean of the magnitudes with the sign of a 0.0.x weighted sum. alpha and sign_alpha are " +
		"required keyword Python floats.",
	Kernel: elementwise00x("multiply_difference", func(x, kw []float64) float64 {
		a, b := x[0], x[1]
		p := float64(math.Pow(math.Abs(a), 1-kw[0]) * math.Pow(math.Abs(b), kw[0]))
		return math.Copysign(p, ws00x(a, b, kw[1]))
	}),
})

var similarityAddDifference00x = define(&ops.Def{
	Name: "similarity_add_difference", Era: "0.0.x",
	Params:  deltaPair(),
	KwOnly:  []ops.Param{requiredFloat("alpha"), floatDefault("similarity_scale", 1)},
	Returns: ops.DeltaSpace,
	Traits:  ops.Elementwise, Keys: ops.KeysIntersect,
	Formula: "(1-s)·(a + alpha·b) + s·((1-alpha/2)·a + alpha/2·b), s = nan_to_num((ab/max(|a|,|b|)² + 1)/2·scale, nan=scale)",
	Doc: "similarity_add_difference of 8259d55 .. e0305da (gone in be45b2c): blends add_difference " +
		"and a half-strength weighted sum by the elementwise similarity of the deltas (NaN, from " +
		"0/0, means full similarity; ±inf becomes ±max). alpha a required keyword Python float, " +
		"similarity_scale default 1.0.",
	Kernel: elementwise00x("similarity_add_difference", func(x, kw []float64) float64 {
		a, b, alpha, scale := x[0], x[1], kw[0], kw[1]
		t := maxAbs(a, b)
		s := float64(float64(a*b)/float64(t*t)+1) / 2
		s = nanToNum(float64(s*scale), scale)
		diff := a + float64(alpha*b)
		sum := ws00x(a, b, alpha/2)
		return float64((1-s)*diff) + float64(s*sum)
	}),
})

// ---- similarity_sum / normalized_similarity_sum (8259d55 .. e0305da) ----

// addCosine00x is 8259d55's add_cosine_generic: k = 1 - clamp(sim - alpha, 0, 1) per column,
// then the 0.0.x weighted sum (1-k)*a + k*b (not lerp).
func addCosine00x(out []float64, a, b *ops.Tensor, alpha float64, sim []float64) {
	cols := len(sim)
	for i := range out {
		k := 1 - clamp01(sim[i%cols]-alpha)
		out[i] = ws00x(a.Data[i], b.Data[i], k)
	}
}

// modelPair00x checks that a and b have the output's shape and reads alpha.
func modelPair00x(name string, c *ops.Call) (*ops.Tensor, *ops.Tensor, float64, error) {
	n := len(c.Out.Data)
	ts, err := tensors(name, n, c.Args...)
	if err != nil {
		return nil, nil, 0, err
	}
	a, b := ts[0], ts[1]
	if len(a.Data) != n || len(b.Data) != n || !ops.SameShape(a.Shape, b.Shape) {
		return nil, nil, 0, fmt.Errorf("%s: a %s and b %s must have the same shape", name, ops.FormatShape(a.Shape), ops.FormatShape(b.Shape))
	}
	alpha, err := kwFloat00x(name, c, 0)
	return a, b, alpha, err
}

func modelPair() []ops.Param {
	return []ops.Param{
		{Name: "a", Type: ops.TensorIn, Spaces: ops.WeightSpace},
		{Name: "b", Type: ops.TensorIn, Spaces: ops.WeightSpace},
	}
}

var normalizedSimilaritySum00x = define(&ops.Def{
	Name: "normalized_similarity_sum", Era: "0.0.x",
	Params:  modelPair(),
	KwOnly:  []ops.Param{requiredFloat("alpha")},
	Returns: ops.WeightSpace,
	Traits:  ops.WholeTensor, Keys: ops.KeysIntersect,
	Formula: "(1-k)·a + k·b, k = 1 - clamp(cos_dim0(a/|a|_dim0, b/|b|_dim0) - alpha, 0, 1)",
	Doc: "add_cosine_a under its first name (8259d55 .. e0305da; renamed in be45b2c): the same " +
		"column similarity, but the blend is the 0.0.x weighted sum (two rounded products and a " +
		"sum, not lerp) and alpha is a required keyword Python float.",
	Kernel: func(c *ops.Call) error {
		a, b, alpha, err := modelPair00x("normalized_similarity_sum", c)
		if err != nil {
			return err
		}
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
		addCosine00x(c.Out.Data, a, b, alpha, sim)
		return nil
	},
})

var similaritySum00x = define(&ops.Def{
	Name: "similarity_sum", Era: "0.0.x",
	Params:  modelPair(),
	KwOnly:  []ops.Param{requiredFloat("alpha")},
	Returns: ops.WeightSpace,
	Traits:  ops.WholeTensor, Keys: ops.KeysIntersect,
	Formula: "(1-k)·a + k·b, k = 1 - clamp((cos_dim0(a, b) + Σab/(|a||b|))/2 - alpha, 0, 1)",
	Doc: "add_cosine_b under its first name (8259d55 .. e0305da; renamed in be45b2c), blended with " +
		"the 0.0.x weighted sum (not lerp); alpha a required keyword Python float.",
	Kernel: func(c *ops.Call) error {
		a, b, alpha, err := modelPair00x("similarity_sum", c)
		if err != nil {
			return err
		}
		n := len(a.Data)
		rows, cols := dim0(a.Shape, n)
		sim := make([]float64, cols)
		CosineSimilarityDim0Torch(a.Data, b.Data, rows, cols, 1e-8, sim)
		prod := c.Out.Data
		for i := range prod {
			prod[i] = a.Data[i] * b.Data[i]
		}
		mag := SumTorch(prod) / (NormTorch(a.Data) * NormTorch(b.Data))
		for j := range sim {
			sim[j] = (sim[j] + mag) / 2
		}
		addCosine00x(c.Out.Data, a, b, alpha, sim)
		return nil
	},
})

// ---- model_stock_for_tensor, n_average (0.0.21 .. 0.0.29) ----

var modelStockForTensor00x = define(&ops.Def{
	Name: "model_stock_for_tensor", Era: "0.0.x",
	Varargs: &ops.Param{Name: "deltas", Type: ops.TensorIn, Spaces: ops.DeltaSpace},
	KwOnly:  []ops.Param{floatDefault("cos_eps", 1e-6)},
	Returns: ops.DeltaSpace,
	Traits:  ops.WholeTensor, Keys: ops.KeysIntersect,
	Formula: "nan_to_num(t * mean_i(delta_i)), t = R*c/(1+(R-1)*c), c = mean_i cos(delta_i, delta_{i+1}) along the last dim",
	Doc: "model_stock under its 0.0.x name (0.0.21 .. 0.0.29 and the fork from 01823a9; renamed " +
		"model_stock in 0.1.0rc1): the same math, cos_eps a Python float.",
	Kernel: func(c *ops.Call) error { return modelStock.Kernel(c) },
})

var nAverage00x = define(&ops.Def{
	Name: "n_average", Era: "0.0.x",
	Varargs: &ops.Param{Name: "models", Type: ops.TensorIn, Spaces: ops.WeightSpace | ops.DeltaSpace, Symbol: "S"},
	Returns: ops.WeightSpace | ops.DeltaSpace, ReturnsSymbol: "S",
	Traits: ops.Elementwise, Keys: ops.KeysIntersect,
	Formula: "mean(stack(models), dim=0)",
	Doc: "n_average of 0.0.21 .. 0.0.29 (and the fork's 7b6e95f): the plain mean of the stacked " +
		"models (torch's sum over dim 0 divided by the count), where today's is a running lerp.",
	Kernel: func(c *ops.Call) error {
		n := len(c.Out.Data)
		if len(c.Var) == 0 {
			return fmt.Errorf("n_average: no models")
		}
		ts, err := tensors("n_average", n, c.Var...)
		if err != nil {
			return err
		}
		copy(c.Out.Data, meanDim0(ts, n))
		return nil
	},
})
