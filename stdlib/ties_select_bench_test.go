package stdlib

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// selectBenchKeys is m magnitude keys of normal deltas (sigma 1e-3) in the coarse buckets
// around their 80th percentile, as a range pass collects them, in random order.
func selectBenchKeys(m int, seed uint64) (keys []uint32, lo, hi uint32) {
	rng := rand.New(rand.NewPCG(seed, 7))
	at := math.Float32bits(1.28e-3) >> tiesFineShift
	lo, hi = at<<tiesFineShift, (at+2)<<tiesFineShift-1
	for len(keys) < m {
		u := math.Float32bits(float32(math.Abs(rng.NormFloat64() * 1e-3)))
		if u >= lo && u <= hi {
			keys = append(keys, u)
		}
	}
	return keys, lo, hi
}

// BenchmarkTiesSelectRange is the selection of a rank among a bracket's keys
// (tiesSelectRange), for the sizes the scale-4 TIES benchmark selects among: ns per key.
func BenchmarkTiesSelectRange(b *testing.B) {
	for _, m := range []int{1000, 3000, 6000, 12000, 30000} {
		src, lo, hi := selectBenchKeys(m, 3)
		keys := make([]uint32, m)
		b.Run(fmt.Sprint(m), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				copy(keys, src)
				tiesSelectRange(keys, lo, hi, (m*(3+i%5))/9)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(m), "ns/key")
		})
	}
}
