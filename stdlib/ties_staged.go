package stdlib

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"runtime/debug"
	"slices"
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
	tiesSum.Stage = &ops.StageDef{New: newTiesStager, Scratch: tiesStageScratch, Passes: tiesStagePasses,
		Idle: tiesKeyIdle, Cost: tiesStagedCost}
}

// tiesStagePasses is the statistics passes of a ties_sum Stager for r deltas of n elements:
// one when their keys fit tiesStageKeyBudget, else two.
func tiesStagePasses(r, n int) int {
	if tiesStageOnePass(r, n) {
		return 1
	}
	return 2
}

// tiesKeyIdle is StageDef.Idle of the Stagers that pool key buffers.
func tiesKeyIdle() int64 { return tiesKeyIdleBytes }

// tiesStagedCost is StageDef.Cost: the selection and the AVX2 vote cost about two
// elementwise passes over the deltas (calibrated on the scale-4 TIES benchmark, 8.5 CPU-s in
// all: selection and vote ~1.7 CPU-s, the 16 three-operand subtracts ~1.3; the statistics'
// stream, Observe, ~1.9, is priced apart as the estimate's stream over the arguments).
const tiesStagedCost = 2

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

// The one-pass mode's key buffers are recycled from key to key: a fresh one costs its zeroing
// and page faults, ~5% of a TIES merge's CPU time. The keys of the tensors of a checkpoint
// take a few dozen sizes, so a buffer is made with the capacity of its size class (n rounded
// up to three significant bits: at most tiesKeysCap(n), as Scratch declares) and a later key
// of the same class reuses it. Every key is written before it is read, so a reused buffer
// needs no clearing.
//
// The idle buffers are bounded: at most tiesKeyIdleBufs of them and tiesKeyIdleBytes bytes
// (48 MiB with the default budget), the least recently returned dropped first, and none are
// kept under a Go memory limit (run --max-memory), whose budget counts no idle scratch
// (SPEC §5.2). Unlike a sync.Pool, the GC does not empty the list: the bound is the price.
// On the scale-4 SDXL TIES benchmark (8 deltas, -j 2: the workers interleave their sizes)
// 48 MiB and 12 buffers allocate 241 of the 4.9 GiB of keys afresh, 32 MiB and 8 buffers
// 852 MiB, one worker with 32 MiB 285 MiB.
const tiesKeyIdleBufs = 12

// tiesKeyIdleBytes bounds the bytes of the idle key buffers (a variable for the tests).
var tiesKeyIdleBytes = 3 * tiesStageKeyBudget

// tiesKeyFree is the list of idle key buffers, shared by the workers.
var tiesKeyFree struct {
	sync.Mutex
	bufs  [][]uint32 // oldest first
	bytes int64
}

// tiesKeyClass is the capacity of n keys' size class: n rounded up to three significant bits,
// so at most n + n/4 (tiesKeysCap).
func tiesKeyClass(n int) int {
	if n < 8 {
		return n
	}
	sh := bits.Len(uint(n)) - 3
	return (n + 1<<sh - 1) >> sh << sh
}

// tiesKeysCap is the largest key buffer tiesGetKeys hands out for n keys.
func tiesKeysCap(n int) int { return n + n/4 }

// tiesGetKeys returns a buffer of n keys, a recycled one of n's size class if one is idle.
func tiesGetKeys(n int) []uint32 {
	c := tiesKeyClass(n)
	f := &tiesKeyFree
	f.Lock()
	for i := len(f.bufs) - 1; i >= 0; i-- {
		if b := f.bufs[i]; cap(b) == c {
			f.bufs = slices.Delete(f.bufs, i, i+1)
			f.bytes -= 4 * int64(c)
			f.Unlock()
			return b[:n]
		}
	}
	f.Unlock()
	return make([]uint32, n, c)
}

