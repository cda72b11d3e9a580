package num

import (
	"golang.org/x/sys/cpu"

	"github.com/mechac/mechac/ops"
)

//go:noescape
func decodeSubF16C(dst *float64, src *byte, b *float64, n int) (bad uint64)

//go:noescape
func decodeSubBF16(dst *float64, src *byte, b *float64, n int) (bad uint64)

//go:noescape
func decodeSubF32(dst *float64, src *byte, b *float64, n int) (bad uint64)

//go:noescape
func decodeAddF16C(dst *float64, src *byte, b *float64, n int) (bad uint64)

//go:noescape
func decodeAddBF16(dst *float64, src *byte, b *float64, n int) (bad uint64)

//go:noescape
func decodeAddF32(dst *float64, src *byte, b *float64, n int) (bad uint64)

//go:noescape
func decodeFMAF16C(dst *float64, src *byte, b *float64, c float64, n int) (bad uint64)

//go:noescape
func decodeFMABF16(dst *float64, src *byte, b *float64, c float64, n int) (bad uint64)

//go:noescape
func decodeFMAF32(dst *float64, src *byte, b *float64, c float64, n int) (bad uint64)

var (
	hasAVX2 = cpu.X86.HasAVX2
	hasFMA  = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

// decodeSubFast is DecodeSubFast's vector path (see there).
func decodeSubFast(dst []float64, src []byte, d ops.DType, b []float64) int {
	return decodeOpFast(dst, src, d, b, false)
}

// decodeAddFast is DecodeAddFast's vector path (see there).
func decodeAddFast(dst []float64, src []byte, d ops.DType, b []float64) int {
	return decodeOpFast(dst, src, d, b, true)
}

// decodeOpFast widens and subtracts (add false) or adds b over the longest prefix of dst that
// is a multiple of 8, when the CPU has the vector path for d and every source value there is
// finite; it returns the prefix's length, else 0.
func decodeOpFast(dst []float64, src []byte, d ops.DType, b []float64, add bool) int {
	n := len(dst) &^ 7
	if n == 0 || len(b) < n || len(src) < n*d.Size() {
		return 0
	}
	var f func(dst *float64, src *byte, b *float64, n int) (bad uint64)
	switch {
	case d == ops.F16 && hasF16C:
		f = decodeSubF16C
		if add {
			f = decodeAddF16C
		}
	case d == ops.BF16 && hasAVX2:
		f = decodeSubBF16
		if add {
			f = decodeAddBF16
		}
	case d == ops.F32 && hasAVX2:
		f = decodeSubF32
		if add {
			f = decodeAddF32
		}
	default:
		return 0
	}
	if f(&dst[0], &src[0], &b[0], n) != 0 {
		return 0
	}
	return n
}

// decodeFMAFast is DecodeFMAFast's vector path (see there).
func decodeFMAFast(dst []float64, src []byte, d ops.DType, b []float64, c float64) int {
	n := len(dst) &^ 7
	if n == 0 || len(b) < n || len(src) < n*d.Size() || !hasFMA {
		return 0
	}
	var bad uint64
	switch {
	case d == ops.F16 && hasF16C:
		bad = decodeFMAF16C(&dst[0], &src[0], &b[0], c, n)
	case d == ops.BF16:
		bad = decodeFMABF16(&dst[0], &src[0], &b[0], c, n)
	case d == ops.F32:
		bad = decodeFMAF32(&dst[0], &src[0], &b[0], c, n)
	default:
		return 0
	}
	if bad != 0 {
		return 0
	}
	return n
}
