package stdlib

import (
	"math"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/opstest"
)

// Tests of the whole-tensor and mask methods of linear.go (slerp, perpendicular_component,
// train_difference_mask, add_opposite_mask, add_strict_opposite_mask, geometric_sum,
// multiply_quotient). Golden parity is checked by cmd/mechac's TestGolden.

// sinQ is sin(π/4) as the kernel computes it: 0.7071067811865475, one ulp below √½.
var sinQ = math.Sin(math.Pi / 4)

func TestSlerp(t *testing.T) {
	halfPi, alpha := math.Atan2(1, 0), 0.3 // ω of orthogonal vectors; runtime values, not constants
	opstest.Check(t, slerpDef, opstest.Spec{Cases: []opstest.Case{
		// Orthogonal unit vectors: ω = π/2, halfway is (1, 1)/√2, length lerp(1, 1, ½) = 1.
		{Name: "quarter turn", Args: []ops.Value{t1(1, 0), t1(0, 1), s0(0.5)}, Want: []float64{sinQ, sinQ}},
		// Lengths interpolate: |a| = 2, |b| = 4 -> 3.
		{Name: "lengths", Args: []ops.Value{t1(2, 0), t1(0, 4), s0(0.5)}, Want: []float64{3 * sinQ, 3 * sinQ}},
		// Parallel tensors: ω = 0, 0/sin ω is NaN, so lerp(a, b, alpha).
		{Name: "parallel -> lerp", Args: []ops.Value{t1(1, 0), t1(2, 0), s0(0.25)}, Want: []float64{1.25, 0}},
		// Nearly parallel (the dot product rounds to 1 - 2^-53, ω = 1.5e-8): no NaN; with
		// correctly rounded sines the slerp formula lands on lerp's values.
		{Name: "nearly parallel", Args: []ops.Value{t1(1, 2), t1(2, 4), s0(0.25)}, Want: []float64{1.25, 2.5}},
		// A zero tensor: 0/0 -> lerp.
		{Name: "zero -> lerp", Args: []ops.Value{t1(0, 0), t1(2, 4), s0(0.5)}, Want: []float64{1, 2}},
		// A NaN anywhere makes the whole result lerp (NaN stays where it was).
		{Name: "nan -> lerp", Args: []ops.Value{t1(nan, 1), t1(1, 3), s0(0.5)}, Want: []float64{nan, 2}},
		{Name: "default alpha", Args: []ops.Value{t1(1, 0), t1(0, 1)}, Want: []float64{sinQ, sinQ}},
		// alpha = 0.3 (float32 in sd-mecha numerics): 1-alpha is a float32 subtraction.
		{Name: "alpha f32", Numerics: sd, Args: []ops.Value{t1(1, 0), t1(0, 1), ops.Float(0.3)},
			Want: []float64{math.Sin(float64(1-float32(f32(0.3))) * halfPi), math.Sin(f32(0.3) * halfPi)}},
		{Name: "alpha exact", Numerics: ex, Args: []ops.Value{t1(1, 0), t1(0, 1), ops.Float(0.3)},
			Want: []float64{math.Sin(float64(1-alpha) * halfPi), math.Sin(alpha * halfPi)}},
	}})
}

func TestAcos(t *testing.T) {
	// Near 1, Go's math.Acos loses bits by cancellation; ours stays within an ulp or two of
	// the series acos(1-d) = sqrt(2d)(1 + d/12 + 3d²/160 + 5d³/896 + 35d⁴/18432 + 63d⁵/90112).
	for _, d := range []float64{1e-3, 1e-5, 1e-8, 0x1p-40} {
		x := 1 - d
		dd := 1 - x // exact
		want := math.Sqrt(2*dd) * (1 + dd*(1.0/12+dd*(3.0/160+dd*(5.0/896+dd*(35.0/18432+dd*63.0/90112)))))
		if got := acos(x); math.Abs(got-want) > 2*ulp(want) {
			t.Errorf("acos(1-%g) = %v, want %v (%.1f ulps)", d, got, want, math.Abs(got-want)/ulp(want))
		}
	}
	for _, x := range []float64{-1, -0.5, 0, 0.5, 1} {
		if got, want := acos(x), math.Acos(x); math.Abs(got-want) > ulp(want) {
			t.Errorf("acos(%v) = %v, want %v", x, got, want)
		}
	}
	if !math.IsNaN(acos(1.5)) || !math.IsNaN(acos(nan)) {
		t.Error("acos outside [-1, 1] must be NaN")
	}
}

