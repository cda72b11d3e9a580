package stdlib

import "github.com/mechac/mechac/ops"

// Methods whose signatures are known but whose kernels are not written yet. Recipes that use
// them parse, bind and type-check (`mechac check`, `mechac fmt`), and compiling a runnable
// plan stops with the Pending reason instead of guessing. Each moves to its family file with
// a kernel when it is implemented.

func floatDefault(name string, v float64) ops.Param {
	d := ops.Float(v)
	return ops.Param{Name: name, Type: ops.FloatHyper, Default: &d, Spaces: ops.ParamSpace}
}

func boolDefault(name string, v bool) ops.Param {
	d := ops.Bool(v)
	return ops.Param{Name: name, Type: ops.BoolHyper, Default: &d, Spaces: ops.ParamSpace}
}

func intDefault(name string, v int64) ops.Param {
	d := ops.Int(v)
	return ops.Param{Name: name, Type: ops.IntHyper, Default: &d, Spaces: ops.ParamSpace}
}

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

// isotropic_overrided from the AstolfoMix author's fork (commits f758dc0..3e3aea3).
var _ = define(&ops.Def{
	Name:    "isotropic_overrided",
	Era:     "",
	Params:  []ops.Param{{Name: "d_ta", Type: ops.TensorIn, Spaces: ops.DeltaSpace}, floatDefault("z_cof", 0), boolDefault("apply_exp", false), boolDefault("apply_high_dim", false)},
	Returns: ops.DeltaSpace,
	Traits:  ops.LinearAlgebra,
	Keys:    ops.KeysIntersect,
	Formula: "U diag(iso(S; z_cof)) Vh of the SVD of the flattened delta (fork method)",
	Pending: "its kernel (SVD with the fork's isotropic scaling) comes with the method library",
})
