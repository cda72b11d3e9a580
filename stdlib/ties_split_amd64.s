#include "textflag.h"

DATA splitAbs<>+0(SB)/8, $0x7fffffffffffffff
GLOBL splitAbs<>(SB), RODATA|NOPTR, $8

// func tiesSplitAVX2(m *float64, split *float64, cnt *int32, n int, lom1 int64)
// n is a positive multiple of 4. For j < n, with u the bits of m[j]: when |u| > lom1 (signed:
// |u| and lom1 + 1 are below 2^63), m[j] is added to split[2j] if u's sign bit is clear, else to
// split[2j+1], and cnt at the same index is incremented. +0 is added to the other slot (and to
// both for a dropped element), which leaves a sum started at +0 unchanged.
TEXT ·tiesSplitAVX2(SB), NOSPLIT, $0-40
	MOVQ m+0(FP), SI
	MOVQ split+8(FP), DI
	MOVQ cnt+16(FP), DX
	MOVQ n+24(FP), CX
	VPBROADCASTQ lom1+32(FP), Y14
	VBROADCASTSD splitAbs<>(SB), Y15
	VPXOR Y13, Y13, Y13

loop:
	VMOVUPD (SI), Y0          // v
	VANDPD  Y15, Y0, Y1       // |bits|
	VPCMPGTQ Y14, Y1, Y2      // keep: |bits| > lo-1
	VPCMPGTQ Y0, Y13, Y3      // sign: 0 > bits (signed)
	VANDPD  Y2, Y0, Y4        // kept value, +0 where dropped
	VANDNPD Y4, Y3, Y5        // positive part: ~sign & d
	VANDPD  Y3, Y4, Y6        // negative part
	VUNPCKLPD Y6, Y5, Y7      // [p0 n0 | p2 n2]
	VUNPCKHPD Y6, Y5, Y8      // [p1 n1 | p3 n3]
	VPERM2F128 $0x20, Y8, Y7, Y9  // [p0 n0 p1 n1]
	VPERM2F128 $0x31, Y8, Y7, Y10 // [p2 n2 p3 n3]
	VMOVUPD (DI), Y11         // split + value, in the Go loop's operand order (NaN payloads)
	VADDPD  Y9, Y11, Y9
	VMOVUPD 32(DI), Y12
	VADDPD  Y10, Y12, Y10
	VMOVUPD Y9, (DI)
	VMOVUPD Y10, 32(DI)

	VANDNPD Y2, Y3, Y5        // kept positive mask: ~sign & keep
	VANDPD  Y3, Y2, Y6        // kept negative mask
	VUNPCKLPD Y6, Y5, Y7
	VUNPCKHPD Y6, Y5, Y8
	VPERM2F128 $0x20, Y8, Y7, Y9  // [kp0 kn0 kp1 kn1] as 64-bit masks
	VPERM2F128 $0x31, Y8, Y7, Y10 // [kp2 kn2 kp3 kn3]
	VSHUFPS $0x88, Y10, Y9, Y11   // low dwords: [kp0 kn0 kp2 kn2 | kp1 kn1 kp3 kn3]
	VPERMQ  $0xd8, Y11, Y11       // [kp0 kn0 kp1 kn1 kp2 kn2 kp3 kn3]
	VMOVDQU (DX), Y12
	VPSUBD  Y11, Y12, Y12         // -(-1) = +1 where kept
	VMOVDQU Y12, (DX)

	ADDQ $32, SI
	ADDQ $64, DI
	ADDQ $32, DX
	SUBQ $4, CX
	JNZ  loop
	VZEROUPPER
	RET

// func tiesAbsKeysAVX(dst *uint32, src *float64, n int)
// n is a positive multiple of 4: dst[j] = float32bits(float32(|src[j]|)) (absKey), by VANDPD and
// VCVTPD2PS: the instructions Go's conversion uses (round to nearest even, NaN quieted), four at
// a time.
TEXT ·tiesAbsKeysAVX(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSD splitAbs<>(SB), Y15

keys:
	VANDPD  (SI), Y15, Y0
	VCVTPD2PSY Y0, X1
	VMOVDQU X1, (DI)
	ADDQ $32, SI
	ADDQ $16, DI
	SUBQ $4, CX
	JNZ  keys
	VZEROUPPER
	RET
