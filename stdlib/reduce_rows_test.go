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

// multiRowSumLevels is multiRowSum as ATen writes it, every level kept and added at the end
// whatever the size: the reference of its short-row path.
func multiRowSumLevels(x []float64, off, rowStride, colStride, nrows, size int, out []float64) {
	var acc [reduceLevels][16]float64
	levelPower := max(4, ceilLog2(size)/reduceLevels)
	levelStep := 1 << levelPower
	levelMask := levelStep - 1
	i := 0
	for i+levelStep <= size {
		for j := 0; j < levelStep; j, i = j+1, i+1 {
			for k := 0; k < nrows; k++ {
				acc[0][k] += x[off+i*rowStride+k*colStride]
			}
		}
		for j := 1; j < reduceLevels; j++ {
			for k := 0; k < nrows; k++ {
				acc[j][k] += acc[j-1][k]
				acc[j-1][k] = 0
			}
			if i&(levelMask<<(j*levelPower)) != 0 {
				break
			}
		}
	}
	for ; i < size; i++ {
		for k := 0; k < nrows; k++ {
			acc[0][k] += x[off+i*rowStride+k*colStride]
		}
	}
	for j := 1; j < reduceLevels; j++ {
		for k := 0; k < nrows; k++ {
			acc[0][k] += acc[j][k]
		}
	}
	copy(out[:nrows], acc[0][:nrows])
}

// TestMultiRowSumLevels: multiRowSum, with its short-row path and its AVX rows, gives the bits
// of ATen's loop with every level, for sizes around the level steps, 1 and 16 columns, and
// values with signed zeros, infinities and NaNs.
func TestMultiRowSumLevels(t *testing.T) {
	rnd := rand.New(rand.NewPCG(8, 9))
	special := []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.Float64frombits(0x7ff8000000000123)}
	for _, size := range []int{0, 1, 2, 3, 15, 16, 17, 31, 255, 256, 257, 1000, 4100} {
		for _, nrows := range []int{1, 3, 16} {
			for trial := range 4 {
				x := make([]float64, size*20+20)
				for i := range x {
					switch {
					case trial == 3 && rnd.IntN(4) == 0:
						x[i] = special[rnd.IntN(len(special))]
					case trial == 2:
						x[i] = math.Copysign(0, -1)
					default:
						x[i] = rnd.NormFloat64() * math.Ldexp(1, rnd.IntN(40)-20)
					}
				}
				var got, want [16]float64
				multiRowSum(x, 1, 20, 1, nrows, size, got[:])
				multiRowSumLevels(x, 1, 20, 1, nrows, size, want[:])
				for k := range nrows {
					if math.IsNaN(got[k]) && math.IsNaN(want[k]) {
						continue // which of two NaNs survives is not specified (TestSumTorchShort)
					}
					if math.Float64bits(got[k]) != math.Float64bits(want[k]) {
						t.Fatalf("size %d rows %d trial %d [%d]: %x, want %x", size, nrows, trial, k, math.Float64bits(got[k]), math.Float64bits(want[k]))
					}
				}
			}
		}
	}
}

// sumTorchLanes is SumTorch without its short-run path: the reference of that path.
func sumTorchLanes(x []float64) float64 {
	n := len(x)
	vecSize := n / 4
	var lanes [16]float64
	ilp := vecSize / 4
	multiRowSumLevels(x, 0, 16, 1, 16, ilp, lanes[:])
	for v := ilp * 4; v < vecSize; v++ {
		for l := 0; l < 4; l++ {
			lanes[l] += x[4*v+l]
		}
	}
	for k := 1; k < 4; k++ {
		for l := 0; l < 4; l++ {
			lanes[l] += lanes[4*k+l]
		}
	}
	acc := 0.0
	for i := vecSize * 4; i < n; i++ {
		acc += x[i]
	}
	for l := 0; l < 4; l++ {
		acc += lanes[l]
	}
	return acc
}

