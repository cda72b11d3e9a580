//go:build !amd64

package fastblas

// useAsm: the assembly kernel exists for amd64 only.
var useAsm = false

// kernel6x8 runs the micro-kernel on packed panels: see kernel6x8Go.
func kernel6x8(k int, a []float64, astep int, b, c []float64, ldc int, alpha float64, mode int) {
	kernel6x8Go(k, a, astep, b, c, ldc, alpha, mode)
}

const asmAvailable = false

// use512: no AVX-512 kernel here (a variable for the tests).
var use512 = false

const avx512Available = false

func kernel6x16(int, []float64, int, []float64, []float64, []float64, int, float64, int) {
	panic("fastblas: no assembly kernel")
}

func setAsm(bool) {}

func symvRowAsm(*float64, *float64, *float64, int, float64, *[8]float64) {
	panic("fastblas: no assembly kernel")
}

func symv4RowsAsm(*[4]*float64, *float64, *float64, int, *[4]float64, *[4][8]float64) {
	panic("fastblas: no assembly kernel")
}
