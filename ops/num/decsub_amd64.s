#include "textflag.h"
#include "vec_amd64.h"

// The widening of decode*_amd64 fused with a subtraction: dst[i] = widen(src[i]) - b[i], each
// element's widening exact and its subtraction VSUBPD's (the widened value first, as a - b in
// Go and in stdlib's vecSubAVX2). Each returns nonzero when some source value is inf or NaN
// (an all-ones exponent), and then dst is not to be used: the caller widens and subtracts
// again on the exact scalar path, which keeps NaN payloads as the table gives them.

// OP_STORE applies OP (VSUBPD: Y - b, VADDPD: Y + b) to Y3 and Y5 with eight float64 of b
// (DX), stores them to dst (DI) and moves the three pointers on (src by srcStep bytes).
#define OP_STORE(OP, srcStep) \
	OP  (DX), Y3, Y3 \
	OP  32(DX), Y5, Y5 \
	VMOVUPD Y3, (DI) \
	VMOVUPD Y5, 32(DI) \
	ADDQ srcStep, SI \
	ADDQ $64, DX \
	ADDQ $64, DI \
	SUBQ $8, CX

// func decodeSubF16C(dst *float64, src *byte, b *float64, n int) (bad uint64)
// n is a positive multiple of 8.
TEXT ·decodeSubF16C(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	HALF_TEST_INIT($0x7c007c00)

f16loop:
	VMOVDQU (SI), X0
	HALF_TEST
	VCVTPH2PS X0, Y2
	WIDEN_PS_PD
	OP_STORE(VSUBPD, $16)
	JNZ  f16loop
	RETURN_BAD(bad+32(FP))

// func decodeSubBF16(dst *float64, src *byte, b *float64, n int) (bad uint64)
// n is a positive multiple of 8. bfloat16 is the top half of a float32: zero-extend, shift.
TEXT ·decodeSubBF16(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	HALF_TEST_INIT($0x7f807f80)

bf16loop:
	VMOVDQU (SI), X0
	HALF_TEST
	VPMOVZXWD X0, Y2
	VPSLLD  $16, Y2, Y2
	WIDEN_PS_PD
	OP_STORE(VSUBPD, $16)
	JNZ  bf16loop
	RETURN_BAD(bad+32(FP))

// func decodeSubF32(dst *float64, src *byte, b *float64, n int) (bad uint64)
// n is a positive multiple of 8.
TEXT ·decodeSubF32(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	MOVL $0x7f800000, AX
	VMOVQ AX, X6
	VPBROADCASTD X6, Y6
	VPXOR Y7, Y7, Y7

f32loop:
	VMOVDQU (SI), Y2
	VPAND   Y6, Y2, Y1
	VPCMPEQD Y6, Y1, Y1
	VPOR    Y1, Y7, Y7
	WIDEN_PS_PD
	OP_STORE(VSUBPD, $32)
	JNZ  f32loop
	RETURN_BAD(bad+32(FP))

// func decodeAddF16C(dst *float64, src *byte, b *float64, n int) (bad uint64)
// decodeSubF16C with dst[i] = widen(src[i]) + b[i] (IEEE addition is commutative, NaN aside:
// a NaN result means an inf or NaN source, which is reported, or a NaN b, whose payload VADDPD
// keeps as the Go loop b[i] + x does, the widened value being a number).
TEXT ·decodeAddF16C(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	HALF_TEST_INIT($0x7c007c00)

f16addloop:
	VMOVDQU (SI), X0
	HALF_TEST
	VCVTPH2PS X0, Y2
	WIDEN_PS_PD
	OP_STORE(VADDPD, $16)
	JNZ  f16addloop
	RETURN_BAD(bad+32(FP))

// func decodeAddBF16(dst *float64, src *byte, b *float64, n int) (bad uint64)
TEXT ·decodeAddBF16(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	HALF_TEST_INIT($0x7f807f80)

bf16addloop:
	VMOVDQU (SI), X0
	HALF_TEST
	VPMOVZXWD X0, Y2
	VPSLLD  $16, Y2, Y2
	WIDEN_PS_PD
	OP_STORE(VADDPD, $16)
	JNZ  bf16addloop
	RETURN_BAD(bad+32(FP))

// func decodeAddF32(dst *float64, src *byte, b *float64, n int) (bad uint64)
TEXT ·decodeAddF32(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	MOVL $0x7f800000, AX
	VMOVQ AX, X6
	VPBROADCASTD X6, Y6
	VPXOR Y7, Y7, Y7

f32addloop:
	VMOVDQU (SI), Y2
	VPAND   Y6, Y2, Y1
	VPCMPEQD Y6, Y1, Y1
	VPOR    Y1, Y7, Y7
	WIDEN_PS_PD
	OP_STORE(VADDPD, $32)
	JNZ  f32addloop
	RETURN_BAD(bad+32(FP))

// FMA_STORE sets Y8, Y9 to Y3*c + b and Y5*c + b (eight float64 of b at DX, c broadcast in Y15;
// VFMADD231PD: b the destination and first source, rounded once), stores them to dst (DI) and
// moves the three pointers on (src by srcStep bytes).
#define FMA_STORE(srcStep) \
	VMOVUPD (DX), Y8 \
	VMOVUPD 32(DX), Y9 \
	VFMADD231PD Y15, Y3, Y8 \
	VFMADD231PD Y15, Y5, Y9 \
	VMOVUPD Y8, (DI) \
	VMOVUPD Y9, 32(DI) \
	ADDQ srcStep, SI \
	ADDQ $64, DX \
	ADDQ $64, DI \
	SUBQ $8, CX

// func decodeFMAF16C(dst *float64, src *byte, b *float64, c float64, n int) (bad uint64)
// dst[i] = widen(src[i])*c + b[i], one rounding (the linear_combination step r + c·m with the
// model's LOAD fused). n is a positive multiple of 8.
TEXT ·decodeFMAF16C(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ b+16(FP), DX
	VBROADCASTSD c+24(FP), Y15
	MOVQ n+32(FP), CX
	HALF_TEST_INIT($0x7c007c00)

f16fmaloop:
	VMOVDQU (SI), X0
	HALF_TEST
	VCVTPH2PS X0, Y2
	WIDEN_PS_PD
	FMA_STORE($16)
	JNZ  f16fmaloop
	RETURN_BAD(bad+40(FP))

// func decodeFMABF16(dst *float64, src *byte, b *float64, c float64, n int) (bad uint64)
TEXT ·decodeFMABF16(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ b+16(FP), DX
	VBROADCASTSD c+24(FP), Y15
	MOVQ n+32(FP), CX
	HALF_TEST_INIT($0x7f807f80)

bf16fmaloop:
	VMOVDQU (SI), X0
	HALF_TEST
	VPMOVZXWD X0, Y2
	VPSLLD  $16, Y2, Y2
	WIDEN_PS_PD
	FMA_STORE($16)
	JNZ  bf16fmaloop
	RETURN_BAD(bad+40(FP))

// func decodeFMAF32(dst *float64, src *byte, b *float64, c float64, n int) (bad uint64)
TEXT ·decodeFMAF32(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ b+16(FP), DX
	VBROADCASTSD c+24(FP), Y15
	MOVQ n+32(FP), CX
	MOVL $0x7f800000, AX
	VMOVQ AX, X6
	VPBROADCASTD X6, Y6
	VPXOR Y7, Y7, Y7

f32fmaloop:
	VMOVDQU (SI), Y2
	VPAND   Y6, Y2, Y1
	VPCMPEQD Y6, Y1, Y1
	VPOR    Y1, Y7, Y7
	WIDEN_PS_PD
	FMA_STORE($32)
	JNZ  f32fmaloop
	RETURN_BAD(bad+40(FP))
