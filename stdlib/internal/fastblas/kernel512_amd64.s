#include "textflag.h"

// The 6x16 micro-kernel with AVX-512: two packed 8-column B panels side by side (a ZMM
// each), the six packed A values of a step broadcast and multiplied into their rows' two
// accumulators (Z0..Z11) with one rounding (VFMADD231PD). Every element of C gets the same
// fused multiply-adds in the same order as from kernel6x8 on each panel: the same bits.
#define STEP512 \
	VMOVUPD 0(BX), Z24; \
	VMOVUPD 0(R9), Z25; \
	VBROADCASTSD 0(AX), Z26; \
	VBROADCASTSD 8(AX), Z27; \
	VBROADCASTSD 16(AX), Z28; \
	VBROADCASTSD 24(AX), Z29; \
	VBROADCASTSD 32(AX), Z30; \
	VBROADCASTSD 40(AX), Z31; \
	VFMADD231PD Z24, Z26, Z0; \
	VFMADD231PD Z25, Z26, Z1; \
	VFMADD231PD Z24, Z27, Z2; \
	VFMADD231PD Z25, Z27, Z3; \
	VFMADD231PD Z24, Z28, Z4; \
	VFMADD231PD Z25, Z28, Z5; \
	VFMADD231PD Z24, Z29, Z6; \
	VFMADD231PD Z25, Z29, Z7; \
	VFMADD231PD Z24, Z30, Z8; \
	VFMADD231PD Z25, Z30, Z9; \
	VFMADD231PD Z24, Z31, Z10; \
	VFMADD231PD Z25, Z31, Z11; \
	ADDQ R10, AX; \
	ADDQ $64, BX; \
	ADDQ $64, R9

// c = alpha*acc + c for one row of sixteen (two accumulators), one rounding each.
#define UPDATE512(lo, hi) \
	VMOVUPD 0(DI), Z24; \
	VMOVUPD 64(DI), Z25; \
	VFMADD231PD lo, Z26, Z24; \
	VFMADD231PD hi, Z26, Z25; \
	VMOVUPD Z24, 0(DI); \
	VMOVUPD Z25, 64(DI); \
	ADDQ DX, DI

// c = alpha*acc + 0 for one row of sixteen, C not read.
#define ZUPDATE512(lo, hi) \
	VPXORQ Z24, Z24, Z24; \
	VPXORQ Z25, Z25, Z25; \
	VFMADD231PD lo, Z26, Z24; \
	VFMADD231PD hi, Z26, Z25; \
	VMOVUPD Z24, 0(DI); \
	VMOVUPD Z25, 64(DI); \
	ADDQ DX, DI

// func kernel6x16AVX512(k int, a, b0, b1, c *float64, ldc int, alpha float64, astep, mode int)
// mode 2 (kZero) stores alpha*acc + 0 without reading C; any other, alpha*acc + c.
// a is a k x 6 panel whose steps are astep bytes apart (48: packed), b0 and b1 packed k x 8
// panels (C's columns 0-7 and 8-15); k > 0.
TEXT ·kernel6x16AVX512(SB), NOSPLIT, $0-72
	MOVQ astep+56(FP), R10
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b0+16(FP), BX
	MOVQ b1+24(FP), R9
	MOVQ c+32(FP), DI
	MOVQ ldc+40(FP), DX
	SHLQ $3, DX
	VPXORQ Z0, Z0, Z0
	VPXORQ Z1, Z1, Z1
	VPXORQ Z2, Z2, Z2
	VPXORQ Z3, Z3, Z3
	VPXORQ Z4, Z4, Z4
	VPXORQ Z5, Z5, Z5
	VPXORQ Z6, Z6, Z6
	VPXORQ Z7, Z7, Z7
	VPXORQ Z8, Z8, Z8
	VPXORQ Z9, Z9, Z9
	VPXORQ Z10, Z10, Z10
	VPXORQ Z11, Z11, Z11

loop512:
	CMPQ CX, $4
	JLT  tail512
	PREFETCHT0 384(AX)
	STEP512
	STEP512
	PREFETCHT0 512(BX)
	PREFETCHT0 512(R9)
	STEP512
	STEP512
	SUBQ $4, CX
	JMP  loop512

tail512:
	TESTQ CX, CX
	JEQ   store512
	STEP512
	DECQ CX
	JMP  tail512

store512:
	VBROADCASTSD alpha+48(FP), Z26
	MOVQ mode+64(FP), R8
	CMPQ R8, $2
	JEQ  zero512
	UPDATE512(Z0, Z1)
	UPDATE512(Z2, Z3)
	UPDATE512(Z4, Z5)
	UPDATE512(Z6, Z7)
	UPDATE512(Z8, Z9)
	UPDATE512(Z10, Z11)
	VZEROUPPER
	RET

zero512:
	ZUPDATE512(Z0, Z1)
	ZUPDATE512(Z2, Z3)
	ZUPDATE512(Z4, Z5)
	ZUPDATE512(Z6, Z7)
	ZUPDATE512(Z8, Z9)
	ZUPDATE512(Z10, Z11)
	VZEROUPPER
	RET
