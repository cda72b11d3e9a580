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

var hasAVX2 = cpu.X86.HasAVX2

// decodeSubFast is DecodeSubFast's vector path (see there).
func decodeSubFast(dst []float64, src []byte, d ops.DType, b []float64) int {
	n := len(dst) &^ 7
	if n == 0 || len(b) < n || len(src) < n*d.Size() {
		return 0
	}
	var bad uint64
	switch {
	case d == ops.F16 && hasF16C:
		bad = decodeSubF16C(&dst[0], &src[0], &b[0], n)
	case d == ops.BF16 && hasAVX2:
		bad = decodeSubBF16(&dst[0], &src[0], &b[0], n)
	case d == ops.F32 && hasAVX2:
		bad = decodeSubF32(&dst[0], &src[0], &b[0], n)
	default:
		return 0
	}
	if bad != 0 {
		return 0
	}
	return n
}
