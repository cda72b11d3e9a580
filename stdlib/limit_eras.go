package stdlib

import (
	"fmt"

	"github.com/mechac/mechac/ops"
)

// Limiting and cosine methods in the eras before sd-mecha 0.1.0, read from the tags 0.0.10 ..
// 0.0.29 and the commits 8259d55 .. feefbf4 and the fork's 4edc67c .. 1458190 of
// ljleb/sd-mecha:
//
//   - clip (8259d55 .. 0.0.16) was renamed clamp in a90d036 (0.0.17, June 2024); both pulled the
//     limits toward the midrange (max+min)/2 of the bounds until 0.0.24, and toward their mean
//     from 0.0.25 (f8bb603). The fork's eras carry their upstream base's clamp: 0.0.12, 0.0.13
//     and 0.0.19 the midrange, 0.0.26 the mean.
//   - add_cosine_a / add_cosine_b (be45b2c .. 0.0.29, every fork era; first named
//     normalized_similarity_sum / similarity_sum) have today's similarities but a required
//     keyword alpha (no default) and the 0.0.x weighted sum (1-k)·a + k·b instead of lerp.

// clampSig00x is 0.0.x clamp's signature: (a, *bounds, stiffness: Hyper = 0.0), every tensor
// of the same MODEL|DELTA space.
func clampSig00x(d *ops.Def) *ops.Def {
	d.Params = []ops.Param{symbolIn00x("a")}
	d.Varargs = &ops.Param{Name: "bounds", Type: ops.TensorIn, Spaces: ops.WeightSpace | ops.DeltaSpace, Symbol: "S"}
	d.KwOnly = []ops.Param{floatDefault("stiffness", 0)}
	d.Traits = ops.Elementwise
	return define00x(d)
}

const clampMidrangeFormula = "min(max(a, lo), hi); lo, hi = min/max of bounds, pulled toward the bounds nearest (max+min)/2 by stiffness"

// clampMidrangeDoc is the part of the midrange definitions' Doc that says the math.
const clampMidrangeDoc = "the limits are the bounds' maximum and minimum; a non-zero stiffness " +
	"s (NaN counts) pulls them toward the bounds closest to the midrange m = (max+min)/2 from " +
	"above and below (hi = (1-s)·max + s·(smallest bound >= m), lo likewise, 0.0.x weighted " +
	"sums), not toward the bounds' mean as 0.0.25 on does. stiffness is a Python float."

var clip00x = clampSig00x(&ops.Def{
	Name: "clip", Era: "0.0.x",
	Formula: clampMidrangeFormula,
	Doc:     "clamp under its old name (8259d55 .. 0.0.16; clamp from a90d036, 0.0.17): " + clampMidrangeDoc,
	Kernel:  clampKernel("clip", clampMidrange),
})

var clampMidrange00x = clampSig00x(&ops.Def{
	Name: "clamp", Era: "0.0.x",
	Formula: clampMidrangeFormula,
	Doc: "clamp of a90d036 (0.0.17) .. 0.0.24, which the 0.0.5 .. 0.0.18 era and the fork's " +
		"0.0.12 .. 0.0.19 eras get (and, before the name existed, the 0.0.4 era): " + clampMidrangeDoc,
	Kernel: clampKernel("clamp", clampMidrange),
})

// clampMean00x is clamp of 0.0.25 .. 0.0.29 in era: today's math under 0.0.x's signature.
func clampMean00x(era string) *ops.Def {
	return clampSig00x(&ops.Def{
		Name: "clamp", Era: era,
		Formula: clampDef.Formula,
		Doc: "clamp of 0.0.25 (f8bb603) .. 0.0.29 and the fork's 0.0.26: the pull goes toward the " +
			"bounds' mean torch.stack(bounds).mean(0), as today. Upstream 0.0.19 .. 0.0.24 " +
			"(midrange) share the 0.0.29 era and are not reproduced there.",
		Kernel: clampKernel("clamp", clampMean),
	})
}

var (
	_ = clampMean00x("0.0.29")
	_ = clampMean00x("fork-0.0.26")
	_ = clampMean00x("fork-0.0.26-hotfix")
)

