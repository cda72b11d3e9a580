// Package safetensors reads and writes .safetensors checkpoints for the mechac VM.
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of JSON (an object
// mapping tensor names to {"dtype", "shape", "data_offsets"} plus an optional "__metadata__"
// object of strings), then the tensor data; data_offsets are relative to the end of the header.
//
// Reading: Open parses and validates the header only; tensors are read on demand with pread
// (ReadAt), so many goroutines can read one file at once and a multi-gigabyte checkpoint is never
// held in memory. Everything in the header is checked before it is trusted (see ReadHeader).
// Elements are widened to float64 by package ops/num.
//
// Writing: Create lays the whole file out before any merge work (keys sorted by name, header
// padded to 8 bytes), writes into a preallocated temporary file next to the output with WriteAt
// (so tensors can be written concurrently and in any order), and Commit publishes it with
// fsync + rename, so an interrupted or failed run never leaves a partial output.
//
// github.com/nlpodyssey/safetensors (in go.mod) is deliberately not used here: its Deserialize
// parses from a []byte holding the whole file, which for SDXL-sized inputs means gigabytes per
// model in memory, and its Serialize builds the entire output in memory in a layout we do not
// control, with no preallocation, concurrent WriteAt or atomic replace.
package safetensors

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/num"
)

// MaxHeaderLen bounds the JSON header. Real SDXL checkpoints have headers under 1 MB (sd-mecha's
// worst-case padding included); the bound keeps a corrupt length field from making us allocate
// gigabytes.
const MaxHeaderLen = 100 << 20

// metadataKey is the reserved header entry holding string metadata.
const metadataKey = "__metadata__"

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name  string
	DType ops.DType
	Shape []int
	// Begin and End are absolute file offsets of the tensor's bytes (header included), so a
	// reader can pread them directly.
	Begin, End int64
}

// NumElements is the product of the shape (1 for a 0-dim tensor).
func (t *TensorInfo) NumElements() int { return ops.NumElements(t.Shape) }

// Len is the tensor's size in bytes.
func (t *TensorInfo) Len() int64 { return t.End - t.Begin }

// Header is a parsed, validated safetensors header.
type Header struct {
	Path      string // as given to Open; used to prefix error messages
	Size      int64  // file size in bytes
	HeaderLen int64  // N, the JSON length (padding included)
	Metadata  map[string]string
	Tensors   map[string]*TensorInfo
	// HeaderHash is the SHA-256 of the N raw header bytes. Plans fingerprint their inputs with
	// it: it changes whenever a name, dtype, shape, offset or metadata value changes.
	HeaderHash [32]byte

	names []string // by data offset, then name
}

// DataStart is the absolute offset of the data section.
func (h *Header) DataStart() int64 { return 8 + h.HeaderLen }

// Names returns the tensor names ordered by data offset (ties by name), the order in which
// reading a whole file touches the disk sequentially. The slice is shared; do not modify it.
func (h *Header) Names() []string { return h.names }

// Lint reports layout oddities that are legal but unusual: bytes before the first tensor,
// gaps between tensors, unreferenced bytes at the end of the file, and a data section that does
// not start on an 8-byte boundary. It returns nil for a file as mechac writes it.
func (h *Header) Lint() []string {
	var out []string
	if h.DataStart()%8 != 0 {
		out = append(out, fmt.Sprintf("%s: data section starts at %d, not a multiple of 8", h.Path, h.DataStart()))
	}
	pos, prev := h.DataStart(), ""
	for _, n := range h.names {
		t := h.Tensors[n]
		if t.Begin == t.End {
			continue
		}
		if t.Begin > pos {
			if prev == "" {
				out = append(out, fmt.Sprintf("%s: %d unused bytes before the first tensor %q", h.Path, t.Begin-pos, n))
			} else {
				out = append(out, fmt.Sprintf("%s: %d unused bytes between tensors %q and %q", h.Path, t.Begin-pos, prev, n))
			}
		}
		pos, prev = max(pos, t.End), n
	}
	if pos < h.Size {
		out = append(out, fmt.Sprintf("%s: %d unused bytes after the last tensor", h.Path, h.Size-pos))
	}
	return out
}

// headerEntry is one tensor entry of the JSON. Numbers are kept as raw text and parsed strictly
// (decimal integers only): encoding/json would turn them into float64 (losing precision above
// 2^53) or, for json.Number, also accept quoted strings.
type headerEntry struct {
	DType       *string           `json:"dtype"`
	Shape       []json.RawMessage `json:"shape"`
	DataOffsets []json.RawMessage `json:"data_offsets"`
}

