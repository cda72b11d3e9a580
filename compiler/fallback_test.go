package compiler

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
	"github.com/mechac/mechac/vm"
)

// TestFallbackKeepsInputMissing: when a's tensor is non-finite (missing, sd-mecha 1.1.x),
// fallback(a, b) is b, but a itself stays missing for every other user: weighted_sum(fb, a)
// must omit the key, as sd-mecha does. The runtime branch must not overwrite the register
// that still stands for a.
func TestFallbackKeepsInputMissing(t *testing.T) {
	dir := t.TempDir()
	const bad = "first_stage_model.quant_conv.bias"
	const good = "first_stage_model.quant_conv.weight"
	shapes := map[string][]int{bad: {8}, good: {8, 8, 1, 1}}
	writeTestModel(t, filepath.Join(dir, "a.safetensors"), ops.F32, shapes, 1, map[string]bool{bad: true})
	writeTestModel(t, filepath.Join(dir, "b.safetensors"), ops.F32, shapes, 2, nil)
	tests := []struct {
		name    string
		body    string
		present bool // whether key `bad` is in the output
	}{
		{"fallback alone", `merge "fallback" &0 &1`, true},
		{"fallback then a", "merge \"fallback\" &0 &1\nmerge \"weighted_sum\" &2 &0", false},
		{"a then fallback", "merge \"weighted_sum\" &0 &1\nmerge \"fallback\" &0 &1\nmerge \"weighted_sum\" &2 &3", false},
		{"fallback twice", "merge \"fallback\" &0 &1\nmerge \"fallback\" &0 &0\nmerge \"weighted_sum\" &2 &3", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := hdrAB + tt.body
			prog := compileWith(t, src, diskModels(dir), ops.Exact, map[string]bool{"fold": true, "cse": true, "dce": true})
			out := filepath.Join(t.TempDir(), "out.safetensors")
			stats, err := vm.Run(context.Background(), prog, vm.Options{Registry: stdlib.Default(), Output: out, Jobs: 1})
			if err != nil {
				t.Fatal(err)
			}
			got := tensorBits(t, out)
			_, present := got[bad]
			if present != tt.present {
				t.Errorf("key %s present=%t, want %t (omitted: %v)\n%s", bad, present, tt.present, stats.Omitted, prog.Text())
			}
			if _, ok := got[good]; !ok {
				t.Errorf("key %s missing", good)
			}
			for k, bits := range got {
				for _, b := range bits {
					if x := math.Float64frombits(b); math.IsNaN(x) || math.IsInf(x, 0) {
						t.Errorf("%s: non-finite output", k)
						break
					}
				}
			}
		})
	}
}

// TestScratchForInPeak: a method's ops.Def.ScratchFor reaches Key.Peak with the call's output
// shape and constant numbers: rotate on a wide 4x16 key adds its Stiefel matrices' 8 s²
// float64s (s = 4 + min(12, 4) = 8) at a fractional alignment and not at alignment 1, and
// isotropic_overrided counts its scratch only where it transforms the key, truncate_rank by
// its path and rank.
func TestScratchForInPeak(t *testing.T) {
	const key = "first_stage_model.quant_conv.weight"
	dir := modelsAB(t, map[string][]int{key: {4, 16, 1, 1}})
	// keyPeak compiles the recipe body after the two models and returns the key's Peak.
	keyPeak := func(body string) int64 {
		prog := compileWith(t, hdrAB+body, diskModels(dir), ops.Exact, nil)
		for _, k := range prog.Keys {
			if k.Name == key {
				return k.Peak
			}
		}
		t.Fatalf("no key %s", key)
		return 0
	}
	rotate := func(alignment string) int64 { return keyPeak(`merge "rotate" &0 &1 alignment=` + alignment) }
	onDelta := func(call string) int64 {
		return keyPeak(`merge "subtract" &0 &1` + "\n" + call + "\n" + `merge "add_difference" &0 &3`)
	}
	whole, frac := rotate("1.0"), rotate("0.5")
	if d := frac - whole; d != 8*8*8*8 {
		t.Errorf("Peak at alignment 0.5 - at 1 = %d bytes, want %d (8 s² float64s, s = 8)", d, 8*8*8*8)
	}
	// At alignment 1, rotate's scratch for the 4x16 view: 4n + 4m² = 256 + 64 float64s.
	if whole < (256+64)*8 {
		t.Errorf("Peak at alignment 1 = %d bytes, less than rotate's scratch %d", whole, (256+64)*8)
	}
	// isotropic_overrided transforms a 4-D key only with apply_high_dim (as 4 x 16: wide,
	// 4n + 4m² float64s); without it the key is copied and there is no scratch.
	iso := func(highDim string) int64 { return onDelta(`merge "isotropic_overrided" &2 apply_high_dim=` + highDim) }
	if d := iso("true") - iso("false"); d != (256+64)*8 {
		t.Errorf("isotropic_overrided: Peak with apply_high_dim - without = %d bytes, want %d", d, (256+64)*8)
	}
	// truncate_rank on the 4 x 16 view (k = 4, l = 16): exact 4n + 5k², randomized at rank 2
	// 2n + 2(l + k) 2.
	trunc := func(args string) int64 { return onDelta(`merge "truncate_rank" &2 ` + args) }
	exact, approx := trunc("rank=2 use_approximate_basis=false"), trunc("rank=2")
	if d := exact - approx; d != ((4*64+5*16)-(2*64+2*20*2))*8 {
		t.Errorf("truncate_rank: Peak exact - randomized = %d bytes, want %d", d, ((4*64+5*16)-(2*64+2*20*2))*8)
	}
}

