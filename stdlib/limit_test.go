package stdlib

import (
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/opstest"
)

// Tests of limit.go (clamp, add_cosine_a, add_cosine_b, crossover) and of stack and
// omit_non_finite (logistics.go). Golden parity is checked by cmd/mechac's TestGolden.

func TestClamp(t *testing.T) {
	refClamp := func(s float64, x []float64) float64 {
		a, bs := x[0], x[1:]
		hi, lo := bs[0], bs[0]
		for _, b := range bs[1:] {
			hi, lo = math.Max(hi, b), math.Min(lo, b)
		}
		if s != 0 {
			sum := 0.0
			for _, b := range bs {
				sum += b
			}
			avg := sum / float64(len(bs))
			sp, ln := hi, lo
			for _, b := range bs {
				if sp >= b && b >= avg {
					sp = b
				}
				if ln <= b && b <= avg {
					ln = b
				}
			}
			hi = float64((1-s)*hi) + float64(s*sp)
			lo = float64((1-s)*lo) + float64(s*ln)
		}
		return math.Min(math.Max(a, lo), hi)
	}
	kw := func(s float64) []ops.Value { return []ops.Value{ops.Float(s)} }
	opstest.Check(t, clampDef, opstest.Spec{
		Ref: func(_ ops.Numerics, x []float64) float64 { return refClamp(0, x) },
		Cases: []opstest.Case{
			{Name: "range", Args: []ops.Value{t1(5, -5, 0.5)}, Var: []ops.Value{t1(0, 0, 0), t1(1, 1, 1), t1(3, 3, 3)}, Want: []float64{3, 0, 0.5}},
			// stiffness 0.5: mean 4/3; smallest bound >= mean 3, largest <= mean 1:
			// hi = 0.5*3 + 0.5*3 = 3, lo = 0.5*0 + 0.5*1 = 0.5.
			{Name: "stiffness", Args: []ops.Value{t1(5, -5, 1)}, Var: []ops.Value{t1(0, 0, 0), t1(1, 1, 1), t1(3, 3, 3)}, Kw: kw(0.5), Want: []float64{3, 0.5, 1}},
			// stiffness 1: the limits are the bounds nearest the mean.
			{Name: "stiffness 1", Args: []ops.Value{t1(5, -5)}, Var: []ops.Value{t1(0, 0), t1(1, 1), t1(3, 3)}, Kw: kw(1), Want: []float64{3, 1}},
			{Name: "one bound", Args: []ops.Value{t1(5, -5)}, Var: []ops.Value{t1(2, 2)}, Kw: kw(0.3), Want: []float64{2, 2}},
			{Name: "nan bound", Args: []ops.Value{t1(5, 1)}, Var: []ops.Value{t1(nan, 0), t1(1, 2)}, Want: []float64{nan, 1}},
			{Name: "no bounds", Args: []ops.Value{t1(5)}, Shape: []int{1}, WantErr: "no bounds"},
			// torch.maximum/minimum on +0/-0: the vectorised body (elements 0..7 of 9) returns
			// the second operand, the scalar tail (element 8) the first. Bounds -0, +0, a = -0.
			{Name: "signed zeros", Args: []ops.Value{opstest.T([]int{9}, negZ, negZ, negZ, negZ, negZ, negZ, negZ, negZ, negZ)},
				Var:  []ops.Value{opstest.T([]int{9}, negZ, negZ, negZ, negZ, negZ, negZ, negZ, negZ, negZ), opstest.T([]int{9}, 0, 0, 0, 0, 0, 0, 0, 0, 0)},
				Want: []float64{0, 0, 0, 0, 0, 0, 0, 0, negZ}},
		},
	})
	// With a stiffness the per-element reference is the same formula (sequential mean of 3).
	opstest.Check(t, clampDef, opstest.Spec{
		Hypers: map[string]ops.Value{"stiffness": ops.Float(0.4)},
		Ref:    func(_ ops.Numerics, x []float64) float64 { return refClamp(0.4, x) },
		Seed:   7,
	})
}

