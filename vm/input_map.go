package vm

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/mechac/mechac/vm/bytecode"
	"github.com/mechac/mechac/vm/safetensors"
)

// Staged keys' inputs read through mappings (safetensors.MapTensor). Without a memory budget,
// a staged key whose inputs fit its cache (stage_cache.go) takes each input's bytes from a
// mapping of the whole file instead of copying them into the worker's cache: every pass reads
// the page cache's own pages. On the scale-4 TIES benchmark this took the copies (~16% of
// the run's CPU time, system time 0.72 -> 0.39 s a run) and most of the cache arenas' fresh
// pages away: 1.84 -> 1.67 CPU-s and 0.92 -> 0.86 s, 6 interleaved pairs (BENCHMARKS,
// session 26).
//
// The mapped pages a key read count in the process's resident memory until they are
// unmapped. When a key ends, its ranges join a list; once the list covers mapSweepBytes (in
// whole huge pages), a sweep unmaps them, except the pages of the keys the other workers are
// running (which would only fault back in). The resident memory the mappings add is then at
// most the running keys' inputs, as the cache's was, plus mapSweepBytes (SPEC §5.2).
//
// A key is mapped only when the pages its inputs span (whole 2 MiB pages: a mapping's
// granule in resident memory) come to at most the cache's limit, stageCacheBytes: what a
// worker holds for its key's inputs is then bounded as the cache was. A key of 216 inputs
// spans at least 432 MiB of pages, however small its tensors, and is copied.
//
// Under --max-memory the inputs are copied as before: the budget counts a key's cache, and a
// mapping's pages would add whole huge pages per input (216 inputs: 432 MiB for a small key).
//
// Where the page cache holds a file in small folios (an older kernel or another filesystem,
// or pages read by readahead that fadvise forced), a fault maps at most 64 KiB. Measured here
// (the first ~40 MB of each scale-4 input are in small folios): ~2.5 us a fault, against
// ~35 ms of copies for a 415 MiB file, so the mapping still pays; session 14 measured 1-2 s of
// faults against 0.45 s of copies on a host whose faults cost ~20 times more. Options.
// NoMapInputs turns it off.

// mapSweepBytes is how much the finished keys' mapped ranges cover (in 2 MiB pages) before a
// sweep unmaps them. Each sweep makes one madvise call per input range, each of which flushes
// the other workers' TLBs: 16, 64 and 256 MiB took the same time on the scale-4 TIES
// benchmark (5 interleaved runs each), 256 MiB with 40 MB more peak RSS. A variable for the
// tests.
var mapSweepBytes int64 = 64 << 20

// mapsInputs: the system maps files as MapTensor needs (Linux; elsewhere every input is read).
const mapsInputs = runtime.GOOS == "linux"

// Counts for the tests: tensors served by a mapping, sweeps, bytes unmapped.
var mappedTensors, mapSweeps, mapReleased atomic.Int64

// mappedRange is a range of an input file's offsets that a key read through the mapping.
type mappedRange struct {
	input  int
	lo, hi int64
}

// inputMapper hands out mapped tensors and unmaps them once used (see above).
type inputMapper struct {
	inputs []*safetensors.File
	// off is set when a mapping failed: the run reads its inputs instead.
	off atomic.Bool

	mu sync.Mutex
	// running is each worker's current key's ranges (a worker's entry is its own; the sweep
	// reads the others').
	running map[*worker][]mappedRange
	// done is the finished keys' ranges not unmapped yet; doneBytes the bytes of their
	// pages, where a page the input's previous range had (donePages: per input, that range's
	// pages) is not counted again. Pages shared by ranges further apart count twice, which
	// only sweeps sooner.
	done      []mappedRange
	doneBytes int64
	donePages []mappedRange
}

func newInputMapper(inputs []*safetensors.File) *inputMapper {
	return &inputMapper{inputs: inputs, running: map[*worker][]mappedRange{}, donePages: make([]mappedRange, len(inputs))}
}

// mapsKey reports whether staged key k, whose inputs its cache would hold whole, reads them
// through mappings: the pages they span come to at most the cache's limit.
func (m *machine) mapsKey(k *bytecode.Key) bool {
	mp := m.mapper
	if mp == nil || mp.off.Load() {
		return false
	}
	page := safetensors.MapPageSize()
	var pages int64
	for _, in := range m.loads[k.Class] {
		t, ok := mp.inputs[in.B].Tensors[k.Loads[in.C]]
		if !ok {
			return false
		}
		pages += (t.End+page-1)/page - t.Begin/page
	}
	return pages*page <= m.stageCacheMax
}

