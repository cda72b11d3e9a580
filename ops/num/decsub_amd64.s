#include "textflag.h"

// The widening of decode*_amd64 fused with a subtraction: dst[i] = widen(src[i]) - b[i], each
// element's widening exact and its subtraction VSUBPD's (the widened value first, as a - b in
// Go and in stdlib's vecSubAVX2). Each returns nonzero when some source value is inf or NaN
// (an all-ones exponent), and then dst is not to be used: the caller widens and subtracts
// again on the exact scalar path, which keeps NaN payloads as the table gives them.

// func decodeSubF16C(dst *float64, src *byte, b *float64, n int) (bad uint64)
// n is a positive multiple of 8.
TEXT ·decodeSubF16C(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	MOVL $0x7c007c00, AX
	MOVQ AX, X6
	VPBROADCASTD X6, X6
	VPXOR X7, X7, X7

f16loop:
	VMOVDQU (SI), X0
	VPAND   X6, X0, X1
	VPCMPEQW X6, X1, X1
	VPOR    X1, X7, X7
	VCVTPH2PS X0, Y2
	VCVTPS2PD X2, Y3
	VEXTRACTF128 $1, Y2, X4
	VCVTPS2PD X4, Y5
	VSUBPD  (DX), Y3, Y3
	VSUBPD  32(DX), Y5, Y5
	VMOVUPD Y3, (DI)
	VMOVUPD Y5, 32(DI)
	ADDQ $16, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $8, CX
	JNZ  f16loop

	VMOVQ X7, AX
	VPEXTRQ $1, X7, BX
	ORQ  BX, AX
	MOVQ AX, bad+32(FP)
	VZEROUPPER
	RET

// func decodeSubBF16(dst *float64, src *byte, b *float64, n int) (bad uint64)
// n is a positive multiple of 8. bfloat16 is the top half of a float32: zero-extend, shift.
TEXT ·decodeSubBF16(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	MOVL $0x7f807f80, AX
	MOVQ AX, X6
	VPBROADCASTD X6, X6
	VPXOR X7, X7, X7

bf16loop:
	VMOVDQU (SI), X0
	VPAND   X6, X0, X1
	VPCMPEQW X6, X1, X1
	VPOR    X1, X7, X7
	VPMOVZXWD X0, Y2
	VPSLLD  $16, Y2, Y2
	VCVTPS2PD X2, Y3
	VEXTRACTF128 $1, Y2, X4
	VCVTPS2PD X4, Y5
	VSUBPD  (DX), Y3, Y3
	VSUBPD  32(DX), Y5, Y5
	VMOVUPD Y3, (DI)
	VMOVUPD Y5, 32(DI)
	ADDQ $16, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $8, CX
	JNZ  bf16loop

	VMOVQ X7, AX
	VPEXTRQ $1, X7, BX
	ORQ  BX, AX
	MOVQ AX, bad+32(FP)
	VZEROUPPER
	RET

// func decodeSubF32(dst *float64, src *byte, b *float64, n int) (bad uint64)
// n is a positive multiple of 8.
TEXT ·decodeSubF32(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	MOVL $0x7f800000, AX
	MOVQ AX, X6
	VPBROADCASTD X6, Y6
	VPXOR Y7, Y7, Y7

f32loop:
	VMOVDQU (SI), Y0
	VPAND   Y6, Y0, Y1
	VPCMPEQD Y6, Y1, Y1
	VPOR    Y1, Y7, Y7
	VCVTPS2PD X0, Y3
	VEXTRACTF128 $1, Y0, X4
	VCVTPS2PD X4, Y5
	VSUBPD  (DX), Y3, Y3
	VSUBPD  32(DX), Y5, Y5
	VMOVUPD Y3, (DI)
	VMOVUPD Y5, 32(DI)
	ADDQ $32, SI
	ADDQ $64, DX
	ADDQ $64, DI
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
