package vm_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mechac/mechac/compiler"
	"github.com/mechac/mechac/lang"
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
	"github.com/mechac/mechac/vm"
	"github.com/mechac/mechac/vm/bytecode"
	"github.com/mechac/mechac/vm/safetensors"
)

// dirModels is a compiler.ModelSource over a folder.
type dirModels string

func (d dirModels) Model(p string) (*compiler.ModelInfo, error) {
	path := filepath.Join(string(d), p)
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info := &compiler.ModelInfo{Path: path, Size: f.Size, HeaderHash: hex.EncodeToString(f.HeaderHash[:]), Tensors: map[string]compiler.TensorInfo{}}
	for name, ti := range f.Tensors {
		info.Tensors[name] = compiler.TensorInfo{DType: ti.DType, Shape: ti.Shape}
	}
	return info, nil
}

// testKeys picks n sdxl-sgm float keys with shapes scaled down to at most 6 per dimension.
func testKeys(t *testing.T, n int) map[string][]int {
	t.Helper()
	cfg, ok := stdlib.Default().Config("sdxl-sgm")
	if !ok {
		t.Fatal("no sdxl-sgm config")
	}
	out := map[string][]int{}
	for _, k := range cfg.Keys {
		if len(out) == n {
			break
		}
		if k.Optional || !k.DType.IsFloat() || k.Component == "scheduler" {
			continue
		}
		s := make([]int, len(k.Shape))
		for i, d := range k.Shape {
			s[i] = min(d, 6)
		}
		out[k.Name] = s
	}
	return out
}

// writeModels writes n models m0 .. m{n-1} of the keys into dir, float16, bfloat16 and
// float32 in turn (model i from seed+i), model i's keys nan(i) holding an inf and a NaN, and
// returns the recipe head (version line and model lines) that declares them.
func writeModels(t *testing.T, dir string, keys map[string][]int, n int, seed uint64, nan func(i int) map[string]bool) string {
	t.Helper()
	head := "version 0.1.0\n"
	for i := range n {
		writeModel(t, filepath.Join(dir, fmt.Sprintf("m%d.safetensors", i)), []ops.DType{ops.F16, ops.BF16, ops.F32}[i%3], keys, seed+uint64(i), nan(i))
		head += fmt.Sprintf("model \"m%d.safetensors\" model_config=\"sdxl-sgm\" merge_space=\"weight\"\n", i)
	}
	return head
}

