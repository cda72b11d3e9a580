#include "textflag.h"
#include "vec_amd64.h"

// SubAbsKeys's vector path: dst[i] = float32bits(|widen32(a[i]) - widen32(b[i])|), eight
// elements at a time in float32 (num.SubAbsKeys says why that is the float64 route's key).
// Each returns nonzero when some key is inf or NaN (bits above 0x7f7fffff), and then dst is not
// to be used. An inf or a NaN among a and b always makes one (inf - x, x - inf, inf - inf and
// NaN - x are not finite), so keys all finite mean inputs all finite; the converse fails only
// where a float32 difference of finite values overflows, which the scalar path then sorts out.

// KEYS_INIT loads the arguments and sets Y5 to the magnitude mask and Y7 (the largest key so
// far) to zero; CX is n.
#define KEYS_INIT \
	MOVQ dst+0(FP), DI \
	MOVQ a+8(FP), SI \
	MOVQ b+16(FP), DX \
	MOVQ n+24(FP), CX \
	MOVL $0x7fffffff, AX \
	VMOVQ AX, X5 \
	VPBROADCASTD X5, Y5 \
	VPXOR Y7, Y7, Y7

// KEYS_KEEP stores the keys of A - B (eight float32) at off(DI) and keeps their maximum in Y7
// (keys have no sign bit: a signed maximum orders them).
#define KEYS_KEEP(A, B, off) \
	VSUBPS  B, A, A \
	VANDPS  Y5, A, A \
	VPMAXSD A, Y7, Y7 \
	VMOVDQU A, off(DI)

// KEYS_LOOP(LOAD8, step) runs the keys of n elements: one block of eight when n / 8 is odd,
// then two per step (LOAD8(off, A, B) widens the eight elements of a and b at byte offset off
// into A and B; step is eight elements' bytes), and returns whether the largest key is past
// the largest finite float32.
#define KEYS_LOOP(LOAD8, step, label1, label2, done) \
	TESTQ $8, CX \
	JZ    label2 \
	LOAD8(0, Y0, Y1) \
	KEYS_KEEP(Y0, Y1, 0) \
	ADDQ  $step, SI \
	ADDQ  $step, DX \
	ADDQ  $32, DI \
	SUBQ  $8, CX \
	JZ    done \
label2: \
	LOAD8(0, Y0, Y1) \
	LOAD8(step, Y2, Y3) \
	KEYS_KEEP(Y0, Y1, 0) \
	KEYS_KEEP(Y2, Y3, 32) \
	ADDQ  $(2*step), SI \
	ADDQ  $(2*step), DX \
	ADDQ  $64, DI \
	SUBQ  $16, CX \
	JNZ   label2 \
done: \
	MOVL  $0x7f7fffff, AX \
	VMOVQ AX, X6 \
	VPBROADCASTD X6, Y6 \
	VPCMPGTD Y6, Y7, Y7 \
	RETURN_BAD(bad+32(FP))

// The loads: float16 widened by F16C, bfloat16 zero-extended and shifted into the top half
// of a float32, float32 as it is.
#define LOAD_F16(off, A, B) \
	VCVTPH2PS off(SI), A \
	VCVTPH2PS off(DX), B
#define LOAD_BF16(off, A, B) \
	VPMOVZXWD off(SI), A \
	VPSLLD  $16, A, A \
	VPMOVZXWD off(DX), B \
	VPSLLD  $16, B, B
#define LOAD_F32(off, A, B) \
	VMOVDQU off(SI), A \
	VMOVDQU off(DX), B

// func subKeysF16C(dst *uint32, a, b *byte, n int) (bad uint64)
// n is a positive multiple of 8.
TEXT ·subKeysF16C(SB), NOSPLIT, $0-40
	KEYS_INIT
	KEYS_LOOP(LOAD_F16, 16, f16one, f16two, f16done)

// func subKeysBF16(dst *uint32, a, b *byte, n int) (bad uint64)
// n is a positive multiple of 8.
TEXT ·subKeysBF16(SB), NOSPLIT, $0-40
	KEYS_INIT
	KEYS_LOOP(LOAD_BF16, 16, bf16one, bf16two, bf16done)

// func subKeysF32(dst *uint32, a, b *byte, n int) (bad uint64)
// n is a positive multiple of 8.
TEXT ·subKeysF32(SB), NOSPLIT, $0-40
	KEYS_INIT
	KEYS_LOOP(LOAD_F32, 32, f32one, f32two, f32done)

// func subKeysF16AVX512(dst *uint32, a, b *byte, n int) (bad uint64)
// subKeysF16C sixteen elements a step (n a positive multiple of 16): the same keys.
TEXT ·subKeysF16AVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z5
	VPXORD Z7, Z7, Z7

keys512:
	VCVTPH2PS (SI), Z0
	VCVTPH2PS (DX), Z1
	VSUBPS    Z1, Z0, Z0
	VPANDD    Z5, Z0, Z0
	VPMAXSD   Z0, Z7, Z7
	VMOVDQU32 Z0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JNZ  keys512

	MOVL $0x7f7fffff, AX
	VPBROADCASTD AX, Z6
	VPCMPGTD Z6, Z7, K1
	KMOVW    K1, AX
	MOVQ     AX, bad+32(FP)
	VZEROUPPER
	RET
