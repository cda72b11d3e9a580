package stdlib

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/mechac/mechac/ops"
)

// The vote kernel of ties_sum, shared by the whole-tensor kernel (tiesSumDirect) and the
// staged form (tiesStager.Chunk): given the thresholds, every output column depends only on
// its own column of the deltas and on its place in the whole tensor (SumDim0Torch's order).

// tiesVoteTile is the column tile of tiesVoter: its per-column state (the cascade levels of
// two or three sums, two counts) stays in L1/L2 while the models stream past it, so the inner
// loop is a stride-1 pass over one model's tile instead of a loop over the models per element.
const tiesVoteTile = 512

// tiesRawSpan is how many columns runFrom hands the float16 vote at once (tiesVoteF16Fast, a
// multiple of tiesVoteTile): its loops keep nothing per column outside their registers, and at
// 512 columns a call the calls' own work (pointers and slices set per model, the bases'
// checks) was ~2% of the scale-4 TIES benchmark's CPU samples.
const tiesRawSpan = 8 * tiesVoteTile

// tiesVoter computes ties_sum's output columns once the thresholds th (one per model) are
// known: d_i = v_i * (|v_i| >= th_i), the elected sign, the agreeing d_i summed in
// SumDim0Torch's order for an [r, n] stack, and their count.
//
// The tiles (columns in SumDim0Torch's 16-column blocks) take one pass over the models, by
// three facts. (1) A column holding a NaN or an infinity outputs 0: a kept infinity makes the
// sum infinite or NaN, a dropped one or a NaN is multiplied by 0 into NaN, and nan_to_num maps
// all of these to 0. The pass "keeps" every NaN and infinity, so that a column holding one
// ends with a non-finite sum, and recomputes such a column plainly (as it does one whose sum
// overflows). (2) In a finite column a dropped delta v*0 is a zero, and adding +0 instead of
// -0 to a sum that starts at +0 (hence is never -0) changes nothing: d_i = kept ? v_i : +0,
// and a sum over a subset of the models is the sum over all of them with +0 for the others,
// in the same order. (3) Where the
// elected sign is 0 the agreeing deltas are all zeros, so the output is 0; where it is +1 the
// agreeing deltas are the kept positive ones, where -1 the kept negative ones. So one pass
// sums the kept positive and the kept negative deltas separately and counts them (and, for a
// vote of values, sums all the kept ones), and the output picks one sum and count by the sign.
type tiesVoter struct {
	// nanToNum: torch.nan_to_num's defaults on the output (0.0.x), not nan_to_num(0, 0, 0).
	// Only the plainly computed columns can differ: the tiles' are finite.
	nanToNum bool
	th       []float64
	n        int // elements of the whole tensor: a column's sum order depends on n
	blockEnd int // columns below it are summed by multiRowSum (16-column blocks), the others by rowSum
	voteSgn  bool

	// The tiles keep v_i where bits(|v_i|) >= lo_i: for finite values th_i <= |v_i| and
	// v_i != 0 (a kept zero changes no sign and no sum), and every NaN and infinity (see
	// above).
	lo []uint64
	// lom1 is lo - 1 and ptrs scratch for the models' column pointers, for tiesVoteFast.
	lom1 []int64
	ptrs []*float64
	// iv: the same thresholds for float32 magnitudes, for the integer float16 vote.
	iv tiesIntVote

	// multiRowSum's cascade for size = r rows: level 0 takes groups of levelStep rows.
	levelPower, levelStep int

	// Per cascade level, the sums of the kept positive and kept negative deltas of column j
	// (at 2j and 2j+1: the sign bit picks the slot), and of all its kept deltas.
	split [reduceLevels][2 * tiesVoteTile]float64
	all   [reduceLevels][tiesVoteTile]float64
	cnt   [2 * tiesVoteTile]int32 // the counts of kept positive and negative deltas, as split
	col   []float64               // one column's r deltas, for the columns outside the tiles
	tb    [][]float64             // runFrom: the models' values of one tile
	// runFrom from float16 differences: each model's stored values and base over the chunk,
	// over one tile, and pointer scratch (deltas).
	raws, rawT   [][]byte
	bases, baseT [][]float64
	rptrs        []*byte
	bptrs        []*float64
	// baseRaws: each model's base as stored over the chunk, where the source offers it
	// (ops.RawDeltaSource; nil else), for the integer vote.
	baseRaws [][]byte
}

