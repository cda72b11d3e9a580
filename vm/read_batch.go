package vm

import (
	"cmp"
	"slices"
	"sync/atomic"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/bytecode"
)

// Small staged keys read in batches. A staged key reads each input tensor whole into its
// worker's cache with one read (stage_cache.go). On the scale-4 TIES benchmark 1471 of the
// 2515 keys have fewer than 16 Ki elements: 0.3% of the elements, but ~13 K of the run's ~25 K
// reads, each a system call of ~1.5-3.5 us in this VM, and those keys took ~55 ms of its ~0.9 s
// wall time. Without a memory budget a worker therefore takes a run of such keys at once
// (batchRuns) and reads their inputs per file in one read per contiguous range of the file
// (their tensors lie side by side in files written in name order), into a buffer of its own
// that the keys' caches then point into.

const (
	// batchKeyElems is the most elements of a key that batches.
	batchKeyElems = 16 << 10
	// batchMaxKeys and batchMaxElems bound a batch: its keys, and their input elements (1 MiB
	// of float16).
	batchMaxKeys  = 32
	batchMaxElems = 512 << 10
	// batchGap is the largest gap between two tensors of a file read through rather than
	// read apart (16 KiB: copied in about the time of one more system call here);
	// BatchBufBytes bounds a worker's buffer, gaps included (a larger batch reads apart).
	batchGap      = 16 << 10
	BatchBufBytes = 4 << 20
)

// batchReads counts the reads that batches made, batchKeys the keys they served (for the
// tests).
var batchReads, batchKeys atomic.Int64

// planBatches sets m.order, the order the workers take the keys in: every other key first, in
// the plan's order (the large ones then start early and the run ends on small ones, which
// share out evenly between the workers), then the small staged keys, in the plan's order too;
// and m.batchRuns: at the first of each batch of those, its length.
func (m *machine) planBatches() {
	keys := m.prog.Keys
	small := m.batchElems
	m.order = make([]int32, 0, len(keys))
	var tail []int32
	for i := range keys {
		if small(&keys[i]) > 0 {
			tail = append(tail, int32(i))
		} else {
			m.order = append(m.order, int32(i))
		}
	}
	m.batchRuns = make([]int32, len(keys))
	for i := len(m.order); i < len(keys); i++ {
		m.batchRuns[i] = 1
	}
	for j := 0; j < len(tail); {
		n, elems := 1, small(&keys[tail[j]])
		for j+n < len(tail) && n < batchMaxKeys {
			e := small(&keys[tail[j+n]])
			if elems+e > batchMaxElems {
				break
			}
			n, elems = n+1, elems+e
		}
		m.batchRuns[len(m.order)+j] = int32(n)
		j += n
	}
	m.order = append(m.order, tail...)
}

// batchElems is the input elements of k when it batches, else 0: a staged key of at most
// batchKeyElems elements. (From the plan alone, the shape: the inputs' headers are looked at
// when the batch is read, and this runs before the workers start.)
func (m *machine) batchElems(k *bytecode.Key) int {
	e := ops.NumElements(k.Shape)
	if e > batchKeyElems || m.stagedKey(k) == nil || !m.chunked(k) {
		return 0
	}
	return e * len(m.loads[k.Class])
}

// keyAt is the index of the key taken at position pos of the workers' order.
func (m *machine) keyAt(pos int) int {
	if m.order == nil {
		return pos
	}
	return int(m.order[pos])
}

// claimKeys takes the next keys to run, positions in the workers' order: one, or the batch
// that starts there. It returns the first one's position (len(Keys) or more when none is
// left) and how many.
func (m *machine) claimKeys(next *atomic.Int64) (int, int) {
	for {
		i := next.Load()
		if int(i) >= len(m.prog.Keys) {
			return int(i), 0
		}
		n := int64(1)
		if m.batchRuns != nil {
			n = int64(max(1, m.batchRuns[i]))
		}
		if next.CompareAndSwap(i, i+n) {
			return int(i), int(n)
		}
	}
}

