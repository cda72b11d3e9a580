#include "textflag.h"

// ties_sum's float16 loops with AVX-512 (ties_split_amd64.s has their AVX2 forms, which the
// tests hold these to, bit for bit).

// tiesVote8F16 with AVX-512: sixteen columns a step, eight in a register, the keep and sign
// decisions in mask registers. Where the AVX2 loop adds +0 to the sum an element does not go
// to (and counts with compare masks), this one adds and counts only where the masks say; a
// sum started at +0 that only receives values of its own sign is never -0, so adding +0 left
// it unchanged and the sums, counts and outputs are tiesVote8F16's, bit for bit (NaN
// payloads too: every add keeps the running sum as the first operand).

DATA v512Abs<>+0(SB)/8, $0x7fffffffffffffff
GLOBL v512Abs<>(SB), RODATA|NOPTR, $8
DATA v512Inf<>+0(SB)/8, $0x7ff0000000000000
GLOBL v512Inf<>(SB), RODATA|NOPTR, $8
DATA v512Magic<>+0(SB)/8, $0x4330000000000000
GLOBL v512Magic<>(SB), RODATA|NOPTR, $8
DATA v512One<>+0(SB)/8, $1.0
GLOBL v512One<>(SB), RODATA|NOPTR, $8

// V512_ADD adds one model's eight columns, float16 at hoff(R10)(SI*1) minus the float64 base
// at boff(R13)(DX*1), to the vote P, N, K, G (kept positive sum, kept negative sum, kept
// count, kept negative count). Z27 is the model's lom1, Z21 the magnitude mask, Z20 all ones
// (-1), Z26 zero; Z0, Z2, K1-K3 are scratch.
#define V512_ADD(hoff, boff, P, N, K, G) \
	VCVTPH2PS hoff(R10)(SI*1), Y0 \
	VCVTPS2PD Y0, Z0 \
	VSUBPD    boff(R13)(DX*1), Z0, Z0 \
	VPANDQ    Z21, Z0, Z2 \
	VPCMPGTQ  Z27, Z2, K1 \
	VPCMPGTQ  Z0, Z26, K1, K2 \
	KXORW     K1, K2, K3 \
	VPSUBQ    Z20, K, K1, K \
	VPSUBQ    Z20, G, K2, G \
	VADDPD    Z0, P, K3, P \
	VADDPD    Z0, N, K2, N

// V512_FINISH is VOTE8_FINISH on eight columns: the big check of P and N into K7, then the
// elected sum (P where np > nn, N where nn > np, +0 on a tie) over max(its count, 1) to OUT.
// Z28 is the infinity bits, Z29 2^52, Z30 1.0, Z26 zero; Z0-Z3, K1-K3 are scratch.
#define V512_FINISH(P, N, K, G, OUT) \
	VPANDQ    Z28, P, Z2 \
	VPCMPEQQ  Z28, Z2, K1 \
	KORW      K1, K7, K7 \
	VPANDQ    Z28, N, Z2 \
	VPCMPEQQ  Z28, Z2, K1 \
	KORW      K1, K7, K7 \
	VPSUBQ    G, K, K \
	VPSUBQ    G, K, Z3 \
	VPCMPGTQ  Z26, Z3, K2 \
	VPCMPGTQ  Z3, Z26, K3 \
	VMOVAPD.Z P, K2, Z0 \
	VMOVAPD   N, K3, Z0 \
	VMOVDQA64.Z K, K2, Z1 \
	VMOVDQA64 G, K3, Z1 \
	VPORQ     Z29, Z1, Z1 \
	VSUBPD    Z29, Z1, Z1 \
	VMAXPD    Z30, Z1, Z1 \
	VDIVPD    Z1, Z0, Z0 \
	VMOVUPD   Z0, OUT

