package synth

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib/configs"
	"github.com/mechac/mechac/vm/safetensors"
)

func tinyConfig() *ops.ModelConfig {
	return &ops.ModelConfig{
		ID:         "tiny-test",
		Components: []string{"te", "unet"},
		Keys: []ops.KeySpec{
			{Name: "te.position_ids", Component: "te", Shape: []int{1, 77}, DType: ops.I64},
			{Name: "te.proj.weight", Component: "te", Shape: []int{1024, 768}, DType: ops.F32},
			{Name: "te.proj.bias", Component: "te", Shape: []int{1024}, DType: ops.F32},
			{Name: "te.final_layer_norm.weight", Component: "te", Shape: []int{768}, DType: ops.F32},
			{Name: "te.logit_scale", Component: "te", Shape: []int{}, DType: ops.F32},
			{Name: "unet.conv.weight", Component: "unet", Shape: []int{320, 4, 3, 3}, DType: ops.F16},
			{Name: "unet.emb", Component: "unet", Shape: []int{96, 160}, DType: ops.F16},
			{Name: "unet.opt.weight", Component: "unet", Shape: []int{64, 64}, DType: ops.F16, Optional: true},
			{Name: "unet.steps", Component: "unet", Shape: []int{}, DType: ops.I32},
		},
	}
}

func TestPlanShapes(t *testing.T) {
	keys, err := Plan(tinyConfig(), Options{SkipOptional: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]int{
		"te.position_ids":            {1, 77}, // integer keys keep their shape
		"te.proj.weight":             {16, 12},
		"te.proj.bias":               {16},
		"te.final_layer_norm.weight": {12},
		"te.logit_scale":             {},
		"unet.conv.weight":           {5, 4, 3, 3},
		"unet.emb":                   {2, 2}, // 1.5 and 2.5 both round to even 2
		"unet.steps":                 {},
	}
	if len(keys) != len(want) {
		t.Fatalf("%d keys, want %d", len(keys), len(want))
	}
	for _, k := range keys {
		if !ops.SameShape(k.Shape, want[k.Spec.Name]) {
			t.Errorf("%s: %v, want %v", k.Spec.Name, k.Shape, want[k.Spec.Name])
		}
		wantDT := ops.F16
		if !k.Spec.DType.IsFloat() {
			wantDT = k.Spec.DType
		}
		if k.DType != wantDT {
			t.Errorf("%s: %v, want %v", k.Spec.Name, k.DType, wantDT)
		}
	}
	if _, err := Plan(tinyConfig(), Options{DType: "I8"}); err == nil {
		t.Error("integer dtype accepted")
	}
}

func generate(t *testing.T, opts Options) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.safetensors")
	if err := Generate(tinyConfig(), opts, p); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDeterministic(t *testing.T) {
	a := generate(t, Options{Seed: 3, Workers: 1})
	b := generate(t, Options{Seed: 3, Workers: 8})
	if !bytes.Equal(a, b) {
		t.Fatal("same options, different files")
	}
	if c := generate(t, Options{Seed: 4}); bytes.Equal(a, c) {
		t.Fatal("different seeds, same file")
	}
}

func readAll(t *testing.T, path string) map[string][]float64 {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]float64{}
	for _, n := range f.Names() {
		v := make([]float64, f.Tensors[n].NumElements())
		if err := f.ReadFloat64(n, v); err != nil {
			t.Fatal(err)
		}
		out[n] = v
	}
	return out
}

