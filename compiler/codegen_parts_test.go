package compiler

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/mechac/mechac/lang"
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
	"github.com/mechac/mechac/vm/bytecode"
)

// compileInParts compiles src with generation cut into parts of at least minKeys keys, at
// most maxParts of them (minKeys 0: in one piece), and returns the plan's text, or the error.
func compileInParts(t *testing.T, src string, opts Options, minKeys, maxParts int) string {
	t.Helper()
	defer func(k, p int) { generateMinKeys, generateMaxParts = k, p }(generateMinKeys, generateMaxParts)
	generateMinKeys, generateMaxParts = 1<<30, 0
	if minKeys > 0 {
		generateMinKeys, generateMaxParts = minKeys, maxParts
	}
	f, err := lang.Parse("recipe.mecha", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	opts.RecipeText = src
	res, err := Compile(f, opts)
	if err != nil {
		return "error: " + err.Error()
	}
	var b bytes.Buffer
	if err := bytecode.Fprint(&b, res.Program); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Generation in parts gives the plan generation in one piece gives, byte for byte: the same
// methods, constants and key classes in the same order, and the same errors. The golden
// recipes are cut into parts of one key and more (classes, constants and methods met again
// in later parts, and met first there); the benchmark's recipes over SDXL's 2515 keys as run
// does. A fold that appended every class of a part, or kept a part's own numbers, fails.
func TestGenerateParts(t *testing.T) {
	type recipe struct {
		name, src string
		opts      Options
	}
	var recipes []recipe
	files, err := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("golden archives: %v", err)
	}
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var src, modelsText string
		for _, f := range ar.Files {
			switch f.Name {
			case "recipe.mecha":
				src = strings.TrimSuffix(string(f.Data), "\n")
			case "models.txt":
				modelsText = string(f.Data)
			}
		}
		models, err := parseModels(modelsText)
		if err != nil {
			t.Fatal(err)
		}
		opts := goldenOptions(t, string(ar.Comment))
		opts.Models = models
		recipes = append(recipes, recipe{filepath.Base(file), src, opts})
	}
	// Keys that meet different methods and constants: the last key's part numbers
	// n_average and 0.75 first, the plan after the first keys' weighted_sum and 0.25.
	mixed, err := parseModels(`
a.safetensors first_stage_model.quant_conv.bias F16 [8]
a.safetensors first_stage_model.quant_conv.weight F16 [8,8,1,1]
b.safetensors first_stage_model.quant_conv.bias F16 [8]
b.safetensors first_stage_model.quant_conv.weight F16 [8,8,1,1]
c.safetensors model.diffusion_model.out.2.bias F16 [4]
d.safetensors model.diffusion_model.out.2.bias F16 [4]
`)
	if err != nil {
		t.Fatal(err)
	}
	mixedSrc := "version 0.1.0\n"
	for _, m := range []string{"a", "b", "c", "d"} {
		mixedSrc += fmt.Sprintf("model %q model_config=\"sdxl-sgm\" merge_space=\"weight\"\n", m+".safetensors")
	}
	mixedSrc += "merge \"weighted_sum\" &0 &1 alpha=0.25\nmerge \"n_average\" &2 &3\n" +
		"merge \"weighted_sum\" &5 &2 alpha=0.75\nmerge \"fallback\" &4 &6"
	recipes = append(recipes, recipe{"mixed", mixedSrc, Options{Registry: stdlib.Default(), OutputDType: ops.F16, Models: mixed}})
	reg := stdlib.Default()
	sdxl := sdxlModels(t, reg, 8, true)
	for _, r := range manyModelRecipes(8) {
		recipes = append(recipes, recipe{r[0], r[1], Options{Registry: reg, OutputDType: ops.F16, Models: sdxl}})
	}
	// Every key meets a method that cannot run: its error once, from one piece.
	pending := "version 0.1.0\nmodel \"m0.safetensors\" model_config=\"sdxl-sgm\" merge_space=\"weight\"\n" +
		"model \"m1.safetensors\" model_config=\"sdxl-sgm\" merge_space=\"weight\"\n" +
		"merge \"subtract\" &0 &1\nmerge \"subtract\" &1 &0\nmerge \"select_max_white_delta\" &2 &3\nmerge \"add_difference\" &0 &4"
	recipes = append(recipes, recipe{"pending", pending, Options{Registry: reg, OutputDType: ops.F16, Models: sdxl, Era: "1.0"}})

	for _, r := range recipes {
		want := compileInParts(t, r.src, r.opts, 0, 0)
		if r.name == "pending" && !strings.Contains(want, "cannot run yet") {
			t.Fatalf("pending: want the pending method's error, got %.300s", want)
		}
		for _, cut := range [][2]int{{1, 2}, {1, 3}, {2, 5}, {400, 0}, {600, 0}} {
			got := compileInParts(t, r.src, r.opts, cut[0], cut[1])
			if got != want {
				t.Errorf("%s in parts of at least %d keys (at most %d): the plan differs from one piece's\n%s",
					r.name, cut[0], cut[1], firstDiff(want, got))
			}
		}
	}
}

// firstDiff shows the first line where a and b differ.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n  one piece: %s\n  in parts:  %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("%d lines against %d", len(al), len(bl))
}