func TestTorchMaxMin(t *testing.T) {
	for _, vec := range []bool{false, true} {
		if !math.IsNaN(torchMaximum(nan, 1, vec)) || !math.IsNaN(torchMaximum(1, nan, vec)) ||
			!math.IsNaN(torchMinimum(nan, 1, vec)) || !math.IsNaN(torchMinimum(1, nan, vec)) {
			t.Error("maximum/minimum must propagate NaN")
		}
		if torchMaximum(1, 2, vec) != 2 || torchMinimum(1, 2, vec) != 1 {
			t.Error("maximum/minimum of 1, 2")
		}
	}
	if !math.Signbit(torchMaximum(negZ, 0, false)) || math.Signbit(torchMaximum(negZ, 0, true)) {
		t.Error("maximum(-0, +0): scalar -0, vector +0")
	}
	if math.Signbit(torchMinimum(0, negZ, false)) || !math.Signbit(torchMinimum(0, negZ, true)) {
		t.Error("minimum(+0, -0): scalar +0, vector -0")
	}
}

func TestAddCosine(t *testing.T) {
	m := func(x ...float64) ops.Value { return opstest.T([]int{2, 2}, x...) }
	for _, d := range []*ops.Def{addCosineA, addCosineB} {
		opstest.Check(t, d, opstest.Spec{Cases: []opstest.Case{
			// Orthogonal columns: similarity 0 (add_cosine_b: (0 + 0)/2), k = 1 - clamp(0 - 0.5)
			// = 1: b.
			{Name: "orthogonal", Args: []ops.Value{m(1, 0, 0, 1), m(0, 1, 1, 0), s0(0.5)}, Want: []float64{0, 1, 1, 0}},
			// Equal tensors: similarity 1 (to rounding), alpha 0 -> k ≈ 0: lerp(a, a, k) = a.
			{Name: "equal", Args: []ops.Value{m(1, 2, 3, 4), m(1, 2, 3, 4), s0(0)}, Want: []float64{1, 2, 3, 4}},
			// Opposite columns: similarity -1, k = 1: b.
			{Name: "opposite", Args: []ops.Value{m(1, 2, 3, 4), m(-1, -2, -3, -4), s0(0.25)}, Want: []float64{-1, -2, -3, -4}},
			{Name: "shapes differ", Args: []ops.Value{m(1, 2, 3, 4), t1(1, 2, 3, 4), s0(0)}, Shape: []int{2, 2}, WantErr: "same shape"},
		}})
	}
	// add_cosine_a normalises the columns first: column 0 of a = (3, 4) is (0.6, 0.8), of
	// b = (4, 3) is (0.8, 0.6); cosine 0.96. alpha 0.5: k = 1 - 0.46 = 0.54 for column 0;
	// column 1 has a = b: lerp gives a. Checked against the formula with torch's rounding.
	a, b := []float64{3, 1, 4, 2}, []float64{4, 1, 3, 2}
	n0a, n0b := math.Sqrt(math.FMA(4, 4, 9)), math.Sqrt(math.FMA(3, 3, 16))
	an := []float64{3 / n0a, 4 / n0a}
	bn := []float64{4 / n0b, 3 / n0b}
	sq := func(x, y float64) float64 { return math.Sqrt(x*x + y*y) }
	na, nb := sq(an[0], an[1]), sq(bn[0], bn[1])
	sim := (an[0]/na)*(bn[0]/nb) + (an[1]/na)*(bn[1]/nb)
	k := 1 - clamp01(sim-0.5)
	opstest.Check(t, addCosineA, opstest.Spec{Cases: []opstest.Case{
		{Name: "columns", Args: []ops.Value{opstest.T([]int{2, 2}, a...), opstest.T([]int{2, 2}, b...), s0(0.5)},
			Want: []float64{Lerp(3, 4, k), 1, Lerp(4, 3, k), 2}},
	}})
}

