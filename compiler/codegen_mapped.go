package compiler

import (
	"github.com/mechac/mechac/compiler/ir"
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/bytecode"
)

// Key-mapping methods (sd-mecha's map_keys: config conversions, block weights, LoRA) read
// their inputs at other keys than the one they produce. The compiler asks the method which
// input keys an output key needs (Def.MapKeys) and emits the inputs at those keys.

// literalValue is a per-key literal's value at key: the dict entry of that name (or of an
// alias of it in the literal's config).
func (g *generator) emitLiteral(v *ir.Value) result {
	d := v
	if v.Op == ir.OpLiteral {
		d = v.Inner
	}
	if d.Op == ir.OpConst {
		return result{isConst: true, val: d.Const}
	}
	cfg, _ := g.c.opts.Registry.Config(v.Config)
	for _, e := range d.Dict {
		name := e.Key
		if cfg != nil {
			if spec, ok := cfg.Key(e.Key); ok {
				name = spec.Name
			}
		}
		if name != g.key {
			continue
		}
		if e.Value.Op == ir.OpConst {
			return result{isConst: true, val: e.Value.Const}
		}
		return g.emit(e.Value)
	}
	return result{missing: true}
}

// literalKeys is the key set of a literal: its dict's keys (canonical in its config), or
// every key for a constant.
func (c *compilation) literalKeys(v *ir.Value) keySet {
	d := v
	if v.Op == ir.OpLiteral {
		d = v.Inner
	}
	if d.Op != ir.OpDict || v.Config == "" || v.Config == "singleton-mecha" {
		return keySet{all: true}
	}
	cfg, _ := c.opts.Registry.Config(v.Config)
	s := c.keys.u.newSet()
	for _, e := range d.Dict {
		name := e.Key
		if cfg != nil {
			if spec, ok := cfg.Key(e.Key); ok {
				name = spec.Name
			}
		}
		s.add(name)
	}
	return s
}

// tensorOperands are the operands a mapped method reads per key, in MapKeys order.
func tensorOperands(v *ir.Value) []*ir.Value {
	var out []*ir.Value
	for i, a := range v.Operands() {
		if v.ParamFor(i).Type == ops.TensorIn {
			out = append(out, a)
		}
	}
	return out
}

// mappedKeys: the keys of the output config whose mapped input keys every tensor input has.
func (c *compilation) mappedKeys(v *ir.Value) keySet {
	s := c.keys.u.newSet()
	cfg, ok := c.opts.Registry.Config(v.Config)
	if !ok || (v.Def.MapKeys == nil && v.Def.MapKeysAlt == nil) {
		return s
	}
	for _, spec := range cfg.Keys {
		if _, _, ok := c.chooseMapping(v, spec.Name); ok {
			s.add(spec.Name)
		}
	}
	return s
}

// chooseMapping: the input keys a mapped method reads for outKey (with MapKeysAlt, the first
// alternative whose keys every tensor input has, and its index); ok=false if none is complete.
func (c *compilation) chooseMapping(v *ir.Value, outKey string) ([][]string, int, bool) {
	d := v.Def
	ins := tensorOperands(v)
	complete := func(need [][]string) bool {
		if len(need) != len(ins) {
			return false
		}
		for i, keys := range need {
			set := c.keys.sets[ins[i]]
			for _, k := range keys {
				if !set.has(k) {
					return false
				}
			}
		}
		return true
	}
	if d.MapKeysAlt != nil {
		alts, ok := d.MapKeysAlt(outKey)
		if !ok {
			return nil, 0, false
		}
		for i, need := range alts {
			if complete(need) {
				return need, i, true
			}
		}
		return nil, 0, false
	}
	if d.MapKeys == nil {
		return nil, 0, false
	}
	need, ok := d.MapKeys(outKey)
	if !ok || !complete(need) {
		return nil, 0, false
	}
	return need, 0, true
}

func (g *generator) emitMapped(v *ir.Value) result {
	d := v.Def
	need, alt, ok := g.c.chooseMapping(v, g.key)
	ins := tensorOperands(v)
	if !ok || len(need) != len(ins) {
		return result{missing: true}
	}
	// A pure rename of a constant (block weights, a literal read under another name) is that
	// constant: later hyper-parameters see a number, rounded as the era types numbers.
	if len(ins) == 1 && len(need[0]) == 1 && len(v.Var) == 0 && d.Traits&ops.Routing != 0 {
		if r := g.emitAt(ins[0], need[0][0]); r.isConst || r.missing {
			return r
		}
	}
	var operands []bytecode.Operand
	var counts []int
	var argVals, varVals, kwVals []ops.Value
	mayMiss := false
	ti := 0
	for i, a := range v.Operands() {
		p := v.ParamFor(i)
		var val ops.Value
		if p.Type == ops.TensorIn {
			val = ops.Value{Kind: ops.KindTensorList}
			for _, k := range need[ti] {
				r := g.emitAt(a, k)
				switch {
				case r.missing:
					return result{missing: true}
				case r.isConst:
					c := g.constFor(r.val, p)
					operands = append(operands, bytecode.Operand{Kind: bytecode.OpConst, Index: g.constant(c)})
					f, _ := r.val.Float64()
					val.Ts = append(val.Ts, ops.Scalar(f))
				default:
					operands = append(operands, bytecode.Operand{Kind: bytecode.OpReg, Index: r.reg})
					val.Ts = append(val.Ts, &ops.Tensor{Shape: r.shape})
					mayMiss = mayMiss || r.mayMiss
				}
			}
			counts = append(counts, len(need[ti]))
			ti++
		} else {
			counts = append(counts, -1)
			if a == nil {
				operands = append(operands, bytecode.Operand{Kind: bytecode.OpAbsent})
				val = ops.Null()
			} else {
				r := g.emit(a)
				if r.missing {
					return result{missing: true}
				}
				if r.isConst {
					c := g.constFor(r.val, p)
					operands = append(operands, bytecode.Operand{Kind: bytecode.OpConst, Index: g.constant(c)})
					val = r.val
				} else {
					operands = append(operands, bytecode.Operand{Kind: bytecode.OpReg, Index: r.reg})
					val = ops.TensorValue(&ops.Tensor{Shape: r.shape})
				}
			}
		}
		switch {
		case i < len(v.Args):
			argVals = append(argVals, val)
		case i < len(v.Args)+len(v.Var):
			varVals = append(varVals, val)
		default:
			kwVals = append(kwVals, val)
		}
	}
	if d.OutShape == nil && d.OutShapeKey == nil {
		g.errs.Addf(v.Pos, "%s: key-mapping method without an output shape rule", d.Name)
		return result{missing: true}
	}
	var shape []int
	var err error
	if d.OutShapeKey != nil {
		shape, err = d.OutShapeKey(g.key, alt, argVals, varVals, kwVals)
	} else {
		shape, err = d.OutShape(argVals, varVals, kwVals)
	}
	if err != nil {
		g.errs.Addf(v.Pos, "%s: key %q: %v", d.Name, g.key, err)
		return result{missing: true}
	}
	reg := g.newReg()
	g.sized(reg, shape)
	g.code = append(g.code, bytecode.Instr{
		Op: bytecode.CALL, A: reg, B: g.method(d), Operands: operands,
		NArgs: len(v.Args), NVar: len(v.Var), Counts: counts, Key: g.callKey(), Alt: alt,
	})
	return result{reg: reg, mayMiss: mayMiss, shape: shape}
}