// ReadHeader reads and validates the header of a safetensors file of the given size. If r has
// a Name method (like *os.File), errors are prefixed with that name.
//
// The checks, in order: the 8-byte length is present; the length is at most MaxHeaderLen and
// fits in the file (nothing is allocated before that); the header is a JSON object starting with
// '{', followed by nothing but whitespace padding; no key appears twice; "__metadata__", if
// present, is an object of strings; every other entry has a dtype mechac supports, a shape of
// non-negative integers and two integer data offsets begin <= end inside the data section, with
// end - begin equal to the element count times the dtype size (checked for overflow); and no two
// non-empty tensors overlap. Gaps are allowed (see Lint).
func ReadHeader(r io.ReaderAt, size int64) (*Header, error) {
	name := "safetensors"
	if n, ok := r.(interface{ Name() string }); ok {
		name = n.Name()
	}
	return readHeader(r, size, name)
}

// readFull is ReadAt that accepts io.EOF together with a full read, which io.ReaderAt allows
// at the end of the input.
func readFull(r io.ReaderAt, buf []byte, off int64) error {
	if len(buf) == 0 {
		return nil
	}
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func readHeader(r io.ReaderAt, size int64, path string) (*Header, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: "+format, append([]any{path}, args...)...)
	}
	if size < 8 {
		return nil, fail("truncated header: file has %d bytes, need 8", size)
	}
	var lenBuf [8]byte
	if err := readFull(r, lenBuf[:], 0); err != nil {
		return nil, fail("reading header length: %v", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderLen {
		return nil, fail("header length %d exceeds the limit of %d bytes", n, MaxHeaderLen)
	}
	if n > uint64(size-8) {
		return nil, fail("header length %d exceeds file size %d", n, size)
	}
	bp := headerBufs.Get().(*[]byte)
	defer headerBufs.Put(bp)
	if uint64(cap(*bp)) < n {
		*bp = make([]byte, n)
	}
	raw := (*bp)[:n]
	if err := readFull(r, raw, 8); err != nil {
		return nil, fail("reading header: %v", err)
	}
	h := &Header{
		Path:       path,
		Size:       size,
		HeaderLen:  int64(n),
		HeaderHash: sha256.Sum256(raw),
	}
	key := parsedKey{hash: h.HeaderHash, size: size}
	parsedHeaders.Lock()
	done := parsedHeaders.m[key]
	parsedHeaders.Unlock()
	if done != nil {
		c := *done
		c.Path = path
		return &c, nil
	}
	if err := h.parseWithTable(raw); err != nil {
		return nil, fail("%v", err)
	}
	c := *h
	parsedHeaders.Lock()
	if parsedHeaders.m == nil {
		parsedHeaders.m = map[parsedKey]*Header{}
	}
	parsedHeaders.m[key] = &c
	parsedHeaders.Unlock()
	return h, nil
}

// headerBufs recycles the buffers readHeader reads headers into: a parsed header keeps no
// byte of it (names and values are copied, interned). Compiling the 216 SDXL models of x215a
// read 77 MB of headers, each buffer a large allocation of fresh heap pages.
var headerBufs = sync.Pool{New: func() any { return new([]byte) }}

// parsedHeaders keeps the headers this process parsed, by their bytes' SHA-256 and the file's
// size, which decide the parse and its checks entirely: a file opened again (mechac run opens
// every input once to compile and once to run) or a copy of one is not parsed again. A
// header's parse took ~3 ms for an SDXL model's 2515 tensors: 216 models' twice. A copy is
// returned (with its own Path): the maps and slices it shares are not written after parse.
var parsedHeaders struct {
	sync.Mutex
	m map[parsedKey]*Header
}

// headerParses counts the headers parsed (for the tests).
var headerParses atomic.Int64

type parsedKey struct {
	hash [32]byte
	size int64
}

// parse fills Metadata and Tensors from the raw header bytes. Errors are not yet prefixed with
// the path.
func (h *Header) parse(raw []byte) error {
	if h.parseFast(raw) {
		return nil
	}
	return h.parseSlow(raw)
}

// parseSlow is parse through encoding/json: every header, with precise errors.
func (h *Header) parseSlow(raw []byte) error {
	h.Tensors, h.Metadata = nil, nil
	if len(raw) == 0 || raw[0] != '{' {
		return errors.New("header is not a JSON object (does not start with '{')")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("invalid header JSON: %v", err)
	}
	h.Tensors = map[string]*TensorInfo{}
	dataLen := h.Size - h.DataStart()
	seenMeta := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("invalid header JSON: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("invalid header JSON: unexpected %v", tok)
		}
		if key == metadataKey {
			if seenMeta {
				return fmt.Errorf("duplicate key %q in header", key)
			}
			seenMeta = true
			if h.Metadata, err = decodeMetadata(dec); err != nil {
				return err
			}
			continue
		}
		if _, dup := h.Tensors[key]; dup {
			return fmt.Errorf("duplicate key %q in header", key)
		}
		var e headerEntry
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("tensor %q: invalid entry: %v", key, err)
		}
		t, err := e.tensor(key, h.DataStart(), dataLen)
		if err != nil {
			return fmt.Errorf("tensor %q: %v", key, err)
		}
		h.Tensors[key] = t
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return fmt.Errorf("invalid header JSON: %v", err)
	}
	// Only whitespace may follow the object (writers pad with spaces to align the data).
	rest := raw[dec.InputOffset():]
	if i := bytes.IndexFunc(rest, func(c rune) bool { return c != ' ' && c != '\t' && c != '\n' && c != '\r' }); i >= 0 {
		return fmt.Errorf("unexpected data after the header JSON at byte %d", 8+dec.InputOffset()+int64(i))
	}
	if h.Metadata == nil {
		h.Metadata = map[string]string{}
	}
	return h.checkOverlap()
}

