package stdlib

import (
	"fmt"
	"math"
	"slices"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/rng"
)

// Names sd-mecha no longer registers in 1.1.5, defined with the math of the eras that had them
// (catalogue §3 "Names across history"; facts read from the sd-mecha tags and commits cited in
// each Doc). 0.0.x hyper-parameters are keyword-only Python floats and the tensors share
// 0.0.x's MODEL|DELTA symbol (symbolIn00x); every torch operation is rounded on its own (the
// float64 conversions below forbid Go from fusing a product into a multiply-add).
//
// Variants inside one era of the era table that the table cannot tell apart are documented on
// the Def: the newest math of the era wins. The older clip/clamp, add_cosine (and its first
// names) and rotate are in limit_eras.go and rotate_eras.go, the TIES family in ties_eras.go;
// 0.0.x variants of names 1.1.5 still has in slerp_eras.go, slicing_eras.go (top_k_tensor_sum)
// and crossover_eras.go (SPEC.md §11.6).

// kwFloats00x reads every keyword-only parameter of c as a Python float, in signature order.
func kwFloats00x(name string, c *ops.Call) ([]float64, error) {
	kw := make([]float64, len(c.Kw))
	for i, v := range c.Kw {
		x, ok := v.Float64()
		if !ok {
			return nil, fmt.Errorf("%s: keyword %d must be a number, got %s", name, i+1, v)
		}
		kw[i] = x
	}
	return kw, nil
}

// requiredFloat is a keyword-only Python float without a default (0.0.x `alpha: float`).
func requiredFloat(name string) ops.Param {
	return ops.Param{Name: name, Type: ops.FloatHyper, Spaces: ops.ParamSpace}
}

// define00x registers d as a 0.0.x method returning its inputs' shared MODEL|DELTA space
// (0.0.x's SameMergeSpace, symbol S) with the intersection key rule: the part of the
// signature most 0.0.x definitions share.
func define00x(d *ops.Def) *ops.Def {
	d.Returns, d.ReturnsSymbol, d.Keys = ops.WeightSpace|ops.DeltaSpace, "S", ops.KeysIntersect
	return define(d)
}

