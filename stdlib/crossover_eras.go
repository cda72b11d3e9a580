package stdlib

import (
	"fmt"
	"math"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/num"
)

// crossover from 0d1b193 to 0.0.13 (and in the fork's eras on 0.0.12 and 0.0.13): the body did
// not change over these commits, only the signature (mean and tilt required up to e0305da,
// defaults 0.5 and 0.0 from 165704a). Its weight is `mean`, and its filter is trained: the
// cut's offset slides until the filter's mean is `mean` (create_filter of those commits, the
// N-D form of trainedFilter1D). Today's crossover has neither; 0.0.x merge lines may carry
// unknown keywords, so falling back to it would silently drop `mean`.
//
//	mean == 0 -> a
//	tilt == 1 -> (1-mean)·a + mean·b
//	0-dim, or allclose(a.half(), b.half()) -> (1-tilt)·a + tilt·b  (sic: tilt)
//	else x = irfftn((1-F)·rfftn(a, s) + F·rfftn(b, s), s), s = a.shape[1:] when a.shape[0] >
//	     40000 or a is 4-D with kernel dims summing past 2 (the first dimension is then a batch),
//	     else a.shape; F = the trained cut over the whole spectrum's shape (batch included)
func crossoverOld(era string, kw []ops.Param, commits string) *ops.Def {
	return define00x(&ops.Def{
		Name: "crossover", Era: era,
		Params:  []ops.Param{symbolIn00x("a"), symbolIn00x("b")},
		KwOnly:  kw,
		Traits:  ops.WholeTensor,
		Scratch: crossoverScratch,
		Formula: "irfftn((1-F)·rfftn(a) + F·rfftn(b)), F = the cut trained to mean `mean`",
		Doc: "crossover of " + commits + ": mean and tilt keyword-only Python floats. mean 0 gives " +
			"a; tilt 1 the 0.0.x weighted sum with alpha = mean; a 0-dim key or a and b equal within " +
			"torch.allclose after rounding to float16 give the weighted sum with alpha = tilt (as the " +
			"source has it). Otherwise a and b are mixed by frequency over every dimension (over all " +
			"but the first when it exceeds 40000, or for a 4-D kernel larger than 1x1, the first " +
			"then being a batch) with a filter whose cut (tilted by tilt) is slid for up to 100 steps " +
			"until its mean is `mean`. Ported from the source: no sd-mecha output of these commits " +
			"was at hand to compare with (SPEC §11.5).",
		Kernel: crossover00xKernel,
	})
}

var (
	// 0d1b193 .. e0305da: both required (8259d55 named them alpha and beta).
	_ = crossoverOld("0.0.4", []ops.Param{requiredFloat("mean"), requiredFloat("tilt")}, "0d1b193 .. 60d0764")
	_ = crossoverOld("0.0.5", []ops.Param{requiredFloat("mean"), requiredFloat("tilt")}, "953313a .. e0305da")
	// 165704a (0.0.6) .. 0.0.13 gave them defaults.
	_ = crossoverOld("0.0.9", []ops.Param{floatDefault("mean", 0.5), floatDefault("tilt", 0)}, "165704a .. 0.0.13")
	_ = crossoverOld("fork-0.0.12", []ops.Param{floatDefault("mean", 0.5), floatDefault("tilt", 0)}, "the fork's 4edc67c")
	_ = crossoverOld("fork-0.0.13", []ops.Param{floatDefault("mean", 0.5), floatDefault("tilt", 0)}, "the fork's 29bac1a .. 01823a9")
)

// crossover00xKernel is the kernel of crossoverOld.
func crossover00xKernel(c *ops.Call) error {
	const name = "crossover"
	out := c.Out.Data
	ts, err := tensors(name, len(out), c.Args[0], c.Args[1])
	if err != nil {
		return err
	}
	kw, err := kwFloats00x(name, c)
	if err != nil {
		return err
	}
	mean, tilt := kw[0], kw[1]
	a, b := ts[0], ts[1]
	ws := func(alpha float64) error {
		return weightedSum00x.Kernel(&ops.Call{Key: c.Key, Numerics: c.Numerics, Out: c.Out,
			Args: c.Args[:2], Kw: []ops.Value{ops.Float(alpha)}})
	}
	switch {
	case mean == 0:
		return copyInto(name, c.Out, c.Args[0])
	case tilt == 1:
		return ws(mean)
	case len(a.Shape) == 0 || allCloseHalf(a, b, len(out)):
		return ws(tilt)
	}
	if len(a.Data) != len(out) || len(b.Data) != len(out) || !ops.SameShape(a.Shape, b.Shape) {
		return fmt.Errorf("%s: a %s and b %s must have the same shape", name, ops.FormatShape(a.Shape), ops.FormatShape(b.Shape))
	}
	shape, batch := a.Shape, 1
	if a.Shape[0] > 40000 || len(a.Shape) == 4 && a.Shape[2]+a.Shape[3] > 2 {
		shape, batch = a.Shape[1:], a.Shape[0]
	}
	if len(shape) == 0 {
		return fmt.Errorf("%s: a 1-D tensor of %d elements leaves rfftn no dimension to transform", name, a.Shape[0])
	}
	per := ops.NumElements(shape)
	if per == 0 {
		return nil
	}
	var filter []float32
	for r := range batch {
		lo, hi := r*per, (r+1)*per
		fa, cshape := rfftn(a.Data[lo:hi], shape)
		fb, _ := rfftn(b.Data[lo:hi], shape)
		if filter == nil {
			fshape := cshape // the spectrum's shape, its batch dimension included
			if len(shape) < len(a.Shape) {
				fshape = append([]int{batch}, cshape...)
			}
			if filter, err = trainedFilter(fshape, mean, tilt); err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
		}
		crossoverMix(fa, fb, filter[r*len(fa):(r+1)*len(fa)])
		irfftn(out[lo:hi], fa, shape)
	}
	return nil
}

