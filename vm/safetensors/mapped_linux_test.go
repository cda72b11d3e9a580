//go:build linux

package safetensors

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"testing"
)

// mappedFile writes a file of two float16 tensors, "a" (n elements) then "b" (3 Mi of them,
// so that it spans several huge pages), and opens it.
func mappedFile(t *testing.T, n int) (*File, []byte, string) {
	t.Helper()
	const nb = 3 << 19
	data := make([]byte, 2*(n+nb))
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	header := fmt.Sprintf(`{"a":{"dtype":"F16","shape":[%d],"data_offsets":[0,%d]},"b":{"dtype":"F16","shape":[%d],"data_offsets":[%d,%d]}}`,
		n, 2*n, nb, 2*n, len(data))
	path := writeTemp(t, fmt.Sprintf("m%d.safetensors", n), rawFile(header, data))
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, data, path
}

// Mappings.Tensor gives the bytes ReadRaw reads, for two files in one reservation, each at a
// huge-page boundary; after Release (which unmaps every page) the bytes are the same; after
// Close nothing is mapped.
func TestMappings(t *testing.T) {
	f1, _, _ := mappedFile(t, 1000)
	f2, data2, _ := mappedFile(t, 5)
	ms := NewMappings([]*File{f1, f2})
	defer ms.Close()
	if ms.Release() {
		t.Error("Release before any mapping reported pages")
	}
	for i, f := range []*File{f1, f2} {
		for _, name := range []string{"a", "b"} {
			m, err := ms.Tensor(i, name)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, f.Tensors[name].Len())
			if err := f.ReadRaw(name, buf); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m, buf) || cap(m) != len(m) {
				t.Fatalf("file %d %s: the mapping's %d bytes (cap %d) differ from ReadRaw's", i, name, len(m), cap(m))
			}
			if p := uintptrOf(m) - uintptr(f.Tensors[name].Begin); p%uintptr(MapPageSize()) != 0 {
				t.Errorf("file %d mapped at %#x, not %d-aligned", i, p, MapPageSize())
			}
		}
	}
	if !ms.Release() {
		t.Error("Release reported nothing released")
	}
	m, _ := ms.Tensor(1, "b")
	if !bytes.Equal(m, data2[10:]) {
		t.Error("tensor b differs after the pages were released")
	}
	if _, err := ms.Tensor(0, "c"); err == nil {
		t.Error("Tensor of a missing tensor: no error")
	}
	ms.Close()
	if ms.Release() {
		t.Error("Release after Close reported pages")
	}
}

// A file truncated while mapped faults on a read past its new end; with SetPanicOnFault the
// fault is a panic that recover sees, at an address Fault attributes to the file.
func TestMappingsFaultTruncated(t *testing.T) {
	f1, _, _ := mappedFile(t, 1000)
	f2, _, path := mappedFile(t, 1000)
	ms := NewMappings([]*File{f1, f2})
	defer ms.Close()
	m, err := ms.Tensor(1, "b")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 4096); err != nil {
		t.Fatal(err)
	}
	addr, ok := readFaulting(m[len(m)-1:])
	if !ok {
		t.Fatal("reading past the truncated end did not fault")
	}
	if got, ok := ms.Fault(addr); !ok || got != path {
		t.Errorf("fault at %#x attributed to %q, %v; want %s", addr, got, ok, path)
	}
	var other [1]byte
	if got, ok := ms.Fault(uintptrOf(other[:])); ok {
		t.Errorf("Fault claims an address outside the mappings for %s", got)
	}
}

// readFaulting reads b[0] with faults turned into panics and returns the fault's address.
func readFaulting(b []byte) (addr uintptr, faulted bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(interface{ Addr() uintptr })
			if !ok {
				panic(r)
			}
			addr, faulted = e.Addr(), true
		}
	}()
	sink = b[0]
	return 0, false
}

var sink byte
