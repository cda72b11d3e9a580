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

// The float16 loops sixteen at a time, where the CPU has AVX-512 (hasAVX512): the same bits.

//go:noescape
func decodeSubF16AVX512(dst *float64, src *byte, b *float64, n int) (bad uint64)

//go:noescape
func decodeAddF16AVX512(dst *float64, src *byte, b *float64, n int) (bad uint64)

//go:noescape
func decodeFMAF16AVX512(dst *float64, src *byte, b *float64, c float64, n int) (bad uint64)

var (
	hasAVX2 = cpu.X86.HasAVX2
	hasFMA  = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

// f16Wide runs a float16 loop over n elements (a multiple of 8): wide, sixteen at a time, over
// the largest multiple of 16 where the CPU has AVX-512, and narrow, eight at a time, over the
// rest (from element done). It returns the loops' OR of bad.
func f16Wide(n int, wide func(n int) uint64, narrow func(done, n int) uint64) uint64 {
	done, bad := 0, uint64(0)
	if n16 := n &^ 15; hasAVX512 && n16 > 0 {
		bad, done = wide(n16), n16
	}
	if done < n {
		bad |= narrow(done, n-done)
	}
	return bad
}

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
		narrow, wide := decodeSubF16C, decodeSubF16AVX512
		if add {
			narrow, wide = decodeAddF16C, decodeAddF16AVX512
		}
		if f16Wide(n, func(n int) uint64 { return wide(&dst[0], &src[0], &b[0], n) },
			func(i, n int) uint64 { return narrow(&dst[i], &src[2*i], &b[i], n) }) != 0 {
			return 0
		}
		return n
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
		bad = f16Wide(n, func(n int) uint64 { return decodeFMAF16AVX512(&dst[0], &src[0], &b[0], c, n) },
			func(i, n int) uint64 { return decodeFMAF16C(&dst[i], &src[2*i], &b[i], c, n) })
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
