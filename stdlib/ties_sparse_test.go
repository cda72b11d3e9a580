package stdlib

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/num"
)

// f16WholeKeys offers the whole deltas' bytes too (ops.WholeKeySource), as the VM does.
type f16WholeKeys struct{ f16RawKeys }

func (f f16WholeKeys) WholeKeyOperands(i int) (a, b []byte, dt ops.DType, ok bool) {
	return f.a[i], f.b, ops.F16, true
}

// tiesSparseData is r float16 models and their base over rows x cols elements; each row of
// each model's difference is scaled by a factor drawn from scales (one element: no scaling).
func tiesSparseData(rng *rand.Rand, r, rows, cols int, scales []float64) (a [][]byte, b []byte) {
	n := rows * cols
	base := make([]float64, n)
	for j := range base {
		base[j] = rng.NormFloat64() * 0.05
	}
	b = make([]byte, 2*n)
	num.EncodeInto(b, base, ops.F16, false)
	a = make([][]byte, r)
	for i := range a {
		v := make([]float64, n)
		for row := range rows {
			f := scales[rng.IntN(len(scales))]
			for c := range cols {
				j := row*cols + c
				v[j] = base[j] + rng.NormFloat64()*1e-3*f
			}
		}
		a[i] = make([]byte, 2*n)
		num.EncodeInto(a[i], v, ops.F16, false)
	}
	return a, b
}

// runTiesStager runs a Stager's statistics passes over the chunks cs of src's deltas and
// returns its thresholds.
func runTiesStager(t *testing.T, s *tiesStager, cs []int, src func(lo, n int) ops.KeySource) []float64 {
	t.Helper()
	for pass := 0; pass < s.Passes(); pass++ {
		lo := 0
		for _, c := range cs {
			if err := s.ObserveKeys(pass, lo, c, src(lo, c)); err != nil {
				t.Fatal(err)
			}
			lo += c
		}
		if err := s.EndPass(pass); err != nil {
			t.Fatal(err)
		}
	}
	return s.th
}

// The sparse sample (sampleSparse) gives the thresholds of the full one, bit for bit: on
// deltas of independent values, of rows with mildly and wildly different scales, on keys too
// small for it, and with an inf in a sampled run or elsewhere. It serves the deltas it should
// (all of the large independent ones, none of the wildly scaled ones, whose runs vary too
// much) and widens the bracket enough that no rank falls outside it.
func TestTiesSparseSample(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	one, mild, wild := []float64{1}, []float64{0.5, 0.7, 1, 1.4, 2}, []float64{0.1, 10}
	ks := []float64{0.2, 0.5, 0.05, 0.9}
	for _, c := range []struct {
		name       string
		rows, cols int
		scales     []float64
		inf        int // -1: none; else the element of delta 0 made infinite
		ks         []float64
		sparse     int // deltas served, of 3
	}{
		{"iid", 256, 320, one, -1, ks, 3},
		{"iid tail", 257, 333, one, -1, ks, 3},
		{"too small", 100, 320, one, -1, ks, 0},
		{"mild rows", 300, 320, mild, -1, ks, 3},
		// Half the rows' keys below the median, half above: each run's count is 0 or 32.
		{"wild rows", 300, 320, wild, -1, []float64{0.5}, 0},
		{"inf in the first run", 256, 320, one, 5, ks, 2},
		{"inf elsewhere", 256, 320, one, 1000, ks, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range c.ks {
				const r = 3
				a, b := tiesSparseData(rng, r, c.rows, c.cols, c.scales)
				n := c.rows * c.cols
				if c.inf >= 0 {
					a[0][2*c.inf], a[0][2*c.inf+1] = 0x00, 0x7c // float16 +inf
				}
				var cs []int
				for lo := 0; lo < n; {
					cs = append(cs, min(n-lo, 1<<14+rng.IntN(1<<14)))
					lo += cs[len(cs)-1]
				}
				var th [2][]float64
				for mode := range 2 {
					s, ok := newTiesStagerFor(r, n, k, false)
					if !ok {
						t.Fatal("no stager")
					}
					calls := 0
					served, missed := tiesSparseDeltas.Load(), tiesSampleMisses.Load()
					th[mode] = runTiesStager(t, s, cs, func(lo, n int) ops.KeySource {
						src := f16RawKeys{f16Keys{a: a, b: b, lo: lo, n: n, called: &calls}}
						if mode == 1 {
							return f16WholeKeys{src}
						}
						return src
					})
					served, missed = tiesSparseDeltas.Load()-served, tiesSampleMisses.Load()-missed
					if want := int64(c.sparse * mode); served != want {
						t.Errorf("k %v: %d deltas sampled sparsely, want %d", k, served, want)
					}
					if missed != 0 && c.inf < 0 {
						t.Errorf("k %v: %d brackets missed their rank (sparse sample %v)", k, missed, mode == 1)
					}
				}
				for i := range th[0] {
					if math.Float64bits(th[0][i]) != math.Float64bits(th[1][i]) {
						t.Fatalf("k %v delta %d: threshold %v with the sparse sample, %v with the full one", k, i, th[1][i], th[0][i])
					}
				}
			}
		})
	}
}

