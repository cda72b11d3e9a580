#include "textflag.h"

// func dellaOffsetsAVX2(ranks *uint32, n int, ne, center, e float32, off *float64)
// off[j] = float64((float32(ranks[j]+1)/ne - center) * e) for n (a positive multiple of 8)
// ranks, each below 2^31 - 1 (VCVTDQ2PS converts signed int32): eight float32 lanes, each
// operation IEEE single precision as the Go loop's, so the same bits.
TEXT ·dellaOffsetsAVX2(SB), NOSPLIT, $0-40
	MOVQ         ranks+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS ne+16(FP), Y1
	VBROADCASTSS center+20(FP), Y2
	VBROADCASTSS e+24(FP), Y3
	MOVQ         off+32(FP), DI
	VPCMPEQD     Y4, Y4, Y4
	VPSRLD       $31, Y4, Y4 // int32 1

dloop:
	VMOVDQU      (SI), Y0
	VPADDD       Y4, Y0, Y0
	VCVTDQ2PS    Y0, Y0
	VDIVPS       Y1, Y0, Y0 // (rank+1) / ne
	VSUBPS       Y2, Y0, Y0 // - center
	VMULPS       Y3, Y0, Y0 // * e
	VCVTPS2PD    X0, Y5
	VEXTRACTF128 $1, Y0, X6
	VCVTPS2PD    X6, Y6
	VMOVUPD      Y5, (DI)
	VMOVUPD      Y6, 32(DI)
	ADDQ         $32, SI
	ADDQ         $64, DI
	SUBQ         $8, CX
	JNZ          dloop
	VZEROUPPER
	RET

DATA dellaTiny<>+0(SB)/8, $1e-20
GLOBL dellaTiny<>(SB), RODATA|NOPTR, $8
DATA dellaOne<>+0(SB)/8, $1.0
GLOBL dellaOne<>(SB), RODATA|NOPTR, $8

// func dellaFillQAVX2(qs, off *float64, pMin float64, fix bool, n int)
// qs[j] = pMin + off[j] for n (a positive multiple of 4) offsets; with fix, a NaN becomes 1e-20
// and every q is clamped to [1e-20, 1] (the hotfix's clamp(nan_to_num(q, nan=1e-20), 1e-20,
// 1): an infinity lands on a bound as nan_to_num's largest finite value would).
TEXT ·dellaFillQAVX2(SB), NOSPLIT, $0-40
	MOVQ         qs+0(FP), DI
	MOVQ         off+8(FP), SI
	VBROADCASTSD pMin+16(FP), Y1
	MOVBLZX      fix+24(FP), AX
	MOVQ         n+32(FP), CX
	VBROADCASTSD dellaTiny<>(SB), Y2
	VBROADCASTSD dellaOne<>(SB), Y3
	TESTQ        AX, AX
	JNZ          qfix

qadd:
	VADDPD  (SI), Y1, Y0
	VMOVUPD Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $4, CX
	JNZ     qadd
	VZEROUPPER
	RET

qfix:
	VADDPD  (SI), Y1, Y0
	VMAXPD  Y2, Y0, Y0 // max(q, 1e-20); for a NaN q MAXPD gives its second source, 1e-20
	VMINPD  Y3, Y0, Y0
	VMOVUPD   Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $4, CX
	JNZ     qfix
	VZEROUPPER
	RET
