package stdlib

import (
	"math"
	"math/rand/v2"
	"testing"
)

// dellaOffsetsFast gives the scalar loop's bits: ranks around float32's integer precision
// (2^24) and up to 2^31 - 2, lengths around the eight-lane steps, and della_eps values that
// make infinities and NaNs (a payload kept, 0 * Inf's default NaN).
func TestDellaOffsetsFast(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	nan := math.Float32frombits(0x7fa12345)
	for _, n := range []int{1, 7, 8, 9, 16, 31, 64, 67, 1000} {
		for _, size := range []int{10, 1 << 20, 1<<24 + 12345, math.MaxInt32 - 1} {
			for _, e := range []float32{0.1, 1e-30, 0, -0.5, nan, float32(math.Inf(1)), float32(math.Inf(-1))} {
				ranks := make([]uint32, n)
				for j := range ranks {
					ranks[j] = uint32(rng.IntN(size))
				}
				ranks[0] = uint32(size - 1)
				ne := float32(size)
				center := float32(float64(size+1) / float64(size*2))
				want := make([]float64, n)
				for j, r := range ranks {
					want[j] = float64((float32(r+1)/ne - center) * e)
				}
				got := make([]float64, n)
				done := dellaOffsetsFast(ranks, ne, center, e, got)
				if vecSubVector && done != n&^7 {
					t.Fatalf("n=%d: the vector path wrote %d offsets, want %d", n, done, n&^7)
				}
				for j := range done {
					if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
						t.Fatalf("n=%d size=%d e=%v: offset %d (rank %d) = %v (%#x), want %v (%#x)",
							n, size, e, j, ranks[j], got[j], math.Float64bits(got[j]), want[j], math.Float64bits(want[j]))
					}
				}
			}
		}
	}
}

// dellaFillQFast gives dellaFillQ's Go loop's values (NaNs as NaNs: their payloads do not
// reach the bernoulli draw, which refuses them), and vecUnit bernoulliDraw64's range check,
// over lengths around the four-lane steps and offsets that leave [0, 1] either way.
func TestDellaFillQFast(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	special := []float64{math.NaN(), math.Inf(1), math.Inf(-1), -0.0, 0, 1, -1e-300, 1 + 1e-16, 0.5, -0.6, 2}
	for _, n := range []int{1, 3, 4, 5, 8, 13, 64, 257} {
		for _, pMin := range []float64{0.1, 0.9, 0, 1, math.NaN()} {
			for _, fix := range []bool{false, true} {
				off := make([]float64, n)
				for j := range off {
					if rng.IntN(4) == 0 {
						off[j] = special[rng.IntN(len(special))]
					} else {
						off[j] = (rng.Float64() - 0.5) * 0.2
					}
				}
				kind := dropoutDella
				if fix {
					kind = dropoutDellaFix
				}
				want := make([]float64, n)
				for j := range want {
					q := pMin + off[j]
					if fix {
						if math.IsNaN(q) {
							q = 1e-20
						}
						q = min(max(tiesNanToNum(q), 1e-20), 1)
					}
					want[j] = q
				}
				got := make([]float64, n)
				if err := dellaFillQ(kind, pMin, off)(got, 0); err != nil {
					t.Fatal(err)
				}
				unit := true
				for j := range want {
					if got[j] != want[j] && !(math.IsNaN(got[j]) && math.IsNaN(want[j])) {
						t.Fatalf("n=%d pMin=%v fix=%v: q[%d] = %v, want %v (offset %v)", n, pMin, fix, j, got[j], want[j], off[j])
					}
					if math.Signbit(got[j]) != math.Signbit(want[j]) && !math.IsNaN(want[j]) {
						t.Fatalf("n=%d: q[%d] = %v, want %v (sign)", n, j, got[j], want[j])
					}
					unit = unit && want[j] >= 0 && want[j] <= 1
				}
				if vecUnit(got) != unit {
					t.Fatalf("n=%d pMin=%v fix=%v: vecUnit = %v, want %v for %v", n, pMin, fix, !unit, unit, got)
				}
			}
		}
	}
}

// vecUnit at the bounds, in the vector lanes and in the tail.
func TestVecUnit(t *testing.T) {
	for _, c := range []struct {
		q    []float64
		want bool
	}{
		{[]float64{0, 0, 0, 0}, true},
		{[]float64{1, 1, 1, 1, 1}, true},
		{[]float64{-0.0, 0.5, 1, 0, -0.0, 0.25, 0.75, 1}, true},
		{[]float64{0.5, 0.5, 0.5, math.NaN()}, false},
		{[]float64{0.5, 0.5, 0.5, 0.5, math.NaN()}, false},
		{[]float64{0.5, math.Nextafter(1, 2), 0.5, 0.5}, false},
		{[]float64{0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, -math.SmallestNonzeroFloat64}, false},
		{[]float64{0.5, 0.5, 0.5, 0.5, math.Inf(1)}, false},
		{nil, true},
	} {
		if got := vecUnit(c.q); got != c.want {
			t.Errorf("vecUnit(%v) = %v, want %v", c.q, got, c.want)
		}
	}
}
