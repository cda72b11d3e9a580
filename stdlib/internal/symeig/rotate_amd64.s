#include "textflag.h"

// func rotStripAVX(base *float64, stride, w int, idx *int32, cs *float64, count int)
//
// For each rotation in order: x = row idx[k], y = the next row; over w columns, four at a time:
// y' = s*x + c*y and x' = c*x - s*y, each product rounded, then the sum (rotateRows's order).
TEXT ·rotStripAVX(SB), NOSPLIT, $0-48
	MOVQ base+0(FP), DI
	MOVQ stride+8(FP), R8
	SHLQ $3, R8
	MOVQ w+16(FP), R9
	MOVQ idx+24(FP), SI
	MOVQ cs+32(FP), DX
	MOVQ count+40(FP), CX

rot:
	TESTQ CX, CX
	JZ    done
	MOVLQSX (SI), AX
	IMULQ R8, AX
	LEAQ  (DI)(AX*1), R10
	LEAQ  (R10)(R8*1), R11
	VBROADCASTSD 0(DX), Y0
	VBROADCASTSD 8(DX), Y1
	MOVQ  R9, BX

cols:
	VMOVUPD (R10), Y2
	VMOVUPD (R11), Y3
	VMULPD  Y2, Y1, Y4
	VMULPD  Y3, Y0, Y5
	VADDPD  Y5, Y4, Y4
	VMULPD  Y2, Y0, Y6
	VMULPD  Y3, Y1, Y7
	VSUBPD  Y7, Y6, Y6
	VMOVUPD Y4, (R11)
	VMOVUPD Y6, (R10)
	ADDQ    $32, R10
	ADDQ    $32, R11
	SUBQ    $4, BX
	JNZ     cols

	ADDQ $4, SI
	ADDQ $16, DX
	DECQ CX
	JMP  rot

done:
	VZEROUPPER
	RET