func TestCrossover(t *testing.T) {
	hy := func(alpha, tilt float64) []ops.Value { return []ops.Value{ops.Float(alpha), ops.Float(tilt)} }
	args := func(a, b ops.Value, alpha, tilt float64) []ops.Value {
		return append([]ops.Value{a, b}, hy(alpha, tilt)...)
	}
	dc, nyq := t1(1, 1, 1, 1), t1(1, -1, 1, -1)
	opstest.Check(t, crossoverDef, opstest.Spec{
		Hypers: map[string]ops.Value{"alpha": ops.Float(0.3), "tilt": ops.Float(0.5)},
		Cases: []opstest.Case{
			{Name: "alpha 0", Args: args(t1(1, nan), t1(2, 3), 0, 0), Want: []float64{1, nan}},
			{Name: "alpha 1", Args: args(t1(1, nan), t1(2, 3), 1, 0), Want: []float64{2, 3}},
			{Name: "tilt 1 -> lerp", Args: args(t1(1, 2), t1(3, 6), 0.25, 1), Want: []float64{1.5, 3}},
			{Name: "0-dim -> lerp", Args: args(s0(1), s0(3), 0.25, 0), Want: []float64{1.5}},
			{Name: "allclose -> lerp", Args: args(t1(1, 2), t1(1+1e-7, 2), 0.5, 0), Want: []float64{Lerp(1, 1+1e-7, 0.5), 2}},
			// n = 4: the half spectrum has 3 frequencies with mesh (0, 0.5, 1); tilt 0, alpha 0.5:
			// filter mesh > 0.5 = (0, 0, 1): a's DC and b's Nyquist: (1,1,1,1) + (1,-1,1,-1).
			{Name: "sharp cut", Args: args(dc, nyq, 0.5, 0), Want: []float64{2, 0, 2, 0}},
			// tilt 2 inverts the cut: mesh < 0.5 = (1, 0, 0): b's DC (0) and a's other
			// frequencies (0): zeros.
			{Name: "tilt 2", Args: args(dc, nyq, 0.5, 2), Want: []float64{0, 0, 0, 0}},
			// tilt 4 is tilt 0.
			{Name: "tilt 4", Args: args(dc, nyq, 0.5, 4), Want: []float64{2, 0, 2, 0}},
			// 2-D: the DC of a [2, 2] tensor from a, the rest from b (alpha 0.9: mesh > 0.1).
			{Name: "2-D", Args: args(opstest.T([]int{2, 2}, 1, 1, 1, 1), opstest.T([]int{2, 2}, 1, -1, -1, 1), 0.9, 0), Want: []float64{2, 0, 0, 2}},
			{Name: "alpha out of range", Args: args(t1(1, 2), t1(3, 4), 1.5, 0), WantErr: "between 0 and 1"},
		},
	})
}

// TestCrossoverFilter checks create_filter on shapes whose float32 values are exact.
func TestCrossoverFilter(t *testing.T) {
	for _, tc := range []struct {
		shape       []int
		alpha, tilt float64
		want        []float32
	}{
		// 1-D: mesh = linspace(0, 1, 5) = (0, .25, .5, .75, 1).
		{[]int{5}, 0.5, 0, []float32{0, 0, 0, 1, 1}},
		{[]int{5}, 0.5, 2, []float32{1, 1, 0, 0, 0}},
		// tilt 0.5: cot(π/4) = 1 (to rounding): mesh + alpha + alpha - 1 = mesh, clipped.
		{[]int{5}, 0.5, 0.5, []float32{0, 0.25, 0.5, 0.75, 1}},
		// tilt 3.5 (> 2): alpha inverted, 1 - filter: cot(7π/4) = -1: -mesh - 0.5 + 0.5 + 1, inverted -> mesh.
		{[]int{5}, 0.5, 3.5, []float32{0, 0.25, 0.5, 0.75, 1}},
		// 2-D [4, 3]: dim 0 gradient (0, 1, 2, 1)/2, dim 1 (last) (0, .5, 1); mesh² = (g0² + g1²)/2.
		{[]int{4, 3}, 0.5, 0, func() []float32 {
			g0, g1 := []float32{0, 0.5, 1, 0.5}, []float32{0, 0.5, 1}
			var out []float32
			for _, x := range g0 {
				for _, y := range g1 {
					m := float32(math.Sqrt(float64((x*x + y*y) / 2)))
					out = append(out, b2f(m > 0.5))
				}
			}
			return out
		}()},
	} {
		got, err := crossoverFilter(tc.shape, tc.alpha, tc.tilt)
		if err != nil {
			t.Fatal(err)
		}
		for i := range tc.want {
			if math.Abs(float64(got[i]-tc.want[i])) > 1e-7 {
				t.Errorf("filter %v alpha %v tilt %v: %v, want %v", tc.shape, tc.alpha, tc.tilt, got, tc.want)
				break
			}
		}
	}
}

