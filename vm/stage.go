package vm

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/bytecode"
)

// Staged execution (SPEC §5.4). A class program whose CALLs are elementwise but for one CALL of a
// method with a staged form (ops.Def.Stage, e.g. ties_sum) runs in chunks too: first the
// Stager's statistics passes, each going over the chunks of the staged call's tensor
// arguments (only the instructions those arguments depend on run: the backward slice of the
// call), then the ordinary chunked run, in which the staged CALL asks the Stager for its output
// chunk instead of calling the whole-tensor kernel. Memory is the chunked peak plus what the
// Stager keeps between passes (StageDef.Scratch) instead of every whole tensor of the key; the
// inputs the slice loads are read once per pass (from the page cache after the first).
//
// The bytes are the whole kernel's: a Stager reproduces them or returns ops.ErrUnstaged, and
// anything chunked execution cannot decide (a missing or non-finite input, a broadcast) sends the
// key back to whole-tensor execution (errWhole), as for elementwise keys.

// stagedClass is what the machine knows about a class program with a staged CALL.
type stagedClass struct {
	pc    int         // the staged CALL
	slice []int       // pcs of the instructions its tensor arguments depend on, in order
	kw    []ops.Value // its keyword arguments (constants)
	r     int         // its number of tensor (register) operands
	def   *ops.StageDef
	// rawKeys, when every tensor argument is a RawKeys call over two LOADs, says how to
	// compute their keys from the stored bytes (stage_keys.go).
	rawKeys []rawKeyArg
	// skip, when the output pass can make the arguments a piece at a time, marks the CALLs
	// that make them, which then do not run (stage_args.go).
	skip []bool
	// add, when the staged CALL's output is only added to a base right after
	// (add_difference), is that CALL, which the output pass then folds into the staged one's
	// pieces (stage_args.go).
	add *stagedAdd
	// lazyBase is the pc of the LOAD of the base that add adds to and every argument
	// subtracts, which the output pass widens only where something reads it (stage_lazy.go);
	// -1 when there is none.
	lazyBase int
	// hybrid: a CALL after the staged one is not elementwise, and skipWhole marks the
	// instructions before it that only the staged call needs (stage_hybrid.go).
	hybrid    bool
	skipWhole []bool
	// argSlices is, per single tensor argument, the slice it alone depends on (for an
	// ops.ArgSelector's passes; made on first use, under mu).
	mu        sync.Mutex
	argSlices map[int][]int
}

// regOperands is the register operands of the staged CALL, in operand order.
func (st *stagedClass) regOperands(code *bytecode.Code) []int {
	var regs []int
	for _, o := range code.Instrs[st.pc].Operands {
		if o.Kind == bytecode.OpReg {
			regs = append(regs, o.Index)
		}
	}
	return regs
}

