package stdlib

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// tiesTestData returns r rows of n values with duplicates, zeros of both signs, ties in
// magnitude, and (when bad) NaN and infinities.
func tiesTestData(rng *rand.Rand, r, n int, bad bool) [][]float64 {
	ms := make([][]float64, r)
	for i := range ms {
		ms[i] = make([]float64, n)
		for j := range ms[i] {
			switch rng.IntN(12) {
			case 0:
				ms[i][j] = 0
			case 1:
				ms[i][j] = math.Copysign(0, -1)
			case 2:
				ms[i][j] = float64(rng.IntN(5)-2) / 4 // exact ties
			case 3:
				if bad {
					ms[i][j] = []float64{math.NaN(), math.Inf(1), math.Inf(-1)}[rng.IntN(3)]
				}
			case 4:
				ms[i][j] = rng.NormFloat64() * 1e-30 // float32 subnormal or zero
			default:
				ms[i][j] = rng.NormFloat64() * math.Ldexp(1, rng.IntN(20)-10)
			}
		}
	}
	return ms
}

// The radix select gives the value the float32 quickselect (itself tested against a full
// sort) gives, at every rank.
func TestTiesKthAbsF32MatchesQuickselect(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 300; trial++ {
		n := 1 + rng.IntN(200)
		x := tiesTestData(rng, 1, n, trial%2 == 0)[0]
		m := make([]float32, n)
		for i, v := range x {
			m[i] = float32(math.Abs(v))
		}
		for k := 1; k <= n; k++ {
			want := float64(selectKth(slices.Clone(m), k-1))
			got := tiesKthAbsF32(x, k)
			if !(math.Float64bits(got) == math.Float64bits(want) || (got != got && want != want)) {
				t.Fatalf("trial %d, n=%d, k=%d: got %v, want %v", trial, n, k, got, want)
			}
		}
	}
	// Lengths of several of its 4096-key blocks, and their edges.
	for trial, n := range []int{4095, 4096, 4097, 10000, 3*4096 + 5} {
		x := tiesTestData(rng, 1, n, trial%2 == 0)[0]
		m := make([]float32, n)
		for i, v := range x {
			m[i] = float32(math.Abs(v))
		}
		for _, k := range []int{1, 2, n / 5, n / 2, n - 1, n} {
			want := float64(selectKth(slices.Clone(m), k-1))
			got := tiesKthAbsF32(x, k)
			if !(math.Float64bits(got) == math.Float64bits(want) || (got != got && want != want)) {
				t.Fatalf("n=%d, k=%d: got %v, want %v", n, k, got, want)
			}
		}
	}
}

// tiesSumStacked is ties_sum's stacked computation (tiesDeltas, SumDim0Torch, division).
func tiesSumStacked(ms [][]float64, n int, k float64, voteSgn bool) ([]float64, error) {
	filtered, counts, err := tiesDeltas(ms, n, k, voteSgn)
	if err != nil {
		return nil, err
	}
	out := make([]float64, n)
	SumDim0Torch(filtered, len(ms), n, out)
	for j := range out {
		out[j] = tiesNanToZero(out[j] / counts[j])
	}
	return out, nil
}

// tiesSumDirect gives the stacked computation's bits for every model count it handles and
// for element counts around SumDim0Torch's 16-column blocks.
func TestTiesSumDirectMatchesStacked(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 2, 3, 4, 5, 15, 16, 17, 31, 32, 33, 100, 257} {
		for _, r := range []int{1, 2, 3, 5, 8, 15} {
			for _, k := range []float64{0.2, 0.5, 1, 0} {
				for _, vote := range []bool{false, true} {
					ms := tiesTestData(rng, r, n, rng.IntN(2) == 0)
					want, werr := tiesSumStacked(ms, n, k, vote)
					got := make([]float64, n)
					done, gerr := tiesSumDirect(ms, k, vote, got)
					if !done {
						t.Fatalf("n=%d r=%d: not handled", n, r)
					}
					if (werr != nil) != (gerr != nil) {
						t.Fatalf("n=%d r=%d k=%v: error %v, stacked %v", n, r, k, gerr, werr)
					}
					if werr != nil {
						continue
					}
					for j := range want {
						if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
							t.Fatalf("n=%d r=%d k=%v vote=%v: element %d = %v, stacked %v", n, r, k, vote, j, got[j], want[j])
						}
					}
				}
			}
		}
	}
	if done, _ := tiesSumDirect(make([][]float64, 16), 0.2, false, make([]float64, 4)); done {
		t.Error("16 models: want the stacked path")
	}
}

// tiesDeltas is tiesDeltasIn into a fresh stack.
func tiesDeltas(ms [][]float64, n int, k float64, voteSgn bool) (filtered, counts []float64, err error) {
	return tiesDeltasIn(make([]float64, len(ms)*n), ms, n, k, voteSgn)
}

// tiesStack is tiesStackIn into a fresh stack.
func tiesStack(ms [][]float64, n int) []float64 {
	return tiesStackIn(make([]float64, len(ms)*n), ms, n)
}