// TestSinAcosCR checks the correctly rounded sin and acos against identities whose values
// are known exactly, and against Go's functions to within an ulp elsewhere.
func TestSinAcosCR(t *testing.T) {
	for _, x := range []float64{1e-300, 1e-8, 0.03782030457031969, 0.5, 1, 1.5, 3, -2, 100} {
		if got, want := sinCR(x), math.Sin(x); math.Abs(got-want) > ulp(want) {
			t.Errorf("sinCR(%v) = %v, math.Sin %v", x, got, want)
		}
	}
	if sinCR(math.Pi) != 1.2246467991473532e-16 { // sin(π - δ) = δ: the bits of π beyond float64
		t.Errorf("sinCR(π) = %v", sinCR(math.Pi))
	}
	for _, x := range []float64{-1, -0.5, 0, 0.5, 0.9992848, 1 - 0x1p-52, 1} {
		if got, want := acosCR(x), acos(x); math.Abs(got-want) > 2*ulp(want) {
			t.Errorf("acosCR(%v) = %v, acos %v", x, got, want)
		}
	}
	if acosCR(0.5) != math.Pi/3 || acosCR(0) != math.Pi/2 || acosCR(-1) != math.Pi {
		t.Errorf("acosCR(0.5, 0, -1) = %v, %v, %v", acosCR(0.5), acosCR(0), acosCR(-1))
	}
	if !math.IsNaN(acosCR(1.5)) || !math.IsNaN(sinCR(nan)) || sinCR(negZ) != 0 || !math.Signbit(sinCR(negZ)) {
		t.Error("special values")
	}
}

func ulp(x float64) float64 { return math.Nextafter(math.Abs(x), math.Inf(1)) - math.Abs(x) }

func TestPerpendicularComponent(t *testing.T) {
	opstest.Check(t, perpendicularComponent, opstest.Spec{Cases: []opstest.Case{
		{Name: "axis", Args: []ops.Value{t1(1, 0), t1(3, 4)}, Want: []float64{0, 4}},
		// a = (3, 4): |a| = 5, s = (3/5)(1/5) + (4/5)(2/5) = 0.44 in exact arithmetic; the
		// rounded quotients and products give b - a·s = (-0.3200000000000003, 0.23999999999999977)
		// instead of (-0.32, 0.24).
		{Name: "general", Args: []ops.Value{t1(3, 4), t1(1, 2)}, Want: []float64{-0.3200000000000003, 0.23999999999999977}},
		// a = 0: 0/0 everywhere -> zeros.
		{Name: "zero a", Args: []ops.Value{t1(0, 0), t1(3, 4)}, Want: []float64{0, 0}},
	}})
}

func TestMasks(t *testing.T) {
	k18 := f32(f32(1) * f32(1.8)) // float32 alpha*1.8 with alpha = 1
	opstest.Check(t, trainDifferenceMask, opstest.Spec{
		Ref: func(n ops.Numerics, x []float64) float64 {
			a, b, c, w := x[0], x[1], x[2], x[3]
			k := w * 1.8
			if n == ops.SDMecha {
				k = float64(float32(w) * float32(1.8))
			}
			q := math.Abs(b-a) / (math.Abs(b-a) + math.Abs(b-c))
			if q != q {
				q = 0
			}
			return k * q
		},
		Cases: []opstest.Case{
			{Name: "sd-mecha", Numerics: sd, Args: []ops.Value{t1(1, 5), t1(3, 5), t1(2, 5)}, Want: []float64{k18 * (2.0 / 3), 0}},
			{Name: "exact", Numerics: ex, Args: []ops.Value{t1(1, 5), t1(3, 5), t1(2, 5)}, Want: []float64{1.8 * (2.0 / 3), 0}},
			// alpha 0.7 arriving as a float32-valued 0-dim F64 tensor (how the VM passes recipe
			// constants) still gets float32 arithmetic: 0.7f*1.8f = 1.2599999904632568, times
			// 1/(1+1); float64 arithmetic would give 0.6299999892711639.
			{Name: "vm constant", Numerics: sd, Args: []ops.Value{t1(1), t1(2), t1(1), s0(f32(0.7))}, Want: []float64{0.6299999952316284}},
		},
	})
	opstest.Check(t, addOppositeMask, opstest.Spec{
		Ref: func(_ ops.Numerics, x []float64) float64 {
			a, b, c, w := x[0], x[1], x[2], x[3]
			q := math.Abs(a-b) / (math.Abs(a-b) + math.Abs(a+b-2*c))
			if q != q {
				q = 0
			}
			return w * 2 * q
		},
		Cases: []opstest.Case{
			{Name: "opposite", Args: []ops.Value{t1(1, 1, 0), t1(-1, 1, 0), t1(0, 0, 0)}, Want: []float64{2, 0, 0}},
			{Name: "inf -> max", Args: []ops.Value{t1(math.MaxFloat64), t1(-math.MaxFloat64), t1(0), s0(0.5)}, Want: []float64{0}},
		},
	})
	opstest.Check(t, addStrictOppositeMask, opstest.Spec{
		Ref: func(_ ops.Numerics, x []float64) float64 {
			a, b, c, w := x[0], x[1], x[2], x[3]
			t := math.Max(math.Abs(a-c), math.Abs(b-c))
			q := (c - a) * (b - c) / (t * t)
			if q != q {
				q = 0
			}
			if q < 0 {
				q = 0
			}
			return w * q * 2
		},
		Cases: []opstest.Case{
			{Name: "opposite", Args: []ops.Value{t1(1, 1, 1), t1(-1, 2, 0), t1(0, 0, 1)}, Want: []float64{2, 0, negZ}},
			{Name: "all equal", Args: []ops.Value{t1(1), t1(1), t1(1)}, Want: []float64{0}},
		},
	})
}

