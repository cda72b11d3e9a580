package vm

import (
	"errors"
	"fmt"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/bytecode"
)

// Chunked execution. A key whose program only calls elementwise methods computes out[i] from
// the inputs' element i alone, so the program can run over a range of elements at a time:
// every register then holds a chunk instead of a whole tensor, LOAD reads the chunk's bytes
// (pread at its offset), STORE writes them at the output's offset. Peak memory is a few
// chunks per register, whatever the tensor size and the number of inputs, and the chunks
// stay in the CPU cache between LOAD, CALL and STORE. The bytes are those of whole-tensor
// execution: the same kernels see the same element values, in a different grouping.
//
// Whether a key's value exists can depend on all of its elements (a non-finite input element
// makes the input missing under OmitNonFinite; a kernel may report ErrMissing): a chunk that
// meets such a case abandons chunked execution (errWhole) and the key runs again over whole
// tensors, which rewrites the output tensor from its start.

// DefaultChunkElems is the chunk length in elements: 64 Ki elements, 512 KiB of float64 per
// register (measured on the benchmark: smaller chunks cost more system calls per byte, larger
// ones fall out of the CPU cache; the range 16-256 Ki differs by a few percent).
const DefaultChunkElems = 64 << 10

// chunkBudget is the register memory a chunked key may hold at once by default: programs with
// many registers live at once (an average of N models holds N+1) get chunks shorter than
// DefaultChunkElems, down to minChunkElems, so that a worker's chunk memory stays about
// constant in N (8 models: 64 Ki elements; 32: 31 Ki; 128: 8 Ki).
const (
	chunkBudget   = 8 << 20
	minChunkElems = 4 << 10
)

// defaultChunkElems is the chunk length of a run without Options.ChunkElems: DefaultChunkElems,
// or shorter when the chunkable class with the most registers live at once would exceed
// chunkBudget. One length for the whole run keeps chunk buffers interchangeable across keys.
func (m *machine) defaultChunkElems() int {
	live := int64(1)
	for i := range m.prog.Classes {
		if m.chunkable[i] || m.staged[i] != nil {
			live = max(live, chunkPeak(&m.prog.Classes[i], 1)/8)
		}
	}
	return int(min(DefaultChunkElems, max(minChunkElems, chunkBudget/(8*live))))
}

// span is the range of elements a chunked run computes.
type span struct {
	lo, n int
	last  bool
}

// errWhole makes a chunked run start the key again over whole tensors.
var errWhole = errors.New("vm: key needs whole-tensor execution")

// chunkableClass reports whether every instruction of a class program is elementwise: CALLs
// of methods with the Elementwise trait (and no other), whose output shape is the broadcast
// of their operands and whose arguments are plain (not per-key tensor lists).
func (m *machine) chunkableClass(code *bytecode.Code) bool {
	for _, in := range code.Instrs {
		if in.Op != bytecode.CALL {
			continue
		}
		d := m.methods[in.B]
		if d.Traits != ops.Elementwise || d.OutShape != nil || d.OutShapeKey != nil ||
			d.Keys == ops.KeysMapped || in.Counts != nil {
			return false
		}
	}
	return true
}

// chunkPeak is the register bytes a chunked run of the class holds at once: the number of
// registers live at the same time (as the compiler counts them for Key.Peak) times a chunk.
func chunkPeak(code *bytecode.Code, chunkElems int) int64 {
	refs := map[int]*int{}
	var live, peak int64
	drop := func(r int) {
		if c := refs[r]; c != nil {
			*c--
			if *c == 0 {
				live--
			}
			delete(refs, r)
		}
	}
	for _, in := range code.Instrs {
		switch in.Op {
		case bytecode.LOAD, bytecode.CALL:
			drop(in.A)
			one := 1
			refs[in.A] = &one
			live++
		case bytecode.MOVE:
			drop(in.A)
			if c := refs[in.B]; c != nil {
				*c++
				refs[in.A] = c
			}
		case bytecode.FREE, bytecode.MISS:
			drop(in.A)
		}
		peak = max(peak, live)
	}
	return peak * int64(chunkElems) * 8
}

