#include "textflag.h"
#include "vec_amd64.h"

// The widening of decode*_amd64 fused with one more operation on a float64 operand b:
//
//	decodeSub*: dst[i] = widen(src[i]) - b[i]   (a delta: subtract's LOAD fused)
//	decodeAdd*: dst[i] = widen(src[i]) + b[i]   (n_average's running sum)
//	decodeFMA*: dst[i] = widen(src[i])*c + b[i] (a streamed linear_combination step), one rounding
//
// each element's widening exact and its operation VSUBPD's, VADDPD's or VFMADD231PD's with the
// widened value or b as the Go code's first source. Each returns nonzero when some source
// value is inf or NaN (an all-ones exponent), and then dst is not to be used: the caller widens
// and computes again on the exact scalar path, which keeps NaN payloads as the table gives them.
//
// One loop per source dtype (F16_LOOP, BF16_LOOP, F32_LOOP), each taking the step that
// combines the eight widened values (in Y3 and Y5) with b and stores them: SUB_STORE,
// ADD_STORE or FMA_STORE, each moving the three pointers on.

// OP_STORE applies OP (VSUBPD: Y - b, VADDPD: Y + b) to Y3 and Y5 with eight float64 of b
// (DX), stores them to dst (DI) and moves the three pointers on (src by srcStep bytes).
#define OP_STORE(OP, srcStep) \
	OP  (DX), Y3, Y3 \
	OP  32(DX), Y5, Y5 \
	VMOVUPD Y3, (DI) \
	VMOVUPD Y5, 32(DI) \
	ADDQ srcStep, SI \
	ADDQ $64, DX \
	ADDQ $64, DI \
	SUBQ $8, CX

#define SUB_STORE(srcStep) OP_STORE(VSUBPD, srcStep)
#define ADD_STORE(srcStep) OP_STORE(VADDPD, srcStep)

// FMA_STORE sets Y8, Y9 to Y3*c + b and Y5*c + b (eight float64 of b at DX, c broadcast in Y15;
// VFMADD231PD: b the destination and first source, rounded once), stores them to dst (DI) and
// moves the three pointers on (src by srcStep bytes).
#define FMA_STORE(srcStep) \
	VMOVUPD (DX), Y8 \
	VMOVUPD 32(DX), Y9 \
	VFMADD231PD Y15, Y3, Y8 \
	VFMADD231PD Y15, Y5, Y9 \
	VMOVUPD Y8, (DI) \
	VMOVUPD Y9, 32(DI) \
	ADDQ srcStep, SI \
	ADDQ $64, DX \
	ADDQ $64, DI \
	SUBQ $8, CX

// ARGS loads dst, src, b and n (at nOff) into DI, SI, DX and CX.
#define ARGS(nOff) \
	MOVQ dst+0(FP), DI \
	MOVQ src+8(FP), SI \
	MOVQ b+16(FP), DX \
	MOVQ nOff(FP), CX

// F16_LOOP(STORE) widens eight float16 per step with F16C (n a positive multiple of 8).
#define F16_LOOP(STORE) \
	HALF_TEST_INIT($0x7c007c00) \
loop: \
	VMOVDQU (SI), X0 \
	HALF_TEST \
	VCVTPH2PS X0, Y2 \
	WIDEN_PS_PD \
	STORE($16) \
	JNZ  loop

// BF16_LOOP(STORE): bfloat16 is the top half of a float32: zero-extend, shift.
#define BF16_LOOP(STORE) \
	HALF_TEST_INIT($0x7f807f80) \
loop: \
	VMOVDQU (SI), X0 \
	HALF_TEST \
	VPMOVZXWD X0, Y2 \
	VPSLLD  $16, Y2, Y2 \
	WIDEN_PS_PD \
	STORE($16) \
	JNZ  loop

// F32_LOOP(STORE): eight float32 per step, their exponents tested in 32-bit lanes.
#define F32_LOOP(STORE) \
	MOVL $0x7f800000, AX \
	VMOVQ AX, X6 \
	VPBROADCASTD X6, Y6 \
	VPXOR Y7, Y7, Y7 \
loop: \
	VMOVDQU (SI), Y2 \
	VPAND   Y6, Y2, Y1 \
	VPCMPEQD Y6, Y1, Y1 \
	VPOR    Y1, Y7, Y7 \
	WIDEN_PS_PD \
	STORE($32) \
	JNZ  loop

// func decodeSubF16C(dst *float64, src *byte, b *float64, n int) (bad uint64)
TEXT ·decodeSubF16C(SB), NOSPLIT, $0-40
	ARGS(n+24)
	F16_LOOP(SUB_STORE)
	RETURN_BAD(bad+32(FP))

// func decodeSubBF16(dst *float64, src *byte, b *float64, n int) (bad uint64)
TEXT ·decodeSubBF16(SB), NOSPLIT, $0-40
	ARGS(n+24)
	BF16_LOOP(SUB_STORE)
	RETURN_BAD(bad+32(FP))

// func decodeSubF32(dst *float64, src *byte, b *float64, n int) (bad uint64)
TEXT ·decodeSubF32(SB), NOSPLIT, $0-40
	ARGS(n+24)
	F32_LOOP(SUB_STORE)
	RETURN_BAD(bad+32(FP))

// func decodeAddF16C(dst *float64, src *byte, b *float64, n int) (bad uint64)
// (IEEE addition is commutative, NaN aside: a NaN result means an inf or NaN source, which is
// reported, or a NaN b, whose payload VADDPD keeps as the Go loop b[i] + x does, the widened
// value being a number.)
TEXT ·decodeAddF16C(SB), NOSPLIT, $0-40
	ARGS(n+24)
	F16_LOOP(ADD_STORE)
	RETURN_BAD(bad+32(FP))

