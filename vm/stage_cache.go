package vm

import (
	"slices"
	"sync/atomic"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/num"
	"github.com/mechac/mechac/vm/bytecode"
)

// A staged key (stage.go) reads its inputs once per statistics pass and again in the output
// pass. When the raw bytes of all its LOADs fit stageCacheBytes, the first read of each input
// takes the whole tensor into a worker buffer and every chunk of every pass is decoded from
// it: one pread per input instead of one per chunk per pass. On the scale-4 TIES benchmark
// the copies out of the page cache (pread) were a quarter of the CPU time, half of them for
// the repeated pass. The bytes are the file's, decoded by the same num.DecodeFinite, so the
// values are the same; admitPeak counts the buffer.

// A key whose inputs do not fit stageCacheBytes keeps a window of them instead: each pass
// reads every input's bytes over the chunk it is at (one pread of one chunk per input per
// pass, as the slice would) into the cache, and every path that serves the cached bytes (keys
// from the stored bytes, arguments a piece at a time, the lazy base, fused LOADs) runs over
// them as over the whole tensor's. Only what needs a whole tensor's bytes at once (the sparse
// sample, ops.WholeKeySource) is not offered. At full SDXL size with 9 float16 inputs, the
// keys past the cache hold 61.5% of the elements (236 of 2528 keys); without the window they
// took the float64 path: each input widened, each delta subtracted and its keys taken from
// float64 chunks, the vote over float64.

// stageCacheBytes is the most raw input bytes a staged key keeps (64 MiB: float16 inputs of
// 9 models up to ~3.7 M elements: every key of an SDXL model at scale 4, and at full size
// the 1280 x 1280 attention projections). On the scale-4 TIES benchmark 16 MiB left its 5% of
// elements in keys past ~930 K elements to the slice (a pread per chunk per pass, widening,
// keys from float64): 64 MiB takes 3% off the CPU time (perf samples, 4 interleaved runs) for
// 44 MB more peak RSS (88 -> 132 MB).
const stageCacheBytes = 64 << 20

// rawInput is one cached input tensor of the key being run.
type rawInput struct {
	input int
	name  string
	dtype ops.DType
	lo    int // the element data starts at: 0, or the window's first
	data  []byte
}

// part returns the stored bytes of elements [lo, lo+n), which the input holds.
func (r *rawInput) part(lo, n int) []byte {
	size := r.dtype.Size()
	return r.data[(lo-r.lo)*size : (lo-r.lo+n)*size]
}

// stageCacheSize is the bytes of k's stage cache: the raw bytes of its LOADs (distinct input
// tensors) when k is staged and they fit the cache's limit, else those of one chunk of each
// (window true) where the statistics passes can take keys from them; 0 when k has none.
// Without open inputs (a plan's Analyze) it assumes float16 tensors.
func (m *machine) stageCacheSize(k *bytecode.Key) (size int64, window bool) {
	return m.stageCacheSizeOf(k, m.stagedKey(k))
}

// stageCacheSizeOf is stageCacheSize were k staged in st (0 for a nil st).
func (m *machine) stageCacheSizeOf(k *bytecode.Key, st *stagedClass) (size int64, window bool) {
	if st == nil || m.chunkElems <= 0 || m.noStageCache {
		return 0, false
	}
	n := int64(ops.NumElements(k.Shape))
	chunk := min(n, int64(m.chunkElems))
	var total, win int64
	for _, in := range m.loads[k.Class] {
		size := int64(2) // a plan (Analyze) has no files open: float16 inputs, the usual kind
		if m.inputs != nil {
			info, ok := m.inputs[in.B].Tensors[k.Loads[in.C]]
			if !ok {
				return 0, false
			}
			size = int64(info.DType.Size())
		}
		total += size * n
		win += size * chunk
	}
	switch {
	case total <= m.stageCacheMax:
		return total, false
	case m.windowed(st):
		return win, true
	}
	// Nothing would read a window's bytes but the LOADs, which read their chunks themselves.
	return 0, false
}

// windowed reports whether the keys of staged class st past the cache's limit keep a window:
// where the Stager takes keys from the stored bytes (StageDef.KeyPasses), which the class's
// arguments offer. Elsewhere only the LOADs would read it, which read their chunks alone
// (and a pass of an ops.ArgSelector only some of them), and a window would cost its memory
// for nothing (the x215a recipe's DELLA keys, admitted with it under --max-memory 2GiB, ran
// ~5% slower in two pairs, within that hour's noise).
func (m *machine) windowed(st *stagedClass) bool {
	return st.rawKeys != nil && st.def.KeyPasses != nil && !m.noRawKeys
}

// distinctLoads is the LOADs of a class program that read distinct (input, slot) pairs, in
// program order: what a staged key's cache holds. newMachine keeps them (machine.loads), so
// that admitting a key does not walk its program.
func distinctLoads(code *bytecode.Code) []*bytecode.Instr {
	var out []*bytecode.Instr
	for i := range code.Instrs {
		in := &code.Instrs[i]
		if in.Op == bytecode.LOAD && !slices.ContainsFunc(out, func(l *bytecode.Instr) bool { return l.B == in.B && l.C == in.C }) {
			out = append(out, in)
		}
	}
	return out
}

// cachedPart decodes part of a cached input into dst, reading it first if it is not cached
// yet. ok is false when the key has no cache.
func (w *worker) cachedPart(input int, name string, part *span, dst []float64) (finite, ok bool, err error) {
	r, err := w.rawAt(input, name, part)
	if r == nil || err != nil {
		return false, err != nil, err
	}
	return num.DecodeFinite(dst, r.part(part.lo, part.n), r.dtype), true, nil
}

