#include "textflag.h"

// func decodeF16C(dst *float64, src *byte, n int) (bad uint64)
// n is a positive multiple of 8. Widens n float16 values to float64 with VCVTPH2PS and
// VCVTPS2PD (both exact) and returns nonzero when some value has an all-ones exponent
// (inf or NaN), whose bits the caller then takes from the table instead.
TEXT ·decodeF16C(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVL $0x7c007c00, AX
	MOVQ AX, X6
	VPBROADCASTD X6, X6
	VPXOR X7, X7, X7

loop:
	VMOVDQU (SI), X0
	VPAND   X6, X0, X1
	VPCMPEQW X6, X1, X1
	VPOR    X1, X7, X7
	VCVTPH2PS X0, Y2
	VCVTPS2PD X2, Y3
	VEXTRACTF128 $1, Y2, X4
	VCVTPS2PD X4, Y5
	VMOVUPD Y3, (DI)
	VMOVUPD Y5, 32(DI)
	ADDQ $16, SI
	ADDQ $64, DI
	SUBQ $8, CX
	JNZ  loop

	VMOVQ X7, AX
	VPEXTRQ $1, X7, BX
	ORQ  BX, AX
	MOVQ AX, bad+24(FP)
	VZEROUPPER
	RET

// func cpuidECX1() uint32
TEXT ·cpuidECX1(SB), NOSPLIT, $0-4
	MOVL $1, AX
	XORL CX, CX
	CPUID
	MOVL CX, ret+0(FP)
	RET
