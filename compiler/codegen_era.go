package compiler

import (
	"github.com/mechac/mechac/compiler/ir"
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/bytecode"
)

// The 2024 engines (sd-mecha 0.0.x) decide keys differently from today's: the output has the
// union of the inputs' keys, some keys are never merged (passthrough: copied from the first
// model that has them), and a merge whose input lacks a key either hands the whole key to
// the passthrough value or returns its first input (era Engine.Missing).

func (c *compilation) unionKeys() bool { return c.era != nil && c.era.Engine.UnionKeys }

// modelsInDFSOrder lists the model values as sd-mecha 0.0.x met them: a left-first
// depth-first walk from the root over every operand, first occurrence kept.
func (c *compilation) modelsInDFSOrder() []*ir.Value {
	if c.dfs != nil {
		return c.dfs
	}
	seen := map[*ir.Value]bool{}
	var walk func(v *ir.Value)
	walk = func(v *ir.Value) {
		if v == nil || seen[v] {
			return
		}
		seen[v] = true
		if v.Op == ir.OpModel {
			c.dfs = append(c.dfs, v)
			return
		}
		for _, o := range v.Operands() {
			walk(o)
		}
	}
	walk(c.fn.Root)
	return c.dfs
}

// passthroughSource is the first model (DFS order) that has key.
func (c *compilation) passthroughSource(key string) *ir.Value {
	for _, m := range c.modelsInDFSOrder() {
		if mk := c.keys.models[m]; mk != nil {
			if _, ok := mk.tensor(key); ok {
				return m
			}
		}
	}
	return nil
}

// genKeyUnion generates a key's program under a 0.0.x engine.
func (g *generator) genKeyUnion(key string) {
	src := g.c.passthroughSource(key)
	if src == nil {
		return
	}
	eng := g.c.era.Engine
	mk := g.c.keys.models[src]
	name, _ := mk.tensor(key)
	shape := mk.info.Tensors[name].Shape
	pass := eng.Passthrough != nil && eng.Passthrough(key, shape)
	if !pass && eng.KeepKey != nil && !eng.KeepKey(key) {
		return // the era drops keys it neither merges nor passes through
	}
	var r result
	if !pass {
		g.abort = false
		r = g.emit(g.c.fn.Root)
	}
	if pass || g.abort || r.missing {
		g.code, g.loads, g.nregs = g.code[:0], g.loads[:0], 0
		g.resetKey()
		r = g.emitLoad(src)
	}
	g.finishKey(key, r)
}

// missingOperand applies the era's rule for a merge whose operand lacks the key. It returns
// the merge's result and whether the rule produced one.
func (g *generator) missingOperand(v *ir.Value, present []presentOperand) (result, bool) {
	if !g.c.unionKeys() {
		return result{missing: true}, true
	}
	switch g.c.era.Engine.Missing {
	case ops.MissingFirstChild:
		for _, p := range present {
			if r := p.r; !r.missing && !r.isConst && p.v.Space == v.Space {
				return r, true
			}
		}
	}
	g.abort = true
	return result{missing: true}, true
}

// dictHyper resolves a dict bound to a hyper-parameter for the current key with the era's
// rule; ok=false means the dict has no value for the key (a KeyError in that era).
func (g *generator) dictHyper(d *ir.Value) (ops.Value, bool, bool) {
	if d.Op == ir.OpLiteral && d.Config == "" && d.Inner != nil && d.Inner.Op == ir.OpDict {
		d = d.Inner
	}
	if d.Op != ir.OpDict || g.c.era == nil || g.c.era.Engine.Hyper == nil {
		return ops.Value{}, false, false
	}
	names := make([]string, 0, len(d.Dict))
	vals := make([]ops.Value, 0, len(d.Dict))
	for _, e := range d.Dict {
		if e.Value.Op != ir.OpConst {
			g.errs.Addf(d.Pos, "dict entry %s must be a number", e.Key)
			return ops.Value{}, false, true
		}
		names = append(names, e.Key)
		vals = append(vals, e.Value.Const)
	}
	v, ok := g.c.era.Engine.Hyper(names, vals, g.key)
	return v, ok, true
}

// emitLoad emits a LOAD of model m at the current key.
func (g *generator) emitLoad(m *ir.Value) result {
	mk := g.c.keys.models[m]
	name, _ := mk.tensor(g.key)
	slot := len(g.loads)
	g.loads = append(g.loads, name)
	reg := g.newReg()
	g.sized(reg, mk.info.Tensors[name].Shape)
	g.code = append(g.code, bytecode.Instr{Op: bytecode.LOAD, A: reg, B: mk.input, C: slot})
	return result{reg: reg, mayMiss: g.c.omitNonFinite(), shape: mk.info.Tensors[name].Shape}
}