// tiesBase16Tiles counts the tiles whose base the integer vote widened from its stored
// float16 (for the tests).
var tiesBase16Tiles atomic.Int64

// tiesInfBits is the bit pattern of +Inf: above it, NaNs.
const tiesInfBits = 0x7ff0000000000000

// tiesIntVote is the integer float16 vote's state (tiesVote16F16IntAVX512, amd64): per model
// the keep threshold for float32 magnitudes (tiesLom1F32), and the tile's bases as float32.
type tiesIntVote struct {
	lom1 []int32
	// lom1s is lom1 for differences scaled by 2^24 (tiesLom1Scaled), when set (r long).
	lom1s []int32
	bptrs []*float32
	bufs  [][]float32 // tiesRawSpan each: the span's distinct bases
	// baseT, when set, holds each model's base as stored float16 over the tile (nil for a
	// model whose base is not): widened to float32 directly, not narrowed from float64.
	baseT [][]byte
	// base16 counts the tiles whose base was widened so (tiesBase16Tiles, for the tests).
	base16 int64
}

// tiesLom1F32 is the keep threshold lo (a float64 magnitude's bits, 1 to +Inf's; keep
// bits(|v|) >= lo) for float32 magnitudes, minus one: for a float32 x >= 0,
// bits64(float64(x)) >= lo exactly when bits32(x) > tiesLom1F32(lo), because the smallest
// float32 at or above a float64 t is t rounded to float32, or the next one up when that is
// below t.
func tiesLom1F32(lo uint64) int32 {
	t := math.Float64frombits(lo)
	f := float32(t)
	if float64(f) < t {
		f = math.Nextafter32(f, float32(math.Inf(1)))
	}
	return int32(math.Float32bits(f)) - 1
}

// tiesLom1Scaled is the integer vote's threshold lom1 (keep bits(|d|) > lom1, float32) for
// the differences scaled by 2^24 (D = d * 2^24, tiesVote16F16IntSharedAVX512), over the
// integer vote's differences: 0, and the multiples of 2^-24 below 1, whose scaled bits are
// bits(|d|) + 24<<23. A threshold below 2^-24's bits keeps every nonzero one, scaled or not
// (and zero as before), so it stays; one at or above 1.0's keeps none.
func tiesLom1Scaled(lom1 int32) int32 {
	const tiny, one, shift = 0x33800000, 0x3f800000, 24 << 23 // bits(2^-24), bits(1)
	if lom1 < tiny {
		return lom1
	}
	return min(lom1, one) + shift
}

// tiesVoterPool recycles voters from key to key (putTiesVoter): a fresh one is ~55 KiB to
// zero and collect, plus its tile buffers; on the scale-4 SDXL TIES benchmark the voters were
// 211 of the run's 618 MB allocated.
var tiesVoterPool sync.Pool

