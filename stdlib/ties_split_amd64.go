package stdlib

import (
	"math"

	"golang.org/x/sys/cpu"

	"github.com/mechac/mechac/ops/num"
)

// ties_sum's loops with AVX2, each giving the Go loop's bits (the tests in ties_split_test.go
// compare them): the vote's inner loop (tiesSplitPass) four columns at a time, with the same
// additions in the same order per slot (plus +0 to the slot an element does not go to, which
// leaves a sum started at +0 unchanged), so the same sums; the tile's finish (tiesElected);
// a whole tile below one cascade level with its sums in registers (tiesVoteAVX2); the
// magnitude keys; and the split of keys by a range (tiesRangeSplitAVX2: the keys below it
// counted, those inside compacted, elsewhere or over the keys themselves), which serves every
// compaction of the keys.

//go:noescape
func tiesSplitAVX2(m *float64, split *float64, cnt *int32, n int, lom1 int64)

var tiesSplitVector = cpu.X86.HasAVX2

// tiesSplitFast runs the first len(m) &^ 3 columns of tiesSplitPass with AVX2 when it can and
// returns how many it did.
func tiesSplitFast(m, split []float64, cnt []int32, lo uint64) int {
	n := len(m) &^ 3
	if !tiesSplitVector || n == 0 || lo > 1<<63-1 {
		return 0
	}
	tiesSplitAVX2(&m[0], &split[0], &cnt[0], n, int64(lo)-1)
	return n
}

//go:noescape
func tiesAbsKeysAVX(dst *uint32, src *float64, n int)

// tiesAbsKeys writes absKey(src[j]) to dst[j] for every j (len(dst) >= len(src)).
func tiesAbsKeys(dst []uint32, src []float64) {
	dst = dst[:len(src)]
	j := 0
	if n := len(src) &^ 3; tiesSplitVector && n > 0 {
		tiesAbsKeysAVX(&dst[0], &src[0], n)
		j = n
	}
	for ; j < len(src); j++ {
		dst[j] = absKey(src[j])
	}
}

//go:noescape
func tiesFinishAVX2(split, all *float64, cnt *int32, out *float64, n int, voteSgn bool) (big bool)

// tiesFinishFast runs tiesElected on the first len(out) &^ 3 columns of a tile with AVX2 when
// it can and returns how many it did, and whether any of them holds a NaN or an infinity in
// split (tiesBig): those outputs the caller recomputes. all is read only for voteSgn.
func tiesFinishFast(split, all []float64, cnt []int32, out []float64, voteSgn bool) (int, bool) {
	n := len(out) &^ 3
	if !tiesSplitVector || n == 0 {
		return 0, false
	}
	_, _ = split[2*n-1], cnt[2*n-1]
	pa := &split[0] // any valid pointer: all is not read unless voteSgn
	if voteSgn {
		_ = all[n-1]
		pa = &all[0]
	}
	return n, tiesFinishAVX2(&split[0], pa, &cnt[0], &out[0], n, voteSgn)
}

// tiesCompactPerm[mask] lists the lanes set in mask, in order, then the others: the VPERMD
// indices that move a block's kept keys to its front.
var tiesCompactPerm = func() (p [256][8]uint32) {
	for mask := range 256 {
		i := 0
		for pass := range 2 {
			for l := range 8 {
				if (mask>>l&1 == 1) == (pass == 0) {
					p[mask][i] = uint32(l)
					i++
				}
			}
		}
	}
	return p
}()

//go:noescape
func tiesVoteAVX2(ms **float64, lom1 *int64, r int, out *float64, n int, voteSgn bool) (big bool)

