package compiler

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechac/mechac/lang"
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
	"github.com/mechac/mechac/vm"
	"github.com/mechac/mechac/vm/bytecode"
)

// fuseShapes are keys of every kind the eras treat differently: unet (merged), text encoder
// (merged, different block weight), VAE (0.0.x passthrough).
var fuseShapes = map[string][]int{
	"model.diffusion_model.out.2.bias":                                     {4},
	"model.diffusion_model.out.2.weight":                                   {4, 8, 3, 3},
	"conditioner.embedders.0.transformer.text_model.final_layer_norm.bias": {16},
	"first_stage_model.quant_conv.bias":                                    {8},
}

// chainRecipe is a dialect C weighted_sum chain of n models with the x43 recipe's weights
// (the running mean: weighted_sum(m_k, mean_k, alpha=k/(k+1))), models &0..&n-1.
func chainRecipe(n int, extra string) string {
	var b strings.Builder
	b.WriteString("version 0.1.0\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "model \"m%d.safetensors\" model_config=\"sdxl-sgm\" merge_space=\"weight\"\n", i)
	}
	prev := 0
	line := n
	for k := 1; k < n; k++ {
		fmt.Fprintf(&b, "merge \"weighted_sum\" &%d &%d alpha=%v\n", k, prev, float64(k)/float64(k+1))
		prev = line
		line++
	}
	b.WriteString(strings.ReplaceAll(extra, "&LAST", fmt.Sprintf("&%d", prev)))
	return strings.TrimSuffix(b.String(), "\n")
}

// fuseCases are recipes over models m0..m5 exercising every linear method, kernel shortcuts
// (alpha 0 and 1 inside a chain), subtract(&x, &x) and a non-finite input.
func fuseCases() map[string]string {
	hdr := chainRecipe(6, "")
	return map[string]string{
		"chain48":  chainRecipe(48, ""),
		"chain6":   chainRecipe(6, ""),
		"adddiff":  hdr + "\nmerge \"subtract\" &1 &0\nmerge \"subtract\" &2 &0\nmerge \"add_difference\" &3 &11 0.7\nmerge \"add_difference\" &13 &12 alpha=1.3\nmerge \"scale\" &12 alpha=0.4\nmerge \"add_difference\" &14 &15",
		"navg":     hdr + "\nmerge \"n_average\" &0 &1 &2\nmerge \"n_average\" &11 &3 &4\nmerge \"weighted_sum\" &12 &10 alpha=0.3",
		"shortcut": hdr + "\nmerge \"weighted_sum\" &0 &10 alpha=0\nmerge \"weighted_sum\" &10 &1 alpha=1\nmerge \"weighted_sum\" &11 &12 alpha=0.25\nmerge \"subtract\" &2 &3\nmerge \"add_difference\" &13 &14 alpha=0\nmerge \"scale\" &14 alpha=0\nmerge \"add_difference\" &15 &16 alpha=0.5",
		"selfsub":  hdr + "\nmerge \"subtract\" &5 &5\nmerge \"add_difference\" &10 &11 alpha=0.5",
	}
}

func writeFuseModels(t *testing.T, dir string, n int, nan map[int]string) {
	t.Helper()
	for i := 0; i < n; i++ {
		var bad map[string]bool
		if k, ok := nan[i]; ok {
			bad = map[string]bool{k: true}
		}
		writeTestModel(t, filepath.Join(dir, fmt.Sprintf("m%d.safetensors", i)), []ops.DType{ops.F16, ops.F32, ops.BF16}[i%3], fuseShapes, uint64(i+1), bad)
	}
}

