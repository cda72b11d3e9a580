package fastblas

import "math"

// The micro-kernel's tile: mr rows of C by nr columns.
const (
	mr = 6
	nr = 8
)

// kernel6x8Go is the reference micro-kernel, the exact operations of the assembly one:
// acc[i][j] starts at +0 and becomes fma(a[p][i], b[p][j], acc[i][j]) for p = 0 .. k-1
// (a packed k x mr, b packed k x nr); then c[i*ldc+j] = fma(alpha, acc[i][j], c[i*ldc+j]), or,
// when raw, c[i*ldc+j] = acc[i][j].
func kernel6x8Go(k int, a, b, c []float64, ldc int, alpha float64, raw bool) {
	var acc [mr][nr]float64
	for p := range k {
		ap := a[p*mr : p*mr+mr]
		bp := b[p*nr : p*nr+nr]
		for i := range mr {
			ai := ap[i]
			r := &acc[i]
			for j := range nr {
				r[j] = math.FMA(ai, bp[j], r[j])
			}
		}
	}
	for i := range mr {
		row := c[i*ldc : i*ldc+nr]
		for j := range nr {
			if raw {
				row[j] = acc[i][j]
			} else {
				row[j] = math.FMA(alpha, acc[i][j], row[j])
			}
		}
	}
}