// tiesVoteFast runs a tile (tiesVoter.tile) for fewer models than one cascade level on the
// chunk columns [off, off + len(out) &^ 3) with AVX2 when it can, and returns how many columns
// it wrote: 0 when it cannot, or when a column holds a NaN or an infinity (the tile's other
// path handles those). ptrs is scratch for r pointers, lom1 the thresholds' lo - 1.
func tiesVoteFast(ms [][]float64, off int, ptrs []*float64, lom1 []int64, out []float64, voteSgn bool) int {
	n := len(out) &^ 3
	if !tiesSplitVector || n == 0 || len(ms) == 0 {
		return 0
	}
	ptrs, lom1 = ptrs[:len(ms)], lom1[:len(ms)]
	for i, m := range ms {
		ptrs[i] = &m[off : off+n][0]
	}
	var big bool
	if n8 := n &^ 7; !voteSgn && n8 > 0 {
		big = tiesVote8AVX2(&ptrs[0], &lom1[0], len(ms), &out[0], n8)
		if rest := n - n8; rest > 0 && !big {
			for i, m := range ms {
				ptrs[i] = &m[off+n8 : off+n][0]
			}
			big = tiesVoteAVX2(&ptrs[0], &lom1[0], len(ms), &out[n8], rest, false)
		}
	} else {
		big = tiesVoteAVX2(&ptrs[0], &lom1[0], len(ms), &out[0], n, voteSgn)
	}
	clear(ptrs) // no reference to the chunks past the call
	if big {
		return 0
	}
	return n
}

//go:noescape
func tiesVote8AVX2(ms **float64, lom1 *int64, r int, out *float64, n int) (big bool)

//go:noescape
func tiesVote8F16(raws **byte, bases **float64, lom1 *int64, r int, out *float64, n int) (big bool)

//go:noescape
func tiesVote16F16AVX512(raws **byte, bases **float64, lom1 *int64, r int, out *float64, n int) (big bool)

//go:noescape
func tiesVote16F16IntAVX512(raws **byte, bases **float32, lom1 *int32, r int, out *float64, n int, add *float64, add32 *float32, w float64) (ok bool)

//go:noescape
func tiesBase32AVX512(b *float64, dst *float32, n int) (ok bool)

//go:noescape
func tiesBase16To32AVX512(b *byte, dst *float32, n int)

// vote is tiesVote16F16AVX512 on n columns (a multiple of 16, at most tiesRawSpan) by the
// integer vote: the models' float16 values at ptrs (set for n columns) minus their bases, each
// from its stored float16 (iv.baseT) where set, else from bases (which may then be nil). It
// reports false, having written nothing that counts, when a base is not a float32 integer
// multiple of 2^-24 or a difference is not below 1 (or is NaN): then the float64 vote runs.
//
// With add set (n long), each output column j is then add_difference(add[j], vote, w), as
// vecAddScaled would make it (the same FMA), while the column is in a register; with addBase
// instead, the addend is the models' one base (false when they have several).
func (iv *tiesIntVote) vote(ptrs []*byte, bases [][]float64, n int, out, add []float64, addBase bool, w float64) bool {
	r := len(ptrs)
	if len(iv.lom1) < r || r >= 128 {
		return false
	}
	stored := func(i int) bool { return i < len(iv.baseT) && len(iv.baseT[i]) >= 2*n }
	if shared := stored(0) && len(iv.lom1s) >= r; shared {
		// The usual case: every delta from one stored float16 base, widened in registers.
		for i := 1; i < r && shared; i++ {
			shared = stored(i) && &iv.baseT[i][0] == &iv.baseT[0][0]
		}
		if shared {
			var ap *float64
			if add != nil {
				ap = &add[:n][0]
			}
			iv.base16++
			return tiesVote16F16IntSharedAVX512(&ptrs[0], &iv.baseT[0][0], &iv.lom1s[0], r, &out[0], n, ap, add == nil && addBase, w)
		}
	}
	iv.bptrs = tiesResize(iv.bptrs, r)
	defer clear(iv.bptrs)
	distinct := 0
	for i := range r {
		if i > 0 { // the usual case: one base for every delta
			switch {
			case stored(i) && stored(i-1) && &iv.baseT[i][0] == &iv.baseT[i-1][0],
				!stored(i) && !stored(i-1) && bases[i] != nil && bases[i-1] != nil && &bases[i][0] == &bases[i-1][0]:
				iv.bptrs[i] = iv.bptrs[i-1]
				continue
			}
		}
		if distinct == len(iv.bufs) {
			iv.bufs = append(iv.bufs, make([]float32, tiesRawSpan))
		}
		buf := iv.bufs[distinct][:n]
		distinct++
		if stored(i) {
			// The stored float16 base: its float32 widening is exact and always qualifies
			// (the float64 base is that widening, widened again).
			tiesBase16To32AVX512(&iv.baseT[i][0], &buf[0], n)
			iv.base16++
		} else if bases[i] == nil || !tiesBase32AVX512(&bases[i][0], &buf[0], n) {
			return false
		}
		iv.bptrs[i] = &buf[0]
	}
	var ap *float64
	var ap32 *float32
	switch {
	case add != nil:
		ap = &add[:n][0]
	case addBase:
		if distinct != 1 {
			return false
		}
		ap32 = iv.bptrs[0] // the base's exact float32 widening: widened again, its float64
	}
	return tiesVote16F16IntAVX512(&ptrs[0], &iv.bptrs[0], &iv.lom1[0], r, &out[0], n, ap, ap32, w)
}

