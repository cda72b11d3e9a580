//go:build linux && (amd64 || arm64)

package safetensors

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// readCached copies exactly the cached prefix of a range, in pieces of cachedReadMax, and
// readAt completes what it leaves with the blocking read: the same bytes whatever the page
// cache holds (all of the file, none of it, or its first part).
func TestReadCached(t *testing.T) {
	defer func(m int) { cachedReadMax = m }(cachedReadMax)
	cachedReadMax = 64 << 10 // a few pieces per read

	const size = 3<<20 + 12345
	want := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	path := filepath.Join(t.TempDir(), "r.bin")
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !cachedAt(f, size-1) {
		t.Skip("the page cache does not answer RWF_NOWAIT reads here")
	}
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	file := &File{Header: &Header{Path: path}, f: f, conn: rc}
	ti := &TensorInfo{Name: "x"}
	check := func(what string, off, n int, wantCached func(int) bool) {
		t.Helper()
		buf := make([]byte, n)
		done := readCached(rc, buf, int64(off))
		if !wantCached(done) {
			t.Errorf("%s: readCached copied %d of %d bytes", what, done, n)
		}
		if !bytes.Equal(buf[:done], want[off:off+done]) {
			t.Errorf("%s: readCached's %d bytes differ from the file's", what, done)
		}
		clear(buf)
		if err := file.readAt(ti, buf, int64(off)); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !bytes.Equal(buf, want[off:off+n]) {
			t.Errorf("%s: readAt's bytes differ from the file's", what)
		}
	}
	all := func(n int) func(int) bool { return func(done int) bool { return done == n } }
	check("cached, whole file", 0, size, all(size))
	check("cached, unaligned range", 4097, 2<<20+3, all(2<<20+3))

	// Past the end: readCached stops at it, readAt reports it.
	buf := make([]byte, 1000)
	if done := readCached(rc, buf, size-10); done != 10 {
		t.Errorf("a range past the end: readCached copied %d bytes, want the 10 there", done)
	}
	if err := file.readAt(ti, buf, size-10); err == nil {
		t.Error("a range past the end: readAt reports no error")
	}

	// Out of the page cache (a clean file's pages go with DONTNEED, unless the file system
	// keeps them, as tmpfs does).
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	// (No probe first: a RWF_NOWAIT read that misses starts the kernel's read-ahead.)
	if readCached(rc, make([]byte, size), 0) == size {
		t.Skip("the file system keeps the file in memory")
	}
	// (Done waiting for the read-ahead that probe started, whose pages DONTNEED would keep.)
	if _, err := f.ReadAt(make([]byte, size), 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	check("not cached", 0, size, func(done int) bool { return done == 0 })

	// Only the first MiB cached (no read-ahead): readCached copies at least that and stops
	// before the end.
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadAt(make([]byte, 1<<20), 0); err != nil {
		t.Fatal(err)
	}
	check("first MiB cached", 0, size, func(done int) bool { return done >= 1<<20 && done < size })
}
