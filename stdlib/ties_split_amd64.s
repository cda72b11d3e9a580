#include "textflag.h"

DATA splitAbs<>+0(SB)/8, $0x7fffffffffffffff
GLOBL splitAbs<>(SB), RODATA|NOPTR, $8
DATA splitOne<>+0(SB)/8, $1
GLOBL splitOne<>(SB), RODATA|NOPTR, $8
DATA splitLow<>+0(SB)/8, $0xffffffff
GLOBL splitLow<>(SB), RODATA|NOPTR, $8

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
	VPBROADCASTQ splitOne<>(SB), Y11 // 1 in each int64
	VPBROADCASTQ splitLow<>(SB), Y12 // 0xffffffff in each int64

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
	VMOVUPD (DI), Y7          // split + value, in the Go loop's operand order (NaN payloads)
	VADDPD  Y9, Y7, Y9
	VMOVUPD 32(DI), Y8
	VADDPD  Y10, Y8, Y10
	VMOVUPD Y9, (DI)
	VMOVUPD Y10, 32(DI)

	// The counts of column j, cnt[2j] (positive) and cnt[2j+1] (negative), are the low and
	// high halves of one little-endian int64: adding 1 or 1<<32 counts one, with no shuffle
	// (a count never exceeds the number of models, so no carry crosses the halves).
	VPAND   Y3, Y12, Y5           // sign & 0xffffffff
	VPADDQ  Y11, Y5, Y5           // 1<<32 where negative, else 1
	VPAND   Y2, Y5, Y5            // 0 where dropped
	VPADDQ  (DX), Y5, Y5
	VMOVDQU Y5, (DX)

	ADDQ $32, SI
	ADDQ $64, DI
	ADDQ $32, DX
	SUBQ $4, CX
	JNZ  loop
	VZEROUPPER
	RET

