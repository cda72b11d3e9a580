#include "textflag.h"

// SubAbsKeys's vector path: dst[i] = float32bits(|widen32(a[i]) - widen32(b[i])|), eight
// elements at a time in float32 (num.SubAbsKeys says why that is the float64 route's key).
// Each returns nonzero when some element of a or b is inf or NaN (an all-ones exponent), and
// then dst is not to be used.

// func subKeysF16C(dst *uint32, a, b *byte, n int) (bad uint64)
// n is a positive multiple of 8.
TEXT ·subKeysF16C(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	MOVL $0x7c007c00, AX
	MOVQ AX, X6
	VPBROADCASTD X6, X6
	VPXOR X7, X7, X7
	MOVL $0x7fffffff, AX
	MOVQ AX, X5
	VPBROADCASTD X5, Y5

f16loop:
	VMOVDQU (SI), X0
	VMOVDQU (DX), X1
	VPAND   X6, X0, X2
	VPCMPEQW X6, X2, X2
	VPAND   X6, X1, X3
	VPCMPEQW X6, X3, X3
	VPOR    X2, X3, X3
	VPOR    X3, X7, X7
	VCVTPH2PS X0, Y0
	VCVTPH2PS X1, Y1
	VSUBPS  Y1, Y0, Y0
	VANDPS  Y5, Y0, Y0
	VMOVDQU Y0, (DI)
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  f16loop

	VMOVQ X7, AX
	VPEXTRQ $1, X7, BX
	ORQ  BX, AX
	MOVQ AX, bad+32(FP)
	VZEROUPPER
	RET

// func subKeysBF16(dst *uint32, a, b *byte, n int) (bad uint64)
// n is a positive multiple of 8. bfloat16 is the top half of a float32: zero-extend, shift.
TEXT ·subKeysBF16(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	MOVL $0x7f807f80, AX
	MOVQ AX, X6
	VPBROADCASTD X6, X6
	VPXOR X7, X7, X7
	MOVL $0x7fffffff, AX
	MOVQ AX, X5
	VPBROADCASTD X5, Y5

bf16loop:
	VMOVDQU (SI), X0
	VMOVDQU (DX), X1
	VPAND   X6, X0, X2
	VPCMPEQW X6, X2, X2
	VPAND   X6, X1, X3
	VPCMPEQW X6, X3, X3
	VPOR    X2, X3, X3
	VPOR    X3, X7, X7
	VPMOVZXWD X0, Y0
	VPSLLD  $16, Y0, Y0
	VPMOVZXWD X1, Y1
	VPSLLD  $16, Y1, Y1
	VSUBPS  Y1, Y0, Y0
	VANDPS  Y5, Y0, Y0
	VMOVDQU Y0, (DI)
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  bf16loop

	VMOVQ X7, AX
	VPEXTRQ $1, X7, BX
	ORQ  BX, AX
	MOVQ AX, bad+32(FP)
	VZEROUPPER
	RET

// func subKeysF32(dst *uint32, a, b *byte, n int) (bad uint64)
// n is a positive multiple of 8.
TEXT ·subKeysF32(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	MOVL $0x7f800000, AX
	MOVQ AX, X6
	VPBROADCASTD X6, Y6
	VPXOR Y7, Y7, Y7
	MOVL $0x7fffffff, AX
	MOVQ AX, X5
	VPBROADCASTD X5, Y5

f32loop:
	VMOVDQU (SI), Y0
	VMOVDQU (DX), Y1
	VPAND   Y6, Y0, Y2
	VPCMPEQD Y6, Y2, Y2
	VPAND   Y6, Y1, Y3
	VPCMPEQD Y6, Y3, Y3
	VPOR    Y2, Y3, Y3
	VPOR    Y3, Y7, Y7
	VSUBPS  Y1, Y0, Y0
	VANDPS  Y5, Y0, Y0
	VMOVDQU Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  f32loop

	VEXTRACTI128 $1, Y7, X1
	VPOR X1, X7, X7
	VMOVQ X7, AX
	VPEXTRQ $1, X7, BX
	ORQ  BX, AX
	MOVQ AX, bad+32(FP)
	VZEROUPPER
	RET
