package safetensors

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadHeader checks that no input makes ReadHeader panic, that a header it accepts is
// consistent (offsets inside the file, tensors not overlapping, names complete), and, by
// construction of ReadHeader, that nothing proportional to a claimed length is allocated
// before that length is checked against the file size.
func FuzzReadHeader(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.safetensors"))
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add(rawFile(`{"__metadata__":{"mecha_recipe":"x"},"a":{"dtype":"F16","shape":[2,1],"data_offsets":[0,4]},`+
		`"b":{"dtype":"I64","shape":[],"data_offsets":[4,12]}}    `, make([]byte, 12)))
	f.Add(rawFile(`{"a":{"dtype":"BF16","shape":[0],"data_offsets":[0,0]}}`, nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHeader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		if len(h.Names()) != len(h.Tensors) {
			t.Fatalf("Names has %d entries, Tensors %d", len(h.Names()), len(h.Tensors))
		}
		var end int64
		for _, n := range h.Names() {
			ti := h.Tensors[n]
			if ti.Begin < h.DataStart() || ti.End > h.Size || ti.Begin > ti.End {
				t.Fatalf("tensor %q [%d, %d] outside the data [%d, %d]", n, ti.Begin, ti.End, h.DataStart(), h.Size)
			}
			if int64(ti.NumElements())*int64(ti.DType.Size()) != ti.Len() {
				t.Fatalf("tensor %q: size mismatch", n)
			}
			if ti.Len() > 0 {
				if ti.Begin < end {
					t.Fatalf("tensor %q overlaps", n)
				}
				end = ti.End
			}
		}
		_ = h.Lint()
	})
}