func TestGeometricSum(t *testing.T) {
	// The powers as cpow computes them: e1 = 4^½, e2 = 9^½ (exp of half the log, each
	// correctly rounded: 2 and 3.0000000000000004), c, s = cos, sin of the phase π/2 of
	// (-4)^½ or (-9)^½.
	e1, e2 := expFast(0.5*logFast(4)), expFast(0.5*logFast(9))
	s, c := sincosDD(math.Pi / 2)
	if e1 != 2 || c != 6.123233995736766e-17 || s != 1 {
		t.Fatalf("e1 %v, cos %v, sin %v", e1, c, s)
	}
	opstest.Check(t, geometricSum, opstest.Spec{Cases: []opstest.Case{
		{Name: "positive", Numerics: ex, Args: []ops.Value{t1(4, 1), t1(9, 1), s0(0.5)},
			Want: []float64{e1 * e2, 1}},
		// A negative base has the phase π: (-4)^½ = 2i (to rounding), 9^½ = 3, real part of the
		// product 2·cos(π/2)·3 ≈ 3.7e-16, not 6.
		{Name: "negative base", Numerics: ex, Args: []ops.Value{t1(-4), t1(9), s0(0.5)},
			Want: []float64{(e1 * c) * e2}},
		// Both negative: phases add to π: -6 (to rounding).
		{Name: "both negative", Numerics: ex, Args: []ops.Value{t1(-4), t1(-9), s0(0.5)},
			Want: []float64{float64((e1*c)*(e2*c)) - float64((e1*s)*(e2*s))}},
		{Name: "zero base", Args: []ops.Value{t1(0, 4), t1(9, 0), s0(0.5)}, Want: []float64{0, 0}},
		// 0^0 is NaN in glibc's cpow (cexp(0·clog(0)) with clog(0) = -inf).
		{Name: "zero to the zero", Args: []ops.Value{t1(0), t1(9), s0(1)}, Want: []float64{nan}},
		{Name: "default alpha", Numerics: ex, Args: []ops.Value{t1(1), t1(1)}, Want: []float64{1}},
	}})
}

func TestMultiplyQuotient(t *testing.T) {
	opstest.Check(t, multiplyQuotient, opstest.Spec{Cases: []opstest.Case{
		// a and b on the same side of c (log scale): power 0, a unchanged.
		{Name: "same side", Args: []ops.Value{t1(2), t1(3), t1(1)}, Want: []float64{2}},
		// Opposite sides, equally far: power alpha = 1, a·(b/c) = 2·0.5 (to rounding of exp/log).
		{Name: "opposite", Args: []ops.Value{t1(2), t1(0.5), t1(1)}, Want: []float64{2 * expFast(math.Log1p(-0.75)/2)}},
		// c = 0: b/c is NaN, so the result is a.
		{Name: "c zero", Args: []ops.Value{t1(2, -3), t1(3, 1), t1(0, 0)}, Want: []float64{2, -3}},
		{Name: "alpha 0", Args: []ops.Value{t1(2), t1(0.5), t1(1), s0(0)}, Want: []float64{2}},
	}})
}

// TestComplexPow pins the glibc-shaped pieces of cpow.
func TestComplexPow(t *testing.T) {
	for _, tc := range []struct {
		x, y float64
		want complex128
	}{
		{4, 0.5, 2},
		{1, 0.3, 1},
		{0, 0.5, 0},
		{-1, 1, complex(-1, 1.2246467991473532e-16)}, // sin(π rounded) = π - π rounded
	} {
		if got := cpow(complex(tc.x, 0), complex(tc.y, 0), nil); got != tc.want {
			t.Errorf("cpow(%v, %v) = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
	// clog's real part near 1 goes through log1p((x-1)(x+1))/2.
	if re, _ := clogAxis(1.5, 0); re != math.Log1p(0.5*2.5)/2 {
		t.Errorf("clog(1.5) = %v", re)
	}
	if re, im := clogAxis(-0.25, 0); re != logFast(0.25) || im != math.Pi {
		t.Errorf("clog(-0.25) = %v, %v", re, im)
	}
	if re, im := clogAxis(-2, negZ); re != math.Ln2 || im != -math.Pi {
		t.Errorf("clog(-2 - 0i) = %v, %v", re, im)
	}
	// C complex multiplication recovers infinities: (inf + 0i)(1 + 0i) = inf, not NaN.
	if x, _ := cmulC(inf, 0, 1, 0); x != inf {
		t.Errorf("cmulC(inf, 1) = %v", x)
	}
}
