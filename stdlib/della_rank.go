package stdlib

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync/atomic"
)

// DELLA's ranks (the fork's ties_sum_with_dropout, 0.0.x and 1.x): scipy's
// rankdata(|delta|, method="ordinal") over the whole tensor, ties broken by position. On the
// 216-model x215a recipe the comparison sort this replaces took 59% of the merge's CPU time
// (~165 ns per element); the stable radix sort below takes a few ns per element.

// dellaRadixBits is the widest digit of dellaRanker's sort. The digits are aligned on the
// float64 fields, least significant first: mantissa bits 0-7, 8-18, 19-29, 30-40, 41-51, and
// the exponent, bits 52-62. Deltas of float16 or bfloat16 models use only the top 11 to 20 or
// so mantissa bits, so their low digits are all zero and skipped (see order).
const (
	dellaRadixBits   = 11
	dellaRadixDigits = 6
	dellaRadixSize   = 1 << dellaRadixBits
)

// dellaRadixShift is each digit's lowest bit.
var dellaRadixShift = [dellaRadixDigits]uint{0, 8, 19, 30, 41, 52}

// dellaRadixMin is the length below which order sorts by comparison: a radix pass costs
// its 2^11-bucket prefix sums whatever the length.
const dellaRadixMin = 2048

// dellaRanker orders a delta's elements by magnitude, reusing its buffers from delta to delta:
// two key buffers and two index buffers (24 bytes per element), and the packed sort's digit
// histograms.
type dellaRanker struct {
	keys [2][]uint64
	idx  [2][]uint32
	hist []uint32 // orderPacked's digit histograms
	// nan reports whether the last delta sorted held a NaN (its order and ranks are then
	// unspecified), found in orderPacked's pass over the magnitudes. Its callers used to look
	// for one in a pass of their own: on x215a 2.2% of the CPU samples, the delta cold in
	// cache.
	nan bool
}

// orderPacked's digits: up to dellaWideBits bits for deltas of at least dellaWideMin elements,
// up to dellaMidBits from dellaMidMin, else dellaRadixBits. A pass is a histogram and a
// scatter whatever its digit, and the 2^digit prefix sums are small next to it from these
// lengths, so the widest digits that keep the passes fewest win: float16 deltas' ~26 bits take
// two passes of 13 bits from 2^12 elements where 11-bit digits took three (BenchmarkDellaOrder
// sizes, AMD EPYC: 16.2 -> 13.7 ns per element at 2^12, 14.2 -> 11.3 at 2^14, 14.1 -> 10.9 at
// 2^16; at 2^11 13 bits cost more, 18.0 against 14.2).
const (
	dellaWideBits = 16
	dellaWideMin  = 1 << 18
	dellaMidBits  = 13
	dellaMidMin   = 1 << 12
)

// newDellaRanker returns a ranker for the deltas of n elements of the method name. Positions
// are uint32: a tensor of more than 2^32 - 1 elements (32 GiB in float64, none in a Stable
// Diffusion model) is refused with an error.
func newDellaRanker(name string, n int) (*dellaRanker, error) {
	if n > math.MaxUint32 {
		return nil, fmt.Errorf("%s: DELLA ranks of a tensor of %d elements (more than 2^32 - 1) are not supported", name, n)
	}
	return &dellaRanker{}, nil
}

// dellaRankerBytes is what a dellaRanker holds for deltas of n elements.
func dellaRankerBytes(n int) int64 {
	hist := int64(3 * 4 << dellaRadixBits) // orderPacked's histograms
	switch {
	case n >= dellaWideMin:
		hist = 2 * 4 << dellaWideBits
	case n >= dellaMidMin:
		hist = 2 * 4 << dellaMidBits
	}
	return 24*int64(n) + hist
}

// order returns the positions of delta sorted by |delta| ascending, equal magnitudes by
// position (a stable sort), which is rankdata's ordinal order: the element at order[r] has
// rank r+1. Where delta holds a NaN the result is unspecified and d.nan is set (the caller
// checks it). The slice is the ranker's until its next call.
//
// |v| as a float64 is v's bits with the sign bit cleared, and for non-NaN magnitudes the bit
// patterns order as the values do (+0 first, +Inf last), so a least-significant-digit radix
// sort of the 63-bit patterns, stable pass after pass, gives the comparison sort's order.
// Digits that are equal across all elements are skipped: deltas of float16 or bfloat16 models
// have zeros in their low mantissa bits.
func (d *dellaRanker) order(delta []float64) []uint32 { return d.sort(delta, false) }

