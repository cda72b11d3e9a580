package stdlib

import (
	"math"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/opstest"
)

// Per-element references, written independently of the kernels: lerp in the form of ATen's
// vectorised lerp_vec (blend of w-1 / w and of end / start, then one fmadd), which equals our
// Lerp bit for bit because w-1 == -(1-w) exactly.
func refLerp(a, b, w float64) float64 {
	if math.Abs(w) < 0.5 {
		return math.FMA(w, b-a, a)
	}
	return math.FMA(w-1, b-a, b)
}

func refIsCloseOne(x float64) bool { return math.Abs(x-1) <= 1e-9*math.Max(math.Abs(x), 1) }

var (
	nan  = math.NaN()
	inf  = math.Inf(1)
	negZ = math.Copysign(0, -1)
	f32  = func(x float64) float64 { return float64(float32(x)) }
	t1   = func(x ...float64) ops.Value { return opstest.T([]int{len(x)}, x...) }
	s0   = func(x float64) ops.Value { return opstest.T(nil, x) }
	sd   = []ops.Numerics{ops.SDMecha}
	ex   = []ops.Numerics{ops.Exact}
)

func TestWeightedSum(t *testing.T) {
	opstest.Check(t, weightedSum, opstest.Spec{
		Ref: func(_ ops.Numerics, x []float64) float64 {
			a, b, w := x[0], x[1], x[2]
			switch {
			case w == 0:
				return a
			case refIsCloseOne(w):
				return b
			}
			return refLerp(a, b, w)
		},
		Cases: []opstest.Case{
			// At w = 0.5 torch takes the second branch: fma(-(b-a), 1-w, b). The first branch,
			// fma(0.5, b-a, a), would give 0.48400000000000004 here.
			{Name: "lerp branch at 0.5", Args: []ops.Value{t1(0.081), t1(0.887), s0(0.5)}, Want: []float64{0.484}},
			// Fused: fma(w, b-a, a) = 3.610000091791153; a + round(w*(b-a)) = 3.6100000917911528.
			{Name: "lerp fused", Args: []ops.Value{t1(1.3), t1(9), s0(f32(0.3))}, Want: []float64{3.610000091791153}},
			// A Float constant reaching the kernel is rounded to float32 in sd-mecha numerics.
			{Name: "alpha constant f32", Numerics: sd, Args: []ops.Value{t1(1.3), t1(9), ops.Float(0.3)}, Want: []float64{3.610000091791153}},
			{Name: "alpha constant exact", Numerics: ex, Args: []ops.Value{t1(1.3), t1(9), ops.Float(0.3)}, Want: []float64{3.61}},
			// alpha == 0 returns a itself: lerp(1, inf, 0) would be fma(0, inf, 1) = NaN.
			{Name: "alpha 0 shortcut", Args: []ops.Value{t1(1, nan), t1(inf, 2), s0(0)}, Want: []float64{1, nan}},
			// alpha == 1 returns b itself: lerp(inf, 2, 1) = fma(inf, 0, 2) = NaN and
			// lerp(3, -0, 1) = +0.
			{Name: "alpha 1 shortcut", Args: []ops.Value{t1(inf, 3), t1(2, negZ), s0(1)}, Want: []float64{2, negZ}},
			// isclose(alpha, 1): within 1e-9 relative.
			{Name: "alpha 1+1e-10", Numerics: ex, Args: []ops.Value{t1(0), t1(1), s0(1 + 1e-10)}, Want: []float64{1}},
			{Name: "alpha 1+1e-8", Numerics: ex, Args: []ops.Value{t1(0), t1(1), s0(1 + 1e-8)}, Want: []float64{1 + 1e-8}},
			{Name: "alpha 1+1e-8 as float32", Numerics: sd, Args: []ops.Value{t1(0), t1(1), ops.Float(1 + 1e-8)}, Want: []float64{1}},
			// Per-element alpha: no shortcut, lerp everywhere (lerp(inf, 2, 1) = NaN).
			{Name: "alpha per element", Args: []ops.Value{t1(inf, 1), t1(2, 3), t1(1, 0.25)}, Want: []float64{nan, 1.5}},
			// Broadcasting a 0-dim input (scale's 0.0 downstream).
			{Name: "broadcast", Args: []ops.Value{s0(0), t1(4, 8), s0(0.25)}, Want: []float64{1, 2}},
			// The shortcut returns a with its dtype.
			{Name: "shortcut keeps dtype", Args: []ops.Value{{Kind: ops.KindTensor, T: &ops.Tensor{Shape: []int{1}, Data: []float64{0.5}, DType: ops.F16}}, t1(1), s0(0)},
				Want: []float64{0.5}, WantDType: opstest.DType(ops.F16)},
			{Name: "default alpha", Args: []ops.Value{t1(1), t1(2)}, Want: []float64{1.5}},
		},
	})
}

