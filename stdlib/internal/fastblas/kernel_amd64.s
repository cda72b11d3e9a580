#include "textflag.h"

// One step p of the 6x8 micro-kernel: two YMM of the packed B row (8 values), each of the six
// packed A values broadcast and multiplied into its row's two accumulators (Y0..Y11) with one
// rounding (VFMADD231PD: acc = a*b + acc). The order along p is the same as kernel6x8Go's.
#define STEP \
	VMOVUPD 0(BX), Y12; \
	VMOVUPD 32(BX), Y13; \
	VBROADCASTSD 0(AX), Y14; \
	VFMADD231PD Y12, Y14, Y0; \
	VFMADD231PD Y13, Y14, Y1; \
	VBROADCASTSD 8(AX), Y15; \
	VFMADD231PD Y12, Y15, Y2; \
	VFMADD231PD Y13, Y15, Y3; \
	VBROADCASTSD 16(AX), Y14; \
	VFMADD231PD Y12, Y14, Y4; \
	VFMADD231PD Y13, Y14, Y5; \
	VBROADCASTSD 24(AX), Y15; \
	VFMADD231PD Y12, Y15, Y6; \
	VFMADD231PD Y13, Y15, Y7; \
	VBROADCASTSD 32(AX), Y14; \
	VFMADD231PD Y12, Y14, Y8; \
	VFMADD231PD Y13, Y14, Y9; \
	VBROADCASTSD 40(AX), Y15; \
	VFMADD231PD Y12, Y15, Y10; \
	VFMADD231PD Y13, Y15, Y11; \
	ADDQ R10, AX; \
	ADDQ $64, BX

// c = alpha*acc + c for one row (two accumulators), one rounding each.
#define UPDATE(lo, hi) \
	VMOVUPD 0(DI), Y12; \
	VMOVUPD 32(DI), Y13; \
	VFMADD231PD lo, Y14, Y12; \
	VFMADD231PD hi, Y14, Y13; \
	VMOVUPD Y12, 0(DI); \
	VMOVUPD Y13, 32(DI); \
	ADDQ DX, DI

// c = alpha*acc + 0 for one row, C not read (the first k block of a beta = 0 product).
#define ZUPDATE(lo, hi) \
	VXORPD Y12, Y12, Y12; \
	VXORPD Y13, Y13, Y13; \
	VFMADD231PD lo, Y14, Y12; \
	VFMADD231PD hi, Y14, Y13; \
	VMOVUPD Y12, 0(DI); \
	VMOVUPD Y13, 32(DI); \
	ADDQ DX, DI

#define STORE(lo, hi) \
	VMOVUPD lo, 0(DI); \
	VMOVUPD hi, 32(DI); \
	ADDQ DX, DI

// func kernel6x8Asm(k int, a, b, c *float64, ldc int, alpha float64, mode int, astep int)
// mode: 0 c = alpha*acc + c, 1 c = acc, 2 c = alpha*acc + 0 (c not read).
// astep is the bytes from one step's six A values to the next: 48 for a packed panel, the
// row stride for a panel read in place from a transposed A.
TEXT ·kernel6x8Asm(SB), NOSPLIT, $0-64
	MOVQ astep+56(FP), R10
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $3, DX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	VXORPD Y8, Y8, Y8
	VXORPD Y9, Y9, Y9
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11

loop4:
	CMPQ CX, $4
	JLT  tail
	PREFETCHT0 384(AX)
	STEP
	STEP
	PREFETCHT0 512(BX)
	STEP
	STEP
	SUBQ $4, CX
	JMP  loop4

tail:
	TESTQ CX, CX
	JEQ   store
	STEP
	DECQ CX
	JMP  tail

store:
	MOVQ mode+48(FP), R8
	CMPQ R8, $1
	JEQ  rawstore
	VBROADCASTSD alpha+40(FP), Y14
	CMPQ R8, $2
	JEQ  zerostore
	UPDATE(Y0, Y1)
	UPDATE(Y2, Y3)
	UPDATE(Y4, Y5)
	UPDATE(Y6, Y7)
	UPDATE(Y8, Y9)
	UPDATE(Y10, Y11)
	VZEROUPPER
	RET

zerostore:
	ZUPDATE(Y0, Y1)
	ZUPDATE(Y2, Y3)
	ZUPDATE(Y4, Y5)
	ZUPDATE(Y6, Y7)
	ZUPDATE(Y8, Y9)
	ZUPDATE(Y10, Y11)
	VZEROUPPER
	RET

rawstore:
	STORE(Y0, Y1)
	STORE(Y2, Y3)
	STORE(Y4, Y5)
	STORE(Y6, Y7)
	STORE(Y8, Y9)
	STORE(Y10, Y11)
	VZEROUPPER
	RET