// TestScratchInInPeak: a key-mapping method's ops.Def.ScratchIn reaches Key.Peak with its
// operands' shapes, not its output's, and its constant arguments (bytecode.CallNumbers past
// a tensor list): an extracted LoRA factor of a 64 x 4 x 3 x 3 delta (viewed as 64 x 36,
// n = 2304) holds the exact path's 5n + 5·36² float64s or the randomized one's
// 2n + 2(64 + 36)·2 at rank 2, though the factor itself has 128 or 72 elements.
func TestScratchInInPeak(t *testing.T) {
	dir := modelsAB(t, map[string][]int{"first_stage_model.decoder.conv_in.weight": {64, 4, 3, 3}})
	hdr := "version 0.1.0\n" +
		`model "a.safetensors" model_config="sdxl-kohya" merge_space="weight"` + "\n" +
		`model "b.safetensors" model_config="sdxl-kohya" merge_space="weight"` + "\n" +
		`merge "subtract" &0 &1` + "\n"
	peaks := func(args string) map[string]int64 {
		prog := compileWith(t, hdr+`merge "extract_lora_'sdxl-kohya_kohya_lora'" &2 rank=2 `+args, diskModels(dir), ops.Exact, nil)
		out := map[string]int64{}
		for _, k := range prog.Keys {
			out[k.Name[strings.IndexByte(k.Name, '.')+1:]] = k.Peak
		}
		return out
	}
	exact, approx := peaks("use_approximate_basis=false"), peaks("")
	const n = 2304
	for _, part := range []string{"lora_up.weight", "lora_down.weight"} {
		if exact[part] < 8*(5*n+5*36*36) {
			t.Errorf("%s: exact Peak %d, less than its scratch %d", part, exact[part], 8*(5*n+5*36*36))
		}
		if d, want := exact[part]-approx[part], int64(8*((5*n+5*36*36)-(2*n+2*100*2))); d != want {
			t.Errorf("%s: Peak exact - randomized = %d bytes, want %d", part, d, want)
		}
	}
	// alpha is the rank: no factorization, no scratch.
	if exact["alpha"] != approx["alpha"] || exact["alpha"] >= 8*(5*n+5*36*36) {
		t.Errorf("alpha: Peak %d exact, %d randomized: a factorization's scratch counted", exact["alpha"], approx["alpha"])
	}
}

// modelsAB writes a.safetensors and b.safetensors (float32, seeds 1 and 2) with the given keys
// into a new folder and returns it.
func modelsAB(t *testing.T, shapes map[string][]int) string {
	t.Helper()
	dir := t.TempDir()
	writeTestModel(t, filepath.Join(dir, "a.safetensors"), ops.F32, shapes, 1, nil)
	writeTestModel(t, filepath.Join(dir, "b.safetensors"), ops.F32, shapes, 2, nil)
	return dir
}
