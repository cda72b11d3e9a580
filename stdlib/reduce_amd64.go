package stdlib

import "golang.org/x/sys/cpu"

// multiRowSum's inner loop over 16 contiguous columns (SumTorch's 16 lanes, SumDim0Torch's
// 16-column blocks) with AVX2: each lane is the same sequential sum, so the same bits
// (TestAddRows16 compares it with the Go loop).

//go:noescape
func addRows16AVX(acc *float64, x *float64, rowStride int, rows int)

var addRows16Vector = cpu.X86.HasAVX2

// addRows16 adds rows rows of 16 values, row i at x[off+i*rowStride:], to acc, row by row.
func addRows16(acc *[16]float64, x []float64, off, rowStride, rows int) {
	if rows <= 0 {
		return
	}
	_ = x[off+(rows-1)*rowStride+15] // every row in bounds (rowStride >= 0)
	if addRows16Vector && rowStride >= 0 {
		addRows16AVX(&acc[0], &x[off], rowStride, rows)
		return
	}
	addRows16Go(acc, x, off, rowStride, rows)
}
