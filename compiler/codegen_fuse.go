package compiler

import (
	"math"
	"math/big"

	"github.com/mechac/mechac/compiler/ir"
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/bytecode"
)

// N-ary fusion (SPEC.md §3.5): in exact numerics, a tree of linear methods -- weighted_sum,
// add_difference, subtract, scale, n_average, today's and 0.0.x's -- whose hyper-parameters
// are numbers at the key becomes one linear_combination(m_1..m_n; c_1..c_n) of its leaves.
// Like folding it runs per key in code generation: alpha may be a dict with a different value
// per key, and whether a node's inputs all have the key (union-key eras) is a per-key fact.
//
// Why it is exact-mode only: the chain rounds after every step and sd-mecha numerics promise
// those bits; the fused sum rounds each coefficient once (computed exactly with big.Rat) and
// each product-sum once, so it is at least as close to the real value, but not the same bits.
//
// What keeps the semantics:
//   - key sets: a node is expanded only when every tensor input has the key, so the fused
//     value has the key exactly when the chain had (intersection: implied; union eras: a node
//     whose input lacks the key keeps the era's missing rule and becomes a leaf);
//   - missing at run time: every leaf stays an operand, so one missing leaf makes the result
//     missing, as in the chain;
//   - non-finite values: a leaf with coefficient 0 is still multiplied (0*Inf = NaN, as the
//     chain's 0*x); a 1.1.x kernel shortcut (alpha == 0, isclose(alpha, 1)), which ignores
//     the other input's values, is never expanded: that node is a leaf, folded or called as is.

// FuseNote is what `mechac explain` says of a linear method in exact numerics.
const FuseNote = "exact numerics: where alpha is a number at a key, this line and the linear lines around it " +
	"compute as one linear_combination (coefficients exact, rounded once): within " +
	"4(n+1)·2^-53·Σ|c_i·m_i| of the step-by-step chain of n lines; --numerics sd-mecha keeps the chain"

// linearDefs are the methods fusion expands, by FullName.
var linearDefs = map[string]bool{
	"weighted_sum": true, "weighted_sum@0.0.x": true,
	"add_difference": true, "add_difference@0.0.x": true, "add_difference@0.0.4": true,
	"add_difference@0.0.9": true, "add_difference@fork-0.0.12": true, "add_difference@fork-0.0.13": true,
	"subtract": true, "scale": true,
	"n_average": true, "n_average@0.0.x": true,
}

// maxFusedTerms bounds a tree's expansion (a DAG that reuses nodes could expand
// exponentially); past it the remaining nodes become leaves.
const maxFusedTerms = 1024

// linTerm is one leaf of a fused tree with its exact coefficient.
type linTerm struct {
	v *ir.Value
	c *big.Rat
}

// linNode is what fusion needs of a linear value at every key, computed once per value:
// with 216 models, rebuilding operand lists and big.Rat coefficients for each of 2515 keys
// was a third of code generation.
type linNode struct {
	ins []*ir.Value // tensor operands
	ai  int         // alphaIndex
	// cs: the coefficients by alpha's float64 bits (0 without alpha). Shared, read-only.
	cs map[uint64][]*big.Rat
}

// linNodeOf is v's linNode, or nil when v is not a linear method.
func (g *generator) linNodeOf(v *ir.Value) *linNode {
	if n, ok := g.lin[v]; ok {
		return n
	}
	var n *linNode
	if v.Op == ir.OpMerge && linearDefs[v.Def.FullName()] {
		n = &linNode{ins: tensorOperands(v), ai: alphaIndex(v), cs: map[uint64][]*big.Rat{}}
	}
	if g.lin == nil {
		g.lin = map[*ir.Value]*linNode{}
	}
	g.lin[v] = n
	return n
}

// linearCoefs returns the exact coefficient of each tensor operand of v at the current key,
// or ok=false when v is not expandable here. The coefficients are shared: do not modify them.
func (g *generator) linearCoefs(v *ir.Value) ([]*big.Rat, bool) {
	n := g.linNodeOf(v)
	if n == nil || len(n.ins) == 0 {
		return nil, false
	}
	ins := n.ins
	for _, o := range ins {
		if o == nil || o.Op == ir.OpConst || o.Op == ir.OpDict || !g.keyIn(g.c.keys.sets[o]) {
			return nil, false
		}
	}
	var w float64
	if n.ai >= 0 {
		var ok bool
		w, ok = g.alphaAt(v, n.ai)
		if !ok || shortcut(v.Def, w) >= 0 || (v.Def.Era == "" && v.Def.Name == "scale" && w == 0) {
			// a kernel shortcut ignores an input's values (scale by 0 writes zeros even
			// over NaN): not the linear formula
			return nil, false
		}
	}
	bits := math.Float64bits(w)
	cs, ok := n.cs[bits]
	if !ok {
		cs = linearCoefsAt(v, len(ins), n.ai >= 0, w)
		n.cs[bits] = cs
	}
	return cs, cs != nil
}

// linearCoefsAt computes the coefficients of linear method v with n tensor operands and, if
// hasAlpha, alpha w; nil when alpha is not finite.
func linearCoefsAt(v *ir.Value, n int, hasAlpha bool, w float64) []*big.Rat {
	one := big.NewRat(1, 1)
	var alpha *big.Rat
	if hasAlpha {
		alpha = new(big.Rat).SetFloat64(w)
		if alpha == nil { // not finite
			return nil
		}
	}
	switch v.Def.Name {
	case "weighted_sum":
		return []*big.Rat{new(big.Rat).Sub(one, alpha), alpha}
	case "add_difference":
		return []*big.Rat{one, alpha}
	case "subtract":
		return []*big.Rat{one, big.NewRat(-1, 1)}
	case "scale":
		return []*big.Rat{alpha}
	case "n_average":
		cs := make([]*big.Rat, n)
		c := big.NewRat(1, int64(n))
		for i := range cs {
			cs[i] = c
		}
		return cs
	}
	return nil
}

