package num

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/mechac/mechac/ops"
)

// format describes a small binary float format for the reference rounding.
type format struct {
	name    string
	widen   func(uint16) float64
	inf     uint16  // bit pattern of +inf
	infVal  float64 // the value the next pattern after the largest finite would have (2^(emax+1))
	fromF64 func(float64) uint16
}

var (
	half = format{"f16", F16ToF64, 0x7c00, 0x1p16, F16FromF64}
	bf16 = format{"bf16", BF16ToF64, 0x7f80, 0x1p128, BF16FromF64}
)

func (f format) val(p uint16) float64 {
	if p == f.inf {
		return f.infVal
	}
	return f.widen(p)
}

// refRound is round-to-nearest-even computed the slow way: find the two neighbouring finite
// values of |x| by binary search over the ordered bit patterns and compare the exact distances
// with big.Float. The pattern after the largest finite value is +inf with value 2^(emax+1), which
// gives IEEE's overflow rule for free (its fraction is even).
func refRound(f format, x float64) uint16 {
	sign := uint16(0)
	if math.Signbit(x) {
		sign = 0x8000
	}
	a := math.Abs(x)
	if a >= f.infVal {
		return sign | f.inf
	}
	lo, hi := uint16(0), f.inf // val(lo) <= a < val(hi)
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if f.val(mid) <= a {
			lo = mid
		} else {
			hi = mid
		}
	}
	if f.val(lo) == a {
		return sign | lo
	}
	const prec = 2200
	ba := new(big.Float).SetPrec(prec).SetFloat64(a)
	dlo := new(big.Float).SetPrec(prec).Sub(ba, new(big.Float).SetFloat64(f.val(lo)))
	dhi := new(big.Float).SetPrec(prec).Sub(new(big.Float).SetFloat64(f.val(hi)), ba)
	switch dlo.Cmp(dhi) {
	case -1:
		return sign | lo
	case 1:
		return sign | hi
	}
	if lo&1 == 0 {
		return sign | lo
	}
	return sign | hi
}

func TestF16ToF64Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		x := F16ToF64(h)
		exp, mant := int(h>>10)&0x1f, float64(h&0x3ff)
		var want float64
		switch exp {
		case 0:
			want = math.Ldexp(mant, -24)
		case 0x1f:
			if mant == 0 {
				want = math.Inf(1)
			} else {
				want = math.NaN()
			}
		default:
			want = math.Ldexp(1+mant/1024, exp-15)
		}
		if h&0x8000 != 0 {
			want = -want
		}
		if math.IsNaN(want) {
			if !math.IsNaN(x) || math.Signbit(x) != (h&0x8000 != 0) {
				t.Fatalf("F16ToF64(%#04x) = %v, want NaN with the same sign", h, x)
			}
			if got := uint16(math.Float64bits(x)>>42) & 0x3ff; got != h&0x3ff {
				t.Fatalf("F16ToF64(%#04x): payload %#x lost", h, got)
			}
			continue
		}
		if math.Float64bits(x) != math.Float64bits(want) {
			t.Fatalf("F16ToF64(%#04x) = %v, want %v", h, x, want)
		}
	}
}

func TestBF16ToF64Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		b := uint16(i)
		x := BF16ToF64(b)
		want := float64(math.Float32frombits(uint32(b) << 16))
		if math.IsNaN(want) {
			bits := math.Float64bits(x)
			if !math.IsNaN(x) || bits>>63 != uint64(b>>15) || uint16(bits>>45)&0x7f != b&0x7f {
				t.Fatalf("BF16ToF64(%#04x) = %#x, want NaN with sign and payload kept", b, bits)
			}
			continue
		}
		if math.Float64bits(x) != math.Float64bits(want) {
			t.Fatalf("BF16ToF64(%#04x) = %v, want %v", b, x, want)
		}
	}
}

