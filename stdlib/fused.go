package stdlib

import (
	"fmt"
	"math"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/num"
)

// linear_combination is the n-ary op the compiler fuses chains of linear methods into
// (weighted_sum, add_difference, subtract, scale, n_average; SPEC.md §3.5). It is not an
// sd-mecha method: the compiler emits it only in exact numerics, where its result is the same
// real-number formula as the chain's with fewer roundings.

// LinearCombination, FormatCoefficients and ParseCoefficients live in ops (ops/fused.go):
// the compiler writes the coefficients text, this kernel reads it, and the compiler may not
// import stdlib.
const LinearCombination = ops.LinearCombination

// fusedBlock is how many elements the kernel accumulates per pass over the terms: the block
// of the accumulator stays in L1 while every term is added to it.
const fusedBlock = 2048

var linearCombination = define(&ops.Def{
	Name:          LinearCombination,
	Varargs:       &ops.Param{Name: "models", Type: ops.TensorIn, Spaces: ops.AnySpace, Symbol: "S"},
	KwOnly:        []ops.Param{{Name: "coefficients", Type: ops.StringHyper, Check: checkCoefficients}},
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.Elementwise,
	Keys:          ops.KeysIntersect,
	InPlace:       true,
	Stream:        linearStream,
	// A streamed step (running result r, next model m; coefficients 1, c) with m's LOAD
	// fused: r + c·m in one pass over m's stored bytes (num.DecodeFMAFast).
	LoadFusedSecond: linearStepFused,
	Formula:         "sum_i c_i * m_i (one accumulator, fused multiply-adds in term order)",
	Doc: "The fused form of a chain of linear methods (exact numerics only): coefficients are " +
		"computed exactly from the chain's hyper-parameters and rounded once to float64; the sum " +
		"starts at c_1*m_1 and adds each further term with one fused multiply-add. A zero " +
		"coefficient still multiplies its model, so a non-finite value gives NaN as 0*x did in " +
		"the chain. coefficients is the comma-separated list, one per model.",
	Kernel: func(c *ops.Call) error {
		cs, err := ops.ParseCoefficients(c.Kw[0].S)
		if err != nil {
			return fmt.Errorf("linear_combination: %v", err)
		}
		if len(cs) != len(c.Var) {
			return fmt.Errorf("linear_combination: %d coefficients for %d models", len(cs), len(c.Var))
		}
		n := len(c.Out.Data)
		ms, err := tensors(LinearCombination, n, c.Var...)
		if err != nil {
			return err
		}
		out := c.Out.Data
		for lo := 0; lo < n; lo += fusedBlock {
			hi := min(lo+fusedBlock, n)
			blk := out[lo:hi]
			addTerm(blk, ms[0], cs[0], lo, true)
			for k := 1; k < len(ms); k++ {
				addTerm(blk, ms[k], cs[k], lo, false)
			}
		}
		return nil
	},
})

// linearStream is linear_combination's Def.Stream: two-term linear_combinations, the first two
// terms, then (running result, next term) with coefficients (1, c): 1·r is r exactly, so each
// step is the kernel's fused multiply-add of its next term.
var linearStream = &ops.StreamDef{
	Step: LinearCombination,
	StepKw: func(n int, kw []ops.Value) ([][]ops.Value, bool) {
		if len(kw) != 1 || kw[0].Kind != ops.KindString {
			return nil, false
		}
		cs, err := ops.ParseCoefficients(kw[0].S)
		if err != nil || len(cs) != n {
			return nil, false // the whole call reports it
		}
		steps := make([][]ops.Value, n-1)
		for k := range steps {
			c0 := 1.0
			if k == 0 {
				c0 = cs[0]
			}
			steps[k] = []ops.Value{ops.String(ops.FormatCoefficients([]float64{c0, cs[k+1]}))}
		}
		return steps, true
	},
}

// addTerm sets (first) or accumulates c*m into blk, which starts at element lo of the output.
func addTerm(blk []float64, m *ops.Tensor, c float64, lo int, first bool) {
	if len(m.Data) == 1 {
		x := m.Data[0]
		for i := range blk {
			if first {
				blk[i] = c * x
			} else {
				blk[i] = math.FMA(c, x, blk[i])
			}
		}
		return
	}
	src := m.Data[lo : lo+len(blk)]
	if first {
		if math.IsNaN(c) {
			for i, x := range src {
				blk[i] = c * x
			}
			return
		}
		vecScale(blk, src, c) // c·x's bits when c is not a NaN
		return
	}
	if !math.IsNaN(c) {
		// math.FMA(x, c, b) is math.FMA(c, x, b) bit for bit when c is not a NaN (the
		// product is exact either way, and the NaN a result carries is b's or x's).
		vecAddScaled(blk, blk, src, c)
		return
	}
	for i, x := range src {
		blk[i] = math.FMA(c, x, blk[i])
	}
}

// linearStepFused is linear_combination's Def.LoadFusedSecond: for a two-term call whose first
// coefficient is 1 (linearStream's steps) and whose second is not a NaN, the kernel's
// 1·r then math.FMA(c, m, ·) over the model's stored bytes; nil for any other call.
func linearStepFused(_ ops.Numerics, kw []ops.Value) func(out, a []float64, raw []byte, dt ops.DType) bool {
	if len(kw) != 1 || kw[0].Kind != ops.KindString {
		return nil
	}
	cs, err := ops.ParseCoefficients(kw[0].S)
	if err != nil || len(cs) != 2 || cs[0] != 1 || math.IsNaN(cs[1]) {
		return nil
	}
	c := cs[1]
	return func(out, a []float64, raw []byte, dt ops.DType) bool {
		i := num.DecodeFMAFast(out, raw, dt, a, c) // a finite prefix: math.FMA(c, m, r) with r = 1·r
		// The rest: the kernel's first term, then its FMA.
		return widenRest(out, a, raw, dt, i, func(r, x float64) float64 { return math.FMA(c, x, 1*r) })
	}
}

// widenRest finishes a LoadFusedSecond kernel after its vector prefix of i elements:
// out[j] = op(a[j], widen(raw[j])) for j >= i, the stored elements widened a block at a time
// (num.DecodeFinite), in element order (out may be a: a[j] is read before out[j] is written).
// It reports whether every element it widened was finite.
func widenRest(out, a []float64, raw []byte, dt ops.DType, i int, op func(a, x float64) float64) bool {
	rest, size := out[i:], dt.Size()
	finite := true
	var buf [256]float64
	for lo := 0; lo < len(rest); lo += len(buf) {
		w := buf[:min(len(buf), len(rest)-lo)]
		if !num.DecodeFinite(w, raw[(i+lo)*size:(i+lo+len(w))*size], dt) {
			finite = false
		}
		for j, x := range w {
			rest[lo+j] = op(a[i+lo+j], x)
		}
	}
	return finite
}

func checkCoefficients(v ops.Value) error {
	if v.Kind != ops.KindString {
		return fmt.Errorf("coefficients must be a string of comma-separated numbers")
	}
	_, err := ops.ParseCoefficients(v.S)
	return err
}
