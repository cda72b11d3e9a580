package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/num"
)

var allDTypes = []ops.DType{ops.F64, ops.F32, ops.F16, ops.BF16, ops.I64, ops.I32, ops.I16, ops.I8, ops.U8, ops.BOOL}

func randomValues(r *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		switch i % 5 {
		case 0:
			v[i] = float64(r.IntN(200) - 100)
		case 1:
			v[i] = r.NormFloat64() * 1e4
		default:
			v[i] = r.NormFloat64()
		}
	}
	if n > 3 {
		v[0], v[1], v[2] = math.Inf(1), math.Copysign(0, -1), 1+0x1p-11+0x1p-40
	}
	return v
}

// commitOpen commits w and opens its output path, closed at the test's end.
func commitOpen(t *testing.T, w *Writer, path string) *File {
	t.Helper()
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// listDir returns the names in dir, to check that no temporary file is left behind.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestRoundTripAllDTypes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, via := range []bool{false, true} {
		dir := t.TempDir()
		out := filepath.Join(dir, "out.safetensors")
		var decl []OutTensor
		vals := map[string][]float64{}
		for i, d := range allDTypes {
			shape := []int{3, 1 + i, 2}
			name := fmt.Sprintf("t.%s", d)
			decl = append(decl, OutTensor{Name: name, DType: d, Shape: shape})
			vals[name] = randomValues(r, ops.NumElements(shape))
		}
		decl = append(decl, OutTensor{Name: "scalar", DType: ops.F32, Shape: []int{}}, OutTensor{Name: "empty", DType: ops.F16, Shape: []int{0}})
		vals["scalar"], vals["empty"] = []float64{0.3}, []float64{}
		// Whole pages (4 KiB and 12 KiB), whose data go first.
		decl = append(decl, OutTensor{Name: "page.b", DType: ops.F16, Shape: []int{2048}}, OutTensor{Name: "page.a", DType: ops.F32, Shape: []int{3, 1024}})
		vals["page.b"], vals["page.a"] = randomValues(r, 2048), randomValues(r, 3*1024)
		meta := map[string]string{"mecha_recipe": "merge <a> & \"b\"", "mechac_numerics": "exact"}
		w, err := Create(out, decl, meta, WriterOptions{ViaF32: via})
		if err != nil {
			t.Fatal(err)
		}
		for name, v := range vals {
			if err := w.WriteFloat64(name, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		w.Abort() // no-op after Commit
		if got := listDir(t, dir); len(got) != 1 || got[0] != "out.safetensors" {
			t.Fatalf("folder holds %v", got)
		}
		f, err := Open(out)
		if err != nil {
			t.Fatal(err)
		}
		if l := f.Lint(); l != nil {
			t.Errorf("Lint: %v", l)
		}
		if f.Metadata["mecha_recipe"] != meta["mecha_recipe"] || len(f.Metadata) != 2 {
			t.Errorf("metadata %q", f.Metadata)
		}
		if f.HeaderLen%8 != 0 {
			t.Errorf("header length %d not a multiple of 8", f.HeaderLen)
		}
		for _, d := range decl {
			ti := f.Tensors[d.Name]
			if ti == nil || ti.DType != d.DType || !ops.SameShape(ti.Shape, d.Shape) {
				t.Fatalf("%s: %+v", d.Name, ti)
			}
			got := make([]float64, ti.NumElements())
			if err := f.ReadFloat64(d.Name, got); err != nil {
				t.Fatal(err)
			}
			for i, x := range vals[d.Name] {
				if want := num.Narrow(x, d.DType, via); math.Float64bits(got[i]) != math.Float64bits(want) {
					t.Fatalf("via=%v %s[%d]: %v stored as %v, want %v", via, d.Name, i, x, got[i], want)
				}
			}
		}
		// The data: whole pages first, then the widest dtype first, by name in each group;
		// every tensor aligned to its element size in the file, whole pages to a page.
		var want []string
		for _, pages := range []bool{true, false} {
			for _, size := range []int{8, 4, 2, 1} {
				var group []string
				for _, d := range decl {
					n := ops.NumElements(d.Shape) * d.DType.Size()
					if (n%4096 == 0 && n > 0) == pages && (pages || d.DType.Size() == size) && n > 0 {
						group = append(group, d.Name)
					}
				}
				slices.Sort(group)
				want = append(want, group...)
				if pages {
					break
				}
			}
		}
		var got []string
		for _, name := range f.Names() { // by offset
			ti := f.Tensors[name]
			if ti.Len() == 0 {
				continue
			}
			got = append(got, name)
			start := f.DataStart() + ti.Begin
			if start%int64(ti.DType.Size()) != 0 || (ti.Len()%4096 == 0 && start%4096 != 0) {
				t.Errorf("%s (%v, %d bytes) starts at byte %d of the file", name, ti.DType, ti.Len(), start)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("data order %v, want %v", got, want)
		}
		f.Close()
		st, _ := os.Stat(out)
		if st.Mode().Perm() != 0o644 {
			t.Errorf("mode %v", st.Mode())
		}
	}
}

func TestWriterDeterministicAndMetadataFirst(t *testing.T) {
	write := func(path string) []byte {
		decl := []OutTensor{{"z", ops.F16, []int{2}}, {"a", ops.BF16, []int{1, 3}}, {"m", ops.I64, []int{1}}}
		w, err := Create(path, decl, map[string]string{"mechac_plan_hash": "abc", "mecha_recipe": "r"}, WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"m", "z", "a"} { // order of writes does not matter
			if err := w.WriteFloat64(n, make([]float64, map[string]int{"z": 2, "a": 3, "m": 1}[n])); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		return b
	}
	dir := t.TempDir()
	a, b := write(filepath.Join(dir, "a.safetensors")), write(filepath.Join(dir, "b.safetensors"))
	if !bytes.Equal(a, b) {
		t.Fatal("same inputs, different bytes")
	}
	// Listed by name; the 8-byte dtype's data first, then the 2-byte ones by name.
	want := `{"__metadata__":{"mecha_recipe":"r","mechac_plan_hash":"abc"},"a":{"dtype":"BF16","shape":[1,3],"data_offsets":[8,14]},` +
		`"m":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"z":{"dtype":"F16","shape":[2],"data_offsets":[14,18]}}`
	hdr := string(a[8 : 8+len(want)])
	if hdr != want {
		t.Errorf("header\n%s\nwant\n%s", hdr, want)
	}
	if n := int(binary.LittleEndian.Uint64(a)); (8+n)%4096 != 0 || strings.TrimRight(string(a[8:8+n]), " ") != want {
		t.Errorf("padding: length %d, %q", n, a[8:8+n])
	}
}

func TestConcurrentWrites(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "c.safetensors")
	const n = 200
	var decl []OutTensor
	for i := range n {
		decl = append(decl, OutTensor{Name: fmt.Sprintf("k%03d", i), DType: ops.F16, Shape: []int{i%7 + 1, 1000 + i}})
	}
	w, err := Create(out, decl, nil, WriterOptions{ViaF32: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, d := range decl {
		wg.Go(func() {
			v := make([]float64, ops.NumElements(d.Shape))
			for j := range v {
				v[j] = float64(i) + float64(j%100)/128
			}
			errs <- w.WriteFloat64(d.Name, v)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteFloat64("k000", make([]float64, 1000)); err == nil {
		t.Error("second write of a tensor accepted")
	}
	f := commitOpen(t, w, out)
	// Read back concurrently too.
	for i, d := range decl {
		wg.Go(func() {
			v := make([]float64, ops.NumElements(d.Shape))
			if err := f.ReadFloat64(d.Name, v); err != nil {
				t.Error(err)
				return
			}
			for j, x := range v {
				if want := float64(i) + float64(j%100)/128; x != num.Narrow(want, ops.F16, true) {
					t.Errorf("%s[%d] = %v, want %v", d.Name, j, x, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestOmitCompacts(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(2, 2))
	decl := []OutTensor{
		{"a", ops.F16, []int{300, 5}}, {"b", ops.F32, []int{7}}, {"c", ops.F16, []int{1 << 19}},
		{"d.with.a.long.name.that.makes.the.header.longer", ops.BF16, []int{3, 3}}, {"e", ops.F64, []int{1}},
		{"bb", ops.F16, []int{2048}}, // a page, omitted: c moves onto it, and a onto c's end
	}
	vals := map[string][]float64{}
	for _, d := range decl {
		vals[d.Name] = randomValues(r, ops.NumElements(d.Shape))
	}
	meta := map[string]string{"mecha_recipe": "x"}
	write := func(path string, omit map[string]bool) {
		var ds []OutTensor
		for _, d := range decl {
			if !omit[d.Name] {
				ds = append(ds, d)
			}
		}
		w, err := Create(path, ds, meta, WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if err := w.WriteFloat64(d.Name, vals[d.Name]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	omit := map[string]bool{"b": true, "bb": true, "d.with.a.long.name.that.makes.the.header.longer": true}
	compacted := filepath.Join(dir, "compacted.safetensors")
	// Declare all, omit two: must equal a file declared without them.
	{
		w, err := Create(compacted, decl, meta, WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range decl {
			if omit[d.Name] {
				w.Omit(d.Name)
			} else if err := w.WriteFloat64(d.Name, vals[d.Name]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	direct := filepath.Join(dir, "direct.safetensors")
	write(direct, omit)
	a, _ := os.ReadFile(compacted)
	b, _ := os.ReadFile(direct)
	if !bytes.Equal(a, b) {
		t.Fatalf("compacted file (%d bytes) differs from one written without the omitted keys (%d bytes)", len(a), len(b))
	}
	f, err := Open(compacted)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(f.Tensors) != 3 || f.Lint() != nil {
		t.Errorf("tensors %v lint %v", f.Names(), f.Lint())
	}
	if got := listDir(t, dir); len(got) != 2 {
		t.Errorf("folder holds %v", got)
	}
}

func TestCommitRefusesUnwritten(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(filepath.Join(dir, "o.safetensors"), []OutTensor{{"a", ops.F16, []int{1}}, {"b", ops.F16, []int{1}}}, nil, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFloat64("a", []float64{1}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFloat64("nope", []float64{1}); err == nil || !strings.Contains(err.Error(), `tensor "nope" was not declared`) {
		t.Errorf("undeclared: %v", err)
	}
	err = w.Commit()
	if err == nil || !strings.Contains(err.Error(), `tensor "b" was never written`) {
		t.Errorf("Commit: %v", err)
	}
	if got := listDir(t, dir); len(got) != 0 {
		t.Errorf("folder holds %v", got)
	}
}

func TestCreateRefusals(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.safetensors")
	if err := os.WriteFile(in, rawFile("{}      ", nil), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.safetensors")
	if err := os.Symlink(in, link); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	decl := []OutTensor{{"a", ops.F16, []int{1}}}
	cases := []struct {
		out    string
		inputs []string
		want   string
	}{
		{in, []string{in}, "is also an input"},
		{"in.safetensors", []string{in}, "is also an input"},                           // relative vs absolute
		{filepath.Join(sub, "..", "in.safetensors"), []string{in}, "is also an input"}, // unclean
		{link, []string{in}, "is also an input"},                                       // same file through a link
		{in, []string{link}, "is also an input"},
		{filepath.Join(dir, "missing", "out.safetensors"), nil, "folder " + filepath.Join(dir, "missing") + " does not exist"},
		{filepath.Join(in, "out.safetensors"), nil, "is not a folder"},
		{sub, nil, "is a folder"},
	}
	for _, c := range cases {
		_, err := Create(c.out, decl, nil, WriterOptions{Inputs: c.inputs})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Create(%s, inputs %v): %v, want %q", c.out, c.inputs, err, c.want)
		}
	}
	bad := [][]OutTensor{
		{{"a", ops.F16, []int{1}}, {"a", ops.F16, []int{1}}},
		{{"", ops.F16, []int{1}}},
		{{"__metadata__", ops.F16, []int{1}}},
		{{"a", ops.F16, []int{-1}}},
		{{"a", ops.F16, []int{1 << 40, 1 << 40}}},
		{{"a", ops.DType(99), []int{1}}},
	}
	for _, d := range bad {
		if _, err := Create(filepath.Join(dir, "x.safetensors"), d, nil, WriterOptions{}); err == nil {
			t.Errorf("Create accepted %+v", d)
		}
	}
	if got := listDir(t, dir); len(got) != 3 {
		t.Errorf("folder holds %v", got)
	}
}

// fullDisk fails writes past a byte budget with ENOSPC, as a full file system does.
type fullDisk struct {
	*os.File
	budget   int64
	written  int64
	mu       sync.Mutex
	truncErr bool
}

func (d *fullDisk) WriteAt(p []byte, off int64) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.written+int64(len(p)) > d.budget {
		return 0, &os.PathError{Op: "write", Path: d.Name(), Err: syscall.ENOSPC}
	}
	d.written += int64(len(p))
	return d.File.WriteAt(p, off)
}

func (d *fullDisk) Truncate(size int64) error {
	if d.truncErr {
		return &os.PathError{Op: "truncate", Path: d.Name(), Err: syscall.ENOSPC}
	}
	return d.File.Truncate(size)
}

func TestDiskFull(t *testing.T) {
	decl := []OutTensor{{"a", ops.F32, []int{1000}}, {"b", ops.F32, []int{1 << 20}}}
	for _, c := range []struct {
		name     string
		budget   int64
		truncErr bool
	}{
		{"at preallocation", 1 << 30, true},
		{"at header", 10, false},
		{"at data", 8000, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "OUT.safetensors")
			opts := WriterOptions{WrapFile: func(f *os.File) TempFile {
				return &fullDisk{File: f, budget: c.budget, truncErr: c.truncErr}
			}}
			w, err := Create(out, decl, nil, opts)
			if err == nil {
				err = w.WriteFloat64("a", make([]float64, 1000))
				if err == nil {
					err = w.WriteFloat64("b", make([]float64, 1<<20))
				}
				if err == nil {
					t.Fatal("no error from a full disk")
				}
				if cerr := w.Commit(); cerr == nil || !errors.Is(cerr, syscall.ENOSPC) {
					t.Errorf("Commit after a failed write: %v", cerr)
				}
				w.Abort()
			}
			if !errors.Is(err, syscall.ENOSPC) || err.Error() != "writing "+out+": disk full (no space left on device)" {
				t.Errorf("error %q", err)
			}
			if got := listDir(t, dir); len(got) != 0 {
				t.Errorf("folder holds %v after a failed write", got)
			}
		})
	}
}

func TestAbortRemovesTemp(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(filepath.Join(dir, "o.safetensors"), []OutTensor{{"a", ops.F16, []int{4}}}, nil, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// An unnamed temporary file (O_TMPFILE, Linux) shows nothing; else a hidden named one.
	if got := listDir(t, dir); len(got) > 1 || len(got) == 1 && !strings.HasPrefix(got[0], ".o.safetensors.tmp-") {
		t.Errorf("temp file %v", got)
	}
	w.Abort()
	w.Abort()
	if got := listDir(t, dir); len(got) != 0 {
		t.Errorf("folder holds %v", got)
	}
	if err := w.Commit(); err == nil {
		t.Error("Commit after Abort succeeded")
	}
}

// TestTempUnnamed: on Linux the temporary output has no name until Commit (O_TMPFILE), so a
// process killed before Commit leaves nothing in the folder; here the file is closed without
// Commit or Abort, as a kill closes it. Commit then names it and renames it over the output.
func TestTempUnnamed(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("unnamed temporary files are Linux's")
	}
	for _, kill := range []bool{true, false} {
		dir := t.TempDir()
		out := filepath.Join(dir, "o.safetensors")
		w, err := Create(out, []OutTensor{{"a", ops.F16, []int{4}}}, nil, WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := listDir(t, dir); len(got) != 0 {
			w.Abort()
			if !unnamedFilesWork(dir) {
				t.Skipf("the file system has no unnamed files (%v)", got)
			}
			t.Fatalf("a named temporary file %v where the folder takes unnamed ones", got)
		}
		if err := w.WriteFloat64("a", []float64{1, 2, 3, 4}); err != nil {
			t.Fatal(err)
		}
		if kill {
			w.f.Close()
			if got := listDir(t, dir); len(got) != 0 {
				t.Errorf("folder holds %v after the temporary file was closed without Commit", got)
			}
			continue
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		if got := listDir(t, dir); len(got) != 1 || got[0] != "o.safetensors" {
			t.Errorf("folder holds %v after Commit", got)
		}
		r, err := Open(out)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float64, 4)
		if err := r.ReadFloat64("a", got); err != nil || !slices.Equal(got, []float64{1, 2, 3, 4}) {
			t.Errorf("read back %v, %v", got, err)
		}
		r.Close()
		if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o644 {
			t.Errorf("output mode %v, %v", st.Mode(), err)
		}
	}
}

// Overwriting an existing output (not an input) replaces it atomically.
func TestReplaceExisting(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "o.safetensors")
	os.WriteFile(out, []byte("old"), 0o644)
	w, err := Create(out, []OutTensor{{"a", ops.F16, []int{1}}}, nil, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "old" {
		t.Error("output touched before Commit")
	}
	w.WriteFloat64("a", []float64{1})
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func BenchmarkReadFloat64F16(b *testing.B) {
	dir := b.TempDir()
	out := filepath.Join(dir, "b.safetensors")
	const n = 1 << 22
	w, err := Create(out, []OutTensor{{"x", ops.F16, []int{n}}}, nil, WriterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	w.WriteFloat64("x", randomValues(rand.New(rand.NewPCG(1, 2)), n))
	if err := w.Commit(); err != nil {
		b.Fatal(err)
	}
	f, err := Open(out)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	dst := make([]float64, n)
	b.SetBytes(2 * n)
	for b.Loop() {
		if err := f.ReadFloat64("x", dst); err != nil {
			b.Fatal(err)
		}
	}
}

// ReadRaw + WriteRaw copy a tensor byte for byte (passthrough keys).
func TestRawCopy(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.safetensors")
	w, err := Create(src, []OutTensor{{"a", ops.BF16, []int{3}}}, nil, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.WriteFloat64("a", []float64{1, -2, math.NaN()})
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 6)
	if err := f.ReadRaw("a", buf); err != nil {
		t.Fatal(err)
	}
	if err := f.ReadRaw("a", buf[:5]); err == nil {
		t.Error("short buffer accepted")
	}
	dst := filepath.Join(dir, "dst.safetensors")
	w, err = Create(dst, []OutTensor{{"a", ops.BF16, []int{3}}}, nil, WriterOptions{Inputs: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteRaw("a", buf[:4]); err == nil {
		t.Error("wrong length accepted")
	}
	if err := w.WriteRaw("a", buf); err == nil {
		t.Error("write after a failed write accepted") // the first error sticks
	}
	w.Abort()
	w, _ = Create(dst, []OutTensor{{"a", ops.BF16, []int{3}}}, nil, WriterOptions{})
	if err := w.WriteRaw("a", buf); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(src)
	b, _ := os.ReadFile(dst)
	if !bytes.Equal(a, b) {
		t.Error("copy differs")
	}
}