func decodeMetadata(dec *json.Decoder) (map[string]string, error) {
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: not an object of strings: %v", metadataKey, err)
	}
	if m == nil {
		return map[string]string{}, nil // "__metadata__": null
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		var s string
		if err := json.Unmarshal(v, &s); err != nil || len(v) == 0 || v[0] != '"' {
			return nil, fmt.Errorf("%s: value of %q is not a string", metadataKey, k)
		}
		out[k] = s
	}
	return out, nil
}

// tensor validates one entry. dataStart is the absolute offset of the data section and dataLen
// its length.
func (e *headerEntry) tensor(name string, dataStart, dataLen int64) (*TensorInfo, error) {
	if e.DType == nil {
		return nil, errors.New("missing dtype")
	}
	d, err := ops.ParseDType(*e.DType)
	if err != nil || d.String() != *e.DType { // torch spellings are not valid in a header
		return nil, fmt.Errorf("unsupported dtype %q", *e.DType)
	}
	if e.Shape == nil {
		return nil, errors.New("missing shape")
	}
	t := &TensorInfo{Name: name, DType: d, Shape: make([]int, len(e.Shape))}
	count := uint64(1)
	overflow := false
	for i, s := range e.Shape {
		v, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("invalid shape dimension %s (want a non-negative integer)", s)
		}
		t.Shape[i] = int(v)
		hi, lo := bits.Mul64(count, uint64(v))
		overflow = overflow || hi != 0
		count = lo
	}
	if len(e.DataOffsets) != 2 {
		return nil, fmt.Errorf("data_offsets has %d values, want 2", len(e.DataOffsets))
	}
	var off [2]uint64
	for i, s := range e.DataOffsets {
		v, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid data offset %s (want a non-negative integer)", s)
		}
		off[i] = v
	}
	if off[0] > off[1] {
		return nil, fmt.Errorf("data offsets [%d, %d] are reversed", off[0], off[1])
	}
	if off[1] > uint64(dataLen) {
		return nil, fmt.Errorf("data offsets [%d, %d] extend past the end of the data (%d bytes)", off[0], off[1], dataLen)
	}
	hi, nbytes := bits.Mul64(count, uint64(d.Size()))
	if overflow || hi != 0 || nbytes != off[1]-off[0] || count > uint64(maxInt) {
		return nil, fmt.Errorf("shape %s of %s needs %s bytes, data offsets [%d, %d] hold %d",
			ops.FormatShape(t.Shape), d, byteCount(count, d, overflow || hi != 0), off[0], off[1], off[1]-off[0])
	}
	t.Begin, t.End = dataStart+int64(off[0]), dataStart+int64(off[1])
	return t, nil
}

const maxInt = int(^uint(0) >> 1)

func byteCount(count uint64, d ops.DType, overflow bool) string {
	if overflow {
		return "more than 2^64"
	}
	hi, lo := bits.Mul64(count, uint64(d.Size()))
	if hi != 0 {
		return "more than 2^64"
	}
	return strconv.FormatUint(lo, 10)
}

