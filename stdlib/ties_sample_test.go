package stdlib

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// The sample pass's bracket holds the rank on data like real deltas (Gaussian; with a
// channel scale that repeats every 64 elements, which a sample at fixed offsets would alias
// with; with a scale per row of 320, which a sample of runs of neighbours would share, so
// that its keys are not independent draws), in both modes, for small and large k: no bracket
// misses, the passes are the planned ones, and the bytes are the whole kernel's.
func TestTiesSampleHits(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, n := range []int{1 << 16, 1 << 19} { // one key in 8, one in 64
		if tiesSampleShift(n) != map[int]int{1 << 16: 3, 1 << 19: 6}[n] {
			t.Fatalf("n=%d: sample shift %d", n, tiesSampleShift(n))
		}
		testTiesSampleHits(t, rng, n)
	}
}

func testTiesSampleHits(t *testing.T, rng *rand.Rand, n int) {
	const r = 4
	plain := make([][]float64, r)
	periodic := make([][]float64, r)
	rows := make([][]float64, r)
	for i := range r {
		plain[i], periodic[i], rows[i] = make([]float64, n), make([]float64, n), make([]float64, n)
		for j := range n {
			plain[i][j] = rng.NormFloat64() * 1e-3
			periodic[i][j] = rng.NormFloat64() * math.Ldexp(1e-3, j%64/8*3)
			rows[i][j] = rng.NormFloat64() * math.Ldexp(1e-3, j/320*5%7)
		}
	}
	for name, ms := range map[string][][]float64{"plain": plain, "periodic": periodic, "rows": rows} {
		for _, k := range []float64{0.2, 0.5, 0.9, 0.01} {
			kw := tiesKw(k, false)
			want, err := tiesWhole(ms, []int{n}, kw)
			if err != nil {
				t.Fatal(err)
			}
			for _, mode := range []string{"sampled-one-pass", "sampled-two-pass", "keys-sampled-one-pass"} {
				t.Run(fmt.Sprint(n, "/", name, "/", mode), func(t *testing.T) {
					tiesStageMode(t, mode)
					tiesSampleMin = 1 << 14 // the default: n is above it
					before := tiesSampleMisses.Load()
					cs := tiesChunking(rng, n, 4096)
					got, passes, err := tiesRunStaged(ms, []int{n}, kw, cs, cs)
					if err != nil {
						t.Fatal(err)
					}
					if m := tiesSampleMisses.Load() - before; m != 0 {
						t.Errorf("k=%v: %d brackets missed", k, m)
					}
					if want := tiesModePasses(mode)[0]; passes != want {
						t.Errorf("k=%v: %d passes, want %d", k, passes, want)
					}
					if j := tiesFirstDiff(got, want); j >= 0 {
						t.Fatalf("k=%v: [%d] = %v, whole %v", k, j, got[j], want[j])
					}
				})
			}
		}
	}
}

// The range kernels split and compact as the scalar loops do, for every length's tail, brackets
// of one key, none, all, and the largest key; a split past its limit says so.
func TestTiesRangeKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	for trial := range 2000 {
		n := rng.IntN(80)
		if trial%50 == 0 {
			n = 3*tiesSplitSegment + rng.IntN(100) // several segments
		}
		keys := make([]uint32, n)
		for j := range keys {
			keys[j] = rng.Uint32() >> 1
			if rng.IntN(3) == 0 {
				keys[j] = uint32(rng.IntN(8)) << 28 // ties
			}
		}
		lo, hi := rng.Uint32()>>1, rng.Uint32()>>1
		lo, hi = min(lo, hi), max(lo, hi) // the kernels' precondition
		switch trial % 4 {
		case 1:
			lo = hi // one value
		case 2:
			lo, hi = 0, math.MaxInt32 // everything
		case 3:
			if n > 0 {
				lo = keys[rng.IntN(n)]
				hi = lo
			}
		}
		var wantBelow, wantIn int
		var wantKept []uint32
		for _, u := range keys {
			switch {
			case u < lo:
				wantBelow++
			case u <= hi:
				wantIn++
				wantKept = append(wantKept, u)
			}
		}
		orig := slices.Clone(keys)
		prefix := []uint32{9, 8}
		got, below, ok := tiesRangeSplit(slices.Clone(prefix), keys, lo, hi, 1<<20)
		if !ok || below != wantBelow || !slices.Equal(got[2:], wantKept) || !slices.Equal(got[:2], prefix) {
			t.Fatalf("n=%d [%d, %d]: split %v, %d below, ok %v; want %v, %d", n, lo, hi, got, below, ok, wantKept, wantBelow)
		}
		if !slices.Equal(keys, orig) {
			t.Fatalf("n=%d: tiesRangeSplit changed its keys", n)
		}
		if limit := wantIn - 1; limit >= 0 {
			if _, _, ok := tiesRangeSplit(nil, keys, lo, hi, limit); ok {
				t.Fatalf("n=%d: %d keys inside, limit %d: ok", n, wantIn, limit)
			}
		}
		c := slices.Clone(keys)
		m := tiesCompactRange(c, lo, hi)
		if !slices.Equal(c[:m], wantKept) {
			t.Fatalf("n=%d [%d, %d]: compacted %v, want %v", n, lo, hi, c[:m], wantKept)
		}
	}
}

// tiesSelectRange gives the rank-th smallest for every rank, through its histogram narrowing
// (tiesSelectMin keys and more, its histograms of every size) and without, on ties, one
// value, and wide and narrow ranges.
func TestTiesSelectRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	for _, n := range []int{1, 10, tiesSelectMin - 1, tiesSelectMin, 1000, 2100, 9000, 40000} {
		for _, kind := range []string{"wide", "narrow", "ties", "one"} {
			keys := make([]uint32, n)
			lo, hi := uint32(0), uint32(math.MaxInt32)
			for j := range keys {
				switch kind {
				case "wide":
					keys[j] = rng.Uint32() >> 1
				case "narrow":
					lo, hi = 1<<30, 1<<30+5000
					keys[j] = lo + uint32(rng.IntN(5001))
				case "ties":
					lo, hi = 1<<20, 1<<20+1<<16
					keys[j] = lo + uint32(rng.IntN(3))<<15
				case "one":
					lo, hi = 77, 77
					keys[j] = 77
				}
			}
			sorted := slices.Clone(keys)
			slices.Sort(sorted)
			for _, rank := range []int{0, n / 3, n / 2, n - 1} {
				if got := tiesSelectRange(slices.Clone(keys), lo, hi, rank); got != sorted[rank] {
					t.Fatalf("n=%d %s rank %d: %d, want %d", n, kind, rank, got, sorted[rank])
				}
			}
		}
	}
}
