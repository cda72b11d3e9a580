//go:build !amd64

package stdlib

// addRows16 adds rows rows of 16 values, row i at x[off+i*rowStride:], to acc, row by row.
func addRows16(acc *[16]float64, x []float64, off, rowStride, rows int) {
	addRows16Go(acc, x, off, rowStride, rows)
}

// distChainsVec has no vector form here: the caller runs every chain.
func distChainsVec(p func(i int) []float64, i0, w int, b []float64, acc []float64) int { return 0 }

// distChainsVector is false: no vector kernel here.
var distChainsVector = false
