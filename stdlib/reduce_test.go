package stdlib

import (
	"math"
	"math/rand/v2"
	"testing"
)

// two53 is a variable so that expressions with it are rounded at run time, as in the kernels.
var two53 = float64(1 << 53)

// Hand cases: values chosen so that a different summation order gives a different result
// (2^53 + 1 rounds back to 2^53).

func TestSumTorchScalarTailFirst(t *testing.T) {
	// n = 7: one vector x[0:4], scalar tail x[4:7] summed first from 0, then lanes 0..3.
	x := []float64{two53, 1, 1, 1, 1, 1, 1}
	want := 0.0 + 1 + 1 + 1 // tail = 3
	want = want + two53     // 2^53+3 -> 2^53+4 (tie to even)
	want = want + 1         // 2^53+5 -> 2^53+4
	want = want + 1
	want = want + 1
	if got := SumTorch(x); got != want || want != two53+4 {
		t.Fatalf("SumTorch = %v, want %v (2^53+4)", got, want)
	}
	// A plain sequential sum would lose every 1.
	seq := 0.0
	for _, v := range x {
		seq += v
	}
	if seq == want {
		t.Fatal("hand case does not discriminate")
	}
}

func TestSumTorchLanes(t *testing.T) {
	// n = 20: 5 vectors; rows of 4 vectors (16 lanes) into multi_row_sum (1 row, no cascade),
	// the 5th vector into lanes 0..3, then lanes 4k+l folded into lane l, then lanes 0..3 in
	// order. x[0] = 2^53, the rest 1: lane0 = 2^53, lanes 1..3 = 5 each.
	x := make([]float64, 20)
	for i := range x {
		x[i] = 1
	}
	x[0] = two53
	want := 0.0 + two53
	want = want + 5 // 2^53+5 -> 2^53+4
	want = want + 5 // 2^53+9 -> 2^53+8
	want = want + 5 // 2^53+13 -> 2^53+12
	if got := SumTorch(x); got != want || want != two53+12 {
		t.Fatalf("SumTorch = %v, want 2^53+12 = %v", got-two53, want-two53)
	}
}

func TestSumTorchSmall(t *testing.T) {
	for _, tc := range []struct {
		x    []float64
		want float64
	}{
		{nil, 0},
		{[]float64{math.Copysign(0, -1)}, 0},
		{[]float64{1, 2}, 3},
		{[]float64{1, 2, 3, 4}, 10},
	} {
		got := SumTorch(tc.x)
		if got != tc.want || math.Signbit(got) {
			t.Errorf("SumTorch(%v) = %v, want %v", tc.x, got, tc.want)
		}
	}
}

func TestSumTorchCascadeLevels(t *testing.T) {
	// n = 16*32: 32 rows of 16 lanes. Lane 0 gets 2^53 in row 0 and 1 elsewhere: the first
	// group of 16 rows gives 2^53 (the 1s are lost), the second group sums its 16 ones to 16
	// in level 0 before it is carried into level 1: lane 0 = 2^53 + 16.
	n := 16 * 32
	x := make([]float64, n)
	for r := 0; r < 32; r++ {
		x[16*r] = 1
	}
	x[0] = two53
	if got := SumTorch(x); got != two53+16 {
		t.Fatalf("SumTorch = 2^53%+v, want 2^53+16", got-two53)
	}
}

func TestSumDim0Torch(t *testing.T) {
	// cols = 17: columns 0..15 are one multi_row_sum block (cascade over rows), column 16
	// is a row_sum (4 interleaved accumulators).
	rows, cols := 32, 17
	x := make([]float64, rows*cols)
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			x[r*cols+c] = 1
		}
	}
	x[0] = two53  // column 0: cascade -> 2^53 + 16
	x[16] = two53 // column 16: rows 0,4,..,28 in acc 0 (2^53), 8 ones in each other acc
	out := make([]float64, cols)
	SumDim0Torch(x, rows, cols, out)
	if out[0] != two53+16 {
		t.Errorf("column 0 = 2^53%+v, want 2^53+16", out[0]-two53)
	}
	if out[1] != 32 {
		t.Errorf("column 1 = %v, want 32", out[1])
	}
	if out[16] != two53+24 {
		t.Errorf("column 16 = 2^53%+v, want 2^53+24", out[16]-two53)
	}
	// R = 5 rows, cols < 16: row_sum order ((x0 + x4) + x1) + x2) + x3.
	y := []float64{two53, 1, 1, 1, 1}
	SumDim0Torch(y, 5, 1, out) // cols == 1: an inner sum = SumTorch: tail x4 first
	if want := SumTorch(y); out[0] != want {
		t.Errorf("cols=1: %v, want %v", out[0], want)
	}
	z := []float64{1, two53, 1, 1, 1, 1, 1, 1, 1, 1} // [5, 2]
	SumDim0Torch(z, 5, 2, out)
	w0 := ((((0.0 + 1) + 1) + 1) + 1) + 1
	w1 := (((two53 + 1) + 1) + 1) + 1 // ((acc0 = 0+2^53) + row 4) + acc1 + acc2 + acc3
	if out[0] != w0 || out[1] != w1 {
		t.Errorf("[5,2]: %v, want %v, %v", out[:2], w0, w1)
	}
}

