package stdlib

import "github.com/mechac/mechac/ops"

// Era definitions whose signatures are known but whose kernels are not written yet. Without
// them an era recipe would silently run today's math under the old name; with them, check
// and explain work and a run stops with the reason. (The TIES family of the 0.0.x and 1.0.x
// eras is in ties_eras.go.)

// rotate of 0.0.x took alpha as the rotation's alignment and beta as the interpolation, with
// the centring always on; today's rotate names these alignment / alpha / centralization.
// Mapping the old keywords onto today's definition would silently change the math, so the
// old signature is declared and refused until its kernel is ported.
var _ = define(&ops.Def{
	Name: "rotate", Era: "0.0.x",
	Params:  []ops.Param{symbolIn00x("a"), symbolIn00x("b")},
	KwOnly:  []ops.Param{floatDefault("alpha", 0), floatDefault("beta", 0)},
	Returns: ops.WeightSpace | ops.DeltaSpace, ReturnsSymbol: "S",
	Traits: ops.LinearAlgebra, Keys: ops.KeysIntersect,
	Formula: "0.0.x rotate: alpha = alignment (fractional power of the Procrustes rotation), beta = interpolation",
	Pending: "0.0.x rotate (alpha = alignment, beta = interpolation, always centred) is not ported yet; today's rotate would read its keywords differently",
})
