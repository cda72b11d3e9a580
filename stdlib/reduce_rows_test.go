package stdlib

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAddRows16 compares addRows16 (AVX2 where the CPU has it) with its Go loop bit for bit,
// NaN payloads included, over row counts and strides, and multiRowSum's 16-column path with
// the generic one (colStride 1 taken as a 17-wide view would not be; nrows 16 with a
// stride-1 layout is the only case addRows16 serves).
func TestAddRows16(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 9))
	val := func() float64 {
		switch rnd.IntN(12) {
		case 0:
			return math.Float64frombits(0x7ff8000000000000 | rnd.Uint64()&0xfffffffffffff) // NaN, payload
		case 1:
			return math.Float64frombits(0xfff0000000000001 + rnd.Uint64()&0xffff) // signalling-looking NaN
		case 2:
			return math.Inf(rnd.IntN(2)*2 - 1)
		case 3:
			return math.Copysign(0, -1)
		}
		return rnd.NormFloat64() * math.Ldexp(1, rnd.IntN(40)-20)
	}
	for _, rows := range []int{0, 1, 2, 3, 15, 16, 17, 100} {
		for _, stride := range []int{16, 17, 48} {
			x := make([]float64, 5+rows*stride+16)
			for i := range x {
				x[i] = val()
			}
			var got, want [16]float64
			for k := range got {
				got[k] = val()
				want[k] = got[k]
			}
			addRows16(&got, x, 5, stride, rows)
			addRows16Go(&want, x, 5, stride, rows)
			for k := range got {
				if math.Float64bits(got[k]) != math.Float64bits(want[k]) {
					t.Fatalf("rows %d stride %d lane %d: %x, want %x", rows, stride, k,
						math.Float64bits(got[k]), math.Float64bits(want[k]))
				}
			}
		}
	}
}

// TestMultiRowSum16 checks multiRowSum's 16-column path against the same sums taken one
// column at a time (nrows 1: the generic loop, the same cascade), over sizes that leave
// levels carried and rows over.
func TestMultiRowSum16(t *testing.T) {
	rnd := rand.New(rand.NewPCG(4, 1))
	for _, size := range []int{1, 15, 16, 17, 255, 256, 257, 4100, 70000} {
		const cols = 20
		x := make([]float64, size*cols)
		for i := range x {
			x[i] = rnd.NormFloat64() * math.Ldexp(1, rnd.IntN(60)-30)
		}
		var got [16]float64
		multiRowSum(x, 2, cols, 1, 16, size, got[:])
		for k := range 16 {
			var want [1]float64
			multiRowSum(x, 2+k, cols, 1, 1, size, want[:])
			if math.Float64bits(got[k]) != math.Float64bits(want[0]) {
				t.Fatalf("size %d column %d: %v, want %v", size, k, got[k], want[0])
			}
		}
	}
}

// TestDistsTorch compares the interleaved distances with DistTorch one by one, bit for bit,
// for point counts around the 4-wide groups and non-finite values.
func TestDistsTorch(t *testing.T) {
	rnd := rand.New(rand.NewPCG(8, 8))
	for _, r := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 15, 16, 17} {
		const n = 1001
		pts := make([]float64, r*n)
		for i := range pts {
			pts[i] = rnd.NormFloat64() * math.Ldexp(1, rnd.IntN(80)-40)
		}
		if r > 2 {
			pts[2*n+7] = math.Inf(1)
			pts[n+3] = math.NaN()
		}
		b := make([]float64, n)
		for i := range b {
			b[i] = rnd.NormFloat64()
		}
		p := func(i int) []float64 { return pts[i*n : (i+1)*n] }
		got := make([]float64, r)
		DistsTorch(p, b, got)
		for i := range got {
			if want := DistTorch(p(i), b); math.Float64bits(got[i]) != math.Float64bits(want) {
				t.Fatalf("r %d point %d: %v, want %v", r, i, got[i], want)
			}
		}
	}
}
