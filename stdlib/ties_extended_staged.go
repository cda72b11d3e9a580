package stdlib

import (
	"errors"
	"math"

	"github.com/mechac/mechac/ops"
)

// The staged form of ties_sum_extended (1.1.5; SPEC §5.4), composed of the staged pieces of its
// parts: ties_sum's Stager finds the R thresholds (keys from the stored bytes where it can);
// then, over chunks of the filtered deltas (each chunk's top-k filter, vote and agreement
// made again from the thresholds: every column depends on its own values alone), the geometric
// median's Weiszfeld passes (apply_median) or the model-stock factor's pass (the default
// polarity, apply_stock=false); the output pass is the median, or the column sums in
// SumDim0Torch's order times the row's factor over the agreeing count. The bytes are
// tiesExtendedStack's (ties_extended_staged_test.go).

// tiesExtWholeMin is the whole kernel's memory (16 R n bytes: the deltas and their filtered
// stack) from which a key runs staged (StageDef.Accepts). A variable for the tests.
var tiesExtWholeMin int64 = 1 << 30

func init() {
	tiesSumExtended.Stage = &ops.StageDef{
		New:     newTiesExtStager,
		Accepts: acceptsWhole(16, &tiesExtWholeMin),
		Scratch: func(r, n int) int64 {
			kept := 8 * int64(r) * int64((n+63)/64) // the median's kept bits
			return tiesStageScratch(r, n) + stockStagedScratch(r, n) + 8*int64(r)*int64(min(n, 1<<20)) + 16*int64(min(n, 1<<20)) + kept
		},
		// The thresholds' passes, then (for the estimate) ten Weiszfeld steps or the stock pass.
		Passes:    func(r, n int) int { return tiesStagePasses(r, n) + 1 },
		KeyPasses: func(r, n int) int { return tiesStageKeyPasses(r, n) + 1 },
		Idle:      tiesKeyIdle,
		Cost:      tiesStagedCost,
	}
}

// tiesExtStager is ties_sum_extended's Stager for one key.
type tiesExtStager struct {
	inner    *tiesStager
	o        tiesOpts
	r, n     int
	th       []float64     // the thresholds, once inner found them
	median   *medianStager // apply_median
	stock    *stockStager  // the model-stock factor (apply_stock false), without a median
	blockEnd int           // columns below it are in SumDim0Torch's 16-column blocks
	all      []int         // every argument, for PassArgs

	filt            [][]float64 // a chunk's filtered deltas
	elected, counts []float64
	col, sums       []float64 // colSums's tile and result
	votes           []int32   // the sign count (without vote_sgn)
	// With a median, the first Weiszfeld pass records per delta and element whether it
	// survives the filter (top-k and agreement); the later passes and the output make the
	// filtered deltas from these bits alone (filterKept), not again from the votes.
	kept      [][]uint64
	keptReady bool
	// nanToNum: the output goes through torch.nan_to_num's defaults (the 0.0.x cores), not
	// NaN and infinities to 0 (1.1.5).
	nanToNum bool
}

// newTiesExtStager is StageDef.New for ties_sum_extended: a call the whole kernel rejects or
// treats specially (no deltas, no elements, the model stock of one delta) is not staged.
func newTiesExtStager(c ops.StageCall) (ops.Stager, bool, error) {
	kw, _, err := complete(tiesSumExtended, tiesSumExtended.KwOnly, c.Kw, c.Numerics)
	if err != nil {
		return nil, false, nil
	}
	o, err := readTiesOpts("ties_sum_extended", tiesExtendedParams, kw)
	r, n := c.Tensors, ops.NumElements(c.Shape)
	if err != nil || r == 0 || n == 0 || (!o.applyMedian && !o.applyStock && r < 2) {
		return nil, false, nil
	}
	s, ok := newTiesExtStagerFor(r, n, c.Shape, o.k, o.voteSgn, !o.applyStock && !o.applyMedian, o.cosEps)
	if !ok {
		return nil, false, nil
	}
	s.o = o
	if o.applyMedian {
		s.median = newMedianStagerFor(r, n, o.eps, o.maxiter, o.ftol)
	}
	return s, true, nil
}

