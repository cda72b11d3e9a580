package stdlib

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/num"
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
	tiesSum.Stage = tiesStageDef(newTiesStager)
}

// tiesStageDef is the StageDef of ties_sum's Stager made by newStager (ties_sum, and the 0.0.x
// cores it serves).
func tiesStageDef(newStager func(c ops.StageCall) (ops.Stager, bool, error)) *ops.StageDef {
	return &ops.StageDef{New: newStager, Scratch: tiesStageScratch, Passes: tiesStagePasses,
		KeyPasses: tiesStageKeyPasses, Idle: tiesKeyIdle, Cost: tiesStagedCost}
}

// tiesStagePasses is the statistics passes of a ties_sum Stager for r deltas of n elements:
// one when their keys fit tiesStageKeyBudget, else two.
func tiesStagePasses(r, n int) int {
	if tiesStageOnePass(r, n) {
		return 1
	}
	return 2
}

// tiesStageKeyPasses is StageDef.KeyPasses: from the stored bytes, keys of tiesSampleMin
// elements or more take the sample and the range pass (ObserveKeys), fewer one histogram
// pass (or two, past the key budget).
func tiesStageKeyPasses(r, n int) int {
	if n >= tiesSampleMin {
		return 2
	}
	return tiesStagePasses(r, n)
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
	// The histograms (four lanes in a histogram pass of tiesHistLanesMin keys or more: after
	// a missed bracket) and the per-delta slices.
	lanes := int64(1)
	if n >= tiesHistLanesMin {
		lanes = tiesHistLanes
	}
	b := int64(r) * (4<<tiesCoarseBits*lanes + 128)
	if tiesStageOnePass(r, n) {
		b += 4 * int64(tiesKeysCap(r*n)+tiesOneCandCap(n)) // the keys, a bracket's copy
	} else {
		// A bucket's or bracket's keys (tiesRangeSplit may pass its limit by a segment), or
		// the fine histogram past tiesStageCandCap of them.
		per := 4 * int64(min(n, max(tiesStageCandCap, tiesFineBuckets))+tiesSplitSegment+8)
		b += int64(r) * per
	}
	return b + tiesVoterBytes(r) + tiesSmallScratch(r)
}

// Key buffers are recycled from key to key: the one-pass mode's keys, a chunk's scratch keys
// and the bracket's collected keys. A fresh one costs its zeroing and page faults, ~5% of a
// TIES merge's CPU time. The keys of the tensors of a checkpoint take a few dozen sizes, so a
// buffer is made with the capacity of its size class (n rounded up to three significant bits:
// at most tiesKeysCap(n), as Scratch declares) and a later key of that class or a somewhat
// smaller one reuses it.
// Every key is written before it is read, so a reused buffer needs no clearing.
//
// The idle buffers are bounded: at most tiesKeyIdleBufs of them and tiesKeyIdleBytes bytes
// (48 MiB with the default budget), the least recently returned dropped first, and none are
// kept under a memory budget (run --max-memory: KeepIdleBuffers), which counts no idle
// scratch (SPEC §5.2). Unlike a sync.Pool, the GC does not empty the list: the bound is the price.
// On the scale-4 SDXL TIES benchmark (8 deltas, -j 2: the workers interleave their sizes;
// keys from the stored bytes, so a scratch and 8 brackets per key) 48 MiB and 48 buffers
// allocated 114 MiB afresh, 24 buffers 349 MiB, 12 buffers 519 MiB (4.78 against 5.14 CPU-s).
// With the sparse sample's brackets (more sizes) 48 buffers allocated 161 MiB afresh, 128
// buffers and a larger class accepted (tiesGetKeys) 36 MiB: page faults per run 14.1 K ->
// 11.7 K, CPU time -4.5% in 14 interleaved pairs (and within the noise in 12 others). Idle
// buffers of up to tiesKeyReuse times the class, the smallest first: 35.5 -> 13.9 MiB afresh,
// peak RSS 138-144 -> 123-125 MB, -2.5% wall over 10 interleaved pairs (in an hour when fresh
// memory was dear; the same time in another).
const tiesKeyIdleBufs = 128

// tiesKeyReuse is how many times n keys' class an idle buffer tiesGetKeys hands out for them
// may hold. A larger buffer than the key's Scratch declares costs no memory: it is resident
// already, among the idle buffers the plan's peak counts (StageDef.Idle), and a run under a
// memory budget keeps none. A fresh buffer costs its zeroing and its page faults, which this
// virtual machine makes dear (~1-2.5 ms a MiB for fresh memory).
const tiesKeyReuse = 4

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

// tiesGetKeys returns a buffer of n keys: an idle one if one fits (tiesKeyReuse), else a new
// one of n's size class.
func tiesGetKeys(n int) []uint32 {
	c := tiesKeyClass(n)
	f := &tiesKeyFree
	f.Lock()
	// The newest idle buffer of n's class, else the smallest larger one up to tiesKeyReuse
	// times the class.
	best := -1
	for i := len(f.bufs) - 1; i >= 0; i-- {
		cb := cap(f.bufs[i])
		if cb == c {
			best = i
			break
		}
		if cb > c && cb <= tiesKeyReuse*c && (best < 0 || cb < cap(f.bufs[best])) {
			best = i
		}
	}
	if best >= 0 {
		b := f.bufs[best]
		f.bufs = slices.Delete(f.bufs, best, best+1)
		f.bytes -= 4 * int64(cap(b))
		f.Unlock()
		return b[:n]
	}
	f.Unlock()
	return make([]uint32, n, c)
}

// tiesNoIdle: keep no idle key buffers (KeepIdleBuffers(false): a run under a memory budget).
var tiesNoIdle atomic.Bool

