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
	cases := []struct {
		name, src string
		streamed  map[ops.Numerics]string // the step method streaming emits
	}{
		{"n_average of 9", navg, map[ops.Numerics]string{ops.Exact: ops.NAverageStep, ops.SDMecha: ops.NAverageStep}},
		{"chain of 48", chainRecipe(48, ""), map[ops.Numerics]string{ops.Exact: ops.LinearCombination}},
		{"n_average of 3", chainRecipe(3, "") + "\nmerge \"n_average\" &0 &1 &2", nil},
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
				step := tc.streamed[numerics]
				switch {
				case step == ops.NAverageStep && (countMethod(prog, step) == 0 || countMethod(prog, "n_average") != 0):
					t.Errorf("%s: n_average not streamed", label)
				case step == ops.LinearCombination && countMethod(prog, step) <= countMethod(whole, step):
					t.Errorf("%s: linear_combination not streamed (%d calls, %d unstreamed)", label,
						countMethod(prog, step), countMethod(whole, step))
				case step == "" && prog.Text() != whole.Text():
					t.Errorf("%s: streamed below %d models", label, streamMin)
				}
				compareOutputs(t, label, got, want, true, 0)
			}
		}
	}
}
