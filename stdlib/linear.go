package stdlib

import (
	"fmt"
	"math"

	"github.com/mechac/mechac/ops"
)

// Linear / arithmetic family: sd-mecha 1.1.5 sd_mecha/extensions/builtin/merge_methods/linear.py.
//
// Numerics, both modes: Tensor-typed hyper-parameters (alpha) arrive as a 0-dim tensor or a full
// param-space tensor. In sd-mecha numerics a constant alpha is float32 (rounded by the compiler,
// or by define's normalisation for a default), in exact numerics it is the exact float64. The
// formulas are the same in both modes -- torch's operation order with its fused multiply-adds --
// except for n_average, whose exact form is the plain mean.

// Common parameter shapes. "S" is sd-mecha's default merge-space symbol: any space, the same
// as every other "S" parameter and the return.
func symbolIn(name string) ops.Param {
	return ops.Param{Name: name, Type: ops.TensorIn, Spaces: ops.AnySpace, Symbol: "S"}
}

// alphaParam is sd-mecha's `alpha: Parameter(Tensor) = def`: a defaulted parameter, hence in
// param space.
func alphaParam(def float64) ops.Param {
	v := ops.Float(def)
	return ops.Param{Name: "alpha", Type: ops.TensorHyper, Default: &v, Spaces: ops.ParamSpace}
}

// weightedSum: weighted_sum(a, b, alpha: Tensor = 0.5) -> lerp(a, b, alpha).
//
//	alpha one element: alpha == 0 -> a; isclose(alpha, 1) -> b; else lerp(a, b, alpha)
//	alpha per element: lerp(a_i, b_i, alpha_i)
//
// lerp(a, b, w) = |w| < 0.5 ? math.FMA(w, b-a, a) : math.FMA(-(b-a), 1-w, b).
var weightedSum = define(&ops.Def{
	Name:          "weighted_sum",
	Params:        []ops.Param{symbolIn("a"), symbolIn("b"), alphaParam(0.5)},
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.Elementwise,
	Keys:          ops.KeysIntersect,
	Formula:       "alpha == 0 ? a : isclose(alpha, 1) ? b : lerp(a, b, alpha)",
	Doc: "Linear interpolation between a and b: (1-alpha)*a + alpha*b, computed as torch.lerp " +
		"(two branches around |alpha| = 0.5, fused multiply-adds). A one-element alpha of exactly 0 " +
		"returns a unchanged and one within 1e-9 of 1 returns b unchanged (sd-mecha's math.isclose " +
		"shortcuts), so non-finite values of the unused side do not leak in.",
	Kernel: func(c *ops.Call) error {
		n := len(c.Out.Data)
		ts, err := tensors("weighted_sum", n, c.Args...)
		if err != nil {
			return err
		}
		a, b, alpha := ts[0], ts[1], ts[2]
		if alpha.IsScalar() {
			w := alpha.Data[0]
			switch {
			case w == 0: // math.isclose(w, 0.0) is exact equality
				return copyInto("weighted_sum", c.Out, c.Args[0])
			case isClose(w, 1):
				return copyInto("weighted_sum", c.Out, c.Args[1])
			}
			if len(a.Data) == n && len(b.Data) == n {
				for i := range c.Out.Data {
					c.Out.Data[i] = Lerp(a.Data[i], b.Data[i], w)
				}
				return nil
			}
		}
		for i := range c.Out.Data {
			c.Out.Data[i] = Lerp(a.At(i), b.At(i), alpha.At(i))
		}
		return nil
	},
})

// addDifference: add_difference(a, b: delta, alpha: Tensor = 1.0) -> a + alpha*b.
//
//	alpha one element and == 0 -> a; else math.FMA(b, alpha, a)   (torch a.addcmul(b, alpha))
var addDifference = define(&ops.Def{
	Name: "add_difference",
	Params: []ops.Param{
		symbolIn("a"),
		{Name: "b", Type: ops.TensorIn, Spaces: ops.DeltaSpace},
		alphaParam(1.0),
	},
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.Elementwise,
	Keys:          ops.KeysIntersect,
	Formula:       "alpha == 0 ? a : a + alpha*b (fused)",
	Doc: "Adds a delta (task vector) b, scaled by alpha, to a. torch's addcmul is one fused " +
		"multiply-add per element. A one-element alpha of exactly 0 returns a unchanged; unlike " +
		"weighted_sum there is no shortcut for alpha = 1.",
	Kernel: func(c *ops.Call) error {
		n := len(c.Out.Data)
		ts, err := tensors("add_difference", n, c.Args...)
		if err != nil {
			return err
		}
		a, b, alpha := ts[0], ts[1], ts[2]
		if alpha.IsScalar() {
			w := alpha.Data[0]
			if w == 0 {
				return copyInto("add_difference", c.Out, c.Args[0])
			}
			if len(a.Data) == n && len(b.Data) == n {
				for i := range c.Out.Data {
					c.Out.Data[i] = math.FMA(b.Data[i], w, a.Data[i])
				}
				return nil
			}
		}
		for i := range c.Out.Data {
			c.Out.Data[i] = math.FMA(b.At(i), alpha.At(i), a.At(i))
		}
		return nil
	},
})

