package compiler

import (
	"strings"
	"testing"

	"github.com/mechac/mechac/lang"
	"github.com/mechac/mechac/stdlib"
)

const (
	hdrAB = "version 0.1.0\n" +
		`model "a.safetensors" model_config="sdxl-sgm" merge_space="weight"` + "\n" +
		`model "b.safetensors" model_config="sdxl-sgm" merge_space="weight"` + "\n"
)

// compileErr compiles a recipe without models and returns the error text ("" if none).
func compileErr(t *testing.T, src string) string {
	t.Helper()
	f, err := lang.Parse("r.mecha", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	_, err = Compile(f, Options{Registry: stdlib.Default(), RecipeText: src})
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestBindErrors: argument binding errors name the offending argument's position (or the
// method name's, for a missing argument) and say what is wrong.
func TestBindErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"too many arguments", `merge "weighted_sum" &0 &1 0.5 &0`,
			`r.mecha:4:32: too many arguments: weighted_sum(a: Tensor, b: Tensor, alpha: Tensor|float = 0.5) takes 3 positional arguments, got 4`},
		{"missing argument", `merge "subtract" &0`,
			`r.mecha:4:7: missing argument "b" of subtract(a: Tensor, b: Tensor)`},
		{"unknown keyword with suggestion", `merge "weighted_sum" &0 &1 alpah=0.5`,
			`r.mecha:4:28: unknown keyword "alpah" for weighted_sum(a: Tensor, b: Tensor, alpha: Tensor|float = 0.5); did you mean "alpha"?`},
		{"unknown keyword without suggestion", `merge "weighted_sum" &0 &1 zzzzzzzz=0.5`,
			`r.mecha:4:28: unknown keyword "zzzzzzzz" for weighted_sum(a: Tensor, b: Tensor, alpha: Tensor|float = 0.5)`},
		{"given twice", `merge "weighted_sum" &0 &1 a=&1`,
			`r.mecha:4:28: argument "a" of weighted_sum given twice (positionally and as a keyword)`},
		{"varargs as keyword", `merge "n_average" &0 models=&1`,
			`r.mecha:4:22: "models" is the varargs parameter of n_average(*models: Tensor): give its values positionally`},
		{"no varargs", `merge "n_average"`,
			`r.mecha:4:7: n_average(*models: Tensor) needs at least one model`},
		{"unknown method", `merge "weighted_summ" &0 &1`,
			`r.mecha:4:7: unknown merge method "weighted_summ"; did you mean "weighted_sum"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := compileErr(t, hdrAB+tt.body)
			if got != tt.want {
				t.Errorf("error:\n got  %s\n want %s", got, tt.want)
			}
		})
	}
}

// TestSpaceErrors: merge-space checks, each at the merge line.
func TestSpaceErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string // substrings, all required
	}{
		{"delta result", `merge "subtract" &0 &1`,
			[]string{`r.mecha:4:1: the recipe's result (subtract (line 4)) is in delta space; a merged model must be in weight space`}},
		{"weight where delta wanted", `merge "add_difference" &0 &1`,
			[]string{`r.mecha:4:1: argument "b" of add_difference must be in delta space, but model "b.safetensors" is in weight space`}},
		{"same-space symbol", "merge \"subtract\" &0 &1\nmerge \"weighted_sum\" &0 &2",
			[]string{`r.mecha:5:1: arguments "a" and "b" of weighted_sum must be in the same merge space, but a is in weight space and b in delta space`}},
		{"declared delta model", `merge "weighted_sum" &0 &1` + "\n" + `model "c.safetensors" model_config="sdxl-sgm" merge_space="delta"` + "\n" + `merge "add_difference" &2 &3`,
			nil},
		{"unknown space", `model "c.safetensors" merge_space="wieght"`,
			[]string{`r.mecha:4:`, `wieght`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := compileErr(t, hdrAB+tt.body)
			if tt.want == nil {
				if got != "" {
					t.Errorf("unexpected error: %s", got)
				}
				return
			}
			if got == "" {
				t.Fatalf("no error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("error:\n got  %s\n want it to contain %s", got, w)
				}
			}
		})
	}
}
