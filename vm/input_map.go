package vm

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/mechac/mechac/vm/bytecode"
	"github.com/mechac/mechac/vm/safetensors"
)

// Staged keys' inputs read through mappings (safetensors.Mappings). Without a memory budget,
// a staged key whose inputs fit its cache (stage_cache.go) takes each input's bytes from a
// mapping of the whole file instead of copying them into the worker's cache: every pass reads
// the page cache's own pages. On the scale-4 TIES benchmark this took the copies (~16% of
// the run's CPU time, system time 0.72 -> 0.39 s a run) and most of the cache arenas' fresh
// pages away: 1.84 -> 1.67 CPU-s and 0.92 -> 0.86 s, 6 interleaved pairs (BENCHMARKS,
// session 26).
//
// The mapped pages a key read count in the process's resident memory until they are
// unmapped. When a key ends, its ranges' pages are counted; once the finished keys' come to
// mapSweepBytes (in whole huge pages), a sweep unmaps every mapped page (keyDone). The
// resident memory the mappings add is then at most the running keys' inputs, as the cache's
// was, plus mapSweepBytes (SPEC §5.4).
//
// A key is mapped only when the pages its inputs span (whole 2 MiB pages: a mapping's
// granule in resident memory) come to at most the cache's limit, stageCacheBytes: what a
// worker holds for its key's inputs is then bounded as the cache was. A key of 216 inputs
// spans at least 432 MiB of pages, however small its tensors, and is copied. A key past the
// cache's limit (which would keep a window of one chunk of each input, copied pass after
// pass) with at most 16 inputs is read whole through the mappings too, and sweeps every
// mapProgressBytes of chunks it reads (progress): at full SDXL size most of TIES's elements
// are in such keys.
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
// sweep unmaps them. A sweep is one madvise call, which flushes the other workers' TLBs (one
// call per input and sweep cost ~1.6% of the scale-4 TIES run's CPU time; one per sweep
// ~1.1%, mostly the unmapping itself; 6 interleaved pairs 1.652 -> 1.588 CPU-s). A variable
// for the tests.
var mapSweepBytes int64 = 64 << 20

// mapsInputs: the system maps files as safetensors.Mappings needs (Linux; elsewhere every
// input is read).
const mapsInputs = runtime.GOOS == "linux"

// mapProgressBytes is how many bytes of chunks a key past the cache's limit reads through
// its mappings before it sweeps (progress): what it holds of mapped pages, about, against the
// window of one chunk of each input that its peak counts. A variable for the tests.
var mapProgressBytes int64 = 16 << 20

// Counts for the tests: tensors served by a mapping, and sweeps.
var mappedTensors, mapSweeps atomic.Int64

// mappedRange is a range of an input file's offsets that a key read through the mapping.
type mappedRange struct {
	input  int
	lo, hi int64
}

// inputMapper hands out mapped tensors and unmaps them once used (see above).
type inputMapper struct {
	maps   *safetensors.Mappings
	inputs []*safetensors.File
	// off is set when a mapping failed: the run reads its inputs instead.
	off atomic.Bool

	mu sync.Mutex
	// doneBytes is the bytes of the pages finished keys mapped since the last sweep, where a
	// page the input's previous range had (donePages: per input, that range's pages) is not
	// counted again. Pages shared by ranges further apart count twice, which only sweeps
	// sooner.
	doneBytes int64
	donePages []mappedRange
}

func newInputMapper(inputs []*safetensors.File) *inputMapper {
	return &inputMapper{maps: safetensors.NewMappings(inputs), inputs: inputs, donePages: make([]mappedRange, len(inputs))}
}

// mapsKey reports whether staged key k, whose cache would hold its inputs whole (window
// false) or a window of one chunk of each (window true), reads them through mappings: whole,
// when the pages they span come to at most the cache's limit; past it (a window), when a
// chunk of every input spans at most the cache's limit of pages, and then with sweeps as its
// passes go (progress). It maps the files it needs first, so that reading them cannot fail
// after.
func (m *machine) mapsKey(k *bytecode.Key, window bool) (maps, progress bool) {
	mp := m.mapper
	if mp == nil || mp.off.Load() {
		return false, false
	}
	page := safetensors.MapPageSize()
	var pages int64
	for _, in := range m.loads[k.Class] {
		t, ok := mp.inputs[in.B].Tensors[k.Loads[in.C]]
		if !ok {
			return false, false
		}
		pages += (t.End+page-1)/page - t.Begin/page
	}
	if window && !m.mapsWindow(k) || !window && pages*page > m.stageCacheMax {
		return false, false // (before mapping anything: x215a's 216 files stay unmapped)
	}
	for _, in := range m.loads[k.Class] {
		if _, err := mp.maps.Tensor(in.B, k.Loads[in.C]); err != nil {
			mp.off.Store(true) // no mapping here: every read is a copy, as without the mapper
			return false, false
		}
	}
	return true, window
}

