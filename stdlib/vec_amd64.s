#include "textflag.h"

// SCALAR_LOOP(OP, x) is the body of vecScaleAVX2 and vecDivAVX2: out[i] = a[i] OP x (the
// float64 argument x, broadcast) for n a positive multiple of 4, with a as the first source.
// out may be a.
#define SCALAR_LOOP(OP, x) \
	MOVQ out+0(FP), DI \
	MOVQ a+8(FP), SI \
	VBROADCASTSD x+16(FP), Y15 \
	MOVQ n+24(FP), CX \
loop4: \
	VMOVUPD (SI), Y0 \
	OP  Y15, Y0, Y0 \
	VMOVUPD Y0, (DI) \
	ADDQ $32, SI \
	ADDQ $32, DI \
	SUBQ $4, CX \
	JNZ  loop4 \
	VZEROUPPER \
	RET

// MASK_LOOP(Q, QSTEP) is the loop of vecMaskMulAVX2 and vecMaskMulScalarAVX2 (v at SI, u at AX,
// out at DI, n in CX, 1.0 in Y15): out[i] = v[i] * (1 if u[i] < q else +0), q the compare
// operand Q (four probabilities at DX, which moves on by QSTEP, or one broadcast in a
// register with QSTEP $0).
#define MASK_LOOP(Q, QSTEP) \
loop4: \
	VMOVUPD (AX), Y1 \
	VCMPPD  $0x11, Q, Y1, Y1 \
	VANDPD  Y15, Y1, Y1 \
	VMOVUPD (SI), Y0 \
	VMULPD  Y1, Y0, Y0 \
	VMOVUPD Y0, (DI) \
	ADDQ $32, SI \
	ADDQ $32, AX \
	ADDQ QSTEP, DX \
	ADDQ $32, DI \
	SUBQ $4, CX \
	JNZ  loop4 \
	VZEROUPPER \
	RET

// BINOP_LOOP(OP) is the body of vecSubAVX2, vecAddAVX2 and vecMulAVX2: out[i] = a[i] OP b[i]
// for n a positive multiple of 4, with a as the first source, as the Go loop's SUBSD, ADDSD or
// MULSD (a NaN a is the result's NaN, else a NaN b). All of a block's loads come before its
// stores, so out may be a or b.
#define BINOP_LOOP(OP) \
	MOVQ out+0(FP), DI \
	MOVQ a+8(FP), SI \
	MOVQ b+16(FP), DX \
	MOVQ n+24(FP), CX \
	CMPQ CX, $16 \
	JLT  loop4 \
loop16: \
	VMOVUPD (SI), Y0 \
	VMOVUPD 32(SI), Y1 \
	VMOVUPD 64(SI), Y2 \
	VMOVUPD 96(SI), Y3 \
	OP  (DX), Y0, Y0 \
	OP  32(DX), Y1, Y1 \
	OP  64(DX), Y2, Y2 \
	OP  96(DX), Y3, Y3 \
	VMOVUPD Y0, (DI) \
	VMOVUPD Y1, 32(DI) \
	VMOVUPD Y2, 64(DI) \
	VMOVUPD Y3, 96(DI) \
	ADDQ $128, SI \
	ADDQ $128, DX \
	ADDQ $128, DI \
	SUBQ $16, CX \
	CMPQ CX, $16 \
	JGE  loop16 \
	TESTQ CX, CX \
	JZ   done \
loop4: \
	VMOVUPD (SI), Y0 \
	OP  (DX), Y0, Y0 \
	VMOVUPD Y0, (DI) \
	ADDQ $32, SI \
	ADDQ $32, DX \
	ADDQ $32, DI \
	SUBQ $4, CX \
	JNZ  loop4 \
done: \
	VZEROUPPER \
	RET

// func vecSubAVX2(out, a, b *float64, n int)
TEXT ·vecSubAVX2(SB), NOSPLIT, $0-32
	BINOP_LOOP(VSUBPD)

// func vecAddAVX2(out, a, b *float64, n int)
TEXT ·vecAddAVX2(SB), NOSPLIT, $0-32
	BINOP_LOOP(VADDPD)