// runRecipe compiles src (with the whole pass table and the given options) and runs it with
// float64 output; it returns the tensors' values and the plan.
func runRecipe(t *testing.T, name, src string, opts Options) (map[string][]float64, *bytecode.Program) {
	t.Helper()
	f, err := lang.Parse(name, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	opts.Registry = stdlib.Default()
	opts.OutputDType = ops.F64
	opts.RecipeText = src
	res, err := Compile(f, opts)
	if err != nil {
		t.Fatalf("%s: compile: %v", name, err)
	}
	out := filepath.Join(t.TempDir(), "out.safetensors")
	if _, err := vm.Run(context.Background(), res.Program, vm.Options{Registry: stdlib.Default(), Output: out, Jobs: 2, Warn: func(string) {}}); err != nil {
		t.Fatalf("%s: run: %v", name, err)
	}
	vals := map[string][]float64{}
	for k, bits := range tensorBits(t, out) {
		xs := make([]float64, len(bits))
		for i, b := range bits {
			xs[i] = math.Float64frombits(b)
		}
		vals[k] = xs
	}
	return vals, res.Program
}

func countMethod(p *bytecode.Program, name string) int {
	n := 0
	for _, c := range p.Classes {
		for _, in := range c.Instrs {
			if in.Op == bytecode.CALL && p.Methods[in.B] == name {
				n++
			}
		}
	}
	return n
}

// fuseTolerance is SPEC.md §3.5's bound for unit-size inputs: the chain rounds once per node
// (error <= 2^-53 times the running value) and the fused sum once per term, so the two differ
// by at most a few units of 2^-53 per node.
func fuseTolerance(nodes int) float64 { return 4 * float64(nodes+1) * 0x1p-53 * 2 }

// TestFuseDifferential: with and without the per-key rewrites (fold, fusion), sd-mecha
// numerics give the same bits and exact numerics agree within the stated tolerance, with
// the same keys, also when an input has a NaN (which drops the key, or leaks as the chain's).
func TestFuseDifferential(t *testing.T) {
	dir := t.TempDir()
	writeFuseModels(t, dir, 48, map[int]string{5: "model.diffusion_model.out.2.bias"})
	for name, src := range fuseCases() {
		for _, numerics := range []ops.Numerics{ops.Exact, ops.SDMecha} {
			for _, keep := range []bool{false, true} {
				label := fmt.Sprintf("%s/%s/keep-non-finite=%t", name, numerics, keep)
				base := Options{Numerics: numerics, Models: diskModels(dir), KeepNonFinite: keep}
				off := base
				off.NoFold, off.NoFuse = true, true
				want, _ := runRecipe(t, name+".mecha", src, off)
				got, prog := runRecipe(t, name+".mecha", src, base)
				fused := countMethod(prog, ops.LinearCombination)
				if numerics == ops.SDMecha && fused != 0 {
					t.Errorf("%s: %d linear_combination calls in sd-mecha numerics", label, fused)
				}
				if numerics == ops.Exact && fused == 0 {
					t.Errorf("%s: nothing fused", label)
				}
				compareOutputs(t, label, got, want, numerics == ops.SDMecha, fuseTolerance(48))
			}
		}
	}
}

func compareOutputs(t *testing.T, label string, got, want map[string][]float64, bitwise bool, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d keys, unoptimized %d", label, len(got), len(want))
	}
	worst := 0.0
	defer func() { t.Logf("%s: largest difference %g (%.1f × 2^-53)", label, worst, worst/0x1p-53) }()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: key %s missing", label, k)
			continue
		}
		for i := range w {
			a, b := g[i], w[i]
			if d := math.Abs(a - b); d > worst {
				worst = d
			}
			switch {
			case bitwise && math.Float64bits(a) != math.Float64bits(b):
				t.Errorf("%s: %s[%d] = %v, unoptimized %v", label, k, i, a, b)
				return
			case math.IsNaN(a) != math.IsNaN(b) || math.IsInf(a, 0) != math.IsInf(b, 0):
				t.Errorf("%s: %s[%d] = %v, unoptimized %v (non-finite differs)", label, k, i, a, b)
				return
			case math.Abs(a-b) > tol:
				t.Errorf("%s: %s[%d] = %v, unoptimized %v (diff %g > %g)", label, k, i, a, b, math.Abs(a-b), tol)
				return
			}
		}
	}
}