// func tiesVote16F16AVX512(raws **byte, bases **float64, lom1 *int64, r int, out *float64, n int) (big bool)
// n is a positive multiple of 16.
TEXT ·tiesVote16F16AVX512(SB), NOSPLIT, $0-49
	MOVQ raws+0(FP), R9
	MOVQ bases+8(FP), R12
	MOVQ lom1+16(FP), R11
	MOVQ r+24(FP), R8
	MOVQ out+32(FP), DI
	MOVQ n+40(FP), CX
	VPBROADCASTQ v512Abs<>(SB), Z21
	VPTERNLOGD   $0xff, Z20, Z20, Z20
	VPXORQ       Z26, Z26, Z26
	VPBROADCASTQ v512Inf<>(SB), Z28
	VPBROADCASTQ v512Magic<>(SB), Z29
	VPBROADCASTQ v512One<>(SB), Z30
	KXORW K7, K7, K7
	XORQ  DX, DX                 // the byte offset of column j in float64s
	XORQ  SI, SI                 // and in float16s

cols512:
	VPXORQ Z16, Z16, Z16
	VPXORQ Z17, Z17, Z17
	VPXORQ Z18, Z18, Z18
	VPXORQ Z19, Z19, Z19
	VPXORQ Z22, Z22, Z22
	VPXORQ Z23, Z23, Z23
	VPXORQ Z24, Z24, Z24
	VPXORQ Z25, Z25, Z25
	XORQ   BX, BX

models512:
	MOVQ (R9)(BX*8), R10
	MOVQ (R12)(BX*8), R13
	VPBROADCASTQ (R11)(BX*8), Z27
	V512_ADD(0, 0, Z16, Z17, Z18, Z19)
	V512_ADD(16, 64, Z22, Z23, Z24, Z25)
	INCQ BX
	CMPQ BX, R8
	JLT  models512

	V512_FINISH(Z16, Z17, Z18, Z19, (DI)(DX*1))
	V512_FINISH(Z22, Z23, Z24, Z25, 64(DI)(DX*1))
	ADDQ $128, DX
	ADDQ $32, SI
	SUBQ $16, CX
	JNZ  cols512

	KORTESTW K7, K7
	SETNE    big+48(FP)
	VZEROUPPER
	RET

DATA k512Abs<>+0(SB)/4, $0x7fffffff
GLOBL k512Abs<>(SB), RODATA|NOPTR, $4
DATA k512Max<>+0(SB)/4, $0x7f7fffff
GLOBL k512Max<>(SB), RODATA|NOPTR, $4

// K512_SPLIT makes the sixteen magnitude keys of the float16 pairs at off(SI) and off(R10)
// (float32bits(|float32(a) - float32(b)|), as RSPLIT_KEYS_F16), keeps their maximum in Z12,
// counts those >= lo (Z14 = lo - 1) into Z13's lanes and appends those also <= hi (Z15) to
// DI by a compress. Z0, Z3, K1, K3, AX and DX are scratch; Z20 is all ones (-1).
#define K512_SPLIT(off) \
	VCVTPH2PS   off(SI), Z0 \
	VCVTPH2PS   off(R10), Z3 \
	VSUBPS      Z3, Z0, Z0 \
	VPANDD      Z11, Z0, Z0 \
	VPMAXSD     Z0, Z12, Z12 \
	VPCMPGTD    Z14, Z0, K1 \
	VPSUBD      Z20, Z13, K1, Z13 \
	VPCMPD      $2, Z15, Z0, K1, K3 \
	VPCOMPRESSD Z0, K3, Z3 \
	VMOVDQU32   Z3, (DI) \
	KMOVW       K3, AX \
	POPCNTL     AX, DX \
	LEAQ        (DI)(DX*4), DI

// func tiesSubKeysSplitF16AVX512(a, b *byte, n int, lo, hi uint32, dst *uint32) (below, m int, bad bool)
// tiesSubKeysSplitF16 sixteen keys a step (n a positive multiple of 16; dst with room for
// m + 16 at every step, which n + 8 is): the same keys, counts and kept keys in order.
TEXT ·tiesSubKeysSplitF16AVX512(SB), NOSPLIT, $0-57
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), R10
	MOVQ n+16(FP), CX
	MOVL lo+24(FP), AX
	MOVL hi+28(FP), BX
	MOVQ dst+32(FP), DI
	MOVQ CX, R9
	DECL AX
	VPBROADCASTD AX, Z14         // lo - 1: u > lo - 1 is u >= lo (lo = 0 gives -1)
	VPBROADCASTD BX, Z15
	VPBROADCASTD k512Abs<>(SB), Z11
	VPTERNLOGD   $0xff, Z20, Z20, Z20
	VPXORD       Z12, Z12, Z12   // the largest key
	VPXORD       Z13, Z13, Z13   // per lane, the keys >= lo

