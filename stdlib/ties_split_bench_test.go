package stdlib

import (
	"fmt"
	"math"
	"slices"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/num"
	"math/rand/v2"
	"testing"
)

// BenchmarkTiesRangeSplit is the range pass's split over one chunk of keys with a bracket
// holding about 6% of them (the scale-4 TIES benchmark's brackets hold a few percent).
func BenchmarkTiesRangeSplit(b *testing.B) {
	rng := rand.New(rand.NewPCG(41, 42))
	keys := make([]uint32, 1<<16)
	for j := range keys {
		keys[j] = rng.Uint32() >> 1
	}
	lo, hi := uint32(1<<30), uint32(1<<30+1<<27)
	dst := make([]uint32, 0, len(keys)+tiesSplitSegment+8)
	b.SetBytes(4 * int64(len(keys)))
	for b.Loop() {
		dst, _, _ = tiesRangeSplit(dst[:0], keys, lo, hi, len(keys))
	}
}

// BenchmarkTiesVoteF16 is the output pass's vote of 8 float16 deltas over one 512-column tile
// (tiesVote8F16), the data in the CPU cache: ns per element of every delta.
func BenchmarkTiesVoteF16(b *testing.B) {
	const r, n = 8, tiesVoteTile
	rng := rand.New(rand.NewPCG(43, 44))
	raws, bases := make([][]byte, r), make([][]float64, r)
	base := make([]float64, n)
	for j := range base {
		base[j] = num.F16ToF64(num.F16FromF64(rng.NormFloat64() * 1e-2)) // a float16 base, as a model
	}
	lom1 := make([]int64, r)
	for i := range r {
		raws[i], bases[i] = make([]byte, 2*n), base
		vals := make([]float64, n)
		for j := range vals {
			vals[j] = base[j] + rng.NormFloat64()*1e-3
		}
		num.EncodeInto(raws[i], vals, ops.F16, false)
		lom1[i] = int64(math.Float64bits(1e-3)) - 1
	}
	out := make([]float64, n)
	ptrs, bptrs := make([]*byte, r), make([]*float64, r)
	iv := &tiesIntVote{lom1: make([]int32, r)}
	for i := range r {
		iv.lom1[i] = tiesLom1F32(uint64(lom1[i] + 1))
	}
	// The same from the stored float16 base, widened in registers (tiesVote16F16IntSharedAVX512).
	shared := &tiesIntVote{lom1: iv.lom1, lom1s: make([]int32, r), baseT: make([][]byte, r)}
	base16 := make([]byte, 2*n)
	num.EncodeInto(base16, base, ops.F16, false)
	for i := range r {
		shared.lom1s[i], shared.baseT[i] = tiesLom1Scaled(iv.lom1[i]), base16
	}
	// float64: the float64 vote alone; int: the integer vote where it can (all of it here);
	// shared: the integer vote over the one stored base.
	for _, c := range []struct {
		name string
		iv   *tiesIntVote
	}{{"float64", nil}, {"int", iv}, {"shared", shared}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(2 * r * n))
			for b.Loop() {
				if done, _ := tiesVoteF16Fast(raws, bases, ptrs, bptrs, lom1, c.iv, out, nil, false, 0); done != n {
					b.Fatal("not voted")
				}
			}
		})
	}
}

// BenchmarkTiesKeysSplitF16 is the range pass's fused split (tiesKeysSplitFast) over one
// chunk of float16 delta operands in the CPU cache, with a bracket holding ~3.5% of the keys
// (about what an 8192-key sample's bracket holds): ns per element.
func BenchmarkTiesKeysSplitF16(b *testing.B) {
	for _, n := range []int{1 << 16, 1 << 24} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchTiesKeysSplitF16(b, n) })
	}
}

func benchTiesKeysSplitF16(b *testing.B, n int) {
	rng := rand.New(rand.NewPCG(45, 46))
	base, model := make([]float64, n), make([]float64, n)
	for j := range base {
		base[j] = rng.NormFloat64() * 1e-2
		model[j] = base[j] + rng.NormFloat64()*1e-3
	}
	ra, rb := make([]byte, 2*n), make([]byte, 2*n)
	num.EncodeInto(ra, model, ops.F16, false)
	num.EncodeInto(rb, base, ops.F16, false)
	keys := make([]uint32, n)
	if !num.SubAbsKeys(keys, ra, rb, ops.F16) {
		b.Fatal("not finite")
	}
	sorted := append([]uint32(nil), keys...)
	slices.Sort(sorted)
	lo, hi := sorted[n*78/100], sorted[n*815/1000]
	dst := make([]uint32, 0, n+8)
	b.SetBytes(2 * int64(n))
	for b.Loop() {
		if sc, _, _ := tiesKeysSplitFast(dst[:0], ra, rb, lo, hi); sc != n {
			b.Fatal("no vector path")
		}
	}
}