// newTiesVoter returns the voter of ties_sum over tensors of n elements with thresholds th,
// a recycled one if one is idle (every field as a fresh one's; buffers kept).
func newTiesVoter(th []float64, n int, voteSgn bool) *tiesVoter {
	r := len(th)
	t, _ := tiesVoterPool.Get().(*tiesVoter)
	if t == nil {
		t = new(tiesVoter)
	}
	// The cascade sums start from zero (levels a small r never carries into are added as
	// they are), so the whole struct is reset; the slices keep their storage.
	*t = tiesVoter{th: th, n: n, voteSgn: voteSgn,
		col: tiesResize(t.col, r), lo: tiesResize(t.lo, r), lom1: tiesResize(t.lom1, r), ptrs: tiesResize(t.ptrs, r),
		tb: t.tb, raws: t.raws, rawT: t.rawT, bases: t.bases, baseT: t.baseT, rptrs: t.rptrs, bptrs: t.bptrs,
		baseRaws: t.baseRaws, iv: tiesIntVote{lom1: tiesResize(t.iv.lom1, r), lom1s: tiesResize(t.iv.lom1s, r), bptrs: t.iv.bptrs, bufs: t.iv.bufs, baseT: t.iv.baseT}}
	for i, x := range th {
		// th is a magnitude (+0 or positive, or NaN: then no finite value is kept).
		t.lo[i] = min(max(math.Float64bits(x), 1), tiesInfBits)
		t.lom1[i] = int64(t.lo[i]) - 1
		t.iv.lom1[i] = tiesLom1F32(t.lo[i])
		t.iv.lom1s[i] = tiesLom1Scaled(t.iv.lom1[i])
	}
	if n >= 4 { // SumDim0Torch: 16-column blocks only for cols >= 4
		t.blockEnd = n - n%16
	}
	t.levelPower = max(4, ceilLog2(r)/reduceLevels)
	t.levelStep = 1 << t.levelPower
	return t
}

// putTiesVoter makes t idle for a later newTiesVoter; t must not be used again. It keeps no
// reference to the data it voted.
func putTiesVoter(t *tiesVoter) {
	clear(t.ptrs)
	clear(t.rptrs)
	clear(t.bptrs)
	t.th = nil
	tiesVoterPool.Put(t)
}

// tiesResize returns s with length n, reusing its storage when it is large enough (the
// contents are not kept).
func tiesResize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// tiesVoterBytes is what a tiesVoter for r models holds (runFrom's tile of every model
// included).
func tiesVoterBytes(r int) int64 {
	// Per model: its tile, pointers, thresholds and, for the integer vote, a float32 tile of
	// its base (at most one per model).
	return (3*8*reduceLevels+8)*tiesVoteTile + (40+8*tiesVoteTile+24+112+4*tiesRawSpan+36)*int64(r) + 512
}

// run writes to out the output columns [lo, lo+len(out)) from ms, the models' values at those
// columns (each at least len(out) long).
func (t *tiesVoter) run(ms [][]float64, lo int, out []float64) {
	w := len(out)
	// Columns inside the 16-column blocks: tiles.
	nb := min(max(t.blockEnd-lo, 0), w)
	for off := 0; off < nb; off += tiesVoteTile {
		t.tile(ms, off, min(tiesVoteTile, nb-off), out[off:])
	}
	for j := nb; j < w; j++ {
		out[j] = t.column(ms, j, false)
	}
}

