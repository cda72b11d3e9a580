package stdlib

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mechac/mechac/lang"
	"github.com/mechac/mechac/ops"
)

// TestHyper004AgainstSDMecha: the 60d0764 dict resolver gives, for every dict of x43 and
// every key, the value sd-mecha 60d0764's own get_hyper computed (hypers-resolved.json of the
// golden-eras case: a majority value plus exceptions).
func TestHyper004AgainstSDMecha(t *testing.T) {
	dir := findShared(t, "golden-eras/x43-AstolfoMix-x21te0x30te1-e2e-240222-60d0764")
	raw, err := os.ReadFile(filepath.Join(dir, "hypers-resolved.json"))
	if err != nil {
		t.Skip(err)
	}
	var resolved struct {
		Dicts []struct {
			Line     int                 `json:"line"`
			Majority string              `json:"majority_value"`
			Others   map[string][]string `json:"other_values"`
		} `json:"dicts"`
	}
	if err := json.Unmarshal(raw, &resolved); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(dir, "recipe.mecha"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := lang.Parse("x43.mecha", src)
	if err != nil {
		t.Fatal(err)
	}
	byLine := map[int]*lang.Stmt{}
	for _, s := range f.Instrs() {
		byLine[s.Pos.Line] = s
	}
	base, err := os.ReadFile(filepath.Join(dir, "..", "_tools", "sdxl-keys.json"))
	if err != nil {
		t.Skip(err)
	}
	keys := sdxlKeys(t, base)
	if len(resolved.Dicts) == 0 {
		t.Fatal("no dicts in hypers-resolved.json")
	}
	for _, d := range resolved.Dicts {
		s := byLine[d.Line]
		if s == nil || s.Command != "dict" {
			t.Fatalf("line %d is not a dict", d.Line)
		}
		var names []string
		var values []ops.Value
		for _, a := range s.Args {
			names = append(names, a.Key)
			values = append(values, ops.Float(a.Value.Float))
		}
		want := map[string]float64{}
		for v, ks := range d.Others {
			f, _ := strconv.ParseFloat(v, 64)
			for _, k := range ks {
				want[k] = f
			}
		}
		maj, _ := strconv.ParseFloat(d.Majority, 64)
		bad := 0
		for _, k := range keys {
			if passthrough004(k, nil) {
				continue
			}
			w, ok := want[k]
			if !ok {
				w = maj
			}
			got, _ := hyper004(names, values, k)
			if g, _ := got.Float64(); g != w {
				if bad < 5 {
					t.Errorf("dict line %d, key %s: got %v, want %v", d.Line, k, g, w)
				}
				bad++
			}
		}
		if bad > 0 {
			t.Errorf("dict line %d: %d keys differ", d.Line, bad)
		}
	}
}

func sdxlKeys(t *testing.T, raw []byte) []string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var keys []string
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			for k, e := range x {
				if strings.Contains(k, ".") {
					keys = append(keys, k)
				} else {
					walk(e)
				}
			}
		case []any:
			for _, e := range x {
				if m, ok := e.(map[string]any); ok {
					if n, ok := m["name"].(string); ok {
						keys = append(keys, n)
						continue
					}
					if n, ok := m["key"].(string); ok {
						keys = append(keys, n)
						continue
					}
				}
				walk(e)
			}
		}
	}
	walk(v)
	if len(keys) < 2000 {
		t.Fatalf("found %d keys in sdxl-keys.json", len(keys))
	}
	return keys
}

// findShared locates ../shared/<rel> from the repository root, skipping when absent.
func findShared(t *testing.T, rel string) string {
	wd, _ := os.Getwd()
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			p := filepath.Join(filepath.Dir(d), "shared", rel)
			if _, err := os.Stat(p); err != nil {
				t.Skipf("%s not found", p)
			}
			return p
		}
		if filepath.Dir(d) == d {
			t.Skip("repository root not found")
		}
	}
}

// TestHyper00xComponents: dialect B's per-component defaults, 0 for a component without an
// entry, and no value (KeyError) for the UNet's label embedding, which no 0.0.x block covers.
func TestHyper00xComponents(t *testing.T) {
	names := []string{"sdxl_txt_default", "sdxl_unet_default"}
	vals := []ops.Value{ops.Float(0.25), ops.Float(0.75)}
	for _, tc := range []struct {
		key  string
		want float64
		ok   bool
	}{
		{"conditioner.embedders.0.transformer.text_model.encoder.layers.3.mlp.fc1.weight", 0.25, true},
		{"model.diffusion_model.input_blocks.4.1.proj_in.weight", 0.75, true},
		{"model.diffusion_model.time_embed.0.weight", 0.75, true},
		{"conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight", 0, true},
		{"model.diffusion_model.label_emb.0.0.weight", 0, false},
		{"first_stage_model.encoder.conv_in.weight", 0, false},
	} {
		v, ok := hyper00x(names, vals, tc.key)
		f, _ := v.Float64()
		if ok != tc.ok || (ok && f != tc.want) {
			t.Errorf("%s: got %v %v, want %v %v", tc.key, f, ok, tc.want, tc.ok)
		}
	}
}