// ranks returns the 0-based ordinal rank of every element of delta (rank[i] = r where
// order(delta)[r] = i), under order's conditions. The slice is the ranker's until its next
// call. A caller mapping each element to a function of its rank writes its output in element
// order from these, where from order it would write element by element in rank order: a
// store to a random place per element (on x215a, 4.6 of the ranks' 56 CPU-s).
func (d *dellaRanker) ranks(delta []float64) []uint32 { return d.sort(delta, true) }

// sort is order (ranks false) or ranks (ranks true).
func (d *dellaRanker) sort(delta []float64, ranks bool) []uint32 {
	n := len(delta)
	for b := range d.idx {
		if cap(d.idx[b]) < n {
			d.idx[b] = make([]uint32, n)
			d.keys[b] = make([]uint64, n)
		}
		d.idx[b], d.keys[b] = d.idx[b][:n], d.keys[b][:n]
	}
	if ix, ok := d.orderPacked(delta, ranks); ok {
		return ix
	}
	if n < dellaRadixMin {
		return d.inverted(d.orderByCompare(delta), ranks)
	}
	const mask = dellaRadixSize - 1
	var hist [dellaRadixDigits][dellaRadixSize]uint32
	for _, v := range delta {
		u := math.Float64bits(v) &^ (1 << 63)
		for g := range dellaRadixDigits {
			hist[g][u>>dellaRadixShift[g]&mask]++
		}
	}
	src := -1 // -1: the keys and positions are still delta's own (not yet copied)
	for g := range dellaRadixDigits {
		h := &hist[g]
		shift := dellaRadixShift[g]
		// A digit whose elements all fall in one bucket keeps the order as it is.
		skip := false
		for _, c := range h {
			if c != 0 {
				skip = int(c) == n
				break
			}
		}
		if skip {
			continue
		}
		dellaPrefixSums(h[:])
		dst := 0
		if src == 0 {
			dst = 1
		}
		dk, di := d.keys[dst], d.idx[dst]
		if src < 0 {
			for j, v := range delta {
				u := math.Float64bits(v) &^ (1 << 63)
				b := u >> shift & mask
				p := h[b]
				h[b] = p + 1
				dk[p], di[p] = u, uint32(j)
			}
		} else {
			sk, si := d.keys[src], d.idx[src]
			for j, u := range sk {
				b := u >> shift & mask
				p := h[b]
				h[b] = p + 1
				dk[p], di[p] = u, si[j]
			}
		}
		src = dst
	}
	if src < 0 { // every element in one bucket of every digit: all magnitudes are equal
		ix := d.idx[0]
		for j := range ix {
			ix[j] = uint32(j)
		}
		return ix // its own inverse
	}
	return d.inverted(d.idx[src], ranks)
}

// inverted returns ix (an order from one of d's index buffers) as ranks when ranks is set: its
// inverse permutation, in d's other index buffer.
func (d *dellaRanker) inverted(ix []uint32, ranks bool) []uint32 {
	if !ranks || len(ix) == 0 {
		return ix
	}
	rk := d.idx[0]
	if &rk[0] == &ix[0] {
		rk = d.idx[1]
	}
	for r, i := range ix {
		rk[i] = uint32(r)
	}
	return rk
}

// dellaCountMin is the shortest delta for which orderPacked looks for orderCounted's grid (a
// trailing-zero count per element in its first pass): the counting sort needs as many elements
// as its grid has points between the smallest and the largest magnitude, 2^17-2^19 for
// fine-tunes' float16 deltas, which shorter deltas rarely have.
const dellaCountMin = 1 << 16

