package num

import (
	"encoding/binary"
	"math"

	"golang.org/x/sys/cpu"

	"github.com/mechac/mechac/ops"
)

//go:noescape
func subKeysF16C(dst *uint32, a, b *byte, n int) (bad uint64)

//go:noescape
func subKeysF16AVX512(dst *uint32, a, b *byte, n int) (bad uint64)

// hasAVX512 lets float16 keys be made sixteen at a time (subKeysF16AVX512).
var hasAVX512 = cpu.X86.HasAVX512F

//go:noescape
func subKeysBF16(dst *uint32, a, b *byte, n int) (bad uint64)

//go:noescape
func subKeysF32(dst *uint32, a, b *byte, n int) (bad uint64)

// subKeysFast is SubAbsKeys's vector path: false, and dst not to be used, when the CPU has
// no vector path for d or some element is not finite.
func subKeysFast(dst []uint32, a, b []byte, d ops.DType) bool {
	n := len(dst) &^ 7
	var bad uint64
	if n > 0 {
		switch {
		case d == ops.F16 && hasF16C:
			done := 0
			if n16 := n &^ 15; hasAVX512 && n16 > 0 {
				bad, done = subKeysF16AVX512(&dst[0], &a[0], &b[0], n16), n16
			}
			if done < n {
				bad |= subKeysF16C(&dst[done], &a[2*done], &b[2*done], n-done)
			}
		case d == ops.BF16 && hasAVX2:
			bad = subKeysBF16(&dst[0], &a[0], &b[0], n)
		case d == ops.F32 && hasAVX2:
			bad = subKeysF32(&dst[0], &a[0], &b[0], n)
		default:
			return false
		}
	} else if d != ops.F16 && d != ops.BF16 && d != ops.F32 {
		return false
	}
	if bad != 0 {
		return false
	}
	// The tail (fewer than 8), by the definition.
	size := d.Size()
	for i := n; i < len(dst); i++ {
		x, y := widen1(a[i*size:], d), widen1(b[i*size:], d)
		if math.IsInf(x, 0) || math.IsNaN(x) || math.IsInf(y, 0) || math.IsNaN(y) {
			return false
		}
		dst[i] = math.Float32bits(float32(math.Abs(x - y)))
	}
	return true
}

// widen1 is the first element of src (dtype F16, BF16 or F32) widened to float64.
func widen1(src []byte, d ops.DType) float64 {
	switch d {
	case ops.F16:
		return F16ToF64(binary.LittleEndian.Uint16(src))
	case ops.BF16:
		return BF16ToF64(binary.LittleEndian.Uint16(src))
	}
	return float64(math.Float32frombits(binary.LittleEndian.Uint32(src)))
}