// checkOverlap sorts the names by offset and rejects overlapping non-empty tensors.
func (h *Header) checkOverlap() error {
	h.names = make([]string, 0, len(h.Tensors))
	for n := range h.Tensors {
		h.names = append(h.names, n)
	}
	slices.SortFunc(h.names, func(a, b string) int {
		ta, tb := h.Tensors[a], h.Tensors[b]
		if ta.Begin != tb.Begin {
			return cmp.Compare(ta.Begin, tb.Begin)
		}
		if ta.End != tb.End {
			return cmp.Compare(ta.End, tb.End)
		}
		if a < b {
			return -1
		}
		if a > b {
			return 1
		}
		return 0
	})
	var last *TensorInfo // the non-empty tensor reaching furthest so far
	ds := h.DataStart()
	for _, n := range h.names {
		t := h.Tensors[n]
		if t.Begin == t.End {
			continue
		}
		if last != nil && t.Begin < last.End {
			return fmt.Errorf("tensor %q: data offsets [%d, %d] overlap tensor %q [%d, %d]",
				last.Name, last.Begin-ds, last.End-ds, n, t.Begin-ds, t.End-ds)
		}
		if last == nil || t.End > last.End {
			last = t
		}
	}
	return nil
}

// File is an open safetensors file. Its read methods are safe for concurrent use.
type File struct {
	*Header
	f *os.File
	// conn is f's, made once at Open: readAt uses it for every tensor (f.SyscallConn
	// allocates one a call).
	conn syscall.RawConn

	// warm is the range of the file that WillNeed's probes found in the page cache.
	warm struct {
		sync.Mutex
		lo, hi int64
	}
}

// Open opens a safetensors file and validates its header (see ReadHeader). Error messages are
// prefixed with path as given.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	h, err := readHeader(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	conn, _ := f.SyscallConn() // (nil on error: readAt then reads by pread alone)
	return &File{Header: h, f: f, conn: conn}, nil
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

func (f *File) lookup(name string) (*TensorInfo, error) {
	t, ok := f.Tensors[name]
	if !ok {
		return nil, fmt.Errorf("%s: no tensor %q", f.Path, name)
	}
	return t, nil
}

// ReadRaw reads the bytes of a tensor into buf, whose length must be the tensor's byte size.
func (f *File) ReadRaw(name string, buf []byte) error {
	t, err := f.lookup(name)
	if err != nil {
		return err
	}
	if int64(len(buf)) != t.Len() {
		return fmt.Errorf("%s: tensor %q has %d bytes, buffer has %d", f.Path, name, t.Len(), len(buf))
	}
	return f.readAt(t, buf, t.Begin)
}

// ReadRawPart reads the bytes of the elements [elem, elem+n) of a tensor, as stored, into
// buf, whose length must be n times the element size: a part of what ReadRaw reads, for
// chunked execution that widens the values itself.
func (f *File) ReadRawPart(name string, elem int, buf []byte) error {
	t, err := f.lookup(name)
	if err != nil {
		return err
	}
	size := t.DType.Size()
	if len(buf)%size != 0 || elem < 0 || elem+len(buf)/size > t.NumElements() {
		return fmt.Errorf("%s: tensor %q has %d elements of %d bytes, part of %d bytes at element %d is outside",
			f.Path, name, t.NumElements(), size, len(buf), elem)
	}
	return f.readAt(t, buf, t.Begin+int64(elem)*int64(size))
}

// readAt reads buf from off, bytes of tensor t (nil: of several, ReadSpan): what the page
// cache holds without the scheduler (readCached), the rest by pread.
func (f *File) readAt(t *TensorInfo, buf []byte, off int64) error {
	done := readCached(f.conn, buf, off)
	if err := readFull(f.f, buf[done:], off+int64(done)); err != nil {
		what := ""
		if t != nil {
			what = fmt.Sprintf(" tensor %q:", t.Name)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%s:%s file is shorter than its header says (changed since it was opened?)", f.Path, what)
		}
		return fmt.Errorf("%s:%s %w", f.Path, what, err)
	}
	return nil
}

// chunkSize is the scratch buffer ReadFloat64 and WriteFloat64 stream through: large enough
// that pread/pwrite overhead is negligible, small enough to stay in cache while it is converted.
const chunkSize = 1 << 20

