package fastblas

import "golang.org/x/sys/cpu"

// useAsm selects the assembly micro-kernel. x/sys/cpu (rather than a bare CPUID) also checks
// that the OS saves the YMM registers (XGETBV), without which AVX would fault.
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// kernel6x8Asm is kernel6x8Go in AVX2+FMA assembly (kernel_amd64.s).
//
//go:noescape
func kernel6x8Asm(k int, a, b, c *float64, ldc int, alpha float64, mode int, astep int)

// kernel6x8 runs the micro-kernel on an A panel whose step p holds its six values at
// a[p*astep:] (astep = 6: packed; a transposed A's row stride: read in place) and a packed B
// panel (k x 8): see kernel6x8Go.
func kernel6x8(k int, a []float64, astep int, b, c []float64, ldc int, alpha float64, mode int) {
	if !useAsm {
		kernel6x8Go(k, a, astep, b, c, ldc, alpha, mode)
		return
	}
	// Bounds the assembly relies on, checked once here.
	_ = a[(k-1)*astep+mr-1]
	_ = b[k*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	kernel6x8Asm(k, &a[0], &b[0], &c[0], ldc, alpha, mode, 8*astep)
}

// kernel6x16AVX512 is kernel6x8 on two B panels at once (columns 0-7 and 8-15 of a 6x16
// tile of C, never raw) with AVX-512 (kernel512_amd64.s): the same bits, twice the columns per
// instruction.
//
//go:noescape
func kernel6x16AVX512(k int, a, b0, b1, c *float64, ldc int, alpha float64, astep, mode int)

// use512 selects kernel6x16AVX512 for pairs of full B panels (where the CPU and the OS have
// AVX-512; setAsm switches it with the AVX2 kernel).
var use512 = useAsm && cpu.X86.HasAVX512F

// kernel6x16 runs kernel6x16AVX512 on a full A panel (steps astep apart, as kernel6x8's), two
// packed B panels b0 and b1 (k x 8 each) and the 6x16 tile of c; k > 0.
func kernel6x16(k int, a []float64, astep int, b0, b1, c []float64, ldc int, alpha float64, mode int) {
	_ = a[(k-1)*astep+mr-1]
	_ = b0[k*nr-1]
	_ = b1[k*nr-1]
	_ = c[(mr-1)*ldc+2*nr-1]
	kernel6x16AVX512(k, &a[0], &b0[0], &b1[0], &c[0], ldc, alpha, 8*astep, mode)
}

// asmAvailable: this machine can run the assembly kernel (tests switch useAsm off and on).
var asmAvailable, avx512Available = useAsm, use512

func setAsm(on bool) { useAsm, use512 = on && asmAvailable, on && avx512Available }

// symvRowAsm is symvRowGo on the first n8 columns (a positive multiple of 8), lanes from 0.
//
//go:noescape
func symvRowAsm(row, x, p *float64, n8 int, xr float64, lanes *[8]float64)

// symv4RowsAsm is symvRowAsm on four rows over their first n8 columns (a positive multiple of
// 8), lanes from 0, p read and written once for the four (rows in order per element).
//
//go:noescape
func symv4RowsAsm(rows *[4]*float64, x, p *float64, n8 int, xr *[4]float64, lanes *[4][8]float64)