// tiesPutKeys makes b idle for a later tiesGetKeys, within the bounds above.
func tiesPutKeys(b []uint32) {
	if tiesNoIdle.Load() {
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
//
// Each delta's threshold is the rank-th smallest of its magnitude keys. The statistics passes
// find it in phases (tiesPhase), planned at New and extended when a guess fails:
//
//   - One-pass mode (the keys fit tiesStageKeyBudget; all of them are stored): a sample pass
//     (tiesSample) histograms one key in eight; EndPass brackets the rank from the sample,
//     counts the stored keys below and inside the bracket, and selects among those inside when
//     the rank falls there; else it histograms the stored keys and selects in the coarse bucket
//     of the rank (no extra pass). Keys below tiesSampleMin skip the sample.
//   - Two-pass mode: the sample pass (sparse where the source offers whole deltas:
//     sampleSparse), then a range pass (tiesRange) that counts each delta's
//     keys below its bracket and collects those inside; when the rank misses a bracket (or a
//     bracket holds more than tiesStageCandCap keys), a histogram pass and a bucket pass follow,
//     as without a sample (tiesHist, tiesBucket).
//
// The threshold is one number however it is found, so the bytes are the whole kernel's in every
// phase plan (ties_staged_test.go runs them all, the failed guesses included).
type tiesStager struct {
	r, n    int
	rank    int // tiesTopKIndex - 1: the 0-based rank of every threshold
	voteSgn bool
	onePass bool
	plan    []tiesPhase // the phase of each statistics pass
	pos     int         // the next element offset Observe expects
	shift   int         // tiesSample takes one key in 1 << shift

	hist  []uint32 // r x 2^11 coarse histograms (x lanes)
	lanes int      // histograms per delta: tiesHistLanes in a tiesHist pass of many keys, else 1
	keys  []uint32 // one-pass mode: r x n magnitude keys

	// The bracket of each delta's rank (tiesSample), and in tiesRange the count of keys below
	// it and its keys (in cand; nil once more than tiesStageCandCap arrived).
	lo, hi []uint32
	below  []int
	over   []bool

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

	// scratch holds one chunk's magnitude keys where they are not kept (chunkKeys); at, the
	// offsets of a chunk's sampled elements.
	scratch []uint32
	at      []uint32
	// sampled marks the deltas sampleSparse sampled (nil: none), spread their brackets'
	// widening (tiesRunSpread).
	sampled []bool
	spread  []float64
}

// tiesPhase is what a statistics pass of tiesStager does.
type tiesPhase uint8

const (
	tiesHist   tiesPhase = iota // every key into the coarse histograms (stored in one-pass mode)
	tiesBucket                  // two-pass: collect or count the keys of the rank's coarse bucket
	tiesSample                  // one key in eight into the coarse histograms (all stored in one-pass mode)
	tiesRange                   // two-pass: count the keys below the bracket, collect those inside
)

// tiesSampleMin is the fewest elements a key needs for the sample pass (below it a histogram
// of every key costs less than the bracket's bookkeeping). A variable for the tests.
var tiesSampleMin = 1 << 14

// The sample takes one key in 1 << shift, shift from tiesSampleShiftMin to tiesSampleShiftMax:
// about tiesSampleTarget keys once n is large enough (tiesSampleShift). Past a few thousand
// keys the bracket is one or two coarse buckets wide however many more are sampled (a coarse
// bucket is a quarter octave of magnitudes, several percent of a delta's keys), so a larger
// sample costs its loop and buys little: at one key in eight the loop was 5% of the scale-4
// TIES benchmark's CPU time; 2^13 keys cost 20% less than 2^14 in the loop, and the same in
// the split and the selection, which a wider bracket makes copy more (perf samples).
const (
	tiesSampleShiftMin = 3
	tiesSampleShiftMax = 6
	tiesSampleTarget   = 1 << 13
)

// tiesSampleShift is the sample's shift for keys of n elements.
func tiesSampleShift(n int) int {
	return min(tiesSampleShiftMax, max(tiesSampleShiftMin, bits.Len(uint(n/tiesSampleTarget))-1))
}

// tiesSampleSigmas is the bracket's half-width around the rank's place in the sample, in
// standard deviations of a sample quantile (plus tiesSampleSlack keys). At 4 a bracket misses
// about once in 16000 deltas of random data. A variable: the tests make it miss (a negative
// value gives a bracket that holds no key).
var tiesSampleSigmas = 4.0

const tiesSampleSlack = 3

// tiesSampleMisses counts the brackets that missed their rank (for the tests).
var tiesSampleMisses atomic.Int64

// chunkKeys returns scratch room for n keys (from the idle key buffers: a fresh one per key
// costs its zeroing; everything is written before it is read).
func (s *tiesStager) chunkKeys(n int) []uint32 {
	if cap(s.scratch) < n {
		s.putKeys(s.scratch)
		s.scratch = tiesGetKeys(n)
	}
	return s.scratch[:n]
}

// putKeys makes b idle for later keys if it is a buffer tiesGetKeys made (its capacity is a
// size class: one grown by append is dropped).
func (s *tiesStager) putKeys(b []uint32) {
	if c := cap(b); c > 0 && tiesKeyClass(c) == c {
		tiesPutKeys(b)
	}
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
	s := &tiesStager{r: r, n: n, rank: kk - 1, voteSgn: voteSgn, onePass: tiesStageOnePass(r, n), shift: tiesSampleShift(n)}
	switch {
	case n < tiesSampleMin && s.onePass:
		s.plan = []tiesPhase{tiesHist}
	case n < tiesSampleMin:
		s.plan = []tiesPhase{tiesHist, tiesBucket}
	case s.onePass:
		s.plan = []tiesPhase{tiesSample}
	default:
		s.plan = []tiesPhase{tiesSample, tiesRange}
	}
	return s, true
}

// Passes is the length of the phase plan: 1 in one-pass mode, 2 in two-pass mode, 4 after a
// two-pass bracket missed its rank.
func (s *tiesStager) Passes() int { return len(s.plan) }

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
	return s.advance(lo, want)
}

// advance checks that the chunk [lo, lo+want) is the next one and moves past it.
func (s *tiesStager) advance(lo, want int) error {
	if lo != s.pos || lo+want > s.n {
		return fmt.Errorf("ties_sum: chunk [%d, %d) out of order (expected offset %d of %d)", lo, lo+want, s.pos, s.n)
	}
	s.pos += want
	return nil
}

// tiesHistLanes is the number of histograms a tiesHist pass fills per delta (Observe), from
// tiesHistLanesMin elements: below, clearing and merging four lanes of 2^11 counters per delta
// costs more than the waits one lane makes (a histogram pass of keys under 2^14 elements, the
// most numerous kind of key of a checkpoint, was 3% of the scale-4 TIES benchmark's CPU time
// in clearing alone).
const (
	tiesHistLanes    = 4
	tiesHistLanesMin = 1 << 14
)

// Observe runs the pass's phase over the chunks (see tiesStager).
func (s *tiesStager) Observe(pass, lo int, args [][]float64) error {
	if len(args) == 0 {
		return s.check(lo, args, 0)
	}
	if err := s.check(lo, args, len(args[0])); err != nil {
		return err
	}
	return s.observe(pass, lo, len(args[0]), floatKeys(args))
}

// floatKeys is the ops.KeySource of float64 chunks: absKey of their elements.
type floatKeys [][]float64

func (f floatKeys) Keys(i int, dst []uint32) error {
	tiesAbsKeys(dst, f[i])
	return nil
}

// ObserveKeys is Observe with the keys computed by the caller (ops.KeyObserver): the same
// phase over the same keys.
//
// Keys that cost the caller no more than reading the stored bytes make a second pass cheaper
// than storing every key: so a one-pass sample plan becomes the two-pass one (a sample pass,
// then a range pass over the keys again) when pass 0 starts here. On the scale-4 TIES
// benchmark that is the same CPU time at half the peak RSS, and the key stores and reloads it
// saves are memory traffic that two workers share.
func (s *tiesStager) ObserveKeys(pass, lo, n int, src ops.KeySource) error {
	if pass == 0 && lo == 0 && s.onePass && s.keys == nil && slices.Equal(s.plan, []tiesPhase{tiesSample}) {
		s.onePass, s.plan = false, []tiesPhase{tiesSample, tiesRange}
	}
	if err := s.advance(lo, n); err != nil {
		return err
	}
	return s.observe(pass, lo, n, src)
}

// observe runs the pass's phase over the chunk [lo, lo+n) of every delta, whose keys src
// gives.
func (s *tiesStager) observe(pass, lo, n int, src ops.KeySource) error {
	if pass < 0 || pass >= len(s.plan) {
		return fmt.Errorf("ties_sum: statistics pass %d of %d", pass, len(s.plan))
	}
	const nb = 1 << tiesCoarseBits
	phase := s.plan[pass]
	if (phase == tiesHist || phase == tiesSample) && s.hist == nil {
		s.lanes = 1
		if phase == tiesHist && s.n >= tiesHistLanesMin {
			// Four histograms per delta, merged at EndPass: consecutive elements of similar
			// magnitude hit the same bucket, and one histogram makes each increment wait for
			// the previous one's store.
			s.lanes = tiesHistLanes
		}
		s.hist = tiesGetKeys(s.r * nb * s.lanes) // (recycled: 64 KiB a key for 8 deltas)
		clear(s.hist)
		if s.onePass && s.keys == nil {
			s.keys = tiesGetKeys(s.r * s.n)
		}
	}
	if phase == tiesSample && lo == 0 && !s.onePass {
		s.sampleSparse(src)
	}
	if phase == tiesSample && s.sparseAll() {
		return nil // every delta sampled at the first chunk
	}
	// The full sample's offsets, the same for every delta. (Asking the caller for the sampled
	// keys alone cost more than all of them: each is on a cache line of its own, read either
	// way, and the scattered reads wait for memory where a stream is prefetched. Measured: the
	// sparse sample takes whole lines.) Their buffer is a recycled key buffer: a fresh slice
	// per key was 79 of the TIES benchmark's 618 MB allocated, and computing them per delta
	// cost 2% of its CPU time.
	if phase == tiesSample {
		if need := n>>s.shift + 2; cap(s.at) < need {
			s.putKeys(s.at)
			s.at = tiesGetKeys(need)
		}
		s.at = tiesSampleChunk(s.at[:0], lo, n, s.shift)
	}
	for i := range s.r {
		if phase == tiesRange && (s.over[i] || s.rangeFused(i, src)) {
			continue // missed already, or done
		}
		if phase == tiesSample && s.sampled != nil && s.sampled[i] {
			continue // sampled sparsely at the first chunk
		}
		// The keys go where one-pass mode keeps them, else to a chunk's scratch.
		var keys []uint32
		if s.onePass && (phase == tiesHist || phase == tiesSample) {
			keys = s.keys[i*s.n+lo : i*s.n+lo+n]
		} else {
			keys = s.chunkKeys(n)
		}
		if err := src.Keys(i, keys); err != nil {
			return err
		}
		switch phase {
		case tiesHist:
			if s.lanes == 1 {
				h := s.hist[i*nb : (i+1)*nb : (i+1)*nb]
				for _, u := range keys {
					h[u>>tiesFineShift&(nb-1)]++
				}
				break
			}
			hs := s.hist[i*nb*tiesHistLanes : (i+1)*nb*tiesHistLanes]
			tiesHistogram4(hs, keys)
		case tiesSample:
			h := s.hist[i*nb : (i+1)*nb : (i+1)*nb]
			for _, j := range s.at {
				h[keys[j]>>tiesFineShift&(nb-1)]++
			}
		case tiesRange:
			cand, below, ok := tiesRangeSplit(s.cand[i], keys, s.lo[i], s.hi[i], tiesStageCandCap)
			s.cand[i], s.below[i] = cand, s.below[i]+below
			if !ok {
				s.over[i], s.cand[i] = true, nil
			}
		case tiesBucket:
			b := s.bucket[i]
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
	}
	return nil
}

// The sparse sample. The sample pass over every element of a large delta costs a pass over
// its bytes in memory, which is what the statistics and output passes are bound by, for a few
// thousand sampled keys. Where the source offers the whole delta's stored bytes
// (ops.WholeKeySource), the sample takes tiesSparseRuns runs of one cache line each instead:
// one run at a hashed place in each of tiesSparseRuns equal strata of the tensor, every key of
// the run. The bracket then widens by how much more the fraction of keys below the rank varies
// from run to run than it would for as many independent keys (tiesRunSpread: neighbours in a
// row of a weight matrix share its scale), and a delta whose runs vary more than
// tiesSparseMaxSpread times that takes the full sample instead. On the scale-4 TIES benchmark
// the full sample pass was ~11% of the CPU time, the sparse one ~3%.
//
// Why 3: a bracket collects ~3.5% more of the delta's keys per unit of spread (4 standard
// deviations each side of a 2^13-key sample), and a collected key costs ~2.5 ns (its store in
// the split, its share of the selection) where the full sample costs ~0.2 ns per element: the
// wider bracket costs more than the full sample past a spread of about 3.3. Lognormal row
// scales of sigma 0.3, 0.6 and 1 give spreads of about 2, 2.8 and 3.5.
const (
	tiesSparseRuns      = 256 // runs per delta
	tiesSparseRunBytes  = 64  // a run is one cache line of the stored delta
	tiesSparseMinStrata = 8   // lines per stratum at the least: below, the full sample
	tiesSparseMaxSpread = 3.0
)

// tiesRunBufs holds the sparse sample's gathered bytes: a delta's runs, then the base's.
var tiesRunBufs = sync.Pool{New: func() any { return new([2 * tiesSparseRuns * tiesSparseRunBytes]byte) }}

// tiesSparseDeltas counts the deltas the sparse sample served (for the tests).
var tiesSparseDeltas atomic.Int64

// sampleSparse runs the tiesSample phase with the sparse sample over each delta that src
// offers whole, marking those it did in s.sampled and their bracket's widening in s.spread.
// A delta with a key that is not finite in its runs is left to the full sample, which decides
// what such a key means (Keys); keys it does not sample the range pass checks (rangeFused).
func (s *tiesStager) sampleSparse(src ops.KeySource) {
	ws, ok := src.(ops.WholeKeySource)
	if !ok {
		return
	}
	const nb = 1 << tiesCoarseBits
	q := (float64(s.rank) + 0.5) / float64(s.n)
	var lastB *byte
	runs := tiesRunBufs.Get().(*[2 * tiesSparseRuns * tiesSparseRunBytes]byte)
	defer tiesRunBufs.Put(runs)
	for i := range s.r {
		a, b, dt, ok := ws.WholeKeyOperands(i)
		size := dt.Size()
		if !ok || size == 0 || len(a) != s.n*size || len(b) != len(a) {
			continue
		}
		rl := tiesSparseRunBytes / size // keys per run
		strata := s.n / rl / tiesSparseRuns
		if rl < 8 || strata < tiesSparseMinStrata {
			continue
		}
		// The runs' bytes side by side, then their keys in one call. The base's runs are
		// gathered once for the deltas that share it.
		keys := s.chunkKeys(tiesSparseRuns * rl)
		ra, rb := runs[:tiesSparseRuns*tiesSparseRunBytes], runs[tiesSparseRuns*tiesSparseRunBytes:]
		tiesGatherRuns(ra, a, strata)
		if &b[0] != lastB {
			tiesGatherRuns(rb, b, strata)
			lastB = &b[0]
		}
		if !num.SubAbsKeys(keys, ra, rb, dt) {
			continue
		}
		h := s.hist[i*nb : (i+1)*nb : (i+1)*nb]
		for _, u := range keys {
			h[u>>tiesFineShift&(nb-1)]++
		}
		spread := tiesRunSpread(h, keys, rl, q)
		if spread > tiesSparseMaxSpread {
			clear(h)
			continue
		}
		if s.sampled == nil {
			s.sampled, s.spread = make([]bool, s.r), make([]float64, s.r)
		}
		s.sampled[i], s.spread[i] = true, spread
		tiesSparseDeltas.Add(1)
	}
}

// sparseAll reports whether sampleSparse sampled every delta.
func (s *tiesStager) sparseAll() bool {
	if s.sampled == nil {
		return false
	}
	for _, ok := range s.sampled {
		if !ok {
			return false
		}
	}
	return true
}

// tiesGatherRuns copies into dst the tiesSparseRuns runs of tiesSparseRunBytes bytes that the
// sparse sample takes from src, one in each stratum of strata runs.
func tiesGatherRuns(dst, src []byte, strata int) {
	// First one load from each run's line, all independent, so that the core has as many
	// lines in flight as it can (the copies' stores made it wait for each line in turn). With
	// the inputs mapped (vm/input_map.go) the sample is the first to touch a key's bytes, no
	// longer the cached copy just made: the gather went from ~2% to ~5.5% of the scale-4 TIES
	// run's CPU samples, and is ~3% with this (6 interleaved pairs: 1.555 -> 1.478 CPU-s).
	var touch byte
	for j := range tiesSparseRuns {
		touch += src[(j*strata+tiesStratumAt(j, strata))*tiesSparseRunBytes]
	}
	tiesTouchSink.Store(uint32(touch)) // (kept, or the compiler drops the loads; atomic: workers race)
	for j := range tiesSparseRuns {
		off := (j*strata + tiesStratumAt(j, strata)) * tiesSparseRunBytes
		// Eight word moves, which the compiler does inline: copy called memmove, and each call
		// waited for its line from memory before the next one asked for its own (the gather
		// was ~2% of the TIES benchmark's CPU samples).
		d, s := dst[j*tiesSparseRunBytes:(j+1)*tiesSparseRunBytes], src[off:off+tiesSparseRunBytes]
		for w := 0; w < tiesSparseRunBytes; w += 8 {
			binary.LittleEndian.PutUint64(d[w:], binary.LittleEndian.Uint64(s[w:]))
		}
	}
}

// tiesTouchSink keeps tiesGatherRuns's first loads.
var tiesTouchSink atomic.Uint32

// tiesStratumAt is the run sampled in stratum j of strata runs: a multiplicative hash of j,
// so that the runs do not fall at one period of the tensor (a row length).
func tiesStratumAt(j, strata int) int {
	return int(uint64(uint32(j)*0x9E3779B9) * uint64(strata) >> 32)
}

// tiesRunSpread is how many times wider than for independent keys the sample's bracket must
// be, at least 1: the standard deviation of the count of sampled keys below the rank's coarse
// bucket, estimated from the spread of the runs' counts (runs of rl keys, h their histogram),
// over the binomial one of as many independent keys. Between runs of one stratum it is the
// ratio of the two standard errors; the strata only make the true one smaller.
func tiesRunSpread(h, keys []uint32, rl int, q float64) float64 {
	b, _ := tiesBucketOf(h, int(q*float64(len(keys))))
	runs := len(keys) / rl
	lim := b << tiesFineShift // u < lim: below the bucket (keys and lim are below 2^31)
	// (Integer sums: the float64 ones they replace were of integers below 2^53, as exact.)
	si, s2i := tiesRunCounts(keys[:runs*rl], rl, lim)
	sum, sum2 := float64(si), float64(s2i)
	mean := sum / float64(runs)
	v := (sum2 - sum*mean) / float64(runs-1) // the variance of a run's count
	p := mean / float64(rl)
	iid := float64(rl) * p * (1 - p) // a run's binomial variance at the same fraction
	if iid <= 0 || v <= 0 {
		return 1
	}
	return max(1, math.Sqrt(v/iid))
}

// tiesRunCountsLoop counts, in each run of rl keys of keys (len(keys)/rl runs), the keys below
// lim (every key and lim below 2^31), and returns the sum of those counts and of their squares.
func tiesRunCountsLoop(keys []uint32, rl int, lim uint32) (sum, sum2 uint64) {
	for j := range len(keys) / rl {
		c := uint64(0)
		for _, u := range keys[j*rl : (j+1)*rl] {
			c += uint64((u - lim) >> 31)
		}
		sum += c
		sum2 += c * c
	}
	return sum, sum2
}

// rangeFused runs the tiesRange phase over delta i's chunk with the keys made in the split's
// own loop (tiesKeysSplitFast) when src offers the delta as a difference of float16 tensors
// (ops.RawKeySource): tiesRangeSplit's counts and collected keys, without the chunk's keys
// written and read back (on the scale-4 TIES benchmark that pass took 14% of the CPU time as
// two loops). It returns false, having changed nothing, when it cannot (another dtype, no
// vector path, a key that is not finite): the caller then takes the keys from src.
func (s *tiesStager) rangeFused(i int, src ops.KeySource) bool {
	rs, ok := src.(ops.RawKeySource)
	if !ok {
		return false
	}
	a, b, dt, ok := rs.KeyOperands(i)
	if !ok || dt != ops.F16 || len(a) != len(b) || len(a)%2 != 0 {
		return false
	}
	lo, hi := s.lo[i], s.hi[i]
	cand, start, below := s.cand[i], len(s.cand[i]), 0
	n := len(a) / 2
	for off := 0; off < n; {
		seg := min(n-off, tiesSplitSegment)
		cand = slices.Grow(cand, seg+8)
		sa, sb := a[2*off:2*(off+seg)], b[2*off:2*(off+seg)]
		sc, bl, d := tiesKeysSplitFast(cand, sa, sb, lo, hi)
		if sc == 0 && seg >= 8 {
			s.cand[i] = cand[:start] // not finite, or no vector path: Keys decides
			return false
		}
		cand, below = d, below+bl
		if sc < seg {
			// The last few elements (fewer than 8).
			var tail [8]uint32
			t := tail[:seg-sc]
			if !num.SubAbsKeys(t, sa[2*sc:], sb[2*sc:], ops.F16) {
				s.cand[i] = cand[:start]
				return false
			}
			for _, u := range t {
				below += int(tiesB2I(u < lo))
				if u >= lo && u <= hi {
					cand = append(cand, u)
				}
			}
		}
		if len(cand) > tiesStageCandCap {
			s.over[i], s.cand[i] = true, nil
			return true
		}
		off += seg
	}
	s.cand[i], s.below[i] = cand, s.below[i]+below
	tiesFusedChunks.Add(1)
	return true
}

// tiesFusedChunks counts the chunks rangeFused did (for the tests).
var tiesFusedChunks atomic.Int64

// tiesSampleChunk appends to at the offsets, from lo, of the sampled elements of the chunk
// [lo, lo+n): one in each block of 1 << shift elements, at tiesSampleAt.
func tiesSampleChunk(at []uint32, lo, n, shift int) []uint32 {
	step := 1 << shift
	for b := lo >> shift; b*step < lo+n; b++ {
		if j := b*step + tiesSampleAt(b, shift) - lo; j >= 0 && j < n {
			at = append(at, uint32(j))
		}
	}
	return at
}

// tiesSampleAt is the sampled element of the block b of 1 << shift elements: an
// offset from a multiplicative hash of b, so that the sample does not alias with a period of
// the tensor (attention heads of 64 channels would put a fixed offset on the same channels),
// and the same whatever the chunking.
func tiesSampleAt(b, shift int) int {
	return int(uint32(b) * 0x9E3779B9 >> (32 - shift))
}

// tiesHistogram4 adds keys to the four lane histograms of hs (4 x 2^11 counters), key j to
// lane j mod 4.
func tiesHistogram4(hs, keys []uint32) {
	const nb = 1 << tiesCoarseBits
	h0, h1, h2, h3 := hs[:nb:nb], hs[nb:2*nb:2*nb], hs[2*nb:3*nb:3*nb], hs[3*nb:4*nb:4*nb]
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

// mergeLanes sums each delta's four lane histograms into the first r x 2^11 counters (with
// one lane, they are there).
func (s *tiesStager) mergeLanes() {
	if s.lanes == 1 {
		return
	}
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

// coarse returns the bucket of delta i's coarse histogram holding the rank-th smallest key
// and the rank inside it.
func (s *tiesStager) coarse(i int) (uint32, int) {
	return tiesBucketOf(s.hist[i*(1<<tiesCoarseBits):(i+1)*(1<<tiesCoarseBits)], s.rank)
}

// tiesBucketOf returns the bucket of histogram h holding the rank-th smallest counted key and
// the rank inside it (the last bucket when rank is past the count).
func tiesBucketOf(h []uint32, rank int) (uint32, int) {
	b := 0
	for b < len(h)-1 && rank >= int(h[b]) {
		rank -= int(h[b])
		b++
	}
	return uint32(b), rank
}

// bracket sets delta i's bracket [lo, hi] from its sample histogram: the coarse buckets of the
// sample ranks tiesSampleSigmas standard deviations (and tiesSampleSlack keys) on either side
// of the rank's place in the sample. It returns how many keys the bracket should hold, from
// the sample: room for them is taken once, not grown chunk by chunk.
func (s *tiesStager) bracket(i int) int {
	const nb = 1 << tiesCoarseBits
	h := s.hist[i*nb : (i+1)*nb]
	ns := 0
	for _, c := range h {
		ns += int(c)
	}
	q := (float64(s.rank) + 0.5) / float64(s.n)
	at := q * float64(ns)
	w := tiesSampleSigmas*math.Sqrt(float64(ns)*q*(1-q)) + tiesSampleSlack
	if s.spread != nil && s.spread[i] > 1 {
		w *= s.spread[i]
	}
	if tiesSampleSigmas < 0 {
		// The tests' bracket that misses: above every key but an all-ones NaN's.
		s.lo[i], s.hi[i] = math.MaxInt32, math.MaxInt32
		return 0
	}
	bl, _ := tiesBucketOf(h, max(0, int(math.Floor(at-w))))
	bu, _ := tiesBucketOf(h, min(ns-1, int(math.Ceil(at+w))))
	s.lo[i], s.hi[i] = bl<<tiesFineShift, bu<<tiesFineShift|(tiesFineBuckets-1)
	inside := 0
	for _, c := range h[bl : bu+1] {
		inside += int(c)
	}
	return int(float64(inside) * float64(s.n) / float64(max(ns, 1)))
}

// EndPass ends the pass's phase: it selects the thresholds (one-pass mode; a two-pass
// tiesRange whose brackets all hold their rank; tiesBucket) or prepares the next pass.
func (s *tiesStager) EndPass(pass int) error {
	if s.pos != s.n {
		return fmt.Errorf("ties_sum: pass %d saw %d of %d elements", pass, s.pos, s.n)
	}
	if pass < 0 || pass >= len(s.plan) {
		return fmt.Errorf("ties_sum: end of statistics pass %d of %d", pass, len(s.plan))
	}
	s.pos = 0
	if s.th == nil {
		s.th = make([]float64, s.r)
	}
	switch s.plan[pass] {
	case tiesHist:
		s.mergeLanes()
		if s.onePass {
			for i := range s.r {
				s.th[i] = s.selectStored(i)
			}
			break
		}
		s.prepareBucket()
		return nil
	case tiesSample:
		s.lo, s.hi = make([]uint32, s.r), make([]uint32, s.r)
		expect := make([]int, s.r)
		for i := range s.r {
			expect[i] = s.bracket(i)
		}
		if !s.onePass {
			s.below, s.over, s.cand = make([]int, s.r), make([]bool, s.r), make([][]uint32, s.r)
			for i, e := range expect {
				// A quarter more than the sample says, within the collection's limit.
				s.cand[i] = tiesGetKeys(min(e+e/4, s.n, tiesStageCandCap) + tiesSplitSegment + 8)[:0]
			}
			s.dropHist()
			return nil
		}
		// The keys inside a bracket are copied out (at most n/4 of them, else it counts as a
		// miss), so that a miss still has every stored key.
		cand := make([]uint32, 0, tiesOneCandCap(s.n))
		for i := range s.r {
			keys := s.keys[i*s.n : (i+1)*s.n]
			var below int
			var ok bool
			cand, below, ok = tiesRangeSplit(cand[:0], keys, s.lo[i], s.hi[i], s.n/4)
			if ok && below <= s.rank && s.rank < below+len(cand) {
				s.th[i] = float64(math.Float32frombits(tiesSelectRange(cand, s.lo[i], s.hi[i], s.rank-below)))
				continue
			}
			// The bracket missed: a histogram of the stored keys, as without a sample.
			tiesSampleMisses.Add(1)
			h := s.hist[i*(1<<tiesCoarseBits) : (i+1)*(1<<tiesCoarseBits)]
			clear(h)
			for _, u := range keys {
				h[u>>tiesFineShift&(1<<tiesCoarseBits-1)]++
			}
			s.th[i] = s.selectStored(i)
		}
	case tiesRange:
		missed := false
		for i := range s.r {
			if !s.over[i] && s.below[i] <= s.rank && s.rank < s.below[i]+len(s.cand[i]) {
				s.th[i] = float64(math.Float32frombits(tiesSelectRange(s.cand[i], s.lo[i], s.hi[i], s.rank-s.below[i])))
			} else {
				missed = true
				tiesSampleMisses.Add(1)
			}
		}
		for _, c := range s.cand {
			s.putKeys(c)
		}
		s.cand, s.below, s.over = nil, nil, nil
		if missed {
			// Every delta again, without a sample: two more passes.
			s.plan = append(s.plan, tiesHist, tiesBucket)
			return nil
		}
	case tiesBucket:
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
	}
	if s.keys != nil {
		tiesPutKeys(s.keys)
	}
	s.putKeys(s.scratch)
	s.dropHist()
	s.putKeys(s.at)
	s.keys, s.scratch, s.at = nil, nil, nil
	s.voter = newTiesVoter(s.th, s.n, s.voteSgn)
	s.voter.nanToNum = s.nanToNum
	return nil
}

// selectStored is delta i's threshold in one-pass mode from its coarse histogram (the first
// r x 2^11 counters): the bucket's keys, moved to the front of the delta's own keys, then
// selected.
func (s *tiesStager) selectStored(i int) float64 {
	b, rank := s.coarse(i)
	keys := s.keys[i*s.n : (i+1)*s.n]
	m := tiesCompact(keys, b, tiesFineShift)
	return float64(math.Float32frombits(tiesSelectInBucket(keys[:m], rank)))
}

// prepareBucket chooses each delta's coarse bucket for a tiesBucket pass and the room its keys
// take (collected, or counted in a fine histogram when there are too many).
func (s *tiesStager) prepareBucket() {
	const nb = 1 << tiesCoarseBits
	s.bucket, s.inRank = make([]uint32, s.r), make([]int, s.r)
	s.cand, s.fine = make([][]uint32, s.r), make([][]uint32, s.r)
	for i := range s.r {
		b, rank := s.coarse(i)
		s.bucket[i], s.inRank[i] = b, rank
		if c := int(s.hist[i*nb+int(b)]); c <= tiesStageCandCap {
			s.cand[i] = make([]uint32, 0, c)
		} else {
			s.fine[i] = make([]uint32, tiesFineBuckets)
		}
	}
	s.dropHist()
}

// dropHist makes the histograms idle for a later key.
func (s *tiesStager) dropHist() {
	s.putKeys(s.hist)
	s.hist = nil
}

// tiesSplitSegment is how many keys tiesRangeSplit scans between two checks of its limit.
const tiesSplitSegment = 1 << 12

// tiesOneCandCap is the room one-pass mode takes for a bracket's keys of n elements: the n/4
// of tiesRangeSplit's limit, and what a segment may add past it.
func tiesOneCandCap(n int) int { return n/4 + tiesSplitSegment + 8 }

// tiesRangeSplit appends the keys in [lo, hi] (lo <= hi) to dst, in order, and returns dst and
// the count of keys below lo; ok is false, and dst partial, once dst holds more than limit
// keys. One pass over keys, which it leaves as they are.
func tiesRangeSplit(dst, keys []uint32, lo, hi uint32, limit int) (out []uint32, below int, ok bool) {
	for len(keys) > 0 {
		seg := keys[:min(len(keys), tiesSplitSegment)]
		keys = keys[len(seg):]
		dst = slices.Grow(dst, len(seg)+8)
		sc, b, d := tiesRangeSplitFast(dst, seg, lo, hi)
		dst, below = d, below+b
		for _, u := range seg[sc:] {
			below += int(tiesB2I(u < lo))
			if u >= lo && u <= hi {
				dst = append(dst, u)
			}
		}
		if len(dst) > limit {
			return dst, below, false
		}
	}
	return dst, below, true
}

// tiesCompactRange moves the keys u with lo <= u <= hi to the front of keys, in order, and
// returns their count.
func tiesCompactRange(keys []uint32, lo, hi uint32) int {
	j, m := tiesCompactRangeFast(keys, lo, hi)
	for _, u := range keys[j:] {
		keys[m] = u // kept only if it is inside: no branch on random data
		m += int(tiesB2I(u >= lo && u <= hi))
	}
	return m
}

// tiesCompact moves the keys u with u >> shift == want to the front of keys, in order, and
// returns their count: the range [want << shift, (want+1) << shift - 1] of magnitude keys.
func tiesCompact(keys []uint32, want uint32, shift uint) int {
	lo := want << shift
	return tiesCompactRange(keys, lo, lo|(1<<shift-1))
}

// tiesSelectMin is the fewest keys tiesSelectRange narrows by a histogram before the
// quickselect. Quickselect costs ~2 ns a key on random keys, a histogram pass and its
// compaction ~0.6 (BenchmarkTiesSelectRange): at 1 << 12 the selections among 1000-4000 keys
// took 2-2.2 ns a key, at 1 << 9 0.64-0.74. Most of a TIES merge's selections are of a few
// thousand keys (the scale-4 benchmark: ~4700 of its ~8400 above 1000 keys are below 8192),
// and the change took 3% off its CPU time.
const tiesSelectMin = 1 << 9

// tiesSelectInBucket returns the rank-th smallest (0-based) of keys, which share their coarse
// bucket (bits 20..30), reordering them.
func tiesSelectInBucket(keys []uint32, rank int) uint32 {
	if len(keys) == 0 {
		return selectKthU32(keys, rank)
	}
	b := keys[0] >> tiesFineShift << tiesFineShift
	return tiesSelectRange(keys, b, b|(tiesFineBuckets-1), rank)
}

// tiesSelectRange returns the rank-th smallest (0-based) of keys, all in [lo, hi], reordering
// them: while there are tiesSelectMin keys or more, a histogram of sub-ranges (about four keys
// each, 2^6 to 2^10 of them) finds the one holding the rank, whose keys are compacted to the
// front; then quickselect. The value is
// selectKthU32's (the rank-th smallest is one number however it is found); the histogram
// passes and the compactions cost less than quickselect's partitions of many keys, whose
// branches mispredict on random keys.
func tiesSelectRange(keys []uint32, lo, hi uint32, rank int) uint32 {
	for len(keys) >= tiesSelectMin && hi > lo {
		// About four keys a sub-range, from 2^6 to 2^10 of them.
		sub := min(10, max(6, bits.Len(uint(len(keys)))-2))
		shift := max(0, bits.Len32(hi-lo)-sub)
		var hs [1 << 10]uint32
		h := hs[:1<<sub]
		for _, u := range keys {
			h[(u-lo)>>shift]++
		}
		b, r := tiesBucketOf(h, rank)
		nlo := lo + b<<shift
		nhi := min(hi, nlo+(1<<shift-1))
		if nlo == lo && nhi == hi {
			break // cannot narrow (cannot happen: shift < Len32(hi - lo))
		}
		m := tiesCompactRange(keys, nlo, nhi)
		keys, lo, hi, rank = keys[:m], nlo, nhi, r
	}
	if hi == lo && rank < len(keys) {
		return lo
	}
	return selectKthU32(keys, rank)
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
	s.doneChunk()
	return nil
}

// doneChunk recycles the voter after the key's last output chunk.
func (s *tiesStager) doneChunk() {
	if s.pos == s.n {
		putTiesVoter(s.voter)
		s.voter = nil
	}
}

// ChunkFrom is Chunk with the deltas given a tile at a time (ops.ArgChunker): the same
// columns from the same values (tiesVoter.runFrom).
func (s *tiesStager) ChunkFrom(lo int, src ops.ArgSource, out []float64) error {
	if s.voter == nil {
		return errTiesNoThresholds
	}
	if err := s.advance(lo, len(out)); err != nil {
		return err
	}
	if err := s.voter.runFrom(src, lo, out, nil, false, 0); err != nil {
		return err
	}
	s.doneChunk()
	return nil
}

// ChunkFromAdd is ChunkFrom with each tile of the output added, scaled by w, to base as it is
// voted (ops.ArgChunkAdder): add_difference(base, out, w)'s values, while the tile is in the
// CPU cache. On the TIES benchmark that call's separate pass was 3% of the CPU samples. A nil
// base is the models' base, from src (ops.LazyBaseAdder).
func (s *tiesStager) ChunkFromAdd(lo int, src ops.ArgSource, out, base []float64, w float64) error {
	if s.voter == nil {
		return errTiesNoThresholds
	}
	if base != nil && len(base) != len(out) || w == 0 {
		return tiesAddErr(out, base, w)
	}
	if err := s.advance(lo, len(out)); err != nil {
		return err
	}
	if err := s.voter.runFrom(src, lo, out, base, base == nil, w); err != nil {
		return err
	}
	s.doneChunk()
	return nil
}

// tiesAddErr is ChunkFromAdd's error for a base of another length than out, or a zero w.
func tiesAddErr(out, base []float64, w float64) error {
	return fmt.Errorf("ties_sum: an added chunk of %d elements to %d base values, scaled by %v", len(out), len(base), w)
}

// AddsLazyBase is ops.LazyBaseAdder's: ChunkFromAdd takes a nil base.
func (s *tiesStager) AddsLazyBase() bool { return true }

// The 0.0.x ties_sum cores without a geometric median or the model-stock factor (ties_sum@0.0.4,
// @0.0.9, @0.0.x and the fork's: x72a's 73-model merge) are ties_sum's filter and vote with
// torch.nan_to_num's defaults, times alpha for 0.0.4/0.0.9 (tiesEraCoreStack; the whole ties_sum
// kernel below 16 models is the same voter): so ties_sum's Stager serves them, with nanToNum,
// wrapped to scale by alpha where alpha is not 1. Same bits (ties_staged_test.go).

// ties00xStageDef is the StageDef of a 0.0.x ties_sum: readKw gives the call's threshold
// fraction, vote and alpha, ok false where the call is not staged (a median, the stock factor,
// arguments the kernel rejects).
func ties00xStageDef(readKw func(c ops.StageCall) (k float64, voteSgn bool, alpha float64, ok bool)) *ops.StageDef {
	return tiesStageDef(func(c ops.StageCall) (ops.Stager, bool, error) {
		k, voteSgn, alpha, ok := readKw(c)
		r, n := c.Tensors, ops.NumElements(c.Shape)
		if !ok || r == 0 || n == 0 {
			return nil, false, nil
		}
		s, ok := newTiesStagerFor(r, n, k, voteSgn)
		if !ok {
			return nil, false, nil
		}
		s.nanToNum = true
		if alpha == 1 {
			return s, true, nil
		}
		return &tiesScaledStager{s, alpha}, true, nil
	})
}

// tiesScaledStager is ties_sum's Stager with every output multiplied by alpha.
type tiesScaledStager struct {
	*tiesStager
	alpha float64
}

// Chunk is the ties_sum Stager's chunk times alpha.
func (s *tiesScaledStager) Chunk(lo int, args [][]float64, out []float64) error {
	if err := s.tiesStager.Chunk(lo, args, out); err != nil {
		return err
	}
	s.scale(out)
	return nil
}

// ChunkFrom is the ties_sum Stager's ChunkFrom times alpha.
func (s *tiesScaledStager) ChunkFrom(lo int, src ops.ArgSource, out []float64) error {
	if err := s.tiesStager.ChunkFrom(lo, src, out); err != nil {
		return err
	}
	s.scale(out)
	return nil
}

// ChunkFromAdd is ChunkFrom times alpha, then add_difference(base, out, w). The method it
// would have from the embedded ties_sum Stager added the vote before the scaling: a recipe
// adding a ties_sum@0.0.9 of alpha 0.5 to its base got the unscaled vote where the key ran
// staged (TestTiesChunkFromAddMatchesChunk).
func (s *tiesScaledStager) ChunkFromAdd(lo int, src ops.ArgSource, out, base []float64, w float64) error {
	if len(base) != len(out) || w == 0 { // (no lazy base here: AddsLazyBase is false)
		return tiesAddErr(out, base, w)
	}
	if err := s.ChunkFrom(lo, src, out); err != nil {
		return err
	}
	vecAddScaled(out, base, out, w)
	return nil
}

// AddsLazyBase is false: ChunkFromAdd adds to the base it is given.
func (s *tiesScaledStager) AddsLazyBase() bool { return false }

func (s *tiesScaledStager) scale(out []float64) {
	for j, v := range out {
		out[j] = s.alpha * v
	}
}
