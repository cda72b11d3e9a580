package stdlib

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestTiesSplitAVX2: the vector vote pass gives the Go loop's sums and counts bit for bit, over
// lengths 0..41, thresholds 0, ordinary, a NaN's and the largest, and values with ±0, NaN and
// ±Inf, accumulated over several passes as the tile does.
func TestTiesSplitAVX2(t *testing.T) {
	if !tiesSplitVector {
		t.Skip("no AVX2: tiesSplitPass is the Go loop only")
	}
	rng := rand.New(rand.NewPCG(41, 42))
	special := []float64{0, math.Copysign(0, -1), math.NaN(), math.Float64frombits(0xfff8000000000123), math.Inf(1), math.Inf(-1), 5e-324, -5e-324}
	for n := range 42 {
		for _, lo := range []uint64{0, 1, math.Float64bits(0.3), math.Float64bits(math.NaN()), 1<<63 - 1} {
			want, got := make([]float64, 2*n), make([]float64, 2*n)
			wc, gc := make([]int32, 2*n), make([]int32, 2*n)
			for range 3 {
				m := make([]float64, n)
				for j := range m {
					m[j] = rng.NormFloat64() * 0.5
					if rng.IntN(8) == 0 {
						m[j] = special[rng.IntN(len(special))]
					}
				}
				tiesSplitVector = false
				tiesSplitPass(m, want, wc, lo)
				tiesSplitVector = true
				tiesSplitPass(m, got, gc, lo)
			}
			for j := range want {
				if math.Float64bits(got[j]) != math.Float64bits(want[j]) || gc[j] != wc[j] {
					t.Fatalf("n %d lo %#x slot %d: %v (%d), Go loop %v (%d)", n, lo, j, got[j], gc[j], want[j], wc[j])
				}
			}
		}
	}
}

// TestTiesAbsKeys: the vector magnitude keys are absKey's bit for bit: ±0, NaN payloads, ±Inf,
// float64 subnormals (0 in float32), values that round to the float32 infinity and to
// subnormals, over lengths 0..41.
func TestTiesAbsKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	special := []float64{0, math.Copysign(0, -1), math.NaN(), math.Float64frombits(0xfff0000000000123),
		math.Float64frombits(0x7ff4000000000001), math.Inf(1), math.Inf(-1), 5e-324, -1e-310, 3.5e38, -3.4028235677973366e38,
		1.4e-45, -7e-46, 1.1754942e-38}
	for n := range 42 {
		src := make([]float64, n)
		for j := range src {
			src[j] = math.Ldexp(rng.Float64()*2-1, rng.IntN(300)-150)
			if rng.IntN(4) == 0 {
				src[j] = special[rng.IntN(len(special))]
			}
		}
		got := make([]uint32, n)
		tiesAbsKeys(got, src)
		for j, v := range src {
			if want := absKey(v); got[j] != want {
				t.Fatalf("n %d: absKey(%v = %#x) = %#08x, vector %#08x", n, v, math.Float64bits(v), want, got[j])
			}
		}
	}
}
