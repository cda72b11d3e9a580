// Package num converts between float64 and the element types of safetensors files.
//
// mechac computes in float64. Every input element is widened exactly (DecodeInto, F16ToF64,
// BF16ToF64) and every output element is narrowed once to the file's dtype (EncodeInto, Narrow).
// Narrowing to float16/bfloat16 has two modes, because the project has two numerics modes:
//
//   - direct (viaF32 = false, "exact" numerics): one round-to-nearest-even from float64
//     (F16FromF64, BF16FromF64);
//   - through float32 (viaF32 = true, "sd-mecha" numerics): torch casts float64 to float16 as
//     c10::Half(float(x)) -- c10::Half only has a float constructor -- so the value is rounded
//     twice. F16FromF32 and BF16FromF32 reproduce c10's conversions bit for bit, NaN encodings
//     included. Double rounding differs from direct rounding when float32 rounds a value onto an
//     exact float16 tie (golden README, "Numerics" rule 5).
//
// The loops in EncodeInto/DecodeInto are specialised per dtype (one switch per call, none per
// element) because they run over every byte of every model.
package num

import (
	"encoding/binary"
	"math"
	"sync"

	"github.com/mechac/mechac/ops"
)

// F16ToF64 widens an IEEE binary16 value exactly. A NaN keeps its sign and its 10 payload bits
// (placed at the top of the float64 fraction, as hardware conversions do); a signaling NaN stays
// signaling, so F16FromF64(F16ToF64(h)) == h for every h that is not a signaling NaN.
func F16ToF64(h uint16) float64 {
	sign := uint64(h>>15) << 63
	exp := uint64(h>>10) & 0x1f
	mant := uint64(h) & 0x3ff
	switch exp {
	case 0:
		// Zero or subnormal: mant * 2^-24, exact in float64.
		v := float64(mant) * 0x1p-24
		return math.Float64frombits(math.Float64bits(v) | sign)
	case 0x1f:
		return math.Float64frombits(sign | 0x7ff<<52 | mant<<42)
	}
	return math.Float64frombits(sign | (exp-15+1023)<<52 | mant<<42)
}

// BF16ToF64 widens a bfloat16 value exactly (bfloat16 is the top half of a float32). NaN
// payloads are kept bit for bit, including the signaling bit, independent of the CPU.
func BF16ToF64(b uint16) float64 {
	if b&0x7f80 == 0x7f80 && b&0x7f != 0 {
		return math.Float64frombits(uint64(b>>15)<<63 | 0x7ff<<52 | uint64(b&0x7f)<<45)
	}
	return float64(math.Float32frombits(uint32(b) << 16))
}

