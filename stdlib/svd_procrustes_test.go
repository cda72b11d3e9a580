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
// alpha (which applies the inverse transform, t = -1), centred or not.
func TestRotatePolarProcrustes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		rows, cols int
		alpha      float64
		centre     float64
	}{
		{160, 160, 0, 0},
		{200, 140, 0.3, 1},
		{140, 300, 0, 0},
		{140, 300, 0.7, 0.5},
	} {
		a := svdRandDense(rng, tc.rows, tc.cols)
		b := svdRandDense(rng, tc.rows, tc.cols)
		run := func(polarMin int) []float64 {
			old := procrustesPolarMin
			procrustesPolarMin = polarMin
			defer func() { procrustesPolarMin = old }()
			shape := []int{tc.rows, tc.cols}
			c := &ops.Call{Numerics: ops.Exact, Args: []ops.Value{
				svdMat(a), svdMat(b), ops.Float(1), ops.TensorValue(ops.Scalar(tc.alpha)),
				ops.Float(tc.centre), ops.Float(1e-8), ops.Int(100),
			}, Out: &ops.Tensor{Shape: shape, Data: make([]float64, tc.rows*tc.cols)}}
			if err := rotateDef.Kernel(c); err != nil {
				t.Fatal(err)
			}
			return c.Out.Data
		}
		want, got := run(math.MaxInt), run(128)
		scale, worst := 0.0, 0.0
		for i := range want {
			scale = max(scale, math.Abs(want[i]))
			worst = max(worst, math.Abs(got[i]-want[i]))
		}
		if worst > 1e-11*scale {
			t.Errorf("%dx%d alpha %v centre %v: polar path differs from the SVD path by %.3g (scale %.3g)",
				tc.rows, tc.cols, tc.alpha, tc.centre, worst, scale)
		}
	}
}
