package safetensors

import (
	"reflect"
	"testing"
	"unsafe"
)

// headerSeeds are headers both paths must agree on: the fast path's subset and the cases it
// leaves to parseSlow.
var headerSeeds = []string{
	`{"__metadata__":{"mecha_recipe":"a\"b\\nc","x":"é"},"a":{"dtype":"F16","shape":[2,1],"data_offsets":[0,4]},"b":{"dtype":"I64","shape":[],"data_offsets":[4,12]}}    `,
	`{ "b" : { "data_offsets" : [ 4 , 12 ] , "shape" : [ ] , "dtype" : "I64" } ,` + "\n" + `"a":{"shape":[2,1],"dtype":"F16","data_offsets":[0,4]}}`,
	`{"a":{"dtype":"F16","shape":[2,1],"data_offsets":[0,4],"extra":1},"b":{"dtype":"I64","shape":[],"data_offsets":[4,12]}}`,
	`{"a\u0041":{"dtype":"F16","shape":[2,1],"data_offsets":[0,4]},"b":{"dtype":"I64","shape":[],"data_offsets":[4,12]}}`,
	`{"a":{"dtype":"F16","shape":[2.0,1],"data_offsets":[0,4]}}`,
	`{"a":{"dtype":"F16","shape":[02,1],"data_offsets":[0,4]}}`,
	`{"a":{"dtype":"F16","shape":[-2,1],"data_offsets":[0,4]}}`,
	`{"a":{"dtype":"F16","shape":[2,1],"data_offsets":[0,4]},"a":{"dtype":"F16","shape":[2,1],"data_offsets":[4,8]}}`,
	`{"a":{"dtype":"half","shape":[2,1],"data_offsets":[0,4]}}`,
	`{"a":{"dtype":"F16","shape":[2,1],"data_offsets":[0,4]},}`,
	`{"__metadata__":null,"a":{"dtype":"F16","shape":[2,1],"data_offsets":[0,4]}}`,
	`{"__metadata__":{"k":1}}`,
	`{}`,
	` {}`,
	// offsets in the header's order but names not; offsets against the header's order; empty
	// tensors sharing an offset; an overlap (the fast path must leave it to parseSlow's error)
	`{"b":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"a":{"dtype":"F16","shape":[2],"data_offsets":[4,8]}}`,
	`{"a":{"dtype":"F16","shape":[2],"data_offsets":[4,8]},"b":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`,
	`{"z":{"dtype":"F16","shape":[0],"data_offsets":[4,4]},"y":{"dtype":"F16","shape":[0],"data_offsets":[4,4]},"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`,
	`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"F16","shape":[2],"data_offsets":[2,6]}}`,
	`{"a":{"dtype":"F16","shape":[2,1],"data_offsets":[0,4]}} x`,
}

// compareParsers parses raw (a header of a file of size bytes) with both paths: when the fast
// path accepts it, the slow path must accept it with the same tensors and metadata.
func compareParsers(t *testing.T, raw []byte, size int64) {
	fast := &Header{Size: size, HeaderLen: int64(len(raw))}
	if !fast.parseFast(raw) {
		return
	}
	slow := &Header{Size: size, HeaderLen: int64(len(raw))}
	if err := slow.parseSlow(raw); err != nil {
		t.Fatalf("fast path accepted %q, slow path: %v", raw, err)
	}
	if !reflect.DeepEqual(fast.Tensors, slow.Tensors) || !reflect.DeepEqual(fast.Metadata, slow.Metadata) ||
		!reflect.DeepEqual(fast.names, slow.names) {
		t.Fatalf("paths differ on %q:\nfast %+v %v\nslow %+v %v", raw, fast.Tensors, fast.Metadata, slow.Tensors, slow.Metadata)
	}
}

func TestHeaderFastAgrees(t *testing.T) {
	fastOK := 0
	for _, h := range headerSeeds {
		size := int64(8 + len(h) + 12)
		compareParsers(t, []byte(h), size)
		if (&Header{Size: size, HeaderLen: int64(len(h))}).parseFast([]byte(h)) {
			fastOK++
		}
	}
	// The writers' forms (the first two seeds) take the fast path; the test is not vacuous.
	if fastOK < 2 {
		t.Errorf("the fast path accepted %d seeds, want at least the 2 plain ones", fastOK)
	}
}

// TestHeaderFastOverlap: overlapping tensors are rejected by the fast path too (and then by
// parseSlow with its message), whatever order the header lists them in.
func TestHeaderFastOverlap(t *testing.T) {
	for _, raw := range []string{
		`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"F16","shape":[2],"data_offsets":[2,6]}}`,
		`{"b":{"dtype":"F16","shape":[2],"data_offsets":[2,6]},"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`,
	} {
		h := &Header{Size: int64(8 + len(raw) + 12), HeaderLen: int64(len(raw))}
		if h.parseFast([]byte(raw)) {
			t.Errorf("fast path accepted overlapping tensors in %s", raw)
		}
		if err := h.parseSlow([]byte(raw)); err == nil {
			t.Errorf("parseSlow accepted overlapping tensors in %s", raw)
		}
	}
}

// FuzzHeaderFast: on any header the fast path accepts, both paths give the same result.
func FuzzHeaderFast(f *testing.F) {
	for _, h := range headerSeeds {
		f.Add([]byte(h), uint8(12))
	}
	f.Fuzz(func(t *testing.T, raw []byte, data uint8) {
		compareParsers(t, raw, int64(8+len(raw)+int(data)))
	})
}

// TestHeaderNamesShared: two headers with the same tensor names and shapes share them (what
// keeps 216 open SDXL headers from holding 216 copies of 2515 names and shapes).
func TestHeaderNamesShared(t *testing.T) {
	raw := []byte(`{"model.a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`)
	var got []string
	var shapes [][]int
	for range 2 {
		h := &Header{Size: int64(8 + len(raw) + 4), HeaderLen: int64(len(raw))}
		if !h.parseFast(raw) {
			t.Fatal("fast path rejected a plain header")
		}
		got = append(got, h.Tensors["model.a"].Name)
		shapes = append(shapes, h.Tensors["model.a"].Shape)
	}
	if unsafe.StringData(got[0]) != unsafe.StringData(got[1]) {
		t.Error("the two headers hold separate copies of the name")
	}
	if &shapes[0][0] != &shapes[1][0] {
		t.Error("the two headers hold separate copies of the shape")
	}
}
