package safetensors

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/num"
)

// OutTensor declares one tensor of an output file.
type OutTensor struct {
	Name  string
	DType ops.DType
	Shape []int
}

// TempFile is what the Writer needs of its temporary file. Tests wrap the real *os.File
// (WriterOptions.WrapFile) to inject errors such as ENOSPC.
type TempFile interface {
	WriteAt(p []byte, off int64) (int, error)
	Sync() error
	Close() error
	Truncate(size int64) error
}

// WriterOptions configures Create.
type WriterOptions struct {
	// ViaF32 narrows float16/bfloat16 outputs through float32 (two roundings), as sd-mecha
	// does; false rounds once from float64. See package ops/num.
	ViaF32 bool
	// Inputs are the paths of the files the merge reads; Create refuses to overwrite any of
	// them, since the output is only complete after the inputs have been read.
	Inputs []string
	// WrapFile, if set, wraps the temporary file; for tests.
	WrapFile func(*os.File) TempFile
}

// Writer writes one safetensors file. WriteFloat64, WriteRaw and Omit are safe for concurrent
// use (for different tensors); Commit and Abort are not meant to race with them.
type Writer struct {
	path    string   // output path as given
	tmpPath string   // the temporary file's name; "" while it has none (createTemp)
	f       *os.File // the temporary file, for reading back during compaction
	wf      TempFile // f, possibly wrapped
	viaF32  bool

	meta    map[string]string
	tensors []*outEntry // sorted by name
	byName  map[string]*outEntry
	hdrLen  int64 // padded JSON length
	size    int64 // whole file

	mu     sync.Mutex
	err    error // first write error; Commit returns it
	closed bool  // committed or aborted

	// wq is the queue of the workers' writes of tensor data (writeData): one goroutine at a
	// time writes it, and a worker that finds another writing leaves its write there and
	// goes on computing.
	wq writeQueue

	// unsynced counts the bytes written since the last writeback was asked for (wrote); kick
	// asks the writeback goroutine, which returns, closing done, when stop is closed
	// (stopWriteback). kick is never closed, so a late write cannot panic.
	unsynced atomic.Int64
	written  atomic.Int64 // bytes written in all (wrote), for writebackEvery
	ring     *syncRing    // the writebacks' io_uring, or nil: the goroutine's kick
	kick     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// writebackBytes is how many bytes the Writer lets the page cache gather before its
// goroutine writes them to the disk (startWriteback). Without it the kernel writes a fresh
// output's pages only at Commit's fsync (or after its 30 s dirty expiry): a 415 MiB output
// waited ~0.5 s there, after the merge was done. Written as the merge goes, the disk writes
// overlap the computing and the fsync has only the last pages to wait for (0.04 s).
// A variable, as is writeback (startWriteback), for the tests.
var writebackBytes int64 = 32 << 20

var writeback = startWriteback

// writebackEvery is the bytes written between writebacks when left bytes of the file are
// still to be written: writebackBytes, and a quarter of it over the file's last four times
// that. Commit's fsync waits for what was written since the last writeback: with 32 MiB
// between them the TIES benchmark's final fsync took 26-30 ms, with 8 MiB at the end 5-9 ms
// (the same CPU time; more writebacks all along had slowed the workers, the first try).
func writebackEvery(left int64) int64 {
	if left < 4*writebackBytes {
		return max(1, writebackBytes/4)
	}
	return writebackBytes
}

// wrote counts n bytes written and asks for the writeback of the file every writebackEvery:
// of the io_uring where there is one (syncring_linux.go), else of a goroutine of its own. It
// waits for the disk, and a worker should not.
func (w *Writer) wrote(n int) {
	every := writebackEvery(w.size - w.written.Add(int64(n)))
	if w.unsynced.Add(int64(n)) >= every && w.unsynced.Swap(0) >= every {
		if w.ring != nil {
			if err := w.ring.kick(); err != nil {
				w.writebackFailed(err)
			}
			return
		}
		select {
		case w.kick <- struct{}{}:
		default: // one is pending already
		}
	}
}

// startWritebacks sets up what serves wrote's requests: the io_uring, else the goroutine.
func (w *Writer) startWritebacks() {
	if useSyncRing {
		if r, err := newSyncRing(w.f); err == nil {
			w.ring = r
			return
		}
	}
	w.kick, w.stop, w.done = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.kick:
				if err := writeback(w.f); err != nil {
					w.writebackFailed(err)
				}
			case <-w.stop:
				return
			}
		}
	}()
}