// func tiesAbsKeysAVX(dst *uint32, src *float64, n int)
// n is a positive multiple of 4: dst[j] = float32bits(float32(|src[j]|)) (absKey), by VANDPD and
// VCVTPD2PS: the instructions Go's conversion uses (round to nearest even, NaN quieted), sixteen
// at a time (four independent conversions per iteration), then four.
TEXT ·tiesAbsKeysAVX(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSD splitAbs<>(SB), Y15
	CMPQ CX, $16
	JLT  keys

keys16:
	VANDPD  (SI), Y15, Y0
	VANDPD  32(SI), Y15, Y1
	VANDPD  64(SI), Y15, Y2
	VANDPD  96(SI), Y15, Y3
	VCVTPD2PSY Y0, X0
	VCVTPD2PSY Y1, X1
	VCVTPD2PSY Y2, X2
	VCVTPD2PSY Y3, X3
	VMOVDQU X0, (DI)
	VMOVDQU X1, 16(DI)
	VMOVDQU X2, 32(DI)
	VMOVDQU X3, 48(DI)
	ADDQ $128, SI
	ADDQ $64, DI
	SUBQ $16, CX
	CMPQ CX, $16
	JGE  keys16
	TESTQ CX, CX
	JZ   keysdone

keys:
	VANDPD  (SI), Y15, Y0
	VCVTPD2PSY Y0, X1
	VMOVDQU X1, (DI)
	ADDQ $32, SI
	ADDQ $16, DI
	SUBQ $4, CX
	JNZ  keys

keysdone:
	VZEROUPPER
	RET

DATA finishOne<>+0(SB)/8, $1.0
GLOBL finishOne<>(SB), RODATA|NOPTR, $8
DATA finishInf<>+0(SB)/8, $0x7ff0000000000000
GLOBL finishInf<>(SB), RODATA|NOPTR, $8
DATA finishIdx<>+0(SB)/4, $0
DATA finishIdx<>+4(SB)/4, $2
DATA finishIdx<>+8(SB)/4, $4
DATA finishIdx<>+12(SB)/4, $6
DATA finishIdx<>+16(SB)/4, $1
DATA finishIdx<>+20(SB)/4, $3
DATA finishIdx<>+24(SB)/4, $5
DATA finishIdx<>+28(SB)/4, $7
GLOBL finishIdx<>(SB), RODATA|NOPTR, $32

// func tiesFinishAVX2(split *float64, all *float64, cnt *int32, out *float64, n int, voteSgn bool) (big bool)
// n is a positive multiple of 4. For each column j < n, tiesElected four columns at a time:
// with p, q = split[2j], split[2j+1] and np, nn = cnt[2j], cnt[2j+1], the elected sign is
// sign(all[j]) (voteSgn: > 0 and < 0 as ordered compares, so a NaN is 0) or sign(np - nn); the
// numerator p, q or +0 and the count np, nn or 0 are selected by the 64-bit masks of the sign
// (no arithmetic on the sums, so a -0 stays -0), and out[j] = num / max(count, 1) by VDIVPD
// (IEEE division, as DIVSD). big reports whether any p or q is a NaN or an infinity: those
// columns' outputs are wrong here and the caller recomputes them.
TEXT ·tiesFinishAVX2(SB), NOSPLIT, $0-49
	MOVQ split+0(FP), SI
	MOVQ all+8(FP), R8
	MOVQ cnt+16(FP), DX
	MOVQ out+24(FP), DI
	MOVQ n+32(FP), CX
	MOVBLZX voteSgn+40(FP), AX
	VBROADCASTSD finishOne<>(SB), Y15
	VBROADCASTSD finishInf<>(SB), Y14
	VMOVDQU finishIdx<>(SB), Y13
	VPXOR Y12, Y12, Y12       // the OR of the big masks
	VPXOR Y11, Y11, Y11       // zero

finish:
	VMOVUPD (SI), Y0          // [p0 q0 p1 q1]
	VMOVUPD 32(SI), Y1        // [p2 q2 p3 q3]
	VANDPD  Y14, Y0, Y2       // exponent all ones: NaN or infinity
	VPCMPEQQ Y14, Y2, Y2
	VPOR    Y2, Y12, Y12
	VANDPD  Y14, Y1, Y3
	VPCMPEQQ Y14, Y3, Y3
	VPOR    Y3, Y12, Y12
	VUNPCKLPD Y1, Y0, Y2      // [p0 p2 | p1 p3]
	VUNPCKHPD Y1, Y0, Y3      // [q0 q2 | q1 q3]
	VPERMPD $0xd8, Y2, Y2     // P = [p0 p1 p2 p3]
	VPERMPD $0xd8, Y3, Y3     // Q = [q0 q1 q2 q3]

	VMOVDQU (DX), Y4          // [np0 nn0 np1 nn1 np2 nn2 np3 nn3]
	VPERMD  Y4, Y13, Y4       // [np0 np1 np2 np3 | nn0 nn1 nn2 nn3]
	VEXTRACTI128 $1, Y4, X5   // NN
	VCVTDQ2PD X4, Y6          // NP as float64 (exact)
	VCVTDQ2PD X5, Y7          // NN as float64

	TESTQ AX, AX
	JNZ   values
	VPSUBD  X5, X4, X8        // np - nn
	VPCMPGTD X11, X8, X9      // > 0
	VPCMPGTD X8, X11, X10     // < 0
	VPMOVSXDQ X9, Y9          // 64-bit masks
	VPMOVSXDQ X10, Y10
	JMP   sel

values:
	VMOVUPD (R8), Y8          // all
	VCMPPD  $0x1e, Y11, Y8, Y9 // all > 0 (GT_OQ)
	VCMPPD  $0x11, Y11, Y8, Y10 // all < 0 (LT_OQ)
	ADDQ    $32, R8

sel:
	VANDPD  Y9, Y2, Y2        // P where +1
	VANDPD  Y10, Y3, Y3       // Q where -1
	VORPD   Y3, Y2, Y2        // the numerator (+0 where 0)
	VANDPD  Y9, Y6, Y6
	VANDPD  Y10, Y7, Y7
	VORPD   Y7, Y6, Y6        // the count (0 where 0)
	VMAXPD  Y15, Y6, Y6       // max(count, 1)
	VDIVPD  Y6, Y2, Y2        // num / den
	VMOVUPD Y2, (DI)

	ADDQ $64, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $4, CX
	JNZ  finish
	VPTEST Y12, Y12
	SETNE big+48(FP)
	VZEROUPPER
	RET


DATA voteMagic<>+0(SB)/8, $0x4330000000000000
GLOBL voteMagic<>(SB), RODATA|NOPTR, $8

// func tiesVoteAVX2(ms **float64, lom1 *int64, r int, out *float64, n int, voteSgn bool) (big bool)
// A whole tile of tiesVoter for fewer models than one cascade level (r < levelStep: the sums
// are plain sums over the models in order, from +0), four columns at a time with the sums in
// registers: for each column j < n (n a positive multiple of 4), over models i = 0..r-1 in
// order with v = ms[i][j] and u its bits, kept when |u| > lom1[i] (signed), P += kept positive
// v, N += kept negative v, A += kept v (+0 for the others), and the kept counts; then
// tiesElected with the sign of A (voteSgn) or of the counts' difference: P, N or +0 over the
// count (at least 1). The additions are tiesSplitPass's (the running sum as first operand),
// so the sums are the tile's. big reports a NaN or an infinity in some P or N: then the
// outputs are not the tile's and the caller computes it the other way.
TEXT ·tiesVoteAVX2(SB), NOSPLIT, $0-49
	MOVQ ms+0(FP), R9
	MOVQ lom1+8(FP), R11
	MOVQ r+16(FP), R8
	MOVQ out+24(FP), DI
	MOVQ n+32(FP), CX
	MOVBLZX voteSgn+40(FP), AX
	VBROADCASTSD splitAbs<>(SB), Y15
	VPXOR Y14, Y14, Y14          // zero
	VBROADCASTSD finishInf<>(SB), Y13
	VPXOR Y12, Y12, Y12          // the OR of the big masks
	XORQ DX, DX                  // the byte offset of column j

cols:
	VXORPD Y7, Y7, Y7            // P
	VXORPD Y8, Y8, Y8            // N
	VPXOR  Y9, Y9, Y9            // positive count
	VPXOR  Y10, Y10, Y10         // negative count
	VXORPD Y11, Y11, Y11         // A
	XORQ BX, BX

models:
	MOVQ (R9)(BX*8), R10
	VMOVUPD (R10)(DX*1), Y0      // v
	VPBROADCASTQ (R11)(BX*8), Y1 // lom1[i]
	VANDPD  Y15, Y0, Y2          // |bits|
	VPCMPGTQ Y1, Y2, Y2          // keep: |bits| > lom1
	VPCMPGTQ Y0, Y14, Y3         // sign: 0 > bits (signed)
	VANDPD  Y2, Y0, Y4           // kept value, +0 where dropped
	VANDNPD Y4, Y3, Y5           // positive part
	VANDPD  Y3, Y4, Y6           // negative part
	VADDPD  Y5, Y7, Y7           // P = P + part
	VADDPD  Y6, Y8, Y8
	VADDPD  Y4, Y11, Y11         // A = A + kept value
	VANDNPD Y2, Y3, Y5           // kept positive mask
	VANDPD  Y3, Y2, Y6           // kept negative mask
	VPSUBQ  Y5, Y9, Y9           // -(-1) = +1 where kept
	VPSUBQ  Y6, Y10, Y10
	INCQ BX
	CMPQ BX, R8
	JLT  models

	VANDPD  Y13, Y7, Y0          // exponent all ones: NaN or infinity
	VPCMPEQQ Y13, Y0, Y0
	VPOR    Y0, Y12, Y12
	VANDPD  Y13, Y8, Y0
	VPCMPEQQ Y13, Y0, Y0
	VPOR    Y0, Y12, Y12

	TESTQ AX, AX
	JNZ   values
	VPSUBQ  Y10, Y9, Y0          // np - nn
	VPCMPGTQ Y14, Y0, Y1         // > 0
	VPCMPGTQ Y0, Y14, Y2         // < 0
	JMP   sel

values:
	VCMPPD  $0x1e, Y14, Y11, Y1  // A > 0 (GT_OQ: false for a NaN)
	VCMPPD  $0x11, Y14, Y11, Y2  // A < 0 (LT_OQ)

sel:
	VANDPD  Y1, Y7, Y7           // P where +1
	VANDPD  Y2, Y8, Y8           // N where -1
	VORPD   Y8, Y7, Y7           // the numerator (+0 where 0)
	VPAND   Y1, Y9, Y9
	VPAND   Y2, Y10, Y10
	VPOR    Y10, Y9, Y9          // the count (0 where 0), below 2^52
	VBROADCASTSD voteMagic<>(SB), Y3
	VPOR    Y3, Y9, Y9           // 2^52 + count, exactly
	VSUBPD  Y3, Y9, Y9           // the count as a float64
	VBROADCASTSD finishOne<>(SB), Y3
	VMAXPD  Y3, Y9, Y9           // max(count, 1)
	VDIVPD  Y9, Y7, Y7
	VMOVUPD Y7, (DI)(DX*1)

	ADDQ $32, DX
	SUBQ $4, CX
	JNZ  cols
	VPTEST Y12, Y12
	SETNE big+48(FP)
	VZEROUPPER
	RET

// VOTE8_INIT sets up an eight-column vote: Y15 the magnitude mask, Y14 zero, Y5 (the OR of
// the big masks) zero, DX (the byte offset of column j in float64s) zero.
#define VOTE8_INIT \
	VBROADCASTSD splitAbs<>(SB), Y15 \
	VPXOR Y14, Y14, Y14 \
	VPXOR Y5, Y5, Y5 \
	XORQ DX, DX

// VOTE8_RET returns whether a big mask was set (Y5) in the result slot.
#define VOTE8_RET(slot) \
	VPTEST Y5, Y5 \
	SETNE slot \
	VZEROUPPER \
	RET

// VOTE8_ZERO clears the eight-column vote's sums and counts: P, N, K, G of columns 0-3 in
// Y6-Y9, of columns 4-7 in Y10-Y13.
#define VOTE8_ZERO \
	VPXOR Y6, Y6, Y6 \
	VPXOR Y7, Y7, Y7 \
	VPXOR Y8, Y8, Y8 \
	VPXOR Y9, Y9, Y9 \
	VPXOR Y10, Y10, Y10 \
	VPXOR Y11, Y11, Y11 \
	VPXOR Y12, Y12, Y12 \
	VPXOR Y13, Y13, Y13

// VOTE8_END writes the eight columns at DX (VOTE8_FINISH of both halves).
#define VOTE8_END \
	VOTE8_FINISH(Y6, Y7, Y8, Y9, (DI)(DX*1)) \
	VOTE8_FINISH(Y10, Y11, Y12, Y13, 32(DI)(DX*1))

// VOTE4_ADD adds one model's four values v (in Y0) to a vote of signs: keep = |bits(v)| > lom1
// (Y1, signed), the kept count K and kept negative count G (the kept value's sign bit, a
// dropped value being +0), and the kept positive and negative parts to P and N (running sum
// first, as tiesSplitPass). Y0, Y2-Y4 are scratch; Y15 is the abs mask, Y14 zero.
#define VOTE4_ADD(P, N, K, G) \
	VANDPD  Y15, Y0, Y2 \
	VPCMPGTQ Y1, Y2, Y2 \
	VPSUBQ  Y2, K, K \
	VANDPD  Y2, Y0, Y4 \
	VPCMPGTQ Y4, Y14, Y3 \
	VPSUBQ  Y3, G, G \
	VANDNPD Y4, Y3, Y0 \
	VANDPD  Y3, Y4, Y4 \
	VADDPD  Y0, P, P \
	VADDPD  Y4, N, N

// VOTE8_FINISH ends four columns of an eight-column vote of signs (tiesVote8AVX2, tiesVote8F16):
// the big check of P and N into Y5, then tiesElected by the sign of np - nn (np = K - G, nn = G)
// written to OUT. Y0-Y3 are scratch; Y14 is zero.
#define VOTE8_FINISH(P, N, K, G, OUT) \
	VBROADCASTSD finishInf<>(SB), Y0 \
	VANDPD  Y0, P, Y2 \
	VPCMPEQQ Y0, Y2, Y2 \
	VPOR    Y2, Y5, Y5 \
	VANDPD  Y0, N, Y2 \
	VPCMPEQQ Y0, Y2, Y2 \
	VPOR    Y2, Y5, Y5 \
	VPSUBQ  G, K, K \
	VPSUBQ  G, K, Y3 \
	VPCMPGTQ Y14, Y3, Y1 \
	VPCMPGTQ Y3, Y14, Y2 \
	VANDPD  Y1, P, P \
	VANDPD  Y2, N, N \
	VORPD   N, P, P \
	VPAND   Y1, K, K \
	VPAND   Y2, G, G \
	VPOR    G, K, K \
	VBROADCASTSD voteMagic<>(SB), Y3 \
	VPOR    Y3, K, K \
	VSUBPD  Y3, K, K \
	VBROADCASTSD finishOne<>(SB), Y3 \
	VMAXPD  Y3, K, K \
	VDIVPD  K, P, P \
	VMOVUPD P, OUT

// func tiesVote8AVX2(ms **float64, lom1 *int64, r int, out *float64, n int) (big bool)
// tiesVoteAVX2 for a vote of signs (voteSgn false), eight columns at a time (n a positive
// multiple of 8): two groups of four columns share each model's pointer and threshold, and
// no sum of all kept values is made. Per group the counts are of the kept deltas and of the
// kept negative ones (np = kept - negative): the kept value's sign bit tells a kept negative
// delta, a dropped one being +0. The sums, counts and outputs are tiesVoteAVX2's.
TEXT ·tiesVote8AVX2(SB), NOSPLIT, $0-41
	MOVQ ms+0(FP), R9
	MOVQ lom1+8(FP), R11
	MOVQ r+16(FP), R8
	MOVQ out+24(FP), DI
	MOVQ n+32(FP), CX
	VOTE8_INIT

cols8:
	VOTE8_ZERO
	XORQ BX, BX

models8:
	MOVQ (R9)(BX*8), R10
	VPBROADCASTQ (R11)(BX*8), Y1 // lom1[i]
	VMOVUPD (R10)(DX*1), Y0
	VOTE4_ADD(Y6, Y7, Y8, Y9)
	VMOVUPD 32(R10)(DX*1), Y0
	VOTE4_ADD(Y10, Y11, Y12, Y13)
	INCQ BX
	CMPQ BX, R8
	JLT  models8

	VOTE8_END

	ADDQ $64, DX
	SUBQ $8, CX
	JNZ  cols8
	VOTE8_RET(big+40(FP))

// func tiesVote8F16(raws **byte, bases **float64, lom1 *int64, r int, out *float64, n int) (big bool)
// tiesVote8AVX2 with each model's values made in the loop from the stored float16 and a float64
// base: v = float64(raw[j]) - base[j] (VCVTPH2PS and VCVTPS2PD are exact; one VSUBPD), which is
// what the VM's fused LOAD and subtract make (num.DecodeSubFast), so the sums and outputs are
// tiesVote8AVX2's on those values. An inf or a NaN among raw or base makes v one, which is kept
// and makes some P or N not finite: big, and the caller votes the tile the other way (which
// also keeps the table's NaN payloads).
TEXT ·tiesVote8F16(SB), NOSPLIT, $0-49
	MOVQ raws+0(FP), R9
	MOVQ bases+8(FP), R12
	MOVQ lom1+16(FP), R11
	MOVQ r+24(FP), R8
	MOVQ out+32(FP), DI
	MOVQ n+40(FP), CX
	VOTE8_INIT
	XORQ SI, SI                  // the byte offset of column j in float16s

colsf16:
	VOTE8_ZERO
	XORQ BX, BX

modelsf16:
	MOVQ (R9)(BX*8), R10
	MOVQ (R12)(BX*8), R13
	VPBROADCASTQ (R11)(BX*8), Y1 // lom1[i]
	VCVTPH2PS (R10)(SI*1), X0      // four float16, widened exactly
	VCVTPS2PD X0, Y0
	VSUBPD  (R13)(DX*1), Y0, Y0     // v = widen(raw) - base
	VOTE4_ADD(Y6, Y7, Y8, Y9)
	VCVTPH2PS 8(R10)(SI*1), X0      // four float16, widened exactly
	VCVTPS2PD X0, Y0
	VSUBPD  32(R13)(DX*1), Y0, Y0     // v = widen(raw) - base
	VOTE4_ADD(Y10, Y11, Y12, Y13)
	INCQ BX
	CMPQ BX, R8
	JLT  modelsf16


	VOTE8_END

	ADDQ $64, DX
	ADDQ $16, SI
	SUBQ $8, CX
	JNZ  colsf16
	VOTE8_RET(big+48(FP))


// RSPLIT_BLOCK splits the eight keys in K (tiesRangeSplitAVX2): the keys >= lo (Y14 = lo - 1)
// counted into Y13, those also <= hi (Y15) moved to the front by tiesCompactPerm (R8) and
// stored at DI, which advances past them. GE and IN are scratch; AX and DX too.
#define RSPLIT_BLOCK(K, GE, IN) \
	VPCMPGTD Y14, K, GE \
	VPSUBD   GE, Y13, Y13 \
	VPCMPGTD Y15, K, IN \
	VPANDN   GE, IN, IN \
	VMOVMSKPS IN, AX \
	POPCNTL  AX, DX \
	SHLQ     $5, AX \
	VMOVDQU  (R8)(AX*1), IN \
	VPERMD   K, IN, K \
	VMOVDQU  K, (DI) \
	LEAQ     (DI)(DX*4), DI

// RSPLIT_INIT sets up a split from lo in AX, hi in BX and n in CX: Y14 = lo - 1 (u > lo - 1 is
// u >= lo; lo = 0 gives -1, below every key), Y15 = hi, Y13 = 0 (per lane, the keys >= lo:
// negated compares summed) and R9 = n (below = n - that count).
#define RSPLIT_INIT \
	DECL  AX \
	VMOVD AX, X14 \
	VPBROADCASTD X14, Y14 \
	VMOVD BX, X15 \
	VPBROADCASTD X15, Y15 \
	VPXOR Y13, Y13, Y13 \
	MOVQ  CX, R9

// RSPLIT_FINISH stores a split's results: below = n (R9) - the sum of Y13's eight lane counts
// of keys >= lo, and m = the keys written from dst (DI - dst, in keys).
#define RSPLIT_FINISH(below, dst, m) \
	VEXTRACTI128 $1, Y13, X0 \
	VPADDD  X0, X13, X13 \
	VPSHUFD $0x4e, X13, X0 \
	VPADDD  X0, X13, X13 \
	VPSHUFD $0xb1, X13, X0 \
	VPADDD  X0, X13, X13 \
	VMOVD   X13, AX \
	SUBQ    AX, R9 \
	MOVQ    R9, below \
	MOVQ    dst, SI \
	SUBQ    SI, DI \
	SHRQ    $2, DI \
	MOVQ    DI, m

// func tiesRangeSplitAVX2(keys *uint32, n int, lo, hi uint32, perm *[256][8]uint32, dst *uint32) (below, m int)
// n is a positive multiple of 8; keys, lo and hi below 2^31. Counts the keys below lo and
// writes those in [lo, hi] to dst, in order; dst must have room for m + 8 keys at every step
// (n + 8 in all). dst may be keys itself (a compaction): each block is loaded before any
// kept key is stored, at or before it.
//
// The keys at or above lo are counted in a vector (below = n - their count), and the inside
// mask is (u >= lo) and not (u > hi): 12 instructions per eight keys where movemasks and
// popcounts of both compares took 16, and two blocks per step halve the loop's own (9.3
// against 15.4 us per 64 Ki keys on BenchmarkTiesRangeSplit, AMD EPYC).
TEXT ·tiesRangeSplitAVX2(SB), NOSPLIT, $0-56
	MOVQ keys+0(FP), SI
	MOVQ n+8(FP), CX
	MOVL lo+16(FP), AX
	MOVL hi+20(FP), BX
	MOVQ perm+24(FP), R8
	MOVQ dst+32(FP), DI
	RSPLIT_INIT
	TESTQ $8, CX
	JZ   rsplit2

	// One block of eight first, so that the rest is pairs.
	VMOVDQU (SI), Y0
	RSPLIT_BLOCK(Y0, Y1, Y2)
	ADDQ $32, SI
	SUBQ $8, CX
	JZ   rdone

rsplit2:
	VMOVDQU (SI), Y0
	VMOVDQU 32(SI), Y4        // both loaded before a store (dst may be keys)
	RSPLIT_BLOCK(Y0, Y1, Y2)
	RSPLIT_BLOCK(Y4, Y5, Y6)
	ADDQ $64, SI
	SUBQ $16, CX
	JNZ  rsplit2

rdone:
	RSPLIT_FINISH(below+40(FP), dst+32(FP), m+48(FP))
	VZEROUPPER
	RET

// RSPLIT_KEYS_F16(off, K) makes the eight magnitude keys of the float16 pairs at off(SI) and
// off(R10) into K (float32bits(|float32(a) - float32(b)|), num.SubAbsKeys's) and keeps their
// maximum in Y12, for the non-finite test.
#define RSPLIT_KEYS_F16(off, K) \
	VCVTPH2PS off(SI), K \
	VCVTPH2PS off(R10), Y3 \
	VSUBPS  Y3, K, K \
	VANDPS  Y11, K, K \
	VPMAXSD K, Y12, Y12

// func tiesSubKeysSplitF16(a, b *byte, n int, lo, hi uint32, perm *[256][8]uint32, dst *uint32) (below, m int, bad bool)
// tiesRangeSplitAVX2 over the magnitude keys of the float16 differences a - b (n a positive
// multiple of 8), made in the loop instead of stored and read back: the keys below lo
// counted, those in [lo, hi] written to dst in order (room for m + 8 at every step). bad
// reports a key past the largest finite float32 (an inf or a NaN among a and b, or a float32
// overflow): then below, m and dst are not to be used.
TEXT ·tiesSubKeysSplitF16(SB), NOSPLIT, $0-65
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), R10
	MOVQ n+16(FP), CX
	MOVL lo+24(FP), AX
	MOVL hi+28(FP), BX
	MOVQ perm+32(FP), R8
	MOVQ dst+40(FP), DI
	RSPLIT_INIT
	MOVL $0x7fffffff, AX
	VMOVD AX, X11
	VPBROADCASTD X11, Y11     // the magnitude mask
	VPXOR Y12, Y12, Y12       // the largest key
	TESTQ $8, CX
	JZ   ksplit2
	RSPLIT_KEYS_F16(0, Y0)
	RSPLIT_BLOCK(Y0, Y1, Y2)
	ADDQ $16, SI
	ADDQ $16, R10
	SUBQ $8, CX
	JZ   kdone