// mapsWindow reports whether a staged key k past the cache's limit can be read through
// mappings: a chunk's bytes (at most 8 bytes an element) span at most two pages of each
// input, which must come to at most the cache's own limit (stageCacheBytes, whatever
// Options.StageCacheBytes says): up to 16 inputs.
func (m *machine) mapsWindow(k *bytecode.Key) bool {
	page := safetensors.MapPageSize()
	return int64(len(m.loads[k.Class]))*2*page <= stageCacheBytes && int64(m.chunkElems)*8 <= page
}

// tensor returns the stored bytes of an input tensor through its file's mapping and notes the
// range as the worker's, or nil when the run reads instead.
func (mp *inputMapper) tensor(w *worker, input int, name string) []byte {
	if mp == nil || mp.off.Load() {
		return nil
	}
	b, err := mp.maps.Tensor(input, name)
	if err != nil {
		mp.off.Store(true) // (mapsKey mapped the file: cannot happen)
		return nil
	}
	t := mp.inputs[input].Tensors[name]
	mappedTensors.Add(1)
	w.mappedRanges = append(w.mappedRanges, mappedRange{input, t.Begin, t.End})
	return b
}

// keyDone counts the pages of the worker's key's ranges, and sweeps when the finished keys'
// come to mapSweepBytes: every mapped page of every input is unmapped, with one system call
// (safetensors.Mappings.Release), also those of the keys other workers are running, which
// fault them back in (a few faults of 2 MiB each, against a TLB flush per call and input).
func (mp *inputMapper) keyDone(w *worker) {
	if mp == nil || len(w.mappedRanges) == 0 {
		return
	}
	page := safetensors.MapPageSize()
	mp.mu.Lock()
	for _, r := range w.mappedRanges {
		lo, hi := r.lo/page*page, (r.hi+page-1)/page*page
		prev := mp.donePages[r.input]
		mp.doneBytes += hi - lo - max(0, min(hi, prev.hi)-max(lo, prev.lo))
		mp.donePages[r.input] = mappedRange{r.input, lo, hi}
	}
	sweep := mp.doneBytes >= mapSweepBytes
	if sweep {
		mp.doneBytes = 0
		clear(mp.donePages)
	}
	mp.mu.Unlock()
	w.mappedRanges = w.mappedRanges[:0]
	if sweep && mp.maps.Release() {
		mapSweeps.Add(1)
	}
}

// progress counts the bytes of a chunk (part) of input a worker's key takes through its
// mapping, once per chunk and input in each pass, when the key sweeps as its passes go (a key
// past the cache's limit: startRaw): every mapProgressBytes of them, a sweep unmaps every
// mapped page, so that the key holds about that much of mapped pages however large its
// tensors.
func (mp *inputMapper) progress(w *worker, input int, part *span, size int) {
	if input >= len(w.progLo) {
		w.progLo = append(w.progLo, make([]int, input+1-len(w.progLo))...)
	}
	if w.progLo[input] == part.lo+1 {
		return
	}
	w.progLo[input] = part.lo + 1 // (0: none yet)
	if w.progBytes += int64(part.n * size); w.progBytes >= mapProgressBytes {
		w.progBytes = 0
		if mp.maps.Release() {
			mapSweeps.Add(1)
		}
	}
}

// faultError is the error of a key whose mapped input faulted at addr: the file shrank (or
// its storage failed) while the run read it. What the key read is unknown, so the run stops.
// Nil when addr is not in a mapping.
func (mp *inputMapper) faultError(addr uintptr) error {
	if mp == nil {
		return nil
	}
	if path, ok := mp.maps.Fault(addr); ok {
		return fmt.Errorf("%s: reading it faulted (at %#x): the file was truncated or its storage failed while the merge read it", path, addr)
	}
	return nil
}

// close unmaps the inputs at the end of a run.
func (mp *inputMapper) close() {
	if mp != nil {
		mp.maps.Close()
	}
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
