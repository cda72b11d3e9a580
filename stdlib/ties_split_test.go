package stdlib

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestTiesSplitAVX2: the vector vote pass gives the Go loop's sums and counts bit for bit, over
// lengths 0..41, thresholds 0, ordinary, a NaN's and the largest, and values with ±0, NaN and
// ±Inf, accumulated over several passes as the tile does.
func TestTiesSplitAVX2(t *testing.T) {
	if !tiesSplitVector {
		t.Skip("no AVX2: tiesSplitPass is the Go loop only")
	}
	rng := rand.New(rand.NewPCG(41, 42))
	special := []float64{0, math.Copysign(0, -1), math.NaN(), math.Float64frombits(0xfff8000000000123), math.Inf(1), math.Inf(-1), 5e-324, -5e-324}
	for n := range 42 {
		for _, lo := range []uint64{0, 1, math.Float64bits(0.3), math.Float64bits(math.NaN()), 1<<63 - 1} {
			want, got := make([]float64, 2*n), make([]float64, 2*n)
			wc, gc := make([]int32, 2*n), make([]int32, 2*n)
			for range 3 {
				m := make([]float64, n)
				for j := range m {
					m[j] = rng.NormFloat64() * 0.5
					if rng.IntN(8) == 0 {
						m[j] = special[rng.IntN(len(special))]
					}
				}
				tiesSplitVector = false
				tiesSplitPass(m, want, wc, lo)
				tiesSplitVector = true
				tiesSplitPass(m, got, gc, lo)
			}
			for j := range want {
				if math.Float64bits(got[j]) != math.Float64bits(want[j]) || gc[j] != wc[j] {
					t.Fatalf("n %d lo %#x slot %d: %v (%d), Go loop %v (%d)", n, lo, j, got[j], gc[j], want[j], wc[j])
				}
			}
		}
	}
}

// TestTiesAbsKeys: the vector magnitude keys are absKey's bit for bit: ±0, NaN payloads, ±Inf,
// float64 subnormals (0 in float32), values that round to the float32 infinity and to
// subnormals, over lengths 0..41.
func TestTiesAbsKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	special := []float64{0, math.Copysign(0, -1), math.NaN(), math.Float64frombits(0xfff0000000000123),
		math.Float64frombits(0x7ff4000000000001), math.Inf(1), math.Inf(-1), 5e-324, -1e-310, 3.5e38, -3.4028235677973366e38,
		1.4e-45, -7e-46, 1.1754942e-38}
	for n := range 42 {
		src := make([]float64, n)
		for j := range src {
			src[j] = math.Ldexp(rng.Float64()*2-1, rng.IntN(300)-150)
			if rng.IntN(4) == 0 {
				src[j] = special[rng.IntN(len(special))]
			}
		}
		got := make([]uint32, n)
		tiesAbsKeys(got, src)
		for j, v := range src {
			if want := absKey(v); got[j] != want {
				t.Fatalf("n %d: absKey(%v = %#x) = %#08x, vector %#08x", n, v, math.Float64bits(v), want, got[j])
			}
		}
	}
}

// TestTiesFinishAVX2: the vector finish of a tile gives tiesElected's bits (and tiesElected
// the old branchy tiesNanToZero(sum / count) where that is defined: a nonzero elected sign
// with a nonzero count) on every column without a NaN or an infinity, and reports whether
// any column has one: sums ±0, subnormals (quotients underflowing to ±0, which stay signed),
// -0 numerators, votes of values NaN or ±0, over lengths 0..67. (In a tile a quotient cannot
// underflow: see tiesElected. The finish is tested on any inputs all the same.)
func TestTiesFinishAVX2(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	special := []float64{0, math.Copysign(0, -1), 5e-324, -5e-324, 1e-323, -1.5e-323, 1e308, -math.MaxFloat64,
		math.NaN(), math.Inf(1), math.Inf(-1)}
	for _, voteSgn := range []bool{false, true} {
		for n := range 68 {
			for trial := range 4 {
				split, all := make([]float64, 2*n), make([]float64, n)
				cnt := make([]int32, 2*n)
				for j := range split {
					split[j] = rng.NormFloat64()
					if rng.IntN(3) == 0 {
						split[j] = special[rng.IntN(len(special)-3*(trial%2))] // odd trials: finite
					}
					cnt[j] = int32(rng.IntN(4))
				}
				for j := range all {
					all[j] = []float64{1, -1, 0, math.Copysign(0, -1), math.NaN(), 5e-324, -5e-324}[rng.IntN(7)]
				}
				if n > 0 && trial == 1 {
					// -5e-324 / 3 underflows to -0: it must stay -0.
					split[0], split[1], cnt[0], cnt[1], all[0] = 5e-324, -5e-324, 2, 3, -1
				}
				out := make([]float64, n)
				done, big := tiesFinishFast(split, all, cnt, out, voteSgn)
				if tiesSplitVector && done != n&^3 {
					t.Fatalf("n %d: %d columns done", n, done)
				}
				wantBig := false
				for j := range done {
					p, q := split[2*j], split[2*j+1]
					if tiesBig(p) || tiesBig(q) {
						wantBig = true
						continue
					}
					np, nn := cnt[2*j], cnt[2*j+1]
					el := max(-1, min(np-nn, 1))
					if voteSgn {
						el = int32(tiesSign(all[j]))
					}
					want := tiesElected(p, q, np, nn, el)
					if math.Float64bits(out[j]) != math.Float64bits(want) {
						t.Fatalf("vote %v n %d col %d (%v %v %d %d %v): %v, tiesElected %v", voteSgn, n, j, p, q, np, nn, all[j], out[j], want)
					}
					// The branchy form the tile had, where it is defined.
					var old float64
					switch {
					case el == 1 && np > 0:
						old = tiesNanToZero(p / float64(np))
					case el == -1 && nn > 0:
						old = tiesNanToZero(q / float64(nn))
					case el == 0:
						old = 0
					default:
						continue
					}
					if math.Float64bits(want) != math.Float64bits(old) {
						t.Fatalf("col %d (%v %v %d %d el %d): tiesElected %v, branchy %v", j, p, q, np, nn, el, want, old)
					}
				}
				if big != wantBig {
					t.Fatalf("vote %v n %d: big %v, want %v", voteSgn, n, big, wantBig)
				}
			}
		}
	}
}