// chunked reports whether key k runs in chunks: its class is elementwise. A key of at most
// one chunk runs as one chunk, so that its buffers are chunk buffers too (reused by every
// key, where whole-tensor buffers of each small size would be garbage or idle pool memory).
func (m *machine) chunked(k *bytecode.Key) bool {
	return m.chunkElems > 0 && (m.chunkable[k.Class] || m.stagedKey(k) != nil)
}

// stagedKey is the staged form of key k's class when k runs staged (StageDef.Accepts, or
// Options.StageAbove: see stagedOver), else nil.
func (m *machine) stagedKey(k *bytecode.Key) *stagedClass {
	st := m.staged[k.Class]
	if st == nil || !st.accepts(k.Shape, m.numerics) && !m.stagedOver(k, st) {
		return nil
	}
	return st
}

// stagedOver reports whether key k, which its StageDef declines, runs staged in st all the
// same: under Options.StageAbove, when its whole-tensor peak is above it and the staged form
// needs less (its chunk buffers have a whole chunk's capacity, so on a small key the staged
// form can need more than the whole one).
func (m *machine) stagedOver(k *bytecode.Key, st *stagedClass) bool {
	if m.stageAbove <= 0 || k.Peak <= m.stageAbove || m.chunkElems <= 0 {
		return false
	}
	return m.stagedPeak(k, st) < k.Peak
}

// stagedPeak is what key k is admitted with staged in st (admitPeak's staged figure).
func (m *machine) stagedPeak(k *bytecode.Key, st *stagedClass) int64 {
	if st.hybrid {
		return m.hybridPeak(k, st)
	}
	cache, _ := m.stageCacheSizeOf(k, st)
	return m.chunkPeaks[k.Class] + stageScratchOf(k, st) + cache
}

// admitPeak is the memory a key is admitted with under --max-memory: its chunked peak when it
// runs in chunks (every chunk buffer has a whole chunk's capacity, also for a small key; plus
// what a Stager keeps between passes), else the plan's Key.Peak.
func (m *machine) admitPeak(k *bytecode.Key) int64 {
	if m.chunked(k) {
		if st := m.stagedKey(k); st != nil {
			return m.stagedPeak(k, st)
		}
		return m.chunkPeaks[k.Class]
	}
	return k.Peak
}

// runChunked runs the key's program chunk by chunk. It returns errWhole when the key must
// run over whole tensors instead (an input is not of the key's size, a chunk found a missing
// value).
func (w *worker) runChunked(k *bytecode.Key) (bool, error) {
	m := w.m
	n := ops.NumElements(k.Shape)
	code := &m.prog.Classes[k.Class]
	for _, in := range code.Instrs {
		if in.Op != bytecode.LOAD {
			continue
		}
		f := m.inputs[in.B]
		info, ok := f.Tensors[k.Loads[in.C]]
		if !ok {
			return false, fmt.Errorf("%s has no tensor %q (did the file change?)", f.Path, k.Loads[in.C])
		}
		if ops.NumElements(info.Shape) != n {
			return false, errWhole // broadcast: not a plain chunk of each input
		}
		f.WillNeed(info.Name)
	}
	w.chunking = true
	size, window := m.stageCacheSize(k)
	w.startRaw(k, size, window)
	defer func() {
		w.chunking, w.stager, w.stagedIn, w.direct, w.rawReady = false, nil, nil, nil, false
		w.endRaw()
	}()
	if st := m.stagedKey(k); st != nil {
		if err := w.stageStats(k, n); err != nil {
			return false, err
		}
		if st.hybrid {
			return w.runHybrid(k, st, n)
		}
		if ac, ok := w.stager.(ops.ArgChunker); ok && st.skip != nil && w.rawReady {
			w.direct = ac // stage_args.go
		}
	}
	for lo := 0; lo < n; {
		part := w.nextPart(lo, n)
		present, err := w.exec(k, &part)
		switch {
		case err != nil:
			return false, err
		case !present && lo > 0:
			// Parts are written already; let the whole-tensor run decide (cannot happen:
			// see below).
			return false, errWhole
		case !present:
			// A missing result is the same for every chunk (missing inputs are a property
			// of the key; dynamic misses return errWhole), so the first chunk decides.
			return false, nil
		}
		lo += part.n
	}
	return true, nil
}

