package stdlib

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/num"
)

// f16Keys is a KeySource over float16 differences a[i] - b of one chunk; with raw set it
// offers their bytes too (ops.RawKeySource), as the VM does for subtract over two LOADs.
type f16Keys struct {
	a      [][]byte
	b      []byte
	lo, n  int
	raw    bool
	called *int
}

func (f f16Keys) Keys(i int, dst []uint32) error {
	*f.called++
	num.SubAbsKeys(dst, f.a[i][2*f.lo:2*(f.lo+f.n)], f.b[2*f.lo:2*(f.lo+f.n)], ops.F16)
	return nil
}

type f16RawKeys struct{ f16Keys }

func (f f16RawKeys) KeyOperands(i int) (a, b []byte, dt ops.DType, ok bool) {
	return f.a[i][2*f.lo : 2*(f.lo+f.n)], f.b[2*f.lo : 2*(f.lo+f.n)], ops.F16, true
}

// The range pass with its keys made in the split's loop (rangeFused) finds the thresholds the
// keys from Keys give, over chunkings with tails and segments, with brackets that hit, miss
// or overflow, and with an inf or a NaN in a chunk (which it leaves to Keys).
func TestTiesRangeFused(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	for trial := range 24 {
		r := 1 + rng.IntN(5)
		n := []int{1 << 14, 1<<14 + 5, 5*tiesSplitSegment + 13, 40000}[trial%4]
		nonFinite := trial%3 == 2
		b := make([]byte, 2*n)
		base := make([]float64, n)
		for j := range base {
			base[j] = rng.NormFloat64() * 0.05
		}
		num.EncodeInto(b, base, ops.F16, false)
		a := make([][]byte, r)
		for i := range a {
			v := make([]float64, n)
			for j := range v {
				v[j] = base[j] + rng.NormFloat64()*1e-3*float64(1+j%7)
			}
			if nonFinite && i == 0 {
				v[rng.IntN(n)] = math.Inf(1)
				v[rng.IntN(n)] = math.NaN()
			}
			a[i] = make([]byte, 2*n)
			num.EncodeInto(a[i], v, ops.F16, false)
		}
		k := []float64{0.2, 0.5, 0.05}[trial%3]
		sigmas := []float64{4, -1, 4}[trial/4%3] // -1: every bracket misses
		t.Run(fmt.Sprint(trial), func(t *testing.T) {
			defer func(s float64, c int) { tiesSampleSigmas, tiesStageCandCap = s, c }(tiesSampleSigmas, tiesStageCandCap)
			tiesSampleSigmas = sigmas
			if trial%8 == 5 {
				tiesStageCandCap = 64 // brackets overflow
			}
			var cs []int // chunk lengths, tails of every length mod 8
			for lo := 0; lo < n; {
				c := min(n-lo, 1000+rng.IntN(9000))
				cs = append(cs, c)
				lo += c
			}
			var th [2][]float64
			var passes [2]int
			for mode := range 2 {
				s, ok := newTiesStagerFor(r, n, k, false)
				if !ok {
					t.Fatal("no stager")
				}
				calls := 0
				before := tiesFusedChunks.Load()
				th[mode] = slices.Clone(runTiesStager(t, s, cs, func(lo, c int) ops.KeySource {
					src := f16Keys{a: a, b: b, lo: lo, n: c, called: &calls}
					if mode == 1 {
						return f16RawKeys{src}
					}
					return src
				}))
				passes[mode] = s.Passes()
				fused := tiesFusedChunks.Load() - before
				if mode == 1 && !nonFinite && sigmas > 0 && tiesStageCandCap > 64 && fused == 0 {
					t.Errorf("the range pass never ran fused")
				}
				if mode == 0 && fused != 0 {
					t.Errorf("%d fused chunks from a source without operands", fused)
				}
			}
			if passes[0] != passes[1] {
				t.Errorf("passes %d fused, %d from Keys", passes[1], passes[0])
			}
			for i := range th[0] {
				if math.Float64bits(th[0][i]) != math.Float64bits(th[1][i]) {
					t.Fatalf("delta %d: threshold %v fused, %v from Keys", i, th[1][i], th[0][i])
				}
			}
		})
	}
}

// tiesKeysSplitFast counts and collects what tiesRangeSplit does over num.SubAbsKeys's keys of
// the same float16 pairs, for every length's tail, ties, brackets bounded by keys of the data,
// empty, one-key and all-keys brackets; a pair with an inf or a NaN makes it decline.
func TestTiesKeysSplitKernel(t *testing.T) {
	if !tiesSplitVector || !num.HasF16C() {
		t.Skip("no AVX2 and F16C")
	}
	rng := rand.New(rand.NewPCG(53, 54))
	for trial := range 3000 {
		n := rng.IntN(100)
		if trial%100 == 0 {
			n = 2*tiesSplitSegment + rng.IntN(50)
		}
		a, b := make([]byte, 2*n), make([]byte, 2*n)
		va, vb := make([]float64, n), make([]float64, n)
		for j := range n {
			va[j], vb[j] = rng.NormFloat64(), rng.NormFloat64()
			if rng.IntN(4) == 0 {
				va[j] = vb[j] + float64(rng.IntN(5))*0.125 // ties at keys with short mantissas
			}
		}
		bad := trial%10 == 9 && n >= 8
		if bad { // within the part the kernel scans
			va[rng.IntN(n&^7)] = []float64{math.Inf(1), math.Inf(-1), math.NaN()}[trial%3]
		}
		num.EncodeInto(a, va, ops.F16, false)
		num.EncodeInto(b, vb, ops.F16, false)
		keys := make([]uint32, n)
		num.SubAbsKeys(keys, a, b, ops.F16)
		lo, hi := rng.Uint32()>>1, rng.Uint32()>>1
		switch {
		case n > 0 && trial%5 < 3:
			lo, hi = keys[rng.IntN(n)], keys[rng.IntN(n)] // bounds that are keys
		case trial%5 == 3:
			lo, hi = 0, math.MaxInt32
		}
		lo, hi = min(lo, hi), max(lo, hi)
		prefix := []uint32{7, 9}
		dst := append(make([]uint32, 0, n+16), prefix...)
		sc, below, got := tiesKeysSplitFast(dst, a, b, lo, hi)
		if bad {
			if sc != 0 {
				t.Fatalf("n=%d with an inf or a NaN: scanned %d", n, sc)
			}
			continue
		}
		if sc != n&^7 {
			t.Fatalf("n=%d: scanned %d", n, sc)
		}
		want, wantBelow, _ := tiesRangeSplit(slices.Clone(prefix), keys[:sc], lo, hi, 1<<30)
		if below != wantBelow || !slices.Equal(got, want) {
			t.Fatalf("n=%d [%d, %d]: %d below, kept %v; want %d, %v", n, lo, hi, below, got, wantBelow, want)
		}
	}
}
