package num

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechac/mechac/ops"
)

// TestDecodeSubFast: the fused widening and subtraction gives, on the prefix it takes, the bits
// of DecodeInto followed by a - b, for every float16 and bfloat16 pattern (eight at a time, so
// that a block with an inf or a NaN makes it take nothing) and random float32 values with
// non-finite ones placed anywhere, against subtrahends with signed zeros, subnormals, infinities
// and NaN; and it takes a multiple of 8. DecodeAddFast the same with b + widen(src), the order
// of n_average's running sum (a NaN b keeps its payload).
// DecodeFMAFast the same with math.FMA(c, widen(src), b) for a few c.
// Each by the sixteen-wide float16 loops (AVX-512, where the CPU has it) and the eight-wide.
func TestDecodeSubFast(t *testing.T) {
	defer func(old bool) { hasAVX512 = old }(hasAVX512)
	for _, wide := range wideModes() {
		hasAVX512 = wide
		for _, op := range []string{"sub", "add", "fma"} {
			testDecodeOpFast(t, op)
		}
	}
}

// wideModes is the settings of hasAVX512 the tests run: false, and true where the CPU has it.
func wideModes() []bool {
	if hasAVX512 {
		return []bool{false, true}
	}
	return []bool{false}
}

func testDecodeOpFast(t *testing.T, op string) {
	rng := rand.New(rand.NewPCG(3, 4))
	specials := []float64{0, math.Copysign(0, -1), 5e-324, -5e-324, math.Inf(1), math.Inf(-1), math.NaN(), 1, -1,
		math.Float64frombits(0x7ff8000000000123)}
	check := func(name string, src []byte, d ops.DType) {
		t.Helper()
		n := len(src) / d.Size()
		b := make([]float64, n)
		for i := range b {
			if rng.IntN(4) == 0 {
				b[i] = specials[rng.IntN(len(specials))]
			} else {
				b[i] = rng.NormFloat64()
			}
		}
		want := make([]float64, n)
		DecodeInto(want, src, d)
		finite := AllFinite(want)
		c := []float64{0.125, -3, 1, 0, 1e300}[rng.IntN(5)]
		for i := range want {
			switch op {
			case "add":
				want[i] = b[i] + want[i]
			case "fma":
				want[i] = math.FMA(c, want[i], b[i])
			default:
				want[i] -= b[i]
			}
		}
		got := make([]float64, n)
		var m int
		switch op {
		case "add":
			m = DecodeAddFast(got, src, d, b)
		case "fma":
			m = DecodeFMAFast(got, src, d, b, c)
		default:
			m = DecodeSubFast(got, src, d, b)
		}
		if m%8 != 0 || m > n {
			t.Fatalf("%s: took %d of %d", name, m, n)
		}
		if m > 0 && !AllFinite(func() []float64 { w := make([]float64, m); DecodeInto(w, src[:m*d.Size()], d); return w }()) {
			t.Fatalf("%s: took %d elements with a non-finite one among them", name, m)
		}
		if finite && n >= 8 && m == 0 && (d != ops.F16 || hasF16C) && hasAVX2 {
			t.Fatalf("%s: took nothing of %d finite elements", name, n)
		}
		for i := range m {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
				t.Fatalf("%s: element %d: %x, want %x", name, i, math.Float64bits(got[i]), math.Float64bits(want[i]))
			}
		}
	}
	for _, d := range []ops.DType{ops.F16, ops.BF16} {
		all := make([]byte, 2<<16)
		for h := range 1 << 16 {
			binary.LittleEndian.PutUint16(all[2*h:], uint16(h))
		}
		for lo := 0; lo < len(all); lo += 16 {
			check(d.String()+" patterns", all[lo:lo+16], d)
		}
		for lo := 0; lo < len(all); lo += 32 {
			check(d.String()+" patterns by sixteen", all[lo:lo+32], d)
		}
		for lo := 0; lo+24*2 <= len(all); lo += 4096 {
			check(d.String()+" block of 24", all[lo:lo+48], d)
		}
	}
	for range 500 {
		n := rng.IntN(70)
		src := make([]byte, 4*n)
		for i := range n {
			f := float32(rng.NormFloat64() * math.Pow(2, float64(rng.IntN(60)-30)))
			if rng.IntN(50) == 0 {
				f = []float32{float32(math.Inf(1)), float32(math.NaN()), float32(math.Inf(-1))}[rng.IntN(3)]
			}
			binary.LittleEndian.PutUint32(src[4*i:], math.Float32bits(f))
		}
		check("F32 random", src, ops.F32)
	}
}
