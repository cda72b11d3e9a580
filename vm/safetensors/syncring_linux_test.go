//go:build linux

package safetensors

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/mechac/mechac/ops"
)

// newTestRing returns a ring for f, skipping the test where the kernel gives none.
func newTestRing(t *testing.T, f *os.File) *syncRing {
	t.Helper()
	r, err := newSyncRing(f)
	if err != nil {
		t.Skipf("no io_uring here (%v): writebacks take the goroutine", err)
	}
	return r
}

// TestSyncRing: writebacks submitted to the ring complete, at most syncRingDepth at a time; a
// refused submission is skipped; a failed writeback is returned once, by the next kick or by
// wait.
func TestSyncRing(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := newTestRing(t, f)
	defer r.close()
	for range 5 {
		if _, err := f.Write(bytes.Repeat([]byte{7}, 1<<16)); err != nil {
			t.Fatal(err)
		}
		if err := r.kick(); err != nil {
			t.Fatal(err)
		}
		if r.inflight > syncRingDepth {
			t.Fatalf("%d writebacks in flight", r.inflight)
		}
	}
	if err := r.wait(); err != nil {
		t.Fatal(err)
	}
	if r.inflight != 0 || r.asked.Load() < 1 {
		t.Fatalf("after wait: %d in flight, %d asked", r.inflight, r.asked.Load())
	}
	// A submission the kernel refuses (here an unknown system call) is skipped, not an error,
	// and the ring works on.
	enter := r.enter
	r.enter = 1 << 20
	if err := r.kick(); err != nil || r.inflight != 0 {
		t.Fatalf("a refused submission: %v, %d in flight", err, r.inflight)
	}
	r.enter = enter
	asked := r.asked.Load()
	if err := r.kick(); err != nil || r.asked.Load() != asked+1 {
		t.Fatalf("after a refused submission: %v, %d asked, want %d", err, r.asked.Load(), asked+1)
	}
	if err := r.wait(); err != nil || r.inflight != 0 {
		t.Fatalf("after a refused submission: %v, %d in flight", err, r.inflight)
	}
	// A writeback that fails (here on a descriptor that is no file).
	r.fileFd = -1
	if err := r.kick(); err != nil {
		t.Fatalf("the submission itself failed: %v", err)
	}
	if err := r.wait(); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("wait after a failed writeback: %v, want EBADF", err)
	}
	if err := r.wait(); err != nil {
		t.Fatalf("the error returned twice: %v", err)
	}
}

// TestWritebackRing: a Writer with the ring writes the same file as without writebacks, and
// a writeback that fails fails Commit and leaves no output.
func TestWritebackRing(t *testing.T) {
	dir := t.TempDir()
	decl := []OutTensor{{"a", ops.F32, []int{1000}}, {"b", ops.F16, []int{3000}}}
	data := map[string][]float64{"a": queueValues(1)[:1000], "b": make([]float64, 3000)}
	for j := range data["b"] {
		data["b"][j] = float64(j%500) / 64
	}
	defer func(b int64, u bool) { writebackBytes, useSyncRing = b, u }(writebackBytes, useSyncRing)
	useSyncRing = true
	write := func(path string, every int64, badFd bool) (*Writer, error) {
		writebackBytes = every
		w, err := Create(path, decl, nil, WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort()
		if w.ring == nil {
			t.Skip("no io_uring here: writebacks take the goroutine")
		}
		if badFd {
			w.ring.fileFd = -1
		}
		for _, d := range decl {
			x := data[d.Name]
			for lo := 0; lo < len(x); lo += 100 {
				hi := min(lo+100, len(x))
				if err := w.WriteFloat64Part(d.Name, lo, x[lo:hi], hi == len(x)); err != nil {
					return w, err
				}
			}
		}
		return w, w.Commit()
	}
	if w, err := write(filepath.Join(dir, "never.safetensors"), 1<<40, false); err != nil || w.ring.asked.Load() != 0 {
		t.Fatalf("no writebacks: %v, %d asked", err, w.ring.asked.Load())
	}
	w, err := write(filepath.Join(dir, "often.safetensors"), 512, false)
	if err != nil {
		t.Fatal(err)
	}
	if w.ring.asked.Load() == 0 {
		t.Error("no writeback asked for after 10 KiB with a threshold of 512 bytes")
	}
	a, _ := os.ReadFile(filepath.Join(dir, "never.safetensors"))
	b, _ := os.ReadFile(filepath.Join(dir, "often.safetensors"))
	if !bytes.Equal(a, b) {
		t.Error("the file differs with writebacks")
	}
	// Failed writebacks: many (a later request reads the error), and one alone (only
	// Commit's wait for it does: a writeback every 6000 bytes over the last 4 x 24000).
	for _, every := range []int64{512, 24000} {
		failed := filepath.Join(dir, fmt.Sprintf("failed%d.safetensors", every))
		w, err := write(failed, every, true)
		if !errors.Is(err, syscall.EBADF) {
			t.Errorf("every %d bytes: a failed writeback: %v, want EBADF", every, err)
		}
		if every == 24000 && w.ring.asked.Load() != 1 {
			t.Errorf("every %d bytes: %d writebacks, want 1", every, w.ring.asked.Load())
		}
		if _, err := os.Stat(failed); err == nil {
			t.Error("the output exists after a failed writeback")
		}
	}
}
