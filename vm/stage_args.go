package vm

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/bytecode"
)

// Arguments made a piece at a time (SPEC §5.4). In the output pass of a staged ties_sum each
// delta is `subtract(model, base)` with the model's LOAD fused into it (load_fused.go): every
// chunk, the VM widened and subtracted each model into a float64 chunk (64 Ki elements, 512
// KiB), and the vote read all of them back, eight chunks and more that no cache holds. When the
// Stager can take its arguments a piece at a time (ops.ArgChunker), those CALLs do not run:
// the staged CALL's Stager asks for a tile of each delta (512 columns) when it votes it, and the
// VM makes the tile by the same fused kernel (Def.LoadFused) from the cached model bytes and the
// base's chunk, into a buffer the cache keeps. The values are the CALLs' (the same kernel on
// the same elements), so the bytes are too (TestRawKeysBitwise runs with and without).

// directArgs reports whether the output pass of staged class code can make its staged CALL's
// arguments a piece at a time: every argument is a rawKeyArg whose CALL runs fused with its
// model's LOAD (pair, m.fused) and whose value only the staged CALL reads. skip marks the
// CALLs that then do not run.
func directArgs(code *bytecode.Code, st *stagedClass, pair []int) (skip []bool, ok bool) {
	if st.rawKeys == nil || pair == nil {
		return nil, false
	}
	skip = make([]bool, len(code.Instrs))
	for _, ra := range st.rawKeys {
		c := ra.pc
		if pair[c] == 0 || code.Instrs[pair[c]-1].A != ra.call.Operands[0].Index ||
			!readOnlyAt(code, c, ra.call.A, st.pc) {
			return nil, false
		}
		skip[c] = true
	}
	return skip, true
}

// readOnlyAt reports whether the value the instruction at def writes to register r is read by
// the instruction at use alone (once), up to the next write of r or the end.
func readOnlyAt(code *bytecode.Code, def, r, use int) bool {
	reads := 0
	for i := def + 1; i < len(code.Instrs); i++ {
		in := &code.Instrs[i]
		for _, o := range in.Operands {
			if o.Kind == bytecode.OpReg && o.Index == r {
				if i != use {
					return false
				}
				reads++
			}
		}
		if in.Op == bytecode.MOVE && in.B == r || in.Op == bytecode.STORE && in.A == r ||
			in.Op == bytecode.JPRESENT && in.A == r {
			return false
		}
		if (in.Op == bytecode.LOAD || in.Op == bytecode.CALL || in.Op == bytecode.MOVE ||
			in.Op == bytecode.FREE || in.Op == bytecode.MISS) && in.A == r {
			break
		}
	}
	return reads == 1
}

// directChunks counts the output chunks whose staged arguments were made a piece at a time
// (for the tests).
var directChunks atomic.Int64

// rawArgSource is the ops.ArgSource of one output chunk of key k: tiles of each argument made
// by its CALL's fused kernel from the cached model bytes and the base's chunk.
type rawArgSource struct {
	w    *worker
	k    *bytecode.Key
	st   *stagedClass
	part *span
	args []rawArg // per argument, found once per chunk (a tile asks for one of them)
}

// rawArg is one argument's operands over the chunk: the model's stored bytes and the base's
// float64 values (the register's: none yet where it is the lazy base, stage_lazy.go).
type rawArg struct {
	raw   []byte
	dtype ops.DType
	base  *slot
	// baseRaw is the base's stored bytes over the chunk, when the base register is a LOAD of
	// the model's dtype (nil else): base is their widening.
	baseRaw []byte
	fused   func(out []float64, raw []byte, dt ops.DType, b []float64) bool
	diff    bool // the method is a plain difference (Def.Difference)
}

// load finds every argument's operands over the chunk: errWhole when a base is not a float64
// chunk of the part's length (as loadFused: let the CALLs run, over whole tensors).
func (src *rawArgSource) load() error {
	w, k, n := src.w, src.k, src.part.n
	src.args = src.args[:0]
	for i := range src.st.rawKeys {
		ra := &src.st.rawKeys[i]
		base := w.regs[ra.call.Operands[1].Index]
		lazy := base != nil && base == w.lazy.slot
		if base == nil || base.t.DType != ops.F64 || !lazy && len(base.t.Data) != n {
			return errWhole
		}
		in, err := w.rawAt(ra.a.B, k.Loads[ra.a.C], src.part)
		if err != nil {
			return err
		}
		if in == nil {
			return errWhole
		}
		d := w.m.methods[ra.call.B]
		var baseRaw []byte
		if ib, err := w.rawAt(ra.b.B, k.Loads[ra.b.C], src.part); err == nil && ib != nil && ib.dtype == in.dtype {
			baseRaw = ib.part(src.part.lo, n)
		}
		if lazy && baseRaw == nil { // nothing to vote from in its place
			if err := w.widenLazy(); err != nil {
				return err
			}
		}
		src.args = append(src.args, rawArg{raw: in.part(src.part.lo, n), dtype: in.dtype,
			base: base, baseRaw: baseRaw, fused: d.LoadFused, diff: d.Difference})
	}
	return nil
}

// Arg is ops.ArgSource.Arg.
func (src *rawArgSource) Arg(i, off int, dst []float64) error {
	if i < 0 || i >= len(src.args) || off < 0 || off+len(dst) > src.part.n {
		return errWhole // cannot happen: a Stager asking for what the VM did not offer
	}
	a := &src.args[i]
	base, err := src.BaseValues(i)
	if err != nil {
		return err
	}
	size := a.dtype.Size()
	finite := a.fused(dst, a.raw[off*size:(off+len(dst))*size], a.dtype, base[off:off+len(dst)])
	if src.w.m.prog.OmitNonFinite && !finite {
		return errWhole // as loadPart: the whole-tensor run reports the input
	}
	return nil
}

