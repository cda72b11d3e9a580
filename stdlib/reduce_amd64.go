package stdlib

import "golang.org/x/sys/cpu"

// multiRowSum's inner loop over 16 contiguous columns (SumTorch's 16 lanes, SumDim0Torch's
// 16-column blocks) with AVX2: each lane is the same sequential sum, so the same bits
// (TestAddRows16 compares it with the Go loop).

//go:noescape
func addRows16AVX(acc *float64, x *float64, rowStride int, rows int)

var addRows16Vector = cpu.X86.HasAVX2

//go:noescape
func distChains16AVX(ptrs **float64, b *float64, acc *float64, n int)

//go:noescape
func distChains8AVX(ptrs **float64, b *float64, acc *float64, n int)

//go:noescape
func distChains4AVX(ptrs **float64, b *float64, acc *float64, n int)

// distChainsVector: the kernel's fused multiply-adds are math.FMA's only where the CPU has the
// instruction (else math.FMA is a software one, the same bits, no vector form here).
var distChainsVector = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// distChainsVec runs DistChains's chains of the w points p(i0)..p(i0+w-1), w 16, 8, 4 or 1 to
// 3, over b[:len(b)&^3] with AVX2 (four points a register, TestDistChainsVector) and returns
// how many elements it took: 0 when it cannot, and the caller continues every chain from
// there in element order. Fewer than four points fill a register's other lanes with the
// last point again, whose chains are thrown away: each lane's chain is its own.
func distChainsVec(p func(i int) []float64, i0, w int, b []float64, acc []float64) int {
	n := len(b) &^ 3
	if !distChainsVector || n == 0 || w <= 0 || w > 16 {
		return 0
	}
	var ptrs [16]*float64
	for l := range w {
		ptrs[l] = &p(i0 + l)[:len(b)][0]
	}
	a := &acc[i0 : i0+w][0]
	switch w {
	case 16:
		distChains16AVX(&ptrs[0], &b[0], a, n)
	case 8:
		distChains8AVX(&ptrs[0], &b[0], a, n)
	case 4:
		distChains4AVX(&ptrs[0], &b[0], a, n)
	case 1, 2, 3:
		var lanes [4]float64
		copy(lanes[:], acc[i0:i0+w])
		for l := w; l < 4; l++ {
			ptrs[l] = ptrs[w-1]
		}
		distChains4AVX(&ptrs[0], &b[0], &lanes[0], n)
		copy(acc[i0:i0+w], lanes[:w])
	default:
		return 0
	}
	return n
}

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
