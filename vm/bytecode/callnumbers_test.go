package bytecode

import (
	"maps"
	"testing"
)

// CallNumbers names constant arguments by parameter: positional, past variadic ones, keyword-
// only; registers, absent arguments and strings are left out; a key-mapping call's tensor
// lists (Counts) take as many operands as they hold and the arguments after them keep their
// names.
func TestCallNumbers(t *testing.T) {
	consts := []Const{{Kind: ConstInt, I: 4}, {Kind: ConstBool, B: false}, {Kind: ConstFloat, F: 0.5}, {Kind: ConstString, S: "x"}}
	reg := func(i int) Operand { return Operand{Kind: OpReg, Index: i} }
	cst := func(i int) Operand { return Operand{Kind: OpConst, Index: i} }
	absent := Operand{Kind: OpAbsent}
	params, kwOnly := []string{"a", "rank", "approx", "ratio"}, []string{"k", "name"}
	tests := []struct {
		name string
		in   Instr
		want map[string]float64
	}{
		{"plain", Instr{Operands: []Operand{reg(0), cst(0), cst(1), absent}, NArgs: 4}, map[string]float64{"rank": 4, "approx": 0}},
		{"variadic then keyword-only", Instr{Operands: []Operand{reg(0), reg(1), reg(2), cst(2), cst(3)}, NArgs: 1, NVar: 2}, map[string]float64{"k": 0.5}},
		{"tensor list first", Instr{Operands: []Operand{reg(0), reg(1), reg(2), cst(0), cst(1), cst(2)}, NArgs: 4, Counts: []int{3, -1, -1, -1}},
			map[string]float64{"rank": 4, "approx": 0, "ratio": 0.5}},
		{"empty tensor list", Instr{Operands: []Operand{cst(0)}, NArgs: 2, Counts: []int{0, -1}}, map[string]float64{"rank": 4}},
	}
	for _, tt := range tests {
		if got := CallNumbers(consts, tt.in, params, kwOnly); !maps.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