// newTiesExtStagerFor is the Stager of a TIES core over r deltas of n elements of shape
// (threshold fraction k, a vote of values when voteSgn) whose output is the filtered deltas'
// column sums over the count, times the model-stock factor (cosine eps cosEps) when stock;
// false when k is not one the whole kernel accepts. A caller may set its median instead.
func newTiesExtStagerFor(r, n int, shape []int, k float64, voteSgn, stock bool, cosEps float64) (*tiesExtStager, bool) {
	inner, ok := newTiesStagerFor(r, n, k, voteSgn)
	if !ok {
		return nil, false
	}
	s := &tiesExtStager{inner: inner, o: tiesOpts{k: k, voteSgn: voteSgn}, r: r, n: n, all: make([]int, r)}
	for i := range s.all {
		s.all[i] = i
	}
	if stock {
		s.stock = newStockStagerFor(r, n, shape, cosEps)
	}
	if n >= 4 {
		s.blockEnd = n - n%16
	}
	return s, true
}

// Passes is the thresholds' passes (more after a missed bracket), then the median's steps or
// the stock pass.
func (s *tiesExtStager) Passes() int {
	p := s.inner.Passes()
	switch {
	case s.median != nil:
		p += s.median.Passes()
	case s.stock != nil:
		p++
	}
	return p
}

// phase maps a pass to the part that runs it: the thresholds (inner) or, at index q, the
// median's or stock's.
func (s *tiesExtStager) phase(pass int) (thresholds bool, q int) {
	if s.th == nil {
		return true, pass
	}
	return false, pass - s.inner.Passes()
}

// PassArgs is ops.ArgSelector: the thresholds' passes take their keys from the stored bytes
// where the VM can give them (nil), the others every argument's values.
func (s *tiesExtStager) PassArgs(pass int) []int {
	if th, _ := s.phase(pass); th {
		return nil
	}
	return s.all
}

// ObserveKeys is ops.KeyObserver for the thresholds' passes.
func (s *tiesExtStager) ObserveKeys(pass, lo, n int, src ops.KeySource) error {
	if th, _ := s.phase(pass); !th {
		return errors.New("ties_sum_extended: keys asked after the thresholds")
	}
	return s.inner.ObserveKeys(pass, lo, n, src)
}

// Observe runs the pass's part over the chunk.
func (s *tiesExtStager) Observe(pass, lo int, args [][]float64) error {
	th, q := s.phase(pass)
	if th {
		return s.inner.Observe(pass, lo, args)
	}
	if len(args) != s.r {
		return errors.New("ties_sum_extended: chunks for another number of deltas")
	}
	filt := s.filter(lo, args)
	if s.median != nil {
		return s.median.Observe(q, lo, filt)
	}
	return s.stock.Observe(q, lo, filt)
}

// EndPass ends the pass's part; the thresholds' last pass hands them over.
func (s *tiesExtStager) EndPass(pass int) error {
	th, q := s.phase(pass)
	if th {
		if err := s.inner.EndPass(pass); err != nil {
			return err
		}
		if s.inner.voter != nil { // the thresholds are known (its output pass is not used)
			s.th = s.inner.th
			putTiesVoter(s.inner.voter)
			s.inner.voter = nil
		}
		return nil
	}
	if s.median != nil {
		s.keptReady = s.kept != nil
		return s.median.EndPass(q)
	}
	return s.stock.EndPass(q)
}

// filter makes the chunk's filtered deltas, their elected signs and agreeing counts: per
// column, tiesFilterVote's operations in its order (the top-k filter v * (|v| >= th), the vote
// of values as SumDim0Torch's column sum or of signs as a count, v * agree summed into the
// counts in model order).
func (s *tiesExtStager) filter(lo int, args [][]float64) [][]float64 {
	w := len(args[0])
	if s.filt == nil || cap(s.counts) < w {
		s.filt = make([][]float64, s.r)
		for i := range s.filt {
			s.filt[i] = make([]float64, w)
		}
		s.elected, s.counts, s.sums = make([]float64, w), make([]float64, w), make([]float64, w)
		s.votes = make([]int32, w)
		s.col = make([]float64, 16*s.r)
	}
	if s.keptReady {
		return s.filterKept(lo, args)
	}
	record := s.median != nil
	if record && s.kept == nil {
		s.kept = make([][]uint64, s.r)
		for i := range s.kept {
			s.kept[i] = make([]uint64, (s.n+63)/64)
		}
	}
	filt := s.filt
	for i, a := range args {
		fi, th := filt[i][:w], s.th[i]
		for j, v := range a[:w] {
			fi[j] = v * tiesB2F(math.Abs(v) >= th) // branch-free: the mask is unpredictable
		}
		filt[i] = fi
	}
	elected, counts := s.elected[:w], s.counts[:w]
	if s.o.voteSgn {
		sums := s.colSums(lo, filt, w)
		for j, v := range sums {
			elected[j] = tiesSign(v)
		}
	}
	if !s.o.voteSgn {
		// The sign count, row by row (each row contiguous): the same integers as column by
		// column, without striding across the R rows for every element.
		votes := s.votes[:w]
		clear(votes)
		for _, row := range filt {
			for j, x := range row[:w] {
				votes[j] += tiesB2I(x > 0) - tiesB2I(x < 0)
			}
		}
		for j, v := range votes {
			elected[j] = float64(max(-1, min(v, 1)))
		}
	}
	clear(counts)
	for i := range filt {
		for j, v := range filt[i] {
			f := tiesB2F(tiesSign(v) == elected[j])
			filt[i][j] = v * f
			counts[j] += f
		}
		if record {
			s.recordKept(i, lo, args[i][:w])
		}
	}
	return filt
}