// TestSumTorchShort: SumTorch's short-run path (fewer than 16 values) and its long one give
// the bits of the lane-by-lane reference, with signed zeros and infinities; a NaN result is a
// NaN. (Which payload survives an addition of two NaNs is the first operand's on x86, and Go
// orders the operands of a commutative addition as its compiler likes: not specified.)
func TestSumTorchShort(t *testing.T) {
	rnd := rand.New(rand.NewPCG(10, 11))
	special := []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.Float64frombits(0x7ff8000000000123),
		math.Float64frombits(0xfff8000000000456)}
	for n := range 70 {
		for trial := range 50 {
			x := make([]float64, n)
			for i := range x {
				if trial%3 == 0 && rnd.IntN(3) == 0 {
					x[i] = special[rnd.IntN(len(special))]
				} else if trial%3 == 1 {
					x[i] = math.Copysign(0, -1)
				} else {
					x[i] = rnd.NormFloat64() * math.Ldexp(1, rnd.IntN(80)-40)
				}
			}
			got, want := SumTorch(x), sumTorchLanes(x)
			if math.IsNaN(want) && math.IsNaN(got) {
				continue
			}
			if math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("n %d trial %d: %x, want %x", n, trial, math.Float64bits(got), math.Float64bits(want))
			}
		}
	}
}

// TestDistChainsVector: DistChains (16, 8 or 4 points a call with AVX2 where it runs)
// continues every chain as the Go loop does, bit for bit: point counts around 4, 8, 16 and their multiples, element
// counts around the kernel's 4, NaNs with payloads in points, b and the carried sums (which
// NaN wins shows), ±Inf, ±0 and subnormals, and points longer than b.
func TestDistChainsVector(t *testing.T) {
	rnd := rand.New(rand.NewPCG(81, 82))
	special := []float64{0, math.Copysign(0, -1), math.NaN(), math.Float64frombits(0xfff8000000000123),
		math.Float64frombits(0x7ff8000000000456), math.Inf(1), math.Inf(-1), 5e-324, -5e-324, 1e300}
	val := func() float64 {
		if rnd.IntN(40) == 0 {
			return special[rnd.IntN(len(special))]
		}
		return rnd.NormFloat64() * math.Ldexp(1, rnd.IntN(20)-10)
	}
	vectored := 0
	for _, r := range []int{0, 1, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 28, 31, 32, 33, 48, 215} {
		for _, n := range []int{0, 1, 3, 4, 5, 8, 13, 256, 259} {
			stride := n + rnd.IntN(3) // points longer than b
			pts := make([]float64, r*stride)
			for i := range pts {
				pts[i] = val()
			}
			b := make([]float64, n)
			for i := range b {
				b[i] = val()
			}
			got, want := make([]float64, r), make([]float64, r)
			for i := range got {
				got[i] = val()
				want[i] = got[i]
			}
			p := func(i int) []float64 { return pts[i*stride : (i+1)*stride] }
			DistChains(p, b, got)
			distChainsGo(p, b, want)
			for i := range got {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
					t.Fatalf("r %d n %d chain %d: %x, want %x", r, n, i, math.Float64bits(got[i]), math.Float64bits(want[i]))
				}
			}
			if r >= 4 && distChainsVec(p, 0, 4, b, make([]float64, 4)) > 0 {
				vectored++
			}
		}
	}
	if distChainsVector && vectored == 0 {
		t.Fatal("the AVX2 kernel never ran")
	}
}

// BenchmarkDistChains is the geometric median's distance step on x215a's shape: 215 points
// over one 256-column chunk (sumDim0Chunk), in the CPU cache; ns per point-element.
func BenchmarkDistChains(b *testing.B) {
	const r, n = 215, 256
	rnd := rand.New(rand.NewPCG(83, 84))
	pts, m, acc := make([]float64, r*n), make([]float64, n), make([]float64, r)
	for i := range pts {
		pts[i] = rnd.NormFloat64()
	}
	for i := range m {
		m[i] = rnd.NormFloat64()
	}
	p := func(i int) []float64 { return pts[i*n : (i+1)*n] }
	for _, impl := range []struct {
		name string
		f    func(func(int) []float64, []float64, []float64)
	}{{"DistChains", DistChains}, {"go", distChainsGo}} {
		b.Run(impl.name, func(b *testing.B) {
			for b.Loop() {
				impl.f(p, m, acc)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(r*n), "ns/elem")
		})
	}
}