// Every half/bfloat16 value survives widening and narrowing in both modes; NaNs come back
// quiet with their sign (and, for the direct conversion, their payload).
func TestRoundTripExhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		x := F16ToF64(h)
		isNaN := h&0x7c00 == 0x7c00 && h&0x3ff != 0
		if isNaN {
			if got := F16FromF64(x); got != h|0x200 {
				t.Fatalf("F16FromF64(F16ToF64(%#04x)) = %#04x, want %#04x", h, got, h|0x200)
			}
			if got := F16FromF32(float32(x)); got != h&0x8000|0x7e00 {
				t.Fatalf("F16FromF32(NaN %#04x) = %#04x, want %#04x", h, got, h&0x8000|0x7e00)
			}
		} else {
			if got := F16FromF64(x); got != h {
				t.Fatalf("F16FromF64(F16ToF64(%#04x)) = %#04x", h, got)
			}
			if got := F16FromF32(float32(x)); got != h {
				t.Fatalf("F16FromF32(F16ToF64(%#04x)) = %#04x", h, got)
			}
			for _, via := range []bool{false, true} {
				if n := Narrow(x, ops.F16, via); math.Float64bits(n) != math.Float64bits(x) {
					t.Fatalf("Narrow(%v, F16, %v) = %v", x, via, n)
				}
			}
		}

		b := uint16(i)
		y := BF16ToF64(b)
		isNaN = b&0x7f80 == 0x7f80 && b&0x7f != 0
		if isNaN {
			if got := BF16FromF64(y); got != b|0x40 {
				t.Fatalf("BF16FromF64(BF16ToF64(%#04x)) = %#04x, want %#04x", b, got, b|0x40)
			}
			if got := BF16FromF32(float32(y)); got != 0x7fc0 {
				t.Fatalf("BF16FromF32(NaN %#04x) = %#04x, want 0x7fc0", b, got)
			}
		} else {
			if got := BF16FromF64(y); got != b {
				t.Fatalf("BF16FromF64(BF16ToF64(%#04x)) = %#04x", b, got)
			}
			if got := BF16FromF32(float32(y)); got != b {
				t.Fatalf("BF16FromF32(BF16ToF64(%#04x)) = %#04x", b, got)
			}
		}
	}
}

// randomNear draws float64 values that stress rounding: random values across (and beyond) the
// format's range, exact midpoints between neighbours, and midpoints nudged by one float64 ulp.
func randomNear(r *rand.Rand, f format) float64 {
	switch r.IntN(4) {
	case 0: // random bits in a window of exponents around the format's range
		lo, hi := -30, 17
		if f.inf == 0x7f80 {
			lo, hi = -140, 129
		}
		m := 1 + r.Float64()
		x := math.Ldexp(m, lo+r.IntN(hi-lo))
		if r.IntN(2) == 0 {
			x = -x
		}
		return x
	case 1, 2, 3: // around the midpoint of two neighbours
		p := uint16(r.IntN(int(f.inf)))
		a, b := f.val(p), f.val(p+1)
		mid := a + (b-a)/2 // exact: a and b are close binary fractions
		switch r.IntN(3) {
		case 0:
			return mid
		case 1:
			return math.Nextafter(mid, math.Inf(1))
		default:
			return math.Nextafter(mid, 0)
		}
	}
	panic("unreachable")
}

func TestDirectRoundingMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 200000
	if testing.Short() {
		n = 20000
	}
	for _, f := range []format{half, bf16} {
		for i := 0; i < n; i++ {
			x := randomNear(r, f)
			want := refRound(f, x)
			if got := f.fromF64(x); got != want {
				t.Fatalf("%s: from %v (%#x) = %#04x, want %#04x", f.name, x, math.Float64bits(x), got, want)
			}
			// EncodeInto has its own inlined fast path.
			d := ops.F16
			if f.inf == 0x7f80 {
				d = ops.BF16
			}
			var buf [2]byte
			EncodeInto(buf[:], []float64{x}, d, false)
			if got := uint16(buf[0]) | uint16(buf[1])<<8; got != want {
				t.Fatalf("%s: EncodeInto(%v) = %#04x, want %#04x", f.name, x, got, want)
			}
			// And the float32 path: a single rounding of float32(x).
			x32 := float32(x)
			want32 := refRound(f, float64(x32))
			EncodeInto(buf[:], []float64{x}, d, true)
			if got := uint16(buf[0]) | uint16(buf[1])<<8; got != want32 {
				t.Fatalf("%s: EncodeInto(%v, viaF32) = %#04x, want %#04x", f.name, x, got, want32)
			}
		}
		// Special values.
		for _, x := range []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1),
			math.SmallestNonzeroFloat64, -math.MaxFloat64, math.MaxFloat64, 65504, 65519.99, 65520, 0x1p-25,
			math.Nextafter(0x1p-25, 1), 0x1p-24 * 1.5, 0x1p-24 * 2.5} {
			if got, want := f.fromF64(x), refRound(f, x); got != want {
				t.Errorf("%s: from %v = %#04x, want %#04x", f.name, x, got, want)
			}
		}
	}
}

