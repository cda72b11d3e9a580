package compiler

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechac/mechac/compiler/ir"
	"github.com/mechac/mechac/lang"
	"github.com/mechac/mechac/lang/pos"
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
	"github.com/mechac/mechac/vm"
	"github.com/mechac/mechac/vm/bytecode"
	"github.com/mechac/mechac/vm/safetensors"
)

// passRecipe has a bit of everything the passes rewrite: singleton triples (fold),
// repeated subtractions and repeated constants (CSE), unused lines (DCE).
const passRecipe = `version 0.1.0
model "base.safetensors" model_config="sdxl-sgm" merge_space="weight"
model "a.safetensors" model_config="sdxl-sgm" merge_space="weight"
model "b.safetensors" model_config="sdxl-sgm" merge_space="weight"
dict key=0.25
literal &3 model_config="singleton-mecha" merge_space="param"
merge "convert_singleton" &4
merge "subtract" &1 &0
merge "subtract" &1 &0
merge "subtract" &2 &0
merge "n_average" &0 &1 &2
merge "scale" &6 alpha=0.5
merge "scale" &7 alpha=0.5
merge "add_difference" &0 &10 1.0
merge "add_difference" &12 &11 &5
merge "add_difference" &13 &8 0.3
merge "weighted_sum" &14 &1 &5`

// TestPassesKeepIRValid runs Lower, then every prefix of the pass table, and checks
// ir.Verify after each pass, and that the pass actually changed what it should.
func TestPassesKeepIRValid(t *testing.T) {
	reg := stdlib.Default()
	f, err := lang.Parse("r.mecha", []byte(passRecipe))
	if err != nil {
		t.Fatal(err)
	}
	fn, err := Lower(f, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(fn); err != nil {
		t.Fatalf("after Lower: %v", err)
	}
	countOp := func(op ir.Op, name string) int {
		n := 0
		for _, v := range fn.Values {
			if v.Op == op && (name == "" || v.Def.Name == name) {
				n++
			}
		}
		return n
	}
	if got := countOp(ir.OpMerge, "subtract"); got != 3 {
		t.Fatalf("before passes: %d subtracts, want 3", got)
	}
	for _, p := range passes {
		p.fn(fn)
		if err := ir.Verify(fn); err != nil {
			var b bytes.Buffer
			ir.Fprint(&b, fn)
			t.Fatalf("after %s: %v\n%s", p.name, err, b.String())
		}
		switch p.name {
		case "fold":
			if n := countOp(ir.OpMerge, "convert_singleton"); n != 0 {
				t.Errorf("after fold: %d convert_singleton left", n)
			}
		case "cse":
			// CSE rewires operands; the duplicates are still in Values until DCE.
			users := map[*ir.Value]bool{}
			for _, v := range fn.Values {
				if v.Op == ir.OpMerge && v.Def.Name == "scale" {
					users[v.Args[0]] = true
				}
			}
			if len(users) != 1 {
				t.Errorf("after cse: the two scale lines read %d different subtracts, want 1", len(users))
			}
		case "dce":
			if err := ir.VerifyLive(fn); err != nil {
				t.Errorf("after dce: %v", err)
			}
			if n := countOp(ir.OpMerge, "subtract"); n != 2 {
				t.Errorf("after dce: %d subtracts, want 2 (a-base, b-base)", n)
			}
			if n := countOp(ir.OpMerge, "n_average"); n != 0 {
				t.Errorf("after dce: the unused n_average survived")
			}
			if n := countOp(ir.OpDict, ""); n != 0 {
				t.Errorf("after dce: %d dicts left", n)
			}
		}
	}
	// The passes are idempotent: a second round changes nothing.
	var first, second bytes.Buffer
	ir.Fprint(&first, fn)
	Optimize(fn)
	if err := ir.Verify(fn); err != nil {
		t.Fatal(err)
	}
	ir.Fprint(&second, fn)
	if first.String() != second.String() {
		t.Errorf("Optimize is not idempotent:\n--- once ---\n%s--- twice ---\n%s", first.String(), second.String())
	}
}

// TestVerifyRejects: ir.Verify catches broken IR (so the test above can fail).
func TestVerifyRejects(t *testing.T) {
	reg := stdlib.Default()
	f, err := lang.Parse("r.mecha", []byte(hdrAB+`merge "weighted_sum" &0 &1`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		break_ func(fn *ir.Func)
		want   string
	}{
		{"bad id", func(fn *ir.Func) { fn.Values[1].ID = 7 }, "v7 at position 1"},
		{"later operand", func(fn *ir.Func) {
			fn.Values[0], fn.Values[len(fn.Values)-1] = fn.Values[len(fn.Values)-1], fn.Values[0]
			fn.Renumber()
		}, "not defined before it"},
		{"arity", func(fn *ir.Func) { fn.Root.Args = fn.Root.Args[:2] }, "2 args"},
		{"root", func(fn *ir.Func) { fn.Root = &ir.Value{ID: 42} }, "root v42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn, err := Lower(f, reg, nil)
			if err != nil {
				t.Fatal(err)
			}
			tt.break_(fn)
			err = ir.Verify(fn)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Verify = %v, want %q", err, tt.want)
			}
		})
	}
}

