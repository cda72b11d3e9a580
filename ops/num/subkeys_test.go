package num

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechac/mechac/ops"
)

// refSubKeys is SubAbsKeys by its definition: widen both to float64, subtract, take the
// float32 magnitude's bits.
func refSubKeys(a, b []byte, d ops.DType) ([]uint32, bool) {
	n := len(a) / d.Size()
	wa, wb := make([]float64, n), make([]float64, n)
	fa := DecodeFinite(wa, a, d)
	fb := DecodeFinite(wb, b, d)
	out := make([]uint32, n)
	for i := range out {
		out[i] = math.Float32bits(float32(math.Abs(wa[i] - wb[i])))
	}
	return out, fa && fb
}

// TestSubAbsKeys: the keys and the finiteness are the definition's, for every float16 and
// bfloat16 pattern against 64 orderings of every pattern (so each a meets subtrahends of every
// exponent), and for random float32 values of near and far exponents, subnormals and
// non-finite ones; windows of 16 let the vector path take every finite one, and the vector
// path is checked to take them (all but those whose difference overflows float32).
func TestSubAbsKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	check := func(name string, a, b []byte, d ops.DType) {
		t.Helper()
		want, wantFinite := refSubKeys(a, b, d)
		got := make([]uint32, len(want))
		if f := SubAbsKeys(got, a, b, d); f != wantFinite {
			t.Fatalf("%s: finite %v, want %v", name, f, wantFinite)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: element %d: key %#x, want %#x", name, i, got[i], want[i])
			}
		}
		vector := hasAVX2 && (d == ops.BF16 || d == ops.F32 || d == ops.F16 && hasF16C) && len(want) >= 8
		// It may leave a window whose float32 difference overflows (bfloat16, float32).
		overflow := slices.ContainsFunc(want, func(k uint32) bool { return k > 0x7f7fffff })
		if wantFinite && vector && !overflow {
			fast := make([]uint32, len(want))
			if !subKeysFast(fast, a, b, d) {
				t.Fatalf("%s: the vector path took no finite window", name)
			}
			for i := range want {
				if fast[i] != want[i] {
					t.Fatalf("%s: vector path, element %d: key %#x, want %#x", name, i, fast[i], want[i])
				}
			}
		}
	}
	for _, d := range []ops.DType{ops.F16, ops.BF16} {
		a := make([]byte, 2<<16)
		b := make([]byte, 2<<16)
		for h := range 1 << 16 {
			binary.LittleEndian.PutUint16(a[2*h:], uint16(h))
		}
		for range 64 {
			mul, add := uint32(rng.IntN(1<<15))*2+1, uint32(rng.IntN(1<<16))
			for h := range 1 << 16 {
				binary.LittleEndian.PutUint16(b[2*h:], uint16(uint32(h)*mul+add))
			}
			for lo := 0; lo < len(a); lo += 32 {
				check(d.String()+" patterns", a[lo:lo+32], b[lo:lo+32], d)
			}
		}
		check(d.String()+" all at once", a[:2*1001], b[:2*1001], d)
	}
	for range 2000 {
		n := rng.IntN(40)
		a, b := make([]byte, 4*n), make([]byte, 4*n)
		for i := range n {
			e := rng.IntN(280) - 150
			x := float32(rng.NormFloat64() * math.Pow(2, float64(e)))
			y := float32(rng.NormFloat64() * math.Pow(2, float64(e+rng.IntN(60)-30)))
			switch rng.IntN(8) {
			case 0:
				y = math.Float32frombits(rng.Uint32())
			case 1:
				y = math.Nextafter32(x, float32(math.Inf(1)))
			case 2:
				y = x
			}
			if rng.IntN(100) == 0 {
				x = []float32{float32(math.Inf(1)), float32(math.NaN()), float32(math.Inf(-1))}[rng.IntN(3)]
			}
			binary.LittleEndian.PutUint32(a[4*i:], math.Float32bits(x))
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(y))
		}
		check("F32 random", a, b, ops.F32)
	}
	// Float64 and integer inputs take the scalar path.
	a, b := make([]byte, 8*20), make([]byte, 8*20)
	for i := range 20 {
		binary.LittleEndian.PutUint64(a[8*i:], math.Float64bits(rng.NormFloat64()))
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(rng.NormFloat64()*1e-9))
	}
	check("F64", a, b, ops.F64)
}
