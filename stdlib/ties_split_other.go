//go:build !amd64

package stdlib

var tiesSplitVector = false

// tiesAVX512 is false: no AVX-512 loops here.
var tiesAVX512 = false

func tiesSplitFast(m, split []float64, cnt []int32, lo uint64) int { return 0 }

func tiesVoteFast(ms [][]float64, off int, ptrs []*float64, lom1 []int64, out []float64, voteSgn bool) int {
	return 0
}

func tiesFinishFast(split, all []float64, cnt []int32, out []float64, voteSgn bool) (int, bool) {
	return 0, false
}

// tiesAbsKeys writes absKey(src[j]) to dst[j] for every j (len(dst) >= len(src)).
func tiesAbsKeys(dst []uint32, src []float64) {
	dst = dst[:len(src)]
	for j, v := range src {
		dst[j] = absKey(v)
	}
}

func tiesCompactRangeFast(keys []uint32, lo, hi uint32) (scanned, kept int) { return 0, 0 }

func tiesRangeSplitFast(dst, keys []uint32, lo, hi uint32) (scanned, below int, out []uint32) {
	return 0, 0, dst
}

func tiesVoteF16Fast(raws [][]byte, bases [][]float64, ptrs []*byte, bptrs []*float64, lom1 []int64, iv *tiesIntVote, out, add []float64, addBase bool, w float64) (done, added int) {
	return 0, 0
}

func tiesKeysSplitFast(dst []uint32, a, b []byte, lo, hi uint32) (scanned, below int, out []uint32) {
	return 0, 0, dst
}

func tiesRunCounts(keys []uint32, rl int, lim uint32) (sum, sum2 uint64) {
	return tiesRunCountsLoop(keys, rl, lim)
}