// func vecMulAVX2(out, a, b *float64, n int)
TEXT ·vecMulAVX2(SB), NOSPLIT, $0-32
	BINOP_LOOP(VMULPD)

// func vecScaleAVX2(out, a *float64, c float64, n int)
// out[i] = a[i] * c by VMULPD (the product is commutative; a NaN a is the result's NaN, as in
// the Go loop when c is not a NaN).
TEXT ·vecScaleAVX2(SB), NOSPLIT, $0-32
	SCALAR_LOOP(VMULPD, c)

// func vecDivAVX2(out, a *float64, d float64, n int)
// out[i] = a[i] / d by VDIVPD, as the Go loop's DIVSD (correctly rounded, the same bits; a NaN
// a is the result's NaN).
TEXT ·vecDivAVX2(SB), NOSPLIT, $0-32
	SCALAR_LOOP(VDIVPD, d)

DATA maskOne<>+0(SB)/8, $0x3ff0000000000000
GLOBL maskOne<>(SB), RODATA|NOPTR, $8

// func vecMaskMulAVX2(out, v, u, q *float64, n int)
// n is a positive multiple of 4: out[i] = v[i] * (1 if u[i] < q[i] else +0), the Go loop's
// v * tiesB2F(u < q): VCMPPD's ordered less-than (false on a NaN, as Go's <), its mask ANDed
// with 1.0, then VMULPD with v as the first source (the other factor is never a NaN). out may
// be v.
TEXT ·vecMaskMulAVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ v+8(FP), SI
	MOVQ u+16(FP), AX
	MOVQ q+24(FP), DX
	MOVQ n+32(FP), CX
	VBROADCASTSD maskOne<>(SB), Y15
	MASK_LOOP((DX), $32)

DATA absMask<>+0(SB)/8, $0x7fffffffffffffff
GLOBL absMask<>(SB), RODATA|NOPTR, $8

// func vecMaskMulScalarAVX2(out, v, u *float64, q float64, n int)
// vecMaskMulAVX2 with one probability q for every element: out[i] = v[i] * (1 if u[i] < q else
// +0). out may be v or u.
TEXT ·vecMaskMulScalarAVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ v+8(FP), SI
	MOVQ u+16(FP), AX
	VBROADCASTSD q+24(FP), Y14
	MOVQ n+32(FP), CX
	VBROADCASTSD maskOne<>(SB), Y15
	MASK_LOOP(Y14, $0)

// func vecAddProdAVX2(d, v *float64, w float64, n int)
// n is a positive multiple of 4: d[j] = (v[j] * w) + d[j], the product rounded on its own
// (VMULPD, v the first source, then VADDPD with the product as the first source: the Go loop
// d[j] += float64(v * w), which no fused multiply-add may contract, compiles to that order, which
// decides the payload when both are NaN; TestVecKernels checks it).
TEXT ·vecAddProdAVX2(SB), NOSPLIT, $0-32
	MOVQ d+0(FP), DI
	MOVQ v+8(FP), SI
	VBROADCASTSD w+16(FP), Y15
	MOVQ n+24(FP), CX

addprod4:
	VMOVUPD (SI), Y0
	VMULPD  Y15, Y0, Y0
	VADDPD  (DI), Y0, Y0
	VMOVUPD Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $4, CX
	JNZ  addprod4
	VZEROUPPER
	RET

