package stdlib

import "github.com/mechac/mechac/ops"

// A method whose signature is known but whose kernel is not written yet (Def.Pending): recipes
// using it parse, bind and check, and compiling a runnable plan stops with the reason. It
// moves to its family file when its kernel exists.

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
