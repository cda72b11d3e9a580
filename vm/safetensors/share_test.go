package safetensors

import (
	"strconv"
	"strings"
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
	// (And a tensor name of its own: the tables' parses are kept too, TestHeaderTableParsedOnce.)
	seed := strconv.FormatInt(time.Now().UnixNano(), 10)
	a := "a" + seed
	layout := `{"__metadata__":{"seed":"` + seed + `"},"` + a + `":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	data := []byte{0, 0, 128, 63, 0, 0, 0, 64}
	p1 := writeTemp(t, "p1.safetensors", rawFile(layout, data))
	p2 := writeTemp(t, "p2.safetensors", rawFile(layout, data))
	p3 := writeTemp(t, "p3.safetensors", rawFile(layout, append(data, 0, 0, 0, 0))) // 4 bytes more
	p4 := writeTemp(t, "p4.safetensors", rawFile(`{"__metadata__":{"seed":"`+seed+`x"},"`+a+`":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, data))
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
		if err := f.ReadFloat64(a, got); err != nil || got[0] != 1 || got[1] != 2 {
			t.Errorf("%s: read %v, %v", c.path, got, err)
		}
		f.Close()
	}
}

// A tensor table is parsed once per process: a header whose metadata (first) differs from a
// parsed one's but whose table, header length and file size are the same takes that table's
// parse and its own metadata; a longer metadata object (other offsets), another file size and
// a metadata value that is no string are parsed whole; a table naming __metadata__ again is
// an error each time.
func TestHeaderTableParsedOnce(t *testing.T) {
	// Tensor names of this run's own: the cache is the process's, and -count runs it again.
	name := "t" + strconv.FormatInt(time.Now().UnixNano(), 10)
	table := `"` + name + `":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	data := []byte{0, 0, 128, 63, 0, 0, 0, 64}
	file := func(file, meta, table string, data []byte) string {
		return writeTemp(t, file, rawFile(`{"__metadata__":`+meta+`,`+table, data))
	}
	pad := append(data, 0, 0, 0, 0) // 4 bytes past the table's tensor
	p1 := file("p1.safetensors", `{"seed":"1"}`, table, pad)
	p2 := file("p2.safetensors", `{"seed":"2"}`, table, pad)
	// The same file size, the header 4 bytes longer: the same table at other offsets.
	p3 := file("p3.safetensors", `{"seed":"33333"}`, table, data)
	p4 := file("p4.safetensors", `{"seed":"4"}`, table, append(pad, 0, 0, 0, 0))
	p5 := file("p5.safetensors", `{"seed": 55}`, table, pad)
	again := `"` + name + `":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{}}`
	p6 := file("p6.safetensors", `{"seed":"6"}`, again, data)
	p7 := file("p7.safetensors", `{"seed":"7"}`, again, data)
	var first *File
	for _, c := range []struct {
		path         string
		parses, hits int64
		seed         string // "": the open fails
	}{{p1, 1, 0, "1"}, {p2, 0, 1, "2"}, {p3, 1, 0, "33333"}, {p4, 1, 0, "4"}, {p5, 1, 0, ""}, {p6, 1, 0, ""}, {p7, 1, 0, ""}} {
		parses, hits := headerParses.Load(), tableHits.Load()
		f, err := Open(c.path)
		if got := headerParses.Load() - parses; got != c.parses {
			t.Errorf("%s: %d parses, want %d", c.path, got, c.parses)
		}
		if got := tableHits.Load() - hits; got != c.hits {
			t.Errorf("%s: %d tables taken, want %d", c.path, got, c.hits)
		}
		if c.seed == "" {
			if err == nil {
				t.Errorf("%s: opened, want an error", c.path)
				f.Close()
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if got := f.Metadata["seed"]; got != c.seed {
			t.Errorf("%s: seed %q, want %q", c.path, got, c.seed)
		}
		got := make([]float64, 2)
		if err := f.ReadFloat64(name, got); err != nil || got[0] != 1 || got[1] != 2 {
			t.Errorf("%s: read %v, %v", c.path, got, err)
		}
		if first == nil {
			first = f
		} else if c.hits == 1 && f.Tensors[name] != first.Tensors[name] {
			t.Errorf("%s: its own table, not p1's", c.path)
		}
	}
	// The uncached parse of p5 fails the same way.
	_, err := Open(p5)
	if err == nil || !strings.Contains(err.Error(), "__metadata__") {
		t.Errorf("p5: %v, want a metadata error", err)
	}
}