// tiesAVX512: where the CPU and the OS have AVX-512, the float16 vote and range split run
// sixteen columns a step (ties_avx512_amd64.s; the same bits): twice the columns per
// instruction, and masks instead of blends and permutation tables (the vote takes ~11
// instructions per eight columns of a model where the AVX2 loop takes 26).
var tiesAVX512 = cpu.X86.HasAVX512F

// tiesVoteF16Fast is tiesVoteFast over the first len(out) &^ 7 columns of a tile whose models'
// values are float64(raw_i[j]) - base_i[j], raw_i float16 as stored (2 bytes per column, from
// column 0 of the tile), for a vote of signs: it returns how many columns it wrote, 0 when it
// cannot or when a column holds a NaN or an infinity (then the caller makes the values and
// votes the tile the other way). ptrs, bptrs are scratch for r pointers.
//
// iv, when not nil, holds the thresholds for float32 magnitudes and scratch for the integer
// vote (tiesVote16F16IntAVX512), which takes the 16-column steps where it can. With add set
// (len(out) long), the integer vote also finishes its columns as add_difference(add, out, w);
// with addBase, as add_difference(base, out, w) of the models' one base: added is how many
// leading columns of out it finished so (the caller adds the others).
//
// A nil bases[i] (a base not widened yet, its stored float16 in iv.baseT) leaves only the
// integer vote: where it cannot take every column, nothing is done (0, 0) and the caller
// votes again with the bases.
func tiesVoteF16Fast(raws [][]byte, bases [][]float64, ptrs []*byte, bptrs []*float64, lom1 []int64, iv *tiesIntVote, out, add []float64, addBase bool, w float64) (done, added int) {
	n := len(out) &^ 7
	if !tiesSplitVector || !num.HasF16C() || n == 0 || len(raws) == 0 {
		return 0, 0
	}
	ptrs, bptrs, lom1 = ptrs[:len(raws)], bptrs[:len(raws)], lom1[:len(raws)]
	lazy := false
	for i, r := range raws {
		ptrs[i] = &r[:2*n][0]
		if bases[i] == nil {
			lazy = true
		} else {
			bptrs[i] = &bases[i][:n][0]
		}
	}
	defer clear(ptrs) // no reference to the chunks past the call
	defer clear(bptrs)
	if lazy {
		if iv == nil || !tiesAVX512 || n != len(out) || n&15 != 0 || !iv.vote(ptrs, bases, n, out, add, addBase, w) {
			return 0, 0
		}
		if add != nil || addBase {
			added = n
		}
		return n, added
	}
	var big bool
	if n16 := n &^ 15; tiesAVX512 && n16 > 0 {
		var a []float64
		if add != nil {
			a = add[:n16]
		}
		if iv != nil && iv.vote(ptrs, bases, n16, out, a, addBase, w) {
			if add != nil || addBase {
				added = n16
			}
		} else {
			big = tiesVote16F16AVX512(&ptrs[0], &bptrs[0], &lom1[0], len(raws), &out[0], n16)
		}
		done = n16
	}
	if !big && done < n {
		for i, r := range raws {
			ptrs[i], bptrs[i] = &r[2*done : 2*n][0], &bases[i][done:n][0]
		}
		big = tiesVote8F16(&ptrs[0], &bptrs[0], &lom1[0], len(raws), &out[done], n-done)
	}
	if big {
		return 0, 0
	}
	return n, added
}

//go:noescape
func tiesRunCountsAVX2(keys *uint32, runs, rl int, lim uint32) (sum, sum2 uint64)

