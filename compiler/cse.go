package compiler

import (
	"fmt"
	"math"
	"strings"

	"github.com/mechac/mechac/compiler/ir"
)

// eliminateCommonSubexpressions value-numbers the function: two values with the same
// operation and the same (already numbered) operands become one. Values are visited in
// definition order, so operands are canonical before their users.
func eliminateCommonSubexpressions(f *ir.Func) {
	canon := map[*ir.Value]*ir.Value{}
	seen := map[string]*ir.Value{}
	get := func(v *ir.Value) *ir.Value {
		if v == nil {
			return nil
		}
		if c, ok := canon[v]; ok {
			return c
		}
		return v
	}
	for _, v := range f.Values {
		for i := range v.Args {
			v.Args[i] = get(v.Args[i])
		}
		for i := range v.Var {
			v.Var[i] = get(v.Var[i])
		}
		for i := range v.Kw {
			v.Kw[i] = get(v.Kw[i])
		}
		for i := range v.Dict {
			v.Dict[i].Value = get(v.Dict[i].Value)
		}
		v.Inner = get(v.Inner)
		k := valueKey(v)
		if prev, ok := seen[k]; ok {
			canon[v] = prev
			continue
		}
		seen[k] = v
	}
	f.Root = get(f.Root)
}

// valueKey identifies what a value computes, in terms of its operands' identities.
func valueKey(v *ir.Value) string {
	var b strings.Builder
	id := func(o *ir.Value) {
		if o == nil {
			b.WriteString("_,")
			return
		}
		fmt.Fprintf(&b, "%p,", o)
	}
	fmt.Fprintf(&b, "%d|", v.Op)
	switch v.Op {
	case ir.OpModel:
		fmt.Fprintf(&b, "%q|%q|%q|%d", v.Path, v.Param, v.Config, v.Space)
	case ir.OpConst:
		c := v.Const
		// Float bits, so that 0.0 and -0.0 stay apart and NaN equals itself.
		fmt.Fprintf(&b, "%d|%t|%d|%x|%q", c.Kind, c.B, c.I, math.Float64bits(c.F), c.S)
	case ir.OpDict:
		for _, e := range v.Dict {
			fmt.Fprintf(&b, "%q=", e.Key)
			id(e.Value)
		}
	case ir.OpLiteral:
		fmt.Fprintf(&b, "%q|%d|", v.Config, v.Space)
		id(v.Inner)
	case ir.OpMerge:
		fmt.Fprintf(&b, "%s|", v.Def.FullName())
		for _, o := range v.Args {
			id(o)
		}
		b.WriteString("|")
		for _, o := range v.Var {
			id(o)
		}
		b.WriteString("|")
		for _, o := range v.Kw {
			id(o)
		}
	}
	return b.String()
}