// tiesRunSpread is about 1 for runs of independent keys and about the square root of a run's
// length for runs whose keys all fall on one side of the rank.
func TestTiesRunSpread(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	const rl, runs, q = 32, 256, 0.8
	for _, c := range []struct {
		name     string
		key      func(run int) uint32
		min, max float64
	}{
		{"independent", func(int) uint32 { return uint32(rng.IntN(2048)) << tiesFineShift }, 1, 1.25},
		{"runs alike", func(run int) uint32 {
			if run%5 == 0 {
				return 2000 << tiesFineShift // above the rank's bucket
			}
			return 10 << tiesFineShift
		}, 5, 6},
	} {
		for trial := range 20 {
			keys := make([]uint32, rl*runs)
			h := make([]uint32, 1<<tiesCoarseBits)
			for j := range keys {
				keys[j] = c.key(j / rl)
				h[keys[j]>>tiesFineShift]++
			}
			if got := tiesRunSpread(h, keys, rl, q); got < c.min || got > c.max {
				t.Errorf("%s, trial %d: spread %.3f, want [%v, %v]", c.name, trial, got, c.min, c.max)
			}
		}
	}
}

// A delta's spread widens its bracket by that factor: over a flat sample histogram of 100 keys
// a bucket, the bracket of 4 standard deviations (227 sample keys) spans 5 or 6 buckets, and
// three times as many at a spread of 3.
func TestTiesBracketSpread(t *testing.T) {
	for _, c := range []struct {
		spread   float64
		min, max uint32 // buckets spanned
	}{{1, 5, 6}, {3, 14, 15}} {
		s, ok := newTiesStagerFor(1, 1<<20, 0.2, false)
		if !ok {
			t.Fatal("no stager")
		}
		s.hist = make([]uint32, 1<<tiesCoarseBits)
		for b := 500; b < 701; b++ {
			s.hist[b] = 100
		}
		s.lo, s.hi, s.spread = make([]uint32, 1), make([]uint32, 1), []float64{c.spread}
		s.bracket(0)
		if span := s.hi[0]>>tiesFineShift - s.lo[0]>>tiesFineShift + 1; span < c.min || span > c.max {
			t.Errorf("spread %v: bracket [%#x, %#x] spans %d buckets, want %d-%d", c.spread, s.lo[0], s.hi[0], span, c.min, c.max)
		}
	}
}

// TestTiesRunCounts holds tiesRunCounts (the AVX2 loop on amd64) to tiesRunCountsLoop: runs of
// the float16 and float32 lengths and of 8, keys of every size below 2^31 with ties at lim, and
// limits from 0 to 2^31 - 1.
func TestTiesRunCounts(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	for iter := range 500 {
		rl := []int{8, 16, 32}[rng.IntN(3)]
		keys := make([]uint32, rl*(1+rng.IntN(300))+rng.IntN(rl)) // a partial run at the end is not counted
		lim := []uint32{0, 1, 1 << 30, math.MaxInt32, rng.Uint32() >> 1}[rng.IntN(5)]
		for j := range keys {
			switch rng.IntN(6) {
			case 0:
				keys[j] = lim
			case 1:
				keys[j] = lim - 1
			case 2:
				keys[j] = math.MaxInt32
			default:
				keys[j] = rng.Uint32() >> (1 + rng.IntN(8))
			}
			keys[j] &= math.MaxInt32
		}
		ws, ws2 := tiesRunCountsLoop(keys, rl, lim)
		gs, gs2 := tiesRunCounts(keys, rl, lim)
		if gs != ws || gs2 != ws2 {
			t.Fatalf("case %d (rl %d, %d keys, lim %#x): sums %d, %d; the loop's %d, %d", iter, rl, len(keys), lim, gs, gs2, ws, ws2)
		}
	}
}
