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

// mappedFile writes a file of two float16 tensors, "a" (n elements) then "b" (3 MiB of them,
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
	path := writeTemp(t, "m.safetensors", rawFile(header, data))
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, data, path
}

// MapTensor gives the bytes ReadRaw reads, before and after ReleaseMapped (which unmaps
// whole huge pages around the range and leaves the bytes readable), and at an unaligned start.
func TestMapTensor(t *testing.T) {
	f, data, _ := mappedFile(t, 1000)
	for _, name := range []string{"a", "b"} {
		m, err := f.MapTensor(name)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, f.Tensors[name].Len())
		if err := f.ReadRaw(name, buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m, buf) || cap(m) != len(m) {
			t.Fatalf("%s: the mapping's %d bytes (cap %d) differ from ReadRaw's", name, len(m), cap(m))
		}
	}
	if p := uintptrOf(f.mapped()); p%uintptr(MapPageSize()) != 0 {
		t.Errorf("mapping at %#x, not %d-aligned", p, MapPageSize())
	}
	b := f.Tensors["b"]
	if got := f.ReleaseMapped(b.Begin+1, b.Begin+2); got != MapPageSize() {
		t.Errorf("ReleaseMapped of 1 byte released %d bytes, want one huge page", got)
	}
	if got := f.ReleaseMapped(-5, f.Size+MapPageSize()); got != f.Size {
		t.Errorf("ReleaseMapped past the file's ends released %d bytes, want the file's %d", got, f.Size)
	}
	m, _ := f.MapTensor("b")
	if !bytes.Equal(m, data[2000:]) {
		t.Error("tensor b differs after its pages were released")
	}
	if _, err := f.MapTensor("c"); err == nil {
		t.Error("MapTensor of a missing tensor: no error")
	}
	f.Close()
	if got := f.ReleaseMapped(0, f.Size); got != 0 {
		t.Errorf("ReleaseMapped after Close released %d bytes", got)
	}
	if _, err := f.MapTensor("a"); err == nil {
		t.Error("MapTensor after Close: no error")
	}
}

// A file truncated while mapped faults on a read past its new end; with SetPanicOnFault the
// fault is a panic that recover sees, at an address MappedFault attributes to the file.
func TestMappedFaultTruncated(t *testing.T) {
	f, _, path := mappedFile(t, 1000)
	m, err := f.MapTensor("b")
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
	if !f.MappedFault(addr) {
		t.Errorf("fault at %#x not in the mapping [%#x, +%d)", addr, uintptrOf(f.mapped()), len(f.mapped()))
	}
	var other [1]byte
	if f.MappedFault(uintptrOf(other[:])) {
		t.Error("MappedFault claims an address outside the mapping")
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
