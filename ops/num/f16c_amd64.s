#include "textflag.h"
#include "vec_amd64.h"

// func decodeF16C(dst *float64, src *byte, n int) (bad uint64)
// n is a positive multiple of 8. Widens n float16 values to float64 with VCVTPH2PS and
// VCVTPS2PD (both exact) and returns nonzero when some value has an all-ones exponent
// (inf or NaN), whose bits the caller then takes from the table instead.
TEXT ·decodeF16C(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	HALF_TEST_INIT($0x7c007c00)

loop:
	VMOVDQU (SI), X0
	HALF_TEST
	VCVTPH2PS X0, Y2
	WIDEN_PS_PD
	VMOVUPD Y3, (DI)
	VMOVUPD Y5, 32(DI)
	ADDQ $16, SI
	ADDQ $64, DI
	SUBQ $8, CX
	JNZ  loop
	RETURN_BAD(bad+24(FP))

// func cpuidECX1() uint32
TEXT ·cpuidECX1(SB), NOSPLIT, $0-4
	MOVL $1, AX
	XORL CX, CX
	CPUID
	MOVL CX, ret+0(FP)
	RET

DATA absMask<>+0(SB)/8, $0x7fffffffffffffff
GLOBL absMask<>(SB), RODATA|NOPTR, $8

// func encodeF16C(dst *byte, src *float64, n int, viaF32 bool) (bad uint64)
// n is a positive multiple of 8. Rounds n float64 values to float16: viaF32, to float32 then
// to float16 (each to nearest even, VCVTPD2PS then VCVTPS2PH), as torch's x.float().half();
// otherwise to float32 by round-to-odd (the nearest-even result moved one ulp towards zero
// when it rounded away from zero, and its last bit set when inexact), then to float16 to
// nearest even: with 24 >= 11 + 2 bits that is x rounded once to float16 (Boldo and
// Melquiond, "When double rounding is odd"). Returns nonzero when some value is NaN (the
// hardware's NaN payloads are not the scalar code's), and then dst is not to be used.
TEXT ·encodeF16C(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVBLZX viaF32+24(FP), DX
	VBROADCASTSD absMask<>(SB), Y15
	VPXOR Y14, Y14, Y14 // NaN lanes

loop:
	VMOVUPD (SI), Y0
	VMOVUPD 32(SI), Y8
	VCMPPD $3, Y0, Y0, Y1 // unordered: NaN
	VORPD  Y1, Y14, Y14
	VCMPPD $3, Y8, Y8, Y1
	VORPD  Y1, Y14, Y14
	VCVTPD2PSY Y0, X1
	VCVTPD2PSY Y8, X9
	TESTQ DX, DX
	JNZ  pack

	// round-to-odd fix-up of X1 (from Y0) and X9 (from Y8)
	VCVTPS2PD X1, Y2      // back
	VANDPD  Y15, Y2, Y3    // |back|
	VANDPD  Y15, Y0, Y4    // |x|
	VCMPPD  $0x1e, Y4, Y3, Y5 // |back| > |x| (GT_OQ)
	VCMPPD  $0x0c, Y0, Y2, Y6 // back != x (NEQ_OQ): inexact
	VEXTRACTF128 $1, Y5, X7
	VSHUFPS $0x88, X7, X5, X5  // 64-bit lane masks to 32-bit lanes
	VEXTRACTF128 $1, Y6, X7
	VSHUFPS $0x88, X7, X6, X6
	VPADDD  X5, X1, X1     // -1 where rounded away from zero
	VPSRLD  $31, X6, X6
	VPOR    X6, X1, X1     // last bit set where inexact

	VCVTPS2PD X9, Y2
	VANDPD  Y15, Y2, Y3
	VANDPD  Y15, Y8, Y4
	VCMPPD  $0x1e, Y4, Y3, Y5
	VCMPPD  $0x0c, Y8, Y2, Y6
	VEXTRACTF128 $1, Y5, X7
	VSHUFPS $0x88, X7, X5, X5
	VEXTRACTF128 $1, Y6, X7
	VSHUFPS $0x88, X7, X6, X6
	VPADDD  X5, X9, X9
	VPSRLD  $31, X6, X6
	VPOR    X6, X9, X9

pack:
	VINSERTF128 $1, X9, Y1, Y1
	VCVTPS2PH $0, Y1, X2
	VMOVDQU X2, (DI)
	ADDQ $64, SI
	ADDQ $16, DI
	SUBQ $8, CX
	JNZ  loop

	VEXTRACTF128 $1, Y14, X1
	VORPD X1, X14, X14
	VMOVQ X14, AX
	VPEXTRQ $1, X14, BX
	ORQ  BX, AX
	MOVQ AX, bad+32(FP)
	VZEROUPPER
	RET

DATA f32OneBit<>+0(SB)/4, $1
GLOBL f32OneBit<>(SB), RODATA|NOPTR, $4

// func encodeF16AVX512(dst *byte, src *float64, n int, viaF32 bool) (bad uint64)
// encodeF16C sixteen values a step (n a positive multiple of 16), with AVX-512's embedded
// rounding: round-to-odd to float32 is the conversion toward zero (VCVTPD2PS.RZ_SAE) with the
// last bit set where it was inexact, in place of the AVX2 loop's fix-up of a nearest-even
// conversion. The same bits: a value is rounded to float32 by round-to-odd (or, viaF32, to
// nearest even), then to float16 to nearest even.
TEXT ·encodeF16AVX512(SB), NOSPLIT, $0-40
	MOVQ    dst+0(FP), DI
	MOVQ    src+8(FP), SI
	MOVQ    n+16(FP), CX
	MOVBLZX viaF32+24(FP), DX
	VPBROADCASTD f32OneBit<>(SB), Y15
	KXORW   K7, K7, K7 // NaN lanes
	TESTQ   DX, DX
	JNZ     e512via

e512odd:
	VMOVUPD  (SI), Z0
	VMOVUPD  64(SI), Z1
	VCMPPD   $3, Z0, Z0, K1 // unordered: NaN
	VCMPPD   $3, Z1, Z1, K2
	KORW     K1, K7, K7
	KORW     K2, K7, K7
	VCVTPD2PS.RZ_SAE Z0, Y2
	VCVTPD2PS.RZ_SAE Z1, Y3
	VCVTPS2PD Y2, Z4
	VCVTPS2PD Y3, Z5
	VCMPPD   $0x0c, Z0, Z4, K3 // NEQ_OQ: inexact
	VCMPPD   $0x0c, Z1, Z5, K4
	VPORD    Y15, Y2, K3, Y2   // the last bit set where inexact: round to odd
	VPORD    Y15, Y3, K4, Y3
	VINSERTF64X4 $1, Y3, Z2, Z2
	VCVTPS2PH $0, Z2, Y6
	VMOVDQU  Y6, (DI)
	ADDQ     $128, SI
	ADDQ     $32, DI
	SUBQ     $16, CX
	JNZ      e512odd
	JMP      e512done

e512via:
	VMOVUPD  (SI), Z0
	VMOVUPD  64(SI), Z1
	VCMPPD   $3, Z0, Z0, K1
	VCMPPD   $3, Z1, Z1, K2
	KORW     K1, K7, K7
	KORW     K2, K7, K7
	VCVTPD2PS Z0, Y2
	VCVTPD2PS Z1, Y3
	VINSERTF64X4 $1, Y3, Z2, Z2
	VCVTPS2PH $0, Z2, Y6
	VMOVDQU  Y6, (DI)
	ADDQ     $128, SI
	ADDQ     $32, DI
	SUBQ     $16, CX
	JNZ      e512via

e512done:
	KMOVW    K7, AX
	MOVQ     AX, bad+32(FP)
	VZEROUPPER
	RET
