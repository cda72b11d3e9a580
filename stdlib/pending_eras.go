package stdlib

import "github.com/mechac/mechac/ops"

// Era definitions whose signatures are known but whose kernels are not written yet. Without
// them an era recipe would silently run today's math under the old name; with them, check
// and explain work and a run stops with the reason.

func pendingFloats(names []string, defaults []float64) []ops.Param {
	var ps []ops.Param
	for i, n := range names {
		ps = append(ps, floatDefault(n, defaults[i]))
	}
	return ps
}

var (
	tiesNames00x    = []string{"k", "vote_sgn", "apply_stock", "cos_eps", "apply_median", "eps", "maxiter", "ftol"}
	tiesDefaults00x = []float64{0.2, 0, 0, 1e-6, 0, 1e-6, 100, 1e-20}
)

var _ = define(&ops.Def{
	Name: "ties_sum", Era: "0.0.x",
	Varargs: &ops.Param{Name: "models", Type: ops.TensorIn, Spaces: ops.DeltaSpace},
	KwOnly:  pendingFloats(tiesNames00x, tiesDefaults00x),
	Returns: ops.DeltaSpace, Traits: ops.WholeTensor, Keys: ops.KeysIntersect,
	Formula: "0.0.x TIES: top-k filter, sign or value vote (vote_sgn > 0 votes by signs), mean of agreeing deltas",
	Pending: "the 0.0.x TIES definitions (feefbf4's sign vote, the fork's vote_sgn/apply_stock/apply_median polarities) are not written yet",
})

var _ = define(&ops.Def{
	Name: "ties_sum_with_dropout", Era: "0.0.x",
	Varargs: &ops.Param{Name: "deltas", Type: ops.TensorIn, Spaces: ops.DeltaSpace},
	KwOnly: append(pendingFloats([]string{"probability", "della_eps", "rescale", "no_rescale"}, []float64{0.9, 0, 1, 0}),
		append(pendingFloats(tiesNames00x, tiesDefaults00x), ops.Param{Name: "seed", Type: ops.FloatHyper, Optional: true, Spaces: ops.ParamSpace})...),
	Returns: ops.DeltaSpace, Traits: ops.WholeTensor | ops.Random, Keys: ops.KeysIntersect,
	Formula: "the fork's 0.0.x DARE/DELLA dropout + TIES (per-commit generator, probability dtype and rescale rules)",
	Pending: "the fork's 0.0.12 .. 0.0.26 ties_sum_with_dropout variants are not written yet",
})

var _ = define(&ops.Def{
	Name: "ties_sum_with_dropout", Era: "1.0",
	Varargs: &ops.Param{Name: "deltas", Type: ops.TensorIn, Spaces: ops.DeltaSpace},
	KwOnly: []ops.Param{
		func() ops.Param {
			d := ops.Float(0.9)
			return ops.Param{Name: "probability", Type: ops.TensorHyper, Default: &d, Spaces: ops.ParamSpace}
		}(),
		floatDefault("della_eps", 0), boolDefault("rescale", true), floatDefault("k", 0.2),
		boolDefault("vote_sgn", false), boolDefault("apply_stock", false), floatDefault("cos_eps", 1e-6),
		boolDefault("apply_median", false), floatDefault("eps", 1e-6), intDefault("maxiter", 100),
		floatDefault("ftol", 1e-20), {Name: "seed", Type: ops.IntHyper, Optional: true, Spaces: ops.ParamSpace},
	},
	Returns: ops.DeltaSpace, Traits: ops.WholeTensor | ops.Random, Keys: ops.KeysIntersect,
	Formula: "1.0.x DARE/DELLA dropout + TIES (float64 keep probabilities, clamps per fork commit)",
	Pending: "the 1.0.x / fork-1.0.x ties_sum_with_dropout variants (clamps, nan_to_num of DELLA offsets, Python-sum geometric median) are not written yet",
})
