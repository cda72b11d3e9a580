package compiler

import (
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/bytecode"
)

// CallNumbers is the constant numbers of CALL in (a call of d) by parameter name, positional
// and keyword-only: what ops.Def.ScratchFor and ops.Def.Flops price a call from. Operands
// that are registers, absent or not numbers are left out (their parameters' defaults apply);
// a key-mapping call (in.Counts) has none.
func CallNumbers(consts []bytecode.Const, d *ops.Def, in bytecode.Instr) map[string]float64 {
	hp := map[string]float64{}
	if in.Counts != nil {
		return hp
	}
	for i, o := range in.Operands {
		if o.Kind != bytecode.OpConst || o.Index >= len(consts) {
			continue
		}
		var name string
		switch j := i - in.NArgs - in.NVar; {
		case i < in.NArgs && i < len(d.Params):
			name = d.Params[i].Name
		case j >= 0 && j < len(d.KwOnly):
			name = d.KwOnly[j].Name
		default:
			continue
		}
		if x, ok := ConstNumber(consts[o.Index]); ok {
			hp[name] = x
		}
	}
	return hp
}

// ConstNumber is a plan constant as a number, if it is one (a bool is 0 or 1).
func ConstNumber(c bytecode.Const) (float64, bool) {
	switch c.Kind {
	case bytecode.ConstFloat, bytecode.ConstScalar:
		return c.F, true
	case bytecode.ConstInt:
		return float64(c.I), true
	case bytecode.ConstBool:
		if c.B {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}
