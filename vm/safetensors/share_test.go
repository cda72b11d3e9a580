package safetensors

import (
	"strconv"
	"testing"
	"time"
)

// TestTableCacheShare: files with the same tensor layout share one table (whatever their
// metadata), files that differ in a shape or an offset do not, and each file still reads its
// own bytes through the shared table.
func TestTableCacheShare(t *testing.T) {
	layout := `"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`
	one := []byte{0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64}    // 1, 2, 3
	two := []byte{0, 0, 128, 64, 0, 0, 160, 64, 0, 0, 192, 64} // 4, 5, 6
	files := []string{
		writeTemp(t, "m0.safetensors", rawFile(`{"__metadata__":{"seed":"1"},`+layout, one)),
		writeTemp(t, "m1.safetensors", rawFile(`{"__metadata__":{"seed":"2"},`+layout, two)),
		writeTemp(t, "m2.safetensors", rawFile(`{"__metadata__":{"seed":"3"},"a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, one)),
		writeTemp(t, "m3.safetensors", rawFile(`{"__metadata__":{"seed":"4"},"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, one)),
	}
	want := []bool{false, true, false, false}
	c := NewTableCache()
	var opened []*File
	for i, p := range files {
		f, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if got := c.Share(f.Header); got != want[i] {
			t.Errorf("%s: shared %v, want %v", p, got, want[i])
		}
		opened = append(opened, f)
	}
	if opened[0].Tensors["a"] != opened[1].Tensors["a"] {
		t.Error("m0 and m1 do not share their table")
	}
	got := make([]float64, 2)
	for i, w := range [][]float64{{1, 2}, {4, 5}} {
		if err := opened[i].ReadFloat64("a", got); err != nil {
			t.Fatal(err)
		}
		if got[0] != w[0] || got[1] != w[1] {
			t.Errorf("m%d a = %v, want %v", i, got, w)
		}
	}
}

// A header is parsed once per process: the same file opened again, and a copy of it under
// another path, reuse the parse (with their own Path); a file whose size differs (so do the
// offsets' checks) or whose header differs is parsed.
func TestHeaderParsedOnce(t *testing.T) {
	// A seed of this run's own: the cache is the process's, and -count runs the test again.
	seed := strconv.FormatInt(time.Now().UnixNano(), 10)
	layout := `{"__metadata__":{"seed":"` + seed + `"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	data := []byte{0, 0, 128, 63, 0, 0, 0, 64}
	p1 := writeTemp(t, "p1.safetensors", rawFile(layout, data))
	p2 := writeTemp(t, "p2.safetensors", rawFile(layout, data))
	p3 := writeTemp(t, "p3.safetensors", rawFile(layout, append(data, 0, 0, 0, 0))) // 4 bytes more
	p4 := writeTemp(t, "p4.safetensors", rawFile(`{"__metadata__":{"seed":"`+seed+`x"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, data))
	for _, c := range []struct {
		path   string
		parses int64
	}{{p1, 1}, {p1, 0}, {p2, 0}, {p3, 1}, {p4, 1}, {p4, 0}} {
		before := headerParses.Load()
		f, err := Open(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := headerParses.Load() - before; got != c.parses {
			t.Errorf("%s: %d parses, want %d", c.path, got, c.parses)
		}
		if f.Path != c.path {
			t.Errorf("opened %s: Path %s", c.path, f.Path)
		}
		got := make([]float64, 2)
		if err := f.ReadFloat64("a", got); err != nil || got[0] != 1 || got[1] != 2 {
			t.Errorf("%s: read %v, %v", c.path, got, err)
		}
		f.Close()
	}
}
