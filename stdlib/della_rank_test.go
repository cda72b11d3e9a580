package stdlib

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechac/mechac/ops/num"
)

// refDellaOrder is the ordinal order by a comparison sort: |delta| ascending, then position.
func refDellaOrder(delta []float64) []uint32 {
	ix := make([]uint32, len(delta))
	for i := range ix {
		ix[i] = uint32(i)
	}
	slices.SortFunc(ix, func(a, b uint32) int {
		if c := cmp.Compare(math.Abs(delta[a]), math.Abs(delta[b])); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return ix
}

// TestDellaRankerOrder compares the radix order with the comparison sort on deltas whose
// magnitudes tie a lot (signs, zeros of both signs, few distinct values: stability decides the
// order), span every digit (random bit patterns, subnormals, infinities), or leave digits
// constant (float16 differences, all equal), on both sides of dellaRadixMin.
func TestDellaRankerOrder(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 7))
	half := func() float64 { return num.F16ToF64(uint16(rnd.Uint32() & 0x7bff)) }
	gens := []struct {
		name string
		gen  func(i int) float64
	}{
		{"normal", func(int) float64 { return rnd.NormFloat64() * 1e-3 }},
		{"bits", func(int) float64 {
			for {
				if v := math.Float64frombits(rnd.Uint64()); !math.IsNaN(v) {
					return v
				}
			}
		}},
		{"f16 deltas", func(int) float64 { return half() - half() }},
		{"few values", func(int) float64 { return float64(rnd.IntN(7)-3) * 0.25 }},
		{"signed zeros", func(i int) float64 {
			switch rnd.IntN(3) {
			case 0:
				return math.Copysign(0, -1)
			case 1:
				return 0
			}
			return math.Copysign(1e-300, float64(i%2*2-1))
		}},
		{"subnormal and inf", func(int) float64 {
			switch rnd.IntN(4) {
			case 0:
				return math.Inf(rnd.IntN(2)*2 - 1)
			case 1:
				return math.Float64frombits(rnd.Uint64() & 0xfffff)
			case 2:
				return -math.SmallestNonzeroFloat64
			}
			return math.MaxFloat64
		}},
		{"all equal", func(i int) float64 { return math.Copysign(0.5, float64(i%3-1)) }},
		// Magnitudes spanning exactly 32 bits above 20 zero bits (the packed path's widest, with
		// ties) and 33 bits (the general path).
		{"packed width 32", func(i int) float64 {
			r := uint64(rnd.Uint32()) | 1
			if i%5 == 0 {
				r = 1 | 1<<31 // ties, and the top bit set
			} else if i%5 == 1 {
				r = 1
			}
			return math.Copysign(math.Float64frombits(0x3000000000000000+r<<20), float64(i%2*2-1))
		}},
		{"packed width 33", func(int) float64 {
			return math.Float64frombits(0x3000000000000000 + (rnd.Uint64()&(1<<33-1)|1)<<19)
		}},
	}
	var rk dellaRanker // reused across lengths and kinds, as a key call reuses it
	for _, g := range gens {
		for _, n := range []int{0, 1, 2, 17, dellaRadixMin - 1, dellaRadixMin, dellaMidMin - 1, dellaMidMin, 5000, 70001, dellaWideMin + 3} {
			delta := make([]float64, n)
			for i := range delta {
				delta[i] = g.gen(i)
			}
			got, want := rk.order(delta), refDellaOrder(delta)
			if !slices.Equal(got, want) {
				i := 0
				for got[i] == want[i] {
					i++
				}
				t.Fatalf("%s, n=%d: rank %d is position %d (|%g|), want %d (|%g|)",
					g.name, n, i+1, got[i], delta[got[i]], want[i], delta[want[i]])
			}
			// ranks is order's inverse permutation.
			ranks := rk.ranks(delta)
			if len(ranks) != n {
				t.Fatalf("%s, n=%d: %d ranks", g.name, n, len(ranks))
			}
			for r, i := range want {
				if ranks[i] != uint32(r) {
					t.Fatalf("%s, n=%d: position %d has rank %d, want %d", g.name, n, i, ranks[i], r)
				}
			}
		}
	}
}

func TestNewDellaRankerRefusesHugeTensors(t *testing.T) {
	if _, err := newDellaRanker("m", math.MaxUint32); err != nil {
		t.Fatalf("2^32-1 elements: %v", err)
	}
	if _, err := newDellaRanker("m", math.MaxUint32+1); err == nil {
		t.Fatal("2^32 elements: no error")
	}
}

