package num

import "golang.org/x/sys/cpu"

// Float16 widening with the F16C instructions (VCVTPH2PS, then VCVTPS2PD): both conversions
// are exact, so every finite value gets the bits the table gives; a block holding an inf or a
// NaN (whose payload the hardware would quiet) is widened again from the table. About 4x
// faster than the table eight at a time with AVX2, 9x sixteen at a time with AVX-512
// (BenchmarkDecodeF16: 8.0 and 3.8 us per 64K values), which matters: every float16 input
// element of every model is widened once per pass.

//go:noescape
func decodeF16C(dst *float64, src *byte, n int) (bad uint64)

func cpuidECX1() uint32

// hasF16C: AVX (and the OS saving the YMM registers, which cpu.X86.HasAVX includes) and the
// F16C bit of CPUID leaf 1.
var hasF16C = cpu.X86.HasAVX && cpuidECX1()&(1<<29) != 0

// decodeF16Fast widens the first len(dst) &^ 7 elements of src into dst when the CPU can and
// they are all finite, and returns how many it widened (0: none, the caller does it all).
func decodeF16Fast(dst []float64, src []byte) int {
	n := len(dst) &^ 7
	if !hasF16C || n == 0 {
		return 0
	}
	if f16Wide(n, func(n int) uint64 { return decodeF16AVX512(&dst[0], &src[0], n) },
		func(i, n int) uint64 { return decodeF16C(&dst[i], &src[2*i], n) }) != 0 {
		return 0
	}
	return n
}

//go:noescape
func decodeF16AVX512(dst *float64, src *byte, n int) (bad uint64)

//go:noescape
func encodeF16C(dst *byte, src *float64, n int, viaF32 bool) (bad uint64)

//go:noescape
func encodeF16AVX512(dst *byte, src *float64, n int, viaF32 bool) (bad uint64)

// hasAVX512VL: AVX-512 with its 256-bit forms (encodeF16AVX512's masked VPORD on YMM).
var hasAVX512VL = hasAVX512 && cpu.X86.HasAVX512VL

// encodeF16Fast rounds the first len(src) &^ 7 elements of src to float16 into dst when the CPU
// can and none of them is NaN, and returns how many it rounded (0: none, the caller does it all).
// With AVX-512 sixteen at a time (encodeF16AVX512: 3.3x faster in BenchmarkEncodeF16), the
// last eight, if any, by the AVX2 loop.
func encodeF16Fast(dst []byte, src []float64, viaF32 bool) int {
	n := len(src) &^ 7
	if !hasF16C || n == 0 {
		return 0
	}
	done := 0
	var bad uint64
	if n16 := n &^ 15; hasAVX512VL && n16 > 0 {
		bad, done = encodeF16AVX512(&dst[0], &src[0], n16, viaF32), n16
	}
	if done < n {
		bad |= encodeF16C(&dst[2*done], &src[done], n-done, viaF32)
	}
	if bad != 0 {
		return 0
	}
	return n
}