// func vecTopKAVX2(out, a *float64, th float64, n int)
// n is a positive multiple of 4: out[i] = a[i] * (1 if |a[i]| >= th else +0), filter_top_k's
// mask product: VCMPPD GE_OQ is Go's >= (false on a NaN), the mask ANDed with 1.0, then VMULPD
// with a as the first source. out may be a.
TEXT ·vecTopKAVX2(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ a+8(FP), SI
	VBROADCASTSD th+16(FP), Y14
	MOVQ n+24(FP), CX
	VBROADCASTSD maskOne<>(SB), Y15
	VBROADCASTSD absMask<>(SB), Y13

topk4:
	VMOVUPD (SI), Y0
	VANDPD  Y13, Y0, Y1
	VCMPPD  $0x1d, Y14, Y1, Y1 // |a| >= th, ordered, quiet (GE_OQ)
	VANDPD  Y15, Y1, Y1
	VMULPD  Y1, Y0, Y0
	VMOVUPD Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $4, CX
	JNZ  topk4
	VZEROUPPER
	RET

// func vecNormProdAVX2(out, x, y *float64, nx, ny float64, n int)
// n is a positive multiple of 4: out[i] = (x[i] / nx) * (y[i] / ny), each operation with the
// Go expression's first source (x[i], y[i], then the first quotient), so the same bits.
TEXT ·vecNormProdAVX2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DX
	VBROADCASTSD nx+24(FP), Y14
	VBROADCASTSD ny+32(FP), Y15
	MOVQ n+40(FP), CX

np4:
	VMOVUPD (SI), Y0
	VDIVPD  Y14, Y0, Y0
	VMOVUPD (DX), Y1
	VDIVPD  Y15, Y1, Y1
	VMULPD  Y1, Y0, Y0
	VMOVUPD Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $4, CX
	JNZ  np4
	VZEROUPPER
	RET

// SIGN4(V, S, T) sets S to the torch sign of the four float64 in V: (V > 0) - (V < 0) as
// 1.0/0.0 each (ordered compares: a NaN's sign is 0, as tiesSign's). Y15 holds 1.0, Y14 zero;
// T is scratch.
#define SIGN4(V, S, T) \
	VCMPPD $0x1e, Y14, V, S \
	VANDPD Y15, S, S \
	VCMPPD $0x11, Y14, V, T \
	VANDPD Y15, T, T \
	VSUBPD T, S, S

// func vecSignVoteAVX2(votes, row *float64, n int)
// n is a positive multiple of 4: votes[j] += sign(row[j]), the sign vote's count in float64
// (exact: a count of at most 2^53).
TEXT ·vecSignVoteAVX2(SB), NOSPLIT, $0-24
	MOVQ votes+0(FP), DI
	MOVQ row+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSD maskOne<>(SB), Y15
	VXORPD Y14, Y14, Y14

vote4:
	VMOVUPD (SI), Y0
	SIGN4(Y0, Y1, Y2)
	VMOVUPD (DI), Y3
	VADDPD  Y1, Y3, Y3
	VMOVUPD Y3, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $4, CX
	JNZ  vote4
	VZEROUPPER
	RET

// func vecAgreeAVX2(row, elected, counts *float64, n int)
// n is a positive multiple of 4: f = 1.0 if sign(row[j]) == elected[j] else +0,
// row[j] = row[j] * f (row the first source), counts[j] = counts[j] + f: tiesFilterVote's
// agreement pass, the Go loop's operations.
TEXT ·vecAgreeAVX2(SB), NOSPLIT, $0-32
	MOVQ row+0(FP), SI
	MOVQ elected+8(FP), DX
	MOVQ counts+16(FP), DI
	MOVQ n+24(FP), CX
	VBROADCASTSD maskOne<>(SB), Y15
	VXORPD Y14, Y14, Y14

agree4:
	VMOVUPD (SI), Y0
	SIGN4(Y0, Y1, Y2)
	VCMPPD  $0x00, (DX), Y1, Y1 // sign == elected (EQ_OQ)
	VANDPD  Y15, Y1, Y1
	VMULPD  Y1, Y0, Y0
	VMOVUPD Y0, (SI)
	VMOVUPD (DI), Y3
	VADDPD  Y1, Y3, Y3
	VMOVUPD Y3, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $4, CX
	JNZ  agree4
	VZEROUPPER
	RET


// func vecFMAAVX2(out, a, b *float64, w float64, n int)
// n is a positive multiple of 4: out[i] = b[i]*w + a[i] rounded once, by VFMADD231PD with the
// operand roles of Go's math.FMA(b[i], w, a[i]) on amd64 (VFMADD231SD: a the destination and
// first source, b the second, w the third), so the same NaN where several are NaN. out may be
// a or b.
TEXT ·vecFMAAVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	VBROADCASTSD w+24(FP), Y15
	MOVQ n+32(FP), CX
	CMPQ CX, $8
	JLT  fma4

fma8:
	VMOVUPD (SI), Y0
	VMOVUPD 32(SI), Y1
	VMOVUPD (DX), Y2
	VMOVUPD 32(DX), Y3
	VFMADD231PD Y15, Y2, Y0 // Y0 = Y2*Y15 + Y0
	VFMADD231PD Y15, Y3, Y1
	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $8, CX
	CMPQ CX, $8
	JGE  fma8
	TESTQ CX, CX
	JZ   fmadone

fma4:
	VMOVUPD (SI), Y0
	VMOVUPD (DX), Y2
	VFMADD231PD Y15, Y2, Y0
	VMOVUPD Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $4, CX
	JNZ  fma4

fmadone:
	VZEROUPPER
	RET

// func vecAccProdAVX2(d, v *float64, w float64, n int)
// n is a positive multiple of 4: d[j] = d[j] + (v[j] * w), the product rounded on its own
// (VMULPD, v the first source) and added with d as the first source, as the cascade sums add a
// row to their accumulators (addRows16AVX): it adds a row scaled by w where those add a row
// vecScale made. Sixteen a step while they last.
TEXT ·vecAccProdAVX2(SB), NOSPLIT, $0-32
	MOVQ d+0(FP), DI
	MOVQ v+8(FP), SI
	VBROADCASTSD w+16(FP), Y15
	MOVQ n+24(FP), CX
	CMPQ CX, $16
	JLT  accprod4

accprod16:
	VMOVUPD (SI), Y0
	VMOVUPD 32(SI), Y1
	VMOVUPD 64(SI), Y2
	VMOVUPD 96(SI), Y3
	VMULPD  Y15, Y0, Y0
	VMULPD  Y15, Y1, Y1
	VMULPD  Y15, Y2, Y2
	VMULPD  Y15, Y3, Y3
	VMOVUPD (DI), Y4
	VMOVUPD 32(DI), Y5
	VMOVUPD 64(DI), Y6
	VMOVUPD 96(DI), Y7
	VADDPD  Y0, Y4, Y4
	VADDPD  Y1, Y5, Y5
	VADDPD  Y2, Y6, Y6
	VADDPD  Y3, Y7, Y7
	VMOVUPD Y4, (DI)
	VMOVUPD Y5, 32(DI)
	VMOVUPD Y6, 64(DI)
	VMOVUPD Y7, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $16, CX
	CMPQ CX, $16
	JGE  accprod16
	TESTQ CX, CX
	JZ   accprodDone

accprod4:
	VMOVUPD (SI), Y0
	VMULPD  Y15, Y0, Y0
	VMOVUPD (DI), Y4
	VADDPD  Y0, Y4, Y4
	VMOVUPD Y4, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $4, CX
	JNZ  accprod4

accprodDone:
	VZEROUPPER
	RET

// func vecUnitAVX2(q *float64, n int) (ok bool)
// ok when every q[j] of n (a positive multiple of 4) is in [0, 1] (a NaN is not).
TEXT ·vecUnitAVX2(SB), NOSPLIT, $0-17
	MOVQ         q+0(FP), SI
	MOVQ         n+8(FP), CX
	VXORPD       Y1, Y1, Y1
	VBROADCASTSD maskOne<>(SB), Y3
	VPCMPEQQ     Y5, Y5, Y5       // the lanes found in range so far

uloop:
	VMOVUPD (SI), Y0
	VCMPPD  $0x1d, Y1, Y0, Y4 // GE_OQ: q >= 0
	VCMPPD  $0x12, Y3, Y0, Y6 // LE_OQ: q <= 1
	VANDPD  Y6, Y4, Y4
	VANDPD  Y4, Y5, Y5
	ADDQ    $32, SI
	SUBQ    $4, CX
	JNZ     uloop
	VMOVMSKPD Y5, AX
	CMPL    AX, $15
	SETEQ   ok+16(FP)
	VZEROUPPER
	RET
