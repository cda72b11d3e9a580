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

// keyRewrites are the rewrites that run per key inside code generation rather than as IR
// passes. They are listed here so the pass table tells the whole story; generate runs them
// in this order for each merge it emits (emitCall).
var keyRewrites = []struct{ name, why string }{
	{"key-fold (codegen_fold.go)",
		"per key, not an IR pass: whether alpha hits a kernel shortcut depends on the key (a block-weight dict gives 0 " +
			"to one component and 1 to another), and dropping an input is only sound where that input surely has the " +
			"key (union-key eras, the non-finite rule), which the IR does not know; before fusion, so that a folded " +
			"shortcut is transparent inside a fused chain"},
	{"linear-fusion (codegen_fuse.go)",
		"per key for the same reasons (coefficients come from per-key alphas; a node is expanded only where every " +
			"input has the key, which keeps the key set of the chain), after the IR passes so that CSE has made " +
			"values read twice identical (they become one term); exact numerics only"},
}

// KeyRewriteNames lists the per-key rewrites of code generation, in order.
func KeyRewriteNames() []string {
	var out []string
	for _, r := range keyRewrites {
		out = append(out, r.name)
	}
	return out
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