// BenchmarkDellaOrder times the ranks of one delta: a fine-tune's float16 weights minus its
// base's (weights ~N(0, 0.02), changes ~N(0, 0.002): the counting sort from 2^18 elements, else
// the packed radix sort), and differences of unrelated float16 values over a wide exponent range
// (the packed radix sort). Modes: sort (the ranker as it runs), radix (orderCounted off),
// compare (the comparison sort).
func BenchmarkDellaOrder(b *testing.B) {
	rnd := rand.New(rand.NewPCG(1, 2))
	f16 := func(x float64) float64 { return num.F16ToF64(num.F16FromF64(x)) }
	const most = 1 << 22
	deltas := map[string][]float64{"finetune": make([]float64, most), "wide": make([]float64, most)}
	for i := range most {
		base := f16(rnd.NormFloat64() * 0.02)
		deltas["finetune"][i] = f16(base+rnd.NormFloat64()*0.002) - base
		deltas["wide"][i] = num.F16ToF64(uint16(rnd.Uint32()&0x33ff)) - num.F16ToF64(uint16(rnd.Uint32()&0x33ff))
	}
	for _, data := range []string{"finetune", "wide"} {
		for _, n := range []int{1 << 16, 1 << 18, 1 << 20, most} {
			delta := deltas[data][:n]
			for _, mode := range []string{"sort", "radix", "compare"} {
				if mode == "compare" && n > 1<<20 {
					continue
				}
				b.Run(fmt.Sprintf("%s/%d/%s", data, n, mode), func(b *testing.B) {
					defer func(on bool) { dellaCounting = on }(dellaCounting)
					dellaCounting = mode == "sort"
					var rk dellaRanker
					for b.Loop() {
						if mode == "compare" {
							refDellaOrder(delta)
						} else {
							rk.ranks(delta)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/elem")
				})
			}
		}
	}
}

// The ranker reports a NaN anywhere in the delta (either sign, any payload), at every length
// (comparison, packed and general sorts), and forgets it at the next delta.
func TestDellaRankerNaN(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	var rk dellaRanker
	for _, n := range []int{1, 5, dellaRadixMin - 1, dellaRadixMin, dellaMidMin + 3, dellaWideMin + 1} {
		for _, at := range []int{0, n / 2, n - 1} {
			for _, nan := range []float64{math.NaN(), math.Float64frombits(0xfff0000000000001), math.Float64frombits(0x7ff8dead00000000)} {
				delta := make([]float64, n)
				for i := range delta {
					delta[i] = rnd.NormFloat64() * 1e-3
				}
				if rk.ranks(delta); rk.nan {
					t.Fatalf("n=%d: NaN reported without one", n)
				}
				delta[at] = nan
				if rk.ranks(delta); !rk.nan {
					t.Fatalf("n=%d: NaN %#x at %d not reported", n, math.Float64bits(nan), at)
				}
				delta[at] = math.Inf(-1) // an infinity is no NaN
				if rk.order(delta); rk.nan {
					t.Fatalf("n=%d: -Inf reported as a NaN", n)
				}
			}
		}
	}
}

// TestDellaRankerCounted holds the counting sort (orderCounted) to the comparison sort where it
// applies (magnitudes on a grid spanning at most n steps: float16 fine-tune deltas, quantized
// values with ties and signed zeros, a span of exactly n, huge magnitudes) and checks that it
// declines, the ranker still right, where it does not (a span of n + 1, an infinity, steps
// finer than 2^-1023, a NaN; below dellaCountMin).
func TestDellaRankerCounted(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 10))
	f16 := func(x float64) float64 { return num.F16ToF64(num.F16FromF64(x)) }
	perm := func(n int) []int { return rnd.Perm(n) }
	cases := []struct {
		name    string
		n       int
		counted bool
		gen     func(n int) []float64
	}{
		{"f16 fine-tune", dellaWideMin + 3, true, func(n int) []float64 {
			d := make([]float64, n)
			for i := range d {
				base := f16(rnd.NormFloat64() * 0.02)
				d[i] = f16(base+rnd.NormFloat64()*0.002) - base
			}
			return d
		}},
		{"f16 fine-tune, short", dellaCountMin - 1, false, func(n int) []float64 {
			d := make([]float64, n)
			for i := range d {
				d[i] = float64(rnd.IntN(64)-32) / 1024
			}
			return d
		}},
		{"quantized, ties, signed zeros", dellaCountMin, true, func(n int) []float64 {
			d := make([]float64, n)
			for i := range d {
				d[i] = math.Ldexp(float64(rnd.IntN(2001)-1000), -20)
				if i%97 == 0 {
					d[i] = math.Copysign(0, -1)
				}
			}
			return d
		}},
		{"span n", dellaCountMin + 5, true, func(n int) []float64 {
			d := make([]float64, n)
			for i, k := range perm(n) {
				d[i] = math.Copysign(math.Ldexp(float64(k+7), -10), float64(i%2*2-1)) // 7..n+6: n steps
			}
			return d
		}},
		{"span n+1", dellaCountMin + 5, false, func(n int) []float64 {
			d := make([]float64, n)
			for i, k := range perm(n) {
				d[i] = math.Ldexp(float64(k+7), -10)
			}
			d[0] = math.Ldexp(float64(n+7), -10) // one step past: n + 1 steps
			return d
		}},
		{"huge magnitudes", dellaCountMin, true, func(n int) []float64 {
			d := make([]float64, n)
			for i := range d {
				d[i] = math.Ldexp(float64(rnd.IntN(5000)+1), 1000)
			}
			return d
		}},
		{"an infinity", dellaCountMin, false, func(n int) []float64 {
			d := make([]float64, n)
			for i := range d {
				d[i] = float64(rnd.IntN(100))
			}
			d[n/2] = math.Inf(-1)
			return d
		}},
		{"subnormal steps", dellaCountMin, false, func(n int) []float64 {
			d := make([]float64, n)
			for i := range d {
				d[i] = math.Float64frombits(uint64(rnd.IntN(1000)))
			}
			return d
		}},
	}
	var rk dellaRanker
	for _, c := range cases {
		delta := c.gen(c.n)
		want := refDellaOrder(delta)
		for _, ranks := range []bool{false, true} {
			before := dellaCountedSorts.Load()
			got := rk.sort(delta, ranks)
			if counted := dellaCountedSorts.Load() > before; counted != c.counted {
				t.Fatalf("%s (ranks %v): counted %v, want %v", c.name, ranks, counted, c.counted)
			}
			for r, i := range want {
				if ranks && got[i] != uint32(r) || !ranks && got[r] != i {
					t.Fatalf("%s (ranks %v): rank %d / position %d differs from the comparison sort", c.name, ranks, r, i)
				}
			}
		}
	}
	// A NaN: not counted (the ranks are then unspecified, and the caller sees d.nan).
	delta := make([]float64, dellaCountMin)
	delta[3] = math.NaN()
	before := dellaCountedSorts.Load()
	if rk.ranks(delta); !rk.nan || dellaCountedSorts.Load() != before {
		t.Fatalf("NaN: nan %v, counted %v", rk.nan, dellaCountedSorts.Load() != before)
	}
}

