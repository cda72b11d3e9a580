package safetensors

import (
	"strconv"
	"sync"
)

// maxInterned bounds the intern table: an SDXL checkpoint has 2515 tensor names, a LoRA a few
// thousand more; past the bound names are simply not shared (a long-lived process reading
// arbitrary files does not grow without limit).
const maxInterned = 1 << 16

// interned shares tensor names (and dtype strings) and shapes among the headers of a process:
// a merge of 216 models of one architecture opens 216 headers with the same 2515 names and
// shapes, and one copy of each instead of 216 saves ~200 KB a header, in the compiler and in
// the VM alike. Shapes are read-only everywhere (TensorInfo.Shape is never written after
// parsing, and has no spare capacity for an append to write into).
var interned = struct {
	sync.Mutex
	m      map[string]string
	shapes map[string][]int // by the shape's text, "320,4,3,3"
	buf    []byte
}{m: map[string]string{}, shapes: map[string][]int{}}

// internName returns b as a string, the same string for equal bytes while the table has room.
func internName(b []byte) string {
	interned.Lock()
	defer interned.Unlock()
	if s, ok := interned.m[string(b)]; ok { // string(b) in an index does not allocate
		return s
	}
	s := string(b)
	if len(interned.m) < maxInterned {
		interned.m[s] = s
	}
	return s
}

// internShape returns a shape equal to s, the same slice for equal shapes while the table
// has room.
func internShape(s []int) []int {
	interned.Lock()
	defer interned.Unlock()
	b := interned.buf[:0]
	for _, d := range s {
		b = strconv.AppendInt(b, int64(d), 10)
		b = append(b, ',')
	}
	interned.buf = b
	if t, ok := interned.shapes[string(b)]; ok {
		return t
	}
	if len(interned.shapes) < maxInterned {
		interned.shapes[string(b)] = s
	}
	return s
}
