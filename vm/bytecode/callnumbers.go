package bytecode

// CallNumbers is the constant numbers of CALL in by parameter name: positional operands named
// by params, keyword-only ones (after the positional and variadic operands) by kwOnly. Operands
// that are registers, absent or not numbers are left out (their parameters' defaults apply); a
// key-mapping call (in.Counts) has none. It is what a method's cost facts (ops.Def.ScratchFor,
// ops.Def.Flops) price a call from; params and kwOnly come from ops.Def.ParamNames.
func CallNumbers(consts []Const, in Instr, params, kwOnly []string) map[string]float64 {
	hp := map[string]float64{}
	if in.Counts != nil {
		return hp
	}
	for i, o := range in.Operands {
		if o.Kind != OpConst || o.Index >= len(consts) {
			continue
		}
		var name string
		switch j := i - in.NArgs - in.NVar; {
		case i < in.NArgs && i < len(params):
			name = params[i]
		case j >= 0 && j < len(kwOnly):
			name = kwOnly[j]
		default:
			continue
		}
		if x, ok := ConstNumber(consts[o.Index]); ok {
			hp[name] = x
		}
	}
	return hp
}

// ConstNumber is a constant as a number, if it is one (a bool is 0 or 1).
func ConstNumber(c Const) (float64, bool) {
	switch c.Kind {
	case ConstFloat, ConstScalar:
		return c.F, true
	case ConstInt:
		return float64(c.I), true
	case ConstBool:
		if c.B {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}
