package main

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechac/mechac/compiler"
	"github.com/mechac/mechac/lang"
	"github.com/mechac/mechac/stdlib"
)

func TestRecipes(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		want   string // the whole text, when given
		inputs []string
		merges int
	}{
		{
			name: "average of 1",
			text: averageRecipe(1),
			want: `version 0.1.0
model "m0.safetensors" model_config="sdxl-sgm" merge_space="weight"
merge "n_average" &0`,
			inputs: []string{"m0.safetensors"},
			merges: 1,
		},
		{
			name: "average of 3",
			text: averageRecipe(3),
			want: `version 0.1.0
model "m0.safetensors" model_config="sdxl-sgm" merge_space="weight"
model "m1.safetensors" model_config="sdxl-sgm" merge_space="weight"
model "m2.safetensors" model_config="sdxl-sgm" merge_space="weight"
merge "n_average" &0 &1 &2`,
			inputs: []string{"m0.safetensors", "m1.safetensors", "m2.safetensors"},
			merges: 1,
		},
		{
			name: "ties of 2",
			text: tiesRecipe(2, 0.2),
			want: `version 0.1.0
model "base.safetensors" model_config="sdxl-sgm" merge_space="weight"
model "m0.safetensors" model_config="sdxl-sgm" merge_space="weight"
merge "subtract" &1 &0
model "m1.safetensors" model_config="sdxl-sgm" merge_space="weight"
merge "subtract" &3 &0
merge "ties_sum" &2 &4 k=0.2
merge "add_difference" &0 &5
merge "fallback" &6 &0`,
			inputs: []string{"base.safetensors", "m0.safetensors", "m1.safetensors"},
			merges: 5,
		},
		{
			name:   "ties of 8",
			text:   tiesRecipe(8, 0.2),
			inputs: []string{"base.safetensors", "m0.safetensors", "m1.safetensors", "m2.safetensors", "m3.safetensors", "m4.safetensors", "m5.safetensors", "m6.safetensors", "m7.safetensors"},
			merges: 11,
		},
		{
			name:   "ties of 32",
			text:   tiesRecipe(32, 0.5),
			merges: 35,
		},
		{
			name:   "recipes(8)[0]",
			text:   recipes(8)[0].Text,
			merges: 1,
		},
		{
			name:   "recipes(8)[1]",
			text:   recipes(8)[1].Text,
			merges: 11,
		},
		{
			name: "della of 2",
			text: dellaRecipe(2),
			want: `version 0.1.0
model "base.safetensors" model_config="sdxl-sgm" merge_space="weight"
model "m0.safetensors" model_config="sdxl-sgm" merge_space="weight"
merge "subtract" &1 &0
model "m1.safetensors" model_config="sdxl-sgm" merge_space="weight"
merge "subtract" &3 &0
merge "ties_sum_with_dropout" &2 &4 probability=0.1 della_eps=-0.1 rescale=0.0 k=1.0 vote_sgn=true apply_stock=false cos_eps=1e-06 apply_median=true eps=1e-06 maxiter=100 ftol=1e-20 seed=250829
merge "add_difference" &0 &5`,
			inputs: []string{"base.safetensors", "m0.safetensors", "m1.safetensors"},
			merges: 4,
		},
		{
			name:   "recipes(8)[2]",
			text:   recipes(8)[2].Text,
			merges: 10,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want != "" && tc.text != tc.want {
				t.Errorf("text:\n%s\nwant:\n%s", tc.text, tc.want)
			}
			if tc.inputs != nil {
				got := recipeInputs(tc.text, "d")
				want := make([]string, len(tc.inputs))
				for i, p := range tc.inputs {
					want[i] = filepath.Join("d", p)
				}
				if strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("inputs %q, want %q", got, want)
				}
			}
			if n := strings.Count(tc.text, "\nmerge "); n != tc.merges {
				t.Errorf("%d merge lines, want %d", n, tc.merges)
			}
			// The recipe must stay valid for mechac: it parses, is in canonical form, and
			// passes the checks that need no model files (names, arities, types, spaces).
			f, err := lang.Parse(tc.name+".mecha", []byte(tc.text))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got := lang.Format(f); got != tc.text {
				t.Errorf("not in canonical form; mechac fmt gives:\n%s", got)
			}
			if _, err := compiler.Compile(f, compiler.Options{Registry: stdlib.Default(), RecipeText: tc.text}); err != nil {
				t.Errorf("compile: %v", err)
			}
		})
	}
}

func TestRecipeNames(t *testing.T) {
	var names []string
	for _, r := range recipes(4) {
		names = append(names, r.Name)
		if r.Desc == "" || !strings.HasPrefix(r.Text, "version 0.1.0\n") {
			t.Errorf("recipe %s: empty description or not dialect C", r.Name)
		}
	}
	if got := strings.Join(names, ","); got != "average,ties,della" {
		t.Errorf("recipes %s, want average,ties,della (the --recipes flag and BENCHMARKS.md name them)", got)
	}
}

// TestSummarize: the median wall of each recipe and cache state against its fastest read plus
// its output at the sitting's fastest write rate, in the order the runs came.
func TestSummarize(t *testing.T) {
	run := func(recipe string, wall, read, write float64, out int64) Result {
		return Result{Recipe: recipe, Cache: "warm", WallSeconds: wall, OutputBytes: out,
			Bound: Bound{ReadSeconds: read, WriteSeconds: write, WriteBytes: out}}
	}
	got := summarize([]Result{
		run("ties", 1.8, 0.30, 1.50, 100),
		run("ties", 1.6, 0.25, 1.20, 100),
		run("ties", 1.7, 0.40, 1.40, 100),
		run("average", 1.0, 0.20, 0.25, 50), // the sitting's fastest write: 200 bytes/s
		run("average", 1.2, 0.22, 0.60, 50),
	})
	want := []Summary{
		{Recipe: "ties", Cache: "warm", Runs: 3, MedianWall: 1.7, FastestBound: 0.25 + 0.5, Ratio: 1.7 / 0.75},
		{Recipe: "average", Cache: "warm", Runs: 2, MedianWall: 1.1, FastestBound: 0.2 + 0.25, Ratio: 1.1 / 0.45},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d summaries, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Recipe != w.Recipe || g.Cache != w.Cache || g.Runs != w.Runs ||
			math.Abs(g.MedianWall-w.MedianWall) > 1e-12 || math.Abs(g.FastestBound-w.FastestBound) > 1e-12 ||
			math.Abs(g.Ratio-w.Ratio) > 1e-12 {
			t.Errorf("summary %d: got %+v, want %+v", i, g, w)
		}
	}
}
