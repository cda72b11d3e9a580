package vm

import (
	"sync/atomic"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/num"
	"github.com/mechac/mechac/vm/bytecode"
)

// The base chunk of a staged output pass, widened only where something reads it (SPEC §5.4).
// In the output pass of the TIES benchmark's keys every delta is `subtract(model, base)`, made
// a piece at a time from the stored bytes (stage_args.go), and the base is also the operand of
// the add_difference folded into the vote (stagedAdd). The integer vote takes the base from its
// stored float16 (widened to float32 in its own tiles) and adds it from there too, so the
// base's float64 chunk, which the LOAD widened and checked (2% of the run's CPU samples, and
// 512 KiB written and read back per chunk), is needed only where that vote declines a span (a
// difference of 1 or more, an inf or a NaN) or by an instruction other than those. Its LOAD
// then leaves the register holding a tensor without data (lazyBase); whatever reads the value
// widens it first (widenLazy), with the LOAD's check of non-finite inputs.

// lazyBase is a LOAD's register value not widened yet: the slot, and the cached input and
// chunk it widens from. slot is nil when there is none.
type lazyBase struct {
	slot  *slot
	raw   []byte // the cached input's bytes over the chunk
	dtype ops.DType
	n     int
}

// lazyBaseLoad returns the pc of the LOAD whose base the output pass of staged class code can
// leave unwidened, or -1: the LOAD of the register that st.add adds to, which is also every
// staged argument's subtrahend (rawKeys' b), not a LOAD a CALL runs (fused), written once
// before the staged CALL.
func lazyBaseLoad(code *bytecode.Code, st *stagedClass, fused []int) int {
	if st.add == nil || st.skip == nil || len(st.rawKeys) == 0 {
		return -1
	}
	b := st.rawKeys[0].b
	for _, ra := range st.rawKeys {
		o := ra.call.Operands
		if ra.b != b || len(o) != 2 || o[1].Kind != bytecode.OpReg || o[1].Index != st.add.base || b.A != st.add.base {
			return -1
		}
	}
	pc := -1
	for i := range st.pc {
		in := &code.Instrs[i]
		if in == b {
			pc = i
			continue
		}
		if pc >= 0 && bytecode.Ops[in.Op].WritesA && in.A == b.A {
			return -1 // another value in the register before the staged CALL
		}
	}
	if pc < 0 || fused != nil && fused[pc] > 0 {
		return -1
	}
	return pc
}

// loadLazy runs the LOAD in of key k's output pass chunk part without widening it, where its
// input is cached: it reports false (nothing done) where it is not.
func (w *worker) loadLazy(in *bytecode.Instr, k *bytecode.Key, part *span) bool {
	r, err := w.rawAt(in.B, k.Loads[in.C], part)
	if r == nil || err != nil {
		return false
	}
	w.set(in.A, &ops.Tensor{Shape: []int{part.n}, DType: ops.F64})
	w.lazy = lazyBase{slot: w.regs[in.A], raw: r.part(part.lo, part.n), dtype: r.dtype, n: part.n}
	lazyLoads.Add(1)
	return true
}

// lazyLoads and lazyWidened count the base chunks left unwidened and those widened later (for
// the tests).
var lazyLoads, lazyWidened atomic.Int64

// widenLazy widens the lazy base chunk, if any, as its LOAD would have: errWhole for a
// non-finite element where the plan omits non-finite inputs.
func (w *worker) widenLazy() error {
	l := w.lazy
	w.lazy = lazyBase{}
	if l.slot == nil || l.slot.t == nil || l.slot.t.Data != nil {
		return nil
	}
	lazyWidened.Add(1)
	data := w.alloc(l.n)
	finite := num.DecodeFinite(data, l.raw, l.dtype)
	if w.m.prog.OmitNonFinite && !finite {
		w.recycle(data)
		return errWhole
	}
	l.slot.t.Data = data
	return nil
}

// readsLazy reports whether the CALL in reads the lazy base's value.
func (w *worker) readsLazy(in *bytecode.Instr) bool {
	for _, o := range in.Operands {
		if o.Kind == bytecode.OpReg && w.regs[o.Index] == w.lazy.slot {
			return true
		}
	}
	return false
}

// addsLazyBase reports whether adder's ChunkFromAdd takes a nil base (ops.LazyBaseAdder).
func addsLazyBase(adder ops.ArgChunkAdder) bool {
	la, ok := adder.(ops.LazyBaseAdder)
	return ok && la.AddsLazyBase()
}