k512loop:
	// Each stream 2 KiB ahead (a hint: it never faults). With the inputs mapped
	// (vm/input_map.go) the split is the first pass to read most of a key's bytes, from the
	// page cache's pages rather than a copy just made: TIES on scale-4 models, 8 interleaved
	// rounds, 1.575 -> 1.445 CPU-s (512 B: 1.563, 4 KiB: 1.484; once a line: as this).
	PREFETCHT0 2048(SI)
	PREFETCHT0 2048(R10)
	K512_SPLIT(0)
	ADDQ $32, SI
	ADDQ $32, R10
	SUBQ $16, CX
	JNZ  k512loop

	// below = n - the keys >= lo; m = the keys written.
	VEXTRACTI64X4 $1, Z13, Y0
	VPADDD  Y0, Y13, Y13
	VEXTRACTI128 $1, Y13, X0
	VPADDD  X0, X13, X13
	VPSHUFD $0x4e, X13, X0
	VPADDD  X0, X13, X13
	VPSHUFD $0xb1, X13, X0
	VPADDD  X0, X13, X13
	VMOVD   X13, AX
	SUBQ    AX, R9
	MOVQ    R9, below+40(FP)
	MOVQ    dst+32(FP), SI
	SUBQ    SI, DI
	SHRQ    $2, DI
	MOVQ    DI, m+48(FP)
	VPBROADCASTD k512Max<>(SB), Z3
	VPCMPGTD Z3, Z12, K1
	KORTESTW K1, K1
	SETNE    bad+56(FP)
	VZEROUPPER
	RET

// The integer vote (tiesVote16F16IntAVX512): where a model's float16 values m and the base b
// are multiples of 2^-24 (every float16 is) and |m - b| < 1, the difference is an integer
// times 2^-24 below 2^24 in magnitude: float32 holds it exactly, so does the int32 count of
// 2^-24, and any sum of fewer than 128 of them is exact both as int32 and as float64. The
// float64 vote's sums are then these integers times 2^-24, bit for bit, and the loop takes
// sixteen columns a step in int32 lanes where the float64 one takes eight.

DATA i32Abs<>+0(SB)/4, $0x7fffffff
GLOBL i32Abs<>(SB), RODATA|NOPTR, $4
DATA i32One<>+0(SB)/4, $1
GLOBL i32One<>(SB), RODATA|NOPTR, $4
DATA f32One<>+0(SB)/4, $0x3f800000
GLOBL f32One<>(SB), RODATA|NOPTR, $4
DATA f32Two24<>+0(SB)/4, $0x4b800000
GLOBL f32Two24<>(SB), RODATA|NOPTR, $4
DATA f64Two24<>+0(SB)/8, $0x4170000000000000
GLOBL f64Two24<>(SB), RODATA|NOPTR, $8
DATA f64TwoM24<>+0(SB)/8, $0x3e70000000000000
GLOBL f64TwoM24<>(SB), RODATA|NOPTR, $8

// func tiesBase32AVX512(b *float64, dst *float32, n int) (ok bool)
// dst = float32(b) for n (a positive multiple of 8) values; ok when every b is a float32 and
// an integer times 2^-24 (NaN is not; an infinity passes here and fails the vote's check).
TEXT ·tiesBase32AVX512(SB), NOSPLIT, $0-25
	MOVQ b+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ n+16(FP), CX
	VPBROADCASTQ f64Two24<>(SB), Z5
	KXORW K7, K7, K7              // lanes found not to qualify

