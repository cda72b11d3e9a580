package ops

import "math"

// IsClose is Python's math.isclose(x, y) with its defaults (rel_tol=1e-9, abs_tol=0): for
// y = 0 it is x == 0 exactly; infinities are close only to themselves, NaN to nothing.
// Kernels use it for sd-mecha's shortcuts (alpha close to 0 or 1) and the compiler's key fold
// uses the same function, so a folded call is exactly a call whose kernel takes the shortcut.
func IsClose(x, y float64) bool {
	if x == y {
		return true
	}
	if math.IsInf(x, 0) || math.IsInf(y, 0) {
		return false
	}
	return math.Abs(x-y) <= 1e-9*max(math.Abs(x), math.Abs(y))
}