// runFrom is run with the models' values asked from src a tile at a time: each model's tile
// is made into a buffer that stays in the CPU cache while the tile is voted, where run reads
// the whole chunk of every model, made before (on the scale-4 TIES benchmark the VM wrote 8
// chunks of 512 KiB and the vote read them back).
//
// With base set, each tile is then added, scaled by w, to base's (ChunkFromAdd); with addBase
// (and base nil), to the models' one base, from an ops.LazyBaseSource (lazy: see there).
func (t *tiesVoter) runFrom(src ops.ArgSource, lo int, out, base []float64, addBase bool, w float64) error {
	r := len(t.th)
	if len(t.tb) < r {
		t.tb = make([][]float64, r)
		buf := make([]float64, r*tiesVoteTile)
		for i := range t.tb {
			t.tb[i] = buf[i*tiesVoteTile : (i+1)*tiesVoteTile]
		}
	}
	fetch := func(off, n int) ([][]float64, error) {
		ms := t.tb[:r]
		for i := range ms {
			if err := src.Arg(i, off, ms[i][:n]); err != nil {
				return nil, err
			}
		}
		return ms, nil
	}
	lazy, _ := src.(ops.LazyBaseSource)
	if addBase && lazy == nil {
		return fmt.Errorf("ties_sum: an add to the base of a source without one")
	}
	// widen makes every float64 base the source has not made yet (and the added base).
	widen := func() error {
		if lazy == nil {
			return nil
		}
		for i := range r {
			if i < len(t.bases) && i < len(t.raws) && t.bases[i] == nil && t.raws[i] != nil {
				b, err := lazy.BaseValues(i)
				if err != nil {
					return err
				}
				t.bases[i] = b
			}
		}
		if addBase && base == nil {
			b, err := lazy.BaseValues(0)
			if err != nil {
				return err
			}
			base = b
		}
		return nil
	}
	raws, err := t.deltas(src)
	if err != nil {
		return err
	}
	if !raws {
		if err := widen(); err != nil {
			return err
		}
	}
	// The tests' counters, added once per call: an atomic add per tile from both workers
	// bounced one cache line between the cores ~400 K times a TIES run.
	f16Columns := int64(0)
	t.iv.base16 = 0
	defer func() {
		tiesF16Columns.Add(f16Columns)
		tiesBase16Tiles.Add(t.iv.base16)
		clear(t.raws)
		clear(t.bases)
		clear(t.rawT)
		clear(t.baseT)
		clear(t.baseRaws)
		clear(t.iv.baseT)
	}()
	// add finishes the tile [off, off+n) as add_difference(base, out, w) would.
	add := func(off, n int) error {
		if n == 0 || base == nil && !addBase {
			return nil
		}
		if base == nil {
			if err := widen(); err != nil {
				return err
			}
		}
		vecAddScaled(out[off:off+n], base[off:off+n], out[off:off+n], w)
		return nil
	}
	// voteTiles votes the columns [from, to) from their values, a tile at a time, and adds.
	voteTiles := func(from, to int) error {
		for off := from; off < to; off += tiesVoteTile {
			n := min(tiesVoteTile, to-off)
			ms, err := fetch(off, n)
			if err != nil {
				return err
			}
			t.tile(ms, 0, n, out[off:])
			if err := add(off, n); err != nil {
				return err
			}
		}
		return nil
	}
	cols := len(out)
	nb := min(max(t.blockEnd-lo, 0), cols)
	if !raws {
		if err := voteTiles(0, nb); err != nil {
			return err
		}
	}
	for off := 0; raws && off < nb; {
		// Widened and subtracted in the vote's own loop (tiesVote8F16), tiesRawSpan columns a
		// call: the loop keeps no state per column outside its registers.
		span := min(tiesRawSpan, nb-off)
		setSpan := func() {
			for i := range r {
				t.rawT[i], t.baseT[i] = t.raws[i][2*off:2*(off+span)], nil
				if t.bases[i] != nil {
					t.baseT[i] = t.bases[i][off : off+span]
				}
				if b := t.baseRaws[i]; b != nil {
					t.iv.baseT[i] = b[2*off : 2*(off+span)]
				}
			}
		}
		setSpan()
		// The add, where the integer vote can, on each column as it is voted (the same
		// FMA): a separate pass over the tile was ~1.6% of the TIES benchmark's CPU.
		var addT []float64
		if base != nil {
			addT = base[off : off+span]
		}
		done, added := tiesVoteF16Fast(t.rawT, t.baseT, t.rptrs, t.bptrs, t.lom1, &t.iv, out[off:off+span], addT, addBase && base == nil, w)
		if done == 0 && t.lazyBases() {
			// The integer vote could not take the span, and only it votes from the stored
			// bases alone: the float64 bases, and the span again.
			if err := widen(); err != nil {
				return err
			}
			setSpan()
			if base != nil {
				addT = base[off : off+span]
			}
			done, added = tiesVoteF16Fast(t.rawT, t.baseT, t.rptrs, t.bptrs, t.lom1, &t.iv, out[off:off+span], addT, false, w)
		}
		f16Columns += int64(done)
		if done == 0 {
			// Declined (a column with an inf or a NaN): the span from its values.
			if err := voteTiles(off, off+span); err != nil {
				return err
			}
			off += span
			continue
		}
		if done < span { // the last columns of a span of no multiple of 8 (fewer than 8)
			ms, err := fetch(off+done, span-done)
			if err != nil {
				return err
			}
			t.tile(ms, 0, span-done, out[off+done:])
		}
		if err := add(off+added, span-added); err != nil {
			return err
		}
		off += span
	}
	// The columns past the last 16-column block (fewer than 16, at the tensor's end).
	for off := nb; off < cols; off += tiesVoteTile {
		n := min(tiesVoteTile, cols-off)
		ms, err := fetch(off, n)
		if err != nil {
			return err
		}
		for j := range n {
			out[off+j] = t.column(ms, j, false)
		}
		if err := add(off, n); err != nil {
			return err
		}
	}
	return nil
}

