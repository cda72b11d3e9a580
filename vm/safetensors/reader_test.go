package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mechac/mechac/ops"
)

// rawFile builds a safetensors file from a header text and a data section.
func rawFile(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func writeTemp(t *testing.T, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadHeaderErrors(t *testing.T) {
	lenOnly := func(n uint64, total int) []byte {
		b := make([]byte, total)
		binary.LittleEndian.PutUint64(b, n)
		return b
	}
	f16 := func(name, shape string, b, e int) string {
		return `"` + name + `":{"dtype":"F16","shape":` + shape + `,"data_offsets":[` + itoa(b) + `,` + itoa(e) + `]}`
	}
	cases := []struct {
		name    string
		content []byte
		want    string // substring of the error after "m0.safetensors: "
	}{
		{"empty", nil, "truncated header: file has 0 bytes, need 8"},
		{"short", []byte{1, 2, 3, 4, 5}, "truncated header: file has 5 bytes, need 8"},
		{"length beyond file", lenOnly(9999999, 1234), "header length 9999999 exceeds file size 1234"},
		{"length beyond limit", lenOnly(1<<40, 64), "header length 1099511627776 exceeds the limit of 104857600 bytes"},
		{"length huge", lenOnly(math.MaxUint64, 64), "exceeds the limit"},
		{"empty header", rawFile("", nil), "header is not a JSON object"},
		{"array", rawFile("[]", nil), "header is not a JSON object"},
		{"leading space", rawFile(" {}", nil), "header is not a JSON object"},
		{"bad JSON", rawFile(`{"a":`, nil), "invalid"},
		{"unterminated", rawFile(`{"a":{"dtype":"F16","shape":[],"data_offsets":[0,2]}`, []byte{0, 0}), "invalid header JSON"},
		{"trailing garbage", rawFile(`{}  x`, nil), "unexpected data after the header JSON at byte 12"},
		{"two objects", rawFile(`{}{}`, nil), "unexpected data after the header JSON"},
		{"metadata not object", rawFile(`{"__metadata__":"x"}`, nil), "__metadata__: not an object of strings"},
		{"metadata number", rawFile(`{"__metadata__":{"a":1}}`, nil), `__metadata__: value of "a" is not a string`},
		{"metadata null value", rawFile(`{"__metadata__":{"a":null}}`, nil), `__metadata__: value of "a" is not a string`},
		{"metadata twice", rawFile(`{"__metadata__":{},"__metadata__":{}}`, nil), `duplicate key "__metadata__"`},
		{"duplicate tensor", rawFile(`{`+f16("a", "[1]", 0, 2)+`,`+f16("a", "[1]", 2, 4)+`}`, make([]byte, 4)), `duplicate key "a"`},
		{"unsupported F8", rawFile(`{"first_stage_model.x":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}`, []byte{0}),
			`tensor "first_stage_model.x": unsupported dtype "F8_E4M3"`},
		{"unsupported U16", rawFile(`{"k":{"dtype":"U16","shape":[1],"data_offsets":[0,2]}}`, []byte{0, 0}), `tensor "k": unsupported dtype "U16"`},
		{"torch dtype name", rawFile(`{"k":{"dtype":"float16","shape":[1],"data_offsets":[0,2]}}`, []byte{0, 0}), `tensor "k": unsupported dtype "float16"`},
		{"missing dtype", rawFile(`{"k":{"shape":[1],"data_offsets":[0,2]}}`, []byte{0, 0}), `tensor "k": missing dtype`},
		{"missing shape", rawFile(`{"k":{"dtype":"F16","data_offsets":[0,2]}}`, []byte{0, 0}), `tensor "k": missing shape`},
		{"entry not object", rawFile(`{"k":3}`, nil), `tensor "k": invalid entry`},
		{"entry null", rawFile(`{"k":null}`, nil), `tensor "k": missing dtype`},
		{"negative dim", rawFile(`{"k":{"dtype":"F16","shape":[-1],"data_offsets":[0,0]}}`, nil), `tensor "k": invalid shape dimension -1`},
		{"float dim", rawFile(`{"k":{"dtype":"F16","shape":[2.0],"data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "k": invalid shape dimension 2.0`},
		{"shape of string", rawFile(`{"k":{"dtype":"F16","shape":["2"],"data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "k": invalid shape dimension "2"`},
		{"one offset", rawFile(`{"k":{"dtype":"F16","shape":[1],"data_offsets":[0]}}`, make([]byte, 4)), `tensor "k": data_offsets has 1 values, want 2`},
		{"negative offset", rawFile(`{"k":{"dtype":"F16","shape":[1],"data_offsets":[-2,0]}}`, make([]byte, 4)), `tensor "k": invalid data offset -2`},
		{"reversed", rawFile(`{`+f16("k", "[0]", 4, 2)+`}`, make([]byte, 4)), `tensor "k": data offsets [4, 2] are reversed`},
		{"past end", rawFile(`{`+f16("k", "[2]", 0, 4)+`}`, make([]byte, 3)), `tensor "k": data offsets [0, 4] extend past the end of the data (3 bytes)`},
		{"huge offset", rawFile(`{`+`"k":{"dtype":"F16","shape":[2],"data_offsets":[0,99999999999999999999]}}`, nil), `tensor "k": invalid data offset`},
		{"size mismatch", rawFile(`{`+f16("k", "[2,2]", 0, 6)+`}`, make([]byte, 8)), `tensor "k": shape [2, 2] of F16 needs 8 bytes, data offsets [0, 6] hold 6`},
		{"count overflow", rawFile(`{`+f16("k", "[4294967296,4294967296,4]", 0, 8)+`}`, make([]byte, 8)), `needs more than 2^64 bytes`},
		{"bytes overflow", rawFile(`{`+f16("k", "[4611686018427387904,2]", 0, 8)+`}`, make([]byte, 8)), `needs more than 2^64 bytes`},
		{"overlap", rawFile(`{`+f16("first_stage_model.x", "[5]", 10, 20)+`,`+f16("y", "[8]", 15, 31)+`}`, make([]byte, 32)),
			`tensor "first_stage_model.x": data offsets [10, 20] overlap tensor "y" [15, 31]`},
		{"overlap contained", rawFile(`{`+f16("a", "[8]", 0, 16)+`,`+f16("b", "[1]", 4, 6)+`,`+f16("c", "[1]", 6, 8)+`}`, make([]byte, 16)),
			`tensor "a": data offsets [0, 16] overlap tensor "b" [4, 6]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readHeader(bytes.NewReader(c.content), int64(len(c.content)), "m0.safetensors")
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.HasPrefix(err.Error(), "m0.safetensors: ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want m0.safetensors: ...%s", err, c.want)
			}
			// The same through Open, with the path in the message.
			p := writeTemp(t, "m0.safetensors", c.content)
			if _, err := Open(p); err == nil || !strings.HasPrefix(err.Error(), p+": ") {
				t.Fatalf("Open: %v", err)
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestReadHeaderValid(t *testing.T) {
	// Padding spaces, gaps, an empty tensor, metadata, and tensors listed out of offset order.
	hdr := `{"__metadata__":{"mecha_recipe":"x <&> \u00e9"},` +
		`"b":{"dtype":"F32","shape":[],"data_offsets":[8,12]},` +
		`"a":{"dtype":"I64","shape":[1,1],"data_offsets":[0,8]},` +
		`"e":{"dtype":"BF16","shape":[3,0],"data_offsets":[8,8]},` +
		`"c":{"dtype":"U8","shape":[2],"data_offsets":[14,16]}}`
	hdr += strings.Repeat(" ", 8-len(hdr)%8+8)
	data := make([]byte, 20)
	binary.LittleEndian.PutUint64(data, uint64(7))
	binary.LittleEndian.PutUint32(data[8:], math.Float32bits(-2.5))
	data[14], data[15] = 3, 250
	p := writeTemp(t, "ok.safetensors", rawFile(hdr, data))
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := strings.Join(f.Names(), ","); got != "a,e,b,c" {
		t.Errorf("Names() = %s, want a,e,b,c", got)
	}
	if f.Metadata["mecha_recipe"] != "x <&> é" {
		t.Errorf("metadata %q", f.Metadata)
	}
	if f.Tensors["a"].DType != ops.I64 || !ops.SameShape(f.Tensors["e"].Shape, []int{3, 0}) {
		t.Errorf("tensors %+v %+v", f.Tensors["a"], f.Tensors["e"])
	}
	if f.Tensors["b"].Begin != 8+int64(len(hdr))+8 {
		t.Errorf("absolute Begin = %d", f.Tensors["b"].Begin)
	}
	for name, want := range map[string][]float64{"a": {7}, "b": {-2.5}, "c": {3, 250}, "e": {}} {
		got := make([]float64, len(want))
		if err := f.ReadFloat64(name, got); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s = %v, want %v", name, got, want)
			}
		}
	}
	if err := f.ReadFloat64("c", make([]float64, 3)); err == nil || !strings.Contains(err.Error(), `tensor "c" has 2 elements, destination has 3`) {
		t.Errorf("wrong length: %v", err)
	}
	if err := f.ReadFloat64("zz", nil); err == nil || !strings.Contains(err.Error(), `no tensor "zz"`) {
		t.Errorf("missing: %v", err)
	}
	lint := strings.Join(f.Lint(), "\n")
	for _, want := range []string{`2 unused bytes between tensors "b" and "c"`, "4 unused bytes after the last tensor"} {
		if !strings.Contains(lint, want) {
			t.Errorf("Lint() = %q, want %q", lint, want)
		}
	}
}

// Headers whose data section is empty and that have no tensors are valid.
func TestReadHeaderEmpty(t *testing.T) {
	for _, hdr := range []string{"{}", "{}      ", `{"__metadata__":null}`, `{"__metadata__":{}}`} {
		c := rawFile(hdr, nil)
		h, err := ReadHeader(bytes.NewReader(c), int64(len(c)))
		if err != nil {
			t.Fatalf("%q: %v", hdr, err)
		}
		if len(h.Tensors) != 0 || h.Metadata == nil {
			t.Errorf("%q: %+v", hdr, h)
		}
	}
}

// repoShared finds <repo root>/../shared, the folder with the golden files.
func repoShared(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root not found")
		}
		dir = parent
	}
	shared := filepath.Join(filepath.Dir(dir), "shared")
	if _, err := os.Stat(filepath.Join(shared, "golden", "_pool")); err != nil {
		t.Skip("shared golden pool not present")
	}
	return shared
}

func TestGoldenPool(t *testing.T) {
	pool := filepath.Join(repoShared(t), "golden", "_pool")
	files, _ := filepath.Glob(filepath.Join(pool, "*.safetensors"))
	sd1, _ := filepath.Glob(filepath.Join(pool, "sd1", "*.safetensors"))
	files = append(files, sd1...)
	if len(files) < 10 {
		t.Fatalf("only %d pool files", len(files))
	}
	for _, p := range files {
		f, err := Open(p)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if l := f.Lint(); len(l) > 0 {
			t.Logf("lint: %s", strings.Join(l, "; "))
		}
		f.Close()
	}

	open := func(name string) *File {
		f, err := Open(filepath.Join(pool, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	base := open("base.safetensors")
	const posIDs = "conditioner.embedders.0.transformer.text_model.embeddings.position_ids"
	for _, name := range []string{"m6_bf16.safetensors", "m7_f32.safetensors"} {
		f := open(name)
		if len(f.Tensors) != len(base.Tensors) {
			t.Errorf("%s: %d tensors, base has %d", name, len(f.Tensors), len(base.Tensors))
		}
		want := map[string]ops.DType{"m6_bf16.safetensors": ops.BF16, "m7_f32.safetensors": ops.F32}[name]
		var sumDiff, sumAbs float64
		for _, k := range f.Names() {
			ti := f.Tensors[k]
			if k == posIDs || strings.HasSuffix(k, "position_ids") {
				if ti.DType != ops.I64 {
					t.Errorf("%s: %s is %v, want I64", name, k, ti.DType)
				}
				v := make([]float64, ti.NumElements())
				if err := f.ReadFloat64(k, v); err != nil {
					t.Fatal(err)
				}
				for i, x := range v {
					if x != float64(i) {
						t.Fatalf("%s: position_ids[%d] = %v", name, i, x)
					}
				}
				continue
			}
			if ti.DType != want {
				t.Errorf("%s: %s is %v, want %v", name, k, ti.DType, want)
			}
			v := make([]float64, ti.NumElements())
			b := make([]float64, ti.NumElements())
			if err := f.ReadFloat64(k, v); err != nil {
				t.Fatal(err)
			}
			if err := base.ReadFloat64(k, b); err != nil {
				t.Fatal(err)
			}
			for i := range v {
				if math.IsNaN(v[i]) || math.IsInf(v[i], 0) {
					t.Fatalf("%s: %s[%d] = %v", name, k, i, v[i])
				}
				sumDiff += math.Abs(v[i] - b[i])
				sumAbs += math.Abs(b[i])
			}
		}
		// A fine-tune differs from the base by about 5% of the per-key std.
		if r := sumDiff / sumAbs; r < 0.005 || r > 0.2 {
			t.Errorf("%s: mean |fine-tune - base| / mean |base| = %.4f", name, r)
		} else {
			t.Logf("%s: relative difference from base %.4f", name, r)
		}
	}
	if ti := base.Tensors[posIDs]; ti == nil || ti.DType != ops.I64 || !ops.SameShape(ti.Shape, []int{1, 77}) {
		t.Errorf("base position_ids: %+v", ti)
	}
}
