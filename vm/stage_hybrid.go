package vm

import (
	"sync/atomic"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/bytecode"
)

// Hybrid staged keys (SPEC §5.4). A class program whose staged call (ties_sum_with_dropout) is
// followed by a call that is not elementwise (x6a's isotropic_overrided of the merged delta)
// cannot run in chunks to its end. It runs in two parts: the statistics passes as for any
// staged key, then the staged call's output made whole from its chunks (the slice and
// Stager.Chunk, chunk after chunk, into one tensor); then the program over whole tensors,
// without the instructions only the staged call needed, with that tensor as the call's result.
// Memory is the staged part's (chunks, the Stager's scratch) or the whole part's (the output
// and what the rest of the program holds), whichever is larger, instead of every delta whole.
// The values are the same: the staged call's output is its whole kernel's (Stager contract),
// and the rest runs as in a whole-tensor run.

// hybridRun is the staged call's whole output for the whole part of a hybrid key.
type hybridRun struct {
	st  *stagedClass
	out *ops.Tensor
}

// hybridKeys counts the keys run in the two parts (for the tests).
var hybridKeys atomic.Int64

// wholeSkips marks the instructions before the staged CALL at pc whose results only it (and
// instructions marked) read: the whole part does not run them. An instruction whose register
// an instruction after pc reads (the base of add_difference, the model of a fallback) runs.
func wholeSkips(code *bytecode.Code, pc int) []bool {
	// Every register read after pc counts as needed from before it (one written there before
	// its read needs nothing earlier; counting it anyway only runs an instruction whole
	// execution runs too). What they need before pc is their backward slice.
	var regs []int
	for _, in := range code.Instrs[pc+1:] {
		for _, o := range in.Operands {
			if o.Kind == bytecode.OpReg {
				regs = append(regs, o.Index)
			}
		}
		switch in.Op {
		case bytecode.MOVE:
			regs = append(regs, in.B)
		case bytecode.STORE, bytecode.JPRESENT:
			regs = append(regs, in.A)
		}
	}
	kept := make([]bool, len(code.Instrs))
	for _, i := range backwardSliceOf(code, pc, regs) {
		kept[i] = true
	}
	skip := make([]bool, len(code.Instrs))
	for i, in := range code.Instrs[:pc] {
		switch in.Op {
		case bytecode.LOAD, bytecode.CALL, bytecode.MOVE:
			skip[i] = !kept[i]
		}
	}
	return skip
}

// runHybrid runs a hybrid staged key after its statistics passes (w.stager set): the staged
// call's output whole, then the program over whole tensors.
func (w *worker) runHybrid(k *bytecode.Key, st *stagedClass, n int) (bool, error) {
	m := w.m
	code := &m.prog.Classes[k.Class]
	call := &code.Instrs[st.pc]
	out := make([]float64, n)
	for lo := 0; lo < n; {
		part := w.nextPart(lo, n)
		if err := w.execSlice(k, st.slice, &part); err != nil {
			return false, err
		}
		args, err := w.stagedArgs(call, part.n)
		if err == nil {
			err = w.stager.Chunk(lo, args, out[lo:lo+part.n])
		}
		w.releaseAll()
		if err != nil {
			return false, w.stageErr(call, err)
		}
		lo += part.n
	}
	hybridKeys.Add(1)
	// The staged part is over: its Stager and cached inputs go before the whole part.
	w.stager, w.stagedIn = nil, nil
	w.endRaw()
	w.chunking = false
	shape := m.inputShape(k, code, n)
	w.hybrid = &hybridRun{st: st, out: &ops.Tensor{Shape: shape, Data: out, DType: ops.F64}}
	defer func() { w.hybrid = nil }()
	return w.exec(k, nil)
}

// hybridPeak is the memory a hybrid staged key is admitted with: the larger of its staged
// part (the chunked peak, the Stager's scratch, the cached inputs, and the output being made
// whole) and its whole part (every register the rest of the program holds at once as a whole
// tensor of the key's size, plus a call's kernel scratch, walking every path).
func (m *machine) hybridPeak(k *bytecode.Key, st *stagedClass) int64 {
	code := &m.prog.Classes[k.Class]
	n := ops.NumElements(k.Shape)
	size := 8 * int64(n)
	cache, _ := m.stageCacheSizeOf(k, st)
	staged := m.chunkPeaks[k.Class] + stageScratchOf(k, st) + cache + size
	live := map[int]bool{}
	var whole int64
	for pc := range code.Instrs {
		in := &code.Instrs[pc]
		if st.skipWhole[pc] {
			continue
		}
		switch in.Op {
		case bytecode.LOAD, bytecode.CALL, bytecode.MOVE:
			live[in.A] = true
			var scratch int64
			if in.Op == bytecode.CALL && pc != st.pc {
				scratch = callScratch(m.prog, m.methods[in.B], in, k.Shape)
			}
			whole = max(whole, int64(len(live))*size+scratch)
		case bytecode.FREE:
			delete(live, in.A)
		}
	}
	return max(staged, whole)
}

// callScratch is a whole-tensor CALL's kernel scratch on key shape (ops.Def.CallScratch): every
// register of a staged key holds a tensor of the key's shape.
func callScratch(p *bytecode.Program, d *ops.Def, in *bytecode.Instr, shape []int) int64 {
	var shapes [][]int
	for _, o := range in.Operands {
		if o.Kind == bytecode.OpReg {
			shapes = append(shapes, shape)
		}
	}
	params, kwOnly := d.ParamNames()
	return d.CallScratch(shape, shapes, bytecode.CallNumbers(p.Consts, *in, params, kwOnly))
}

// inputShape is the shape of key k's first LOAD's tensor (every LOAD of a staged key has n
// elements, runChunked checked): the staged call's output shape (a broadcast of its arguments).
func (m *machine) inputShape(k *bytecode.Key, code *bytecode.Code, n int) []int {
	for _, in := range code.Instrs {
		if in.Op == bytecode.LOAD {
			if info, ok := m.inputs[in.B].Tensors[k.Loads[in.C]]; ok {
				return info.Shape
			}
		}
	}
	return []int{n}
}