func TestAddDifference(t *testing.T) {
	opstest.Check(t, addDifference, opstest.Spec{
		Ref: func(_ ops.Numerics, x []float64) float64 {
			if x[2] == 0 {
				return x[0]
			}
			return math.FMA(x[1], x[2], x[0])
		},
		Cases: []opstest.Case{
			// b*alpha = 1 + 2^-20 + 2^-40 + 2^-60 exactly; rounded it loses 2^-60, so the
			// unfused a + b*alpha is 0 while addcmul's fused result is 2^-60.
			{Name: "fused", Args: []ops.Value{t1(-(1 + 0x1p-20 + 0x1p-40)), t1(1 + 0x1p-40), s0(1 + 0x1p-20)}, Want: []float64{0x1p-60}},
			{Name: "alpha 0 shortcut", Args: []ops.Value{t1(1, 2), t1(nan, inf), s0(0)}, Want: []float64{1, 2}},
			// No isclose(alpha, 1) shortcut: 1 + 1*NaN.
			{Name: "alpha 1 computes", Args: []ops.Value{t1(1), t1(nan), s0(1)}, Want: []float64{nan}},
			{Name: "alpha per element", Args: []ops.Value{t1(1, 2), t1(inf, 1), t1(0, 2)}, Want: []float64{nan, 4}},
			{Name: "default alpha", Args: []ops.Value{t1(1, 2), t1(0.5, -3)}, Want: []float64{1.5, -1}},
		},
	})
}

func TestSubtract(t *testing.T) {
	opstest.Check(t, subtract, opstest.Spec{
		Ref: func(_ ops.Numerics, x []float64) float64 { return x[0] - x[1] },
		Cases: []opstest.Case{
			{Name: "values", Args: []ops.Value{t1(3, 1, 0.3), t1(1, 3, 0.1)}, Want: []float64{2, -2, 0.19999999999999998}},
		},
	})
}

func TestScale(t *testing.T) {
	opstest.Check(t, scaleDef, opstest.Spec{
		Ref: func(_ ops.Numerics, x []float64) float64 {
			switch a, w := x[0], x[1]; {
			case w == 0:
				return 0
			case refIsCloseOne(w):
				return a
			default:
				return a * w
			}
		},
		Cases: []opstest.Case{
			// sd-mecha returns 0.0 without looking at a: zeros even where a is not finite.
			{Name: "alpha 0", Args: []ops.Value{t1(nan, -inf, 2), s0(0)}, Want: []float64{0, 0, 0}, WantDType: opstest.DType(ops.F64)},
			{Name: "alpha 1", Args: []ops.Value{t1(negZ, 3), s0(1)}, Want: []float64{negZ, 3}},
			{Name: "alpha", Args: []ops.Value{t1(3, -1), s0(0.5)}, Want: []float64{1.5, -0.5}},
			{Name: "alpha per element", Args: []ops.Value{t1(3, nan), t1(2, 0)}, Want: []float64{6, nan}},
			{Name: "default alpha", Args: []ops.Value{t1(7)}, Want: []float64{7}},
		},
	})
}

func TestNAverage(t *testing.T) {
	opstest.Check(t, nAverage, opstest.Spec{
		Varargs: 4,
		Ref: func(n ops.Numerics, x []float64) float64 {
			if n == ops.SDMecha {
				r := x[0]
				for i := 1; i < len(x); i++ {
					r = refLerp(r, x[i], 1/float64(i+1))
				}
				return r
			}
			s := 0.0
			for _, v := range x {
				s += v
			}
			return s / float64(len(x))
		},
		Cases: []opstest.Case{
			// Running lerp: lerp(2.1, 8.9, 1/2) = 5.5, lerp(5.5, 9.9, 1/3) = 6.966666666666667
			// (also the correctly rounded mean); (2.1 + 8.9 + 9.9)/3 = 20.9/3 = 6.966666666666666.
			{Name: "running lerp", Numerics: sd, Var: []ops.Value{t1(2.1), t1(8.9), t1(9.9)}, Want: []float64{6.966666666666667}},
			{Name: "mean", Numerics: ex, Var: []ops.Value{t1(2.1), t1(8.9), t1(9.9)}, Want: []float64{6.966666666666666}},
			{Name: "one model", Var: []ops.Value{t1(1, nan)}, Want: []float64{1, nan}},
			{Name: "no models", Var: nil, Shape: []int{1}, WantErr: "no models"},
		},
	})
}

// TestLerp pins the branch choice of Lerp itself.
func TestLerp(t *testing.T) {
	for _, tc := range []struct{ a, b, w, want float64 }{
		{0.081, 0.887, 0.5, 0.484},                 // second branch
		{0.081, 0.887, 0.49999999999999994, 0.484}, // first branch, just below
		{1, 2, 0, 1},
		{1, 2, 1, 2},
		{1, 2, -0.75, 0.25}, // |w| >= 0.5: second branch for negative weights too
		{1, 2, 2, 3},
	} {
		if got := Lerp(tc.a, tc.b, tc.w); got != tc.want {
			t.Errorf("Lerp(%v, %v, %v) = %v, want %v", tc.a, tc.b, tc.w, got, tc.want)
		}
	}
	// The two branches really differ at this input: the first would round up.
	if math.FMA(0.5, 0.887-0.081, 0.081) == 0.484 {
		t.Error("the w = 0.5 example no longer distinguishes the branches")
	}
	if 1.3+float64(f32(0.3)*(9-1.3)) == 3.610000091791153 {
		t.Error("the fused example no longer distinguishes fma from the unfused formula")
	}
}
