package compiler

import (
	"github.com/mechac/mechac/compiler/ir"
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/bytecode"
)

// Streaming (SPEC.md §3.5): an n-ary call over many models holds every model's register at
// once, because the VM runs a CALL with all its operands present: an n_average of 128 models
// in chunks holds 129 chunk buffers, so the chunk length shrinks (more system calls per byte)
// and the chunks fall out of the CPU caches. A method that is sequential in its models (a
// running sum, a running lerp, a fused multiply-add per term, in model order) declares its
// steps in ops.Def.Stream (today n_average and the fused linear_combination), and code
// generation emits its call as that chain of two-operand steps instead, each the kernel's own
// step; the scheduler then loads each model right before its step, and the key holds the
// running result and one model. The steps do what the kernel does in the same order, so the
// bytes are the same (tested against the unstreamed programs).
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

// streamCall emits the call v of a method with a streamed form over its varargs regs (the
// models, in order; shapes theirs) as its chain of steps, given the values of its keyword
// arguments; ok = false: emit the call whole.
func (g *generator) streamCall(v *ir.Value, regs []int, shapes [][]int, kw []ops.Value, mayMiss bool) (result, bool) {
	if len(v.Args) != 0 {
		return result{}, false // a step takes the running result and one model, nothing else
	}
	return g.stream(v.Def, v.Var, regs, shapes, kw, mayMiss)
}

// streamLinear emits linear_combination(regs; cs) as its chain of two-term steps.
func (g *generator) streamLinear(def *ops.Def, terms []*ir.Value, regs []int, cs []float64, shapes [][]int, mayMiss bool) (result, bool) {
	return g.stream(def, terms, regs, shapes, []ops.Value{ops.String(ops.FormatCoefficients(cs))}, mayMiss)
}

// stream emits a call of def over the models (values; regs their registers, shapes theirs)
// with keyword arguments kw as def.Stream's chain: the steps, then the finishing call of these
// numerics if any. ok = false (nothing emitted): the call stays whole.
func (g *generator) stream(def *ops.Def, models []*ir.Value, regs []int, shapes [][]int, kw []ops.Value, mayMiss bool) (result, bool) {
	sd := def.Stream
	if g.c.opts.NoStream || sd == nil || len(regs) < streamMin || !streamableModels(models) {
		return result{}, false
	}
	step, ok := g.c.opts.Registry.Lookup(sd.Step)
	if !ok {
		return result{}, false
	}
	var finish *ops.Def
	if name, ok := sd.Finish[g.c.opts.Numerics]; ok {
		if finish, ok = g.c.opts.Registry.Lookup(name); !ok || len(finish.Params) != 1 {
			return result{}, false
		}
	}
	nArgs, nVar, ok := stepArity(step)
	if !ok {
		return result{}, false
	}
	stepKw, ok := sd.StepKw(len(regs), kw)
	if !ok || len(stepKw) != len(regs)-1 {
		return result{}, false
	}
	// Everything that can refuse is checked before the first instruction is emitted.
	shape := shapes[0]
	for k := 1; k < len(regs); k++ {
		var err error
		if shape, err = ops.BroadcastShape(shape, shapes[k]); err != nil {
			return result{}, false // the whole call reports it
		}
		if !streamConsts(stepKw[k-1], step) {
			return result{}, false
		}
	}
	var finishKw []ops.Value
	if finish != nil {
		if finishKw = sd.FinishKw(len(regs)); !streamConsts(finishKw, finish) {
			return result{}, false
		}
	}
	acc, shape := regs[0], shapes[0]
	for k := 1; k < len(regs); k++ {
		shape, _ = ops.BroadcastShape(shape, shapes[k])
		operands := []bytecode.Operand{{Kind: bytecode.OpReg, Index: acc}, {Kind: bytecode.OpReg, Index: regs[k]}}
		acc = g.emitStep(step, shape, g.kwOperands(operands, stepKw[k-1]), nArgs, nVar)
	}
	if finish != nil {
		operands := []bytecode.Operand{{Kind: bytecode.OpReg, Index: acc}}
		acc = g.emitStep(finish, shape, g.kwOperands(operands, finishKw), 1, 0)
	}
	return result{reg: acc, mayMiss: mayMiss, shape: shape}, true
}

// stepArity is how a step method d takes the running result and the next model: as its two
// positional parameters, or as its two varargs when it has varargs and no positional ones.
func stepArity(d *ops.Def) (nArgs, nVar int, ok bool) {
	switch {
	case len(d.Params) == 2:
		return 2, 0, true
	case len(d.Params) == 0 && d.Varargs != nil:
		return 0, 2, true
	}
	return 0, 0, false
}

// streamConsts reports whether kw can be the keyword arguments of a call of d in a chain: one
// plan constant per keyword-only parameter.
func streamConsts(kw []ops.Value, d *ops.Def) bool {
	if len(kw) != len(d.KwOnly) {
		return false
	}
	for _, v := range kw {
		if _, ok := streamConst(v); !ok {
			return false
		}
	}
	return true
}

// streamConst is the plan constant of a step's keyword argument (no era rounding: these
// are the compiler's own arguments, not the recipe's).
func streamConst(v ops.Value) (bytecode.Const, bool) {
	switch v.Kind {
	case ops.KindInt:
		return bytecode.Const{Kind: bytecode.ConstInt, I: v.I}, true
	case ops.KindFloat:
		return bytecode.Const{Kind: bytecode.ConstFloat, F: v.F}, true
	case ops.KindBool:
		return bytecode.Const{Kind: bytecode.ConstBool, B: v.B}, true
	case ops.KindString:
		return bytecode.Const{Kind: bytecode.ConstString, S: v.S}, true
	}
	return bytecode.Const{}, false
}

// kwOperands appends the keyword arguments kw, as plan constants, to operands.
func (g *generator) kwOperands(operands []bytecode.Operand, kw []ops.Value) []bytecode.Operand {
	for _, v := range kw {
		c, _ := streamConst(v)
		operands = append(operands, bytecode.Operand{Kind: bytecode.OpConst, Index: g.constant(c)})
	}
	return operands
}

// emitStep emits CALL d(operands) with nArgs positional and nVar variadic operands, the rest
// keywords.
func (g *generator) emitStep(d *ops.Def, shape []int, operands []bytecode.Operand, nArgs, nVar int) int {
	reg := g.newReg()
	g.sized(reg, shape)
	g.code = append(g.code, bytecode.Instr{
		Op: bytecode.CALL, A: reg, B: g.method(d), Operands: operands, NArgs: nArgs, NVar: nVar, Key: g.callKey(),
	})
	return reg
}