// diskModels is a ModelSource reading real headers from a folder.
type diskModels string

func (d diskModels) Model(p string) (*ModelInfo, error) {
	path := filepath.Join(string(d), p)
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info := &ModelInfo{Path: path, Size: f.Size, HeaderHash: hex.EncodeToString(f.HeaderHash[:]), Tensors: map[string]TensorInfo{}}
	for name, ti := range f.Tensors {
		info.Tensors[name] = TensorInfo{DType: ti.DType, Shape: ti.Shape}
	}
	return info, nil
}

// writeTestModel writes deterministic pseudo-random values (seeded) under the given keys.
func writeTestModel(t *testing.T, path string, dtype ops.DType, shapes map[string][]int, seed uint64, nan map[string]bool) {
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
	x := seed*2654435761 + 1
	for k, s := range shapes {
		data := make([]float64, ops.NumElements(s))
		for i := range data {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			data[i] = float64(int64(x%2001)-1000) / 997
		}
		if nan[k] {
			data[len(data)/2] = math.NaN()
		}
		if err := w.WriteFloat64(k, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// compileWith is Compile with a chosen subset of the pass table.
func compileWith(t *testing.T, src string, models ModelSource, numerics ops.Numerics, use map[string]bool) *bytecode.Program {
	t.Helper()
	reg := stdlib.Default()
	f, err := lang.Parse("r.mecha", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	fn, err := Lower(f, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range passes {
		if use[p.name] {
			p.fn(fn)
			if err := ir.Verify(fn); err != nil {
				t.Fatalf("after %s: %v", p.name, err)
			}
		}
	}
	opts := Options{Registry: reg, Numerics: numerics, OutputDType: ops.F64, Models: models, RecipeText: src}
	c := &compilation{opts: opts, fn: fn}
	var errs pos.ErrorList
	errs = append(errs, checkTypes(fn, nil)...)
	errs = append(errs, checkSpaces(fn)...)
	errs = append(errs, checkConfigs(fn, reg)...)
	if len(errs) > 0 {
		t.Fatalf("checks: %v", errs)
	}
	if errs := c.resolveModels(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if errs := checkConfigs(fn, reg); len(errs) > 0 {
		t.Fatal(errs)
	}
	c.computeKeySets()
	prog, err := c.generate()
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	return prog
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// tensorBits reads every tensor of a file as float64 bits.
func tensorBits(t *testing.T, path string) map[string][]uint64 {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]uint64{}
	for name, ti := range f.Tensors {
		data := make([]float64, ti.NumElements())
		if err := f.ReadFloat64(name, data); err != nil {
			t.Fatal(err)
		}
		bits := make([]uint64, len(data))
		for i, x := range data {
			bits[i] = math.Float64bits(x)
		}
		out[name] = bits
	}
	return out
}

// TestOptimizerDifferential: the recipe compiled with every subset of CSE and DCE (fold is
// needed for the singleton triples to compile; a second recipe without triples also runs
// with no pass at all) gives bit-identical tensors, in both numerics modes, including a
// non-finite input under a fallback.
func TestOptimizerDifferential(t *testing.T) {
	dir := t.TempDir()
	shapes := map[string][]int{
		"first_stage_model.quant_conv.bias":   {8},
		"first_stage_model.quant_conv.weight": {8, 8, 1, 1},
		"model.diffusion_model.out.2.bias":    {4},
	}
	writeTestModel(t, filepath.Join(dir, "base.safetensors"), ops.F32, shapes, 1, nil)
	writeTestModel(t, filepath.Join(dir, "a.safetensors"), ops.F16, shapes, 2, map[string]bool{"model.diffusion_model.out.2.bias": true})
	writeTestModel(t, filepath.Join(dir, "b.safetensors"), ops.BF16, shapes, 3, nil)

	noTriples := strings.NewReplacer(
		"dict key=0.25\n", "",
		`literal &3 model_config="singleton-mecha" merge_space="param"`+"\n", "",
		`merge "convert_singleton" &4`+"\n", "",
	).Replace(passRecipe)
	// Renumber references after removing three lines: &k for k >= 6 becomes &(k-3), &5 → 0.25.
	noTriples = renumberRefs(noTriples)
	recipes := map[string]string{"triples": passRecipe, "plain": noTriples,
		"fallback": passRecipe + "\nmerge \"fallback\" &1 &15",
	}
	subsets := []map[string]bool{
		{"fold": true, "cse": true, "dce": true},
		{"fold": true},
		{"fold": true, "cse": true},
		{"fold": true, "dce": true},
		{},
	}
	for name, src := range recipes {
		for _, numerics := range []ops.Numerics{ops.Exact, ops.SDMecha} {
			var ref map[string][]uint64
			var refName string
			for _, use := range subsets {
				if len(use) == 0 && name != "plain" {
					continue
				}
				label := fmt.Sprintf("%s/%s/fold=%t,cse=%t,dce=%t", name, numerics, use["fold"], use["cse"], use["dce"])
				prog := compileWith(t, src, diskModels(dir), numerics, use)
				out := filepath.Join(t.TempDir(), "out.safetensors")
				if _, err := vm.Run(context.Background(), prog, vm.Options{Registry: stdlib.Default(), Output: out, Jobs: 2}); err != nil {
					t.Fatalf("%s: run: %v", label, err)
				}
				got := tensorBits(t, out)
				if ref == nil {
					ref, refName = got, label
					if len(ref) == 0 {
						t.Fatalf("%s: no tensors", label)
					}
					continue
				}
				if len(got) != len(ref) {
					t.Errorf("%s: %d tensors, %s has %d", label, len(got), refName, len(ref))
				}
				for k, want := range ref {
					g := got[k]
					if len(g) != len(want) {
						t.Errorf("%s: key %s: %d elements, want %d", label, k, len(g), len(want))
						continue
					}
					for i := range want {
						if g[i] != want[i] {
							t.Errorf("%s: key %s[%d] = %x, %s has %x", label, k, i, g[i], refName, want[i])
							break
						}
					}
				}
			}
		}
	}
}

// renumberRefs rewrites &N for the recipe with its three singleton lines (3, 4, 5) removed:
// &5 (the singleton) becomes the number 0.25, &N (N > 5) becomes &(N-3).
func renumberRefs(src string) string {
	var b strings.Builder
	for i := 0; i < len(src); i++ {
		if src[i] != '&' {
			b.WriteByte(src[i])
			continue
		}
		j := i + 1
		for j < len(src) && src[j] >= '0' && src[j] <= '9' {
			j++
		}
		var n int
		fmt.Sscan(src[i+1:j], &n)
		switch {
		case n == 5:
			b.WriteString("0.25")
		case n > 5:
			fmt.Fprintf(&b, "&%d", n-3)
		default:
			fmt.Fprintf(&b, "&%d", n)
		}
		i = j - 1
	}
	return b.String()
}
