// Pieces shared by the package's AVX loops over stored float16, bfloat16 and float32 values
// (f16c_amd64.s, decsub_amd64.s, subkeys_amd64.s). Each loop ORs into Y7 a test of its
// values for an all-ones exponent (inf or NaN) and returns that OR, nonzero when some value
// was, through RETURN_BAD.

// HALF_TEST_INIT(mask) sets X6 to the 16-bit exponent mask in every lane (0x7c00 for float16,
// 0x7f80 for bfloat16; mask is it twice over, a 32-bit immediate) and clears Y7.
#define HALF_TEST_INIT(mask) \
	MOVL mask, AX \
	VMOVQ AX, X6 \
	VPBROADCASTD X6, X6 \
	VPXOR Y7, Y7, Y7

// HALF_TEST ORs into X7 the lanes of X0's eight 16-bit values whose exponent is all ones.
#define HALF_TEST \
	VPAND   X6, X0, X1 \
	VPCMPEQW X6, X1, X1 \
	VPOR    X1, X7, X7

// WIDEN_PS_PD widens the eight float32 of Y2 to float64, the low four in Y3, the high in Y5
// (exact).
#define WIDEN_PS_PD \
	VCVTPS2PD X2, Y3 \
	VEXTRACTF128 $1, Y2, X4 \
	VCVTPS2PD X4, Y5

// RETURN_BAD stores the OR of Y7's lanes in the result slot and returns.
#define RETURN_BAD(slot) \
	VEXTRACTI128 $1, Y7, X1 \
	VPOR X1, X7, X7 \
	VMOVQ X7, AX \
	VPEXTRQ $1, X7, BX \
	ORQ  BX, AX \
	MOVQ AX, slot \
	VZEROUPPER \
	RET
