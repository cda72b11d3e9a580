package compiler

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mechac/mechac/ops"
)

// TestStreamBitwise: n_average of many models and the fused linear_combination of a chain over
// models, streamed into two-operand steps (codegen_stream.go), give the bits of the whole calls
// in both numerics, with a non-finite input kept or dropped; the streamed programs hold no
// n-ary call of the models, the others do.
func TestStreamBitwise(t *testing.T) {
	dir := t.TempDir()
	writeFuseModels(t, dir, 48, map[int]string{5: "model.diffusion_model.out.2.bias"})
	var refs []string
	for i := range 9 {
		refs = append(refs, fmt.Sprintf("&%d", i))
	}
	navg := chainRecipe(9, "") + "\nmerge \"n_average\" " + strings.Join(refs, " ")
	const step, div = "n_average_step", "n_average_div"
	cases := []struct {
		name, src string
		streamed  map[ops.Numerics]string // the step method streaming emits
		finish    map[ops.Numerics]string // the method the chains end with (ops.StreamDef.Finish)
	}{
		{"n_average of 9", navg, map[ops.Numerics]string{ops.Exact: step, ops.SDMecha: step}, map[ops.Numerics]string{ops.Exact: div}},
		{"chain of 48", chainRecipe(48, ""), map[ops.Numerics]string{ops.Exact: ops.LinearCombination}, nil},
		{"n_average of 3", chainRecipe(3, "") + "\nmerge \"n_average\" &0 &1 &2", nil, nil},
		// Streaming follows ops.Def.Stream, whoever emits the call: a recipe's own
		// linear_combination of models streams in both numerics.
		{"linear_combination of 6", chainRecipe(6, "") + "\nmerge \"linear_combination\" &0 &1 &2 &3 &4 &5 coefficients=\"0.5,0.25,0.125,0.0625,0.03125,0.03125\"",
			map[ops.Numerics]string{ops.Exact: ops.LinearCombination, ops.SDMecha: ops.LinearCombination}, nil},
	}
	for _, tc := range cases {
		for _, numerics := range []ops.Numerics{ops.Exact, ops.SDMecha} {
			for _, keep := range []bool{false, true} {
				label := fmt.Sprintf("%s/%s/keep-non-finite=%t", tc.name, numerics, keep)
				base := Options{Numerics: numerics, Models: diskModels(dir), KeepNonFinite: keep}
				off := base
				off.NoStream = true
				want, whole := runRecipe(t, "r.mecha", tc.src, off)
				got, prog := runRecipe(t, "r.mecha", tc.src, base)
				switch s := tc.streamed[numerics]; {
				case s == step && (countMethod(prog, s) == 0 || countMethod(prog, "n_average") != 0):
					t.Errorf("%s: n_average not streamed", label)
				case s == ops.LinearCombination && countMethod(prog, s) <= countMethod(whole, s):
					t.Errorf("%s: linear_combination not streamed (%d calls, %d unstreamed)", label,
						countMethod(prog, s), countMethod(whole, s))
				case s == "" && prog.Text() != whole.Text():
					t.Errorf("%s: streamed below %d models", label, streamMin)
				}
				// One finishing call per n_average chain (8 steps for 9 models) in the numerics
				// that have one, none in the others.
				if tc.streamed[numerics] == step {
					want := 0
					if tc.finish[numerics] == div {
						want = countMethod(prog, step) / 8
					}
					if got := countMethod(prog, div); got != want || (want == 0) != (tc.finish[numerics] == "") {
						t.Errorf("%s: %d calls of %s, want %d", label, got, div, want)
					}
				}
				compareOutputs(t, label, got, want, true, 0)
			}
		}
	}
}