// tensor returns the stored bytes of an input tensor through its file's mapping and notes the
// range as the worker's, or nil when the run reads instead.
func (mp *inputMapper) tensor(w *worker, input int, name string) []byte {
	if mp == nil || mp.off.Load() {
		return nil
	}
	f := mp.inputs[input]
	b, err := f.MapTensor(name)
	if err != nil {
		mp.off.Store(true) // no mapping here: every read is a copy, as without the mapper
		return nil
	}
	t := f.Tensors[name]
	mappedTensors.Add(1)
	mp.mu.Lock()
	mp.running[w] = append(mp.running[w], mappedRange{input, t.Begin, t.End})
	mp.mu.Unlock()
	return b
}

// keyDone moves the worker's ranges to the finished ones, and sweeps when they cover
// mapSweepBytes.
func (mp *inputMapper) keyDone(w *worker) {
	if mp == nil {
		return
	}
	mp.mu.Lock()
	defer mp.mu.Unlock()
	rs := mp.running[w]
	if len(rs) == 0 {
		return
	}
	page := safetensors.MapPageSize()
	for _, r := range rs {
		mp.done = append(mp.done, r)
		lo, hi := r.lo/page*page, (r.hi+page-1)/page*page
		prev := mp.donePages[r.input]
		mp.doneBytes += hi - lo - max(0, min(hi, prev.hi)-max(lo, prev.lo))
		mp.donePages[r.input] = mappedRange{r.input, lo, hi}
	}
	mp.running[w] = rs[:0]
	if mp.doneBytes >= mapSweepBytes {
		mp.sweep(w)
	}
}

// sweep unmaps the finished keys' ranges, widened to whole pages, but for the pages of the
// keys other workers than w are running. mp.mu is held.
func (mp *inputMapper) sweep(w *worker) {
	page := safetensors.MapPageSize()
	var busy []mappedRange
	for o, rs := range mp.running {
		if o != w {
			busy = append(busy, rs...)
		}
	}
	for _, r := range mergeRanges(mp.done, page) {
		for _, piece := range subtractRanges(r, busy, page) {
			mapReleased.Add(mp.inputs[piece.input].ReleaseMapped(piece.lo, piece.hi))
		}
	}
	mapSweeps.Add(1)
	mp.done, mp.doneBytes = mp.done[:0], 0
	clear(mp.donePages)
}

// mergeRanges returns rs widened to whole pages and merged where they touch, by input and
// offset.
func mergeRanges(rs []mappedRange, page int64) []mappedRange {
	out := make([]mappedRange, 0, len(rs))
	for _, r := range rs {
		out = append(out, mappedRange{r.input, r.lo / page * page, (r.hi + page - 1) / page * page})
	}
	slices.SortFunc(out, func(a, b mappedRange) int {
		if a.input != b.input {
			return a.input - b.input
		}
		return int(min(max(a.lo-b.lo, -1), 1))
	})
	merged := out[:0]
	for _, r := range out {
		if n := len(merged); n > 0 && merged[n-1].input == r.input && r.lo <= merged[n-1].hi {
			merged[n-1].hi = max(merged[n-1].hi, r.hi)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// subtractRanges returns the parts of r (whole pages) outside every range of busy of the
// same input widened to whole pages, in order.
func subtractRanges(r mappedRange, busy []mappedRange, page int64) []mappedRange {
	out := []mappedRange{r}
	for _, b := range busy {
		if b.input != r.input {
			continue
		}
		lo, hi := b.lo/page*page, (b.hi+page-1)/page*page
		next := out[:0:0]
		for _, p := range out {
			if hi <= p.lo || lo >= p.hi {
				next = append(next, p)
				continue
			}
			if p.lo < lo {
				next = append(next, mappedRange{p.input, p.lo, lo})
			}
			if hi < p.hi {
				next = append(next, mappedRange{p.input, hi, p.hi})
			}
		}
		out = next
	}
	return out
}

// mapFaultError is the error of a key whose mapped input faulted: the file shrank (or its
// storage failed) while the run read it. What the key read is unknown, so the run stops.
func (mp *inputMapper) faultError(addr uintptr) error {
	if mp == nil {
		return nil
	}
	for _, f := range mp.inputs {
		if f.MappedFault(addr) {
			return fmt.Errorf("%s: reading it faulted (at %#x): the file was truncated or its storage failed while the merge read it", f.Path, addr)
		}
	}
	return nil
}

// runGuarded is run(k), with a fault in a mapped input (the file shrank while the key read
// it) made the key's error instead of the process's crash (the worker's goroutine set
// debug.SetPanicOnFault). Other panics go on.
func (w *worker) runGuarded(k *bytecode.Key, run func(*bytecode.Key) (bool, error)) (present bool, err error) {
	if w.m.mapper == nil {
		return run(k)
	}
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(interface{ Addr() uintptr }); ok {
				if ferr := w.m.mapper.faultError(e.Addr()); ferr != nil {
					present, err = false, ferr
					return
				}
			}
			panic(r)
		}
	}()
	return run(k)
}