b32loop:
	VMOVUPD     (SI), Z0
	VCVTPD2PS   Z0, Y1
	VCVTPS2PD   Y1, Z2
	VCMPPD      $4, Z0, Z2, K1    // NEQ_UQ: not a float32 (or NaN)
	VMULPD      Z5, Z0, Z3
	VRNDSCALEPD $0x0b, Z3, Z4     // truncated to an integer
	VCMPPD      $4, Z3, Z4, K2    // not an integer times 2^-24
	KORW        K1, K7, K7
	KORW        K2, K7, K7
	VMOVUPS     Y1, (DI)
	ADDQ        $64, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JNZ         b32loop

	KORTESTW K7, K7
	SETEQ    ok+24(FP)
	VZEROUPPER
	RET

// func tiesBase16To32AVX512(b *byte, dst *float32, n int)
// dst = float32(b) for n (a positive multiple of 16) float16 values b.
TEXT ·tiesBase16To32AVX512(SB), NOSPLIT, $0-24
	MOVQ b+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ n+16(FP), CX

b16loop:
	VCVTPH2PS (SI), Z0
	VMOVUPS   Z0, (DI)
	ADDQ      $32, SI
	ADDQ      $64, DI
	SUBQ      $16, CX
	JNZ       b16loop

	VZEROUPPER
	RET

// INT16_CONSTS sets the integer votes' constants: Z21 the magnitude mask, Z20 -1, Z26 0, Z28
// 2^24 (float32), Z29 2^-24 (float64), Z30 int32 1, and Z9 (the largest magnitude's bits, for
// the premise check) 0.
#define INT16_CONSTS \
	VPBROADCASTD i32Abs<>(SB), Z21 \
	VPTERNLOGD   $0xff, Z20, Z20, Z20 \
	VPXORD       Z26, Z26, Z26 \
	VPBROADCASTD f32Two24<>(SB), Z28 \
	VPBROADCASTQ f64TwoM24<>(SB), Z29 \
	VPBROADCASTD i32One<>(SB), Z30 \
	VPXORD       Z9, Z9, Z9

// INT16_ZERO clears sixteen columns' vote: the kept deltas' sum P, in 2^-24 (the positive
// ones' at the finish), the kept negative ones' N, the kept count C and kept negative count CN.
#define INT16_ZERO(P, N, C, CN) \
	VPXORD P, P, P \
	VPXORD N, N, N \
	VPXORD C, C, C \
	VPXORD CN, CN, CN

// INT16_FINISH writes sixteen columns of the integer vote: from the kept deltas' sum P and
// the kept negative ones' N (in 2^-24; P becomes the kept positive ones', exactly: the loops
// add each kept delta to P whatever its sign, which saves the mask of the positive ones) and
// the kept and kept negative counts C and CN (C becomes the kept positive count), the elected sum (P where more kept deltas are positive, N where
// more are negative, +0 on a tie) over max(its count, 1), as V512_FINISH, to OUTLO (eight
// columns) and OUTHI (the next eight). Z29 is 2^-24, Z30 int32 1; Z0-Z3, K2, K3 are scratch.
#define INT16_FINISH(P, N, C, CN, OUTLO, OUTHI) \
	INT16_PICK(P, N, C, CN) \
	INT16_MEAN \
	VMOVUPD     Z2, OUTLO \
	INT16_HIGH \
	INT16_MEAN \
	VMOVUPD     Z2, OUTHI

// INT16_FINISH_ADD is INT16_FINISH followed by add_difference(a, out, w) on its sixteen
// columns: each output is FMA(out, w, a) (Z31 is w; a is in Z7 for the first eight columns,
// Z8 for the next eight, loaded by the caller from float64 or widened exactly from float32),
// vecAddScaled's one rounding, while the column is still in a register.
#define INT16_FINISH_ADD(P, N, C, CN, OUTLO, OUTHI) \
	INT16_PICK(P, N, C, CN) \
	INT16_MEAN \
	VFMADD213PD Z7, Z31, Z2 \
	VMOVUPD     Z2, OUTLO \
	INT16_HIGH \
	INT16_MEAN \
	VFMADD213PD Z8, Z31, Z2 \
	VMOVUPD     Z2, OUTHI

// INT16_FINISH32 is INT16_FINISH of thirty-two columns, the sums in Z16-Z19 and Z12-Z15, to
// the float64s at DI + DX; INT16_FINISH32_ADD adds each to the float64 at R14 + DX.
#define INT16_FINISH32 \
	INT16_FINISH(Z16, Z17, Z18, Z19, (DI)(DX*1), 64(DI)(DX*1)) \
	INT16_FINISH(Z12, Z13, Z14, Z15, 128(DI)(DX*1), 192(DI)(DX*1))

