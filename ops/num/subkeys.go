package num

import (
	"math"

	"github.com/mechac/mechac/ops"
)

// SubAbsKeys sets dst[i] to the magnitude key of widen(a[i]) - widen(b[i]), where a and b hold
// len(dst) elements each as stored (dtype d) and widen is DecodeInto: the key of x is
// float32bits(float32(|x|)), the float32 magnitude a TIES threshold is selected among. It
// reports whether every widened element of a and b was finite (DecodeFinite's answer for both).
//
// The staged ties_sum's statistics pass needs only these keys of each delta (SPEC §5.4), and a
// delta is a model minus the base: computed from the stored bytes, the float64 chunks of the
// delta and of the base are never written and read back (ops.Def.RawKeys).
//
// The vector path subtracts in float32 and gives the same bits as the float64 route. For
// float16 inputs the float64 difference is exact (multiples of 2^-24 below 2^17 need at most 41
// bits), and rounding it to float32 is the float32 subtraction, one IEEE operation on the same
// exact value. For bfloat16 and float32 inputs (float32 values) the float64 difference may be
// rounded before float32 rounds it again; that double rounding is innocuous because 53 >= 2*24
// + 2 (Figueroa, "When is double rounding innocuous?", 1995), and a result in float32's
// subnormal range is a multiple of 2^-149 that float64 holds exactly. Overflow gives inf
// either way. |x| commutes with round-to-nearest-even. TestSubAbsKeys checks it on every
// float16 and bfloat16 pattern. A block holding an inf or a NaN takes the scalar path, which
// computes in float64 as the definition says.
func SubAbsKeys(dst []uint32, a, b []byte, d ops.DType) (finite bool) {
	size := d.Size()
	if len(a) != len(dst)*size || len(b) != len(dst)*size {
		panic("num.SubAbsKeys: source lengths do not match destination")
	}
	if subKeysFast(dst, a, b, d) {
		return true
	}
	// The scalar path, a block at a time through float64 buffers on the stack.
	const block = 256
	var wa, wb [block]float64
	finite = true
	for lo := 0; lo < len(dst); lo += block {
		n := min(block, len(dst)-lo)
		fa := DecodeFinite(wa[:n], a[lo*size:(lo+n)*size], d)
		fb := DecodeFinite(wb[:n], b[lo*size:(lo+n)*size], d)
		finite = finite && fa && fb
		out := dst[lo : lo+n]
		for j := range out {
			out[j] = math.Float32bits(float32(math.Abs(wa[j] - wb[j])))
		}
	}
	return finite
}
