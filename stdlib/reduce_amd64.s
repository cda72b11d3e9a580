#include "textflag.h"

// The distance chains of distChains16AVX, distChains8AVX and distChains4AVX: DistChains for
// 4G points (G = 4, 2, 1; ptrs[0..4G-1], each at least n long) over b[0:n], n a positive
// multiple of 4: acc[l] = fma(d, d, acc[l]) for d = p_l[j] - b[j], j in order. Four points
// share a register, a lane each, and the G registers' chains are independent, where the Go
// loop's eight scalar chains each wait for the last fused multiply-add (BenchmarkDistChains:
// 215 points, 0.80 -> 0.20 ns a point-element).

// DIST_GROUP continues the chains of four points (pointers at P0-P3 bytes into the pointer
// array at SI) over four elements (byte offset DX; b's four elements in Y4): the differences
// a - b row by row (a the first operand, as in the Go loop), transposed so that a lane is a
// point, then one fused multiply-add per element in element order into ACC (the accumulator
// is the addend, as math.FMA(d, d, acc) compiles).
#define DIST_GROUP(P0, P1, P2, P3, ACC) \
	MOVQ P0(SI), R8 \
	MOVQ P1(SI), R9 \
	MOVQ P2(SI), R10 \
	MOVQ P3(SI), R11 \
	VMOVUPD (R8)(DX*1), Y8 \
	VMOVUPD (R9)(DX*1), Y9 \
	VMOVUPD (R10)(DX*1), Y10 \
	VMOVUPD (R11)(DX*1), Y11 \
	VSUBPD  Y4, Y8, Y8 \
	VSUBPD  Y4, Y9, Y9 \
	VSUBPD  Y4, Y10, Y10 \
	VSUBPD  Y4, Y11, Y11 \
	VUNPCKLPD Y9, Y8, Y12 \
	VUNPCKHPD Y9, Y8, Y13 \
	VUNPCKLPD Y11, Y10, Y14 \
	VUNPCKHPD Y11, Y10, Y15 \
	VPERM2F128 $0x20, Y14, Y12, Y8 \
	VPERM2F128 $0x20, Y15, Y13, Y9 \
	VPERM2F128 $0x31, Y14, Y12, Y10 \
	VPERM2F128 $0x31, Y15, Y13, Y11 \
	VFMADD231PD Y8, Y8, ACC \
	VFMADD231PD Y9, Y9, ACC \
	VFMADD231PD Y10, Y10, ACC \
	VFMADD231PD Y11, Y11, ACC

// DIST_LOAD loads the kernels' arguments: the pointers at SI, b at BX, acc at DI, n in CX,
// and the element offset DX = 0.
#define DIST_LOAD \
	MOVQ ptrs+0(FP), SI \
	MOVQ b+8(FP), BX \
	MOVQ acc+16(FP), DI \
	MOVQ n+24(FP), CX \
	XORQ DX, DX

// func addRows16AVX(acc *float64, x *float64, rowStride int, rows int)
// For each of rows rows (row i at x + i*rowStride elements), acc[k] += row[k] for k < 16,
// row after row: every lane is the sequential sum the Go loop computes. The accumulator is
// the first source of VADDPD, as in the Go loop's ADDSD, so NaN payloads propagate alike.
TEXT ·addRows16AVX(SB), NOSPLIT, $0-32
	MOVQ acc+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ rowStride+16(FP), BX
	SHLQ $3, BX
	MOVQ rows+24(FP), CX
	VMOVUPD 0(DI), Y0
	VMOVUPD 32(DI), Y1
	VMOVUPD 64(DI), Y2
	VMOVUPD 96(DI), Y3
	TESTQ CX, CX
	JE done

loop:
	VADDPD 0(SI), Y0, Y0
	VADDPD 32(SI), Y1, Y1
	VADDPD 64(SI), Y2, Y2
	VADDPD 96(SI), Y3, Y3
	ADDQ BX, SI
	DECQ CX
	JNZ loop

done:
	VMOVUPD Y0, 0(DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	VZEROUPPER
	RET

// func distChains16AVX(ptrs **float64, b *float64, acc *float64, n int)
TEXT ·distChains16AVX(SB), NOSPLIT, $0-32
	DIST_LOAD
	VMOVUPD 0(DI), Y0
	VMOVUPD 32(DI), Y1
	VMOVUPD 64(DI), Y2
	VMOVUPD 96(DI), Y3

dist16:
	VMOVUPD (BX)(DX*1), Y4
	DIST_GROUP(0, 8, 16, 24, Y0)
	DIST_GROUP(32, 40, 48, 56, Y1)
	DIST_GROUP(64, 72, 80, 88, Y2)
	DIST_GROUP(96, 104, 112, 120, Y3)
	ADDQ $32, DX
	SUBQ $4, CX
	JNZ  dist16

	VMOVUPD Y0, 0(DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	VZEROUPPER
	RET

// func distChains8AVX(ptrs **float64, b *float64, acc *float64, n int)
TEXT ·distChains8AVX(SB), NOSPLIT, $0-32
	DIST_LOAD
	VMOVUPD 0(DI), Y0
	VMOVUPD 32(DI), Y1

dist8:
	VMOVUPD (BX)(DX*1), Y4
	DIST_GROUP(0, 8, 16, 24, Y0)
	DIST_GROUP(32, 40, 48, 56, Y1)
	ADDQ $32, DX
	SUBQ $4, CX
	JNZ  dist8

	VMOVUPD Y0, 0(DI)
	VMOVUPD Y1, 32(DI)
	VZEROUPPER
	RET

// func distChains4AVX(ptrs **float64, b *float64, acc *float64, n int)
TEXT ·distChains4AVX(SB), NOSPLIT, $0-32
	DIST_LOAD
	VMOVUPD 0(DI), Y0

dist4:
	VMOVUPD (BX)(DX*1), Y4
	DIST_GROUP(0, 8, 16, 24, Y0)
	ADDQ $32, DX
	SUBQ $4, CX
	JNZ  dist4

	VMOVUPD Y0, 0(DI)
	VZEROUPPER
	RET