// writebackFailed records a writeback's error. It is the file's (a disk that failed a
// write): Commit must fail, and only this writeback has seen it.
func (w *Writer) writebackFailed(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil && !w.closed {
		w.err = w.ioErr(err)
	}
}

// stopWriteback waits for the writebacks in flight (recording their errors) and ends what
// served them.
func (w *Writer) stopWriteback() {
	w.stopOnce.Do(func() {
		if w.ring != nil {
			if err := w.ring.wait(); err != nil {
				w.writebackFailed(err)
			}
			w.ring.close()
			return
		}
		if w.stop != nil {
			close(w.stop)
			<-w.done
		}
	})
}

type outEntry struct {
	OutTensor
	count      int
	begin, end int64 // relative to the data section, as in the header
	state      int   // pending, written or omitted; guarded by Writer.mu
}

const (
	pending = iota
	writing
	written
	omitted
	partial // some parts written by WriteFloat64Part, not the last one yet
)

// Create plans the output file and prepares its temporary file: the header is computed first
// (tensors listed by name, data laid out without gaps in dataOrder, JSON padded with spaces to
// a page, so every tensor starts aligned to its element size), the temporary file is created in
// the output's folder (so the final rename stays on one file system) and preallocated to the
// full size, so that a full disk is reported before any merge work, and the header is written.
//
// It refuses a missing output folder and an output that is one of opts.Inputs (same cleaned
// absolute path, or the same file by os.SameFile, e.g. through a link).
func Create(path string, tensors []OutTensor, metadata map[string]string, opts WriterOptions) (*Writer, error) {
	if err := checkOutputPath(path, opts.Inputs); err != nil {
		return nil, err
	}
	w := &Writer{path: path, viaF32: opts.ViaF32, meta: metadata, byName: make(map[string]*outEntry, len(tensors))}
	w.wq.cond.L = &w.wq.mu
	for _, t := range tensors {
		if t.Name == "" || t.Name == metadataKey {
			return nil, fmt.Errorf("writing %s: invalid tensor name %q", path, t.Name)
		}
		if _, dup := w.byName[t.Name]; dup {
			return nil, fmt.Errorf("writing %s: tensor %q declared twice", path, t.Name)
		}
		if _, err := ops.ParseDType(t.DType.String()); err != nil {
			return nil, fmt.Errorf("writing %s: tensor %q: unknown dtype %v", path, t.Name, t.DType)
		}
		count, ok := checkedCount(t.Shape, t.DType.Size())
		if !ok {
			return nil, fmt.Errorf("writing %s: tensor %q: invalid shape %s", path, t.Name, ops.FormatShape(t.Shape))
		}
		e := &outEntry{OutTensor: t, count: count}
		e.Shape = slices.Clone(t.Shape)
		w.byName[t.Name] = e
		w.tensors = append(w.tensors, e)
	}
	slices.SortFunc(w.tensors, func(a, b *outEntry) int { return strings.Compare(a.Name, b.Name) })
	hdr := w.layout()
	w.hdrLen = int64(len(hdr))

	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, named, err := createTemp(dir, base)
	if err != nil {
		return nil, w.ioErr(err)
	}
	w.f = f
	if named {
		w.tmpPath = f.Name()
	}
	w.wf = f
	if opts.WrapFile != nil {
		w.wf = opts.WrapFile(f)
	}
	if err := w.writeHeader(hdr); err != nil {
		w.Abort()
		return nil, err
	}
	w.startWritebacks()
	return w, nil
}

// writeHeader preallocates the file and writes the length prefix and JSON.
func (w *Writer) writeHeader(hdr []byte) error {
	if err := preallocate(w.f, w.size); err != nil {
		return w.ioErr(err)
	}
	// Also through the (possibly wrapped) TempFile: sets the final size where fallocate is not
	// available and lets tests inject failures here.
	if err := w.wf.Truncate(w.size); err != nil {
		return w.ioErr(err)
	}
	buf := make([]byte, 8+len(hdr))
	putUint64(buf, uint64(len(hdr)))
	copy(buf[8:], hdr)
	if _, err := w.wf.WriteAt(buf, 0); err != nil {
		return w.ioErr(err)
	}
	return nil
}

func putUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
}

