#include "textflag.h"

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
