#include "textflag.h"

// func symvRowAsm(row, x, p *float64, n8 int, xr float64, lanes *[8]float64)
//
// Eight columns a step: lanes 0-3 (Y0) and 4-7 (Y1) += row*x, one rounding each (VFMADD231PD);
// p += row*xr, one rounding each. The lanes start at zero and are stored at the end.
TEXT ·symvRowAsm(SB), NOSPLIT, $0-48
	MOVQ row+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ p+16(FP), DX
	MOVQ n8+24(FP), CX
	VBROADCASTSD xr+32(FP), Y2
	MOVQ lanes+40(FP), AX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1

loop:
	VMOVUPD 0(SI), Y3
	VMOVUPD 32(SI), Y4
	VFMADD231PD 0(DI), Y3, Y0
	VFMADD231PD 32(DI), Y4, Y1
	VMOVUPD 0(DX), Y5
	VMOVUPD 32(DX), Y6
	VFMADD231PD Y3, Y2, Y5
	VFMADD231PD Y4, Y2, Y6
	VMOVUPD Y5, 0(DX)
	VMOVUPD Y6, 32(DX)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, DX
	SUBQ $8, CX
	JNZ  loop

	VMOVUPD Y0, 0(AX)
	VMOVUPD Y1, 32(AX)
	VZEROUPPER
	RET