// TestFusePlans: what the rewrites make of each case, in exact numerics (not streamed:
// TestStreamBitwise covers the streamed form of the fused calls).
func TestFusePlans(t *testing.T) {
	dir := t.TempDir()
	writeFuseModels(t, dir, 48, nil)
	tests := []struct {
		name    string
		keep    bool
		methods map[string]int // CALLs per method over all classes
	}{
		// 47 weighted_sums become one call of 48 terms.
		{"chain48", false, map[string]int{"linear_combination": 1, "weighted_sum": 0}},
		// alpha 0 and 1 are kernel shortcuts: folded when the dropped input cannot go missing
		// (--keep-non-finite), else kept as calls, the chain around them fused.
		{"shortcut", true, map[string]int{"weighted_sum": 0, "add_difference": 0, "scale": 1, "linear_combination": 1}},
		{"shortcut", false, map[string]int{"weighted_sum": 3, "add_difference": 2, "scale": 1, "linear_combination": 1}},
		// subtract(&x, &x) is the term 0*x inside the sum: NaN where x is not finite.
		{"selfsub", false, map[string]int{"subtract": 0, "add_difference": 0, "linear_combination": 1}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/keep=%t", tt.name, tt.keep), func(t *testing.T) {
			_, prog := runRecipe(t, tt.name+".mecha", fuseCases()[tt.name], Options{Numerics: ops.Exact, Models: diskModels(dir), KeepNonFinite: tt.keep, NoStream: true})
			for m, want := range tt.methods {
				if got := countMethod(prog, m); got != want {
					t.Errorf("%s: %d CALLs, want %d", m, got, want)
				}
			}
		})
	}
}

// TestFuseCoefficients: the 48-deep running mean fuses to 48 coefficients of exactly 1/48
// (computed in rationals from the rounded alphas, rounded once; not streamed, so that they are
// one constant).
func TestFuseCoefficients(t *testing.T) {
	dir := t.TempDir()
	writeFuseModels(t, dir, 48, nil)
	_, prog := runRecipe(t, "c.mecha", chainRecipe(48, ""), Options{Numerics: ops.Exact, Models: diskModels(dir), NoStream: true})
	var coefs string
	for _, c := range prog.Consts {
		if c.Kind == bytecode.ConstString {
			coefs = c.S
		}
	}
	cs, err := ops.ParseCoefficients(coefs)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 48 {
		t.Fatalf("%d coefficients, want 48", len(cs))
	}
	for i, c := range cs {
		// k/(k+1) rounded to float64 is not exact, so the products are 1/48 to within a few
		// ulps, not exactly; the sum of the coefficients is 1 to the same precision.
		if math.Abs(c-1.0/48) > 8*0x1p-53 {
			t.Errorf("c[%d] = %v, want about 1/48", i, c)
		}
	}
}