// crossoverMix sets fa to (1-F)·fa + F·fb with the float32 filter F: torch promotes 1 - F and
// F to complex128 (imaginary +0), so each product is a complex one.
func crossoverMix(fa, fb []complex128, filter []float32) {
	for i, f := range filter {
		f1 := float64(1 - f) // float32 1 - filter, widened
		w := float64(f)
		ar, ai, br, bi := real(fa[i]), imag(fa[i]), real(fb[i]), imag(fb[i])
		re := (f1*ar - 0*ai) + (w*br - 0*bi)
		im := (f1*ai + 0*ar) + (w*bi + 0*br)
		fa[i] = complex(re, im)
	}
}

// allCloseHalf is torch.allclose(a.half(), b.half()) (rtol 1e-5, atol 1e-8): the values
// rounded to float16 through float32 (torch's double -> Half), then, each operation computed in
// float32 and rounded to float16, |a - b| <= 1e-8 + |1e-5·b|, or a == b; NaN is never close.
func allCloseHalf(a, b *ops.Tensor, n int) bool {
	half := func(x float64) float64 { return num.Narrow(x, ops.F16, true) }
	for i := 0; i < n; i++ {
		x, y := half(a.At(i)), half(b.At(i))
		if x == y {
			continue
		}
		allowed := half(float64(float32(1e-8) + float32(math.Abs(half(float64(float32(1e-5)*float32(y)))))))
		actual := math.Abs(half(float64(float32(x) - float32(y))))
		if math.IsInf(actual, 0) || actual != actual || !(actual <= allowed) {
			return false
		}
	}
	return true
}

// trainedFilter is create_filter of 0d1b193 .. 0.0.13 over a spectrum of the given shape: per
// dimension linspace(0, 1, s)² (float32); with more than one dimension the mesh
// sqrt(Σ_d g_d²) / sqrt(ndim) (the sum in float32 in dimension order, the division by the
// Python float in float32), else g²; then up to 100 steps slide the cut's offset until the
// filter's mean is within 1e-10 of `mean`: tilt < 1e-10: mesh > 1 - offset; else
// clamp(mesh·cot + offset·cot + offset - cot, 0, 1), cot = 1/tan(π·tilt/2). The offset starts
// as the Python float mean and becomes a float32 tensor after the first step (offset += loss);
// every tensor operation is float32. The filter's mean is its float64 sum rounded to float32
// over the element count: torch sums float32 in float32, which gives the same mean for the
// sharp cut's 0/1 values up to 2^24 ones, and may differ in the last bit for a ramp's.
func trainedFilter(shape []int, mean, tilt float64) ([]float32, error) {
	if !(0 <= mean && mean <= 1) {
		return nil, fmt.Errorf("filter mean must be between 0 and 1")
	}
	mesh := trainedFilterMesh(shape)
	m := len(mesh)
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

// trainedFilterMesh is trainedFilter's mesh for shape (C order).
func trainedFilterMesh(shape []int) []float32 {
	k := len(shape)
	grads := make([][]float32, k)
	for d, s := range shape {
		g := linspace32(0, 1, s)
		for i, v := range g {
			g[i] = v * v
		}
		grads[d] = g
	}
	if k == 1 {
		return grads[0]
	}
	mesh := make([]float32, ops.NumElements(shape))
	root := float32(math.Sqrt(float64(k)))
	idx := make([]int, k)
	for i := range mesh {
		var acc float32
		for d := range grads {
			acc += grads[d][idx[d]]
		}
		mesh[i] = float32(math.Sqrt(float64(acc))) / root
		for d := k - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return mesh
}