// lazyBases reports whether some model's float64 base is not made (runFrom from an
// ops.LazyBaseSource).
func (t *tiesVoter) lazyBases() bool {
	for i := range len(t.th) {
		if t.raws[i] != nil && t.bases[i] == nil {
			return true
		}
	}
	return false
}

// tiesF16Columns counts the columns tiesVote8F16 voted (for the tests).
var tiesF16Columns atomic.Int64

// deltas reports whether runFrom can vote from the models' stored float16 and their bases
// (ops.DeltaSource, every argument a float16 difference) with tiesVote8F16: a vote of signs
// over fewer models than one cascade level. It leaves the operands in raws and bases.
func (t *tiesVoter) deltas(src ops.ArgSource) (bool, error) {
	ds, ok := src.(ops.DeltaSource)
	r := len(t.th)
	if !ok || t.voteSgn || r >= t.levelStep {
		return false, nil
	}
	if len(t.raws) < r {
		t.raws, t.bases = make([][]byte, r), make([][]float64, r)
		t.rawT, t.baseT = make([][]byte, r), make([][]float64, r)
		t.rptrs, t.bptrs = make([]*byte, r), make([]*float64, r)
		t.baseRaws, t.iv.baseT = make([][]byte, r), make([][]byte, r)
	}
	rs, _ := src.(ops.RawDeltaSource)
	lazy, _ := src.(ops.LazyBaseSource)
	for i := range r {
		raw, dt, base, ok := ds.Delta(i)
		if !ok || dt != ops.F16 {
			return false, nil
		}
		t.raws[i], t.bases[i] = raw, base
		if rs != nil {
			if b, ok := rs.DeltaBase(i); ok && len(b) == len(raw) {
				t.baseRaws[i] = b
			}
		}
		if base == nil && (lazy == nil || t.baseRaws[i] == nil) {
			// A base not made, and nothing to vote from in its place: made now.
			if lazy == nil {
				return false, nil
			}
			b, err := lazy.BaseValues(i)
			if err != nil {
				return false, err
			}
			t.bases[i] = b
		}
	}
	return true, nil
}

// tiesKeptSign is tiesSign(v * keep) with keep = |v| >= th (false for a NaN v): the vote of a
// filtered delta, computed from flags and the sign bit without branches (the signs are random,
// a branch per element mispredicts half the time).
func tiesKeptSign(v, th float64) int32 {
	a := math.Abs(v)
	k := tiesB2I(a >= th) & tiesB2I(a > 0)
	return k - 2*(k&int32(math.Float64bits(v)>>63))
}

// tiesB2I is 1 for true, 0 for false (a SETcc, no branch).
func tiesB2I(b bool) int32 {
	var x int32
	if b {
		x = 1
	}
	return x
}

// tiesB2F is 1 for true, 0 for false, built from the bits of 1.0 and a SETcc: the compiler
// turns a float select into a branch, which mispredicts on random signs.
func tiesB2F(b bool) float64 {
	return math.Float64frombits(-uint64(tiesB2I(b)) & 0x3ff0000000000000)
}