// elementwise00x is the kernel of a 0.0.x elementwise method of len(Params) tensors and
// Python-float keywords: out[i] = f(tensor values at i, keyword values).
func elementwise00x(name string, f func(x, kw []float64) float64) ops.Kernel {
	return func(c *ops.Call) error {
		ts, err := tensors(name, len(c.Out.Data), c.Args...)
		if err != nil {
			return err
		}
		kw, err := kwFloats00x(name, c)
		if err != nil {
			return err
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

// ---- copy_region / copy_top_k (8259d55 .. e0305da) ----

var widthOffset00x = []ops.Param{requiredFloat("width"), requiredFloat("offset")}

// widthOffsetDef00x fills in the signature copy_region and copy_top_k share: (a, b, *, width,
// offset), whole-tensor.
func widthOffsetDef00x(d *ops.Def) *ops.Def {
	d.Era, d.Params, d.KwOnly, d.Traits = "0.0.x", []ops.Param{symbolIn00x("a"), symbolIn00x("b")}, widthOffset00x, ops.WholeTensor
	return define00x(d)
}

var copyRegion00x = widthOffsetDef00x(&ops.Def{
	Name:    "copy_region",
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

var copyTopK00x = widthOffsetDef00x(&ops.Def{
	Name:    "copy_top_k",
	Formula: "a_i, or sorted(a)[rank_b(i)] where kth(start) < |that value| <= kth(end) (outside when wrapped)",
	Doc: "top_k_tensor_sum under its first name (8259d55 .. e0305da; renamed in be45b2c), with " +
		"the band open at the bottom: kth(start) < |x| (today's is closed, <=). kth is the " +
		"float32 kthvalue of |sorted a|, -1 for k <= 0; b's ranks from a stable argsort. width " +
		"and offset are required keyword Python floats.",
	Kernel: func(c *ops.Call) error {
		const name = "copy_top_k"
		kw, err := kwFloats00x(name, c)
		if err != nil {
			return err
		}
		width, offset := kw[0], kw[1]
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

var copyDifference00x = define00x(&ops.Def{
	Name: "copy_difference", Era: "0.0.x",
	Params:  []ops.Param{symbolIn00x("a"), symbolIn00x("b"), symbolIn00x("c")},
	Traits:  ops.Elementwise,
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

func abc00x() []ops.Param {
	return []ops.Param{symbolIn00x("a"), symbolIn00x("b"), symbolIn00x("c")}
}

// maskedDifference00x is a 0.0.x elementwise method (a, b, c, *, alpha: Hyper = 1.0) computing
// a + (b - c)*alpha*mask(a, b, c), each operation rounded: the shape train_difference,
// add_opposite and clamped_add_opposite share in every 0.0.x release.
func maskedDifference00x(name, era, formula, doc string, mask func(a, b, c float64) float64) *ops.Def {
	return define00x(&ops.Def{
		Name: name, Era: era,
		Params: abc00x(), KwOnly: []ops.Param{floatDefault("alpha", 1)},
		Traits:  ops.Elementwise,
		Formula: formula,
		Doc:     doc + " alpha a Python float, default 1.0; nan0 is nan_to_num(nan=0).",
		Kernel: elementwise00x(name, func(x, kw []float64) float64 {
			a, b, c := x[0], x[1], x[2]
			return a + float64(float64((b-c)*kw[0])*mask(a, b, c))
		}),
	})
}

// maxAbs is torch.maximum(|x|, |y|) (NaN propagates).
func maxAbs(x, y float64) float64 { return torchMaximum(math.Abs(x), math.Abs(y), true) }

// dissimilarity00x is max(nan0((c-a)(b-c)/max(|a-c|,|b-c|)²), 0), each operation rounded.
func dissimilarity00x(a, b, c float64) float64 {
	t := maxAbs(a-c, b-c)
	return clampMin(nanToNum(float64((c-a)*(b-c))/float64(t*t), 0), 0)
}

// trainDifferenceOld is be45b2c .. 0.0.19's train_difference, in era: the 0.0.9 era and the
// fork's eras built on 0.0.12, 0.0.13 and 0.0.19.
func trainDifferenceOld(era string) *ops.Def {
	return maskedDifference00x("train_difference", era,
		"a + (b-c)·alpha·max(nan0((c-a)(b-c)/max(|a-c|,|b-c|)²), 0)",
		"train_difference of be45b2c .. 0.0.19 and of the fork's eras built on them (the 0.0.29 "+
			"era gets 0.0.20's formula, so upstream 0.0.19 alone is not reproduced): the dissimilarity "+
			"of the two differences from c, clamped at 0.",
		dissimilarity00x)
}

var (
	_ = trainDifferenceOld("0.0.9")
	_ = trainDifferenceOld("fork-0.0.12")
	_ = trainDifferenceOld("fork-0.0.13")
	_ = trainDifferenceOld("fork-0.0.19")
)

var trainDifference00x = maskedDifference00x("train_difference", "0.0.x",
	"a + (b-c)·alpha·1.8·nan0(|b-a|/(|b-a|+|b-c|))",
	"train_difference of 0.0.20 .. 0.0.29 (6a517f0, #35, brought back the first formula; 1.0's "+
		"train_difference_mask returns the mask instead).",
	func(a, b, c float64) float64 {
		return 1.8 * nanToNum(math.Abs(b-a)/(math.Abs(b-a)+math.Abs(b-c)), 0)
	})

var addOpposite00x = maskedDifference00x("add_opposite", "0.0.x",
	"a + (b-c)·alpha·2·nan0(|a-b|/(|a-b|+|a+b-2c|))",
	"add_opposite of 0.0.21 .. 0.0.29 (0.1.0 renamed it add_opposite_mask, returning the mask). "+
		"0.0.20 had mask 1 - nan0((a-c)(b-c)/max(|a-c|,|b-c|)²), an era the table does not "+
		"separate.",
	func(a, b, c float64) float64 {
		d := math.Abs(a - b)
		return 2 * nanToNum(d/(d+math.Abs(float64(a+b)-2*c)), 0)
	})

var clampedAddOpposite00x = maskedDifference00x("clamped_add_opposite", "0.0.x",
	"a + (b-c)·alpha·2·max(nan0((c-a)(b-c)/max(|a-c|,|b-c|)²), 0)",
	"clamped_add_opposite of 0.0.20 .. 0.0.29 (0.1.0 renamed it add_strict_opposite_mask, "+
		"returning the mask).",
	func(a, b, c float64) float64 { return dissimilarity00x(a, b, c) * 2 })

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

// selectLarger is select_max_delta's where(wa·za(a) >= wb·zb(b), a, b) with (wa, wb) =
// weights(i), each product rounded; a NaN comparison picks b.
func selectLarger(out []float64, a, b *ops.Tensor, weights func(i int) (float64, float64), za, zb func(float64) float64) {
	for i := range out {
		x, y := a.At(i), b.At(i)
		wa, wb := weights(i)
		if float64(wa*za(x)) >= float64(wb*zb(y)) {
			out[i] = x
		} else {
			out[i] = y
		}
	}
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
		kw, err := kwFloats00x("select_max_delta", c)
		if err != nil {
			return err
		}
		alpha := kw[0]
		a, b := ts[0], ts[1]
		_, sa := meanStd(a.Data, 1)
		_, sb := meanStd(b.Data, 1)
		selectLarger(out, a, b, func(int) (float64, float64) { return 1 - alpha, alpha },
			func(x float64) float64 { return math.Abs(x / sa) }, func(y float64) float64 { return math.Abs(y / sb) })
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
		selectLarger(out, a, b, func(i int) (float64, float64) { al := alpha.At(i); return oneMinus(al, in32), al },
			func(x float64) float64 { return math.Abs(nanToNum((x-ma)/sa, 0)) },
			func(y float64) float64 { return math.Abs(nanToNum((y-mb)/sb, 0)) })
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
	Doc: "copy_distribution of 0.1.0rc1 .. 1.0.8 (removed in 1.0.9): noise with a's mean and " +
		"population std. sd-mecha draws randn_like(a) from its unseeded global torch generator, so " +
		"its numbers depend on everything drawn before in the process (and on thread timing); " +
		"mechac draws each key's noise from a fresh torch generator with torch's default seed " +
		"(67280421310721), as the first draw of a new process would, so the bytes are the same on " +
		"every run. mean = sum/n and std = sqrt(sum((x - mean)^2)/n) in float64.",
	Kernel: copyDistributionKernel,
})

// copyDistributionKernel is copy_distribution@1.0 with a per-key default-seeded generator.
func copyDistributionKernel(c *ops.Call) error {
	ts, err := tensors("copy_distribution", len(c.Out.Data), c.Args[0])
	if err != nil {
		return err
	}
	a, out := ts[0].Data, c.Out.Data
	n := float64(len(a))
	if len(a) == 0 {
		return nil
	}
	mean := SumTorch(a) / n
	v := 0.0
	for _, x := range a {
		v += (x - mean) * (x - mean)
	}
	std := math.Sqrt(v / n)
	rng.NewTorch(rng.TorchDefaultSeed).RandnFloat64(out)
	for i, z := range out {
		out[i] = z*std + mean
	}
	return nil
}

// ---- distribution_crossover ----

var distributionCrossover00x = define00x(&ops.Def{
	Name: "distribution_crossover", Era: "0.0.x",
	Params:  abc00x(),
	KwOnly:  []ops.Param{requiredFloat("alpha"), requiredFloat("tilt")},
	Traits:  ops.WholeTensor,
	Formula: "ungather(irfft((1-F)·rfft(a[σ]) + F·rfft(b[σ]))), σ = argsort(c), F = create_filter(alpha, tilt)",
	Doc: "distribution_crossover of 0.0.26 .. 0.0.29 (not in 0.1.0): a and b are ordered by c, " +
		"mixed by frequency with crossover's 1-D filter (tilt modulo 4, inverted above 2), and put " +
		"back in place. alpha 0 gives a, 1 gives b; tilt 1 or a 0-dim key give the 0.0.x weighted " +
		"sum. argsort(c) is stable here (torch's default sort leaves ties unspecified). Not " +
		"separated by the era table: 0.0.14 .. 0.0.25 (and the fork's 0.0.19) took tilt modulo 2 " +
		"without the inverted branch. The 0.0.4 and 0.0.9 eras have their own definition (a " +
		"trained cut).",
	Kernel: distributionCrossoverKernel(true, func(m int, alpha, tilt float64) ([]float32, error) {
		return crossoverFilter([]int{m}, alpha, tilt)
	}),
})

// distributionCrossoverKernel is distribution_crossover's kernel for the keywords (w, tilt),
// w being alpha (0.0.14 on) or mean (0d1b193 .. 0.0.13): w = 0 gives a; w = 1 gives b when
// oneGivesB (0.0.14 on); tilt = 1 or a 0-dim key give the 0.0.x weighted sum ws(a, b, w); else
// sortedCrossover with the era's filter for the rfft length.
func distributionCrossoverKernel(oneGivesB bool, filter func(m int, w, tilt float64) ([]float32, error)) ops.Kernel {
	return func(c *ops.Call) error {
		const name = "distribution_crossover"
		out := c.Out.Data
		ts, err := tensors(name, len(out), c.Args...)
		if err != nil {
			return err
		}
		kw, err := kwFloats00x(name, c)
		if err != nil {
			return err
		}
		w, tilt := kw[0], kw[1]
		switch {
		case w == 0:
			return copyInto(name, c.Out, c.Args[0])
		case oneGivesB && w == 1:
			return copyInto(name, c.Out, c.Args[1])
		case tilt == 1 || len(ts[0].Shape) == 0:
			return weightedSum00x.Kernel(&ops.Call{Key: c.Key, Numerics: c.Numerics, Out: c.Out,
				Args: c.Args[:2], Kw: []ops.Value{ops.Float(w)}})
		}
		return sortedCrossover(name, out, ts[0], ts[1], ts[2], func(m int) ([]float32, error) {
			return filter(m, w, tilt)
		})
	}
}

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

// trainedFilter1D is create_filter of 0d1b193 .. 0.0.13 for one dimension of m frequencies
// (trainedFilter: mesh = linspace(0, 1, m)², the cut's offset trained to `mean`).
func trainedFilter1D(m int, mean, tilt float64) ([]float32, error) {
	return trainedFilter([]int{m}, mean, tilt)
}

// distributionCrossoverTrained is distribution_crossover of 0d1b193 .. 0.0.13 in era.
func distributionCrossoverTrained(era string) *ops.Def {
	return define00x(&ops.Def{
		Name: "distribution_crossover", Era: era,
		Params:  abc00x(),
		KwOnly:  []ops.Param{requiredFloat("mean"), requiredFloat("tilt")},
		Traits:  ops.WholeTensor,
		Formula: "ungather(irfft((1-F)·rfft(a[σ]) + F·rfft(b[σ]))), σ = argsort(c), F = the 1-D cut trained to mean `mean`",
		Doc: "distribution_crossover of 0d1b193 .. 0.0.13 (and the fork's eras on 0.0.12/0.0.13): as " +
			"0.0.26's, but the filter over the rfft's frequencies is the squared linspace(0, 1) cut whose " +
			"offset is trained for up to 100 steps until the filter's mean equals `mean`. mean 0 " +
			"gives a; tilt 1 or a 0-dim key give the 0.0.x weighted sum with alpha = mean. 8259d55 " +
			"named the keywords alpha/beta and had only the 0-dim shortcut.",
		Kernel: distributionCrossoverKernel(false, trainedFilter1D),
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

var nAverage00x = define00x(&ops.Def{
	Name: "n_average", Era: "0.0.x",
	Varargs: &ops.Param{Name: "models", Type: ops.TensorIn, Spaces: ops.WeightSpace | ops.DeltaSpace, Symbol: "S"},
	Traits:  ops.Elementwise,
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
