package num

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechac/mechac/ops"
)

// TestF16CMatchesTable: the F16C widening gives the table's bits for every float16 pattern (all
// 65536, eight and sixteen at a time, so that blocks holding an inf or NaN take the table
// path), by the sixteen-wide loop (AVX-512, where the CPU has it) and the eight-wide, and for
// random lengths with non-finite values placed anywhere, through DecodeInto and DecodeFinite.
func TestF16CMatchesTable(t *testing.T) {
	if !hasF16C {
		t.Skip("no F16C on this CPU: DecodeInto uses the table only")
	}
	defer func(old bool) { hasAVX512 = old }(hasAVX512)
	for _, wide := range wideModes() {
		hasAVX512 = wide
		t.Run(fmt.Sprintf("avx512=%v", wide), testF16CMatchesTable)
	}
}

func testF16CMatchesTable(t *testing.T) {
	table := func(src []byte) []float64 {
		old := hasF16C
		hasF16C = false
		defer func() { hasF16C = old }()
		d := make([]float64, len(src)/2)
		DecodeInto(d, src, ops.F16)
		return d
	}
	check := func(name string, src []byte) {
		t.Helper()
		want := table(src)
		got := make([]float64, len(want))
		DecodeInto(got, src, ops.F16)
		got2 := make([]float64, len(want))
		finite := DecodeFinite(got2, src, ops.F16)
		wantFinite := true
		for i := range want {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) || math.Float64bits(got2[i]) != math.Float64bits(want[i]) {
				t.Fatalf("%s: element %d (%#04x): %x / %x, table %x", name, i, binary.LittleEndian.Uint16(src[2*i:]),
					math.Float64bits(got[i]), math.Float64bits(got2[i]), math.Float64bits(want[i]))
			}
			if math.IsNaN(want[i]) || math.IsInf(want[i], 0) {
				wantFinite = false
			}
		}
		if finite != wantFinite {
			t.Fatalf("%s: DecodeFinite says finite %v, want %v", name, finite, wantFinite)
		}
	}
	all := make([]byte, 2<<16)
	for h := range 1 << 16 {
		binary.LittleEndian.PutUint16(all[2*h:], uint16(h))
	}
	for lo := 0; lo < len(all); lo += 16 {
		check("patterns", all[lo:lo+16])
	}
	for lo := 0; lo < len(all); lo += 32 {
		check("patterns by sixteen", all[lo:lo+32])
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 300 {
		n := rng.IntN(100)
		src := make([]byte, 2*n)
		for i := range n {
			h := uint16(rng.Uint32()) &^ 0x7c00 // finite
			if rng.IntN(40) == 0 {
				h |= 0x7c00 // inf or NaN
			}
			binary.LittleEndian.PutUint16(src[2*i:], h)
		}
		check("random", src)
	}
}

func BenchmarkDecodeF16(b *testing.B) {
	src := make([]byte, 2<<16)
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 1 << 16 {
		binary.LittleEndian.PutUint16(src[2*i:], uint16(rng.Uint32())&^0x4000)
	}
	dst := make([]float64, 1<<16)
	benchBothPaths(b, "table", len(src), func() { DecodeFinite(dst, src, ops.F16) })
}

// benchBothPaths runs f as sub-benchmark name (without F16C) and "f16c" (with it, where the CPU
// has it), each processing bytes bytes of float16 per call.
func benchBothPaths(b *testing.B, name string, bytes int, f func()) {
	for _, fast := range []bool{false, true} {
		if fast {
			name = "f16c"
		}
		b.Run(name, func(b *testing.B) {
			old := hasF16C
			hasF16C = hasF16C && fast
			defer func() { hasF16C = old }()
			b.SetBytes(int64(bytes))
			for range b.N {
				f()
			}
		})
	}
}

// TestF16CEncodeMatchesScalar: the F16C rounding gives the scalar code's float16 for values
// around every float16 rounding midpoint (exactly on it and a few float64 and float32 ulps to
// either side, where rounding twice would go wrong), subnormal results, the overflow threshold,
// zeros, infinities and random values of every magnitude, in both modes (once, and via float32
// as torch's x.float().half()), by the AVX-512 loop (where the CPU has it) and the AVX2 one; a
// NaN anywhere sends the block to the scalar code.
func TestF16CEncodeMatchesScalar(t *testing.T) {
	if !hasF16C {
		t.Skip("no F16C on this CPU: EncodeInto uses the scalar code only")
	}
	wides := []bool{false}
	if hasAVX512VL {
		wides = append(wides, true)
	}
	defer func(old bool) { hasAVX512VL = old }(hasAVX512VL)
	for _, wide := range wides {
		hasAVX512VL = wide
		t.Run(fmt.Sprintf("avx512=%v", wide), testF16CEncodeMatchesScalar)
	}
}

func testF16CEncodeMatchesScalar(t *testing.T) {
	var vals []float64
	for h := uint16(0); h < 0x7c00; h++ {
		lo, hi := F16ToF64(h), F16ToF64(h+1)
		m := (lo + hi) / 2
		for _, x := range []float64{m, math.Nextafter(m, 0), math.Nextafter(m, 1e9),
			m * (1 + 0x1p-24), m * (1 - 0x1p-24), m * (1 + 0x1p-25), m * (1 - 0x1p-25), m * (1 + 0x1p-30), lo, hi} {
			vals = append(vals, x, -x)
		}
	}
	vals = append(vals, 0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), 65504, 65519.99, 65520, 65536,
		1e300, -1e300, 1e-300, 5e-324, 0x1p-25, 0x1p-24, 0x1.8p-25, 3.4028235677973366e38, 3.5e38)
	rng := rand.New(rand.NewPCG(9, 10))
	for range 200000 {
		vals = append(vals, math.Ldexp(rng.Float64()*2-1, rng.IntN(80)-50))
	}
	for _, via := range []bool{false, true} {
		want := make([]byte, 2*len(vals))
		old := hasF16C
		hasF16C = false
		EncodeInto(want, vals, ops.F16, via)
		hasF16C = old
		got := make([]byte, len(want))
		EncodeInto(got, vals, ops.F16, via)
		for i := range vals {
			if g, w := binary.LittleEndian.Uint16(got[2*i:]), binary.LittleEndian.Uint16(want[2*i:]); g != w {
				t.Fatalf("via f32 %v: %v (%#x): F16C %#04x, scalar %#04x", via, vals[i], math.Float64bits(vals[i]), g, w)
			}
		}
		// a NaN in a block of eight or sixteen: the scalar code's payload
		nan := []float64{1, 2, math.Float64frombits(0x7ff0000000000123), 4, 5, 6, 7, 8, 9}
		if via {
			nan = []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, math.NaN(), 15, 16, 17}
		}
		w2, g2 := make([]byte, 2*len(nan)), make([]byte, 2*len(nan))
		hasF16C = false
		EncodeInto(w2, nan, ops.F16, via)
		hasF16C = old
		EncodeInto(g2, nan, ops.F16, via)
		if string(w2) != string(g2) {
			t.Errorf("via f32 %v: with a NaN: %x, scalar %x", via, g2, w2)
		}
	}
}

func BenchmarkEncodeF16(b *testing.B) {
	src := make([]float64, 1<<16)
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range src {
		src[i] = rng.NormFloat64() * 0.02
	}
	dst := make([]byte, 2<<16)
	benchBothPaths(b, "scalar", len(dst), func() { EncodeInto(dst, src, ops.F16, false) })
}
