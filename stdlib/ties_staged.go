package stdlib

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/mechac/mechac/ops"
)

// The staged form of ties_sum (SPEC §5.4): the only whole-tensor statistics of ties_sum are
// the R thresholds (the float32 kthvalue of each delta's magnitudes), so the statistics passes
// find them by a radix select over the chunks, and the output pass is tiesVoter on each chunk:
// the bytes of tiesSum.Kernel for any chunking (tests in ties_staged_test.go).

// tiesStageKeyBudget is the most bytes of float32 magnitude keys (4 per element of every
// delta) a ties_sum Stager stores to find its thresholds in one statistics pass; above it, it
// takes two passes and stores only the keys of the chosen histogram bucket. On the scale-4
// SDXL TIES benchmark (8 deltas, -j 2) 16 MiB costs the same CPU time as 64 MiB at about half
// the peak RSS (~180 against ~350 MiB), and two passes everywhere (0) ~20% more CPU time at
// ~90 MiB. A variable so that the tests can force either mode.
var tiesStageKeyBudget int64 = 16 << 20

// tiesStageCandCap is the most keys of one delta's chosen bucket the two-pass mode collects;
// a larger bucket (values crowded into one 2^20-wide range of magnitude bit patterns) is
// counted instead, in a histogram of the keys' low 20 bits (tiesFineBuckets counters).
var tiesStageCandCap = 1 << 20

// A magnitude key (absKey) has its sign bit clear: its top 11 bits (u >> 20) are the coarse
// bucket (as in tiesKthAbsF32), its low 20 bits the fine one.
const (
	tiesCoarseBits  = 11
	tiesFineShift   = 20
	tiesFineBuckets = 1 << tiesFineShift
)

func init() {
	// Passes: the rule newTiesStager applies (one pass when the keys fit the budget).
	tiesSum.Stage = &ops.StageDef{New: newTiesStager, Scratch: tiesStageScratch, Passes: func(r, n int) int {
		if tiesStageOnePass(r, n) {
			return 1
		}
		return 2
	}}
}

// tiesStageOnePass reports whether r deltas of n elements fit the key budget.
func tiesStageOnePass(r, n int) bool { return 4*int64(r)*int64(n) <= tiesStageKeyBudget }

// tiesStageScratch is StageDef.Scratch: the histograms, the keys (all of them in one-pass
// mode; in two-pass mode one bucket's or the fine histogram, per delta) and the voter.
func tiesStageScratch(r, n int) int64 {
	b := int64(r) * (4<<tiesCoarseBits + 128) // the histograms and the per-delta slices
	if tiesStageOnePass(r, n) {
		b += 4 * int64(tiesKeysCap(r*n))
	} else {
		per := 4 * int64(n)
		if n > tiesStageCandCap {
			per = 4 * int64(max(tiesStageCandCap, tiesFineBuckets))
		}
		b += int64(r) * per
	}
	return b + tiesVoterBytes(r) + tiesSmallScratch(r)
}

// tiesKeyBufs recycles the one-pass mode's key buffers (at most tiesStageKeyBudget bytes
// each) from key to key: a fresh one costs its zeroing and page faults, ~5% of a TIES merge's
// CPU time. Every key is written before it is read, so a reused buffer needs no clearing.
var tiesKeyBufs sync.Pool

// tiesGetKeys returns a buffer of n keys, a recycled one when one holds n to 5n/4 keys (so
// that a Stager holds at most tiesKeysCap(n) keys, as Scratch declares).
func tiesGetKeys(n int) []uint32 {
	if p, ok := tiesKeyBufs.Get().(*[]uint32); ok {
		if c := cap(*p); c >= n && c <= tiesKeysCap(n) {
			return (*p)[:n]
		}
		// Dropped, not put back: the pool would pile up buffers of every size.
	}
	return make([]uint32, n)
}

// tiesKeysCap is the largest key buffer tiesGetKeys hands out for n keys.
func tiesKeysCap(n int) int { return n + n/4 }

// tiesStager is ties_sum's Stager for one key.
type tiesStager struct {
	r, n    int
	rank    int // tiesTopKIndex - 1: the 0-based rank of every threshold
	voteSgn bool
	passes  int
	pos     int // the next element offset Observe expects

	hist []uint32 // r x 2^11 coarse histograms
	keys []uint32 // one-pass mode: r x n magnitude keys

	// Two-pass mode, per delta: the chosen coarse bucket, the rank inside it, and either the
	// bucket's keys (cand) or the histogram of their low bits (fine).
	bucket []uint32
	inRank []int
	cand   [][]uint32
	fine   [][]uint32

	th    []float64
	voter *tiesVoter

	// scratch holds one chunk's magnitude keys where they are not kept (chunkKeys).
	scratch []uint32
}

