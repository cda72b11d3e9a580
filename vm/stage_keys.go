package vm

import (
	"sync/atomic"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/bytecode"
)

// Keys from the stored bytes (SPEC §5.4). The statistics passes of a staged ties_sum read each
// delta only to take its float32 magnitude keys, and each delta is `subtract(model, base)`
// over two LOADs. When the Stager says it reads only keys (ops.KeyObserver), every tensor
// argument of the staged CALL is such a call (a method with Def.RawKeys over two LOADs), and the
// key's inputs are in the stage cache (stage_cache.go), a statistics pass runs no instruction:
// the keys of each argument's chunk are computed from the two inputs' stored bytes in one pass
// (num.SubAbsKeys: eight float16 pairs per vector instruction), where the slice would widen the
// base, widen and subtract each model into a float64 chunk, and the Stager would read that
// chunk back to take its keys. On the scale-4 TIES benchmark that was a third of the CPU time.
// The keys are the same bits (ops.Def.RawKeys's contract), so the thresholds and the output
// are too (TestStagedBitwise runs both ways).

// rawKeyArg is a tensor argument of a staged CALL made by a RawKeys call over two LOADs.
type rawKeyArg struct {
	call *bytecode.Instr // the CALL that makes the argument
	pc   int             // its index in the class program
	a, b *bytecode.Instr // the LOADs of its operands
}

// rawKeyArgs returns, for each tensor argument of the staged CALL of code in operand order,
// the RawKeys call over two LOADs that makes it; nil when some argument is not made so.
func (m *machine) rawKeyArgs(code *bytecode.Code, st *stagedClass) []rawKeyArg {
	var out []rawKeyArg
	for _, o := range code.Instrs[st.pc].Operands {
		if o.Kind != bytecode.OpReg {
			continue
		}
		c := lastDef(code, st.pc, o.Index)
		if c < 0 || code.Instrs[c].Op != bytecode.CALL {
			return nil
		}
		call := &code.Instrs[c]
		if m.methods[call.B].RawKeys == nil || call.Counts != nil || len(call.Operands) != 2 {
			return nil
		}
		var lds [2]*bytecode.Instr
		for j, co := range call.Operands {
			if co.Kind != bytecode.OpReg {
				return nil
			}
			l := lastDef(code, c, co.Index)
			if l < 0 || code.Instrs[l].Op != bytecode.LOAD {
				return nil
			}
			lds[j] = &code.Instrs[l]
		}
		out = append(out, rawKeyArg{call: call, pc: c, a: lds[0], b: lds[1]})
	}
	return out
}

// lastDef is the pc of the last instruction before pc that writes register r (LOAD, CALL,
// MOVE), or -1; also -1 when a FREE of r comes after it (the value read at pc is not its).
func lastDef(code *bytecode.Code, pc, r int) int {
	for i := pc - 1; i >= 0; i-- {
		in := &code.Instrs[i]
		if in.A != r {
			continue
		}
		switch in.Op {
		case bytecode.LOAD, bytecode.CALL, bytecode.MOVE:
			return i
		case bytecode.FREE:
			return -1
		}
	}
	return -1
}

// rawKeysReady reports whether key k's statistics passes can take their keys from the stored
// bytes: its class has rawKeyArgs, its inputs are cached (which reads them, as the first pass
// would) or have a window, and the two operands of each argument have the same dtype.
// Anything else (an input that cannot be read included) takes the slice, which reports what
// it finds.
func (w *worker) rawKeysReady(k *bytecode.Key, st *stagedClass) bool {
	if st.rawKeys == nil || !w.rawOn || w.m.noRawKeys {
		return false
	}
	dtype := func(l *bytecode.Instr) (ops.DType, bool) {
		if w.rawWindow { // read at each chunk: only the dtype now
			if _, info, err := w.m.tensorInfo(l.B, k.Loads[l.C]); err == nil {
				return info.DType, true
			}
			return 0, false
		}
		if r, err := w.cachedRaw(l.B, k.Loads[l.C]); r != nil && err == nil {
			return r.dtype, true
		}
		return 0, false
	}
	for _, ra := range st.rawKeys {
		a, ok := dtype(ra.a)
		if !ok {
			return false
		}
		if b, ok := dtype(ra.b); !ok || b != a {
			return false
		}
	}
	return true
}

// rawKeySource is the ops.KeySource of one statistics chunk of key k, from the cached inputs
// (rawKeysReady said they are there). A non-finite input element under OmitNonFinite returns
// errWhole, as its LOAD would.
type rawKeySource struct {
	w    *worker
	k    *bytecode.Key
	st   *stagedClass
	part *span
}

