package safetensors

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/num"
)

// A tensor written in parts (in any order, after a partial attempt that is started again)
// gives the file a whole write gives, and ReadFloat64Part reads any range of it back.
func TestWriteAndReadParts(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(9, 10))
	decl := []OutTensor{{"a", ops.F16, []int{7, 5}}, {"b", ops.BF16, []int{3}}, {"c", ops.F32, []int{11}}}
	data := map[string][]float64{}
	for _, d := range decl {
		data[d.Name] = randomValues(r, ops.NumElements(d.Shape))
	}
	write := func(path string, parts bool) {
		w, err := Create(path, decl, nil, WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort()
		for _, d := range decl {
			x := data[d.Name]
			if !parts {
				if err := w.WriteFloat64(d.Name, x); err != nil {
					t.Fatal(err)
				}
				continue
			}
			// A first attempt that stops after one part, then the parts again: 4, 4, ..., rest.
			if err := w.WriteFloat64Part(d.Name, 0, make([]float64, 2), false); err != nil {
				t.Fatal(err)
			}
			for lo := 0; lo < len(x); lo += 4 {
				hi := min(lo+4, len(x))
				if err := w.WriteFloat64Part(d.Name, lo, x[lo:hi], hi == len(x)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.WriteFloat64Part(d.Name, 0, x[:1], true); err == nil {
				t.Errorf("%s: a part after the last one was accepted", d.Name)
			}
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	whole, parts := filepath.Join(dir, "whole.safetensors"), filepath.Join(dir, "parts.safetensors")
	write(whole, false)
	write(parts, true)
	a, _ := os.ReadFile(whole)
	b, _ := os.ReadFile(parts)
	if !bytes.Equal(a, b) {
		t.Fatal("written in parts, the file differs from the whole write")
	}
	f, err := Open(parts)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	full := make([]float64, 35)
	if err := f.ReadFloat64("a", full); err != nil {
		t.Fatal(err)
	}
	got := make([]float64, 9)
	if finite, err := f.ReadFloat64Part("a", 13, got); err != nil || !finite {
		t.Fatalf("ReadFloat64Part: finite %v, %v", finite, err)
	}
	for i, x := range got {
		if x != full[13+i] {
			t.Fatalf("part element %d = %v, whole read %v", i, x, full[13+i])
		}
	}
	if _, err := f.ReadFloat64Part("a", 30, got); err == nil {
		t.Error("a part beyond the tensor's end was read")
	}
	// ReadRawPart: the same range as stored, which widens to the same values.
	raw := make([]byte, 9*2)
	if err := f.ReadRawPart("a", 13, raw); err != nil {
		t.Fatal(err)
	}
	widened := make([]float64, 9)
	num.DecodeInto(widened, raw, ops.F16)
	for i, x := range widened {
		if x != full[13+i] {
			t.Fatalf("raw part element %d = %v, whole read %v", i, x, full[13+i])
		}
	}
	for _, bad := range []struct {
		elem, n int
	}{{30, 18}, {-1, 2}, {0, 3}, {34, 4}} {
		if err := f.ReadRawPart("a", bad.elem, make([]byte, bad.n)); err == nil {
			t.Errorf("ReadRawPart(elem %d, %d bytes) was read", bad.elem, bad.n)
		}
	}
}

// A partly written tensor is not complete: Commit refuses it, Omit drops it.
func TestPartialTensor(t *testing.T) {
	dir := t.TempDir()
	decl := []OutTensor{{"a", ops.F16, []int{4}}}
	w, err := Create(filepath.Join(dir, "o.safetensors"), decl, nil, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFloat64Part("a", 0, []float64{1, 2}, false); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFloat64Part("a", 3, []float64{1, 2}, true); err == nil {
		t.Error("a part past the end was accepted")
	}
	if err := w.Commit(); err == nil {
		t.Error("Commit accepted a partly written tensor")
	}
	w, err = Create(filepath.Join(dir, "p.safetensors"), append(decl, OutTensor{"b", ops.F16, []int{1}}), nil, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFloat64Part("a", 0, []float64{1, 2}, false); err != nil {
		t.Fatal(err)
	}
	w.Omit("a")
	if err := w.WriteFloat64("b", []float64{3}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit after omitting a partly written tensor: %v", err)
	}
}

// The Writer asks for the writeback of its file every writebackBytes written (here from its
// own goroutine), and the file is the same as without; a write after Abort is refused, not a panic.
func TestWriteback(t *testing.T) {
	dir := t.TempDir()
	decl := []OutTensor{{"a", ops.F32, []int{1000}}, {"b", ops.F16, []int{3000}}, {"c", ops.BF16, []int{77}}}
	r := rand.New(rand.NewPCG(1, 2))
	data := map[string][]float64{}
	for _, d := range decl {
		data[d.Name] = randomValues(r, ops.NumElements(d.Shape))
	}
	oldBytes, oldFn, oldRing := writebackBytes, writeback, useSyncRing
	defer func() { writebackBytes, writeback, useSyncRing = oldBytes, oldFn, oldRing }()
	useSyncRing = false // the goroutine's calls, counted and failed here (TestSyncRing: the ring)
	var calls atomic.Int64
	writeback = func(f *os.File) error { calls.Add(1); return oldFn(f) }
	write := func(path string, every int64) {
		writebackBytes = every
		w, err := Create(path, decl, nil, WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort()
		for _, d := range decl {
			x := data[d.Name]
			for lo := 0; lo < len(x); lo += 100 {
				hi := min(lo+100, len(x))
				if err := w.WriteFloat64Part(d.Name, lo, x[lo:hi], hi == len(x)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if every < 1<<20 {
			// The requests are served by the Writer's goroutine: wait for one (Commit
			// stops the goroutine, dropping a request not served yet).
			for deadline := time.Now().Add(10 * time.Second); calls.Load() == 0 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "never.safetensors"), 1<<40)
	if n := calls.Load(); n != 0 {
		t.Fatalf("%d writebacks asked for below the threshold", n)
	}
	write(filepath.Join(dir, "often.safetensors"), 512)
	if n := calls.Load(); n == 0 {
		t.Error("no writeback asked for after 10 KiB with a threshold of 512 bytes")
	}
	a, _ := os.ReadFile(filepath.Join(dir, "never.safetensors"))
	b, _ := os.ReadFile(filepath.Join(dir, "often.safetensors"))
	if !bytes.Equal(a, b) {
		t.Error("the file differs with writebacks")
	}
	// A failed background sync fails the run: the kernel reports a write-back error once.
	failed := filepath.Join(dir, "failed.safetensors")
	calls.Store(0)
	// The failure comes a while after the call is seen: Commit must still get it (it waits
	// for the writeback in flight before it reads the error).
	writeback = func(*os.File) error { calls.Add(1); time.Sleep(50 * time.Millisecond); return syscall.EIO }
	writebackBytes = 512
	wf, err := Create(failed, decl, nil, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range decl {
		if err := wf.WriteFloat64(d.Name, data[d.Name]); err != nil {
			break // the error may show at a later write already
		}
	}
	for deadline := time.Now().Add(10 * time.Second); calls.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if err := wf.Commit(); err == nil || !errors.Is(err, syscall.EIO) {
		t.Errorf("Commit after a failed background sync: %v, want EIO", err)
	}
	if _, err := os.Stat(failed); err == nil {
		t.Error("the output exists after a failed background sync")
	}
	w, err := Create(filepath.Join(dir, "aborted.safetensors"), decl, nil, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if err := w.WriteFloat64("c", data["c"]); err == nil {
		t.Error("a write after Abort was accepted")
	}
}

// Writebacks come every writebackBytes, and four times as often over the file's last
// 4 x writebackBytes, so that Commit's fsync has less left to wait for.
func TestWritebackEvery(t *testing.T) {
	defer func(b int64) { writebackBytes = b }(writebackBytes)
	writebackBytes = 32 << 20
	for _, c := range []struct{ left, want int64 }{
		{1 << 40, 32 << 20}, {128 << 20, 32 << 20}, {128<<20 - 1, 8 << 20}, {1, 8 << 20}, {0, 8 << 20},
	} {
		if got := writebackEvery(c.left); got != c.want {
			t.Errorf("%d bytes left: a writeback every %d bytes, want %d", c.left, got, c.want)
		}
	}
	writebackBytes = 2
	if got := writebackEvery(1); got != 1 {
		t.Errorf("writebackBytes 2, 1 byte left: every %d bytes, want 1", got)
	}
}