// rawAt returns the cached input tensor holding part, reading it first (the whole tensor, or
// the window's chunk) if it is not cached yet; nil when the key has no cache. In a window,
// the bytes of earlier parts are gone.
func (w *worker) rawAt(input int, name string, part *span) (*rawInput, error) {
	if !w.rawWindow {
		r, err := w.cachedRaw(input, name)
		if w.mapProgress && r != nil {
			w.m.mapper.progress(w, input, part, r.dtype.Size())
		}
		return r, err
	}
	if part.lo != w.windowLo || part.n != w.windowN {
		w.windowLo, w.windowN = part.lo, part.n
		clear(w.raw)
		w.raw, w.rawNext, w.rawArena = w.raw[:0], 0, w.rawArena[:0]
	}
	if r := w.findRaw(input, name); r != nil {
		return r, nil
	}
	f, info, err := w.m.tensorInfo(input, name)
	if err != nil {
		return nil, err
	}
	buf := w.rawBuf(part.n * info.DType.Size())
	if err := f.ReadRawPart(name, part.lo, buf); err != nil {
		return nil, err
	}
	w.m.bytesRead.Add(int64(len(buf)))
	windowReads.Add(1)
	return w.addRaw(rawInput{input: input, name: name, dtype: info.DType, lo: part.lo, data: buf}), nil
}

// windowReads counts the chunks read into a window (for the tests: the path must run where
// it can).
var windowReads atomic.Int64

// findRaw returns the cached input, or nil.
func (w *worker) findRaw(input int, name string) *rawInput {
	// Every pass loads the inputs in the same order, so the search starts after the last hit:
	// with 100 models it is one comparison, not fifty.
	for k := range len(w.raw) {
		i := (w.rawNext + k) % len(w.raw)
		if w.raw[i].input == input && w.raw[i].name == name {
			w.rawNext = i + 1
			return &w.raw[i]
		}
	}
	return nil
}

// addRaw adds r to the cache and returns it.
func (w *worker) addRaw(r rawInput) *rawInput {
	w.raw = append(w.raw, r)
	w.rawNext = len(w.raw)
	return &w.raw[len(w.raw)-1]
}

// cachedRaw returns the cached whole input tensor, reading it first if it is not cached yet;
// nil when the key has no cache or only a window (rawAt).
func (w *worker) cachedRaw(input int, name string) (*rawInput, error) {
	if !w.rawOn || w.rawWindow {
		return nil, nil
	}
	if r := w.findRaw(input, name); r != nil {
		return r, nil
	}
	if e := w.batchRaw(input, name); e != nil {
		// Read with its batch (read_batch.go): the cache points into the batch's buffer.
		return w.addRaw(*e), nil
	}
	f, info, err := w.m.tensorInfo(input, name)
	if err != nil {
		return nil, err
	}
	if w.rawMapped {
		if b := w.m.mapper.tensor(w, input, name); b != nil {
			w.m.bytesRead.Add(info.Len())
			return w.addRaw(rawInput{input: input, name: name, dtype: info.DType, data: b}), nil
		}
	}
	buf := w.rawBuf(int(info.Len()))
	if err := f.ReadRaw(name, buf); err != nil {
		return nil, err
	}
	w.m.bytesRead.Add(info.Len())
	return w.addRaw(rawInput{input: input, name: name, dtype: info.DType, data: buf}), nil
}

// rawBuf returns n bytes of the worker's cache arena, which grows to the largest key's need
// (at most stageCacheBytes) and is reused from key to key.
func (w *worker) rawBuf(n int) []byte {
	if len(w.rawArena)+n > cap(w.rawArena) {
		// Cannot happen within stageCacheSize's total; a fresh buffer keeps it correct.
		return make([]byte, n)
	}
	b := w.rawArena[len(w.rawArena) : len(w.rawArena)+n : len(w.rawArena)+n]
	w.rawArena = w.rawArena[:len(w.rawArena)+n]
	return b
}

// startRaw turns the cache on for key k whose LOADs take size bytes (0: off), whole or in a
// window of one chunk each, and whole through mappings where the run maps k (input_map.go).
func (w *worker) startRaw(k *bytecode.Key, size int64, window bool) {
	w.raw = w.raw[:0]
	w.rawOn, w.rawWindow, w.windowLo, w.windowN = size > 0, window && size > 0, 0, 0
	w.rawMapped, w.mapProgress = false, false
	if w.rawOn {
		w.rawMapped, w.mapProgress = w.m.mapsKey(k, w.rawWindow)
	}
	if w.rawMapped {
		// The whole tensors through the mappings: past the cache's limit too, with sweeps as
		// the passes go instead of a window (input_map.go).
		w.rawWindow, w.progBytes = false, 0
		clear(w.progLo)
	}
	if !w.rawOn {
		return
	}
	if int64(cap(w.rawArena)) < size {
		freeArena(w.rawArena)
		// A lazy mapping reserves the largest arena at once: its pages cost memory only once
		// touched (never more than the largest key's need), and a larger key later does
		// not map a new arena and fault its pages in again.
		w.rawArena = newArena(int(max(size, arenaReserve)))
	}
	w.rawArena = w.rawArena[:0]
}

// closeRaw releases the worker's arena at the end of a run.
func (w *worker) closeRaw() {
	w.endRaw()
	freeArena(w.rawArena)
	w.rawArena = nil
}

// endRaw forgets the key's cached inputs (the arena stays for the next key) and hands the
// mapped ones to the mapper (input_map.go), which unmaps them in time.
func (w *worker) endRaw() {
	w.m.mapper.keyDone(w)
	clear(w.raw)
	w.raw, w.rawOn, w.rawWindow, w.rawMapped, w.mapProgress, w.rawNext = w.raw[:0], false, false, false, false, 0
	w.rawArena = w.rawArena[:0]
}