// operands returns the stored bytes of argument i's two operands over the chunk.
func (src *rawKeySource) operands(i int) (a, b []byte, dt ops.DType, err error) {
	if i < 0 || i >= len(src.st.rawKeys) {
		return nil, nil, 0, errWhole // cannot happen: a Stager asking for what the VM did not offer
	}
	w, k, ra, part := src.w, src.k, &src.st.rawKeys[i], src.part
	ia, err := w.rawAt(ra.a.B, k.Loads[ra.a.C], part)
	if err != nil {
		return nil, nil, 0, err
	}
	ib, err := w.rawAt(ra.b.B, k.Loads[ra.b.C], part)
	if err != nil {
		return nil, nil, 0, err
	}
	if ia == nil || ib == nil || ia.dtype != ib.dtype {
		return nil, nil, 0, errWhole // cannot happen: rawKeysReady checked them
	}
	return ia.part(part.lo, part.n), ib.part(part.lo, part.n), ia.dtype, nil
}

// wholeOperands returns the stored bytes of argument i's two operands whole: errWhole in a
// window.
func (src *rawKeySource) wholeOperands(i int) (a, b []byte, dt ops.DType, err error) {
	if i < 0 || i >= len(src.st.rawKeys) {
		return nil, nil, 0, errWhole // cannot happen: a Stager asking for what the VM did not offer
	}
	w, k, ra := src.w, src.k, &src.st.rawKeys[i]
	ia, err := w.cachedRaw(ra.a.B, k.Loads[ra.a.C])
	if err != nil {
		return nil, nil, 0, err
	}
	ib, err := w.cachedRaw(ra.b.B, k.Loads[ra.b.C])
	if err != nil {
		return nil, nil, 0, err
	}
	if ia == nil || ib == nil || ia.dtype != ib.dtype || len(ia.data) != len(ib.data) {
		return nil, nil, 0, errWhole // a window; else cannot happen: rawKeysReady checked them
	}
	return ia.data, ib.data, ia.dtype, nil
}

// Keys is ops.KeySource.Keys: the method's RawKeys over the chunk.
func (src *rawKeySource) Keys(i int, dst []uint32) error {
	a, b, dt, err := src.operands(i)
	if err != nil {
		return err
	}
	if len(dst) != src.part.n {
		return errWhole
	}
	return src.finite(src.w.m.methods[src.st.rawKeys[i].call.B].RawKeys(dst, a, b, dt))
}

// KeyOperands is ops.RawKeySource.KeyOperands: the two operands' stored bytes over the chunk
// when argument i's method is a difference (subtract).
func (src *rawKeySource) KeyOperands(i int) (a, b []byte, dt ops.DType, ok bool) {
	if i < 0 || i >= len(src.st.rawKeys) || !src.w.m.methods[src.st.rawKeys[i].call.B].Difference {
		return nil, nil, 0, false
	}
	a, b, dt, err := src.operands(i)
	return a, b, dt, err == nil
}

// WholeKeyOperands is ops.WholeKeySource.WholeKeyOperands: KeyOperands over the whole tensor.
func (src *rawKeySource) WholeKeyOperands(i int) (a, b []byte, dt ops.DType, ok bool) {
	if i < 0 || i >= len(src.st.rawKeys) || !src.w.m.methods[src.st.rawKeys[i].call.B].Difference {
		return nil, nil, 0, false
	}
	a, b, dt, err := src.wholeOperands(i)
	if err == nil {
		wholeKeyCalls.Add(1)
	}
	return a, b, dt, err == nil
}

// wholeKeyCalls counts the whole operands given to a Stager (for the tests: the path must
// run where it can).
var wholeKeyCalls atomic.Int64

// finite maps a non-finite input under OmitNonFinite to errWhole.
func (src *rawKeySource) finite(ok bool) error {
	if src.w.m.prog.OmitNonFinite && !ok {
		return errWhole
	}
	return nil
}

// rawKeyChunks counts the statistics chunks whose keys came from the stored bytes (for the
// tests: the path must run where it can).
var rawKeyChunks atomic.Int64

// observeRawKeys runs one chunk of a statistics pass from the stored bytes.
func (w *worker) observeRawKeys(k *bytecode.Key, st *stagedClass, ko ops.KeyObserver, pass int, part *span) error {
	rawKeyChunks.Add(1)
	w.keySrc = rawKeySource{w: w, k: k, st: st, part: part}
	return ko.ObserveKeys(pass, part.lo, part.n, &w.keySrc)
}
