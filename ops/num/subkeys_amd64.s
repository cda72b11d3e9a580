#include "textflag.h"

// SubAbsKeys's vector path: dst[i] = float32bits(|widen32(a[i]) - widen32(b[i])|), eight
// elements at a time in float32 (num.SubAbsKeys says why that is the float64 route's key).
// Each returns nonzero when some key is inf or NaN (bits above 0x7f7fffff), and then dst is not
// to be used. An inf or a NaN among a and b always makes one (inf - x, x - inf, inf - inf and
// NaN - x are not finite), so keys all finite mean inputs all finite; the converse fails only
// where a float32 difference of finite values overflows, which the scalar path then sorts out.

// func subKeysF16C(dst *uint32, a, b *byte, n int) (bad uint64)
// n is a positive multiple of 8.
TEXT ·subKeysF16C(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	MOVL $0x7f7fffff, AX
	MOVQ AX, X6
	VPBROADCASTD X6, Y6
	VPXOR Y7, Y7, Y7
	MOVL $0x7fffffff, AX
	MOVQ AX, X5
	VPBROADCASTD X5, Y5

f16loop:
	VMOVDQU (SI), X0
	VMOVDQU (DX), X1
	VCVTPH2PS X0, Y0
	VCVTPH2PS X1, Y1
	VSUBPS  Y1, Y0, Y0
	VANDPS  Y5, Y0, Y0
	VPCMPGTD Y6, Y0, Y2
	VPOR    Y2, Y7, Y7
	VMOVDQU Y0, (DI)
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  f16loop

	VEXTRACTI128 $1, Y7, X1
	VPOR X1, X7, X7
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
	MOVL $0x7f7fffff, AX
	MOVQ AX, X6
	VPBROADCASTD X6, Y6
	VPXOR Y7, Y7, Y7
	MOVL $0x7fffffff, AX
	MOVQ AX, X5
	VPBROADCASTD X5, Y5

bf16loop:
	VMOVDQU (SI), X0
	VMOVDQU (DX), X1
	VPMOVZXWD X0, Y0
	VPSLLD  $16, Y0, Y0
	VPMOVZXWD X1, Y1
	VPSLLD  $16, Y1, Y1
	VSUBPS  Y1, Y0, Y0
	VANDPS  Y5, Y0, Y0
	VPCMPGTD Y6, Y0, Y2
	VPOR    Y2, Y7, Y7
	VMOVDQU Y0, (DI)
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  bf16loop

	VEXTRACTI128 $1, Y7, X1
	VPOR X1, X7, X7
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
	MOVL $0x7f7fffff, AX
	MOVQ AX, X6
	VPBROADCASTD X6, Y6
	VPXOR Y7, Y7, Y7
	MOVL $0x7fffffff, AX
	MOVQ AX, X5
	VPBROADCASTD X5, Y5

f32loop:
	VMOVDQU (SI), Y0
	VMOVDQU (DX), Y1
	VSUBPS  Y1, Y0, Y0
	VANDPS  Y5, Y0, Y0
	VPCMPGTD Y6, Y0, Y2
	VPOR    Y2, Y7, Y7
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