// chunkKeys returns scratch room for n keys.
func (s *tiesStager) chunkKeys(n int) []uint32 {
	if cap(s.scratch) < n {
		s.scratch = make([]uint32, n)
	}
	return s.scratch[:n]
}

// newTiesStager is StageDef.New for ties_sum. A call the whole kernel rejects (a bad k) or
// treats specially (no deltas, no elements) is not staged, so its error and bytes stay the
// whole kernel's.
func newTiesStager(c ops.StageCall) (ops.Stager, bool, error) {
	kw, _, err := complete(tiesSum, tiesSum.KwOnly, c.Kw, c.Numerics)
	if err != nil {
		return nil, false, nil
	}
	o, err := readTiesOpts("ties_sum", []ops.Param{{Name: "k"}, {Name: "vote_sgn"}}, kw)
	if err != nil {
		return nil, false, nil
	}
	r, n := c.Tensors, ops.NumElements(c.Shape)
	if r == 0 || n == 0 {
		return nil, false, nil
	}
	kk, err := tiesTopKIndex(n, o.k)
	if err != nil {
		return nil, false, nil
	}
	s := &tiesStager{r: r, n: n, rank: kk - 1, voteSgn: o.voteSgn, passes: 2}
	if tiesStageOnePass(r, n) {
		s.passes = 1
	}
	return s, true, nil
}

// Passes is 1 when the keys fit tiesStageKeyBudget, else 2.
func (s *tiesStager) Passes() int { return s.passes }

// errTiesBroadcast: a chunk shorter or longer than the others is a broadcast argument, which
// the whole kernel expands; the staged form does not.
var errTiesBroadcast = fmt.Errorf("ties_sum: chunks of unequal lengths: %w", ops.ErrUnstaged)

// check validates one call's chunks: r of them, all of length want, at the expected offset.
func (s *tiesStager) check(lo int, args [][]float64, want int) error {
	if len(args) != s.r {
		return fmt.Errorf("ties_sum: %d chunks for %d deltas", len(args), s.r)
	}
	for _, a := range args {
		if len(a) != want {
			return errTiesBroadcast
		}
	}
	if lo != s.pos || lo+want > s.n {
		return fmt.Errorf("ties_sum: chunk [%d, %d) out of order (expected offset %d of %d)", lo, lo+want, s.pos, s.n)
	}
	s.pos += want
	return nil
}

// Observe adds the chunks to the histograms (pass 0, storing the keys in one-pass mode) or
// collects or counts the keys in the chosen buckets (pass 1).
// tiesHistLanes is the number of histograms pass 0 fills per delta (Observe).
const tiesHistLanes = 4

func (s *tiesStager) Observe(pass, lo int, args [][]float64) error {
	if len(args) == 0 {
		return s.check(lo, args, 0)
	}
	if err := s.check(lo, args, len(args[0])); err != nil {
		return err
	}
	const nb = 1 << tiesCoarseBits
	switch pass {
	case 0:
		if s.hist == nil {
			// Four histograms per delta, merged at EndPass: consecutive elements of similar
			// magnitude hit the same bucket, and one histogram makes each increment wait
			// for the previous one's store.
			s.hist = make([]uint32, s.r*nb*tiesHistLanes)
			if s.passes == 1 {
				s.keys = tiesGetKeys(s.r * s.n)
			}
		}
		for i, a := range args {
			hs := s.hist[i*nb*tiesHistLanes : (i+1)*nb*tiesHistLanes]
			h0, h1, h2, h3 := hs[:nb:nb], hs[nb:2*nb:2*nb], hs[2*nb:3*nb:3*nb], hs[3*nb:4*nb:4*nb]
			// The keys go where one-pass mode keeps them, else to a chunk's scratch.
			var keys []uint32
			if s.passes == 1 {
				keys = s.keys[i*s.n+lo : i*s.n+lo+len(a)]
			} else {
				keys = s.chunkKeys(len(a))
			}
			tiesAbsKeys(keys, a)
			j, m := 0, len(keys)&^3
			for ; j < m; j += 4 {
				k := keys[j : j+4 : j+4]
				h0[k[0]>>tiesFineShift&(nb-1)]++
				h1[k[1]>>tiesFineShift&(nb-1)]++
				h2[k[2]>>tiesFineShift&(nb-1)]++
				h3[k[3]>>tiesFineShift&(nb-1)]++
			}
			for ; j < len(keys); j++ {
				h0[keys[j]>>tiesFineShift&(nb-1)]++
			}
		}
	case 1:
		for i, a := range args {
			b := s.bucket[i]
			keys := s.chunkKeys(len(a))
			tiesAbsKeys(keys, a)
			if f := s.fine[i]; f != nil {
				for _, u := range keys {
					if u>>tiesFineShift == b {
						f[u&(tiesFineBuckets-1)]++
					}
				}
				continue
			}
			c := s.cand[i]
			for _, u := range keys {
				if u>>tiesFineShift == b {
					c = append(c, u)
				}
			}
			s.cand[i] = c
		}
	default:
		return fmt.Errorf("ties_sum: statistics pass %d of %d", pass, s.passes)
	}
	return nil
}