// pageBytes is the page the data section is laid out for. Writing a page-aligned 128 KiB part
// into the page cache took 30% less time than writing it astride pages (415 MiB: 68-70 against
// 99-105 ms, 2 CPUs, ext4); in `mechac run` the output's pwrite went from 10.6-11.1% to
// 9.5-9.7% of the uniform average's CPU samples. (A reader that maps the file also finds its
// large tensors page-aligned.)
const pageBytes = 4096

// dataOrder lists the tensors not omitted in the order of their data: those of a whole number
// of pages first, so that each starts on a page (the header is padded to one), then the rest,
// the widest dtype first, so that each starts aligned to its element size; by name within
// each group.
func dataOrder(tensors []*outEntry) []*outEntry {
	var pages, rest []*outEntry
	for _, e := range tensors {
		switch {
		case e.state == omitted:
		case int64(e.count)*int64(e.DType.Size())%pageBytes == 0:
			pages = append(pages, e)
		default:
			rest = append(rest, e)
		}
	}
	slices.SortStableFunc(rest, func(a, b *outEntry) int { return b.DType.Size() - a.DType.Size() })
	return append(pages, rest...)
}

// layout assigns data offsets to the tensors not omitted (dataOrder) and returns the header
// JSON, which lists them in name order, padded with spaces so that the data section starts on
// a page; it sets w.size.
func (w *Writer) layout() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	if len(w.meta) > 0 {
		b.WriteString(`"` + metadataKey + `":{`)
		keys := make([]string, 0, len(w.meta))
		for k := range w.meta {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(&b, k)
			b.WriteByte(':')
			writeJSONString(&b, w.meta[k])
		}
		b.WriteByte('}')
	}
	var off int64
	for _, e := range dataOrder(w.tensors) {
		e.begin = off
		e.end = off + int64(e.count)*int64(e.DType.Size())
		off = e.end
	}
	first := len(w.meta) == 0
	for _, e := range w.tensors {
		if e.state == omitted {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		writeJSONString(&b, e.Name)
		b.WriteString(`:{"dtype":"` + e.DType.String() + `","shape":[`)
		for i, d := range e.Shape {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(d))
		}
		fmt.Fprintf(&b, `],"data_offsets":[%d,%d]}`, e.begin, e.end)
	}
	b.WriteByte('}')
	for (8+b.Len())%pageBytes != 0 {
		b.WriteByte(' ')
	}
	w.size = 8 + int64(b.Len()) + off
	return b.Bytes()
}

// writeJSONString writes s as a JSON string without HTML escaping (recipes contain '<', '>',
// '&' and should stay readable in the header).
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // a string always encodes
	b.Truncate(b.Len() - 1) // Encode appends a newline
}

func checkedCount(shape []int, size int) (int, bool) {
	count := uint64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		hi, lo := bits.Mul64(count, uint64(d))
		if hi != 0 {
			return 0, false
		}
		count = lo
	}
	hi, nbytes := bits.Mul64(count, uint64(size))
	if hi != 0 || nbytes > 1<<62 {
		return 0, false
	}
	return int(count), true
}

// checkOutputPath refuses an output whose folder is missing or that is one of the inputs.
func checkOutputPath(path string, inputs []string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("output %s: %v", path, err)
	}
	dir := filepath.Dir(abs)
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("output %s: folder %s does not exist", path, dir)
		}
		return fmt.Errorf("output %s: %v", path, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("output %s: %s is not a folder", path, dir)
	}
	out, outErr := os.Stat(abs)
	if outErr == nil && out.IsDir() {
		return fmt.Errorf("output %s is a folder", path)
	}
	for _, in := range inputs {
		inAbs, err := filepath.Abs(in)
		if err == nil && inAbs == abs {
			return fmt.Errorf("output %s is also an input", path)
		}
		if outErr != nil {
			continue
		}
		if ist, err := os.Stat(in); err == nil && os.SameFile(ist, out) {
			return fmt.Errorf("output %s is also an input (%s)", path, in)
		}
	}
	return nil
}

// DiskFullError reports that the output's file system ran out of space. It unwraps to the
// underlying error (errors.Is(err, syscall.ENOSPC) holds).
type DiskFullError struct {
	Path string
	Err  error
}

func (e *DiskFullError) Error() string {
	return fmt.Sprintf("writing %s: disk full (no space left on device)", e.Path)
}

func (e *DiskFullError) Unwrap() error { return e.Err }

