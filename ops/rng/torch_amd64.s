#include "textflag.h"

// AVX2 kernels of the torch generator (torch_amd64.go): the same integer operations as the Go
// code, eight 32-bit lanes at a time, hence the same words and draws (TestTorchVector).

DATA temperB<>+0(SB)/4, $0x9d2c5680
GLOBL temperB<>(SB), RODATA|NOPTR, $4
DATA temperC<>+0(SB)/4, $0xefc60000
GLOBL temperC<>(SB), RODATA|NOPTR, $4
DATA mask53<>+0(SB)/8, $0x001fffffffffffff
GLOBL mask53<>(SB), RODATA|NOPTR, $8
DATA mask32<>+0(SB)/8, $0x00000000ffffffff
GLOBL mask32<>(SB), RODATA|NOPTR, $8
DATA two52<>+0(SB)/8, $0x4330000000000000
GLOBL two52<>(SB), RODATA|NOPTR, $8
DATA two32<>+0(SB)/8, $0x41f0000000000000
GLOBL two32<>(SB), RODATA|NOPTR, $8
DATA twoM53<>+0(SB)/8, $0x3ca0000000000000
GLOBL twoM53<>(SB), RODATA|NOPTR, $8
DATA mask24<>+0(SB)/4, $0x00ffffff
GLOBL mask24<>(SB), RODATA|NOPTR, $4
DATA twoM24<>+0(SB)/8, $0x3e70000000000000
GLOBL twoM24<>(SB), RODATA|NOPTR, $8
DATA mtUpper<>+0(SB)/4, $0x80000000
GLOBL mtUpper<>(SB), RODATA|NOPTR, $4
DATA mtLower<>+0(SB)/4, $0x7fffffff
GLOBL mtLower<>(SB), RODATA|NOPTR, $4
DATA mtOne<>+0(SB)/4, $1
GLOBL mtOne<>(SB), RODATA|NOPTR, $4
DATA mtA<>+0(SB)/4, $0x9908b0df
GLOBL mtA<>(SB), RODATA|NOPTR, $4

// TEMPER_INIT loads MT19937's tempering masks into Y10 and Y11; TEMPER8 tempers the eight
// words in Y0 (y ^= y>>11; y ^= y<<7 & B; y ^= y<<15 & C; y ^= y>>18), Y1 scratch.
#define TEMPER_INIT \
	VPBROADCASTD temperB<>(SB), Y10 \
	VPBROADCASTD temperC<>(SB), Y11

#define TEMPER8 \
	VPSRLD  $11, Y0, Y1 \
	VPXOR   Y1, Y0, Y0 \
	VPSLLD  $7, Y0, Y1 \
	VPAND   Y10, Y1, Y1 \
	VPXOR   Y1, Y0, Y0 \
	VPSLLD  $15, Y0, Y1 \
	VPAND   Y11, Y1, Y1 \
	VPXOR   Y1, Y0, Y0 \
	VPSRLD  $18, Y0, Y1 \
	VPXOR   Y1, Y0, Y0

// func float64sAVX2(dst *float64, words *uint32, m int)
// m is a positive multiple of 4: dst[k] = float64((temper(w[2k])<<32 | temper(w[2k+1])) &
// (2^53-1)) * 2^-53. The 53-bit integer x is converted exactly as its high 21 and low 32 bits,
// each OR-ed into 2^52's mantissa and 2^52 subtracted, then hi * 2^32 + lo (exact: x < 2^53).
TEXT ·float64sAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ words+8(FP), SI
	MOVQ m+16(FP), CX
	TEMPER_INIT
	VPBROADCASTQ mask53<>(SB), Y12
	VPBROADCASTQ mask32<>(SB), Y13
	VPBROADCASTQ two52<>(SB), Y14
	VPBROADCASTQ two32<>(SB), Y15
	VPBROADCASTQ twoM53<>(SB), Y9

f64loop:
	VMOVDQU (SI), Y0
	TEMPER8
	VPSHUFD $0xb1, Y0, Y0     // each quadword: first word high, second low
	VPAND   Y12, Y0, Y0       // 53 bits
	VPAND   Y13, Y0, Y1       // low 32 bits
	VPSRLQ  $32, Y0, Y2       // high 21 bits
	VPOR    Y14, Y1, Y1
	VSUBPD  Y14, Y1, Y1
	VPOR    Y14, Y2, Y2
	VSUBPD  Y14, Y2, Y2
	VMULPD  Y15, Y2, Y2
	VADDPD  Y1, Y2, Y2
	VMULPD  Y9, Y2, Y2
	VMOVUPD Y2, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $4, CX
	JNZ  f64loop
	VZEROUPPER
	RET

