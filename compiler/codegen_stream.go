package compiler

import (
	"github.com/mechac/mechac/compiler/ir"
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/bytecode"
)

// Streaming (SPEC.md §3.5): an n-ary call over many models holds every model's register at
// once, because the VM runs a CALL with all its operands present: an n_average of 128 models
// in chunks holds 129 chunk buffers, so the chunk length shrinks (more system calls per byte)
// and the chunks fall out of the CPU caches. n_average and the fused linear_combination are
// sequential in their models (a running sum, a running lerp, a fused multiply-add per term, in
// model order), so code generation emits them as a chain of two-operand steps instead, each
// the kernel's own step; the scheduler then loads each model right before its step, and the
// key holds the running result and one model. The steps do what the kernel does in the same
// order, so the bytes are the same (tested against the unstreamed programs).
//
// Only models (LOADs, float64 in the VM) are streamed: a step rounds its result to the
// promoted dtype of its two operands, where the kernel rounds once for all of them, so an
// operand of another dtype (a cast) would change the bits.

// streamMin is the number of models from which a call is streamed: with three the registers
// live at once are about as many either way.
const streamMin = 4

// streamableModels reports whether every value is a model read from a file.
func streamableModels(vs []*ir.Value) bool {
	for _, v := range vs {
		if v == nil || v.Op != ir.OpModel {
			return false
		}
	}
	return true
}

// streamNAverage emits today's n_average over the registers regs (the models, in order, each of
// its shape) as n_average_step calls and, in exact numerics, an n_average_div.
func (g *generator) streamNAverage(v *ir.Value, regs []int, shapes [][]int, mayMiss bool) (result, bool) {
	if g.c.opts.NoStream || v.Def.FullName() != "n_average" || len(regs) < streamMin ||
		len(v.Args) != 0 || !streamableModels(v.Var) {
		return result{}, false
	}
	step, ok1 := g.c.opts.Registry.Lookup(ops.NAverageStep)
	div, ok2 := g.c.opts.Registry.Lookup(ops.NAverageDiv)
	if !ok1 || !ok2 {
		return result{}, false
	}
	acc, shape := regs[0], shapes[0]
	for k := 1; k < len(regs); k++ {
		var err error
		if shape, err = ops.BroadcastShape(shape, shapes[k]); err != nil {
			return result{}, false // the kernel's call reports it
		}
		kc := g.constant(bytecode.Const{Kind: bytecode.ConstInt, I: int64(k)})
		acc = g.emitStep(step, shape, []bytecode.Operand{
			{Kind: bytecode.OpReg, Index: acc}, {Kind: bytecode.OpReg, Index: regs[k]}, {Kind: bytecode.OpConst, Index: kc},
		}, 2)
	}
	if g.c.opts.Numerics != ops.SDMecha {
		nc := g.constant(bytecode.Const{Kind: bytecode.ConstInt, I: int64(len(regs))})
		acc = g.emitStep(div, shape, []bytecode.Operand{
			{Kind: bytecode.OpReg, Index: acc}, {Kind: bytecode.OpConst, Index: nc},
		}, 1)
	}
	return result{reg: acc, mayMiss: mayMiss, shape: shape}, true
}

// streamLinear emits linear_combination(regs; cs) as two-term linear_combinations: the first
// two terms, then (running result, next term) with coefficients (1, c): 1·r is r exactly, so
// each step is the kernel's fused multiply-add of its next term.
func (g *generator) streamLinear(def *ops.Def, terms []*ir.Value, regs []int, cs []float64, shapes [][]int, mayMiss bool) (result, bool) {
	if g.c.opts.NoStream || len(regs) < streamMin || !streamableModels(terms) {
		return result{}, false
	}
	acc, shape := regs[0], shapes[0]
	for k := 1; k < len(regs); k++ {
		var err error
		if shape, err = ops.BroadcastShape(shape, shapes[k]); err != nil {
			return result{}, false
		}
		c0 := 1.0
		if k == 1 {
			c0 = cs[0]
		}
		kc := g.constant(bytecode.Const{Kind: bytecode.ConstString, S: ops.FormatCoefficients([]float64{c0, cs[k]})})
		acc = g.emitStepVar(def, shape, []bytecode.Operand{
			{Kind: bytecode.OpReg, Index: acc}, {Kind: bytecode.OpReg, Index: regs[k]}, {Kind: bytecode.OpConst, Index: kc},
		})
	}
	return result{reg: acc, mayMiss: mayMiss, shape: shape}, true
}

// emitStep emits CALL d(operands) with nArgs positional operands and the rest keywords.
func (g *generator) emitStep(d *ops.Def, shape []int, operands []bytecode.Operand, nArgs int) int {
	reg := g.newReg()
	g.sized(reg, shape)
	g.code = append(g.code, bytecode.Instr{
		Op: bytecode.CALL, A: reg, B: g.method(d), Operands: operands, NArgs: nArgs, Key: g.callKey(),
	})
	return reg
}

// emitStepVar emits CALL d(*two models, keyword) for a varargs method.
func (g *generator) emitStepVar(d *ops.Def, shape []int, operands []bytecode.Operand) int {
	reg := g.newReg()
	g.sized(reg, shape)
	g.code = append(g.code, bytecode.Instr{
		Op: bytecode.CALL, A: reg, B: g.method(d), Operands: operands, NVar: 2, Key: g.callKey(),
	})
	return reg
}
