package stdlib

import "github.com/mechac/mechac/ops"

// A method whose signature is known but whose kernel is not written yet (Def.Pending): recipes
// using it parse, bind and check, and compiling a runnable plan stops with the reason. It
// moves to its family file when its kernel exists.

// ties_sum_with_dropout as sd-mecha 1.1.5 declares it (the fork's 1.0.x commits that wrote
// the 2025 AstolfoKarmix recipes use the same parameter list).
var _ = define(&ops.Def{
	Name:    "ties_sum_with_dropout",
	Varargs: &ops.Param{Name: "deltas", Type: ops.TensorIn, Spaces: ops.DeltaSpace},
	KwOnly: []ops.Param{
		func() ops.Param {
			d := ops.Float(0.9)
			return ops.Param{Name: "probability", Type: ops.TensorHyper, Default: &d, Spaces: ops.ParamSpace}
		}(),
		floatDefault("della_eps", 0),
		boolDefault("rescale", true),
		floatDefault("k", 0.2),
		boolDefault("vote_sgn", false),
		boolDefault("apply_stock", false),
		floatDefault("cos_eps", 1e-6),
		boolDefault("apply_median", false),
		floatDefault("eps", 1e-6),
		intDefault("maxiter", 100),
		floatDefault("ftol", 1e-20),
		{Name: "seed", Type: ops.IntHyper, Optional: true, Spaces: ops.ParamSpace},
	},
	Returns: ops.DeltaSpace,
	Traits:  ops.WholeTensor | ops.Random,
	Keys:    ops.KeysIntersect,
	Formula: "TIES sum of DARE/DELLA-dropped deltas (random masks per key, seeded)",
	Pending: "its kernel (DARE/DELLA masks from torch's MT19937 stream, TIES vote, model stock, geometric median) comes with the method library",
})