func TestLinspace32(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 16, 17, 40, 772} {
		x := linspace32(0, 1, n)
		if x[0] != 0 || (n > 1 && x[n-1] != 1) {
			t.Errorf("linspace(0, 1, %d) ends %v, %v", n, x[0], x[n-1])
		}
		for i := 1; i < n; i++ {
			if !(x[i] > x[i-1]) {
				t.Errorf("linspace(0, 1, %d) not increasing at %d", n, i)
			}
			want := float64(i) / float64(n-1)
			if math.Abs(float64(x[i])-want) > 2e-7 {
				t.Errorf("linspace(0, 1, %d)[%d] = %v, want ≈ %v", n, i, x[i], want)
			}
		}
	}
	// Powers of two steps are exact.
	if got := linspace32(0, 1, 5); got[1] != 0.25 || got[2] != 0.5 || got[3] != 0.75 {
		t.Errorf("linspace(0, 1, 5) = %v", got)
	}
	// Descending (the negative-frequency half of create_filter).
	if got := linspace32(3, 1, 3); got[0] != 3 || got[1] != 2 || got[2] != 1 {
		t.Errorf("linspace(3, 1, 3) = %v", got)
	}
}

func TestFMA32(t *testing.T) {
	// Against math/big: a*b+c exactly, rounded once to float32 (nearest even). Random triples
	// (half of them with cancellation) rarely reach a float32 midpoint; the cases below do.
	ref := func(a, b, c float32) float32 {
		x := new(big.Float).SetPrec(200).SetFloat64(float64(a))
		x.Mul(x, new(big.Float).SetPrec(200).SetFloat64(float64(b)))
		x.Add(x, new(big.Float).SetPrec(200).SetFloat64(float64(c)))
		f, _ := x.Float32()
		return f
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		a := float32(r.NormFloat64())
		b := float32(r.NormFloat64())
		c := float32(r.NormFloat64())
		if i%2 == 1 {
			c = -float32(a*b) + float32(r.NormFloat64())*0x1p-20
		}
		want := ref(a, b, c)
		if got := fma32(a, b, c); got != want {
			t.Fatalf("fma32(%v, %v, %v) = %v, want %v", a, b, c, got, want)
		}
	}
	// An exact tie: (1+2^-12)² - 2^-11 = 1 + 2^-24, to even.
	if got := fma32(1+0x1p-12, 1+0x1p-12, -0x1p-11); got != 1 {
		t.Errorf("fma32 exact tie = %v", got)
	}
	// Double rounding: 2^-12(1+2^-18) · -2^-12(1-2^-18) + (1+2^-23) = 1 + 2^-24 + 2^-60, just
	// above the midpoint: float64 drops the 2^-60 and float32 then rounds the tie to even (1).
	a, b, c := float32(0x1p-12*(1+0x1p-18)), float32(-0x1p-12*(1-0x1p-18)), float32(1+0x1p-23)
	if got := fma32(a, b, c); got != 1+0x1p-23 {
		t.Errorf("fma32 above a midpoint = %v, want 1+2^-23", got)
	}
	if float32(math.FMA(float64(a), float64(b), float64(c))) != 1 {
		t.Error("the double-rounding example no longer double-rounds")
	}
}

