package vm

import (
	"slices"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/bytecode"
)

// Fused loads (SPEC §5.1). A delta recipe makes each model's delta by `LOAD rX; CALL
// subtract(rX, base); FREE rX`: the LOAD widens the model's chunk into a float64 register that
// the subtraction reads once and drops. When the method has a LoadFused kernel (ops.Def), a
// chunked run skips that register: the CALL reads the model's bytes as stored and widens and
// subtracts in one pass (num.DecodeSubFast). On the scale-4 TIES benchmark the widening and
// the subtraction were 30% of the CPU time, half of it spent writing and reading back the
// float64 chunk. The values are the LOAD and the kernel's, bit for bit (TestLoadFusedBitwise).

// fusedLoads pairs, per instruction of a class program, each LOAD whose register only one
// later CALL reads with that CALL, dropped by the FREEs that follow the CALL: a CALL over two
// register operands of a method with LoadFused, the LOAD's register first, or with
// LoadFusedSecond (a kernel for the run's numerics and the call's constant keywords), the
// LOAD's register second. The instructions between them are LOADs, CALLs and FREEs of other
// registers, and no jump lands among them, so the LOAD can wait for the CALL (the scheduler
// may put the base's LOAD between: `LOAD r1; LOAD r0; CALL subtract(r1, r0)`). pair[pc] is
// the partner's pc + 1 (the CALL's for a LOAD, the LOAD's for a CALL), 0 for the rest; nil
// when nothing fuses. second holds, per CALL paired on its second operand, that kernel.
func (m *machine) fusedLoads(code *bytecode.Code, staged *stagedClass) (pair []int, second []secondKernel) {
	target := map[int]bool{}
	for _, in := range code.Instrs {
		if bytecode.Ops[in.Op].Jumps {
			target[in.B] = true
		}
	}
	for pc, call := range code.Instrs {
		if call.Op != bytecode.CALL || !twoTensors(&call) || (staged != nil && staged.pc == pc) {
			continue
		}
		d := m.methods[call.B]
		a, b := call.Operands[0], call.Operands[1]
		if a.Kind != bytecode.OpReg || b.Kind != bytecode.OpReg || a.Index == b.Index {
			continue
		}
		var fn secondKernel
		r := a.Index // the loaded operand
		switch {
		case d.LoadFused != nil && len(call.Operands) == 2 && call.A != a.Index:
		case d.LoadFusedSecond != nil && call.A != b.Index:
			kw, ok := m.constOperands(call.Operands[2:])
			if !ok {
				continue
			}
			if fn = d.LoadFusedSecond(m.numerics, kw); fn == nil {
				continue
			}
			r = b.Index
		default:
			continue
		}
		ld := loadBefore(code, pc, r, target)
		if ld < 0 || !freedAfter(code, pc, r) {
			continue
		}
		if pair == nil {
			pair = make([]int, len(code.Instrs))
		}
		pair[ld], pair[pc] = pc+1, ld+1
		if fn != nil {
			if second == nil {
				second = make([]secondKernel, len(code.Instrs))
			}
			second[pc] = fn
		}
	}
	return pair, second
}

// twoTensors reports whether a CALL's tensor arguments are its first two operands: its two
// positional arguments, or its two varargs when it has no positional ones (a streamed
// linear_combination step, codegen's stepArity), with only keywords after them.
func twoTensors(call *bytecode.Instr) bool {
	return len(call.Operands) >= 2 && call.Counts == nil &&
		(call.NArgs == 2 && call.NVar == 0 || call.NArgs == 0 && call.NVar == 2)
}

// secondKernel is a LoadFusedSecond kernel.
type secondKernel = func(out, a []float64, raw []byte, dt ops.DType) (finite bool)

// constOperands returns the values of constant operands (a call's keywords); false if one is
// not a constant.
func (m *machine) constOperands(operands []bytecode.Operand) ([]ops.Value, bool) {
	kw := make([]ops.Value, 0, len(operands))
	for _, o := range operands {
		if o.Kind != bytecode.OpConst {
			return nil, false
		}
		kw = append(kw, m.consts[o.Index])
	}
	return kw, true
}