#define INT16_FINISH32_ADD \
	VMOVUPD     (R14)(DX*1), Z7 \
	VMOVUPD     64(R14)(DX*1), Z8 \
	INT16_FINISH_ADD(Z16, Z17, Z18, Z19, (DI)(DX*1), 64(DI)(DX*1)) \
	VMOVUPD     128(R14)(DX*1), Z7 \
	VMOVUPD     192(R14)(DX*1), Z8 \
	INT16_FINISH_ADD(Z12, Z13, Z14, Z15, 128(DI)(DX*1), 192(DI)(DX*1))

// INT16_PICK leaves the elected sums in Z0 and their counts, at least 1, in Z1 (int32, sixteen
// columns) for INT16_FINISH.
#define INT16_PICK(P, N, C, CN) \
	VPSUBD      N, P, P \
	VPSUBD      CN, C, C \
	VPCMPGTD    CN, C, K2 \
	VPCMPGTD    C, CN, K3 \
	VMOVDQA32.Z P, K2, Z0 \
	VMOVDQA32   N, K3, Z0 \
	VMOVDQA32.Z C, K2, Z1 \
	VMOVDQA32   CN, K3, Z1 \
	VPMAXSD     Z30, Z1, Z1

// INT16_MEAN is the float64 mean of the low eight columns of Y0 (sums in 2^-24) and Y1
// (counts) in Z2; INT16_HIGH moves the high eight to Y0 and Y1.
#define INT16_MEAN \
	VCVTDQ2PD   Y0, Z2 \
	VMULPD      Z29, Z2, Z2 \
	VCVTDQ2PD   Y1, Z3 \
	VDIVPD      Z3, Z2, Z2

#define INT16_HIGH \
	VEXTRACTI64X4 $1, Z0, Y0 \
	VEXTRACTI64X4 $1, Z1, Y1

// func tiesVote16F16IntAVX512(raws **byte, bases **float32, lom1 *int32, r int, out *float64, n int, add *float64, add32 *float32, w float64) (ok bool)
// tiesVote16F16AVX512's outputs for n (a positive multiple of 16) columns of r < 128 models,
// from float32 bases and float32 thresholds (keep where bits(|d|) > lom1), when ok: every
// |m - b| was below 1 (and no NaN). Otherwise out holds garbage and the caller votes again.
// With add not nil, each output is then FMA(vote, w, add[j]); with add nil and add32 not nil,
// FMA(vote, w, float64(add32[j])) (INT16_FINISH_ADD).
TEXT ·tiesVote16F16IntAVX512(SB), NOSPLIT, $0-73
	MOVQ raws+0(FP), R9
	MOVQ bases+8(FP), R12
	MOVQ lom1+16(FP), R11
	MOVQ r+24(FP), R8
	MOVQ out+32(FP), DI
	MOVQ n+40(FP), CX
	MOVQ add+48(FP), R14 // the addend, float64 (add) or else float32 (add32), or none
	TESTQ R14, R14
	JNZ   addset
	MOVQ  add32+56(FP), R14

addset:
	VBROADCASTSD w+64(FP), Z31
	INT16_CONSTS
	XORQ         DX, DX                // the byte offset of column j in float64s
	XORQ         SI, SI                // in float16s
	XORQ         AX, AX                // in float32s
	CMPQ         CX, $32
	JLT          icols

	// Thirty-two columns a step while they last (two sets of sums, Z16-Z19 and Z12-Z15): the
	// loads, pointer and loop instructions of a model are shared by twice the columns
	// (BenchmarkTiesVoteF16/int, 8 models: 6-8% faster than sixteen a step).
xcols:
	INT16_ZERO(Z16, Z17, Z18, Z19)
	INT16_ZERO(Z12, Z13, Z14, Z15)
	XORQ   BX, BX

