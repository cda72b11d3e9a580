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

// ROW4_STEP(R, XR, LO, HI) is one row's eight columns at the step: the row's values (Y12,
// Y13) into its lanes LO (0-3) and HI (4-7) times x, and times XR into p (Y14, Y15).
#define ROW4_STEP(R, XR, LO, HI) \
	VMOVUPD 0(R)(BX*1), Y12; \
	VMOVUPD 32(R)(BX*1), Y13; \
	VFMADD231PD 0(DI)(BX*1), Y12, LO; \
	VFMADD231PD 32(DI)(BX*1), Y13, HI; \
	VFMADD231PD Y12, XR, Y14; \
	VFMADD231PD Y13, XR, Y15

// func symv4RowsAsm(rows *[4]*float64, x, p *float64, n8 int, xr *[4]float64, lanes *[4][8]float64)
//
// symvRowAsm for four rows over their first n8 columns (a positive multiple of 8), p loaded
// and stored once for the four: each element of p gets the rows' fused multiply-adds in row
// order, as four symvRowAsm calls in a row would make them, and each row's lanes the same
// operations. Half the memory traffic of four calls (p is read and written once, not four
// times), and four rows' lane chains in flight instead of one.
TEXT ·symv4RowsAsm(SB), NOSPLIT, $0-48
	MOVQ rows+0(FP), AX
	MOVQ 0(AX), R8
	MOVQ 8(AX), R9
	MOVQ 16(AX), R10
	MOVQ 24(AX), R11
	MOVQ x+8(FP), DI
	MOVQ p+16(FP), DX
	MOVQ n8+24(FP), CX
	SHLQ $3, CX                  // bytes
	MOVQ xr+32(FP), AX
	VBROADCASTSD 0(AX), Y8
	VBROADCASTSD 8(AX), Y9
	VBROADCASTSD 16(AX), Y10
	VBROADCASTSD 24(AX), Y11
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	XORQ BX, BX                  // the byte offset of the step's columns

loop4:
	VMOVUPD 0(DX)(BX*1), Y14
	VMOVUPD 32(DX)(BX*1), Y15
	ROW4_STEP(R8, Y8, Y0, Y1)
	ROW4_STEP(R9, Y9, Y2, Y3)
	ROW4_STEP(R10, Y10, Y4, Y5)
	ROW4_STEP(R11, Y11, Y6, Y7)
	VMOVUPD Y14, 0(DX)(BX*1)
	VMOVUPD Y15, 32(DX)(BX*1)
	ADDQ $64, BX
	CMPQ BX, CX
	JLT  loop4

	MOVQ lanes+40(FP), AX
	VMOVUPD Y0, 0(AX)
	VMOVUPD Y1, 32(AX)
	VMOVUPD Y2, 64(AX)
	VMOVUPD Y3, 96(AX)
	VMOVUPD Y4, 128(AX)
	VMOVUPD Y5, 160(AX)
	VMOVUPD Y6, 192(AX)
	VMOVUPD Y7, 224(AX)
	VZEROUPPER
	RET
