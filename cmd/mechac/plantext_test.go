package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/bytecode"
	"github.com/mechac/mechac/vm/safetensors"
	"github.com/rogpeppe/go-internal/txtar"
)

// allFeatures is a plan using every line and instruction form of the text: era, nan-to-num,
// content hashes, every constant kind (float32 scalars, strings with quotes and ", "), list
// arguments, keyword-only and varargs groups, calls at another key with an alternative,
// branches, and aliased loads.
func allFeatures() *bytecode.Program {
	reg := func(i int) bytecode.Operand { return bytecode.Operand{Kind: bytecode.OpReg, Index: i} }
	cst := func(i int) bytecode.Operand { return bytecode.Operand{Kind: bytecode.OpConst, Index: i} }
	return &bytecode.Program{
		Version: bytecode.Version, Numerics: "sd-mecha", OutputDType: "BF16", Era: "fork-1.0.9-nan2num",
		OmitNonFinite: false, NanToNumOutput: true, RecipeHash: "ab12",
		Inputs: []bytecode.Input{
			{Path: `dir/a "quoted".safetensors`, Size: 10, HeaderHash: "h0", ContentHash: "c0"},
			{Path: "b.safetensors", Size: 20, HeaderHash: "h1"},
		},
		Methods: []string{"weighted_sum", "linear_combination", "lora_to_delta@1.0", "fallback"},
		Consts: []bytecode.Const{
			{Kind: bytecode.ConstScalar, F: 0.30000001192092896, F32: true},
			{Kind: bytecode.ConstString, S: `a, "b"`},
			{Kind: bytecode.ConstInt, I: 1},
			{Kind: bytecode.ConstFloat, F: 1},
			{Kind: bytecode.ConstNull},
			{Kind: bytecode.ConstBool, B: true},
			{Kind: bytecode.ConstFloat, F: -2.5e-300},
		},
		Classes: []bytecode.Code{{NumRegs: 6, Instrs: []bytecode.Instr{
			{Op: bytecode.LOAD, A: 0, B: 0, C: 0},
			{Op: bytecode.LOAD, A: 1, B: 1, C: 1},
			{Op: bytecode.CALL, A: 2, B: 0, Operands: []bytecode.Operand{reg(0), reg(1), cst(0)}, NArgs: 3},
			{Op: bytecode.CALL, A: 3, B: 1, Operands: []bytecode.Operand{reg(0), reg(2), cst(1)}, NVar: 2},
			{Op: bytecode.CALL, A: 4, B: 2, Operands: []bytecode.Operand{reg(0), reg(1), cst(2), cst(4), cst(5), cst(6)},
				NArgs: 2, Counts: []int{2, -1, -1, -1, -1}, Key: "lora.key", Alt: 1},
			{Op: bytecode.JPRESENT, A: 4, B: 8},
			{Op: bytecode.MISS, A: 5},
			{Op: bytecode.JUMP, B: 9},
			{Op: bytecode.MOVE, A: 5, B: 4},
			{Op: bytecode.NOP},
			{Op: bytecode.FREE, A: 0},
			{Op: bytecode.CALL, A: 5, B: 3, Operands: []bytecode.Operand{reg(5), cst(3), {Kind: bytecode.OpAbsent}}, NArgs: 1},
			{Op: bytecode.STORE, A: 5},
		}}, {NumRegs: 1, Instrs: []bytecode.Instr{{Op: bytecode.LOAD}, {Op: bytecode.STORE}}}},
		Keys: []bytecode.Key{
			{Name: "k.a", Class: 0, Loads: []string{"k.a", "alias.of.a"}, Shape: []int{2, 3}, DType: "BF16", Peak: 96},
			{Name: "k.b", Class: 1, Loads: []string{"k.b"}, Shape: []int{}, DType: "BF16", Peak: 8},
		},
	}
}

// TestPlanTextRoundTrip: print(read(print(p))) == print(p) for the plan above and every
// compiler golden plan.
func TestPlanTextRoundTrip(t *testing.T) {
	texts := map[string]string{"all features": allFeatures().Text()}
	archives, _ := filepath.Glob(filepath.Join("..", "..", "compiler", "testdata", "*.txtar"))
	for _, a := range archives {
		ar, err := txtar.ParseFile(a)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range ar.Files {
			if f.Name == "plan.txt" {
				texts[filepath.Base(a)] = string(f.Data)
			}
		}
	}
	if len(texts) < 5 {
		t.Fatalf("only %d plans", len(texts))
	}
	for name, text := range texts {
		p, err := readPlan([]byte(text))
		if err != nil {
			t.Errorf("%s: %v\n%s", name, err, text)
			continue
		}
		if got := p.Text(); got != text {
			t.Errorf("%s: round trip differs:\n--- got ---\n%s--- want ---\n%s", name, got, text)
		}
		if p.Hash() != mustRead(t, text).Hash() {
			t.Errorf("%s: hash is not stable", name)
		}
	}
	// The equal-looking constants int 1 and float 1 stay two constants.
	p, _ := readPlan([]byte(allFeatures().Text()))
	if p.Consts[2].Kind != bytecode.ConstInt || p.Consts[3].Kind != bytecode.ConstFloat {
		t.Errorf("consts 2, 3 = %v, %v", p.Consts[2], p.Consts[3])
	}
}