// TestTiesCompactAVX2: the vector compaction keeps the keys of the bucket, in order, as the Go
// loop does, over lengths 0..67 and buckets none, some and all of the keys fall in.
func TestTiesCompactAVX2(t *testing.T) {
	rng := rand.New(rand.NewPCG(49, 50))
	for n := range 68 {
		for _, frac := range []int{0, 1, 2, 4, 8} { // 1 in frac keys in the bucket (0: none)
			const b = 0x3f5
			keys := make([]uint32, n)
			var want []uint32
			for j := range keys {
				keys[j] = rng.Uint32() &^ (1 << 31)
				if frac > 0 && rng.IntN(frac) == 0 {
					keys[j] = b<<tiesFineShift | rng.Uint32()&(tiesFineBuckets-1)
				}
				if keys[j]>>tiesFineShift == b {
					want = append(want, keys[j])
				}
			}
			if j, _ := tiesCompactRangeFast(append([]uint32(nil), keys...), b<<tiesFineShift, b<<tiesFineShift|(tiesFineBuckets-1)); tiesSplitVector && j != n&^7 {
				t.Fatalf("n %d: %d keys scanned", n, j)
			}
			m := tiesCompact(keys, b, tiesFineShift)
			if m != len(want) {
				t.Fatalf("n %d frac %d: kept %d, want %d", n, frac, m, len(want))
			}
			for i, u := range want {
				if keys[i] != u {
					t.Fatalf("n %d frac %d: key %d = %#x, want %#x", n, frac, i, keys[i], u)
				}
			}
		}
	}
}

// TestTiesVoterAVX2: tiesVoter gives the same bits with its AVX2 paths (the fused tile below
// one cascade level, the split pass and the finish) as with the Go loops alone, for model
// counts on both sides of the cascade step, both votes, tile widths with tails, thresholds
// from the data and special ones, and columns holding NaNs, infinities, ±0 and subnormals.
func TestTiesVoterAVX2(t *testing.T) {
	if !tiesSplitVector {
		t.Skip("no AVX2")
	}
	t.Cleanup(func() { tiesSplitVector = true })
	rng := rand.New(rand.NewPCG(53, 54))
	special := []float64{0, math.Copysign(0, -1), 5e-324, -5e-324, math.MaxFloat64, -math.MaxFloat64,
		math.NaN(), math.Inf(1), math.Inf(-1)}
	for _, r := range []int{1, 2, 3, 7, 8, 15, 16, 17, 33} {
		for _, n := range []int{16, 35, 512, 1043} {
			for trial := range 3 {
				ms := make([][]float64, r)
				for i := range ms {
					ms[i] = make([]float64, n)
					for j := range ms[i] {
						ms[i][j] = rng.NormFloat64()
						if trial > 0 && rng.IntN(40) == 0 {
							ms[i][j] = special[rng.IntN(len(special)-3*(trial%2))] // trial 1: finite
						}
					}
				}
				th := make([]float64, r)
				for i := range th {
					th[i] = []float64{0.5, 1.2, 0, math.NaN(), 5e-324}[rng.IntN(5)]
				}
				for _, vote := range []bool{false, true} {
					v := newTiesVoter(th, n, vote)
					want, got := make([]float64, n), make([]float64, n)
					tiesSplitVector = false
					v.run(ms, 0, want)
					tiesSplitVector = true
					v.run(ms, 0, got)
					if j := tiesFirstDiff(got, want); j >= 0 {
						t.Fatalf("r %d n %d trial %d vote %v: [%d] = %v, Go loops %v", r, n, trial, vote, j, got[j], want[j])
					}
				}
			}
		}
	}
}