// coarse returns the bucket of delta i's coarse histogram holding the rank-th smallest key
// and the rank inside it.
func (s *tiesStager) coarse(i int) (uint32, int) {
	const nb = 1 << tiesCoarseBits
	h := s.hist[i*nb : (i+1)*nb]
	rank, b := s.rank, 0
	for rank >= int(h[b]) {
		rank -= int(h[b])
		b++
	}
	return uint32(b), rank
}

// EndPass selects the thresholds (one-pass mode, or pass 1) or prepares pass 1.
func (s *tiesStager) EndPass(pass int) error {
	if s.pos != s.n {
		return fmt.Errorf("ties_sum: pass %d saw %d of %d elements", pass, s.pos, s.n)
	}
	s.pos = 0
	if pass == 0 {
		// Merge the lanes of each delta's histograms into the first r*nb entries.
		const nb = 1 << tiesCoarseBits
		for i := range s.r {
			dst := s.hist[i*nb : (i+1)*nb]
			lanes := s.hist[i*nb*tiesHistLanes : (i+1)*nb*tiesHistLanes]
			var sum [nb]uint32
			for l := range tiesHistLanes {
				for b, c := range lanes[l*nb : (l+1)*nb] {
					sum[b] += c
				}
			}
			copy(dst, sum[:])
		}
	}
	s.th = make([]float64, s.r)
	switch {
	case pass == 0 && s.passes == 1:
		for i := range s.r {
			b, rank := s.coarse(i)
			// The bucket's keys, moved to the front of the delta's own keys, then selected.
			keys := s.keys[i*s.n : (i+1)*s.n]
			m := 0
			for _, u := range keys {
				keys[m] = u // kept only if in the bucket: no branch on random data
				m += int(tiesB2I(u>>tiesFineShift == b))
			}
			s.th[i] = float64(math.Float32frombits(selectKthU32(keys[:m], rank)))
		}
		keys := s.keys
		tiesKeyBufs.Put(&keys)
		s.keys, s.hist = nil, nil
	case pass == 0:
		s.bucket, s.inRank = make([]uint32, s.r), make([]int, s.r)
		s.cand, s.fine = make([][]uint32, s.r), make([][]uint32, s.r)
		const nb = 1 << tiesCoarseBits
		for i := range s.r {
			b, rank := s.coarse(i)
			s.bucket[i], s.inRank[i] = b, rank
			if c := int(s.hist[i*nb+int(b)]); c <= tiesStageCandCap {
				s.cand[i] = make([]uint32, 0, c)
			} else {
				s.fine[i] = make([]uint32, tiesFineBuckets)
			}
		}
		s.hist = nil
		return nil
	case pass == 1:
		for i := range s.r {
			var u uint32
			if f := s.fine[i]; f != nil {
				rank, low := s.inRank[i], 0
				for rank >= int(f[low]) {
					rank -= int(f[low])
					low++
				}
				u = s.bucket[i]<<tiesFineShift | uint32(low)
			} else {
				u = selectKthU32(s.cand[i], s.inRank[i])
			}
			s.th[i] = float64(math.Float32frombits(u))
		}
		s.cand, s.fine = nil, nil
	default:
		return fmt.Errorf("ties_sum: end of statistics pass %d of %d", pass, s.passes)
	}
	s.voter = newTiesVoter(s.th, s.n, s.voteSgn)
	return nil
}

// errTiesNoThresholds is an output chunk asked for before the statistics passes ended.
var errTiesNoThresholds = errors.New("ties_sum: output chunk before the statistics passes")

// Chunk writes the output chunk at lo: tiesVoter with the thresholds known.
func (s *tiesStager) Chunk(lo int, args [][]float64, out []float64) error {
	if s.voter == nil {
		return errTiesNoThresholds
	}
	if err := s.check(lo, args, len(out)); err != nil {
		return err
	}
	s.voter.run(args, lo, out)
	return nil
}