xmodels:
	MOVQ         (R9)(BX*8), R10
	MOVQ         (R12)(BX*8), R13
	VPBROADCASTD (R11)(BX*4), Z27
	// A model's stream 1 KiB ahead (a hint: it never faults). The vote reads one 64-byte
	// line of each model a step, eight or more streams at once, from memory: on the scale-4
	// TIES benchmark the kernel's perf samples fell ~10% (15.1-16.1% -> 13.9-14.9% of the
	// run's, 7 runs each); 512 bytes did as well, 2-8 KiB less.
	PREFETCHT0   1024(R10)(SI*1)
	VCVTPH2PS    (R10)(SI*1), Z0
	VCVTPH2PS    32(R10)(SI*1), Z4
	VSUBPS       (R13)(AX*1), Z0, Z0
	VSUBPS       64(R13)(AX*1), Z4, Z4
	VPANDD       Z21, Z0, Z2
	VPANDD       Z21, Z4, Z5
	VPMAXUD      Z2, Z9, Z9
	VPMAXUD      Z5, Z9, Z9
	VPCMPGTD     Z27, Z2, K1
	VPCMPGTD     Z27, Z5, K4
	VPCMPGTD     Z0, Z26, K1, K2
	VPCMPGTD     Z4, Z26, K4, K5
	VPSUBD       Z20, Z18, K1, Z18
	VPSUBD       Z20, Z14, K4, Z14
	VPSUBD       Z20, Z19, K2, Z19
	VPSUBD       Z20, Z15, K5, Z15
	VMULPS       Z28, Z0, Z3
	VMULPS       Z28, Z4, Z6
	VCVTPS2DQ    Z3, Z3
	VCVTPS2DQ    Z6, Z6
	VPADDD       Z3, Z16, K1, Z16
	VPADDD       Z6, Z12, K4, Z12
	VPADDD       Z3, Z17, K2, Z17
	VPADDD       Z6, Z13, K5, Z13
	INCQ         BX
	CMPQ         BX, R8
	JLT          xmodels

	TESTQ       R14, R14
	JNZ         xadd
	INT16_FINISH32
	JMP         xnext

xadd:
	CMPQ        add+48(FP), $0
	JEQ         xadd32
	INT16_FINISH32_ADD
	JMP         xnext

xadd32:
	VCVTPS2PD   (R14)(AX*1), Z7
	VCVTPS2PD   32(R14)(AX*1), Z8
	INT16_FINISH_ADD(Z16, Z17, Z18, Z19, (DI)(DX*1), 64(DI)(DX*1))
	VCVTPS2PD   64(R14)(AX*1), Z7
	VCVTPS2PD   96(R14)(AX*1), Z8
	INT16_FINISH_ADD(Z12, Z13, Z14, Z15, 128(DI)(DX*1), 192(DI)(DX*1))

xnext:
	ADDQ        $256, DX
	ADDQ        $64, SI
	ADDQ        $128, AX
	SUBQ        $32, CX
	CMPQ        CX, $32
	JGE         xcols
	TESTQ       CX, CX
	JZ          idone

icols:
	INT16_ZERO(Z16, Z17, Z18, Z19)
	XORQ   BX, BX

imodels:
	MOVQ         (R9)(BX*8), R10
	MOVQ         (R12)(BX*8), R13
	VPBROADCASTD (R11)(BX*4), Z27
	VCVTPH2PS    (R10)(SI*1), Z0
	VSUBPS       (R13)(AX*1), Z0, Z0
	VPANDD       Z21, Z0, Z2
	VPMAXUD      Z2, Z9, Z9
	VPCMPGTD     Z27, Z2, K1          // kept
	VPCMPGTD     Z0, Z26, K1, K2      // kept, negative (sign bit set: -0 too, as the float64 loop)
	VPSUBD       Z20, Z18, K1, Z18
	VPSUBD       Z20, Z19, K2, Z19
	VMULPS       Z28, Z0, Z3
	VCVTPS2DQ    Z3, Z3
	VPADDD       Z3, Z16, K1, Z16
	VPADDD       Z3, Z17, K2, Z17
	INCQ         BX
	CMPQ         BX, R8
	JLT          imodels

	TESTQ       R14, R14
	JNZ         iadd
	INT16_FINISH(Z16, Z17, Z18, Z19, (DI)(DX*1), 64(DI)(DX*1))
	JMP         inext