// Delta is ops.DeltaSource.Delta.
func (src *rawArgSource) Delta(i int) (raw []byte, dt ops.DType, base []float64, ok bool) {
	if i < 0 || i >= len(src.args) || !src.args[i].diff {
		return nil, 0, nil, false
	}
	a := &src.args[i]
	return a.raw, a.dtype, a.base.t.Data, true // no base yet where it is lazy: BaseValues
}

// BaseValues is ops.LazyBaseSource.BaseValues: argument i's float64 base over the chunk,
// widened now if it was not (stage_lazy.go).
func (src *rawArgSource) BaseValues(i int) ([]float64, error) {
	if i < 0 || i >= len(src.args) {
		return nil, errWhole // cannot happen: a Stager asking for what the VM did not offer
	}
	b := src.args[i].base
	if b.t.Data == nil {
		if b != src.w.lazy.slot {
			return nil, errWhole // cannot happen: only the lazy base has no data
		}
		if err := src.w.widenLazy(); err != nil {
			return nil, err
		}
	}
	return b.t.Data, nil
}

// DeltaBase is ops.RawDeltaSource.DeltaBase.
func (src *rawArgSource) DeltaBase(i int) (raw []byte, ok bool) {
	if i < 0 || i >= len(src.args) || !src.args[i].diff || src.args[i].baseRaw == nil {
		return nil, false
	}
	return src.args[i].baseRaw, true
}

// directChunk runs the staged CALL of the output pass with its arguments made a piece at a
// time (w.direct set).
func (w *worker) directChunk(k *bytecode.Key, in *bytecode.Instr, part *span) (*ops.Tensor, error) {
	return w.directChunkWith(k, in, part, func(src ops.ArgSource, out []float64) error {
		return w.direct.ChunkFrom(part.lo, src, out)
	})
}

// directChunkWith is directChunk with the Stager's call (chunk) given.
func (w *worker) directChunkWith(k *bytecode.Key, in *bytecode.Instr, part *span, chunk func(src ops.ArgSource, out []float64) error) (*ops.Tensor, error) {
	directChunks.Add(1)
	w.argSrc.w, w.argSrc.k, w.argSrc.st, w.argSrc.part = w, k, w.m.staged[k.Class], part
	if err := w.argSrc.load(); err != nil {
		return nil, err
	}
	out := w.alloc(part.n)
	err := chunk(&w.argSrc, out)
	clear(w.argSrc.args) // no reference to the chunk's buffers past it
	if err != nil {
		w.recycle(out)
		if err == errWhole || errors.Is(err, ops.ErrUnstaged) {
			return nil, errWhole
		}
		return nil, fmt.Errorf("%s: %v", w.m.methods[in.B].Name, err)
	}
	return &ops.Tensor{Shape: []int{part.n}, Data: out, DType: ops.F64}, nil
}

// addedChunks counts the output chunks directChunkAdd made (for the tests).
var addedChunks atomic.Int64

// stagedAdd is a CALL at pc that adds the staged CALL's output, scaled by the constant w, to
// register base: add_difference(base, out, w) (ops.Def.AddScaled), the output's last reader.
type stagedAdd struct {
	pc, base int
	w        float64
}

// addAfter finds the staged CALL's stagedAdd: the first instruction after it but FREEs is a
// CALL of an AddScaled method over (a register other than the output, the output, a scalar
// constant other than 0), no jump lands between them, and a FREE of the output follows it.
// nil otherwise.
func (m *machine) addAfter(code *bytecode.Code, st *stagedClass) *stagedAdd {
	out := code.Instrs[st.pc].A
	pc := st.pc + 1
	for pc < len(code.Instrs) && code.Instrs[pc].Op == bytecode.FREE && code.Instrs[pc].A != out {
		pc++
	}
	if pc == len(code.Instrs) {
		return nil
	}
	for _, in := range code.Instrs {
		if bytecode.Ops[in.Op].Jumps && in.B > st.pc && in.B <= pc {
			return nil // a jump into the FREEs or onto the add: it does not always follow
		}
	}
	in := &code.Instrs[pc]
	if in.Op != bytecode.CALL || !m.methods[in.B].AddScaled || len(in.Operands) != 3 || in.A == out {
		return nil
	}
	a, b, c := in.Operands[0], in.Operands[1], in.Operands[2]
	if a.Kind != bytecode.OpReg || b.Kind != bytecode.OpReg || c.Kind != bytecode.OpConst || a.Index == out || b.Index != out {
		return nil
	}
	w, ok := m.consts[c.Index].Float64()
	if !ok || w == 0 || !freedAfter(code, pc, out) {
		return nil
	}
	return &stagedAdd{pc: pc, base: a.Index, w: w}
}

// directChunkAdd is directChunk with the stagedAdd a folded in (ops.ArgChunkAdder): the chunk
// of the add's result, base its base register's chunk.
func (w *worker) directChunkAdd(k *bytecode.Key, in *bytecode.Instr, part *span, adder ops.ArgChunkAdder, base []float64, a *stagedAdd) (*ops.Tensor, error) {
	addedChunks.Add(1)
	return w.directChunkWith(k, in, part, func(src ops.ArgSource, out []float64) error {
		return adder.ChunkFromAdd(part.lo, src, out, base, a.w)
	})
}
