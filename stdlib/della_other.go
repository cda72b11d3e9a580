//go:build !amd64

package stdlib

// dellaOffsetsFast: see della_amd64.go. No vector path here.
func dellaOffsetsFast(ranks []uint32, ne, center, e float32, off []float64) int { return 0 }

// dellaFillQFast: see della_amd64.go. No vector path here.
func dellaFillQFast(qs, off []float64, pMin float64, fix bool) int { return 0 }