// loadBefore is the pc of the LOAD that writes register r for the CALL at pc, when only LOADs,
// CALLs and FREEs of other registers come between and no jump lands after it; else -1.
func loadBefore(code *bytecode.Code, pc, r int, target map[int]bool) int {
	for i := pc - 1; i >= 0; i-- {
		in := &code.Instrs[i]
		if target[i+1] {
			return -1
		}
		switch in.Op {
		case bytecode.LOAD:
			if in.A == r {
				return i
			}
		case bytecode.CALL:
			if in.A == r || slices.ContainsFunc(in.Operands, func(o bytecode.Operand) bool {
				return o.Kind == bytecode.OpReg && o.Index == r
			}) {
				return -1
			}
		case bytecode.FREE:
			if in.A == r {
				return -1
			}
		default:
			return -1
		}
	}
	return -1
}

// freedAfter reports whether a FREE of register r is among the FREEs right after pc.
func freedAfter(code *bytecode.Code, pc, r int) bool {
	for _, in := range code.Instrs[pc+1:] {
		if in.Op != bytecode.FREE {
			return false
		}
		if in.A == r {
			return true
		}
	}
	return false
}

// loadFused runs the fused LOAD at ld with the CALL at pc over part, when the CALL's other
// operand is a float64 chunk of part's length; done is false when it did not, and then the
// caller runs the LOAD, late, and the CALL as they are, which gives the same values. A CALL
// fused on its second operand writes into its first operand's buffer when that register dies
// there (donorFor), as the CALL would.
func (w *worker) loadFused(k *bytecode.Key, code *bytecode.Code, ld, pc int, part *span) (done bool, err error) {
	m := w.m
	load, call := &code.Instrs[ld], &code.Instrs[pc]
	var second secondKernel
	if ks := m.second[k.Class]; ks != nil {
		second = ks[pc]
	}
	other := call.Operands[1].Index
	if second != nil {
		other = call.Operands[0].Index
	}
	s := w.regs[other]
	if s == nil || s.t.DType != ops.F64 || len(s.t.Shape) != 1 || len(s.t.Data) != part.n {
		return false, nil
	}
	name := k.Loads[load.C]
	raw, dt, err := w.rawPart(load.B, name, part)
	if err != nil {
		return false, err
	}
	donated := second != nil && m.donors[k.Class][pc] == other && s.refs == 1
	var out []float64
	if donated {
		out = s.t.Data
	} else {
		out = w.alloc(part.n)
	}
	var finite bool
	if second != nil {
		finite = second(out, s.t.Data, raw, dt)
	} else {
		finite = m.methods[call.B].LoadFused(out, raw, dt, s.t.Data)
	}
	if m.prog.OmitNonFinite && !finite {
		if !donated {
			w.recycle(out)
		}
		// As loadPart: the whole-tensor run reports the input (a donated sum is spoilt, and
		// the key is run again from the start).
		return false, errWhole
	}
	if donated {
		s.t = nil // the buffer now belongs to the result; the dying register releases nothing
	}
	w.set(call.A, &ops.Tensor{Shape: []int{part.n}, Data: out, DType: ops.F64})
	return true, nil
}

// deferredLoad starts the CALL at pc, paired with the LOAD at ld whose run it deferred: done
// when the fused kernel computed the CALL; otherwise it has run the LOAD, and the caller runs
// the CALL as it is.
func (w *worker) deferredLoad(k *bytecode.Key, code *bytecode.Code, ld, pc int, part *span) (done bool, err error) {
	if done, err := w.loadFused(k, code, ld, pc, part); done || err != nil {
		return done, err
	}
	load := &code.Instrs[ld]
	t, err := w.loadPart(load.B, k.Loads[load.C], part)
	if err != nil {
		return false, err
	}
	w.set(load.A, t)
	return false, nil
}

// rawPart returns part of an input tensor's bytes as stored: from the staged key's cache when
// it has one, else read into the worker's scratch buffer (valid until the next rawPart).
func (w *worker) rawPart(input int, name string, part *span) ([]byte, ops.DType, error) {
	r, err := w.rawAt(input, name, part)
	if err != nil {
		return nil, 0, err
	}
	if r != nil {
		return r.part(part.lo, part.n), r.dtype, nil
	}
	f, info, err := w.m.tensorInfo(input, name)
	if err != nil {
		return nil, 0, err
	}
	size := info.DType.Size()
	if cap(w.rawScratch) < part.n*size {
		w.rawScratch = make([]byte, max(w.m.chunkElems, part.n)*size)
	}
	buf := w.rawScratch[:part.n*size]
	if err := f.ReadRawPart(name, part.lo, buf); err != nil {
		return nil, 0, err
	}
	w.m.bytesRead.Add(int64(len(buf)))
	return buf, info.DType, nil
}