// ioErr names the output in an I/O error and turns ENOSPC/EDQUOT into a plain "disk full".
func (w *Writer) ioErr(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return &DiskFullError{Path: w.path, Err: err}
	}
	return fmt.Errorf("writing %s: %w", w.path, err)
}

// Path returns the output path.
func (w *Writer) Path() string { return w.path }

// Size returns the planned file size in bytes (before any compaction).
func (w *Writer) Size() int64 { return w.size }

// start marks a tensor as being written, refusing unknown, omitted or already written names.
func (w *Writer) start(name string) (*outEntry, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, fmt.Errorf("writing %s: tensor %q: writer already closed", w.path, name)
	}
	if w.err != nil {
		return nil, w.err
	}
	e, ok := w.byName[name]
	if !ok {
		return nil, fmt.Errorf("writing %s: tensor %q was not declared", w.path, name)
	}
	// A partially written tensor may be written again from the start: the VM does so when a
	// chunked key falls back to whole-tensor execution.
	if e.state != pending && e.state != partial {
		return nil, fmt.Errorf("writing %s: tensor %q written or omitted twice", w.path, name)
	}
	e.state = writing
	return e, nil
}

// finish records the outcome of a write; the first error sticks and fails Commit.
func (w *Writer) finish(e *outEntry, err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		e.state = pending
		if w.err == nil {
			w.err = err
		}
		return err
	}
	e.state = written
	return nil
}

// WriteFloat64 narrows data to the tensor's dtype (see WriterOptions.ViaF32 and num.Narrow)
// and writes it at the tensor's place. len(data) must be the element count.
func (w *Writer) WriteFloat64(name string, data []float64) error {
	e, err := w.start(name)
	if err != nil {
		return err
	}
	if len(data) != e.count {
		return w.finish(e, fmt.Errorf("writing %s: tensor %q has %d elements, got %d", w.path, name, e.count, len(data)))
	}
	return w.finish(e, w.encodeAt(e, 0, data))
}

// WriteFloat64Part narrows data (as WriteFloat64 does) and writes it as the elements
// [elem, elem+len(data)) of the tensor, so a tensor can be produced and written in chunks.
// The tensor counts as written once a part with last set has been written; until then it may
// be written again, whole or in parts, or omitted. Parts of one tensor must not be written
// concurrently.
func (w *Writer) WriteFloat64Part(name string, elem int, data []float64, last bool) error {
	e, err := w.start(name)
	if err != nil {
		return err
	}
	if elem < 0 || elem+len(data) > e.count {
		return w.finish(e, fmt.Errorf("writing %s: tensor %q has %d elements, part [%d, %d) is outside", w.path, name, e.count, elem, elem+len(data)))
	}
	if err := w.encodeAt(e, elem, data); err != nil {
		return w.finish(e, err)
	}
	if !last {
		w.mu.Lock()
		e.state = partial
		w.mu.Unlock()
		return nil
	}
	return w.finish(e, nil)
}

// encodeAt narrows data through pooled buffers and writes it from element elem of e.
func (w *Writer) encodeAt(e *outEntry, elem int, data []float64) error {
	size := e.DType.Size()
	per := chunkSize / size
	off := 8 + w.hdrLen + e.begin + int64(elem)*int64(size)
	for i := 0; i < len(data); i += per {
		n := min(per, len(data)-i)
		bp := chunkPool.Get().(*[]byte)
		buf := (*bp)[:n*size]
		num.EncodeInto(buf, data[i:i+n], e.DType, w.viaF32)
		if err := w.writeData(bp, buf, off); err != nil {
			return err
		}
		off += int64(len(buf))
	}
	return nil
}

// The workers' writes of tensor data go through a queue that one goroutine at a time writes
// (writeQueue). The kernel serializes buffered writes to one file anyway (the inode's lock,
// held for the copy into the page cache), and a writer that finds it taken spins on it while
// its owner copies: on the scale-4 benchmark models that spinning was 4.5% of the uniform
// average's CPU samples. A mutex instead took 13% off its CPU time (TIES: 6%), but a worker
// that found it taken slept, and in this VM a sleeping thread took ~130 µs to run again
// after the unlock, while the pwrite it had waited for took ~15 µs: on the TIES benchmark the
// workers waited ~450 times a run, runnable but not running for ~210 ms in all (an execution
// trace), a tenth of the time of two cores. A worker that finds the queue being written now
// leaves its buffer in it and goes on; the writer writes it after its own.

