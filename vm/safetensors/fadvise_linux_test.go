//go:build linux && (amd64 || arm64)

package safetensors

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/mechac/mechac/ops"
)

// WillNeed probes a warm file's page cache once per window, not once per tensor: over a
// freshly written (so cached) file of 300 tensors of 64 KiB (19 MiB), in file order, the first
// tensor's probes cover a 16 MiB window past it and the next probes come at its end. A tensor
// behind the cached range is probed again.
func TestWillNeedWindow(t *testing.T) {
	const count, elems = 300, 1 << 15
	var decl []OutTensor
	for i := range count {
		decl = append(decl, OutTensor{Name: fmt.Sprintf("t%03d", i), DType: ops.F16, Shape: []int{elems}})
	}
	path := filepath.Join(t.TempDir(), "w.safetensors")
	w, err := Create(path, decl, nil, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range decl {
		if err := w.WriteFloat64(d.Name, make([]float64, elems)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !cachedAt(f.f, f.Size-1) {
		t.Skip("the page cache does not answer RWF_NOWAIT probes here")
	}
	before := cacheProbes.Load()
	for _, name := range f.Names() {
		f.WillNeed(name)
	}
	if probes := cacheProbes.Load() - before; probes < 2 || probes > 6 {
		t.Errorf("%d probes for %d cached tensors in %d bytes, want 2 windows' worth", probes, count, f.Size)
	}
	if f.warm.lo != f.Tensors["t000"].Begin || f.warm.hi != f.Size {
		t.Errorf("cached range [%d, %d), want [%d, %d)", f.warm.lo, f.warm.hi, f.Tensors["t000"].Begin, f.Size)
	}
	// A range that no longer holds the tensor: it is probed again, and the range moves.
	f.warm.lo, f.warm.hi = f.Tensors["t100"].Begin, f.Size
	before = cacheProbes.Load()
	f.WillNeed("t010")
	if probes := cacheProbes.Load() - before; probes != 2 {
		t.Errorf("a tensor before the cached range: %d probes, want 2", probes)
	}
	if f.warm.lo != f.Tensors["t010"].Begin {
		t.Errorf("cached range [%d, %d) after t010", f.warm.lo, f.warm.hi)
	}
}