// TestFuseUnionEra: a dialect A recipe (sd-mecha 0.0.4: union of keys, passthrough keys,
// per-component block weights as alpha) keeps its keys and values when fused, including a
// key one model lacks and alpha 0/1 per component as in the real x43 recipe.
func TestFuseUnionEra(t *testing.T) {
	dir := t.TempDir()
	writeFuseModels(t, dir, 6, nil)
	// m6 lacks a unet key: merges reading it fall back to the era's missing rule.
	partial := map[string][]int{}
	for k, s := range fuseShapes {
		if k != "model.diffusion_model.out.2.bias" {
			partial[k] = s
		}
	}
	writeTestModel(t, filepath.Join(dir, "m6.safetensors"), ops.F16, partial, 7, nil)
	x43, err := os.ReadFile(filepath.Join("..", "..", "shared", "recipes", "astolfomix", "x43-AstolfoMix-x21te0x30te1-e2e-240222-60d0764.mecha"))
	dictLine := ""
	if err == nil {
		for _, l := range strings.Split(string(x43), "\n") {
			if strings.HasPrefix(l, "dict ") {
				dictLine = l
				break
			}
		}
	}
	if dictLine == "" {
		dictLine = "dict sdxl_unet_class_default=1.0 g14_txt_class_default=0.0"
	}
	var b strings.Builder
	for i := 0; i < 7; i++ {
		fmt.Fprintf(&b, "model \"m%d.safetensors\"\n", i)
	}
	b.WriteString(`call "weighted_sum" &1 &2 alpha=0.5
call "weighted_sum" &3 &7 alpha=0.6666666666666666
call "weighted_sum" &4 &8 alpha=0.75
call "weighted_sum" &6 &9 alpha=0.8
` + dictLine + `
call "weighted_sum" &0 &10 alpha=&11
call "weighted_sum" &5 &12 alpha=0.25`)
	src := b.String()
	for _, numerics := range []ops.Numerics{ops.Exact, ops.SDMecha} {
		label := fmt.Sprintf("x43-like/%s", numerics)
		base := Options{Numerics: numerics, Models: diskModels(dir), Era: "0.0.4"}
		off := base
		off.NoFold, off.NoFuse = true, true
		want, _ := runRecipe(t, "x43like.mecha", src, off)
		got, prog := runRecipe(t, "x43like.mecha", src, base)
		if numerics == ops.Exact && countMethod(prog, ops.LinearCombination) == 0 {
			t.Errorf("%s: nothing fused", label)
		}
		compareOutputs(t, label, got, want, numerics == ops.SDMecha, fuseTolerance(8))
	}
}

// TestFuseGoldenRecipes: every case of ../shared/golden (sd-mecha's own recipes and models)
// whose plan the per-key rewrites change runs with and without them: the same bits in
// sd-mecha numerics, within the stated tolerance (relative to the value, for inputs of any
// size) in exact numerics.
func TestFuseGoldenRecipes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the golden cases twice (about 30 s)")
	}
	root := filepath.Join("..", "..", "shared", "golden")
	cases, _ := filepath.Glob(filepath.Join(root, "*", "case.json"))
	if len(cases) == 0 {
		t.Skip("no ../shared/golden")
	}
	changed := 0
	for _, cj := range cases {
		dir := filepath.Dir(cj)
		src, err := os.ReadFile(filepath.Join(dir, "recipe.mecha"))
		if err != nil {
			continue
		}
		models := diskModels(filepath.Join(root, "_pool"))
		f, err := lang.Parse("recipe.mecha", src)
		if err != nil {
			continue
		}
		for _, numerics := range []ops.Numerics{ops.Exact, ops.SDMecha} {
			base := Options{Registry: stdlib.Default(), Numerics: numerics, OutputDType: ops.F64, Models: models, RecipeText: string(src)}
			off := base
			off.NoFold, off.NoFuse = true, true
			ra, errA := Compile(f, base)
			rb, errB := Compile(f, off)
			if errA != nil || errB != nil {
				continue // a method not implemented yet, or an error case
			}
			if ra.Program.Text() == rb.Program.Text() {
				continue
			}
			changed++
			label := filepath.Base(dir) + "/" + numerics.String()
			want, _ := runRecipe(t, "recipe.mecha", string(src), off)
			got, _ := runRecipe(t, "recipe.mecha", string(src), base)
			scaled := map[string][]float64{}
			for k, w := range want {
				// relative tolerance: compare g/max(1,|w|) with w/max(1,|w|)
				g := got[k]
				if len(g) != len(w) {
					continue
				}
				s := make([]float64, len(w))
				for i := range w {
					s[i] = g[i]/max(1, math.Abs(w[i])) - w[i]/max(1, math.Abs(w[i])) + w[i]/max(1, math.Abs(w[i]))
				}
				scaled[k] = s
				want[k] = append([]float64(nil), w...)
				for i := range w {
					want[k][i] = w[i] / max(1, math.Abs(w[i]))
				}
			}
			if numerics == ops.SDMecha {
				compareOutputs(t, label, got, want, true, 0)
			} else {
				compareOutputs(t, label, scaled, want, false, fuseTolerance(64))
			}
		}
	}
	t.Logf("%d golden plans changed by the rewrites", changed)
}