// writeQueueMax is the most encode buffers (chunkSize each) handed to the queue and not yet
// written; a worker that would pass it waits (SPEC §5.2 counts them in the fixed overhead).
const writeQueueMax = 4

// writeQueue is the queue of data writes waiting for the goroutine that writes (busy).
type writeQueue struct {
	mu    sync.Mutex
	cond  sync.Cond // broadcast when queued buffers are written and when busy clears
	items []queuedWrite
	spare []queuedWrite // the last batch's storage, for the next one
	bufs  int           // pooled buffers queued or being written
	busy  bool          // a goroutine is writing the queue
}

// queuedWrite is a write of p at off; bp, when not nil, is p's chunkPool buffer, returned to
// the pool once written.
type queuedWrite struct {
	bp  *[]byte
	p   []byte
	off int64
}

// writeData writes p at off, or leaves it to the goroutine writing the queue if one is: bp
// (p's chunkPool buffer) then belongs to the queue; with bp nil (the caller's own memory),
// writeData returns only once p is written. It returns the file's first error (w.err): a
// failed write fails every later one and Commit, whoever made it.
func (w *Writer) writeData(bp *[]byte, p []byte, off int64) error {
	q := &w.wq
	q.mu.Lock()
	for q.busy {
		if bp != nil && q.bufs < writeQueueMax {
			q.items = append(q.items, queuedWrite{bp, p, off})
			q.bufs++
			q.mu.Unlock()
			return w.firstErr()
		}
		q.cond.Wait()
	}
	q.busy = true
	q.mu.Unlock()
	w.writeOne(queuedWrite{bp, p, off})
	w.drain()
	return w.firstErr()
}

// drain writes the queue until it is empty, then clears busy; the caller has set busy.
func (w *Writer) drain() {
	q := &w.wq
	q.mu.Lock()
	for len(q.items) > 0 {
		batch := q.items
		q.items, q.spare = q.spare[:0], nil
		q.mu.Unlock()
		for i := range batch {
			w.writeOne(batch[i])
			batch[i] = queuedWrite{}
		}
		q.mu.Lock()
		q.bufs -= len(batch)
		q.spare = batch[:0]
		q.cond.Broadcast()
	}
	q.busy = false
	q.cond.Broadcast()
	q.mu.Unlock()
}

// writeOne writes one queued write (none once the file has failed) and recycles its buffer.
func (w *Writer) writeOne(x queuedWrite) {
	if w.firstErr() == nil {
		if _, err := w.wf.WriteAt(x.p, x.off); err != nil {
			w.fail(w.ioErr(err))
		} else {
			w.wrote(len(x.p))
		}
	}
	if x.bp != nil {
		chunkPool.Put(x.bp)
	}
}

// waitWrites returns once no goroutine is writing the queue (and so the queue is empty).
func (w *Writer) waitWrites() {
	q := &w.wq
	q.mu.Lock()
	for q.busy {
		q.cond.Wait()
	}
	q.mu.Unlock()
}

// firstErr returns the file's first error.
func (w *Writer) firstErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// fail records err as the file's error unless it has one.
func (w *Writer) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// WriteRaw writes the tensor's bytes as they are (little-endian, in the declared dtype), e.g.
// copied from an input with File.ReadRaw.
func (w *Writer) WriteRaw(name string, data []byte) error {
	e, err := w.start(name)
	if err != nil {
		return err
	}
	if int64(len(data)) != e.end-e.begin {
		return w.finish(e, fmt.Errorf("writing %s: tensor %q has %d bytes, got %d", w.path, name, e.end-e.begin, len(data)))
	}
	return w.finish(e, w.writeData(nil, data, 8+w.hdrLen+e.begin))
}

// Omit drops a declared tensor that turned out not to exist at run time. Commit then compacts
// the file. Omitting an unknown or already written tensor is a no-op.
func (w *Writer) Omit(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e, ok := w.byName[name]; ok && (e.state == pending || e.state == partial) {
		e.state = omitted
	}
}