func TestValuesAndFineTune(t *testing.T) {
	dir := t.TempDir()
	base := int64(1000)
	gen := func(name string, o Options) map[string][]float64 {
		o.Divisor, o.DType = 1, "F32" // real shapes for stable statistics
		p := filepath.Join(dir, name)
		if err := Generate(tinyConfig(), o, p); err != nil {
			t.Fatal(err)
		}
		return readAll(t, p)
	}
	b := gen("base.safetensors", Options{Seed: base})
	m0 := gen("m0.safetensors", Options{Seed: 0, FineTuneOf: &base})
	m1 := gen("m1.safetensors", Options{Seed: 1, FineTuneOf: &base})

	for i, x := range b["te.position_ids"] {
		if x != float64(i) {
			t.Fatalf("position_ids[%d] = %v", i, x)
		}
	}
	if b["unet.steps"][0] != 1 {
		t.Errorf("counter = %v", b["unet.steps"])
	}
	checkMoments := func(name string, mean, std float64) {
		v := b[name]
		var s, s2 float64
		for _, x := range v {
			s += x
		}
		m := s / float64(len(v))
		for _, x := range v {
			s2 += (x - m) * (x - m)
		}
		sd := math.Sqrt(s2 / float64(len(v)))
		if math.Abs(m-mean) > 4*std/math.Sqrt(float64(len(v)))+1e-12 || math.Abs(sd/std-1) > 0.1 {
			t.Errorf("%s: mean %.4f std %.4f, want %.4f, %.4f", name, m, sd, mean, std)
		}
	}
	checkMoments("te.proj.weight", 0, 1/math.Sqrt(768))
	checkMoments("te.proj.bias", 0, 0.02)
	checkMoments("te.final_layer_norm.weight", 1, 0.1)
	checkMoments("unet.conv.weight", 0, 1/math.Sqrt(36))

	// A fine-tune differs from its base by about 5% of the key's std, and two fine-tunes of
	// one base differ from each other by about sqrt(2) * 5%.
	for _, k := range []string{"te.proj.weight", "unet.conv.weight", "te.final_layer_norm.weight"} {
		std := baseStd(k, map[string][]int{"te.proj.weight": {1024, 768}, "unet.conv.weight": {320, 4, 3, 3}, "te.final_layer_norm.weight": {768}}[k])
		rms := func(a, c []float64) float64 {
			var s float64
			for i := range a {
				s += (a[i] - c[i]) * (a[i] - c[i])
			}
			return math.Sqrt(s/float64(len(a))) / std
		}
		if r := rms(m0[k], b[k]); math.Abs(r-0.05) > 0.005 {
			t.Errorf("%s: fine-tune - base = %.4f std, want 0.05", k, r)
		}
		if r := rms(m0[k], m1[k]); math.Abs(r-0.05*math.Sqrt2) > 0.007 {
			t.Errorf("%s: fine-tune 0 - fine-tune 1 = %.4f std, want 0.071", k, r)
		}
	}
	// The fine-tune's integer keys equal the base's.
	if m0["te.position_ids"][76] != 76 {
		t.Error("fine-tune position_ids")
	}
}

// With the sdxl-sgm config, the key set and shapes equal the golden pool's base model.
func TestMatchesGoldenPoolLayout(t *testing.T) {
	cfg, err := configs.Load("sdxl-sgm")
	if err != nil {
		t.Skip(err)
	}
	pool := filepath.Join("..", "..", "..", "..", "..", "shared", "golden", "_pool", "base.safetensors")
	f, err := safetensors.Open(pool)
	if err != nil {
		t.Skip("golden pool not present: ", err)
	}
	defer f.Close()
	keys, err := Plan(cfg, Options{Exclude: SDXLBaseExcluded})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(f.Tensors) {
		t.Errorf("%d keys, pool has %d", len(keys), len(f.Tensors))
	}
	for _, k := range keys {
		ti := f.Tensors[k.Spec.Name]
		if ti == nil {
			t.Errorf("%s not in the pool", k.Spec.Name)
			continue
		}
		if !ops.SameShape(ti.Shape, k.Shape) || ti.DType != k.DType {
			t.Errorf("%s: %v %v, pool %v %v", k.Spec.Name, k.DType, k.Shape, ti.DType, ti.Shape)
		}
	}
}

// TestSDXLSizes prints the size of an sdxl-sgm model per divisor (the table in the package
// comment) and checks the divisor-64 numbers against the golden pool.
func TestSDXLSizes(t *testing.T) {
	cfg, err := configs.Load("sdxl-sgm")
	if err != nil {
		t.Skip(err)
	}
	for _, d := range []int{1, 2, 4, 8, 16, 32, 64} {
		keys, err := Plan(cfg, Options{Divisor: d, Exclude: SDXLBaseExcluded})
		if err != nil {
			t.Fatal(err)
		}
		var params, bytes int64
		for _, k := range keys {
			n := int64(ops.NumElements(k.Shape))
			params += n
			bytes += n * int64(k.DType.Size())
		}
		t.Logf("divisor %2d: %d keys, %d params, %d data bytes (%.1f MiB)", d, len(keys), params, bytes, float64(bytes)/(1<<20))
		if d == 64 && bytes+340664+8 != 2108808 {
			t.Errorf("divisor 64: %d data bytes, the pool's base has %d", bytes, 2108808-340664-8)
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	cfg := tinyConfig()
	cfg.Keys = append(cfg.Keys, ops.KeySpec{Name: "unknown", Component: "unet", DType: ops.F64})
	if err := Generate(cfg, Options{}, filepath.Join(t.TempDir(), "x.safetensors")); err == nil {
		t.Error("key without shape accepted")
	}
	if err := Generate(tinyConfig(), Options{}, filepath.Join(t.TempDir(), "no", "x.safetensors")); err == nil {
		t.Error("missing folder accepted")
	}
}
