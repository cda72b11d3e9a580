package stdlib

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// sharedDir locates <repo root>/../shared (the golden outputs), skipping the test without it.
func sharedDir(t *testing.T) string {
	t.Helper()
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
	shared := filepath.Join(dir, "..", "shared")
	if _, err := os.Stat(filepath.Join(shared, "golden", "_pool")); err != nil {
		t.Skipf("no golden pool: %v", err)
	}
	return shared
}

// headerKeys reads the tensor names of a safetensors file: an 8-byte little-endian header
// length, then a JSON object (tensor name -> info, plus "__metadata__").
func headerKeys(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n uint64
	if err := binary.Read(f, binary.LittleEndian, &n); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, 8); err != nil {
		t.Fatal(err)
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(buf, &header); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	keys := make([]string, 0, len(header))
	for k := range header {
		if k != "__metadata__" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func poolKeys(t *testing.T, name string) []string {
	return headerKeys(t, filepath.Join(sharedDir(t), "golden", "_pool", name))
}

// The pool's mini-SDXL has the 2515 keys of a real SDXL base file, all of them sdxl-sgm keys.
func TestPoolBaseInSDXLSGM(t *testing.T) {
	keys := poolKeys(t, "base.safetensors")
	if len(keys) != 2515 {
		t.Errorf("base.safetensors: %d keys, want 2515", len(keys))
	}
	c, _ := Default().Config("sdxl-sgm")
	for _, k := range keys {
		if spec, ok := c.Key(k); !ok || spec.Name != k {
			t.Errorf("base.safetensors key %s is not an sdxl-sgm key", k)
		}
	}
}

// sd1/m1_aliases is written under the alias names: every key resolves, to a different name.
func TestPoolSD1Aliases(t *testing.T) {
	c, _ := Default().Config("sd1-ldm")
	direct, viaAlias := 0, 0
	seen := map[string]bool{}
	for _, k := range poolKeys(t, "sd1/m1_aliases.safetensors") {
		spec, ok := c.Key(k)
		if !ok {
			t.Errorf("sd1/m1_aliases key %s unknown to sd1-ldm", k)
			continue
		}
		if seen[spec.Name] {
			t.Errorf("two file keys resolve to %s", spec.Name)
		}
		seen[spec.Name] = true
		if spec.Name == k {
			direct++
		} else {
			viaAlias++
		}
	}
	if viaAlias == 0 || direct+viaAlias != 1831 {
		t.Errorf("sd1/m1_aliases: %d keys direct, %d through aliases, want 1831 with aliases", direct, viaAlias)
	}
}

func TestInferConfigPool(t *testing.T) {
	r := Default()
	for _, tc := range []struct{ file, want string }{
		{"base.safetensors", "sdxl-sgm"},
		{"pruned.safetensors", "sdxl-sgm"},
		{"sd1/base.safetensors", "sd1-ldm"},
		{"sd1/m1_aliases.safetensors", "sd1-ldm"},
		{"sd1/m0_kohya.safetensors", "sd1-kohya"},
	} {
		c, err := r.InferConfig(poolKeys(t, tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if c.ID != tc.want {
			t.Errorf("%s: inferred %s, want %s", tc.file, c.ID, tc.want)
		}
	}
}
