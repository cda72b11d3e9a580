package compiler

import "github.com/mechac/mechac/compiler/ir"

// A pass rewrites the IR in place. Each runs on verified IR and must leave it verified
// (tests run ir.Verify after every pass).
type pass struct {
	name string
	fn   func(*ir.Func)
	// why says why the pass sits where it does in the table.
	why string
}

// passes is the pass table, run in order.
var passes = []pass{
	{"fold", foldConstants,
		"first: turns convert_singleton(literal {key: v}) into the constant v so that CSE sees equal scalars as equal and the checker sees plain hyper-parameters"},
	{"cse", eliminateCommonSubexpressions,
		"after folding: merges values that compute the same thing (216 `subtract &k &base` share one base load per key)"},
	{"dce", eliminateDeadCode,
		"last: drops everything the root does not use, including values orphaned by fold and CSE"},
}

// PassNames lists the pass table for `mechac explain` and the docs.
func PassNames() []string {
	var out []string
	for _, p := range passes {
		out = append(out, p.name)
	}
	return out
}

// Optimize runs the pass table.
func Optimize(f *ir.Func) {
	for _, p := range passes {
		p.fn(f)
	}
}