func writeModel(t *testing.T, path string, dtype ops.DType, shapes map[string][]int, seed uint64, nan map[string]bool) {
	t.Helper()
	var outs []safetensors.OutTensor
	for k, s := range shapes {
		outs = append(outs, safetensors.OutTensor{Name: k, DType: dtype, Shape: s})
	}
	w, err := safetensors.Create(path, outs, nil, safetensors.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	x := seed*0x9E3779B97F4A7C15 + 1
	for k, s := range shapes {
		data := make([]float64, ops.NumElements(s))
		for i := range data {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			data[i] = float64(int64(x%4001)-2000) / 1013
		}
		if nan[k] {
			data[0] = math.Inf(1)
			data[len(data)-1] = math.NaN()
		}
		if err := w.WriteFloat64(k, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func compile(t *testing.T, dir, src, numerics string, out ops.DType) *bytecode.Program {
	t.Helper()
	f, err := lang.Parse("r.mecha", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	n, err := ops.ParseNumerics(numerics)
	if err != nil {
		t.Fatal(err)
	}
	res, err := compiler.Compile(f, compiler.Options{Registry: stdlib.Default(), Numerics: n, OutputDType: out, Models: dirModels(dir), RecipeText: src})
	if err != nil {
		t.Fatal(err)
	}
	return res.Program
}

// runSum runs prog with opts (Output set to a fresh temporary file) and returns the output's
// SHA-256; label names the run in a failure.
func runSum(t *testing.T, prog *bytecode.Program, opts vm.Options, label string) string {
	t.Helper()
	opts.Output = filepath.Join(t.TempDir(), "out.safetensors")
	if _, err := vm.Run(context.Background(), prog, opts); err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	return sum(t, opts.Output)
}

func sum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestDeterministicBytes: the output file is byte-identical whatever the number of
// workers, also when non-finite inputs make keys disappear at run time (the writer then
// compacts the file), and its metadata holds the recipe, the plan hash and the numerics.
func TestDeterministicBytes(t *testing.T) {
	dir := t.TempDir()
	keys := testKeys(t, 40)
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	// Non-finite values in three keys of a (one also in b), so weighted_sum omits them and
	// fallback covers a's with b's except where b is bad too.
	nan := map[string]bool{names[3]: true, names[17]: true, names[29]: true}
	writeModel(t, filepath.Join(dir, "a.safetensors"), ops.F16, keys, 1, nan)
	writeModel(t, filepath.Join(dir, "b.safetensors"), ops.BF16, keys, 2, map[string]bool{names[29]: true})
	writeModel(t, filepath.Join(dir, "c.safetensors"), ops.F32, keys, 3, nil)
	head := "version 0.1.0\n" +
		`model "a.safetensors" model_config="sdxl-sgm" merge_space="weight"` + "\n" +
		`model "b.safetensors" model_config="sdxl-sgm" merge_space="weight"` + "\n" +
		`model "c.safetensors" model_config="sdxl-sgm" merge_space="weight"` + "\n"
	tests := []struct {
		name     string
		recipe   string
		numerics string
		dtype    ops.DType
		omitted  int
	}{
		{"weighted_sum", head + `merge "weighted_sum" &0 &1 alpha=0.3`, "exact", ops.F16, 3},
		{"weighted_sum sd-mecha", head + `merge "weighted_sum" &0 &1 alpha=0.3`, "sd-mecha", ops.F16, 3},
		{"fallback", head + `merge "fallback" &0 &1`, "exact", ops.F32, 1},
		{"add_difference", head + "merge \"subtract\" &0 &2\nmerge \"add_difference\" &2 &3 0.7", "sd-mecha", ops.BF16, 3},
		{"no omission", head + `merge "n_average" &2 &2 &2`, "exact", ops.F64, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog := compile(t, dir, tt.recipe, tt.numerics, tt.dtype)
			if len(prog.Keys) != len(keys) {
				t.Fatalf("plan has %d keys, want %d", len(prog.Keys), len(keys))
			}
			var ref string
			for _, jobs := range []int{1, 2, 8, 1} {
				out := filepath.Join(t.TempDir(), "out.safetensors")
				var mu sync.Mutex
				var warnings []string
				stats, err := vm.Run(context.Background(), prog, vm.Options{
					Registry: stdlib.Default(), Output: out, Jobs: jobs,
					Warn: func(s string) { mu.Lock(); warnings = append(warnings, s); mu.Unlock() },
				})
				if err != nil {
					t.Fatalf("-j %d: %v", jobs, err)
				}
				if len(stats.Omitted) != tt.omitted {
					t.Errorf("-j %d: %d keys omitted (%v), want %d", jobs, len(stats.Omitted), stats.Omitted, tt.omitted)
				}
				if stats.Keys != len(keys)-tt.omitted {
					t.Errorf("-j %d: stats.Keys = %d, want %d", jobs, stats.Keys, len(keys)-tt.omitted)
				}
				if tt.omitted > 0 && len(warnings) == 0 {
					t.Errorf("-j %d: no warning about non-finite inputs", jobs)
				}
				s := sum(t, out)
				if ref == "" {
					ref = s
					checkOutput(t, out, prog, tt.recipe, tt.numerics, len(keys)-tt.omitted, stats.Omitted)
				} else if s != ref {
					t.Errorf("-j %d: output sha256 %s, -j 1 gave %s", jobs, s, ref)
				}
			}
		})
	}
}

func checkOutput(t *testing.T, path string, prog *bytecode.Program, recipe, numerics string, nkeys int, omitted []string) {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatalf("output does not open: %v", err)
	}
	defer f.Close()
	if len(f.Tensors) != nkeys {
		t.Errorf("output has %d tensors, want %d", len(f.Tensors), nkeys)
	}
	for _, k := range omitted {
		if _, ok := f.Tensors[k]; ok {
			t.Errorf("omitted key %s is in the output", k)
		}
	}
	want := map[string]string{
		"mecha_recipe":     recipe,
		"mechac_plan_hash": prog.Hash(),
		"mechac_numerics":  numerics,
	}
	for k, v := range want {
		if got, ok := f.Metadata[k]; !ok || got != v {
			t.Errorf("metadata %s = %q (present %t), want %q", k, got, ok, v)
		}
	}
	// Every tensor reads back finite and with the plan's dtype and shape.
	for _, k := range prog.Keys {
		ti, ok := f.Tensors[k.Name]
		if !ok {
			continue
		}
		if ti.DType.String() != k.DType || !ops.SameShape(ti.Shape, k.Shape) {
			t.Errorf("%s: %s %v in the file, plan says %s %v", k.Name, ti.DType, ti.Shape, k.DType, k.Shape)
		}
		data := make([]float64, ti.NumElements())
		if err := f.ReadFloat64(k.Name, data); err != nil {
			t.Fatal(err)
		}
		for _, x := range data {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Errorf("%s: non-finite value in the output", k.Name)
				break
			}
		}
	}
	if strings.Contains(recipe, "fallback") && nkeys != len(prog.Keys)-1 {
		t.Errorf("fallback: %d keys, want all but one", nkeys)
	}
}

// Options.OpenInput opens every input of the run, once, and the run still checks what it
// returns against the plan: a file other than the one compiled is refused.
func TestOpenInput(t *testing.T) {
	dir := t.TempDir()
	prog := abWeightedSum(t, dir, 6)
	writeModel(t, filepath.Join(dir, "c.safetensors"), ops.F32, testKeys(t, 6), 3, nil)
	want := runSum(t, prog, vm.Options{Registry: stdlib.Default()}, "plain")
	var mu sync.Mutex
	opened := map[string]int{}
	counting := func(path string) (*safetensors.File, error) {
		mu.Lock()
		opened[filepath.Base(path)]++
		mu.Unlock()
		return safetensors.Open(path)
	}
	if got := runSum(t, prog, vm.Options{Registry: stdlib.Default(), OpenInput: counting}, "OpenInput"); got != want {
		t.Error("the output differs with OpenInput")
	}
	if len(opened) != 2 || opened["a.safetensors"] != 1 || opened["b.safetensors"] != 1 {
		t.Errorf("OpenInput calls %v, want a and b once each", opened)
	}
	swapped := func(path string) (*safetensors.File, error) {
		if filepath.Base(path) == "b.safetensors" {
			path = filepath.Join(dir, "c.safetensors")
		}
		return safetensors.Open(path)
	}
	_, err := vm.Run(context.Background(), prog, vm.Options{Registry: stdlib.Default(), Output: filepath.Join(t.TempDir(), "o.safetensors"), OpenInput: swapped})
	if err == nil || !strings.Contains(err.Error(), "changed since the plan was compiled") {
		t.Errorf("another file handed over: error %v, want the plan's check to refuse it", err)
	}
}

// The output is made while the workers start: when that fails, Run reports Create's own error
// (not a key's) and leaves nothing behind, whether the folder is missing or the output is one
// of the inputs.
func TestOutputCreateError(t *testing.T) {
	dir := t.TempDir()
	prog := abWeightedSum(t, dir, 40)
	for _, c := range []struct{ name, out, want string }{
		{"missing folder", filepath.Join(dir, "nowhere", "o.safetensors"), "nowhere"},
		{"an input", filepath.Join(dir, "a.safetensors"), "input"},
	} {
		_, err := vm.Run(context.Background(), prog, vm.Options{Registry: stdlib.Default(), Output: c.out, Jobs: 2})
		var ke *vm.KeyError
		if err == nil || errors.As(err, &ke) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want Create's, naming %q", c.name, err, c.want)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("the folder holds %d files after the failed runs, want the 2 inputs", len(entries))
	}
}

// abWeightedSum writes float16 models a and b of n SDXL keys in dir and compiles their
// weighted sum at alpha 0.3.
func abWeightedSum(t *testing.T, dir string, n int) *bytecode.Program {
	t.Helper()
	keys := testKeys(t, n)
	writeModel(t, filepath.Join(dir, "a.safetensors"), ops.F16, keys, 1, nil)
	writeModel(t, filepath.Join(dir, "b.safetensors"), ops.F16, keys, 2, nil)
	src := "version 0.1.0\n" +
		`model "a.safetensors" model_config="sdxl-sgm" merge_space="weight"` + "\n" +
		`model "b.safetensors" model_config="sdxl-sgm" merge_space="weight"` + "\n" +
		`merge "weighted_sum" &0 &1 alpha=0.3`
	return compile(t, dir, src, "exact", ops.F16)
}