// tile writes out[:w] for the chunk columns [off, off+w), all inside full 16-column blocks of
// the whole tensor: there SumDim0Torch sums each column with multiRowSum over the r rows,
// which tile runs on w columns at once, model after model (the same additions in the same
// order per column): rows into level 0, levels carried after every levelStep rows, levels
// 1..3 added to level 0 at the end.
func (t *tiesVoter) tile(ms [][]float64, off, w int, out []float64) {
	if len(ms) < t.levelStep {
		// One cascade level: with AVX2, the whole tile with its sums in registers; the rest
		// (its last w % 4 columns, or all of it where a column holds a NaN or an infinity)
		// below.
		done := tiesVoteFast(ms, off, t.ptrs, t.lom1, out[:w], t.voteSgn)
		if done == w {
			return
		}
		off, w, out = off+done, w-done, out[done:]
	}
	// With fewer rows than levelStep, no level is ever carried: levels 1..3 stay +0 and adding
	// them to level 0 (a sum from +0, never -0) changes nothing, so they are left alone.
	levels := 1
	if len(ms) >= t.levelStep {
		levels = reduceLevels
	}
	for l := range levels {
		clear(t.split[l][:2*w])
		if t.voteSgn {
			clear(t.all[l][:w])
		}
	}
	split, all, cnt := t.split[0][:2*w], t.all[0][:w], t.cnt[:2*w]
	clear(cnt)
	levelMask := t.levelStep - 1
	for i, m := range ms {
		m = m[off : off+w]
		if t.voteSgn {
			tiesSplitKeptPass(m, split, all, cnt, t.lo[i])
		} else {
			tiesSplitPass(m, split, cnt, t.lo[i])
		}
		if rows := i + 1; rows%t.levelStep == 0 {
			for l := 1; l < reduceLevels; l++ {
				tiesCarry(t.split[l][:2*w], t.split[l-1][:2*w])
				if t.voteSgn {
					tiesCarry(t.all[l][:w], t.all[l-1][:w])
				}
				if rows&(levelMask<<(l*t.levelPower)) != 0 {
					break
				}
			}
		}
	}
	for l := 1; l < levels; l++ {
		tiesCarry(split, t.split[l][:2*w])
		if t.voteSgn {
			tiesCarry(all, t.all[l][:w])
		}
	}
	// Four columns at a time where AVX2 can, then any column holding a NaN or an infinity
	// (rare, so the check is a predictable branch) recomputed plainly.
	done, big := tiesFinishFast(split, all, cnt, out[:w], t.voteSgn)
	if big {
		for j := range done {
			if tiesBig(split[2*j]) || tiesBig(split[2*j+1]) {
				out[j] = t.column(ms, off+j, true)
			}
		}
	}
	for j := done; j < w; j++ {
		p, q := split[2*j], split[2*j+1]
		if tiesBig(p) || tiesBig(q) {
			out[j] = t.column(ms, off+j, true) // a NaN or an infinity in the column (or overflow)
			continue
		}
		np, nn := cnt[2*j], cnt[2*j+1]
		var el int32
		if t.voteSgn {
			el = tiesB2I(all[j] > 0) - tiesB2I(all[j] < 0) // tiesSign, without branches
		} else {
			el = max(-1, min(np-nn, 1))
		}
		out[j] = tiesElected(p, q, np, nn, el)
	}
}

// tiesElected is a finite column's output in tile: 0 when the elected sign el is 0, else the
// sum of the kept deltas of that sign (p for +1, q for -1) over their count, selected by bit
// masks and divided once (a branch per column mispredicts on random signs; a float multiply
// by 0 or 1 would turn a -0 into +0 and is not used). It equals tiesNanToZero(sum / count),
// the stacked path's value: where el is nonzero its count is at least 1 (a positive sum of
// the values, or a majority of positive votes, needs a kept positive delta; likewise
// negative), so the quotient of a finite sum is finite and tiesNanToZero changes nothing;
// where el is 0, +0 / max(count, 1) is +0. (Nor can a quotient underflow to a zero: each kept
// delta is at least the smallest subnormal in magnitude, so their sum over their count is.)
func tiesElected(p, q float64, np, nn, el int32) float64 {
	neg := uint64(int64(el >> 31)) // all ones for -1
	on := -uint64(el & 1)          // all ones for +1 and -1
	num := (math.Float64bits(p)&^neg | math.Float64bits(q)&neg) & on
	c := np&^int32(neg) | nn&int32(neg)
	return math.Float64frombits(num) / float64(max(c, 1))
}