iadd:
	CMPQ        add+48(FP), $0
	JEQ         iadd32
	VMOVUPD     (R14)(DX*1), Z7
	VMOVUPD     64(R14)(DX*1), Z8
	JMP         iaddz

iadd32:
	VCVTPS2PD   (R14)(AX*1), Z7
	VCVTPS2PD   32(R14)(AX*1), Z8

iaddz:
	INT16_FINISH_ADD(Z16, Z17, Z18, Z19, (DI)(DX*1), 64(DI)(DX*1))

inext:
	ADDQ        $128, DX
	ADDQ        $32, SI
	ADDQ        $64, AX
	SUBQ        $16, CX
	JNZ         icols

idone:
	VPBROADCASTD f32One<>(SB), Z0
	VPCMPUD      $1, Z0, Z9, K1 // bits(|d|) < bits(1.0)
	KORTESTW     K1, K1
	SETCS        ok+72(FP)
	VZEROUPPER
	RET

// The integer vote over one shared float16 base (tiesVote16F16IntSharedAVX512): where every
// model's delta is from the same stored float16 base b, the base is widened in registers,
// once per 32 columns for all the models, as B = float32(b) * 2^24 (exact), and each model's
// scaled difference D = float32(m) * 2^24 - B is one FMA: (m - b) * 2^24 exactly, an
// integer below 2^24 in magnitude where |m - b| < 1 (one rounding of an exact integer). Its
// int32 conversion is tiesVote16F16IntAVX512's, its sign the difference's (zeros included:
// an FMA's exact zero takes the sign x - y does), and bits(|D|) = bits(|m - b|) + 24<<23
// for every nonzero |m - b| of the integer vote's (normal float32 either way), so the
// thresholds come scaled (tiesLom1Scaled) and the keep decisions, sums, counts and outputs
// are tiesVote16F16IntAVX512's, bit for bit. The premise check is bits(|D|) < bits(2^24).
// It takes the base's float32 widening pass (tiesBase16To32AVX512) and the vote's VMULPS away.

// VSHARED_ADD adds the sixteen columns of the model at R10 (float16 at OFF(R10)(SI*1)) over the
// scaled base BASE to the vote P, N, C, CN, as imodels does: Z27 is the model's scaled lom1.
#define VSHARED_ADD(OFF, BASE, P, N, C, CN, T0, T2, KK, KN) \
	VCVTPH2PS    OFF(R10)(SI*1), T0 \
	VFMSUB213PS  BASE, Z28, T0 \
	VPANDD       Z21, T0, T2 \
	VPMAXUD      T2, Z9, Z9 \
	VPCMPGTD     Z27, T2, KK \
	VPCMPGTD     T0, Z26, KK, KN \
	VPSUBD       Z20, C, KK, C \
	VPSUBD       Z20, CN, KN, CN \
	VCVTPS2DQ    T0, T0 \
	VPADDD       T0, P, KK, P \
	VPADDD       T0, N, KN, N

// SHARED_BASE_F64 sets Z7 and Z8 to the float64 base of the sixteen columns whose scaled
// float32 base is in BASE (BASEY its low half): B * 2^-24, exact, the addend of
// INT16_FINISH_ADD.
#define SHARED_BASE_F64(BASEY, BASE) \
	VCVTPS2PD      BASEY, Z7 \
	VMULPD         Z29, Z7, Z7 \
	VEXTRACTF32X8  $1, BASE, Y8 \
	VCVTPS2PD      Y8, Z8 \
	VMULPD         Z29, Z8, Z8