// recordKept sets delta i's kept bits for the chunk at lo from its values a: through the top-k
// filter and agreeing with the elected sign. v·m·f equals v·(m∧f) bit for bit (m, f in {0, 1}:
// a zero product keeps v's sign, NaN stays NaN), so filterKept gives filter's values.
func (s *tiesExtStager) recordKept(i, lo int, a []float64) {
	kb, th, elected := s.kept[i], s.th[i], s.elected
	for j, v := range a {
		e := lo + j
		if math.Abs(v) >= th && tiesSign(v) == elected[j] {
			kb[e/64] |= 1 << (e % 64)
		} else {
			kb[e/64] &^= 1 << (e % 64)
		}
	}
}

// filterKept makes a chunk's filtered deltas from the kept bits: v · kept.
func (s *tiesExtStager) filterKept(lo int, args [][]float64) [][]float64 {
	w := len(args[0])
	bit := [2]float64{0, 1}
	for i, a := range args {
		fi, kb, a := s.filt[i][:w], s.kept[i], a[:w]
		// A word of bits at a time: from element e to the word's end or the chunk's.
		for j := 0; j < w; {
			e := lo + j
			word := kb[e/64] >> (e % 64)
			run := min(64-e%64, w-j)
			src, dst := a[j:j+run], fi[j:j+run]
			for k, v := range src {
				dst[k] = v * bit[word&1]
				word >>= 1
			}
			j += run
		}
		s.filt[i] = fi
	}
	return s.filt
}

// colSums returns SumDim0Torch's sums of the w columns at chunk offset lo (of the whole [R, n]
// stack) of xs: a contiguous sum for n = 1, multiRowSum's cascade for the columns inside the
// 16-column blocks, rowSum past them. A column's sum depends on that choice and its own values
// alone (multiRowSum keeps an accumulator per column), so the columns inside the blocks go
// sixteen at a time, gathered into one [R, 16] tile, whatever the chunk's alignment.
func (s *tiesExtStager) colSums(lo int, xs [][]float64, w int) []float64 {
	sums, tile := s.sums[:w], s.col[:16*s.r]
	j := 0
	for ; s.n > 1 && j+16 <= w && lo+j+16 <= s.blockEnd; j += 16 {
		for i, x := range xs {
			copy(tile[16*i:16*i+16], x[j:j+16])
		}
		multiRowSum(tile, 0, 16, 1, 16, s.r, sums[j:j+16])
	}
	c := tile[:s.r]
	for ; j < w; j++ {
		for i := range xs {
			c[i] = xs[i][j]
		}
		switch {
		case s.n == 1:
			sums[j] = SumTorch(c)
		case lo+j < s.blockEnd:
			multiRowSum(c, 0, 1, 1, 1, s.r, sums[j:j+1])
		default:
			sums[j] = rowSum(c, 0, 1, s.r)
		}
	}
	return sums
}

var errTiesExtEarly = errors.New("ties_sum_extended: output chunk before the statistics passes")

// Chunk writes the output chunk: the filtered deltas' median, or their column sums times the
// row's stock factor (1 with apply_stock) over the agreeing count; NaN and infinities to 0.
func (s *tiesExtStager) Chunk(lo int, args [][]float64, out []float64) error {
	if s.th == nil || len(args) != s.r {
		return errTiesExtEarly
	}
	filt := s.filter(lo, args)
	if s.median != nil {
		if err := s.median.Chunk(lo, filt, out); err != nil {
			return err
		}
		for j, v := range out {
			out[j] = tiesNanToZero(v)
		}
		return nil
	}
	if s.stock != nil && !s.stock.ended {
		return errTiesExtEarly
	}
	sums := s.colSums(lo, filt, len(out))
	for j, sum := range sums {
		t := 1.0
		if s.stock != nil {
			t = s.stock.t[(lo+j)/s.stock.cols]
		}
		v := sum * t / s.counts[j]
		if s.nanToNum {
			out[j] = tiesNanToNum(v)
		} else {
			out[j] = tiesNanToZero(v)
		}
	}
	return nil
}