var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// ReadFloat64 reads a tensor and widens it exactly into dst, whose length must be the tensor's
// element count. It streams the data through a pooled 1 MiB buffer, so concurrent calls
// allocate nothing proportional to the tensor.
func (f *File) ReadFloat64(name string, dst []float64) error {
	t, err := f.lookup(name)
	if err != nil {
		return err
	}
	if len(dst) != t.NumElements() {
		return fmt.Errorf("%s: tensor %q has %d elements, destination has %d", f.Path, name, t.NumElements(), len(dst))
	}
	return f.decodeAt(t, 0, dst)
}

// ReadFloat64Part reads the elements [elem, elem+len(dst)) of a tensor and widens them
// exactly into dst: a part of what ReadFloat64 reads, for chunked execution. It also reports
// whether every value read is finite (checked while decoding, see num.DecodeFinite).
func (f *File) ReadFloat64Part(name string, elem int, dst []float64) (finite bool, err error) {
	t, err := f.lookup(name)
	if err != nil {
		return false, err
	}
	if elem < 0 || elem+len(dst) > t.NumElements() {
		return false, fmt.Errorf("%s: tensor %q has %d elements, part [%d, %d) is outside", f.Path, name, t.NumElements(), elem, elem+len(dst))
	}
	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	size := t.DType.Size()
	per := chunkSize / size
	off := t.Begin + int64(elem)*int64(size)
	finite = true
	for i := 0; i < len(dst); i += per {
		n := min(per, len(dst)-i)
		buf := (*bp)[:n*size]
		if err := f.readAt(t, buf, off); err != nil {
			return false, err
		}
		finite = num.DecodeFinite(dst[i:i+n], buf, t.DType) && finite
		off += int64(len(buf))
	}
	return finite, nil
}

// decodeAt reads and widens len(dst) elements of t from element elem, through a pooled buffer.
func (f *File) decodeAt(t *TensorInfo, elem int, dst []float64) error {
	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	size := t.DType.Size()
	per := chunkSize / size
	off := t.Begin + int64(elem)*int64(size)
	for i := 0; i < len(dst); i += per {
		n := min(per, len(dst)-i)
		buf := (*bp)[:n*size]
		if err := f.readAt(t, buf, off); err != nil {
			return err
		}
		num.DecodeInto(dst[i:i+n], buf, t.DType)
		off += int64(len(buf))
	}
	return nil
}

// WillNeed tells the kernel that the tensor's bytes will be read soon (posix_fadvise
// WILLNEED), so that it reads them ahead while the caller computes. A hint: errors are ignored.
//
// A tensor whose bytes are cached already needs no advice (fadviseWillNeed probes its last
// byte), but the probe is a system call per input per key: 22.6K of them on the scale-4 TIES
// benchmark, ~5% of its CPU time on a warm page cache. So when a probe finds a tensor cached,
// WillNeed also probes the byte willNeedWindow past its end; when that one is cached too, the
// tensors in between are taken as cached and not probed. Pages are cached in runs (the kernel
// reads ahead, and a file read or written once is cached whole), so a run with two cached ends
// is almost always cached throughout, and where it is not, the read finds out and only the
// hint is lost.
func (f *File) WillNeed(name string) {
	t, ok := f.Tensors[name]
	if !ok || t.Len() <= 0 {
		return
	}
	f.warm.Lock()
	known := t.Begin >= f.warm.lo && t.End <= f.warm.hi
	f.warm.Unlock()
	if known || !fadviseWillNeed(f.f, t.Begin, t.Len()) {
		return
	}
	end := min(t.End+willNeedWindow, f.Size)
	if end > t.End && !cachedAt(f.f, end-1) {
		return
	}
	f.warm.Lock()
	if t.Begin <= f.warm.hi && end >= f.warm.lo {
		f.warm.lo, f.warm.hi = min(f.warm.lo, t.Begin), max(f.warm.hi, end)
	} else {
		f.warm.lo, f.warm.hi = t.Begin, end
	}
	f.warm.Unlock()
}

// willNeedWindow is how far past a cached tensor WillNeed probes the page cache.
const willNeedWindow = 16 << 20

// ReadSpan reads the bytes of the data section at file offsets [off, off+len(buf)) into buf:
// the stored bytes of several tensors side by side (and what lies between them), read with
// one call where reading them one by one would take one each.
func (f *File) ReadSpan(off int64, buf []byte) error {
	if off < f.DataStart() || off+int64(len(buf)) > f.Size {
		return fmt.Errorf("%s: bytes [%d, %d) are outside the data section [%d, %d)", f.Path, off, off+int64(len(buf)), f.DataStart(), f.Size)
	}
	return f.readAt(nil, buf, off)
}
