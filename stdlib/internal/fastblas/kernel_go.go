package fastblas

import "math"

// The micro-kernel's tile: mr rows of C by nr columns.
const (
	mr = 6
	nr = 8
)

// The micro-kernels' ways of storing the tile (the mode argument).
const (
	kUpdate = 0 // c = fma(alpha, acc, c)
	kRaw    = 1 // c = acc
	kZero   = 2 // c = fma(alpha, acc, +0), c not read: the first k block of a beta = 0 Dgemm
)

// kernel6x8Go is the reference micro-kernel, the exact operations of the assembly one:
// acc[i][j] starts at +0 and becomes fma(a[p][i], b[p][j], acc[i][j]) for p = 0 .. k-1
// (a's step p at a[p*astep:], astep = mr when packed; b packed k x nr); then c[i*ldc+j] = fma(alpha, acc[i][j], c[i*ldc+j]), or
// as mode says.
func kernel6x8Go(k int, a []float64, astep int, b, c []float64, ldc int, alpha float64, mode int) {
	var acc [mr][nr]float64
	for p := range k {
		ap := a[p*astep : p*astep+mr]
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
			switch mode {
			case kRaw:
				row[j] = acc[i][j]
			case kZero:
				row[j] = math.FMA(alpha, acc[i][j], 0)
			default:
				row[j] = math.FMA(alpha, acc[i][j], row[j])
			}
		}
	}
}