// orderCounted is sort (order, or ranks when ranks is set) by counting, for deltas without a
// NaN whose magnitudes are all multiples of 2^grid and span at most as many of those steps as
// there are elements: as deltas of float16 models do from ~2^18 elements (every float16 is a
// multiple of 2^-24, and so is a difference of two; x215a's span 2^17-2^19 steps). Each
// magnitude becomes its exact integer number of steps above the smallest (a float64 product by
// a power of two, then a conversion, both exact below 2^32), so equal magnitudes get equal
// integers and larger ones larger integers; one pass counts them, the prefix sums place each
// integer's first element, and a pass in position order hands out ranks, ties by position: the
// stable sort's order. Three passes over the delta where the radix sort takes three or four
// with scattered 8-byte moves (BenchmarkDellaOrder, finetune/count against radix: 4.4-5.0
// against 6.8-14 ns per element from 2^18 to 2^22 elements). ok is false, nothing done, where
// it does not apply.
func (d *dellaRanker) orderCounted(delta []float64, lo, hi uint64, grid int, ranks bool) (ix []uint32, ok bool) {
	n := len(delta)
	if grid < -1023 || hi == 0 {
		// Steps below 2^-1023 (subnormal deltas): 2^-grid overflows. All zeros: orderPacked's.
		return nil, false
	}
	scale := math.Ldexp(1, -grid)
	top := math.Float64frombits(hi) * scale // +Inf for an infinite magnitude
	if !(top < 1<<32) {
		return nil, false
	}
	base := uint64(math.Float64frombits(lo) * scale)
	span := uint64(top) - base + 1
	if span > uint64(n) {
		return nil, false
	}
	// The steps of each element go to d.idx[0] (ranks) or d.keys[0] (order: d.idx[0] takes the
	// output); the counts fill the front of d.idx[1].
	count := d.idx[1][:span]
	clear(count)
	if ranks {
		steps := d.idx[0]
		for j, v := range delta {
			k := uint32(uint64(math.Abs(v)*scale) - base)
			steps[j] = k
			count[k]++
		}
		dellaPrefixSums(count)
		for j, k := range steps {
			r := count[k]
			count[k] = r + 1
			steps[j] = r // in place: element j's rank
		}
		dellaCountedSorts.Add(1)
		return steps, true
	}
	steps := d.keys[0]
	for j, v := range delta {
		k := uint64(math.Abs(v)*scale) - base
		steps[j] = k
		count[k]++
	}
	dellaPrefixSums(count)
	ix = d.idx[0]
	for j, k := range steps {
		r := count[k]
		count[k] = r + 1
		ix[r] = uint32(j)
	}
	dellaCountedSorts.Add(1)
	return ix, true
}

// dellaCounting turns orderCounted on (off: the benchmarks' radix sort alone).
var dellaCounting = true

// dellaCountedSorts counts the deltas orderCounted sorted (for the tests: the path must run
// where it applies, and only there).
var dellaCountedSorts atomic.Int64

// dellaPrefixSums replaces each count by the sum of those before it.
func dellaPrefixSums(count []uint32) {
	sum := uint32(0)
	for b, c := range count {
		count[b] = sum
		sum += c
	}
}