func TestPyFloorDiv(t *testing.T) {
	for _, tc := range []struct{ a, b, want float64 }{
		{3.2, 4, 0}, {4, 4, 1}, {-0.5, 4, -1}, {9, 4, 2}, {-4, 4, -1},
	} {
		if got := pyFloorDiv(tc.a, tc.b); got != tc.want {
			t.Errorf("%v // %v = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestStack(t *testing.T) {
	opstest.Check(t, stackDef, opstest.Spec{Cases: []opstest.Case{
		{Name: "two", Var: []ops.Value{t1(1, 2), t1(3, 4)}, Want: []float64{1, 2, 3, 4}},
		{Name: "0-dim", Var: []ops.Value{s0(1), s0(2), s0(3)}, Want: []float64{1, 2, 3}},
		{Name: "shapes differ", Var: []ops.Value{t1(1, 2), t1(3)}, Shape: []int{2, 2}, WantErr: "equal shapes"},
	}})
	if s, err := stackShape(nil, []ops.Value{t1(1, 2), t1(3, 4), t1(5, 6)}, nil); err != nil || !ops.SameShape(s, []int{3, 2}) {
		t.Errorf("stack shape %v, %v", s, err)
	}
	if _, err := stackShape(nil, nil, nil); err == nil {
		t.Error("stack of nothing must fail")
	}
}

func TestOmitNonFinite(t *testing.T) {
	opstest.Check(t, omitNonFinite, opstest.Spec{Cases: []opstest.Case{
		{Name: "finite", Args: []ops.Value{typed(ops.F16, []int{2}, 1, 2)}, Want: []float64{1, 2}, WantDType: opstest.DType(ops.F16)},
		{Name: "nan", Args: []ops.Value{t1(1, nan)}, WantErr: "non-finite"},
		{Name: "inf", Args: []ops.Value{t1(-inf, 1)}, WantErr: "non-finite"},
	}})
	c := &ops.Call{Key: "k", Args: []ops.Value{t1(inf)}}
	if err := opstest.Run(omitNonFinite, c); !errors.Is(err, ErrMissing) {
		t.Errorf("error %v does not wrap ErrMissing", err)
	}
}

// TestMeanDim0Chunks checks the sliced mean against SumDim0Torch of the whole stack, for
// column counts around the slice size (a lone last column, 16-column blocks across slices).
func TestMeanDim0Chunks(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, rows := range []int{1, 3, 5, 17, 40} {
		for _, n := range []int{1, 2, 5, 16, 4095, 4096, 4097, 4098, 4113, 9000} {
			ts := make([]*ops.Tensor, rows)
			whole := make([]float64, rows*n)
			for k := range ts {
				d := make([]float64, n)
				for j := range d {
					d[j] = r.NormFloat64()
					whole[k*n+j] = d[j]
				}
				ts[k] = &ops.Tensor{Shape: []int{n}, Data: d}
			}
			want := make([]float64, n)
			SumDim0Torch(whole, rows, n, want)
			got := meanDim0(ts, n)
			for j := range want {
				if got[j] != want[j]/float64(rows) {
					t.Fatalf("rows %d, n %d: column %d = %v, want %v", rows, n, j, got[j], want[j]/float64(rows))
				}
			}
		}
	}
}

// bigExp is e^x to ~250 bits: Taylor on x/2^32, then 32 squarings.
func bigExp(x *big.Float) *big.Float {
	const prec = 320
	r := new(big.Float).SetPrec(prec).SetMantExp(x, -32)
	sum := new(big.Float).SetPrec(prec).SetInt64(1)
	term := new(big.Float).SetPrec(prec).SetInt64(1)
	for i := 1; i < 30; i++ {
		term.Mul(term, r)
		term.Quo(term, new(big.Float).SetInt64(int64(i)))
		sum.Add(sum, term)
	}
	for range 32 {
		sum.Mul(sum, sum)
	}
	return sum
}

// TestAccurateElementary checks expFast, logFast and sincosDD against correctly rounded
// big.Float references: they are accurate to ~2^-70 before rounding, so a mismatch on random
// inputs would be a bug (the chance of a legitimate one is ~2^-17 per input).
func TestAccurateElementary(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	bf := func(x float64) *big.Float { return new(big.Float).SetPrec(320).SetFloat64(x) }
	for i := 0; i < 3000; i++ {
		x := (r.Float64()*2 - 1) * 30
		if i%3 == 0 {
			x = (r.Float64()*2 - 1) * 1e-3
		}
		want, _ := bigExp(bf(x)).Float64()
		if got := expFast(x); got != want {
			t.Errorf("expFast(%v) = %v, want %v", x, got, want)
		}
		l := math.Exp(r.Float64()*40 - 30)
		if i%3 == 0 {
			l = 1 + (r.Float64()*2-1)*0.2
		}
		// log l: the y with e^y = l, by Newton from math.Log in big arithmetic.
		y := bf(math.Log(l))
		for range 3 {
			e := bigExp(new(big.Float).Neg(y))
			e.Mul(e, bf(l))
			y.Add(y, e.Sub(e, bf(1)))
		}
		wl, _ := y.Float64()
		if got := logFast(l); got != wl {
			t.Errorf("logFast(%v) = %v, want %v", l, got, wl)
		}
		a := (r.Float64()*2 - 1) * 7
		s, c := crSinCos(crFloat(a))
		ws, _ := s.Float64()
		wc, _ := c.Float64()
		if gs, gc := sincosDD(a); gs != ws || gc != wc {
			t.Errorf("sincosDD(%v) = %v, %v, want %v, %v", a, gs, gc, ws, wc)
		}
	}
	// Special values fall back to Go's functions.
	if expFast(-800) != 0 || !math.IsInf(expFast(800), 1) || !math.IsNaN(expFast(nan)) ||
		!math.IsInf(logFast(0), -1) || !math.IsNaN(logFast(-1)) || logFast(1) != 0 {
		t.Error("special values")
	}
	var m sincosMemo
	s1, c1 := m.sincos(1)
	s2, c2 := m.sincos(1)
	if s1 != s2 || c1 != c2 || s1 != sinCR(1) {
		t.Error("sincosMemo")
	}
}
