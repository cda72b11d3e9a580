package stdlib

import (
	"fmt"
	"math"
	"math/big"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/num"
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
	AddScaled:     true,
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
				vecAddScaled(c.Out.Data, a.Data, b.Data, w) // math.FMA(b, w, a) per element
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
	InPlace: true,
	Formula: "a - b",
	Doc:     "The delta (task vector) from b to a: two weights in, a delta out.",
	LoadFused: func(out []float64, raw []byte, dt ops.DType, b []float64) bool {
		i := num.DecodeSubFast(out, raw, dt, b) // a finite prefix, widened and subtracted
		rest := out[i:]
		finite := num.DecodeFinite(rest, raw[i*dt.Size():], dt)
		vecSub(rest, rest, b[i:])
		return finite
	},
	// The keys of a - b straight from the stored bytes, for the staged ties_sum's statistics.
	RawKeys:    num.SubAbsKeys,
	Difference: true,
	Kernel: func(c *ops.Call) error {
		ts, err := tensors("subtract", len(c.Out.Data), c.Args...)
		if err != nil {
			return err
		}
		a, b := ts[0], ts[1]
		if out := c.Out.Data; len(a.Data) == len(out) && len(b.Data) == len(out) {
			vecSub(out, a.Data, b.Data)
			return nil
		}
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
	Stream:        nAverageStream,
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
		if c.Numerics != ops.SDMecha && allFull(ms, len(out)) {
			nAverageExact(out, ms)
			return nil
		}
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

// n_average_step and n_average_div are n_average taken apart, one model at a time: the compiler
// emits an n_average of many models as the chain (nAverageStream)
//
//	r = n_average_step(m_1, m_2, k=1); r = n_average_step(r, m_3, k=2); ...; [n_average_div(r, n)]
//
// so that the key program holds the running result and one model at a time instead of all n
// (SPEC §3.5, streaming). Each step is the kernel's own step (exact: r + m; sd-mecha:
// lerp(r, m, 1/(k+1)) with the weight a float64), so the chain gives the kernel's bits.
// They are not sd-mecha methods.
const (
	nAverageStepName = "n_average_step"
	nAverageDivName  = "n_average_div"
)

// nAverageStream is n_average's Def.Stream: step k is n_average_step(r, m_{k+1}, k=k); exact
// numerics end with n_average_div(r, n=n), sd-mecha's running mean is the mean already.
var nAverageStream = &ops.StreamDef{
	Step: nAverageStepName,
	StepKw: func(n int, _ []ops.Value) ([][]ops.Value, bool) {
		steps := make([][]ops.Value, n-1)
		for k := range steps {
			steps[k] = []ops.Value{ops.Int(int64(k + 1))}
		}
		return steps, true
	},
	Finish:   map[ops.Numerics]string{ops.Exact: nAverageDivName},
	FinishKw: func(n int) []ops.Value { return []ops.Value{ops.Int(int64(n))} },
}

var nAverageStep = define(&ops.Def{
	Name:          nAverageStepName,
	Params:        []ops.Param{symbolIn("sum"), symbolIn("model")},
	KwOnly:        []ops.Param{{Name: "k", Type: ops.IntHyper}},
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.Elementwise,
	Keys:          ops.KeysIntersect,
	InPlace:       true,
	Formula:       "exact: sum + model; sd-mecha: lerp(sum, model, 1/(k+1))",
	// Exact numerics: the model's LOAD fused into the sum (num.DecodeAddFast), whose float64
	// chunk is then never written and read back.
	LoadFusedSecond: func(numerics ops.Numerics, _ []ops.Value) func(out, a []float64, raw []byte, dt ops.DType) bool {
		if numerics != ops.Exact {
			return nil
		}
		return func(out, a []float64, raw []byte, dt ops.DType) bool {
			i := num.DecodeAddFast(out, raw, dt, a) // a finite prefix, widened and added
			// The rest: sum + model in the kernel's operand order.
			return widenRest(out, a, raw, dt, i, func(s, x float64) float64 { return s + x })
		}
	},
	Doc: "Step k (1-based) of n_average's running computation, which the compiler emits for an " +
		"n_average of many models: the running sum plus the next model (exact numerics), or the " +
		"running mean moved towards it by 1/(k+1) (sd-mecha numerics).",
	Kernel: func(c *ops.Call) error {
		out := c.Out.Data
		ts, err := tensors(nAverageStepName, len(out), c.Args[0], c.Args[1])
		if err != nil {
			return err
		}
		r, m := ts[0], ts[1]
		full := len(r.Data) == len(out) && len(m.Data) == len(out)
		if c.Numerics == ops.SDMecha {
			w := 1 / float64(c.Kw[0].I+1)
			if full {
				rd, md := r.Data[:len(out)], m.Data[:len(out)]
				for i := range out {
					out[i] = Lerp(rd[i], md[i], w)
				}
				return nil
			}
			for i := range out {
				out[i] = Lerp(r.At(i), m.At(i), w)
			}
			return nil
		}
		if full {
			vecAdd(out, r.Data, m.Data)
			return nil
		}
		for i := range out {
			out[i] = r.At(i) + m.At(i)
		}
		return nil
	},
})

var nAverageDiv = define(&ops.Def{
	Name:          nAverageDivName,
	Params:        []ops.Param{symbolIn("sum")},
	KwOnly:        []ops.Param{{Name: "n", Type: ops.IntHyper}},
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.Elementwise,
	Keys:          ops.KeysIntersect,
	InPlace:       true,
	Formula:       "sum / n",
	Doc:           "The last step of exact n_average's running computation: the sum divided by the number of models.",
	Kernel: func(c *ops.Call) error {
		out := c.Out.Data
		ts, err := tensors(nAverageDivName, len(out), c.Args[0])
		if err != nil {
			return err
		}
		n := float64(c.Kw[0].I)
		if len(ts[0].Data) == len(out) {
			vecDiv(out, ts[0].Data, n)
			return nil
		}
		for i := range out {
			out[i] = ts[0].At(i) / n
		}
		return nil
	},
})

// allFull reports whether every tensor has n elements (none is a broadcast scalar).
func allFull(ts []*ops.Tensor, n int) bool {
	for _, t := range ts {
		if len(t.Data) != n {
			return false
		}
	}
	return true
}

// nAverageExact is exact n_average over full tensors: ((m_1 + m_2) + ...) + m_n, then / n,
// the same operations in the same order as one pass per model, but three models per pass so
// the running sum is loaded and stored a third as often.
func nAverageExact(out []float64, ms []*ops.Tensor) {
	n := len(out)
	copy(out, ms[0].Data)
	k := 1
	for ; k+3 <= len(ms); k += 3 {
		a, b, c := ms[k].Data[:n], ms[k+1].Data[:n], ms[k+2].Data[:n]
		for i := range out {
			out[i] = out[i] + a[i] + b[i] + c[i]
		}
	}
	for ; k < len(ms); k++ {
		a := ms[k].Data[:n]
		for i := range out {
			out[i] += a[i]
		}
	}
	inv := float64(len(ms))
	for i := range out {
		out[i] /= inv
	}
}

// ---- Whole-tensor and mask methods of linear.py ----
//
// Numerics shared by the methods below (golden README "Numerics"):
//   - a Tensor hyper-parameter (alpha) that is float32 -- every constant in sd-mecha numerics --
//     makes `python_scalar (op) alpha` a float32 operation (rule 3): 1 - alpha, alpha * 1.8;
//     mixed with float64 tensors it is widened exactly (rule 4);
//   - reductions follow torch 1.13's orders (rule 7): NormTorch, SumTorch (reduce.go);
//   - complex powers follow glibc's cpow = cexp(y * clog(x)) (cpow, limit.go); exp, log, sin,
//     cos and acos are evaluated accurately enough to round as glibc's and Sleef's mostly
//     correctly rounded functions do (expFast, logFast, sincosDD in limit.go; sinCR, acosCR
//     here), where Go's math functions differ in the last bit on 2-30% of inputs.
//
// Exact numerics use the same formulas with the exact float64 alpha.

// f32Hyper reports whether alpha is a float32 value whose Python-scalar arithmetic torch does
// in float32: sd-mecha numerics only (exact numerics keep every hyper-parameter in float64).
//
// In sd-mecha every 0-dim value reaching a Tensor parameter is float32 (constants, singleton
// and block-weight dicts, Python numbers returned by methods: cast_node_value); only tensors
// computed or loaded per key are float64. The VM passes recipe constants as 0-dim tensors
// already rounded to float32 but marked F64, so a 0-dim alpha whose value is a float32 counts
// as float32 too.
func f32Hyper(c *ops.Call, alpha *ops.Tensor) bool {
	if c.Numerics != ops.SDMecha {
		return false
	}
	if alpha.DType == ops.F32 {
		return true
	}
	if len(alpha.Shape) == 0 && len(alpha.Data) == 1 {
		v := alpha.Data[0]
		return float64(float32(v)) == v || v != v
	}
	return false
}

// oneMinus is torch's `1 - alpha`: in float32 when alpha is a float32 tensor.
func oneMinus(alpha float64, in32 bool) float64 {
	if in32 {
		return float64(float32(1) - float32(alpha))
	}
	return 1 - alpha
}

// scaleHyper is torch's `alpha * k` for a Python number k: in float32 (k rounded to float32
// first) when alpha is a float32 tensor.
func scaleHyper(alpha, k float64, in32 bool) float64 {
	if in32 {
		return float64(float32(alpha) * float32(k))
	}
	return alpha * k
}

// nanToNum is torch.nan_to_num(x, nan=nan): infinities become the largest finite float64.
func nanToNum(x, nan float64) float64 {
	switch {
	case x != x:
		return nan
	case math.IsInf(x, 1):
		return math.MaxFloat64
	case math.IsInf(x, -1):
		return -math.MaxFloat64
	}
	return x
}

// hasNaN reports whether any element is NaN (torch's res.isnan().any()).
func hasNaN(x []float64) bool {
	for _, v := range x {
		if v != v {
			return true
		}
	}
	return false
}

// slerp: slerp(a, b, alpha: Tensor = 0.5) -> spherical interpolation of the whole tensors.
//
//	an = a/|a|, bn = b/|b|, w = acos(clamp(sum(an*bn), -1, 1))
//	r = (an*sin((1-alpha)*w) + bn*sin(alpha*w)) / sin(w) * lerp(|a|, |b|, alpha)
//	any NaN in r -> lerp(a, b, alpha)
var slerpDef = define(&ops.Def{
	Name:          "slerp",
	Params:        []ops.Param{symbolIn("a"), symbolIn("b"), alphaParam(0.5)},
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.WholeTensor,
	Keys:          ops.KeysIntersect,
	Formula:       "(â·sin((1-alpha)ω) + b̂·sin(alpha·ω)) / sin ω · lerp(|a|, |b|, alpha), ω = acos(Σ â·b̂); NaN -> lerp(a, b, alpha)",
	Doc: "Spherical linear interpolation of the two tensors seen as vectors: the direction " +
		"rotates from a to b by the fraction alpha of the angle between them, the length is " +
		"lerp(|a|, |b|, alpha). Norms are torch's sequential fused sum of squares, the dot " +
		"product its cascade sum; 1-alpha is float32 in sd-mecha numerics. When the result has " +
		"a NaN (parallel or zero tensors: sin ω = 0) it is lerp(a, b, alpha) instead.",
	Kernel: func(c *ops.Call) error {
		n := len(c.Out.Data)
		ts, err := tensors("slerp", n, c.Args...)
		if err != nil {
			return err
		}
		a, b, alpha := ts[0], ts[1], ts[2]
		in32 := f32Hyper(c, alpha)
		na, nb := NormTorch(a.Data), NormTorch(b.Data)
		out := c.Out.Data
		// The dot product of the normalised tensors, summed over the broadcast shape.
		for i := range out {
			out[i] = (a.At(i) / na) * (b.At(i) / nb)
		}
		dot := SumTorch(out)
		dot = math.Min(math.Max(dot, -1), 1) // clamp(-1, 1); NaN stays NaN
		omega := acosCR(dot)
		sinOmega := sinCR(omega)
		if alpha.IsScalar() {
			w := alpha.Data[0]
			s1, s2, l := sinCR(oneMinus(w, in32)*omega), sinCR(w*omega), Lerp(na, nb, w)
			for i := range out {
				out[i] = ((a.At(i)/na)*s1 + (b.At(i)/nb)*s2) / sinOmega * l
			}
		} else {
			for i := range out { // per-element alpha (block weights): Go's sin, ~1 ulp
				w := alpha.At(i)
				ac := (a.At(i) / na) * math.Sin(oneMinus(w, in32)*omega)
				bc := (b.At(i) / nb) * math.Sin(w*omega)
				out[i] = (ac + bc) / sinOmega * Lerp(na, nb, w)
			}
		}
		if hasNaN(out) {
			for i := range out {
				out[i] = Lerp(a.At(i), b.At(i), alpha.At(i))
			}
		}
		return nil
	},
})

// acos is arccos to within about an ulp over the whole range. Go's math.Acos is Pi/2 - Asin(x),
// which loses up to ~100 ulps near x = 1 by cancellation -- where slerp's nearly parallel
// tensors put it; glibc's acos is accurate there.
func acos(x float64) float64 {
	if !(x >= -1 && x <= 1) {
		return math.NaN()
	}
	// (1-x)(1+x) has one rounding (1-x and 1+x are exact or rounded once, the product once)
	// and no cancellation, unlike 1 - x*x.
	return math.Atan2(math.Sqrt((1-x)*(1+x)), x)
}

// Correctly rounded sin and acos for slerp's per-key scalars. torch 1.13 computes them on 0-dim
// tensors with Sleef's sind4_u10/acosd4_u10 (vml.h's vec::map applies the vector function to
// the partial vector too), accurate to 1 ulp and correctly rounded most of the time; a per-key
// scalar off by one ulp moves every element of the key. On the slerp golden, correct rounding
// leaves 11 of 197 keys off by 1-8 ulps where Go's math.Sin and the acos above leave 67
// (and math.Acos 193). They work in 160-bit big.Float arithmetic: tens of microseconds per
// call, a few calls per key.

const crPrec = 160

// crPi is π to 200 bits.
var crPi, _ = new(big.Float).SetPrec(crPrec).SetString("3.141592653589793238462643383279502884197169399375105820974944592307816406286")

func crFloat(x float64) *big.Float { return new(big.Float).SetPrec(crPrec).SetFloat64(x) }

// crSinCos returns sin x and cos x for |x| up to a few thousand, to about crPrec bits: x is
// reduced by k·π/2 and both Taylor series are summed until their terms vanish.
func crSinCos(x *big.Float) (*big.Float, *big.Float) {
	halfPi := new(big.Float).SetPrec(crPrec).Quo(crPi, crFloat(2))
	qf, _ := new(big.Float).SetPrec(crPrec).Quo(x, halfPi).Float64()
	k := math.Round(qf)
	r := new(big.Float).SetPrec(crPrec).Sub(x, new(big.Float).SetPrec(crPrec).Mul(halfPi, crFloat(k)))
	r2 := new(big.Float).SetPrec(crPrec).Mul(r, r)
	series := func(first *big.Float, start int) *big.Float {
		sum := new(big.Float).SetPrec(crPrec).Set(first)
		term := new(big.Float).SetPrec(crPrec).Set(first)
		limit := first.MantExp(nil) - crPrec - 8
		for i := start; term.Sign() != 0 && term.MantExp(nil) > limit; i += 2 {
			term.Mul(term, r2)
			term.Quo(term, crFloat(float64(i*(i+1))))
			term.Neg(term)
			sum.Add(sum, term)
		}
		return sum
	}
	sin, cos := series(r, 2), series(crFloat(1), 1)
	neg := func(v *big.Float) *big.Float { return new(big.Float).SetPrec(crPrec).Neg(v) }
	switch int(math.Mod(math.Mod(k, 4)+4, 4)) {
	case 1:
		return cos, neg(sin)
	case 2:
		return neg(sin), neg(cos)
	case 3:
		return neg(cos), sin
	}
	return sin, cos
}

// sinCR is sin x correctly rounded (but for inputs within 2^-150 of a rounding boundary).
func sinCR(x float64) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > 1e4 {
		return math.Sin(x) // ±0, NaN; huge arguments do not occur here
	}
	s, _ := crSinCos(crFloat(x))
	f, _ := s.Float64()
	return f
}

// acosCR is acos x correctly rounded: two Newton steps on cos θ = x from acos above.
func acosCR(x float64) float64 {
	switch {
	case !(x >= -1 && x <= 1):
		return math.NaN()
	case x == 1:
		return 0
	case x == -1:
		return math.Pi
	}
	t := crFloat(acos(x))
	bx := crFloat(x)
	for range 3 {
		s, c := crSinCos(t)
		d := new(big.Float).SetPrec(crPrec).Sub(c, bx)
		t.Add(t, d.Quo(d, s))
	}
	f, _ := t.Float64()
	return f
}

// perpendicularComponent: perpendicular_component(a, b) -> the component of b orthogonal to a.
//
//	r = b - a * sum((a/|a|) * (b/|a|)); any NaN in r -> zeros
var perpendicularComponent = define(&ops.Def{
	Name:          "perpendicular_component",
	Params:        []ops.Param{symbolIn("a"), symbolIn("b")},
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.WholeTensor,
	Keys:          ops.KeysIntersect,
	Formula:       "b - a·Σ((a/|a|)·(b/|a|)); NaN -> 0",
	Doc: "The part of b orthogonal to a (both seen as vectors): b minus its projection on a. " +
		"|a| is torch's sequential fused sum of squares, the sum its cascade sum, each " +
		"quotient rounded separately as sd-mecha writes them. A result with a NaN (a = 0) " +
		"becomes zeros.",
	Kernel: func(c *ops.Call) error {
		n := len(c.Out.Data)
		ts, err := tensors("perpendicular_component", n, c.Args...)
		if err != nil {
			return err
		}
		a, b := ts[0], ts[1]
		na := NormTorch(a.Data)
		out := c.Out.Data
		for i := range out {
			out[i] = (a.At(i) / na) * (b.At(i) / na)
		}
		s := SumTorch(out)
		for i := range out {
			out[i] = b.At(i) - a.At(i)*s
		}
		if hasNaN(out) {
			fill(out, 0)
		}
		return nil
	},
})

// maskParams is (a, b, c, alpha: Tensor = 1.0) with a, b, c in one space and a param result.
func maskParams() []ops.Param {
	return []ops.Param{symbolIn("a"), symbolIn("b"), symbolIn("c"), alphaParam(1.0)}
}

// elementwise3 runs f(a_i, b_i, c_i, alpha_i) over the output.
func elementwise3(name string, c *ops.Call, f func(a, b, cc, alpha float64, in32 bool) float64) error {
	ts, err := tensors(name, len(c.Out.Data), c.Args...)
	if err != nil {
		return err
	}
	a, b, cc, alpha := ts[0], ts[1], ts[2], ts[3]
	in32 := f32Hyper(c, alpha)
	for i := range c.Out.Data {
		c.Out.Data[i] = f(a.At(i), b.At(i), cc.At(i), alpha.At(i), in32)
	}
	return nil
}

// trainDifferenceMask: train_difference_mask(a, b, c, alpha = 1.0) -> param mask.
//
//	(alpha*1.8) * nan_to_num(|b-a| / (|b-a| + |b-c|), nan=0)   (alpha*1.8 in float32)
var trainDifferenceMask = define(&ops.Def{
	Name:    "train_difference_mask",
	Params:  maskParams(),
	Returns: ops.ParamSpace,
	Traits:  ops.Elementwise,
	Keys:    ops.KeysIntersect,
	Formula: "(alpha·1.8) · nan_to_num(|b-a| / (|b-a| + |b-c|))",
	Doc: "A per-element weight for add_difference (\"train difference\"): large where b moved " +
		"away from a more than from c. alpha*1.8 is a float32 product in sd-mecha numerics; 0/0 " +
		"gives 0.",
	Kernel: func(c *ops.Call) error {
		return elementwise3("train_difference_mask", c, func(a, b, cc, alpha float64, in32 bool) float64 {
			d1, d2 := math.Abs(b-a), math.Abs(b-cc)
			return scaleHyper(alpha, 1.8, in32) * nanToNum(d1/(d1+d2), 0)
		})
	},
})

// addOppositeMask: add_opposite_mask(a, b, c, alpha = 1.0) -> param mask.
//
//	(alpha*2) * nan_to_num(|a-b| / (|a-b| + |a+b-2c|), nan=0)
var addOppositeMask = define(&ops.Def{
	Name:    "add_opposite_mask",
	Params:  maskParams(),
	Returns: ops.ParamSpace,
	Traits:  ops.Elementwise,
	Keys:    ops.KeysIntersect,
	Formula: "(alpha·2) · nan_to_num(|a-b| / (|a-b| + |a+b-2c|))",
	Doc: "A per-element weight that is large where a and b moved in opposite directions from " +
		"c. alpha*2 is float32 in sd-mecha numerics (exact either way); 0/0 gives 0.",
	Kernel: func(c *ops.Call) error {
		return elementwise3("add_opposite_mask", c, func(a, b, cc, alpha float64, in32 bool) float64 {
			d := math.Abs(a - b)
			return scaleHyper(alpha, 2, in32) * nanToNum(d/(d+math.Abs((a+b)-2*cc)), 0)
		})
	},
})

// addStrictOppositeMask: add_strict_opposite_mask(a, b, c, alpha = 1.0) -> param mask.
//
//	t = max(|a-c|, |b-c|); alpha * max(nan_to_num((c-a)(b-c) / t², nan=0), 0) * 2
var addStrictOppositeMask = define(&ops.Def{
	Name:    "add_strict_opposite_mask",
	Params:  maskParams(),
	Returns: ops.ParamSpace,
	Traits:  ops.Elementwise,
	Keys:    ops.KeysIntersect,
	Formula: "alpha · max(nan_to_num((c-a)(b-c) / max(|a-c|, |b-c|)²), 0) · 2",
	Doc: "A per-element weight that is positive only where a and b lie on opposite sides of c, " +
		"largest when they are equally far from it. Evaluated as written, left to right; 0/0 " +
		"gives 0, and clamp keeps -0.0 as torch does.",
	Kernel: func(c *ops.Call) error {
		return elementwise3("add_strict_opposite_mask", c, func(a, b, cc, alpha float64, _ bool) float64 {
			t := torchMaximum(math.Abs(a-cc), math.Abs(b-cc), false)
			q := nanToNum((cc-a)*(b-cc)/(t*t), 0)
			if q < 0 { // clamp(min=0): -0.0 and NaN pass
				q = 0
			}
			return alpha * q * 2
		})
	},
})

// geometricSum: geometric_sum(a, b, alpha: Tensor = 0.5) -> Re(a^(1-alpha) * b^alpha).
var geometricSum = define(&ops.Def{
	Name:          "geometric_sum",
	Params:        []ops.Param{symbolIn("a"), symbolIn("b"), alphaParam(0.5)},
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.Elementwise,
	Keys:          ops.KeysIntersect,
	Formula:       "Re(a^(1-alpha) · b^alpha) in complex arithmetic",
	Doc: "Weighted geometric mean of a and b. The powers are complex, as sd-mecha promotes the " +
		"tensors to complex128: a negative base has the phase π, so the result is " +
		"|a|^(1-alpha)|b|^alpha·cos(π·((1-alpha)[a<0] + alpha[b<0])); a zero base gives 0 (NaN " +
		"for a zero exponent). Each power is glibc's cpow, cexp(y·clog(x)); 1-alpha is float32 " +
		"in sd-mecha numerics.",
	Kernel: func(c *ops.Call) error {
		ts, err := tensors("geometric_sum", len(c.Out.Data), c.Args...)
		if err != nil {
			return err
		}
		a, b, alpha := ts[0], ts[1], ts[2]
		in32 := f32Hyper(c, alpha)
		var ma, mb sincosMemo
		for i := range c.Out.Data {
			w := alpha.At(i)
			p := cpow(complex(a.At(i), 0), complex(oneMinus(w, in32), 0), &ma)
			q := cpow(complex(b.At(i), 0), complex(w, 0), &mb)
			c.Out.Data[i] = real(p)*real(q) - imag(p)*imag(q)
		}
		return nil
	},
})

// multiplyQuotient: multiply_quotient(a, b, c, alpha: Tensor = 1.0) -> Re(a * (b/c)^alpha').
//
//	la = log|a| - log|c|, lb = log|b| - log|c|, t = max(|la|, |lb|)
//	alpha' = alpha * max(-nan_to_num(la*lb / t², nan=0), 0)
//	r = a * (b/c)^alpha' (complex); NaN -> a
var multiplyQuotient = define(&ops.Def{
	Name:          "multiply_quotient",
	Params:        maskParams(),
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.Elementwise,
	Keys:          ops.KeysIntersect,
	Formula:       "Re(a · (b/c)^(alpha·max(-nan_to_num(la·lb/max(|la|,|lb|)²), 0))), la = log|a/c|, lb = log|b/c|; NaN -> a",
	Doc: "Multiplies a by the ratio b/c raised to a per-element power that is positive only " +
		"where a and b lie on opposite sides of c in log scale. The power is complex (a negative " +
		"ratio has the phase π); an element whose complex result is NaN (c = 0, a zero ratio to " +
		"the power 0, ...) is a. Complex division is torch 1.13's (b·c)/(c·c), the power glibc's " +
		"cpow through Go's math functions.",
	Kernel: func(c *ops.Call) error {
		ts, err := tensors("multiply_quotient", len(c.Out.Data), c.Args...)
		if err != nil {
			return err
		}
		a, b, cc, alpha := ts[0], ts[1], ts[2], ts[3]
		var memo sincosMemo
		for i := range c.Out.Data {
			c.Out.Data[i] = multiplyQuotientAt(a.At(i), b.At(i), cc.At(i), alpha.At(i), &memo)
		}
		return nil
	},
})

// negZero is -0.0 (a Go constant -0.0 is +0).
var negZero = math.Copysign(0, -1)

// multiplyQuotientAt is multiply_quotient for one element, in torch 1.13's operation order.
func multiplyQuotientAt(a, b, c, alpha float64, memo *sincosMemo) float64 {
	lc := logFast(math.Abs(c))
	la := logFast(math.Abs(a)) - lc
	lb := logFast(math.Abs(b)) - lc
	t := torchMaximum(math.Abs(la), math.Abs(lb), false)
	q := -nanToNum(la*lb/(t*t), 0)
	if q < 0 {
		q = 0
	}
	w := alpha * q
	// b/c in torch 1.13's complex division (a+bi)/(c+di) = ((ac+bd) + (bc-ad)i) / (c²+d²).
	den := c*c + 0*0
	base := complex((b*c+0*0)/den, (b*negZero+0*c)/den)
	p := cpow(base, complex(w, 0), memo)
	re := a*real(p) - 0*imag(p)
	im := a*imag(p) + 0*real(p)
	if re != re || im != im {
		return a
	}
	return re
}
