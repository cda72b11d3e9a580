package stdlib

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkTiesRangeSplit is the range pass's split over one chunk of keys with a bracket
// holding about 6% of them (the scale-4 TIES benchmark's brackets hold a few percent).
func BenchmarkTiesRangeSplit(b *testing.B) {
	rng := rand.New(rand.NewPCG(41, 42))
	keys := make([]uint32, 1<<16)
	for j := range keys {
		keys[j] = rng.Uint32() >> 1
	}
	lo, hi := uint32(1<<30), uint32(1<<30+1<<27)
	dst := make([]uint32, 0, len(keys)+tiesSplitSegment+8)
	b.SetBytes(4 * int64(len(keys)))
	for b.Loop() {
		dst, _, _ = tiesRangeSplit(dst[:0], keys, lo, hi, len(keys))
	}
}
