package vm

import (
	"slices"

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
	data  []byte
}

// stageCacheSize is the raw bytes of k's LOADs (distinct input tensors) when k is staged and
// they fit stageCacheBytes, else 0 (no cache). Without open inputs (a plan's Analyze)
// it assumes float16 tensors.
func (m *machine) stageCacheSize(k *bytecode.Key) int64 {
	if m.stagedKey(k) == nil || m.chunkElems <= 0 || m.noStageCache {
		return 0
	}
	var total int64
	for _, in := range m.loads[k.Class] {
		if m.inputs == nil {
			// A plan (Analyze) has no files open: float16 inputs, the usual kind.
			total += 2 * int64(ops.NumElements(k.Shape))
		} else {
			info, ok := m.inputs[in.B].Tensors[k.Loads[in.C]]
			if !ok {
				return 0
			}
			total += info.Len()
		}
		if total > stageCacheBytes {
			return 0
		}
	}
	return total
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

// cachedPart decodes part of a cached input into dst, reading the whole tensor first if it is
// not cached yet. ok is false when the key has no cache.
func (w *worker) cachedPart(input int, name string, part *span, dst []float64) (finite, ok bool, err error) {
	r, err := w.cachedRaw(input, name)
	if r == nil || err != nil {
		return false, err != nil, err
	}
	size := r.dtype.Size()
	return num.DecodeFinite(dst, r.data[part.lo*size:(part.lo+part.n)*size], r.dtype), true, nil
}

// cachedRaw returns the cached input tensor, reading it whole first if it is not cached yet;
// nil when the key has no cache.
func (w *worker) cachedRaw(input int, name string) (*rawInput, error) {
	if !w.rawOn {
		return nil, nil
	}
	// Every pass loads the inputs in the same order, so the search starts after the last hit:
	// with 100 models it is one comparison, not fifty.
	for k := range len(w.raw) {
		i := (w.rawNext + k) % len(w.raw)
		if w.raw[i].input == input && w.raw[i].name == name {
			w.rawNext = i + 1
			return &w.raw[i], nil
		}
	}
	if e := w.batchRaw(input, name); e != nil {
		// Read with its batch (read_batch.go): the cache points into the batch's buffer.
		w.raw = append(w.raw, rawInput{input: input, name: name, dtype: e.dtype, data: e.data})
		w.rawNext = len(w.raw)
		return &w.raw[len(w.raw)-1], nil
	}
	f, info, err := w.m.tensorInfo(input, name)
	if err != nil {
		return nil, err
	}
	buf := w.rawBuf(int(info.Len()))
	if err := f.ReadRaw(name, buf); err != nil {
		return nil, err
	}
	w.m.bytesRead.Add(info.Len())
	w.raw = append(w.raw, rawInput{input: input, name: name, dtype: info.DType, data: buf})
	w.rawNext = len(w.raw)
	return &w.raw[len(w.raw)-1], nil
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

// startRaw turns the cache on for a key whose LOADs take size bytes (0: off).
func (w *worker) startRaw(size int64) {
	w.raw = w.raw[:0]
	w.rawOn = size > 0
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

// endRaw forgets the key's cached inputs (the arena stays for the next key).
func (w *worker) endRaw() {
	clear(w.raw)
	w.raw, w.rawOn, w.rawNext = w.raw[:0], false, 0
	w.rawArena = w.rawArena[:0]
}
