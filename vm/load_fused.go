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
// later CALL reads with that CALL: a CALL of a method with LoadFused over two register
// operands, the LOAD's register first and not the second, dropped by the FREEs that follow the
// CALL. The instructions between them are LOADs, CALLs and FREEs of other registers, and no
// jump lands among them, so the LOAD can wait for the CALL (the scheduler may put the base's
// LOAD between: `LOAD r1; LOAD r0; CALL subtract(r1, r0)`). pair[pc] is the partner's pc + 1
// (the CALL's for a LOAD, the LOAD's for a CALL), 0 for the rest; nil when nothing fuses.
func (m *machine) fusedLoads(code *bytecode.Code, staged *stagedClass) []int {
	var pair []int
	target := map[int]bool{}
	for _, in := range code.Instrs {
		if bytecode.Ops[in.Op].Jumps {
			target[in.B] = true
		}
	}
	for pc, call := range code.Instrs {
		if call.Op != bytecode.CALL || m.methods[call.B].LoadFused == nil || call.Counts != nil ||
			len(call.Operands) != 2 || (staged != nil && staged.pc == pc) {
			continue
		}
		a, b := call.Operands[0], call.Operands[1]
		if a.Kind != bytecode.OpReg || b.Kind != bytecode.OpReg || a.Index == b.Index || call.A == a.Index {
			continue
		}
		ld := loadBefore(code, pc, a.Index, target)
		if ld < 0 || !freedAfter(code, pc, a.Index) {
			continue
		}
		if pair == nil {
			pair = make([]int, len(code.Instrs))
		}
		pair[ld], pair[pc] = pc+1, ld+1
	}
	return pair
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

// loadFused runs the fused LOAD at ld with the CALL at pc over part, when the CALL's second
// operand is a float64 chunk of part's length; done is false when it did not, and then the
// caller runs the LOAD, late, and the CALL as they are, which gives the same values.
func (w *worker) loadFused(k *bytecode.Key, code *bytecode.Code, ld, pc int, part *span) (done bool, err error) {
	m := w.m
	load, call := &code.Instrs[ld], &code.Instrs[pc]
	s := w.regs[call.Operands[1].Index]
	if s == nil || s.t.DType != ops.F64 || len(s.t.Shape) != 1 || len(s.t.Data) != part.n {
		return false, nil
	}
	name := k.Loads[load.C]
	raw, dt, err := w.rawPart(load.B, name, part)
	if err != nil {
		return false, err
	}
	out := w.alloc(part.n)
	finite := m.methods[call.B].LoadFused(out, raw, dt, s.t.Data)
	if m.prog.OmitNonFinite && !finite {
		w.recycle(out)
		return false, errWhole // as loadPart: the whole-tensor run reports the input
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
	r, err := w.cachedRaw(input, name)
	if err != nil {
		return nil, 0, err
	}
	if r != nil {
		size := r.dtype.Size()
		return r.data[part.lo*size : (part.lo+part.n)*size], r.dtype, nil
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