// Commit finishes the file: every declared tensor must have been written or omitted. If some
// were omitted, the file is compacted (new header without them, data moved up). Then the
// temporary file is fsynced, renamed over the output path and the folder is fsynced, so the
// output appears complete or not at all. On error the temporary file is removed.
func (w *Writer) Commit() error {
	// A write or a writeback in flight may still record the file's error: wait for them
	// before reading w.err (publish would stop the writebacks only after the check).
	w.waitWrites()
	w.stopWriteback()
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return fmt.Errorf("writing %s: writer already closed", w.path)
	}
	err := w.err
	anyOmitted := false
	for _, e := range w.tensors {
		if err != nil {
			break
		}
		switch e.state {
		case omitted:
			anyOmitted = true
		case pending, writing, partial:
			err = fmt.Errorf("writing %s: tensor %q was never written", w.path, e.Name)
		}
	}
	w.mu.Unlock()
	if err == nil && anyOmitted {
		err = w.compact()
	}
	if err == nil {
		err = w.publish()
	}
	if err != nil {
		w.Abort()
		return err
	}
	return nil
}

// compact rewrites the temporary file in place without the omitted tensors. The new header
// lists fewer tensors with offsets no larger than before, so it is no longer than the old one
// and every tensor moves towards the start of the file: copying in ascending order never
// overwrites data not yet copied.
func (w *Writer) compact() error {
	old := make(map[string][2]int64, len(w.tensors))
	oldStart := 8 + w.hdrLen
	for _, e := range w.tensors {
		old[e.Name] = [2]int64{e.begin, e.end}
	}
	hdr := w.layout()
	if int64(len(hdr)) > w.hdrLen {
		return fmt.Errorf("writing %s: internal error: compacted header grew", w.path)
	}
	w.hdrLen = int64(len(hdr))
	newStart := 8 + w.hdrLen
	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	// In the old data's order: every tensor moves towards the start, onto bytes that held
	// tensors before it, which have moved already.
	moving := slices.Clone(w.tensors)
	slices.SortFunc(moving, func(a, b *outEntry) int { return cmp.Compare(old[a.Name][0], old[b.Name][0]) })
	for _, e := range moving {
		if e.state == omitted {
			continue
		}
		src, dst := oldStart+old[e.Name][0], newStart+e.begin
		if src == dst {
			continue
		}
		for n := e.end - e.begin; n > 0; {
			buf := (*bp)[:min(int64(len(*bp)), n)]
			if _, err := w.f.ReadAt(buf, src); err != nil {
				return fmt.Errorf("writing %s: compacting: %w", w.path, err)
			}
			if _, err := w.wf.WriteAt(buf, dst); err != nil {
				return w.ioErr(err)
			}
			src, dst, n = src+int64(len(buf)), dst+int64(len(buf)), n-int64(len(buf))
		}
	}
	buf := make([]byte, 8+len(hdr))
	putUint64(buf, uint64(len(hdr)))
	copy(buf[8:], hdr)
	if _, err := w.wf.WriteAt(buf, 0); err != nil {
		return w.ioErr(err)
	}
	if err := w.wf.Truncate(w.size); err != nil {
		return w.ioErr(err)
	}
	return nil
}

func (w *Writer) publish() error {
	w.stopWriteback()
	if err := w.wf.Sync(); err != nil {
		return w.ioErr(err)
	}
	// The temporary file is 0600; an output checkpoint is an ordinary file.
	if err := w.f.Chmod(0o644); err != nil {
		return w.ioErr(err)
	}
	if w.tmpPath == "" { // unnamed until now (createTemp): name it before its last descriptor goes
		dir, base := filepath.Split(w.path)
		if dir == "" {
			dir = "."
		}
		p, err := nameTemp(w.f, dir, base)
		if err != nil {
			return w.ioErr(err)
		}
		w.tmpPath = p
	}
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	if err := w.wf.Close(); err != nil {
		os.Remove(w.tmpPath)
		return w.ioErr(err)
	}
	if err := os.Rename(w.tmpPath, w.path); err != nil {
		os.Remove(w.tmpPath)
		return w.ioErr(err)
	}
	w.tmpPath = ""
	return syncDir(filepath.Dir(w.path))
}

// syncDir makes the rename durable. File systems that cannot sync a directory are ignored.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return fmt.Errorf("syncing folder %s: %w", dir, err)
	}
	return nil
}

// Abort discards the output: it closes and removes the temporary file. It is idempotent and a
// no-op after a successful Commit.
func (w *Writer) Abort() {
	w.waitWrites()
	w.stopWriteback()
	w.mu.Lock()
	wasClosed := w.closed
	w.closed = true
	tmp := w.tmpPath
	w.tmpPath = ""
	w.mu.Unlock()
	if !wasClosed && w.wf != nil {
		w.wf.Close()
	}
	if tmp != "" {
		os.Remove(tmp)
	}
}