// subtract: subtract(a: weight, b: weight) -> delta: a - b.
var subtract = define(&ops.Def{
	Name: "subtract",
	Params: []ops.Param{
		{Name: "a", Type: ops.TensorIn, Spaces: ops.WeightSpace},
		{Name: "b", Type: ops.TensorIn, Spaces: ops.WeightSpace},
	},
	Returns: ops.DeltaSpace,
	Traits:  ops.Elementwise,
	Keys:    ops.KeysIntersect,
	Formula: "a - b",
	Doc:     "The delta (task vector) from b to a: two weights in, a delta out.",
	Kernel: func(c *ops.Call) error {
		ts, err := tensors("subtract", len(c.Out.Data), c.Args...)
		if err != nil {
			return err
		}
		a, b := ts[0], ts[1]
		for i := range c.Out.Data {
			c.Out.Data[i] = a.At(i) - b.At(i)
		}
		return nil
	},
})

// scaleDef: scale(a: delta, alpha: Tensor = 1.0) -> delta: a*alpha.
//
//	alpha one element: alpha == 0 -> 0; isclose(alpha, 1) -> a; else a*alpha
var scaleDef = define(&ops.Def{
	Name: "scale",
	Params: []ops.Param{
		{Name: "a", Type: ops.TensorIn, Spaces: ops.DeltaSpace},
		alphaParam(1.0),
	},
	Returns: ops.DeltaSpace,
	Traits:  ops.Elementwise,
	Keys:    ops.KeysIntersect,
	Formula: "alpha == 0 ? 0 : isclose(alpha, 1) ? a : a*alpha",
	Doc: "Scales a delta by alpha. A one-element alpha of exactly 0 gives zeros, also where a is " +
		"not finite: sd-mecha returns the Python float 0.0 there, which its consumers broadcast; " +
		"we write zeros of a's shape, the same values. An alpha within 1e-9 of 1 returns a unchanged.",
	Kernel: func(c *ops.Call) error {
		n := len(c.Out.Data)
		ts, err := tensors("scale", n, c.Args...)
		if err != nil {
			return err
		}
		a, alpha := ts[0], ts[1]
		if alpha.IsScalar() {
			switch w := alpha.Data[0]; {
			case w == 0:
				fill(c.Out.Data, 0)
				c.Out.DType = ops.F64 // a Python float becomes a float64 0-dim tensor
				return nil
			case isClose(w, 1):
				return copyInto("scale", c.Out, c.Args[0])
			}
		}
		for i := range c.Out.Data {
			c.Out.Data[i] = a.At(i) * alpha.At(i)
		}
		return nil
	},
})

// nAverage: n_average(*models) -> the mean of the models.
//
//	sd-mecha: r = m_1; r = lerp(r, m_i, 1/i) for i = 2..n (1/i a float64)
//	exact:    (m_1 + ... + m_n) / n
var nAverage = define(&ops.Def{
	Name:          "n_average",
	Varargs:       &ops.Param{Name: "models", Type: ops.TensorIn, Spaces: ops.AnySpace, Symbol: "S"},
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.Elementwise,
	Keys:          ops.KeysIntersect,
	Formula:       "sd-mecha: r = lerp(r, m_i, 1/i) for i = 2..n; exact: sum(m_i)/n",
	Doc: "Unweighted mean of any number of models. sd-mecha computes it as a running lerp: the " +
		"mean in exact arithmetic, but two roundings per model plus the rounded weight 1/i; " +
		"sd-mecha numerics reproduce that bit for bit. Exact numerics compute the mean as " +
		"written, a float64 sum and one division: fewer roundings, so more often the correctly " +
		"rounded mean (55% vs 44% of elements on random 3-8 model inputs), and the formula a " +
		"reader expects. The two differ in the last bits only.",
	Kernel: func(c *ops.Call) error {
		if len(c.Var) == 0 {
			return fmt.Errorf("n_average: no models")
		}
		ms, err := tensors("n_average", len(c.Out.Data), c.Var...)
		if err != nil {
			return err
		}
		out := c.Out.Data
		for i := range out {
			out[i] = ms[0].At(i)
		}
		if c.Numerics == ops.SDMecha {
			for k := 1; k < len(ms); k++ {
				w := 1 / float64(k+1)
				for i := range out {
					out[i] = Lerp(out[i], ms[k].At(i), w)
				}
			}
			return nil
		}
		for k := 1; k < len(ms); k++ {
			for i := range out {
				out[i] += ms[k].At(i)
			}
		}
		inv := float64(len(ms))
		for i := range out {
			out[i] /= inv
		}
		return nil
	},
})
