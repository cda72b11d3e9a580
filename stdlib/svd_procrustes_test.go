package stdlib

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechac/mechac/ops"
)

// TestRotatePolarProcrustes: from procrustesPolarMin on, rotate takes the Procrustes rotation
// from the polar factor instead of the SVD; both give the same result up to rounding, for the
// full-rank (rows >= cols) and the low-rank (rows < cols) transform, at alignment 1 and with
// alpha (which applies the inverse transform, t = -1), centred or not. Centred by the full
// column means (centralization 1), a square key's Aᵀ B is singular: the polar path deflates its
// null space (svd_null.go), and the result must not depend on it. A fractional alignment
// cancels the reflection (the last singular pair reversed when det < 0): with one null pair the
// rotation is unique, and without one the polar path finds the smallest pair by inverse
// iteration.
func TestRotatePolarProcrustes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		rows, cols int
		alpha      float64
		centre     float64
		alignment  float64
	}{
		{160, 160, 0, 0, 1},
		{200, 140, 0.3, 1, 1},
		{140, 300, 0, 0, 1},
		{140, 300, 0.7, 0.5, 1},
		{160, 160, 0, 1, 1},
		{160, 160, 0.4, 1, 1},
		{140, 300, 0.3, 1, 1},
		{150, 150, 0, 1, 0.5},
		{150, 150, 0.2, 1, 0.5},
		{150, 150, 0, 0, 0.5},
		{150, 150, 0, 0, 0.25},
		{150, 150, 0, 0, 1.5},
	} {
		a := svdRandDense(rng, tc.rows, tc.cols)
		b := svdRandDense(rng, tc.rows, tc.cols)
		worst, scale := polarAndSVD(t, rotateDef.Kernel, func() *ops.Call {
			return &ops.Call{Numerics: ops.Exact, Args: []ops.Value{
				svdMat(a), svdMat(b), ops.Float(tc.alignment), ops.TensorValue(ops.Scalar(tc.alpha)),
				ops.Float(tc.centre), ops.Float(1e-8), ops.Int(100),
			}, Out: &ops.Tensor{Shape: []int{tc.rows, tc.cols}, Data: make([]float64, tc.rows*tc.cols)}}
		})
		if worst > 1e-11*scale {
			t.Errorf("%dx%d alpha %v centre %v alignment %v: polar path differs from the SVD path by %.3g (scale %.3g)",
				tc.rows, tc.cols, tc.alpha, tc.centre, tc.alignment, worst, scale)
		}
	}
}

// TestRotate00xPolar: 0.0.x rotate at alignment 1 takes R from a polar factor from
// procrustesPolarMin on; it gives the full SVD's result up to rounding on square, tall and wide
// views (where Aᵀ B has a null space of one, none, and cols - rows + 1), with and without the
// interpolation towards B Rᵀ.
func TestRotate00xPolar(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct {
		rows, cols int
		interp     float64
	}{
		{160, 160, 0},
		{160, 160, 0.4},
		{200, 140, 0.3},
		{140, 300, 0},
		{140, 300, 0.6},
	} {
		a, b := svdMat(svdRandDense(rng, tc.rows, tc.cols)), svdMat(svdRandDense(rng, tc.rows, tc.cols))
		worst, scale := polarAndSVD(t, rotate00xDef.Kernel, func() *ops.Call {
			return &ops.Call{Numerics: ops.Exact, Args: []ops.Value{a, b}, Kw: []ops.Value{ops.Float(1), ops.Float(tc.interp)},
				Out: &ops.Tensor{Shape: []int{tc.rows, tc.cols}, Data: make([]float64, tc.rows*tc.cols)}}
		})
		if worst > 1e-11*scale {
			t.Errorf("%dx%d interp %v: polar path differs from the SVD path by %.3g (scale %.3g)",
				tc.rows, tc.cols, tc.interp, worst, scale)
		}
	}
}

// polarAndSVD runs kernel on a call made by mk with the SVD path (procrustesPolarMin beyond any
// size) and with the polar path from 128 columns on, and returns the largest difference between
// the two results and the largest magnitude of the SVD path's.
func polarAndSVD(t *testing.T, kernel ops.Kernel, mk func() *ops.Call) (worst, scale float64) {
	t.Helper()
	run := func(polarMin int) []float64 {
		old := procrustesPolarMin
		procrustesPolarMin = polarMin
		defer func() { procrustesPolarMin = old }()
		c := mk()
		if err := kernel(c); err != nil {
			t.Fatal(err)
		}
		return c.Out.Data
	}
	want, got := run(math.MaxInt), run(128)
	for i := range want {
		scale = max(scale, math.Abs(want[i]))
		worst = max(worst, math.Abs(got[i]-want[i]))
	}
	return worst, scale
}
