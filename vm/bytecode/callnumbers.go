package bytecode

// CallNumbers is the constant numbers of CALL in by parameter name: positional arguments named
// by params, keyword-only ones (after the positional and variadic arguments) by kwOnly.
// Arguments that are registers, tensor lists (a key-mapping call's, in.Counts), absent or not
// numbers are left out (their parameters' defaults apply). It is what a method's cost facts
// (ops.Def.ScratchFor, ScratchIn, Flops) price a call from; params and kwOnly come from
// ops.Def.ParamNames.
func CallNumbers(consts []Const, in Instr, params, kwOnly []string) map[string]float64 {
	hp := map[string]float64{}
	op := 0 // the argument's first operand
	for i := range in.NumArgs() {
		o, plain := Operand{Kind: OpAbsent}, true
		if in.Counts != nil && in.Counts[i] >= 0 {
			plain = false
			op += in.Counts[i]
		} else if op < len(in.Operands) {
			o = in.Operands[op]
			op++
		}
		if !plain || o.Kind != OpConst || o.Index >= len(consts) {
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
