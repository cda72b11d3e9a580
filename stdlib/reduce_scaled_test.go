package stdlib

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestSumDim0TorchScaled checks SumDim0TorchScaledThen against SumDim0TorchChunkedThen with the
// vecScale fill it replaces, bit for bit: row counts on both sides of the cascade's level steps
// (16, 256), column counts with and without a tail after the last 16-column block and over
// several chunks, values with infinities, NaNs and signed zeros, weights of every sign and a
// NaN weight (the fallback); then must see the same chunks in the same order.
func TestSumDim0TorchScaled(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	for _, rows := range []int{1, 2, 15, 16, 17, 31, 215, 256, 257, 300} {
		for _, cols := range []int{1, 3, 4, 15, 16, 17, 64, 255, 256, 257, 600} {
			for _, special := range []bool{false, true} {
				name := fmt.Sprint(rows, "x", cols, " special=", special)
				pts := make([]float64, rows*cols)
				for j := range pts {
					pts[j] = rng.NormFloat64() * math.Exp(4*rng.NormFloat64())
					if special {
						switch rng.IntN(40) {
						case 0:
							pts[j] = math.Inf(1 - 2*rng.IntN(2))
						case 1:
							pts[j] = math.Float64frombits(0x7ff8000000000000 | rng.Uint64()&0xfffffffffffff)
						case 2:
							pts[j] = math.Copysign(0, -1)
						}
					}
				}
				w := make([]float64, rows)
				for i := range w {
					w[i] = rng.NormFloat64() * 10
					if special && i == rows/2 {
						w[i] = [...]float64{0, math.Copysign(0, -1), math.Inf(1), math.NaN()}[rng.IntN(4)]
					}
				}
				var wantChunks, gotChunks [][2]int
				want := make([]float64, cols)
				SumDim0TorchChunkedThen(rows, cols, func(dst []float64, c0, c1 int) {
					cw := c1 - c0
					for i := range rows {
						vecScale(dst[i*cw:(i+1)*cw], pts[i*cols+c0:i*cols+c1], w[i])
					}
				}, want, nil, func(c0, c1 int) { wantChunks = append(wantChunks, [2]int{c0, c1}) })
				got := make([]float64, cols)
				SumDim0TorchScaledThen(pts, rows, cols, w, got, nil, func(c0, c1 int) { gotChunks = append(gotChunks, [2]int{c0, c1}) })
				for j := range want {
					if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
						t.Fatalf("%s: [%d] = %v (%#x), want %v (%#x)", name, j, got[j], math.Float64bits(got[j]), want[j], math.Float64bits(want[j]))
					}
				}
				if fmt.Sprint(gotChunks) != fmt.Sprint(wantChunks) {
					t.Fatalf("%s: then saw %v, want %v", name, gotChunks, wantChunks)
				}
			}
		}
	}
}

// BenchmarkSumDim0TorchScaled is the 0.0.x geometric median's weighted sum on x215a's shape
// (215 points of 25600 elements, one of its d16 keys): the rows scaled into the chunk's buffer
// and summed (chunked), against the scaled rows added into the cascade's levels (fused).
func BenchmarkSumDim0TorchScaled(b *testing.B) {
	const rows, cols = 215, 25600
	rng := rand.New(rand.NewPCG(63, 64))
	pts := make([]float64, rows*cols)
	for j := range pts {
		pts[j] = rng.NormFloat64()
	}
	w := make([]float64, rows)
	for i := range w {
		w[i] = rng.Float64()
	}
	out := make([]float64, cols)
	var scratch []float64
	b.Run("chunked", func(b *testing.B) {
		for b.Loop() {
			scratch = SumDim0TorchChunkedThen(rows, cols, func(dst []float64, c0, c1 int) {
				cw := c1 - c0
				for i := range rows {
					vecScale(dst[i*cw:(i+1)*cw], pts[i*cols+c0:i*cols+c1], w[i])
				}
			}, out, scratch, nil)
		}
	})
	b.Run("fused", func(b *testing.B) {
		for b.Loop() {
			scratch = SumDim0TorchScaledThen(pts, rows, cols, w, out, scratch, nil)
		}
	})
}
