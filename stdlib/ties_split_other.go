//go:build !amd64

package stdlib

var tiesSplitVector = false

func tiesSplitFast(m, split []float64, cnt []int32, lo uint64) int { return 0 }