// The float32 conversions are single roundings of the (exactly widened) float32 value.
func TestFromF32MatchesReference(t *testing.T) {
	step := uint32(9973)
	if testing.Short() {
		step = 99991
	}
	for u := uint64(0); u < 1<<32; u += uint64(step) {
		bits := uint32(u)
		x := math.Float32frombits(bits)
		if x != x {
			continue
		}
		if got, want := F16FromF32(x), refRound(half, float64(x)); got != want {
			t.Fatalf("F16FromF32(%#08x) = %#04x, want %#04x", bits, got, want)
		}
		if got, want := BF16FromF32(x), refRound(bf16, float64(x)); got != want {
			t.Fatalf("BF16FromF32(%#08x) = %#04x, want %#04x", bits, got, want)
		}
	}
	if got := F16FromF32(float32(math.Copysign(math.NaN(), -1))); got != 0xfe00 {
		t.Errorf("F16FromF32(-NaN) = %#04x, want 0xfe00", got)
	}
	if got := BF16FromF32(float32(math.Copysign(math.NaN(), -1))); got != 0x7fc0 {
		t.Errorf("BF16FromF32(-NaN) = %#04x, want 0x7fc0", got)
	}
}

// Values where sd-mecha's double rounding f16(f32(x)) differs from the single rounding: float32
// rounds x onto an exact half/bfloat16 tie, which then goes to even.
func TestDoubleRounding(t *testing.T) {
	cases := []struct {
		x            float64
		d            ops.DType
		direct, viaF float64
	}{
		{1 + 0x1p-11 + 0x1p-40, ops.F16, 1 + 0x1p-10, 1},
		{-(1 + 0x1p-11 + 0x1p-40), ops.F16, -(1 + 0x1p-10), -1},
		{1 + 3*0x1p-11 - 0x1p-40, ops.F16, 1 + 0x1p-10, 1 + 0x1p-9},
		{0x1p-25 + 0x1p-60, ops.F16, 0x1p-24, 0},       // subnormal: half of the smallest
		{65520 - 0x1p-20, ops.F16, 65504, math.Inf(1)}, // overflow only after float32 rounding
		{1 + 0x1p-8 + 0x1p-30, ops.BF16, 1 + 0x1p-7, 1},
		{1 + 3*0x1p-8 - 0x1p-30, ops.BF16, 1 + 0x1p-7, 1 + 0x1p-6},
	}
	for _, c := range cases {
		if got := Narrow(c.x, c.d, false); got != c.direct {
			t.Errorf("Narrow(%v, %v, direct) = %v, want %v", c.x, c.d, got, c.direct)
		}
		if got := Narrow(c.x, c.d, true); got != c.viaF {
			t.Errorf("Narrow(%v, %v, viaF32) = %v, want %v", c.x, c.d, got, c.viaF)
		}
	}
	// On random values the two modes differ rarely (golden README: ~1 in 25000 for half).
	r := rand.New(rand.NewPCG(3, 4))
	diff := 0
	const n = 1000000
	for i := 0; i < n; i++ {
		x := r.NormFloat64()
		if F16FromF64(x) != F16FromF32(float32(x)) {
			diff++
		}
	}
	if diff == 0 || diff > n/5000 {
		t.Errorf("direct vs double rounding differ on %d of %d random values", diff, n)
	}
	t.Logf("f16 direct vs via-f32 differ on %d of %d N(0,1) values", diff, n)
}

func TestNarrowIntegers(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	cases := []struct {
		x    float64
		d    ops.DType
		want float64
	}{
		{2.9, ops.I64, 2}, {-2.9, ops.I64, -2}, {0x1p63, ops.I64, math.MinInt64},
		{-0x1p63, ops.I64, math.MinInt64}, {nan, ops.I64, math.MinInt64}, {-inf, ops.I64, math.MinInt64},
		{1e10, ops.I32, math.MinInt32}, {-2147483648.5, ops.I32, math.MinInt32}, {2147483647.9, ops.I32, 2147483647},
		{40000, ops.I16, 40000 - 65536}, {-32769, ops.I16, 32767}, {1e10, ops.I16, 0},
		{130.5, ops.I8, 130 - 256}, {-129, ops.I8, 127},
		{-1.5, ops.U8, 255}, {256.7, ops.U8, 0}, {255.9, ops.U8, 255}, {nan, ops.U8, 0},
		{0, ops.BOOL, 0}, {math.Copysign(0, -1), ops.BOOL, 0}, {-0.1, ops.BOOL, 1}, {nan, ops.BOOL, 1},
		{1e40, ops.F32, inf}, {0.1, ops.F32, float64(float32(0.1))}, {0.1, ops.F64, 0.1},
	}
	for _, c := range cases {
		got := Narrow(c.x, c.d, false)
		if got != c.want {
			t.Errorf("Narrow(%v, %v) = %v, want %v", c.x, c.d, got, c.want)
		}
		// EncodeInto/DecodeInto agree with Narrow.
		buf := make([]byte, c.d.Size())
		EncodeInto(buf, []float64{c.x}, c.d, false)
		out := []float64{0}
		DecodeInto(out, buf, c.d)
		if out[0] != c.want {
			t.Errorf("Encode/Decode(%v, %v) = %v, want %v", c.x, c.d, out[0], c.want)
		}
	}
}