// TestDellaRankerCountedRandom: random grids (from subnormal steps to 2^1000), spans on both
// sides of n and offsets from zero, signs and ties: the ranker agrees with the comparison sort,
// and counts exactly where the grid and the span allow.
func TestDellaRankerCountedRandom(t *testing.T) {
	rnd := rand.New(rand.NewPCG(11, 12))
	var rk dellaRanker
	for iter := range 24 {
		n := dellaCountMin + rnd.IntN(4096)
		g := rnd.IntN(2100) - 1100 // the steps' exponent
		span := 1 + rnd.IntN(2*n)
		off := uint64(rnd.IntN(3)) * uint64(rnd.IntN(1<<20)) // the smallest magnitude, in steps
		if off+uint64(span) >= 1<<52 {
			off = 0
		}
		delta := make([]float64, n)
		for i := range delta {
			k := off + uint64(rnd.IntN(span))
			delta[i] = math.Ldexp(float64(k), g)
			if rnd.IntN(2) == 0 {
				delta[i] = -delta[i]
			}
		}
		delta[0], delta[1] = math.Ldexp(float64(off), g), math.Ldexp(float64(off+uint64(span)-1), g) // the span's ends
		want := refDellaOrder(delta)
		before := dellaCountedSorts.Load()
		ranks := rk.ranks(delta)
		counted := dellaCountedSorts.Load() > before
		for r, i := range want {
			if ranks[i] != uint32(r) {
				t.Fatalf("iter %d (n %d, 2^%d steps, span %d, counted %v): position %d has rank %d, want %d", iter, n, g, span, counted, i, ranks[i], r)
			}
		}
		// Where every value is exact (no subnormal rounding) and the steps are at least
		// 2^-1023, the grid is found and the span decides.
		if exact := g >= -1023 && math.Ldexp(1, g) != 0; exact && counted != (span <= n) {
			// The lowest set bit may be coarser than 2^g (all drawn multiples even, say),
			// which only shrinks the span in steps: counted then when span <= n anyway.
			if !counted {
				t.Fatalf("iter %d (n %d, 2^%d steps, span %d): not counted", iter, n, g, span)
			}
		}
	}
}