// tiesPutKeys makes b idle for a later tiesGetKeys, within the bounds above.
func tiesPutKeys(b []uint32) {
	if debug.SetMemoryLimit(-1) != math.MaxInt64 {
		return
	}
	f := &tiesKeyFree
	f.Lock()
	defer f.Unlock()
	f.bufs = append(f.bufs, b)
	f.bytes += 4 * int64(cap(b))
	for len(f.bufs) > tiesKeyIdleBufs || f.bytes > tiesKeyIdleBytes {
		f.bytes -= 4 * int64(cap(f.bufs[0]))
		f.bufs = slices.Delete(f.bufs, 0, 1) // (clears the vacated slot: no stale reference)
	}
}

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
	// nanToNum: the output goes through torch.nan_to_num's defaults (the 0.0.x cores: NaN
	// -> 0, +-inf -> +-max) instead of 1.1.5's nan_to_num(nan=0, posinf=0, neginf=0).
	nanToNum bool

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
	s, ok := newTiesStagerFor(r, n, o.k, o.voteSgn)
	if !ok {
		return nil, false, nil
	}
	return s, true, nil
}

// newTiesStagerFor is the Stager of a ties_sum core over r deltas of n elements with top-k
// fraction k and the given vote; false when k is not one the whole kernel accepts.
func newTiesStagerFor(r, n int, k float64, voteSgn bool) (*tiesStager, bool) {
	kk, err := tiesTopKIndex(n, k)
	if err != nil {
		return nil, false
	}
	return &tiesStager{r: r, n: n, rank: kk - 1, voteSgn: voteSgn, passes: tiesStagePasses(r, n)}, true
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
			// The chunk's keys are scratch: compact them in place, then append (the same keys
			// in the same order as the loop alone).
			m := tiesCompact(keys, b, tiesFineShift)
			s.cand[i] = append(s.cand[i], keys[:m]...)
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
			m := tiesCompact(keys, b, tiesFineShift)
			s.th[i] = float64(math.Float32frombits(tiesSelectInBucket(keys[:m], rank)))
		}
		tiesPutKeys(s.keys)
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
				u = tiesSelectInBucket(s.cand[i], s.inRank[i])
			}
			s.th[i] = float64(math.Float32frombits(u))
		}
		s.cand, s.fine = nil, nil
	default:
		return fmt.Errorf("ties_sum: end of statistics pass %d of %d", pass, s.passes)
	}
	s.voter = newTiesVoter(s.th, s.n, s.voteSgn)
	s.voter.nanToNum = s.nanToNum
	return nil
}

// tiesCompact moves the keys u with u >> shift == want to the front of keys, in order, and
// returns their count.
func tiesCompact(keys []uint32, want uint32, shift uint) int {
	j, m := tiesCompactFast(keys, want, shift)
	for _, u := range keys[j:] {
		keys[m] = u // kept only if it matches: no branch on random data
		m += int(tiesB2I(u>>shift == want))
	}
	return m
}

// tiesSelectMin is the fewest keys tiesSelectInBucket narrows by a histogram before the
// quickselect.
const tiesSelectMin = 1 << 12

// tiesSelectInBucket returns the rank-th smallest (0-based) of keys, which share their coarse
// bucket (bits 20..30), reordering them: a histogram of bits 10..19 finds the sub-bucket of the
// rank, whose keys are compacted to the front and quickselected. The value is selectKthU32's
// (the rank-th smallest is one number however it is found); the histogram pass and the
// compaction cost less than quickselect's partitions of the whole bucket, whose branches
// mispredict on random keys.
func tiesSelectInBucket(keys []uint32, rank int) uint32 {
	if len(keys) < tiesSelectMin {
		return selectKthU32(keys, rank)
	}
	const sub = 10
	var h [1 << sub]uint32
	for _, u := range keys {
		h[u>>sub&(1<<sub-1)]++
	}
	b := 0
	for rank >= int(h[b]) {
		rank -= int(h[b])
		b++
	}
	m := tiesCompact(keys, keys[0]>>tiesFineShift<<sub|uint32(b), sub)
	return selectKthU32(keys[:m], rank)
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