ksplit2:
	// Both streams 2 KiB ahead, as the AVX-512 loop: TIES on scale-4 models with the ties
	// kernels' AVX-512 forms off (a scratch build), 8 interleaved rounds: 2.284 -> 2.071 CPU-s.
	PREFETCHT0 2048(SI)
	PREFETCHT0 2048(R10)
	RSPLIT_KEYS_F16(0, Y0)
	RSPLIT_KEYS_F16(16, Y4)
	RSPLIT_BLOCK(Y0, Y1, Y2)
	RSPLIT_BLOCK(Y4, Y5, Y6)
	ADDQ $32, SI
	ADDQ $32, R10
	SUBQ $16, CX
	JNZ  ksplit2

kdone:
	RSPLIT_FINISH(below+48(FP), dst+40(FP), m+56(FP))
	MOVL $0x7f7fffff, AX
	VMOVD AX, X3
	VPBROADCASTD X3, Y3
	VPCMPGTD Y3, Y12, Y12
	VPTEST Y12, Y12
	SETNE bad+64(FP)
	VZEROUPPER
	RET

// func tiesRunCountsAVX2(keys *uint32, runs, rl int, lim uint32) (sum, sum2 uint64)
// tiesRunCountsLoop for runs runs of rl keys (rl a positive multiple of 8; every key and lim
// below 2^31, so that the signed compare is the unsigned one): per run, c = its keys below
// lim, eight a step; sum = the sum of the c, sum2 = of their squares.
TEXT ·tiesRunCountsAVX2(SB), NOSPLIT, $0-48
	MOVQ         keys+0(FP), SI
	MOVQ         runs+8(FP), CX
	MOVQ         rl+16(FP), R8
	MOVL         lim+24(FP), AX
	VMOVD        AX, X15
	VPBROADCASTD X15, Y15
	XORQ         R10, R10 // sum
	XORQ         R11, R11 // sum2

crun:
	VPXOR Y0, Y0, Y0
	MOVQ  R8, DX

ckey:
	VMOVDQU  (SI), Y1
	VPCMPGTD Y1, Y15, Y1 // lim > key: -1
	VPSUBD   Y1, Y0, Y0
	ADDQ     $32, SI
	SUBQ     $8, DX
	JNZ      ckey

	VEXTRACTI128 $1, Y0, X1
	VPADDD       X1, X0, X0
	VPSHUFD      $0x4e, X0, X1
	VPADDD       X1, X0, X0
	VPSHUFD      $0xb1, X0, X1
	VPADDD       X1, X0, X0
	VMOVD        X0, AX
	ADDQ         AX, R10
	IMULQ        AX, AX
	ADDQ         AX, R11
	DECQ         CX
	JNZ          crun

	MOVQ R10, sum+32(FP)
	MOVQ R11, sum2+40(FP)
	VZEROUPPER
	RET