// func float32sAVX2(dst *float64, words *uint32, m int)
// m is a positive multiple of 8: dst[k] = float64(temper(w[k]) & (2^24-1)) * 2^-24 (torch's
// float32 uniform, widened exactly): the 24-bit integers convert exactly from int32 lanes.
TEXT ·float32sAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ words+8(FP), SI
	MOVQ m+16(FP), CX
	TEMPER_INIT
	VPBROADCASTD mask24<>(SB), Y12
	VBROADCASTSD twoM24<>(SB), Y9

f32loop:
	VMOVDQU (SI), Y0
	TEMPER8
	VPAND   Y12, Y0, Y0       // 24 bits
	VCVTDQ2PD X0, Y2
	VEXTRACTI128 $1, Y0, X3
	VCVTDQ2PD X3, Y3
	VMULPD  Y9, Y2, Y2
	VMULPD  Y9, Y3, Y3
	VMOVUPD Y2, (DI)
	VMOVUPD Y3, 32(DI)
	ADDQ $32, SI
	ADDQ $64, DI
	SUBQ $8, CX
	JNZ  f32loop
	VZEROUPPER
	RET

// MT_INIT loads the twist's constants: Y10 upper mask, Y11 lower mask, Y12 one, Y13 matrix A,
// Y14 zero.
#define MT_INIT \
	VPBROADCASTD mtUpper<>(SB), Y10 \
	VPBROADCASTD mtLower<>(SB), Y11 \
	VPBROADCASTD mtOne<>(SB), Y12 \
	VPBROADCASTD mtA<>(SB), Y13 \
	VPXOR Y14, Y14, Y14

// MT_MIX sets Y0 = W ^ mix(U, V) for eight lanes: y = U&upper | V&lower, y>>1 ^ (-(V&1) & A).
// U at u(SI), V at u+4(SI), W at w(SI); Y1-Y3 scratch.
#define MT_MIX(u, w) \
	VMOVDQU u(SI), Y0 \
	VMOVDQU u+4(SI), Y1 \
	VPAND   Y10, Y0, Y0 \
	VPAND   Y11, Y1, Y2 \
	VPOR    Y2, Y0, Y0 \
	VPSRLD  $1, Y0, Y0 \
	VPAND   Y12, Y1, Y3 \
	VPSUBD  Y3, Y14, Y3 \
	VPAND   Y13, Y3, Y3 \
	VPXOR   Y3, Y0, Y0 \
	VMOVDQU w(SI), Y1 \
	VPXOR   Y1, Y0, Y0

// func twistLowAVX2(s *[624]uint32)
// The twist's first loop for i in [0, 224): s[i] = s[i+397] ^ mix(s[i], s[i+1]), eight words at
// a time. Each block reads s[i+1..i+8] and s[i+397..i+404] before any of them is rewritten
// (the blocks go up, and i+404 <= 620).
TEXT ·twistLowAVX2(SB), NOSPLIT, $0-8
	MOVQ s+0(FP), SI
	MT_INIT
	MOVQ $28, CX

low8:
	MT_MIX(0, 1588)           // 397 words = 1588 bytes on
	VMOVDQU Y0, (SI)
	ADDQ $32, SI
	DECQ CX
	JNZ  low8
	VZEROUPPER
	RET

// func twistHighAVX2(s *[624]uint32)
// The twist's second loop for i in [227, 619): s[i] = s[i-227] ^ mix(s[i], s[i+1]). s[i-227..
// i-220] were rewritten before the block (by the first loop, its scalar tail, or the block
// before), as the word-by-word loop has them; s[i+1..i+8] not yet (i+8 <= 626 is past the
// loop's end only for the scalar tail).
TEXT ·twistHighAVX2(SB), NOSPLIT, $0-8
	MOVQ s+0(FP), SI
	ADDQ $908, SI             // &s[227]
	MT_INIT
	MOVQ $49, CX

high8:
	MT_MIX(0, -908)           // 227 words = 908 bytes back
	VMOVDQU Y0, (SI)
	ADDQ $32, SI
	DECQ CX
	JNZ  high8
	VZEROUPPER
	RET

// func cpuid(leaf, sub uint32) (a, b, c, d uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL leaf+0(FP), AX
	MOVL sub+4(FP), CX
	CPUID
	MOVL AX, a+8(FP)
	MOVL BX, b+12(FP)
	MOVL CX, c+16(FP)
	MOVL DX, d+20(FP)
	RET

// func xgetbv0() uint32
TEXT ·xgetbv0(SB), NOSPLIT, $0-4
	MOVL $0, CX
	XGETBV
	MOVL AX, ret+0(FP)
	RET
