//go:build !amd64

package stdlib

var tiesSplitVector = false

func tiesSplitFast(m, split []float64, cnt []int32, lo uint64) int { return 0 }

// tiesAbsKeys writes absKey(src[j]) to dst[j] for every j (len(dst) >= len(src)).
func tiesAbsKeys(dst []uint32, src []float64) {
	dst = dst[:len(src)]
	for j, v := range src {
		dst[j] = absKey(v)
	}
}
