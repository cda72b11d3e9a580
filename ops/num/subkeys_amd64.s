#include "textflag.h"
#include "vec_amd64.h"

// SubAbsKeys's vector path: dst[i] = float32bits(|widen32(a[i]) - widen32(b[i])|), eight
// elements at a time in float32 (num.SubAbsKeys says why that is the float64 route's key).
// Each returns nonzero when some key is inf or NaN (bits above 0x7f7fffff), and then dst is not
// to be used. An inf or a NaN among a and b always makes one (inf - x, x - inf, inf - inf and
// NaN - x are not finite), so keys all finite mean inputs all finite; the converse fails only
// where a float32 difference of finite values overflows, which the scalar path then sorts out.

// KEYS_INIT loads the arguments and sets Y6 to the largest finite key, Y5 to the magnitude
// mask, Y7 (the OR of the non-finite keys) to zero.
#define KEYS_INIT \
	MOVQ dst+0(FP), DI \
	MOVQ a+8(FP), SI \
	MOVQ b+16(FP), DX \
	MOVQ n+24(FP), CX \
	MOVL $0x7f7fffff, AX \
	MOVQ AX, X6 \
	VPBROADCASTD X6, Y6 \
	VPXOR Y7, Y7, Y7 \
	MOVL $0x7fffffff, AX \
	MOVQ AX, X5 \
	VPBROADCASTD X5, Y5

// KEYS_STORE stores the keys of Y0 - Y1 (eight float32) to dst, tests them, and moves the
// pointers on (a and b by step bytes).
#define KEYS_STORE(step) \
	VSUBPS  Y1, Y0, Y0 \
	VANDPS  Y5, Y0, Y0 \
	VPCMPGTD Y6, Y0, Y2 \
	VPOR    Y2, Y7, Y7 \
	VMOVDQU Y0, (DI) \
	ADDQ step, SI \
	ADDQ step, DX \
	ADDQ $32, DI \
	SUBQ $8, CX

// func subKeysF16C(dst *uint32, a, b *byte, n int) (bad uint64)
// n is a positive multiple of 8.
TEXT ·subKeysF16C(SB), NOSPLIT, $0-40
	KEYS_INIT

f16loop:
	VCVTPH2PS (SI), Y0
	VCVTPH2PS (DX), Y1
	KEYS_STORE($16)
	JNZ  f16loop
	RETURN_BAD(bad+32(FP))

// func subKeysBF16(dst *uint32, a, b *byte, n int) (bad uint64)
// n is a positive multiple of 8. bfloat16 is the top half of a float32: zero-extend, shift.
TEXT ·subKeysBF16(SB), NOSPLIT, $0-40
	KEYS_INIT

bf16loop:
	VPMOVZXWD (SI), Y0
	VPSLLD  $16, Y0, Y0
	VPMOVZXWD (DX), Y1
	VPSLLD  $16, Y1, Y1
	KEYS_STORE($16)
	JNZ  bf16loop
	RETURN_BAD(bad+32(FP))

// func subKeysF32(dst *uint32, a, b *byte, n int) (bad uint64)
// n is a positive multiple of 8.
TEXT ·subKeysF32(SB), NOSPLIT, $0-40
	KEYS_INIT

f32loop:
	VMOVDQU (SI), Y0
	VMOVDQU (DX), Y1
	KEYS_STORE($32)
	JNZ  f32loop
	RETURN_BAD(bad+32(FP))
