package stdlib

import "github.com/mechac/mechac/ops"

// crossover before sd-mecha 0.0.14 (and in the fork's eras on 0.0.12 and 0.0.13) named its
// weight `mean` and built its filter by training the cut's offset (the N-D version of
// trainedFilter1D, mesh = sqrt(Σ grids)/sqrt(ndim)), with other edge rules (allclose(a.half(),
// b.half()) gives ws(a, b, tilt)). Today's crossover has neither; and since 0.0.x merge lines
// may carry unknown keywords, falling back to it would silently drop `mean` and merge with
// today's filter. Until the old filter is ported, these definitions refuse such a recipe.

const crossoverOldPending = "crossover before 0.0.14 (keyword mean, trained N-D filter) is not ported yet; " +
	"today's crossover would ignore mean and use another filter"

func crossoverOld(era string, kw []ops.Param, commits string) *ops.Def {
	return define00x(&ops.Def{
		Name: "crossover", Era: era,
		Params:  []ops.Param{symbolIn00x("a"), symbolIn00x("b")},
		KwOnly:  kw,
		Traits:  ops.WholeTensor,
		Formula: "irfftn((1-F)·rfftn(a) + F·rfftn(b)), F = the cut trained to mean `mean`",
		Doc:     "crossover of " + commits + ": mean and tilt keyword-only Python floats.",
		Pending: crossoverOldPending,
	})
}

var (
	// 0d1b193 .. e0305da: both required (8259d55 named them alpha and beta).
	_ = crossoverOld("0.0.4", []ops.Param{requiredFloat("mean"), requiredFloat("tilt")}, "0d1b193 .. 60d0764")
	_ = crossoverOld("0.0.5", []ops.Param{requiredFloat("mean"), requiredFloat("tilt")}, "953313a .. e0305da")
	// 165704a (0.0.6) .. 0.0.13 gave them defaults.
	_ = crossoverOld("0.0.9", []ops.Param{floatDefault("mean", 0.5), floatDefault("tilt", 0)}, "165704a .. 0.0.13")
	_ = crossoverOld("fork-0.0.12", []ops.Param{floatDefault("mean", 0.5), floatDefault("tilt", 0)}, "the fork's 4edc67c")
	_ = crossoverOld("fork-0.0.13", []ops.Param{floatDefault("mean", 0.5), floatDefault("tilt", 0)}, "the fork's 29bac1a .. 01823a9")
)