// batchSpan is one input tensor of a batch to read: its input, file offsets and entry.
type batchSpan struct {
	input      int
	begin, end int64
	key, entry int
}

// readBatch reads the inputs of the n keys from position first (a batch) into the worker's batch buffer, per file one
// read per contiguous range, and keeps them for cachedRaw (useBatch selects a key's). Where
// anything is amiss (a tensor missing, a read failing, the buffer too small) it keeps nothing:
// each key then reads its own, and reports what it finds.
func (w *worker) readBatch(first, n int) {
	m := w.m
	w.batch = w.batch[:0]
	w.batchCur = nil
	var spans []batchSpan
	for ki := range n {
		k := &m.prog.Keys[m.keyAt(first+ki)]
		w.batch = append(w.batch, nil)
		for _, in := range m.loads[k.Class] {
			name := k.Loads[in.C]
			info, ok := m.inputs[in.B].Tensors[name]
			if !ok {
				w.batch = w.batch[:0]
				return
			}
			spans = append(spans, batchSpan{input: in.B, begin: info.Begin, end: info.End, key: ki, entry: len(w.batch[ki])})
			w.batch[ki] = append(w.batch[ki], rawInput{input: in.B, name: name, dtype: info.DType})
		}
	}
	// Per input file, in file order: ranges of tensors at most batchGap apart, each one read.
	slices.SortFunc(spans, func(a, b batchSpan) int {
		return cmp.Or(cmp.Compare(a.input, b.input), cmp.Compare(a.begin, b.begin))
	})
	type batchRange struct {
		begin, end int64
		spans      []batchSpan
	}
	var ranges []batchRange
	var total int64
	for i := 0; i < len(spans); {
		j, end := i+1, spans[i].end
		for j < len(spans) && spans[j].input == spans[i].input && spans[j].begin <= end+batchGap {
			end = max(end, spans[j].end)
			j++
		}
		ranges = append(ranges, batchRange{begin: spans[i].begin, end: end, spans: spans[i:j]})
		total += end - spans[i].begin
		i = j
	}
	if total > BatchBufBytes {
		w.batch = w.batch[:0]
		return
	}
	if int64(cap(w.batchBuf)) < total {
		w.batchBuf = nil // the old one is garbage before the new one is made
		w.batchBuf = make([]byte, min(max(2*total, 256<<10), BatchBufBytes))
	}
	buf := w.batchBuf[:0]
	var read int64
	for _, r := range ranges {
		at := len(buf)
		buf = buf[:at+int(r.end-r.begin)]
		if err := m.inputs[r.spans[0].input].ReadSpan(r.begin, buf[at:]); err != nil {
			w.batch = w.batch[:0]
			return
		}
		batchReads.Add(1)
		for _, s := range r.spans {
			w.batch[s.key][s.entry].data = buf[at+int(s.begin-r.begin) : at+int(s.end-r.begin)]
			read += s.end - s.begin
		}
	}
	m.bytesRead.Add(read)
}

// useBatch selects the read inputs of the batch's key i for cachedRaw (none: i past the
// batch, or no batch).
func (w *worker) useBatch(i int) {
	w.batchCur = nil
	if i < len(w.batch) {
		w.batchCur = w.batch[i]
		batchKeys.Add(1)
	}
}

// endBatch forgets the batch (its buffer stays for the next one).
func (w *worker) endBatch() {
	clear(w.batch)
	w.batch, w.batchCur = w.batch[:0], nil
}

// batchRaw returns the current key's input tensor read by its batch (its data in the worker's
// batch buffer), or nil.
func (w *worker) batchRaw(input int, name string) *rawInput {
	for i := range w.batchCur {
		if e := &w.batchCur[i]; e.input == input && e.name == name && e.data != nil {
			return e
		}
	}
	return nil
}