// func tiesVote16F16IntSharedAVX512(raws **byte, base *byte, lom1s *int32, r int, out *float64, n int, add *float64, addBase bool, w float64) (ok bool)
// tiesVote16F16IntAVX512 over the float16 base at base, shared by the r < 128 models, with
// the scaled thresholds lom1s (see above): with add not nil each output is FMA(vote, w,
// add[j]); with addBase, FMA(vote, w, float64(b[j])). n is a positive multiple of 16.
TEXT ·tiesVote16F16IntSharedAVX512(SB), NOSPLIT, $0-73
	MOVQ raws+0(FP), R9
	MOVQ base+8(FP), R12
	MOVQ lom1s+16(FP), R11
	MOVQ r+24(FP), R8
	MOVQ out+32(FP), DI
	MOVQ n+40(FP), CX
	MOVQ add+48(FP), R14
	MOVBQZX addBase+56(FP), R15
	VBROADCASTSD w+64(FP), Z31
	INT16_CONSTS
	XORQ         DX, DX                // the byte offset of column j in float64s
	XORQ         SI, SI                // in float16s
	CMPQ         CX, $32
	JLT          scols

scols32:
	VCVTPH2PS (R12)(SI*1), Z22
	VCVTPH2PS 32(R12)(SI*1), Z23
	VMULPS    Z28, Z22, Z22
	VMULPS    Z28, Z23, Z23
	INT16_ZERO(Z16, Z17, Z18, Z19)
	INT16_ZERO(Z12, Z13, Z14, Z15)
	XORQ   BX, BX

smodels32:
	MOVQ         (R9)(BX*8), R10
	VPBROADCASTD (R11)(BX*4), Z27
	PREFETCHT0   1024(R10)(SI*1) // as tiesVote16F16IntAVX512's
	VSHARED_ADD(0, Z22, Z16, Z17, Z18, Z19, Z0, Z2, K1, K2)
	VSHARED_ADD(32, Z23, Z12, Z13, Z14, Z15, Z4, Z5, K4, K5)
	INCQ         BX
	CMPQ         BX, R8
	JLT          smodels32

	TESTQ       R14, R14
	JNZ         sadd32
	TESTQ       R15, R15
	JNZ         sbase32
	INT16_FINISH32
	JMP         snext32

sadd32:
	INT16_FINISH32_ADD
	JMP         snext32

sbase32:
	SHARED_BASE_F64(Y22, Z22)
	INT16_FINISH_ADD(Z16, Z17, Z18, Z19, (DI)(DX*1), 64(DI)(DX*1))
	SHARED_BASE_F64(Y23, Z23)
	INT16_FINISH_ADD(Z12, Z13, Z14, Z15, 128(DI)(DX*1), 192(DI)(DX*1))

snext32:
	ADDQ        $256, DX
	ADDQ        $64, SI
	SUBQ        $32, CX
	CMPQ        CX, $32
	JGE         scols32
	TESTQ       CX, CX
	JZ          sdone

scols:
	VCVTPH2PS (R12)(SI*1), Z22
	VMULPS    Z28, Z22, Z22
	INT16_ZERO(Z16, Z17, Z18, Z19)
	XORQ   BX, BX

smodels:
	MOVQ         (R9)(BX*8), R10
	VPBROADCASTD (R11)(BX*4), Z27
	VSHARED_ADD(0, Z22, Z16, Z17, Z18, Z19, Z0, Z2, K1, K2)
	INCQ         BX
	CMPQ         BX, R8
	JLT          smodels

	TESTQ       R14, R14
	JNZ         sadd
	TESTQ       R15, R15
	JNZ         sbase
	INT16_FINISH(Z16, Z17, Z18, Z19, (DI)(DX*1), 64(DI)(DX*1))
	JMP         snext

sadd:
	VMOVUPD     (R14)(DX*1), Z7
	VMOVUPD     64(R14)(DX*1), Z8
	INT16_FINISH_ADD(Z16, Z17, Z18, Z19, (DI)(DX*1), 64(DI)(DX*1))
	JMP         snext

sbase:
	SHARED_BASE_F64(Y22, Z22)
	INT16_FINISH_ADD(Z16, Z17, Z18, Z19, (DI)(DX*1), 64(DI)(DX*1))

snext:
	ADDQ        $128, DX
	ADDQ        $32, SI
	SUBQ        $16, CX
	JNZ         scols

sdone:
	VPBROADCASTD f32Two24<>(SB), Z0
	VPCMPUD      $1, Z0, Z9, K1 // bits(|D|) < bits(2^24)
	KORTESTW     K1, K1
	SETCS        ok+72(FP)
	VZEROUPPER
	RET