// addCosine00x is 0.0.x's add_cosine_generic: k = 1 - clamp(sim - alpha, 0, 1) per column,
// then the 0.0.x weighted sum (1-k)*a + k*b (not lerp).
func addCosine00x(out []float64, a, b *ops.Tensor, alpha float64, sim []float64) {
	cols := len(sim)
	for i := range out {
		k := 1 - clamp01(sim[i%cols]-alpha)
		out[i] = ws00x(a.Data[i], b.Data[i], k)
	}
}

// cosine00x is a 0.0.x cosine method: (a: model, b: model, *, alpha) with alpha a required
// keyword Python float, the similarity of sim and the blend of addCosine00x.
func cosine00x(name, formula, doc string, sim func(a, b *ops.Tensor, scratch []float64) []float64) *ops.Def {
	return define(&ops.Def{
		Name: name, Era: "0.0.x",
		Params:  modelPair(),
		KwOnly:  []ops.Param{requiredFloat("alpha")},
		Returns: ops.WeightSpace,
		Traits:  ops.WholeTensor, Keys: ops.KeysIntersect,
		Formula: formula,
		Doc:     doc,
		Kernel: func(c *ops.Call) error {
			n := len(c.Out.Data)
			ts, err := tensors(name, n, c.Args...)
			if err != nil {
				return err
			}
			a, b := ts[0], ts[1]
			if len(a.Data) != n || len(b.Data) != n || !ops.SameShape(a.Shape, b.Shape) {
				return fmt.Errorf("%s: a %s and b %s must have the same shape", name, ops.FormatShape(a.Shape), ops.FormatShape(b.Shape))
			}
			kw, err := kwFloats00x(name, c)
			if err != nil {
				return err
			}
			addCosine00x(c.Out.Data, a, b, kw[0], sim(a, b, c.Out.Data))
			return nil
		},
	})
}

const (
	cosineAFormula00x = "(1-k)·a + k·b, k = 1 - clamp(cos_dim0(a/|a|_dim0, b/|b|_dim0) - alpha, 0, 1)"
	cosineBFormula00x = "(1-k)·a + k·b, k = 1 - clamp((cos_dim0(a, b) + Σab/(|a||b|))/2 - alpha, 0, 1)"
	cosineBlendDoc00x = "blended with the 0.0.x weighted sum (two rounded products and a rounded " +
		"sum, not lerp); alpha a required keyword Python float (no default: a recipe that omits " +
		"it fails, as in 0.0.x)."
)

var (
	normalizedSimilaritySum00x = cosine00x("normalized_similarity_sum", cosineAFormula00x,
		"add_cosine_a under its first name (8259d55 .. e0305da; renamed in be45b2c): today's "+
			"column similarity, "+cosineBlendDoc00x, simA)
	similaritySum00x = cosine00x("similarity_sum", cosineBFormula00x,
		"add_cosine_b under its first name (8259d55 .. e0305da; renamed in be45b2c): today's "+
			"similarity, "+cosineBlendDoc00x, cosineSimB)
	addCosineA00x = cosine00x("add_cosine_a", cosineAFormula00x,
		"add_cosine_a of be45b2c .. 0.0.29 and the fork's 0.0.x eras: F.normalize(dim=0, "+
			"eps=1e-12) of a and b, their F.cosine_similarity(dim=0, eps=1e-8) per column, "+
			cosineBlendDoc00x, simA)
	addCosineB00x = cosine00x("add_cosine_b", cosineBFormula00x,
		"add_cosine_b of be45b2c .. 0.0.29 and the fork's 0.0.x eras: the mean of each column's "+
			"cosine similarity (eps=1e-8) and the whole tensors' Σab/(|a||b|), "+cosineBlendDoc00x, cosineSimB)
)

// modelPair is 0.0.x's (a: MODEL, b: MODEL).
func modelPair() []ops.Param {
	return []ops.Param{
		{Name: "a", Type: ops.TensorIn, Spaces: ops.WeightSpace},
		{Name: "b", Type: ops.TensorIn, Spaces: ops.WeightSpace},
	}
}
