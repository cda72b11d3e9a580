package safetensors

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mechac/mechac/ops"
)

// gatedFile holds the first write after arm until release, and fails the write at failOff.
type gatedFile struct {
	*os.File
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	hold    chan struct{}
	failOff int64 // 0: none
}

func newGatedFile() *gatedFile {
	return &gatedFile{entered: make(chan struct{}), hold: make(chan struct{})}
}

func (g *gatedFile) arm() {
	g.mu.Lock()
	g.armed = true
	g.mu.Unlock()
}

func (g *gatedFile) WriteAt(p []byte, off int64) (int, error) {
	g.mu.Lock()
	stop, fail := g.armed, g.failOff != 0 && off == g.failOff
	g.armed = false
	g.mu.Unlock()
	if stop {
		close(g.entered)
		<-g.hold
	}
	if fail {
		return 0, &os.PathError{Op: "write", Path: g.Name(), Err: syscall.EIO}
	}
	return g.File.WriteAt(p, off)
}

// queueDecl is tensor a and writeQueueMax+2 others of 1024 float32 values each.
func queueDecl() []OutTensor {
	decl := []OutTensor{{"a", ops.F32, []int{1024}}}
	for i := range writeQueueMax + 2 {
		decl = append(decl, OutTensor{fmt.Sprintf("t%d", i), ops.F32, []int{1024}})
	}
	return decl
}

func queueValues(i int) []float64 {
	v := make([]float64, 1024)
	for j := range v {
		v[j] = float64(i*1024 + j)
	}
	return v
}

// returnsWithin reports whether f returns within d, leaving it running if not; its error
// goes to the returned channel.
func returnsWithin(f func() error, d time.Duration) (bool, chan error) {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	select {
	case err := <-ch:
		ch <- err
		return true, ch
	case <-time.After(d):
		return false, ch
	}
}

// TestWriteQueue: while one caller writes, others leave their encoded writes in the queue and
// return at once, up to writeQueueMax buffers; one more waits, as does a WriteRaw (whose
// bytes are the caller's) with the queue empty; once the writer goes on, every write lands where it belongs.
func TestWriteQueue(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "q.safetensors")
	decl := queueDecl()
	decl = append(decl, OutTensor{"raw", ops.U8, []int{4096}})
	g := newGatedFile()
	w, err := Create(out, decl, nil, WriterOptions{WrapFile: func(f *os.File) TempFile { g.File = f; return g }})
	if err != nil {
		t.Fatal(err)
	}
	g.arm()
	errA := make(chan error, 1)
	go func() { errA <- w.WriteFloat64("a", queueValues(0)) }()
	<-g.entered // a's write is under way, and held
	raw := make([]byte, 4096)
	for j := range raw {
		raw[j] = byte(j * 7)
	}
	ok, chRaw := returnsWithin(func() error { return w.WriteRaw("raw", raw) }, 100*time.Millisecond)
	if ok {
		t.Error("WriteRaw returned before its bytes were written")
	}
	for i := range writeQueueMax {
		ok, ch := returnsWithin(func() error { return w.WriteFloat64(fmt.Sprintf("t%d", i), queueValues(i+1)) }, 10*time.Second)
		if !ok {
			t.Fatalf("write %d of %d waited for the writer", i+1, writeQueueMax)
		}
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	last := fmt.Sprintf("t%d", writeQueueMax)
	ok, chLast := returnsWithin(func() error { return w.WriteFloat64(last, queueValues(writeQueueMax+1)) }, 100*time.Millisecond)
	if ok {
		t.Errorf("write %d queued past writeQueueMax", writeQueueMax+1)
	}
	close(g.hold)
	for _, ch := range []chan error{errA, chLast, chRaw} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteFloat64(fmt.Sprintf("t%d", writeQueueMax+1), queueValues(writeQueueMax+2)); err != nil {
		t.Fatal(err)
	}
	f := commitOpen(t, w, out)
	for i, d := range decl[:len(decl)-1] {
		got := make([]float64, 1024)
		if err := f.ReadFloat64(d.Name, got); err != nil {
			t.Fatal(err)
		}
		for j, x := range got {
			if want := queueValues(i)[j]; x != want {
				t.Fatalf("%s[%d] = %v, want %v", d.Name, j, x, want)
			}
		}
	}
	gotRaw := make([]byte, len(raw))
	if err := f.ReadRaw("raw", gotRaw); err != nil {
		t.Fatal(err)
	}
	if string(gotRaw) != string(raw) {
		t.Error("raw tensor differs")
	}
}

// TestWriteQueueError: a queued write that fails fails the writer's call, every later write
// and Commit, although its own caller had returned.
func TestWriteQueueError(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "e.safetensors")
	decl := queueDecl()
	g := newGatedFile()
	w, err := Create(out, decl, nil, WriterOptions{WrapFile: func(f *os.File) TempFile { g.File = f; return g }})
	if err != nil {
		t.Fatal(err)
	}
	// t0's data start: the header's length plus its offset (the writer's layout).
	g.failOff = 8 + w.hdrLen + w.byName["t0"].begin
	g.arm()
	errA := make(chan error, 1)
	go func() { errA <- w.WriteFloat64("a", queueValues(0)) }()
	<-g.entered
	ok, ch := returnsWithin(func() error { return w.WriteFloat64("t0", queueValues(1)) }, 10*time.Second)
	if !ok {
		t.Fatal("the write waited for the writer")
	}
	if err := <-ch; err != nil {
		t.Fatalf("queued write: %v", err)
	}
	close(g.hold)
	if err := <-errA; !errors.Is(err, syscall.EIO) {
		t.Errorf("writer's call: %v, want the queued write's EIO", err)
	}
	if err := w.WriteFloat64("t1", queueValues(2)); !errors.Is(err, syscall.EIO) {
		t.Errorf("later write: %v", err)
	}
	if err := w.Commit(); !errors.Is(err, syscall.EIO) {
		t.Errorf("Commit: %v", err)
	}
	w.Abort()
	if got := listDir(t, dir); len(got) != 0 {
		t.Errorf("folder holds %v after a failed write", got)
	}
}