// sliceFor returns the slice the tensor arguments sel (indices in argument order) depend on:
// st.slice for nil, else the backward slice of their registers (cached for one argument).
func (st *stagedClass) sliceFor(code *bytecode.Code, sel []int) ([]int, error) {
	if sel == nil {
		return st.slice, nil
	}
	regs := st.regOperands(code)
	var want []int
	for _, i := range sel {
		if i < 0 || i >= len(regs) {
			return nil, fmt.Errorf("statistics pass asks for tensor argument %d of %d", i, len(regs))
		}
		want = append(want, regs[i])
	}
	if len(sel) != 1 {
		return backwardSliceOf(code, st.pc, want), nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if s, ok := st.argSlices[sel[0]]; ok {
		return s, nil
	}
	if st.argSlices == nil {
		st.argSlices = map[int][]int{}
	}
	s := backwardSliceOf(code, st.pc, want)
	st.argSlices[sel[0]] = s
	return s, nil
}

// stageClass returns the staged form of a class program, or nil: every CALL before one of a
// method with Stage set, whose keyword operands are constants, elementwise (as chunkableClass
// requires), and no control flow before it (the statistics passes run a straight slice). When
// a CALL after it is not elementwise the class is hybrid (stage_hybrid.go): the staged call's
// output is made whole from its chunks, and the rest of the program runs over whole tensors.
func (m *machine) stageClass(code *bytecode.Code) *stagedClass {
	st := (*stagedClass)(nil)
	for pc, in := range code.Instrs {
		switch in.Op {
		case bytecode.JPRESENT, bytecode.JUMP, bytecode.MISS:
			if st == nil {
				return nil
			}
		case bytecode.CALL:
			d := m.methods[in.B]
			if d.Stage != nil && st == nil && d.OutShape == nil && d.OutShapeKey == nil && d.Keys != ops.KeysMapped {
				kw, r, ok := stageOperands(&in, m.consts)
				if !ok {
					return nil
				}
				st = &stagedClass{pc: pc, kw: kw, r: r, def: d.Stage, lazyBase: -1}
				continue
			}
			if d.Traits != ops.Elementwise || d.OutShape != nil || d.OutShapeKey != nil ||
				d.Keys == ops.KeysMapped || in.Counts != nil {
				if st == nil || d.Keys == ops.KeysMapped {
					return nil
				}
				st.hybrid = true
			}
		}
	}
	if st == nil {
		return nil
	}
	st.slice = backwardSlice(code, st.pc)
	st.rawKeys = m.rawKeyArgs(code, st)
	if st.hybrid {
		st.skipWhole = wholeSkips(code, st.pc)
	}
	return st
}

// stageOperands returns the keyword operands of a staged CALL (they must be constants) and its
// number of register operands.
func stageOperands(in *bytecode.Instr, consts []ops.Value) (kw []ops.Value, r int, ok bool) {
	next := 0
	for i := range in.NumArgs() {
		opds, _ := in.Arg(i, next)
		next += len(opds)
		for _, o := range opds {
			if i >= in.NArgs+in.NVar {
				if o.Kind != bytecode.OpConst || consts == nil {
					return nil, 0, false
				}
				kw = append(kw, consts[o.Index])
			} else if o.Kind == bytecode.OpReg {
				r++
			}
		}
	}
	return kw, r, true
}

// backwardSlice returns the pcs before pc whose results the CALL at pc reads, directly or not
// (LOAD, CALL, MOVE), and the FREEs of those registers before pc, in program order.
func backwardSlice(code *bytecode.Code, pc int) []int {
	var regs []int
	for _, o := range code.Instrs[pc].Operands {
		if o.Kind == bytecode.OpReg {
			regs = append(regs, o.Index)
		}
	}
	return backwardSliceOf(code, pc, regs)
}

// backwardSliceOf is backwardSlice for the values of the registers regs at pc.
func backwardSliceOf(code *bytecode.Code, pc int, regs []int) []int {
	need := map[int]bool{}
	for _, r := range regs {
		need[r] = true
	}
	keep := make([]bool, pc)
	for i := pc - 1; i >= 0; i-- {
		in := &code.Instrs[i]
		switch in.Op {
		case bytecode.LOAD, bytecode.CALL, bytecode.MOVE:
			if !need[in.A] {
				continue
			}
			// The value of A read later is defined here; what it reads is needed instead.
			delete(need, in.A)
			keep[i] = true
			switch in.Op {
			case bytecode.CALL:
				for _, o := range in.Operands {
					if o.Kind == bytecode.OpReg {
						need[o.Index] = true
					}
				}
			case bytecode.MOVE:
				need[in.B] = true
			}
		}
	}
	// FREEs of sliced registers (after their last use in the slice) keep chunk memory as low
	// as in the full program.
	defined := map[int]bool{}
	var pcs []int
	for i := 0; i < pc; i++ {
		in := &code.Instrs[i]
		switch {
		case keep[i]:
			defined[in.A] = true
			pcs = append(pcs, i)
		case in.Op == bytecode.FREE && defined[in.A]:
			pcs = append(pcs, i)
			delete(defined, in.A)
		}
	}
	return pcs
}

// accepts reports whether a key of shape runs staged (StageDef.Accepts).
func (st *stagedClass) accepts(shape []int, num ops.Numerics) bool {
	return st.def.Accepts == nil || st.def.Accepts(ops.StageCall{Kw: st.kw, Tensors: st.r, Shape: shape, Numerics: num})
}

// stageScratch is what the Stager of key k keeps between passes (0 when k is not staged).
func (m *machine) stageScratch(k *bytecode.Key) int64 { return stageScratchOf(k, m.stagedKey(k)) }

// stageScratchOf is what the Stager of key k keeps between passes were k staged in st (0 for
// a nil st).
func stageScratchOf(k *bytecode.Key, st *stagedClass) int64 {
	if st == nil || st.def.Scratch == nil {
		return 0
	}
	return st.def.Scratch(st.r, ops.NumElements(k.Shape))
}

// stageStats runs the Stager's statistics passes over key k (n elements) and leaves the Stager
// in w.stager for the output pass.
func (w *worker) stageStats(k *bytecode.Key, n int) error {
	m := w.m
	st := m.staged[k.Class]
	s, ok, err := st.def.New(ops.StageCall{Kw: st.kw, Tensors: st.r, Shape: k.Shape, Numerics: m.numerics})
	if err != nil {
		return fmt.Errorf("%s: %v", m.methods[m.prog.Classes[k.Class].Instrs[st.pc].B].Name, err)
	}
	if !ok {
		return errWhole
	}
	code := &m.prog.Classes[k.Class]
	call := &code.Instrs[st.pc]
	// Only a Stager that reads keys or takes its arguments a piece at a time has a use for
	// the stored bytes (which rawKeysReady reads whole into the cache to check).
	ko, _ := s.(ops.KeyObserver)
	_, chunker := s.(ops.ArgChunker)
	w.rawReady = (ko != nil || chunker) && w.rawKeysReady(k, st)
	direct := ko != nil && w.rawReady
	sel, _ := s.(ops.ArgSelector)
	for pass := 0; pass < s.Passes(); pass++ { // Passes may grow at an EndPass
		slice, regs := st.slice, []int(nil)
		if sel != nil {
			if args := sel.PassArgs(pass); args != nil {
				var err error
				if slice, err = st.sliceFor(code, args); err != nil {
					return w.stageErr(call, err)
				}
				all := st.regOperands(code)
				for _, i := range args {
					regs = append(regs, all[i])
				}
				selectedPasses.Add(1)
			}
		}
		for lo := 0; lo < n; {
			part := w.nextPart(lo, n)
			if direct && regs == nil {
				if err := w.observeRawKeys(k, st, ko, pass, &part); err != nil {
					return w.stageErr(call, err)
				}
				lo += part.n
				continue
			}
			if err := w.execSlice(k, slice, &part); err != nil {
				return err
			}
			var args [][]float64
			var err error
			if regs != nil {
				args, err = w.regData(regs, part.n)
			} else {
				args, err = w.stagedArgs(call, part.n)
			}
			if err == nil {
				err = s.Observe(pass, lo, args)
			}
			w.releaseAll()
			if err != nil {
				return w.stageErr(call, err)
			}
			lo += part.n
		}
		if err := s.EndPass(pass); err != nil {
			return w.stageErr(call, err)
		}
	}
	w.stager, w.stagedIn = s, call
	stagedKeys.Add(1)
	return nil
}

// stagedKeys counts the keys whose statistics passes ran to the end (for the tests).
var stagedKeys atomic.Int64

// selectedPasses counts the statistics passes that ran for some arguments alone (for the
// tests).
var selectedPasses atomic.Int64

// stageErr maps a Stager's error: ErrUnstaged (and a chunk the slice could not compute) to
// errWhole, anything else to the call's error.
func (w *worker) stageErr(in *bytecode.Instr, err error) error {
	if errors.Is(err, ops.ErrUnstaged) || err == errWhole {
		return errWhole
	}
	return fmt.Errorf("%s: %v", w.m.methods[in.B].Name, err)
}

// execSlice runs the statistics slice of k's program over one chunk, leaving its results in the
// registers.
func (w *worker) execSlice(k *bytecode.Key, pcs []int, part *span) error {
	m := w.m
	code := &m.prog.Classes[k.Class]
	if cap(w.regs) < code.NumRegs {
		w.regs = make([]*slot, code.NumRegs)
	}
	w.regs = w.regs[:code.NumRegs]
	pair := m.fused[k.Class]
	for _, pc := range pcs {
		in := &code.Instrs[pc]
		switch in.Op {
		case bytecode.LOAD:
			if pair != nil && pair[pc] > 0 {
				continue // its CALL runs it (load_fused.go)
			}
			t, err := w.loadPart(in.B, k.Loads[in.C], part)
			if err != nil {
				w.releaseAll()
				return err
			}
			w.set(in.A, t)
		case bytecode.CALL:
			if pair != nil && pair[pc] > 0 {
				done, err := w.deferredLoad(k, code, pair[pc]-1, pc, part)
				if err != nil {
					w.releaseAll()
					return err
				}
				if done {
					continue
				}
			}
			t, err := w.call(k, in)
			if err != nil {
				w.releaseAll()
				return err
			}
			if t == nil {
				// A missing value (an input, or a kernel's): a whole-tensor question.
				w.releaseAll()
				return errWhole
			}
			w.set(in.A, t)
		case bytecode.MOVE:
			w.move(in.A, in.B)
		case bytecode.FREE:
			w.release(in.A)
		}
	}
	return nil
}

// stagedArgs returns the data of the staged CALL's register operands, in operand order, each of
// n elements (errWhole otherwise: a missing operand, or a broadcast).
func (w *worker) stagedArgs(in *bytecode.Instr, n int) ([][]float64, error) {
	var args [][]float64
	for _, o := range in.Operands {
		if o.Kind != bytecode.OpReg {
			continue
		}
		s := w.regs[o.Index]
		if s == nil || len(s.t.Data) != n {
			return nil, errWhole
		}
		args = append(args, s.t.Data)
	}
	return args, nil
}

// regData returns the data of the registers regs, each of n elements (errWhole otherwise).
func (w *worker) regData(regs []int, n int) ([][]float64, error) {
	var args [][]float64
	for _, r := range regs {
		s := w.regs[r]
		if s == nil || len(s.t.Data) != n {
			return nil, errWhole
		}
		args = append(args, s.t.Data)
	}
	return args, nil
}

// releaseAll empties the register file.
func (w *worker) releaseAll() {
	for r := range w.regs {
		w.release(r)
	}
}

// stagedChunk is the kernel of the staged CALL in the output pass: the Stager's chunk.
func (w *worker) stagedChunk(c *ops.Call) error {
	args, err := w.stagedArgs(w.stagedIn, len(c.Out.Data))
	if err != nil {
		return err
	}
	return w.stager.Chunk(w.partLo, args, c.Out.Data)
}