// roundBits rounds the finite, non-negative float64 whose bits are a (sign cleared) to a binary
// format with mbits fraction bits and minimum normal exponent emin, round to nearest, ties to
// even, and returns the bit pattern of the magnitude. Overflow yields the pattern of +inf
// (maxExp << mbits) because the carry out of the largest finite value lands exactly there; the
// caller clamps anything beyond.
//
// Everything is integer arithmetic on the 53-bit significand, so there is exactly one rounding.
func roundBits(a uint64, mbits uint, emin int) uint64 {
	e := int(a >> 52)
	if e == 0 {
		// float64 subnormals are below 2^-1022, far below half the smallest subnormal of any
		// format this is used for (2^-25 for f16, 2^-134 for bf16): they round to zero.
		return 0
	}
	sig := a&(1<<52-1) | 1<<52
	e -= 1023
	shift := uint(52 - mbits)
	var expField uint64
	if e >= emin {
		expField = uint64(e-emin) << mbits
	} else {
		// Subnormal in the target: the significand moves further right.
		d := emin - e
		if d > 60 {
			return 0 // sig / 2^shift < 1/4 of the smallest subnormal
		}
		shift += uint(d)
		if shift > 63 {
			return 0
		}
	}
	q := sig >> shift
	rem := sig & (1<<shift - 1)
	half := uint64(1) << (shift - 1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	// For normals q includes the implicit bit (2^mbits); adding it to (e-emin)<<mbits gives
	// (e+bias)<<mbits + fraction, and a rounding carry bumps the exponent by itself.
	return expField + q
}

// F16FromF64 rounds x to float16 once, to nearest with ties to even; values of magnitude
// >= 65520 become infinities. A NaN keeps its sign and top 9 payload bits and is made quiet.
func F16FromF64(x float64) uint16 {
	bits := math.Float64bits(x)
	sign := uint16(bits>>48) & 0x8000
	a := bits &^ (1 << 63)
	if a >= 0x7ff<<52 {
		if a == 0x7ff<<52 {
			return sign | 0x7c00
		}
		return sign | 0x7e00 | uint16(a>>42)&0x1ff
	}
	var r uint64
	if a >= (1023-14)<<52 {
		// Normal in float16 (exponent >= -14): adding half an ulp minus one, plus the lowest
		// kept bit, then truncating is round to nearest even; a carry moves into the exponent
		// field, and past the largest finite value it reaches the infinity pattern.
		r = (a+(1<<41-1)+(a>>42)&1)>>42 - (1023-15)<<10
	} else {
		r = roundBits(a, 10, -14)
	}
	if r > 0x7c00 {
		r = 0x7c00
	}
	return sign | uint16(r)
}

// BF16FromF64 rounds x to bfloat16 once, to nearest with ties to even, overflow to infinity.
// A NaN keeps its sign and top 6 payload bits and is made quiet.
func BF16FromF64(x float64) uint16 {
	bits := math.Float64bits(x)
	sign := uint16(bits>>48) & 0x8000
	a := bits &^ (1 << 63)
	if a >= 0x7ff<<52 {
		if a == 0x7ff<<52 {
			return sign | 0x7f80
		}
		return sign | 0x7fc0 | uint16(a>>45)&0x3f
	}
	var r uint64
	if a >= (1023-126)<<52 {
		// Normal in bfloat16: the same add-and-truncate rounding as F16FromF64. Exponents
		// beyond bfloat16's range (float64 has up to 2^1023) are clamped to inf below.
		r = (a+(1<<44-1)+(a>>45)&1)>>45 - (1023-127)<<7
	} else {
		r = roundBits(a, 7, -126)
	}
	if r > 0x7f80 {
		r = 0x7f80
	}
	return sign | uint16(r)
}

// F16FromF32 converts like c10::Half(float) (fp16_ieee_from_fp32_value): round to nearest
// even, overflow to infinity, and every NaN becomes sign|0x7E00 (payload dropped).
// Widening float32 to float64 is exact, so rounding that value once is the same single rounding.
func F16FromF32(x float32) uint16 {
	bits := math.Float32bits(x)
	sign := uint16(bits>>16) & 0x8000
	if bits&0x7fffffff > 0x7f800000 {
		return sign | 0x7e00
	}
	return F16FromF64(float64(x))
}

// BF16FromF32 converts like c10::BFloat16(float) (round_to_nearest_even): any NaN becomes
// 0x7FC0 (positive, whatever its sign); otherwise adding 0x7FFF plus the lowest kept bit to the
// float32 bits and truncating is round to nearest even, subnormals and overflow to inf included
// (bfloat16 has float32's exponent range).
func BF16FromF32(x float32) uint16 {
	bits := math.Float32bits(x)
	if bits&0x7fffffff > 0x7f800000 {
		return 0x7fc0
	}
	return uint16((bits + 0x7fff + (bits>>16)&1) >> 16)
}

// x86's "integer indefinite" result of cvttsd2si for NaN and out-of-range inputs; torch's
// static_cast<int64_t>(double) on x86-64 returns it.
const (
	indefinite64 = math.MinInt64
	indefinite32 = math.MinInt32
)

// toInt64 converts like static_cast<int64_t>(double) on x86-64: truncation toward zero, and
// INT64_MIN for NaN and values outside [-2^63, 2^63).
func toInt64(x float64) int64 {
	if x >= -0x1p63 && x < 0x1p63 { // false for NaN
		return int64(x)
	}
	return indefinite64
}

// toInt32 converts like static_cast<int32_t>(double) on x86-64 (cvttsd2si, 32-bit form):
// truncation, INT32_MIN for NaN and values whose truncation is outside the int32 range.
func toInt32(x float64) int32 {
	if !(x > -2147483649 && x < 2147483648) {
		return indefinite32
	}
	return int32(x)
}

// Narrow returns the value x takes when stored as dtype d.
//
//   - F64: x. F32: float32(x) (round to nearest even, overflow to inf).
//   - F16/BF16: one direct rounding when !viaF32; f16(f32(x)) / bf16(f32(x)) with c10's NaN
//     encodings when viaF32 (sd-mecha numerics).
//   - I64, I32: truncation toward zero; NaN and out-of-range values give the type's minimum,
//     as torch's static_cast does on x86-64 (cvttsd2si's "integer indefinite").
//   - I16, I8: truncation to int32 as above, then the low 16/8 bits (wrap-around), which is what
//     static_cast<int16_t>(double) compiles to on x86-64.
//   - U8: c10 casts float -> uint8 through int64 (to avoid UB for negatives): truncation to
//     int64 as above, then the low 8 bits, so -1.5 -> 255 and 256.7 -> 0.
//   - BOOL: x != 0 (NaN is true), as 1 or 0.
//
// The integer rules only matter for recipes that cast to an integer type; merge outputs of
// sd-mecha are float16/float64 even for integer keys.
func Narrow(x float64, d ops.DType, viaF32 bool) float64 {
	switch d {
	case ops.F64:
		return x
	case ops.F32:
		return float64(float32(x))
	case ops.F16:
		if viaF32 {
			return F16ToF64(F16FromF32(float32(x)))
		}
		return F16ToF64(F16FromF64(x))
	case ops.BF16:
		if viaF32 {
			return BF16ToF64(BF16FromF32(float32(x)))
		}
		return BF16ToF64(BF16FromF64(x))
	case ops.I64:
		return float64(toInt64(x))
	case ops.I32:
		return float64(toInt32(x))
	case ops.I16:
		return float64(int16(toInt32(x)))
	case ops.I8:
		return float64(int8(toInt32(x)))
	case ops.U8:
		return float64(uint8(toInt64(x)))
	case ops.BOOL:
		if x != 0 {
			return 1
		}
		return 0
	}
	panic("num.Narrow: unknown dtype " + d.String())
}

var (
	f16TableOnce sync.Once
	f16Table     *[65536]float64
)

// f16Widen returns a 512 KiB lookup table of F16ToF64: decoding float16 is the hottest loop of
// a merge, and a table load beats the branchy bit manipulation by about 2x.
func f16Widen() *[65536]float64 {
	f16TableOnce.Do(func() {
		t := new([65536]float64)
		for i := range t {
			t[i] = F16ToF64(uint16(i))
		}
		f16Table = t
	})
	return f16Table
}

// DecodeInto widens the little-endian elements in src, of dtype d, into dst. len(src) must be
// len(dst)*d.Size(); it panics otherwise (a caller bug, not a data error). Integers are
// converted exactly up to 2^53 in magnitude (beyond that, rounded to nearest even); BOOL bytes
// are 1 when non-zero.
func DecodeInto(dst []float64, src []byte, d ops.DType) {
	if len(src) != len(dst)*d.Size() {
		panic("num.DecodeInto: source length does not match destination")
	}
	le := binary.LittleEndian
	switch d {
	case ops.F64:
		for i := range dst {
			dst[i] = math.Float64frombits(le.Uint64(src[8*i:]))
		}
	case ops.F32:
		for i := range dst {
			// float32 -> float64 is exact; NaN payloads survive on amd64/arm64.
			dst[i] = float64(math.Float32frombits(le.Uint32(src[4*i:])))
		}
	case ops.F16:
		t := f16Widen()
		for i := decodeF16Fast(dst, src); i < len(dst); i++ {
			dst[i] = t[le.Uint16(src[2*i:])]
		}
	case ops.BF16:
		for i := range dst {
			b := le.Uint16(src[2*i:])
			if b&0x7f80 == 0x7f80 && b&0x7f != 0 {
				dst[i] = BF16ToF64(b)
				continue
			}
			dst[i] = float64(math.Float32frombits(uint32(b) << 16))
		}
	case ops.I64:
		for i := range dst {
			dst[i] = float64(int64(le.Uint64(src[8*i:])))
		}
	case ops.I32:
		for i := range dst {
			dst[i] = float64(int32(le.Uint32(src[4*i:])))
		}
	case ops.I16:
		for i := range dst {
			dst[i] = float64(int16(le.Uint16(src[2*i:])))
		}
	case ops.I8:
		for i := range dst {
			dst[i] = float64(int8(src[i]))
		}
	case ops.U8:
		for i := range dst {
			dst[i] = float64(src[i])
		}
	case ops.BOOL:
		for i := range dst {
			if src[i] != 0 {
				dst[i] = 1
			} else {
				dst[i] = 0
			}
		}
	default:
		panic("num.DecodeInto: unknown dtype " + d.String())
	}
}

// EncodeInto narrows src to dtype d (as Narrow does) and stores it little-endian in dst.
// len(dst) must be len(src)*d.Size(); it panics otherwise.
func EncodeInto(dst []byte, src []float64, d ops.DType, viaF32 bool) {
	if len(dst) != len(src)*d.Size() {
		panic("num.EncodeInto: destination length does not match source")
	}
	le := binary.LittleEndian
	switch d {
	case ops.F64:
		for i, x := range src {
			le.PutUint64(dst[8*i:], math.Float64bits(x))
		}
	case ops.F32:
		for i, x := range src {
			le.PutUint32(dst[4*i:], math.Float32bits(float32(x)))
		}
	case ops.F16:
		done := encodeF16Fast(dst, src, viaF32)
		dst, src = dst[2*done:], src[done:]
		if viaF32 {
			for i, x := range src {
				bits := math.Float32bits(float32(x))
				a := bits &^ (1 << 31)
				var h uint16
				if a-(127-14)<<23 < (0xff-(127-14))<<23 {
					r := (a+(1<<12-1)+(a>>13)&1)>>13 - (127-15)<<10
					h = uint16(min(r, 0x7c00)) | uint16(bits>>16)&0x8000
				} else {
					h = F16FromF32(float32(x))
				}
				le.PutUint16(dst[2*i:], h)
			}
		} else {
			for i, x := range src {
				// Inline fast path for values that are normal in float16 or overflow; the
				// call handles NaN, inf and subnormal results.
				bits := math.Float64bits(x)
				a := bits &^ (1 << 63)
				var h uint16
				if a-(1023-14)<<52 < (0x7ff-(1023-14))<<52 {
					r := (a+(1<<41-1)+(a>>42)&1)>>42 - (1023-15)<<10
					h = uint16(min(r, 0x7c00)) | uint16(bits>>48)&0x8000
				} else {
					h = F16FromF64(x)
				}
				le.PutUint16(dst[2*i:], h)
			}
		}
	case ops.BF16:
		if viaF32 {
			for i, x := range src {
				le.PutUint16(dst[2*i:], BF16FromF32(float32(x)))
			}
		} else {
			for i, x := range src {
				bits := math.Float64bits(x)
				a := bits &^ (1 << 63)
				var h uint16
				if a-(1023-126)<<52 < (0x7ff-(1023-126))<<52 {
					r := (a+(1<<44-1)+(a>>45)&1)>>45 - (1023-127)<<7
					h = uint16(min(r, 0x7f80)) | uint16(bits>>48)&0x8000
				} else {
					h = BF16FromF64(x)
				}
				le.PutUint16(dst[2*i:], h)
			}
		}
	case ops.I64:
		for i, x := range src {
			le.PutUint64(dst[8*i:], uint64(toInt64(x)))
		}
	case ops.I32:
		for i, x := range src {
			le.PutUint32(dst[4*i:], uint32(toInt32(x)))
		}
	case ops.I16:
		for i, x := range src {
			le.PutUint16(dst[2*i:], uint16(toInt32(x)))
		}
	case ops.I8:
		for i, x := range src {
			dst[i] = byte(toInt32(x))
		}
	case ops.U8:
		for i, x := range src {
			dst[i] = byte(toInt64(x))
		}
	case ops.BOOL:
		for i, x := range src {
			if x != 0 {
				dst[i] = 1
			} else {
				dst[i] = 0
			}
		}
	default:
		panic("num.EncodeInto: unknown dtype " + d.String())
	}
}
