package num

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechac/mechac/ops"
)

// DecodeFinite decodes every float16 bit pattern as DecodeInto does, bit for bit, and reports
// non-finite values exactly.
func TestDecodeFiniteF16AllPatterns(t *testing.T) {
	src := make([]byte, 2)
	got, want := []float64{0}, []float64{0}
	for h := 0; h < 1<<16; h++ {
		binary.LittleEndian.PutUint16(src, uint16(h))
		finite := DecodeFinite(got, src, ops.F16)
		DecodeInto(want, src, ops.F16)
		if math.Float64bits(got[0]) != math.Float64bits(want[0]) {
			t.Fatalf("%#04x: DecodeFinite %x, DecodeInto %x", h, math.Float64bits(got[0]), math.Float64bits(want[0]))
		}
		if wantFinite := !math.IsNaN(want[0]) && !math.IsInf(want[0], 0); finite != wantFinite {
			t.Fatalf("%#04x: finite %v, want %v", h, finite, wantFinite)
		}
	}
}

// One non-finite element anywhere in a longer input is found, for every float dtype.
func TestDecodeFiniteFindsOne(t *testing.T) {
	for _, d := range []ops.DType{ops.F16, ops.BF16, ops.F32, ops.F64, ops.I32} {
		for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
			for _, at := range []int{-1, 0, 5, 1022} {
				vals := make([]float64, 1023)
				for i := range vals {
					vals[i] = float64(i%7) - 3.5
				}
				if at >= 0 {
					vals[at] = bad
				}
				src := make([]byte, len(vals)*d.Size())
				EncodeInto(src, vals, d, false)
				dst := make([]float64, len(vals))
				wantFinite := at < 0 || !d.IsFloat()
				if got := DecodeFinite(dst, src, d); got != wantFinite {
					t.Errorf("%v, %v at %d: finite %v, want %v", d, bad, at, got, wantFinite)
				}
			}
		}
	}
}

func BenchmarkDecodeFinite(b *testing.B) {
	for _, d := range []ops.DType{ops.F16, ops.BF16} {
		b.Run(d.String(), func(b *testing.B) {
			r := rand.New(rand.NewPCG(7, 8))
			vals := make([]float64, 1<<16)
			for i := range vals {
				vals[i] = r.NormFloat64()
			}
			src := make([]byte, len(vals)*d.Size())
			EncodeInto(src, vals, d, false)
			dst := make([]float64, len(vals))
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				DecodeFinite(dst, src, d)
			}
		})
	}
}