// mulRat is a*b, without a new Rat when one of them is 1 (the operands of subtract and
// add_difference, the top of every tree). The result may be a or b: read-only. Products are
// memoized by operand pointers (generator.products): the 2024 call files' 48-deep chains of
// weighted sums carry ~2500-bit coefficients, and multiplying them again for every key (each
// product normalized by a GCD) was half of x43's 1.8 s compile.
func (g *generator) mulRat(a, b *big.Rat) *big.Rat {
	switch {
	case isOne(a):
		return b
	case isOne(b):
		return a
	}
	k := [2]*big.Rat{a, b}
	if r, ok := g.products[k]; ok {
		return r
	}
	r := new(big.Rat).Mul(a, b)
	if g.products == nil {
		g.products = map[[2]*big.Rat]*big.Rat{}
	}
	g.products[k] = r
	return r
}

func isOne(r *big.Rat) bool {
	return r.IsInt() && r.Num().IsInt64() && r.Num().Int64() == 1
}

// expand adds c times v's linear expansion at the current key to terms, and returns how
// many linear nodes it expanded.
func (g *generator) expand(v *ir.Value, c *big.Rat, terms *[]linTerm) int {
	if len(*terms) >= maxFusedTerms {
		// a DAG reading shared nodes many times: stop expanding, keep leaves
		*terms = append(*terms, linTerm{v, c})
		return 0
	}
	cs, ok := g.linearCoefs(v)
	if !ok {
		// A kernel shortcut that folds is its kept operand: expand through it.
		if kept, folds := g.foldTarget(v); folds {
			return 1 + g.expand(kept, c, terms)
		}
		*terms = append(*terms, linTerm{v, c})
		return 0
	}
	n := 1
	for i, o := range g.linNodeOf(v).ins {
		n += g.expand(o, g.mulRat(c, cs[i]), terms)
	}
	return n
}

// fuseLinear emits v as one linear_combination when v heads a linear tree of at least two
// nodes (folded kernel shortcuts count as nodes).
func (g *generator) fuseLinear(v *ir.Value) (result, bool) {
	if g.c.opts.NoFuse || g.c.opts.Numerics != ops.Exact {
		return result{}, false
	}
	def, ok := g.c.opts.Registry.Lookup(ops.LinearCombination)
	if !ok {
		return result{}, false
	}
	var terms []linTerm
	if g.one == nil {
		g.one = big.NewRat(1, 1) // read-only, like every coefficient expand passes down
	}
	nodes := g.expand(v, g.one, &terms)
	if nodes == 0 {
		return result{}, false
	}
	if nodes < 2 {
		return result{}, false // a lone node gains nothing
	}
	// Leaves in order of first use. A value read twice is one term when both coefficients
	// have the same sign (both zero included: 0*x + 0*x is NaN exactly where 0*x is);
	// otherwise both terms stay, so that an infinite value still gives inf - inf = NaN (or
	// c*inf + 0*inf = NaN) as in the chain. Two values that emit the same register (a routing
	// method returning its input) count as one value.
	var regs []int
	var coefs []*big.Rat
	var shapes [][]int
	mayMiss := false
	type termKey struct{ reg, sign int }
	at := map[termKey]int{}
	for _, t := range terms {
		r := g.emit(t.v)
		if r.missing || r.isConst {
			return result{}, false // the chain's own code reports or handles it
		}
		k := termKey{r.reg, t.c.Sign()}
		if i, dup := at[k]; dup {
			coefs[i].Add(coefs[i], t.c)
			continue
		}
		at[k] = len(regs)
		regs = append(regs, r.reg)
		coefs = append(coefs, new(big.Rat).Set(t.c))
		shapes = append(shapes, r.shape)
		mayMiss = mayMiss || r.mayMiss
	}
	shape, err := ops.BroadcastShape(shapes...)
	if err != nil {
		return result{}, false // the chain's own code reports the mismatch at its line
	}
	cs := make([]float64, len(coefs))
	for i, c := range coefs {
		cs[i], _ = c.Float64() // the one rounding of each coefficient
	}
	if len(regs) == len(terms) {
		leaves := make([]*ir.Value, len(terms))
		for i, t := range terms {
			leaves[i] = t.v
		}
		if r, ok := g.streamLinear(def, leaves, regs, cs, shapes, mayMiss); ok {
			return r, true
		}
	}
	operands := make([]bytecode.Operand, 0, len(regs)+1)
	for _, r := range regs {
		operands = append(operands, bytecode.Operand{Kind: bytecode.OpReg, Index: r})
	}
	k := g.constant(bytecode.Const{Kind: bytecode.ConstString, S: ops.FormatCoefficients(cs)})
	operands = append(operands, bytecode.Operand{Kind: bytecode.OpConst, Index: k})
	reg := g.newReg()
	g.sized(reg, shape)
	g.code = append(g.code, bytecode.Instr{
		Op: bytecode.CALL, A: reg, B: g.method(def), Operands: operands,
		NArgs: 0, NVar: len(regs), Key: g.callKey(),
	})
	return result{reg: reg, mayMiss: mayMiss, shape: shape}, true
}