func mustRead(t *testing.T, text string) *bytecode.Program {
	p, err := readPlan([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPlanTextErrors(t *testing.T) {
	good := allFeatures().Text()
	tests := []struct{ name, text, want string }{
		{"empty", "", "empty plan"},
		{"not a plan", "version 0.1.0\n", "line 1: unknown line"},
		{"version", strings.Replace(good, "mechac plan 1", "mechac plan 9", 1), "plan version"},
		{"unknown method", strings.Replace(good, "fallback(", "nosuch(", 1), `method "nosuch" is not in the method table`},
		{"unknown operand", strings.Replace(good, "r1, scalar(0.30000001192092896))", "r1, q)", 1), `operand "q" is no register`},
		{"bad const", strings.Replace(good, "const 2 int 1", "const 2 int x", 1), "const 2"},
		{"pc order", strings.Replace(good, "    1 LOAD", "    7 LOAD", 1), "want pc 1"},
		{"verify", strings.Replace(good, "LOAD r1, in1[1]", "LOAD r1, in7[1]", 1), "does not verify"},
		{"key field", strings.Replace(good, "peak=96", "peek=96", 1), "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readPlan([]byte(tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("readPlan = %v, want %q", err, tt.want)
			}
		})
	}
}

// writeConstModel writes a float32 model whose every value is v: two such files with different v
// have the same header (same keys, dtypes, shapes, offsets) and different data.
func writeConstModel(t *testing.T, path string, v float64) {
	t.Helper()
	keys := []string{"model.diffusion_model.out.2.bias", "model.diffusion_model.out.2.weight"}
	shapes := [][]int{{4}, {4, 8, 3, 3}}
	var outs []safetensors.OutTensor
	for i, k := range keys {
		outs = append(outs, safetensors.OutTensor{Name: k, DType: ops.F32, Shape: shapes[i]})
	}
	w, err := safetensors.Create(path, outs, nil, safetensors.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for i, k := range keys {
		data := make([]float64, ops.NumElements(shapes[i]))
		for j := range data {
			data[j] = v
		}
		if err := w.WriteFloat64(k, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestDiffHashInputs: two models with the same header are the same input to a header
// fingerprint; --hash-inputs tells them apart, in recipes and in saved plans.
func TestDiffHashInputs(t *testing.T) {
	dir := t.TempDir()
	writeConstModel(t, filepath.Join(dir, "x.safetensors"), 1)
	writeConstModel(t, filepath.Join(dir, "y.safetensors"), 2)
	writeConstModel(t, filepath.Join(dir, "base.safetensors"), 0)
	recipe := func(name, model string) string {
		p := filepath.Join(dir, name)
		src := "version 0.1.0\nmodel \"base.safetensors\" model_config=\"sdxl-sgm\"\nmodel \"" + model +
			"\" model_config=\"sdxl-sgm\"\nmerge \"weighted_sum\" &0 &1 alpha=0.5"
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := recipe("a.mecha", "x.safetensors"), recipe("b.mecha", "y.safetensors")
	plan := filepath.Join(dir, "a.plan")
	run := func(args ...string) (int, string) {
		var out, errOut strings.Builder
		code := mainEnv(&env{stdout: &out, stderr: &errOut}, args)
		return code, out.String() + errOut.String()
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"header only", []string{"diff", a, b}, 0, "equivalent"},
		{"content", []string{"diff", "--hash-inputs", a, b}, 1, "input 1 swapped: " + filepath.Join(dir, "x.safetensors") + " (content "},
		{"compile", []string{"compile", "--hash-inputs", a, "-o", plan}, 0, ""},
		{"plan vs recipe", []string{"diff", "--hash-inputs", plan, a}, 0, "equivalent"},
		{"plan vs other", []string{"diff", "--hash-inputs", plan, b}, 1, "same header"},
		// without --hash-inputs on both sides, content hashes are not compared
		{"plan vs other, headers", []string{"diff", plan, b}, 0, "equivalent"},
	}
	for _, tt := range tests {
		code, out := run(tt.args...)
		if code != tt.code || !strings.Contains(out, tt.want) {
			t.Errorf("%s: mechac %s: exit %d, want %d; output:\n%s", tt.name, strings.Join(tt.args, " "), code, tt.code, out)
		}
	}
	text, err := os.ReadFile(plan)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(text), " content=sha256:"); n != 2 {
		t.Errorf("plan has %d content hashes, want 2:\n%s", n, text)
	}
}