func allDTypes() []ops.DType {
	return []ops.DType{ops.F64, ops.F32, ops.F16, ops.BF16, ops.I64, ops.I32, ops.I16, ops.I8, ops.U8, ops.BOOL}
}

// Encoding then decoding equals Narrow for every dtype and both modes, NaN and signed zero
// included.
func TestEncodeDecodeMatchesNarrow(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	src := make([]float64, 4096)
	for i := range src {
		switch i % 8 {
		case 0:
			src[i] = r.NormFloat64() * 1000
		case 1:
			src[i] = math.Ldexp(r.Float64(), r.IntN(300)-150)
		case 2:
			src[i] = float64(r.IntN(600) - 300)
		default:
			src[i] = r.NormFloat64()
		}
	}
	src[0], src[1], src[2], src[3] = math.NaN(), math.Inf(-1), math.Copysign(0, -1), 1e300
	for _, d := range allDTypes() {
		for _, via := range []bool{false, true} {
			buf := make([]byte, len(src)*d.Size())
			EncodeInto(buf, src, d, via)
			out := make([]float64, len(src))
			DecodeInto(out, buf, d)
			for i, x := range src {
				want := Narrow(x, d, via)
				if math.Float64bits(out[i]) != math.Float64bits(want) && !(math.IsNaN(want) && math.IsNaN(out[i])) {
					t.Fatalf("%v via=%v: element %d (%v) decoded %v, Narrow %v", d, via, i, x, out[i], want)
				}
			}
		}
	}
}

func TestDecodeLittleEndian(t *testing.T) {
	cases := []struct {
		d    ops.DType
		src  []byte
		want float64
	}{
		{ops.F64, []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}, 1},
		{ops.F32, []byte{0, 0, 0x80, 0xbf}, -1},
		{ops.F16, []byte{0x00, 0x3c}, 1},
		{ops.F16, []byte{0x01, 0x00}, 0x1p-24},
		{ops.BF16, []byte{0x80, 0x3f}, 1},
		{ops.I64, []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, -2},
		{ops.I32, []byte{0x4c, 0, 0, 0}, 76},
		{ops.I16, []byte{0x00, 0x80}, -32768},
		{ops.I8, []byte{0xff}, -1},
		{ops.U8, []byte{0xff}, 255},
		{ops.BOOL, []byte{2}, 1},
	}
	for _, c := range cases {
		out := []float64{0}
		DecodeInto(out, c.src, c.d)
		if out[0] != c.want {
			t.Errorf("DecodeInto(%v, % x) = %v, want %v", c.d, c.src, out[0], c.want)
		}
	}
}

const benchN = 1 << 20

func BenchmarkDecodeInto(b *testing.B) {
	for _, d := range []ops.DType{ops.F16, ops.BF16, ops.F32, ops.F64} {
		b.Run(d.String(), func(b *testing.B) {
			r := rand.New(rand.NewPCG(7, 8))
			vals := make([]float64, benchN)
			for i := range vals {
				vals[i] = r.NormFloat64()
			}
			src := make([]byte, benchN*d.Size())
			EncodeInto(src, vals, d, false)
			dst := make([]float64, benchN)
			b.SetBytes(int64(len(src)))
			b.ResetTimer()
			for b.Loop() {
				DecodeInto(dst, src, d)
			}
		})
	}
}

func BenchmarkEncodeInto(b *testing.B) {
	for _, d := range []ops.DType{ops.F16, ops.BF16, ops.F32, ops.F64} {
		for _, via := range []bool{false, true} {
			if via && (d == ops.F32 || d == ops.F64) {
				continue
			}
			name := d.String() + "/direct"
			if via {
				name = d.String() + "/viaF32"
			}
			b.Run(name, func(b *testing.B) {
				r := rand.New(rand.NewPCG(7, 8))
				src := make([]float64, benchN)
				for i := range src {
					src[i] = r.NormFloat64()
				}
				dst := make([]byte, benchN*d.Size())
				b.SetBytes(int64(len(dst)))
				b.ResetTimer()
				for b.Loop() {
					EncodeInto(dst, src, d, via)
				}
			})
		}
	}
}
