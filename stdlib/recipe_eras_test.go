package stdlib_test

import (
	"strings"
	"testing"

	"github.com/mechac/mechac/compiler"
	"github.com/mechac/mechac/lang"
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
)

// TestOldDialectEraDefinitions compiles small dialect A and B recipes (no models) in the eras of their
// commits and checks the definition every merge line resolved to and the keywords it bound:
// rotate's alpha/beta of 0.0.5 against alignment/alpha from 0.0.6, clamp's midrange up to
// 0.0.24 against its mean after, add_cosine's required alpha, add_difference's default alpha
// (0.5 up to 0.0.16 and the fork's 01823a9, 1.0 from 6abe8ac in 0.0.18 and the fork's 3360d18).
func TestOldDialectEraDefinitions(t *testing.T) {
	// Dialect B models name their arch and component; dialect A's (`call` lines) only a path.
	const modelsB = `model "a.safetensors" "sdxl" "base"` + "\n" + `model "b.safetensors" "sdxl" "base"` + "\n"
	const modelsA = `model "a.safetensors"` + "\n" + `model "b.safetensors"` + "\n"
	const subB = `merge "subtract" &1 &0` + "\n" // &2, a delta
	tests := []struct {
		name, era, line string
		pre             string             // lines before line (after the two models)
		want            string             // FullName of the merge's definition
		kw              map[string]float64 // keyword values bound
		err             string             // substring of the compile error
	}{
		// The sd-mecha example incompatible_fusion@953313a ends with this rotate.
		{name: "rotate 0.0.5", era: "953313a", line: `merge "rotate" &0 &1 alpha=1.0 beta=0.0231`,
			want: "rotate@0.0.5", kw: map[string]float64{"alpha": 1, "beta": 0.0231}},
		{name: "rotate 0.0.4", era: "60d0764", line: `call "rotate" &0 &1 alpha=0.5 beta=0.25`,
			want: "rotate@0.0.4", kw: map[string]float64{"alpha": 0.5, "beta": 0.25}},
		{name: "rotate 0.0.4 requires beta", era: "60d0764", line: `call "rotate" &0 &1 alpha=1.0`,
			err: `missing argument "beta"`},
		{name: "rotate 0.0.9", era: "feefbf4", line: `merge "rotate" &0 &1 alignment=0.5 alpha=0.25`,
			want: "rotate@0.0.x", kw: map[string]float64{"alignment": 0.5, "alpha": 0.25}},
		{name: "rotate defaults", era: "0.0.29", line: `merge "rotate" &0 &1`,
			want: "rotate@0.0.x", kw: map[string]float64{"alignment": 1, "alpha": 0}},
		{name: "clamp midrange", era: "3360d18", line: `merge "clamp" &0 &0 &1 stiffness=0.5`,
			want: "clamp@0.0.x", kw: map[string]float64{"stiffness": 0.5}},
		{name: "clamp mean", era: "6e545a3", line: `merge "clamp" &0 &0 &1`,
			want: "clamp@fork-0.0.26", kw: map[string]float64{"stiffness": 0}},
		{name: "add_cosine_a", era: "0.0.29", line: `merge "add_cosine_a" &0 &1 alpha=0.9`,
			want: "add_cosine_a@0.0.x", kw: map[string]float64{"alpha": 0.9}},
		{name: "add_cosine_b requires alpha", era: "be45b2c", line: `merge "add_cosine_b" &0 &1`,
			err: `missing argument "alpha"`},
		// add_difference without alpha takes its era's default (no real recipe leaves it out).
		{name: "add_difference 0.0.4 default", era: "60d0764", pre: `call "subtract" &0 &1` + "\n", line: `call "add_difference" &0 &2`,
			want: "add_difference@0.0.4", kw: map[string]float64{"alpha": 0.5}},
		{name: "add_difference 0.0.5 default", era: "953313a", pre: subB, line: `merge "add_difference" &0 &2`,
			want: "add_difference@0.0.9", kw: map[string]float64{"alpha": 0.5}},
		{name: "add_difference 0.0.9 default", era: "feefbf4", pre: subB, line: `merge "add_difference" &0 &2`,
			want: "add_difference@0.0.9", kw: map[string]float64{"alpha": 0.5}},
		{name: "add_difference fork 0.0.12 default", era: "4edc67c", pre: subB, line: `merge "add_difference" &0 &2`,
			want: "add_difference@fork-0.0.12", kw: map[string]float64{"alpha": 0.5}},
		{name: "add_difference fork 0.0.13 default", era: "01823a9", pre: subB, line: `merge "add_difference" &0 &2`,
			want: "add_difference@fork-0.0.13", kw: map[string]float64{"alpha": 0.5}},
		{name: "add_difference fork 0.0.19 default", era: "3360d18", pre: subB, line: `merge "add_difference" &0 &2`,
			want: "add_difference@0.0.x", kw: map[string]float64{"alpha": 1}},
		{name: "add_difference 0.0.29 default", era: "0.0.29", pre: subB, line: `merge "add_difference" &0 &2`,
			want: "add_difference@0.0.x", kw: map[string]float64{"alpha": 1}},
		{name: "add_difference fork 0.0.26 default", era: "6e545a3", pre: subB, line: `merge "add_difference" &0 &2`,
			want: "add_difference@0.0.x", kw: map[string]float64{"alpha": 1}},
		{name: "add_difference fork hotfix default", era: "1458190", pre: subB, line: `merge "add_difference" &0 &2`,
			want: "add_difference@0.0.x", kw: map[string]float64{"alpha": 1}},
		// The real x72a (feefbf4) spells alpha=1.0: the default does not matter there.
		{name: "add_difference 0.0.9 explicit", era: "feefbf4", pre: subB, line: `merge "add_difference" &0 &2 alpha=1.0`,
			want: "add_difference@0.0.9", kw: map[string]float64{"alpha": 1}},
		{name: "weighted_sum 0.0.4 default", era: "60d0764", line: `call "weighted_sum" &0 &1`,
			want: "weighted_sum@0.0.x", kw: map[string]float64{"alpha": 0.5}},
		{name: "weighted_sum fork hotfix default", era: "1458190", line: `merge "weighted_sum" &0 &1`,
			want: "weighted_sum@0.0.x", kw: map[string]float64{"alpha": 0.5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := modelsB + tc.pre + tc.line + "\n"
			if strings.HasPrefix(tc.line, "call") {
				src = modelsA + tc.pre + tc.line + "\n"
			}
			f, err := lang.Parse("r.mecha", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			res, err := compiler.Compile(f, compiler.Options{Registry: stdlib.Default(), RecipeText: src, Era: tc.era})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var def *ops.Def
			got := map[string]float64{}
			for _, v := range res.Func.Values {
				if v.Def == nil || v.Def.Name != strings.Trim(strings.Fields(tc.line)[1], `"`) {
					continue
				}
				def = v.Def
				for i, k := range v.Kw {
					x, _ := k.Const.Float64()
					got[def.KwOnly[i].Name] = x
				}
			}
			if def == nil || def.FullName() != tc.want {
				t.Fatalf("resolved to %v, want %s", def, tc.want)
			}
			if def.Pending != "" || def.Kernel == nil {
				t.Errorf("%s has no kernel", tc.want)
			}
			for k, w := range tc.kw {
				if got[k] != w {
					t.Errorf("keyword %s = %v, want %v (all: %v)", k, got[k], w, got)
				}
			}
		})
	}
}