// func decodeAddBF16(dst *float64, src *byte, b *float64, n int) (bad uint64)
TEXT ·decodeAddBF16(SB), NOSPLIT, $0-40
	ARGS(n+24)
	BF16_LOOP(ADD_STORE)
	RETURN_BAD(bad+32(FP))

// func decodeAddF32(dst *float64, src *byte, b *float64, n int) (bad uint64)
TEXT ·decodeAddF32(SB), NOSPLIT, $0-40
	ARGS(n+24)
	F32_LOOP(ADD_STORE)
	RETURN_BAD(bad+32(FP))

// func decodeFMAF16C(dst *float64, src *byte, b *float64, c float64, n int) (bad uint64)
TEXT ·decodeFMAF16C(SB), NOSPLIT, $0-48
	ARGS(n+32)
	VBROADCASTSD c+24(FP), Y15
	F16_LOOP(FMA_STORE)
	RETURN_BAD(bad+40(FP))

// func decodeFMABF16(dst *float64, src *byte, b *float64, c float64, n int) (bad uint64)
TEXT ·decodeFMABF16(SB), NOSPLIT, $0-48
	ARGS(n+32)
	VBROADCASTSD c+24(FP), Y15
	BF16_LOOP(FMA_STORE)
	RETURN_BAD(bad+40(FP))

// func decodeFMAF32(dst *float64, src *byte, b *float64, c float64, n int) (bad uint64)
TEXT ·decodeFMAF32(SB), NOSPLIT, $0-48
	ARGS(n+32)
	VBROADCASTSD c+24(FP), Y15
	F32_LOOP(FMA_STORE)
	RETURN_BAD(bad+40(FP))

// The float16 loops sixteen values a step with AVX-512 (n a positive multiple of 16): the
// same widening (VCVTPH2PS to sixteen float32, VCVTPS2PD of each half) and the same operation
// per element, so the same bits as the eight-wide loops; the inf/NaN test as HALF_TEST on all
// sixteen.

// HALF16_TEST_INIT sets Y6 to the float16 exponent mask in all sixteen lanes and clears Y7.
#define HALF16_TEST_INIT \
	MOVL $0x7c007c00, AX \
	VMOVD AX, X6 \
	VPBROADCASTD X6, Y6 \
	VPXOR Y7, Y7, Y7

// F16_LOOP512(STORE) widens sixteen float16 per step into Z3 (the low eight) and Z5.
#define F16_LOOP512(STORE) \
	HALF16_TEST_INIT \
loop512: \
	VMOVDQU (SI), Y0 \
	VPAND   Y6, Y0, Y1 \
	VPCMPEQW Y6, Y1, Y1 \
	VPOR    Y1, Y7, Y7 \
	VCVTPH2PS Y0, Z2 \
	VCVTPS2PD Y2, Z3 \
	VEXTRACTF64X4 $1, Z2, Y4 \
	VCVTPS2PD Y4, Z5 \
	STORE \
	JNZ  loop512

// PLAIN_STORE512 stores Z3 and Z5 to dst and moves src and dst on.
#define PLAIN_STORE512 \
	VMOVUPD Z3, (DI) \
	VMOVUPD Z5, 64(DI) \
	ADDQ $32, SI \
	ADDQ $128, DI \
	SUBQ $16, CX

// OP_STORE512 is OP_STORE for sixteen values.
#define OP_STORE512(OP) \
	OP  (DX), Z3, Z3 \
	OP  64(DX), Z5, Z5 \
	VMOVUPD Z3, (DI) \
	VMOVUPD Z5, 64(DI) \
	ADDQ $32, SI \
	ADDQ $128, DX \
	ADDQ $128, DI \
	SUBQ $16, CX

#define SUB_STORE512 OP_STORE512(VSUBPD)
#define ADD_STORE512 OP_STORE512(VADDPD)

// FMA_STORE512 is FMA_STORE for sixteen values (c broadcast in Z15).
#define FMA_STORE512 \
	VMOVUPD (DX), Z8 \
	VMOVUPD 64(DX), Z9 \
	VFMADD231PD Z15, Z3, Z8 \
	VFMADD231PD Z15, Z5, Z9 \
	VMOVUPD Z8, (DI) \
	VMOVUPD Z9, 64(DI) \
	ADDQ $32, SI \
	ADDQ $128, DX \
	ADDQ $128, DI \
	SUBQ $16, CX

// func decodeF16AVX512(dst *float64, src *byte, n int) (bad uint64)
TEXT ·decodeF16AVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	F16_LOOP512(PLAIN_STORE512)
	RETURN_BAD(bad+24(FP))

// func decodeSubF16AVX512(dst *float64, src *byte, b *float64, n int) (bad uint64)
TEXT ·decodeSubF16AVX512(SB), NOSPLIT, $0-40
	ARGS(n+24)
	F16_LOOP512(SUB_STORE512)
	RETURN_BAD(bad+32(FP))

// func decodeAddF16AVX512(dst *float64, src *byte, b *float64, n int) (bad uint64)
TEXT ·decodeAddF16AVX512(SB), NOSPLIT, $0-40
	ARGS(n+24)
	F16_LOOP512(ADD_STORE512)
	RETURN_BAD(bad+32(FP))

// func decodeFMAF16AVX512(dst *float64, src *byte, b *float64, c float64, n int) (bad uint64)
TEXT ·decodeFMAF16AVX512(SB), NOSPLIT, $0-48
	ARGS(n+32)
	VBROADCASTSD c+24(FP), Z15
	F16_LOOP512(FMA_STORE512)
	RETURN_BAD(bad+40(FP))
