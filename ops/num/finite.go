package num

import (
	"encoding/binary"

	"github.com/mechac/mechac/ops"
)

// DecodeFinite is DecodeInto that also reports whether every decoded value is finite (no NaN,
// no ±inf). The VM needs both for every input element when a plan omits non-finite inputs;
// for float16 the test is folded into the decoding loop, on the source bits.
func DecodeFinite(dst []float64, src []byte, d ops.DType) bool {
	if d != ops.F16 {
		DecodeInto(dst, src, d)
		if !d.IsFloat() {
			return true
		}
		return AllFinite(dst)
	}
	if len(src) != len(dst)*2 {
		panic("num.DecodeFinite: source length does not match destination")
	}
	// bad collects bit 15 of (exp bits + 0x400): set exactly when the exponent field is
	// 0x1f (inf or NaN), since the exponent bits are at most 0x7c00. The values come from
	// the 512 KiB table of DecodeInto (faster than computing them, measured).
	t := f16Widen()
	var bad uint64
	src = src[:2*len(dst)]
	i := decodeF16Fast(dst, src) // all finite when it widens any
	// Four elements per 8-byte load: fewer loads and bounds checks than one per element.
	for ; i+4 <= len(dst); i += 4 {
		q := binary.LittleEndian.Uint64(src[2*i:])
		bad |= q&0x7c007c007c007c00 + 0x0400040004000400
		d := dst[i : i+4 : i+4]
		d[0] = t[uint16(q)]
		d[1] = t[uint16(q>>16)]
		d[2] = t[uint16(q>>32)]
		d[3] = t[uint16(q>>48)]
	}
	for ; i < len(dst); i++ {
		h := binary.LittleEndian.Uint16(src[2*i:])
		bad |= uint64(h)&0x7c00 + 0x400
		dst[i] = t[h]
	}
	// Each 16-bit lane of bad has bit 15 set iff some element of that lane was non-finite
	// (exponent bits at most 0x7c00, so a lane never carries into the next).
	bad &= 0x8000800080008000
	return bad == 0
}

// AllFinite reports whether no element is NaN or ±inf: x-x is 0 for every finite x and NaN
// otherwise, so a sum of them tells, without a branch per element. Four sums hide the
// latency of the additions.
func AllFinite(data []float64) bool {
	var a0, a1, a2, a3 float64
	i := 0
	for ; i+4 <= len(data); i += 4 {
		a0 += data[i] - data[i]
		a1 += data[i+1] - data[i+1]
		a2 += data[i+2] - data[i+2]
		a3 += data[i+3] - data[i+3]
	}
	for ; i < len(data); i++ {
		a0 += data[i] - data[i]
	}
	return a0+a1+a2+a3 == 0
}

// DecodeSubFast sets dst[i] = widen(src[i]) - b[i] for a prefix of dst, in one pass over the
// source bytes where DecodeFinite and a subtraction take two (the LOAD of a model fused with
// the subtract that makes its delta: the VM's fused loads, SPEC §5.1), and returns the
// prefix's length: a multiple of 8, or 0 when the CPU has no vector path for d (float16 needs
// F16C; bfloat16 and float32 AVX2) or some source element of the prefix is not finite. The
// prefix's values are then finite, and each is the bits of DecodeInto followed by a - b (the
// widening is exact, the subtraction one IEEE operation). The caller widens and subtracts the
// rest itself, the whole of dst when it gets 0.
func DecodeSubFast(dst []float64, src []byte, d ops.DType, b []float64) int {
	return decodeSubFast(dst, src, d, b)
}

// DecodeAddFast is DecodeSubFast with an addition: dst[i] = widen(src[i]) + b[i] over the
// prefix it returns (the LOAD of a model fused with the running sum of an average, whose
// model is the second operand: b[i] + widen(src[i]) is the same IEEE sum).
func DecodeAddFast(dst []float64, src []byte, d ops.DType, b []float64) int {
	return decodeAddFast(dst, src, d, b)
}

// DecodeFMAFast is DecodeSubFast with a fused multiply-add: dst[i] = widen(src[i])*c + b[i],
// rounded once, over the prefix it returns (the LOAD of a model fused with a streamed
// linear_combination step r + c·m, SPEC §3.5: math.FMA(c, widen(src[i]), b[i]) bit for bit
// when c is not a NaN). It needs FMA besides the widening's instructions.
func DecodeFMAFast(dst []float64, src []byte, d ops.DType, b []float64, c float64) int {
	return decodeFMAFast(dst, src, d, b, c)
}

// HasF16C reports whether this CPU converts float16 in hardware (VCVTPH2PS), for kernels
// elsewhere that widen float16 inputs themselves.
func HasF16C() bool { return hasF16C }