// nextPart is the chunk of a key of n elements that starts at lo.
func (w *worker) nextPart(lo, n int) span {
	cn := min(w.m.chunkElems, n-lo)
	if rest := n - lo - cn; rest == 1 {
		// Never leave a one-element chunk: kernels treat a one-element tensor as a
		// broadcast scalar (shortcuts such as alpha == 0), which a chunk is not.
		cn--
	}
	return span{lo: lo, n: cn, last: lo+cn == n}
}

// loadPart reads the elements of part of a LOAD's tensor, widened to float64. A non-finite
// element under OmitNonFinite returns errWhole: the whole-tensor run reports it.
func (w *worker) loadPart(input int, name string, part *span) (*ops.Tensor, error) {
	m := w.m
	f, info, err := m.tensorInfo(input, name)
	if err != nil {
		return nil, err
	}
	data := w.alloc(part.n)
	finite, cached, err := w.cachedPart(input, name, part, data)
	if !cached && err == nil {
		finite, err = f.ReadFloat64Part(name, part.lo, data)
		m.bytesRead.Add(int64(part.n * info.DType.Size()))
	}
	if err != nil {
		w.recycle(data)
		return nil, err
	}
	if m.prog.OmitNonFinite && !finite {
		w.recycle(data)
		return nil, errWhole
	}
	return &ops.Tensor{Shape: []int{part.n}, Data: data, DType: ops.F64}, nil
}

// newMachine resolves p's methods and decides, per key class, chunked execution and its peak.
func newMachine(p *bytecode.Program, opts Options) (*machine, error) {
	m := &machine{prog: p, noInPlace: opts.NoInPlace, noStageCache: opts.NoStageCache, noRawKeys: opts.NoRawKeys,
		stageAbove:    opts.StageAbove,
		stageCacheMax: stageCacheBytes}
	if opts.StageCacheBytes > 0 {
		m.stageCacheMax = opts.StageCacheBytes
	}
	// The numerics before the class programs are looked at: which loads fuse depends on them.
	// (Run has refused a plan without valid numerics; Analyze's callers may leave them out,
	// which counts as the default, exact.)
	if p.Numerics != "" {
		var err error
		if m.numerics, err = ops.ParseNumerics(p.Numerics); err != nil {
			return nil, err
		}
	}
	for _, c := range p.Consts {
		m.consts = append(m.consts, constValue(c))
	}
	for _, name := range p.Methods {
		d, ok := opts.Registry.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("the plan uses method %s, which this mechac does not have", name)
		}
		m.methods = append(m.methods, d)
	}
	for i := range p.Classes {
		m.chunkable = append(m.chunkable, m.chunkableClass(&p.Classes[i]))
		var st *stagedClass
		if !m.chunkable[i] {
			st = m.stageClass(&p.Classes[i])
		}
		m.staged = append(m.staged, st)
		var fused []int
		var second []secondKernel
		if !opts.NoLoadFusion && (m.chunkable[i] || st != nil) {
			fused, second = m.fusedLoads(&p.Classes[i], st)
		}
		m.fused = append(m.fused, fused)
		m.second = append(m.second, second)
		if st != nil {
			st.skip, _ = directArgs(&p.Classes[i], st, fused)
			if st.skip != nil && !opts.NoAddFusion {
				st.add = m.addAfter(&p.Classes[i], st)
			}
			st.lazyBase = -1
			if !opts.NoLazyBase {
				st.lazyBase = lazyBaseLoad(&p.Classes[i], st, fused)
			}
		}
		code := &p.Classes[i]
		donors := make([]int, len(code.Instrs))
		for pc := range code.Instrs {
			donors[pc] = m.donorFor(code, pc)
		}
		m.donors = append(m.donors, donors)
		var loads []*bytecode.Instr
		if st != nil {
			loads = distinctLoads(code)
		}
		m.loads = append(m.loads, loads)
	}
	switch {
	case opts.ChunkElems == 0:
		m.chunkElems = m.defaultChunkElems()
	case opts.ChunkElems > 0:
		m.chunkElems = max(opts.ChunkElems, 2)
	}
	for i := range p.Classes {
		m.chunkPeaks = append(m.chunkPeaks, chunkPeak(&p.Classes[i], m.chunkElems))
	}
	return m, nil
}