// tiesCarry adds src to dst and clears src: multiRowSum carrying a level into the next (and
// the final fold of the upper levels into level 0, where the clearing does no harm).
func tiesCarry(dst, src []float64) {
	src = src[:len(dst)]
	for j := range dst {
		dst[j] += src[j]
		src[j] = 0
	}
}

// column is the output at chunk column j computed plainly, element by element, as the
// stacked path does: for a column outside the 16-column blocks (or the only one), and for a
// block column holding a NaN or an infinity or whose sum overflows (inBlock).
func (t *tiesVoter) column(ms [][]float64, j int, inBlock bool) float64 {
	d := t.col
	votes := int32(0)
	for i, m := range ms {
		v := m[j]
		d[i] = v * tiesB2F(math.Abs(v) >= t.th[i])
		votes += tiesKeptSign(v, t.th[i])
	}
	var s int32
	if t.voteSgn {
		s = int32(tiesSign(t.colSum(d, inBlock)))
	} else {
		s = max(-1, min(votes, 1))
	}
	c := 0.0
	for i, m := range ms {
		f := tiesB2F(tiesKeptSign(m[j], t.th[i]) == s)
		d[i] *= f
		c += f
	}
	if t.nanToNum {
		return tiesNanToNum(t.colSum(d, inBlock) / c)
	}
	return tiesNanToZero(t.colSum(d, inBlock) / c)
}

// colSum is SumDim0Torch's sum of one column: multiRowSum over the rows inside the 16-column
// blocks, else rowSum, or SumTorch when n is 1.
func (t *tiesVoter) colSum(d []float64, inBlock bool) float64 {
	switch {
	case inBlock:
		var s [1]float64
		multiRowSum(d, 0, 1, 1, 1, len(d), s[:])
		return s[0]
	case t.n == 1:
		return SumTorch(d)
	}
	return rowSum(d, 0, 1, len(d))
}

// The inner loops of tile are leaf functions of their own (not inlined): in the middle of
// tile, the register allocator spills and reloads their operands every iteration.

// tiesBig reports a NaN or an infinity.
func tiesBig(x float64) bool { return math.Float64bits(x)&tiesInfBits == tiesInfBits }

// tiesSplitPass adds one model's kept deltas to split, a positive delta of column j at 2j and
// a negative one at 2j+1, and counts them in cnt likewise (a dropped delta adds nothing, which
// is adding +0). Keep is bits(|v|) >= lo.
//
//go:noinline
func tiesSplitPass(m, split []float64, cnt []int32, lo uint64) {
	split, cnt = split[:2*len(m)], cnt[:2*len(m)]
	for j := tiesSplitFast(m, split, cnt, lo); j < len(m); j++ {
		v := m[j]
		u := math.Float64bits(v)
		k := tiesB2I(u&^(1<<63) >= lo)
		s := 2*j + int(u>>63)
		split[s] += math.Float64frombits(u & -uint64(k))
		cnt[s] += k
	}
}

// tiesSplitKeptPass is tiesSplitPass also adding every kept delta to all (the vote of
// values).
//
//go:noinline
func tiesSplitKeptPass(m, split, all []float64, cnt []int32, lo uint64) {
	split, all, cnt = split[:2*len(m)], all[:len(m)], cnt[:2*len(m)]
	for j, v := range m {
		u := math.Float64bits(v)
		k := tiesB2I(u&^(1<<63) >= lo)
		s := 2*j + int(u>>63)
		d := math.Float64frombits(u & -uint64(k))
		split[s] += d
		all[j] += d
		cnt[s] += k
	}
}
