package num

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mechac/mechac/ops"
)

// BenchmarkSubAbsKeys is the statistics passes' key kernel over one chunk of 64 Ki elements
// of each dtype (finite values, in the CPU cache).
func BenchmarkSubAbsKeys(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 1 << 16
	for _, d := range []ops.DType{ops.F16, ops.BF16, ops.F32} {
		x, y := make([]float64, n), make([]float64, n)
		for j := range x {
			x[j], y[j] = rng.NormFloat64(), rng.NormFloat64()
		}
		ra, rb := make([]byte, n*d.Size()), make([]byte, n*d.Size())
		EncodeInto(ra, x, d, false)
		EncodeInto(rb, y, d, false)
		dst := make([]uint32, n)
		b.Run(fmt.Sprint(d), func(b *testing.B) {
			b.SetBytes(int64(2 * n * d.Size()))
			for b.Loop() {
				if !SubAbsKeys(dst, ra, rb, d) {
					b.Fatal("not finite")
				}
			}
		})
	}
}

// BenchmarkSubAbsKeysRun16 is SubAbsKeys over runs of 16 float16 elements (a sample's).
func BenchmarkSubAbsKeysRun16(b *testing.B) {
	const n = 1 << 16
	ra, rb := make([]byte, 2*n), make([]byte, 2*n)
	dst := make([]uint32, n)
	for b.Loop() {
		for s := 0; s < n; s += 256 {
			SubAbsKeys(dst[s:s+16], ra[2*s:2*s+32], rb[2*s:2*s+32], ops.F16)
		}
	}
}
