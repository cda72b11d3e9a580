package compiler

import (
	"github.com/mechac/mechac/compiler/ir"
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/bytecode"
)

// Per-key constant folding (SPEC.md §3.5). It runs in code generation, not as an IR pass,
// because everything it needs is only known per key: a dict hyper-parameter's value (block
// weights give alpha 0 for some components and 1 for others), whether every input has the
// key (union-key eras) and whether an input can go missing at run time.
//
// Only identities the kernel itself applies are folded: 1.1.x's weighted_sum returns a
// unchanged at alpha == 0 and b at isclose(alpha, 1), add_difference returns a at alpha == 0,
// scale returns a at isclose(alpha, 1). Folding them gives the same bits in both numerics modes
// (the kernel copies the tensor, dtype included). Arithmetic identities the kernel does not
// shortcut (0.0.x's (1-0)*a + 0*b, subtract(x, x), scale by 0) are not folded: 0*NaN is NaN
// and -0 + 0 is +0, so they hold only for finite inputs, which the compiler cannot know. In
// exact numerics the fusion (codegen_fuse.go) covers them with their NaNs intact.

// shortcut says which argument a 1.1.x kernel returns unchanged for a one-element alpha w,
// or -1.
func shortcut(d *ops.Def, w float64) int {
	if d.Era != "" {
		return -1
	}
	switch d.Name {
	case "weighted_sum":
		if w == 0 {
			return 0
		}
		if isClose(w, 1) {
			return 1
		}
	case "add_difference":
		if w == 0 {
			return 0
		}
	case "scale":
		if isClose(w, 1) {
			return 0
		}
	}
	return -1
}

// isClose is ops.IsClose (math.isclose with its defaults), shared with the compiler's key fold.
func isClose(x, y float64) bool { return ops.IsClose(x, y) }

// alphaAt returns the value operand i of v has at the current key as the kernel will see it
// (float32-rounded where sd-mecha numerics round it), when it is one number.
func (g *generator) alphaAt(v *ir.Value, i int) (float64, bool) {
	a := v.Operands()[i]
	if a == nil {
		return 0, false
	}
	p := v.ParamFor(i)
	var val ops.Value
	if hv, ok, isDict := g.dictHyper(a); isDict {
		if !ok {
			return 0, false
		}
		val = hv
	} else if a.Op == ir.OpConst {
		val = a.Const
	} else {
		return 0, false
	}
	if !val.IsNumber() {
		return 0, false
	}
	c := g.constFor(val, p)
	switch c.Kind {
	case bytecode.ConstScalar, bytecode.ConstFloat:
		return c.F, true
	case bytecode.ConstInt:
		return float64(c.I), true
	}
	return 0, false
}

// alphaIndex is the operand index of v's alpha parameter, or -1.
func alphaIndex(v *ir.Value) int {
	for i := range v.Operands() {
		if v.ParamFor(i).Name == "alpha" {
			return i
		}
	}
	return -1
}

// foldKey applies a kernel shortcut at the current key: it returns the kept operand's result.
func (g *generator) foldKey(v *ir.Value) (result, bool) {
	kept, ok := g.foldTarget(v)
	if !ok {
		return result{}, false
	}
	r := g.emit(kept)
	if r.missing || r.isConst {
		return result{}, false
	}
	return r, true
}

// foldTarget returns the operand a kernel shortcut of v returns unchanged at the current key,
// when every operand it drops is sure to be present at run time (a dropped operand that could
// go missing would have made the result missing).
func (g *generator) foldTarget(v *ir.Value) (*ir.Value, bool) {
	if g.c.opts.NoFold || v.Op != ir.OpMerge {
		return nil, false
	}
	ai := alphaIndex(v)
	if ai < 0 {
		return nil, false
	}
	w, ok := g.alphaAt(v, ai)
	if !ok {
		return nil, false
	}
	keep := shortcut(v.Def, w)
	if keep < 0 {
		return nil, false
	}
	ops_ := v.Operands()
	for i, o := range ops_ {
		if i == ai || i == keep {
			continue
		}
		if !g.surelyPresent(o, map[*ir.Value]bool{}) {
			return nil, false
		}
	}
	kept := ops_[keep]
	if kept == nil || kept.Op == ir.OpConst || kept.Op == ir.OpDict || !g.keyIn(g.c.keys.sets[kept]) {
		return nil, false
	}
	return kept, true
}

// surelyPresent reports whether v has a value at the current key whatever the tensor data
// holds, so that dropping it cannot change whether a key is present. It is conservative:
// anything that may go missing at run time (a load under the non-finite rule, a kernel that
// may report a missing key, a key-routing method) or statically (a union-key era's missing
// input, which may hand the whole key to the passthrough value) answers false.
func (g *generator) surelyPresent(v *ir.Value, seen map[*ir.Value]bool) bool {
	if v == nil || v.Op == ir.OpConst {
		return true
	}
	if seen[v] {
		return true
	}
	seen[v] = true
	if !g.keyIn(g.c.keys.sets[v]) {
		return false
	}
	switch v.Op {
	case ir.OpModel:
		return !g.c.omitNonFinite()
	case ir.OpMerge:
	default:
		return false
	}
	d := v.Def
	if d.Keys != ops.KeysIntersect || d.MayMiss || d.Pending != "" {
		return false
	}
	for i, o := range v.Operands() {
		if o == nil || o.Op == ir.OpConst {
			continue
		}
		if v.ParamFor(i).Type != ops.TensorIn {
			if _, ok, isDict := g.dictHyper(o); isDict {
				if !ok {
					return false
				}
				continue
			}
		}
		if !g.surelyPresent(o, seen) {
			return false
		}
	}
	return true
}