func TestSumIntegersExact(t *testing.T) {
	// On small integers every order is exact: the sums must equal the true sums.
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 3, 4, 5, 15, 16, 17, 63, 64, 65, 255, 256, 257, 1000, 4096, 70001} {
		x := make([]float64, n)
		var s int64
		for i := range x {
			v := int64(r.IntN(2001) - 1000)
			x[i] = float64(v)
			s += v
		}
		if got := SumTorch(x); got != float64(s) {
			t.Errorf("n=%d: SumTorch = %v, want %d", n, got, s)
		}
		for _, cols := range []int{1, 2, 3, 4, 5, 16, 17, 33} {
			rows := n / cols
			if rows == 0 {
				continue
			}
			out := make([]float64, cols)
			SumDim0Torch(x, rows, cols, out)
			for c := 0; c < cols; c++ {
				var s int64
				for rr := 0; rr < rows; rr++ {
					s += int64(x[rr*cols+c])
				}
				if out[c] != float64(s) {
					t.Errorf("n=%d cols=%d col %d: %v, want %d", n, cols, c, out[c], s)
				}
			}
		}
	}
}

func TestCeilLog2(t *testing.T) {
	for _, tc := range [][2]int{{0, 1}, {1, 1}, {2, 1}, {3, 2}, {4, 2}, {5, 3}, {16, 4}, {17, 5}, {1 << 20, 20}, {1<<20 + 1, 21}} {
		if got := ceilLog2(tc[0]); got != tc[1] {
			t.Errorf("ceilLog2(%d) = %d, want %d", tc[0], got, tc[1])
		}
	}
}

func TestNormDistTorch(t *testing.T) {
	x := []float64{3, 4}
	if got := NormTorch(x); got != 5 {
		t.Errorf("NormTorch = %v", got)
	}
	if got := DistTorch([]float64{4, 6}, []float64{1, 2}); got != 5 {
		t.Errorf("DistTorch = %v", got)
	}
	// Sequential fma: acc = fma(x, x, acc). 1+2^-30 squared is 1 + 2^-29 + 2^-60: the fma
	// keeps the 2^-60 term until the second addition rounds.
	a := 1 + 0x1p-30
	want := math.Sqrt(math.FMA(a, a, math.FMA(a, a, 0)))
	if got := NormTorch([]float64{a, a}); got != want {
		t.Errorf("NormTorch fma = %v, want %v", got, want)
	}
	if NormTorch(nil) != 0 {
		t.Error("NormTorch(nil) != 0")
	}
}

func TestCosineSimilarityTorch(t *testing.T) {
	x := []float64{1, 0, 0, 3, 4, 0}
	y := []float64{2, 0, 0, 0, 4, 3}
	out := make([]float64, 2)
	CosineSimilarityLastDimTorch(x, y, 2, 3, 1e-8, out, nil)
	if out[0] != 1 {
		t.Errorf("row 0 = %v, want 1", out[0])
	}
	four, five := 4.0, 5.0
	want := 0 + (four/five)*(four/five) // the other products are 0
	if out[1] != want {
		t.Errorf("row 1 = %v, want %v", out[1], want)
	}
	// A zero row is clamped by eps: 0 / eps = 0.
	CosineSimilarityLastDimTorch([]float64{0, 0}, []float64{1, 1}, 1, 2, 1e-6, out, nil)
	if out[0] != 0 {
		t.Errorf("zero row = %v", out[0])
	}
	// dim 0 of the transposed data gives the same values.
	xt := []float64{1, 3, 0, 4, 0, 0}
	yt := []float64{2, 0, 0, 4, 0, 3}
	CosineSimilarityDim0Torch(xt, yt, 3, 2, 1e-8, out)
	if out[0] != 1 || out[1] != want {
		t.Errorf("dim0 = %v", out)
	}
}