// orderPacked is sort (order, or ranks when ranks is set), by orderCounted where that applies
// (its grid is found in this function's first pass), else for deltas whose magnitudes differ
// in at most 32 bits once their common low zero bits and their minimum are taken away, as
// deltas of float16 and bfloat16 models do (about 26 bits: a narrow exponent range and few
// mantissa bits): the magnitude u becomes (u - min) >> zeros, strictly increasing in u, and
// goes above its position in one uint64, so the packed values are distinct and their order is
// the (magnitude, position) order. The radix passes then sort only those bits, in as few
// digits as the length allows (see dellaMidBits), moving 8 bytes per element instead of 12,
// and the last pass writes the positions alone (or each position's rank). ok is false when
// the magnitudes need more than 32 bits.
func (d *dellaRanker) orderPacked(delta []float64, ranks bool) (ix []uint32, ok bool) {
	lo, hi, or := uint64(math.MaxUint64), uint64(0), uint64(0)
	grid := math.MaxInt // the lowest set bit's place value among the nonzero magnitudes, biased
	if len(delta) >= dellaCountMin {
		for _, v := range delta {
			u := math.Float64bits(v) &^ (1 << 63)
			lo, hi, or = min(lo, u), max(hi, u), or|u
			if u != 0 {
				// u is M * 2^(e-1075) with M its mantissa and the implicit bit (e >= 1; a
				// subnormal's M has none and the same scale as e = 1), so its lowest set bit is
				// worth 2^(e + tz(M) - 1075); tz(u | 1<<52) is tz(M) for both.
				grid = min(grid, max(int(u>>52), 1)+bits.TrailingZeros64(u|1<<52))
			}
		}
	} else {
		for _, v := range delta {
			u := math.Float64bits(v) &^ (1 << 63)
			lo, hi, or = min(lo, u), max(hi, u), or|u
		}
	}
	// A NaN's magnitude bits are above +Inf's; the sort orders them as any others.
	d.nan = hi > 0x7ff0000000000000
	if dellaCounting && !d.nan && grid != math.MaxInt {
		if ix, ok := d.orderCounted(delta, lo, hi, grid-1075, ranks); ok {
			return ix, true
		}
	}
	zeros := bits.TrailingZeros64(or) // 64 when every magnitude is +0
	width := 0
	if zeros < 64 {
		width = bits.Len64((hi - lo) >> zeros) // lo has those zero bits too
	}
	if width > 32 {
		return nil, false
	}
	ix = d.idx[0]
	if width == 0 { // all magnitudes equal: position order (its own inverse)
		for j := range ix {
			ix[j] = uint32(j)
		}
		return ix, true
	}
	key := func(v float64) uint64 { return (math.Float64bits(v)&^(1<<63) - lo) >> zeros }
	if len(delta) < dellaRadixMin {
		// Short: a comparison sort of the packed values, no comparator to call (on x215a the
		// keys under 2^11 elements sorted by orderByCompare took 4.4% of its CPU time).
		src := d.keys[0]
		for j, v := range delta {
			src[j] = key(v)<<32 | uint64(j)
		}
		slices.Sort(src)
		for r, p := range src {
			if ranks {
				ix[uint32(p)] = uint32(r)
			} else {
				ix[r] = uint32(p)
			}
		}
		return ix, true
	}
	// Digits as wide as the length allows (dellaMidBits): the fewest passes.
	maxDigit := dellaRadixBits
	switch {
	case len(delta) >= dellaWideMin:
		maxDigit = dellaWideBits
	case len(delta) >= dellaMidMin:
		maxDigit = dellaMidBits
	}
	passes := (width + maxDigit - 1) / maxDigit
	digit := (width + passes - 1) / passes
	mask := uint64(1)<<digit - 1
	if len(d.hist) < passes<<digit {
		d.hist = make([]uint32, passes<<max(digit, dellaRadixBits))
	}
	hist := d.hist[:passes<<digit]
	clear(hist)
	src := d.keys[0]
	// One loop per pass count (at most three: 32 bits in 11-bit digits): the loop over the
	// digits inside the element loop cost more than the counting (x215a: 9.5 of 43 s).
	h0 := hist[:1<<digit]
	switch passes {
	case 1:
		for j, v := range delta {
			c := key(v)
			h0[c&mask]++
			src[j] = c<<32 | uint64(j)
		}
	case 2:
		h1 := hist[1<<digit : 2<<digit]
		for j, v := range delta {
			c := key(v)
			h0[c&mask]++
			h1[c>>digit&mask]++
			src[j] = c<<32 | uint64(j)
		}
	default: // 3: width <= 32 bits in digits of at least 11
		h1, h2 := hist[1<<digit:2<<digit], hist[2<<digit:3<<digit]
		for j, v := range delta {
			c := key(v)
			h0[c&mask]++
			h1[c>>digit&mask]++
			h2[c>>(2*digit)&mask]++
			src[j] = c<<32 | uint64(j)
		}
	}
	dst := d.keys[1]
	for g := range passes {
		h := hist[g<<digit : (g+1)<<digit]
		dellaPrefixSums(h)
		shift := uint(32 + g*digit)
		if g == passes-1 {
			// The last pass places each element at its rank: ix[rank] = position, or for
			// ranks ix[position] = rank.
			if ranks {
				for _, p := range src {
					b := p >> shift & mask
					q := h[b]
					h[b] = q + 1
					ix[uint32(p)] = q
				}
				break
			}
			for _, p := range src {
				b := p >> shift & mask
				q := h[b]
				h[b] = q + 1
				ix[q] = uint32(p)
			}
			break
		}
		for _, p := range src {
			b := p >> shift & mask
			q := h[b]
			h[b] = q + 1
			dst[q] = p
		}
		src, dst = dst, src
	}
	return ix, true
}

// orderByCompare is order by a comparison sort, for short deltas.
func (d *dellaRanker) orderByCompare(delta []float64) []uint32 {
	ix := d.idx[0]
	for j := range ix {
		ix[j] = uint32(j)
	}
	slices.SortFunc(ix, func(a, b uint32) int {
		if c := cmp.Compare(math.Abs(delta[a]), math.Abs(delta[b])); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return ix
}
