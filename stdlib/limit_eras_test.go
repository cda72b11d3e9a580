package stdlib

import (
	"math"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/opstest"
)

// TestClampEras: clamp@0.0.x pulls toward the bounds nearest the midrange, clamp@0.0.29 (and
// the fork's 0.0.26) toward those nearest the mean, as today's clamp does.
func TestClampEras(t *testing.T) {
	f := ops.Float
	// Bounds 0, 0, 4, 10 (every element): max 10, min 0, midrange 5, mean 3.5.
	//   midrange: sp = smallest bound >= 5 = 10, ln = largest bound <= 5 = 4
	//   mean:     sp = smallest bound >= 3.5 = 4, ln = largest bound <= 3.5 = 0
	// stiffness 0.25 (every product exact in binary):
	//   midrange: hi = 0.75·10 + 0.25·10 = 10, lo = 0.75·0 + 0.25·4 = 1
	//   mean:     hi = 0.75·10 + 0.25·4 = 8.5, lo = 0.75·0 + 0.25·0 = 0
	// a = (20, -1, 7) clamped: midrange (10, 1, 7), mean (8.5, 0, 7).
	bounds := []ops.Value{hvec(0, 0, 0), hvec(0, 0, 0), hvec(4, 4, 4), hvec(10, 10, 10)}
	a := []ops.Value{hvec(20, -1, 7)}
	nan := math.NaN()
	opstest.Check(t, clampMidrange00x, opstest.Spec{
		Hypers: map[string]ops.Value{"stiffness": f(0.3)},
		Cases: []opstest.Case{
			{Name: "midrange", Args: a, Var: bounds, Kw: []ops.Value{f(0.25)}, Want: []float64{10, 1, 7}},
			{Name: "stiffness 0", Args: a, Var: bounds, Kw: []ops.Value{f(0)}, Want: []float64{10, 0, 7}},
			// NaN is truthy: the pulled limits are NaN and maximum/minimum propagate it.
			{Name: "stiffness NaN", Args: a, Var: bounds, Kw: []ops.Value{f(nan)}, Want: []float64{nan, nan, nan}},
			{Name: "no bounds", Args: []ops.Value{hvec(1)}, Shape: []int{1}, WantErr: "no bounds"},
		},
	})
	for _, full := range []string{"clamp@0.0.29", "clamp@fork-0.0.26", "clamp@fork-0.0.26-hotfix"} {
		d := eraDef(t, full)
		opstest.Check(t, d, opstest.Spec{
			Hypers: map[string]ops.Value{"stiffness": f(0.3)},
			Cases: []opstest.Case{
				{Name: "mean", Args: a, Var: bounds, Kw: []ops.Value{f(0.25)}, Want: []float64{8.5, 0, 7}},
			},
		})
		// The 0.0.25+ math is today's: the same bits on data where mean and midrange differ.
		x := []ops.Value{hvec(-3, 0.1, 2.5, 7, 11, -0.2, 4.4, 9, 1e-3)}
		bs := []ops.Value{hvec(1, 2, 3, 4, 5, 6, 7, 8, 9), hvec(0.5, -1, 2, 9, 1, 3, 3, 1, 0), hvec(7, 7, 0, 0, 2, -5, 6, 2, 4)}
		got := runHist(t, d, x, bs, []ops.Value{f(0.7)})
		want := runHist(t, clampDef, x, bs, []ops.Value{f(0.7)})
		for i := range got {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
				t.Fatalf("%s: %v, today's clamp %v", full, got, want)
			}
		}
	}
	// clip is clamp@0.0.x under its old name.
	if got := runHist(t, clip00x, a, bounds, []ops.Value{f(0.25)}); got[0] != 10 || got[1] != 1 || got[2] != 7 {
		t.Errorf("clip: got %v", got)
	}
}

// TestAddCosineEras: add_cosine_a/b@0.0.x blend with the 0.0.x weighted sum (1-k)·a + k·b,
// today's with lerp a + k·(b-a); the similarities are the same.
func TestAddCosineEras(t *testing.T) {
	f := ops.Float
	// One column (shape [2, 1]) a = (3, 0), b = (7, 4).
	//   add_cosine_a: a/|a| = (1, 0), b/|b| = (7, 4)/√65; cos = 7/√65.
	//   add_cosine_b: cos_dim0(a, b) = 21/(3·√65) = 7/√65 and Σab/(|a||b|) is the same (one
	//   column), so the mean is 7/√65 too.
	// alpha 0.5: k = 1 - clamp(7/√65 - 0.5, 0, 1); out = ((1-k)·3 + k·7, (1-k)·0 + k·4).
	a, b := opstest.T([]int{2, 1}, 3, 0), opstest.T([]int{2, 1}, 7, 4)
	sim := 7 / math.Sqrt(65)
	k := 1 - (sim - 0.5)
	want := []float64{float64((1-k)*3) + float64(k*7), float64((1-k)*0) + float64(k*4)}
	for _, d := range []*ops.Def{addCosineA00x, addCosineB00x} {
		nearHist(t, d.FullName(), runHist(t, d, []ops.Value{a, b}, nil, []ops.Value{f(0.5)}), want, 1e-15)
		opstest.Check(t, d, opstest.Spec{
			Hypers: map[string]ops.Value{"alpha": f(0.3)},
			Cases: []opstest.Case{
				// orthogonal columns: similarity 0, alpha 0 -> k = 1 -> b; identical: k = 0 -> a.
				{Name: "orthogonal", Args: []ops.Value{opstest.T([]int{2, 1}, 1, 0), opstest.T([]int{2, 1}, 0, 1)}, Kw: []ops.Value{f(0)}, Want: []float64{0, 1}},
				{Name: "same", Args: []ops.Value{a, a}, Kw: []ops.Value{f(0)}, Want: []float64{3, 0}},
				{Name: "shapes", Args: []ops.Value{a, opstest.T([]int{2, 2}, 1, 2, 3, 4)}, Kw: []ops.Value{f(0)}, WantErr: "shape"},
			},
		})
		if p := d.KwOnly[0]; p.Name != "alpha" || p.Default != nil {
			t.Errorf("%s: alpha must be a required keyword, got %+v", d.FullName(), p)
		}
	}
	// Same similarity, another blend: 0.0.x's weighted sum and today's lerp part by an ulp
	// here ((1-k)·3 + k·7 against 3 + k·4), and they agree at alpha = 0 on identical inputs.
	today := runHist(t, addCosineA, []ops.Value{a, b, opstest.T(nil, 0.5)}, nil, nil)
	if old := runHist(t, addCosineA00x, []ops.Value{a, b}, nil, []ops.Value{f(0.5)}); math.Abs(today[0]-old[0]) > 1e-14 {
		t.Errorf("add_cosine_a: today %v, 0.0.x %v: the similarity should be the same", today, old)
	}
}