// tiesRunCounts is tiesRunCountsLoop, eight keys a step with AVX2 where it can (the scalar
// loop was ~1.4% of the scale-4 TIES benchmark's CPU samples).
func tiesRunCounts(keys []uint32, rl int, lim uint32) (sum, sum2 uint64) {
	if runs := len(keys) / rl; tiesSplitVector && runs > 0 && rl%8 == 0 && lim <= math.MaxInt32 {
		return tiesRunCountsAVX2(&keys[0], runs, rl, lim)
	}
	return tiesRunCountsLoop(keys, rl, lim)
}

//go:noescape
func tiesRangeSplitAVX2(keys *uint32, n int, lo, hi uint32, perm *[256][8]uint32, dst *uint32) (below, m int)

// tiesRangeSplitFast appends the keys of keys[:len(keys) &^ 7] in [lo, hi] to dst (which has
// room for len(keys) + 8 more) with AVX2 when it can; it returns how many keys it scanned,
// how many of them were below lo, and dst.
func tiesRangeSplitFast(dst, keys []uint32, lo, hi uint32) (scanned, below int, out []uint32) {
	n := len(keys) &^ 7
	if !tiesSplitVector || n == 0 || lo > math.MaxInt32 || hi > math.MaxInt32 {
		return 0, 0, dst
	}
	room := dst[len(dst) : len(dst)+n+8]
	below, m := tiesRangeSplitAVX2(&keys[0], n, lo, hi, &tiesCompactPerm, &room[0])
	return n, below, dst[:len(dst)+m]
}

// tiesCompactRangeFast moves the keys u of keys[:len(keys) &^ 7] with lo <= u <= hi to their
// front, in order, with AVX2 when it can; it returns how many keys it scanned and kept. It is
// the split kernel writing over its own keys: each block is read before the kept keys are
// written, at or before it.
func tiesCompactRangeFast(keys []uint32, lo, hi uint32) (scanned, kept int) {
	n := len(keys) &^ 7
	if !tiesSplitVector || n == 0 || lo > math.MaxInt32 || hi > math.MaxInt32 {
		return 0, 0
	}
	_, m := tiesRangeSplitAVX2(&keys[0], n, lo, hi, &tiesCompactPerm, &keys[0])
	return n, m
}

//go:noescape
func tiesSubKeysSplitF16AVX512(a, b *byte, n int, lo, hi uint32, dst *uint32) (below, m int, bad bool)

//go:noescape
func tiesSubKeysSplitF16(a, b *byte, n int, lo, hi uint32, perm *[256][8]uint32, dst *uint32) (below, m int, bad bool)

// tiesKeysSplitFast is tiesRangeSplitFast over the magnitude keys of the float16 differences
// a - b (the bytes of len(a)/2 elements each), made in the same loop: it appends those in
// [lo, hi] of the first n = len/2 &^ 7 to dst (room for n + 8 more) and returns n, the count
// below lo and dst; scanned 0 when it cannot, or when a key is not finite (the caller then
// takes the keys from its KeySource, which reports such an input as the VM requires).
func tiesKeysSplitFast(dst []uint32, a, b []byte, lo, hi uint32) (scanned, below int, out []uint32) {
	n := len(a) / 2 &^ 7
	if !tiesSplitVector || !num.HasF16C() || n == 0 || len(b) != len(a) || lo > math.MaxInt32 || hi > math.MaxInt32 {
		return 0, 0, dst
	}
	room := dst[len(dst) : len(dst)+n+8]
	below, m, done := 0, 0, 0
	if n16 := n &^ 15; tiesAVX512 && n16 > 0 {
		var bad bool
		if below, m, bad = tiesSubKeysSplitF16AVX512(&a[0], &b[0], n16, lo, hi, &room[0]); bad {
			return 0, 0, dst
		}
		done = n16
	}
	if done < n { // eight keys (or all of them) left for the AVX2 loop
		b8, m8, bad := tiesSubKeysSplitF16(&a[2*done], &b[2*done], n-done, lo, hi, &tiesCompactPerm, &room[m])
		if bad {
			return 0, 0, dst
		}
		below, m = below+b8, m+m8
	}
	return n, below, dst[:len(dst)+m]
}

//go:noescape
func tiesVote16F16IntSharedAVX512(raws **byte, base *byte, lom1s *int32, r int, out *float64, n int, add *float64, addBase bool, w float64) (ok bool)
