package stdlib

import (
	"errors"
	"fmt"
	"math"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/rng"
)

// The staged form of the DELLA ties_sum_with_dropout of 0.0.x (@0.0.x, @fork-0.0.26 and its
// hotfix: the 216-model x215a recipe's method) and of 1.0.x (@1.0, @fork-1.0.4, @fork-1.0.x:
// the author's 2025 recipes'), SPEC §5.4. The eras differ in their probability rule, their
// TIES polarities and their median's sums (torch's reductions in 0.0.x, Python's in 1.0.x).
// Whole-tensor, a key holds every delta and its masked copy in float64, 16 x R x n bytes: 210
// GiB for the SDXL token embedding of x215a's 215 deltas. Staged, a key holds one delta, the
// masks as bits, and a tile:
//
//   - one pass per delta (ops.ArgSelector: the VM reads that delta's inputs alone) gathers it
//     whole; its end ranks it (DELLA's ordinal ranks, dellaOffsets), draws its uniforms from the
//     key's generator, which the deltas use one after the other as the whole kernel does, and
//     keeps its mask as n bits;
//   - the ties_sum Stager finds the top-k thresholds of the masked deltas from their magnitude
//     keys (ObserveKeys), in its own passes;
//   - with apply_median, one pass per Weiszfeld step: the filtered points of each chunk (mask,
//     top-k filter, vote, agreement), the median of the chunk's columns for the step's weights,
//     and each point's distance to it, a chain of fused multiply-adds carried from chunk to
//     chunk in element order (DistsTorch's);
//   - the output pass computes the filtered points and the median (or the disjoint mean) of
//     each chunk for the final weights.
//
// Every operation is the whole kernel's on the same values in the same order: the column sums
// are SumDim0Torch's per column (a column's cascade over the R rows does not depend on the
// others) or, in the 1.0.x median, Python's sum in model order; the distances are sequential
// chains. So the bytes are the whole kernel's (ties_della_staged_test.go).

// dellaWholeMin is the whole kernel's memory (16 R n bytes: the deltas and their masked
// copies) from which a key runs staged (StageDef.Accepts). Staged, a key reads its inputs once
// per delta and again per Weiszfeld step, so it pays only where whole tensors would not fit: on
// x215a's d16 models (the largest key 0.85 GB whole) staging every key of 1024 elements or more
// took over 4 times as long as whole tensors; at full size nearly every key of 215 deltas is
// past 1 GiB (5.6 GB for a 1280 x 1280 weight). A variable for the tests.
var dellaWholeMin int64 = 1 << 30

// dellaTile is how many columns of every point the median and the vote take at a time:
// with R = 215, the points and their weighted products (2 x 215 KiB) stay in the L2 cache.
const dellaTile = 128

// della00xStageDef is the StageDef of the 0.0.x DELLA ties_sum_with_dropout d of the given kind.
func della00xStageDef(d *ops.Def, kind dropout00xKind) *ops.StageDef {
	return dellaStageDef(func(c ops.StageCall) (ops.Stager, bool, error) { return newDella00xStager(d, kind, c) })
}

// della10xStageDef is the StageDef of the 1.0.x ties_sum_with_dropout d (fixed: fork-1.0.x).
func della10xStageDef(d *ops.Def, fixed bool) *ops.StageDef {
	return dellaStageDef(func(c ops.StageCall) (ops.Stager, bool, error) { return newDella10xStager(d, fixed, c) })
}

// dellaStageDef is the StageDef of a DELLA Stager made by newStager.
func dellaStageDef(newStager func(c ops.StageCall) (ops.Stager, bool, error)) *ops.StageDef {
	return &ops.StageDef{
		New:     newStager,
		Accepts: acceptsWhole(16, &dellaWholeMin),
		Scratch: dellaScratch,
		// In full-slice equivalents for the estimate: the passes over one delta each read one
		// input, together about one pass; the thresholds; the Weiszfeld steps (about 8 on x215a).
		Passes: func(r, n int) int { return 1 + tiesStageKeyPasses(r, n) + 8 },
		Idle:   tiesKeyIdle,
		// The ranks (30), the masks (20) and the selection and vote, as the whole kernel's
		// Def.Passes counts them.
		Cost: 52,
	}
}

// dellaScratch is StageDef.Scratch: one delta, its offsets and ranker, and dellaCoreScratch.
func dellaScratch(r, n int) int64 {
	return 16*int64(n) + dellaRankerBytes(n) + dellaCoreScratch(r, n)
}

// dellaCoreScratch is the Scratch of the Stager without dropout (no delta gathered): the
// masks' bits, the ties_sum Stager's, and a tile of every point with its column scratch.
func dellaCoreScratch(r, n int) int64 {
	bits := 8 * int64(r) * int64((n+63)/64)
	tile := 8 * int64(r) * dellaTile * 2
	return bits + tiesStageScratch(r, n) + tile + tiesSmallScratch(r)
}

// dellaStager is the Stager of one key.
type dellaStager struct {
	name string
	// fill makes the keep probabilities of a delta from its DELLA offsets (nil: none), by
	// the era's rule (dellaFillQ, della10xFillQ).
	fill func(off []float64) func(qs []float64, lo int) error
	// keep, where set, makes the keep probabilities from the delta itself instead (1.1.5's
	// dropoutKeep), into keep; a NaN among them is the kernel's error.
	keep func(delta []float64, rk *dellaRanker, keep []float64)
	// nanZero: the output goes through nan_to_num(0, 0, 0) (1.1.5), not torch's defaults.
	nanZero bool
	// python: the geometric median's sums are Python's (1.x: the weighted sum and the
	// weights' sum added in model order), not torch's reductions (0.0.x).
	python bool
	r, n   int
	o      tiesEraOpts
	pMin   float64 // 1 - p
	eps    float64 // della_eps
	div    float64 // (1 - p)^rescale, 1 when not finite
	g      *rng.Torch
	rk     *dellaRanker
	delta  []float64  // the delta being gathered
	off    []float64  // its DELLA offsets
	bits   [][]uint64 // per delta, its mask
	// gathers is the number of gather passes: r, or 0 without dropout (masks all ones).
	gathers int
	pos     int // the next element offset a gather expects
	inner   *tiesStager

	th []float64 // the masked deltas' top-k thresholds (once inner ends)

	// Weiszfeld: the weights of the pass being run and their sum, the passes planned after the
	// thresholds' (0 without apply_median), the distance chains and the stopping rule.
	w      []float64
	den    float64
	median int
	z      weiszfeld

	// A tile of the points (row i at x[i*tw:]) and of their weighted products, a column, the
	// elected signs, counts, the tile's column sums and median, and sign votes.
	x, prod, col, elected, counts, sums, med []float64
	votes                                    []int32
	kept                                     []bool
	// combined: the bits are each point's three factors at once (after the first Weiszfeld
	// pass; see points).
	combined bool
}

// newDella00xStager is StageDef.New. A call the whole kernel rejects or special-cases (bad
// arguments, p = 1, no deltas) or one with the model-stock factor is not staged.
func newDella00xStager(d *ops.Def, kind dropout00xKind, c ops.StageCall) (ops.Stager, bool, error) {
	name := d.FullName()
	kw, h, o, ok := stageKw00x(d, c, true)
	if !ok {
		return nil, false, nil
	}
	seed, hasSeed, err := eraSeed(name, kw[kwIndex(d, "seed")])
	if err != nil {
		return nil, false, nil
	}
	p := h["probability"]
	if p == 1 {
		return nil, false, nil
	}
	div := math.Pow(1-p, h["rescale"])
	if math.IsNaN(div) || math.IsInf(div, 0) {
		div = 1
	}
	g := rng.NewTorch(rng.TorchDefaultSeed)
	if hasSeed && seed >= 0 {
		g = rng.NewTorch(uint64(int64(math.RoundToEven(seed))))
	}
	pMin := 1 - p
	return newDellaStager(name, c, o, h["della_eps"], pMin, div, g, false,
		func(off []float64) func(qs []float64, lo int) error { return dellaFillQ(kind, pMin, off) })
}

// dropout1x is a 1.x ties_sum_with_dropout call's arguments as its kernel reads them, for a
// Stager: one probability p for the key (pt), the TIES options in the era's polarities, the
// generator's seed.
type dropout1x struct {
	pt       *ops.Tensor
	p        float64
	dellaEps float64
	rescale  bool
	o        tiesEraOpts
	seed     int64
}

// readDropout1x reads a staged call of the 1.x ties_sum_with_dropout d; ok is false where the
// kernel would reject the arguments, special-case them (p isclose to 1), or take a probability
// per element: such a call is not staged.
func readDropout1x(d *ops.Def, name string, c ops.StageCall) (a dropout1x, ok bool) {
	kw, _, err := complete(d, d.KwOnly, c.Kw, c.Numerics)
	if err != nil {
		return a, false
	}
	pts, err := tensors(name, ops.NumElements(c.Shape), kw[0])
	if err != nil || !pts[0].IsScalar() {
		return a, false
	}
	a.pt, a.p = pts[0], pts[0].Data[0]
	var err1, err2, err3, err4 error
	var t tiesOpts
	var hasSeed bool
	a.dellaEps, err1 = tiesFloat(name, "della_eps", kw[1])
	a.rescale, err2 = tiesBool(name, "rescale", kw[2])
	t, err3 = readTiesOpts(name, tiesDropoutParams[3:11], kw[3:11])
	a.seed, hasSeed, err4 = tiesSeed(name, kw[11])
	if isClose(a.p, 1) || errors.Join(err1, err2, err3, err4) != nil {
		return a, false
	}
	if !hasSeed || a.seed < 0 {
		a.seed = int64(rng.TorchDefaultSeed)
	}
	// The 1.x polarities: vote_sgn votes with the values, apply_stock turns the factor off.
	a.o = tiesEraOpts{k: t.k, bySigns: !t.voteSgn, stock: !t.applyStock, median: t.applyMedian,
		cosEps: t.cosEps, eps: t.eps, ftol: t.ftol, maxiter: max(t.maxiter, 0)}
	return a, true
}

// newDella10xStager is StageDef.New of the 1.0.x ties_sum_with_dropout (fixed: fork-1.0.x's
// probability rule): Python's sums in the median.
func newDella10xStager(d *ops.Def, fixed bool, c ops.StageCall) (ops.Stager, bool, error) {
	name := d.FullName()
	a, ok := readDropout1x(d, name, c)
	if !ok {
		return nil, false, nil
	}
	div := 1.0
	if a.rescale {
		div = 1 - a.p
	}
	pMin := 1 - a.p
	return newDellaStager(name, c, a.o, a.dellaEps, pMin, div, rng.NewTorch(uint64(a.seed)), true,
		func(off []float64) func(qs []float64, lo int) error { return della10xFillQ(fixed, pMin, off) })
}

// newDella115Stager is StageDef.New of today's ties_sum_with_dropout (1.1.5): dropoutKeep's
// probabilities, Python's sums in the median, nan_to_num(0, 0, 0), each numerics' divisor.
func newDella115Stager(c ops.StageCall) (ops.Stager, bool, error) {
	const name = "ties_sum_with_dropout"
	a, ok := readDropout1x(tiesSumWithDropout, name, c)
	if !ok {
		return nil, false, nil
	}
	div := 1.0
	if a.rescale {
		div = 1 - a.p
		if c.Numerics == ops.SDMecha {
			div = float64(float32(1) - float32(a.p)) // 1.0 - f32 0-dim tensor: in float32
		}
	}
	st, ok, err := newDellaStager(name, c, a.o, a.dellaEps, 1-a.p, div, rng.NewTorch(uint64(a.seed)), true, nil)
	if ok {
		s := st.(*dellaStager)
		s.nanZero = true
		pt, dellaEps, numerics := a.pt, a.dellaEps, c.Numerics
		s.keep = func(delta []float64, rk *dellaRanker, keep []float64) {
			dropoutKeep(delta, pt, dellaEps, numerics, keep, rk)
		}
	}
	return st, ok, err
}

func init() {
	tiesSumWithDropout.Stage = dellaStageDef(newDella115Stager)
}

// newDellaStager is the Stager of a DELLA/DARE ties_sum_with_dropout call over c's tensors: o
// the era's TIES options, pMin = 1 - p, the rescale divisor div, the key's generator g, the
// median's sums Python's or torch's, fill the era's probability rule. The model-stock factor
// (which no median overrides) is not staged.
func newDellaStager(name string, c ops.StageCall, o tiesEraOpts, dellaEps, pMin, div float64, g *rng.Torch, python bool,
	fill func(off []float64) func(qs []float64, lo int) error) (ops.Stager, bool, error) {
	r, n := c.Tensors, ops.NumElements(c.Shape)
	if r == 0 || n == 0 || o.stock && !o.median {
		return nil, false, nil
	}
	inner, ok := newTiesStagerFor(r, n, o.k, !o.bySigns)
	if !ok {
		return nil, false, nil
	}
	s := &dellaStager{name: name, r: r, n: n, o: o, pMin: pMin, eps: dellaEps, div: div, g: g, inner: inner,
		python: python, fill: fill}
	if s.eps != 0 {
		var err error
		if s.rk, err = newDellaRanker(name, n); err != nil {
			return nil, false, nil
		}
	}
	if o.median {
		s.median = 1
	}
	s.bits = make([][]uint64, r)
	s.gathers = r
	return s, true, nil
}

// withoutDropout makes s the core without dropout (the 0.0.x ties_sum with a median, made
// with pMin and div 1): every mask all ones from the start, so no gather passes and no draws.
func (s *dellaStager) withoutDropout() *dellaStager {
	for i := range s.bits {
		s.bits[i] = make([]uint64, (s.n+63)/64)
		for w := range s.bits[i] {
			s.bits[i][w] = ^uint64(0)
		}
	}
	s.gathers = 0
	return s
}

// Passes is one per delta (none without dropout), the ties_sum Stager's, then the Weiszfeld
// steps planned so far.
func (s *dellaStager) Passes() int { return s.gathers + s.inner.Passes() + s.median }

// dellaPhase is what a statistics pass does.
type dellaPhase uint8

const (
	dellaGather     dellaPhase = iota // one delta whole: its ranks and mask at the end
	dellaThresholds                   // the ties_sum Stager's pass over the masked keys
	dellaWeiszfeld                    // a Weiszfeld step over the filtered points
)

// phase is pass's phase and its index within it.
func (s *dellaStager) phase(pass int) (dellaPhase, int) {
	switch {
	case pass < s.gathers:
		return dellaGather, pass
	case pass < s.gathers+s.inner.Passes():
		return dellaThresholds, pass - s.gathers
	}
	return dellaWeiszfeld, pass - s.gathers - s.inner.Passes()
}

// PassArgs is ops.ArgSelector's: a gather pass reads its delta alone.
func (s *dellaStager) PassArgs(pass int) []int {
	if ph, i := s.phase(pass); ph == dellaGather {
		return []int{i}
	}
	return nil
}

var errDellaChunks = fmt.Errorf("ties_sum_with_dropout: chunks of unequal lengths: %w", ops.ErrUnstaged)

// check validates a chunk of want elements of every one of r arguments at offset lo.
func (s *dellaStager) check(lo int, args [][]float64, r, want int) error {
	if len(args) != r {
		return fmt.Errorf("%s: %d chunks for %d deltas", s.name, len(args), r)
	}
	for _, a := range args {
		if len(a) != want {
			return errDellaChunks
		}
	}
	if lo != s.pos || lo+want > s.n {
		return fmt.Errorf("%s: chunk [%d, %d) out of order (expected offset %d of %d)", s.name, lo, lo+want, s.pos, s.n)
	}
	s.pos += want
	return nil
}

// Observe runs the pass's phase over a chunk.
func (s *dellaStager) Observe(pass, lo int, args [][]float64) error {
	ph, i := s.phase(pass)
	switch ph {
	case dellaGather:
		if len(args) == 0 {
			return s.check(lo, args, 1, 0)
		}
		if err := s.check(lo, args, 1, len(args[0])); err != nil {
			return err
		}
		if s.delta == nil {
			s.delta = make([]float64, s.n)
		}
		copy(s.delta[lo:], args[0])
		return nil
	case dellaThresholds:
		if len(args) == 0 {
			return s.check(lo, args, s.r, 0)
		}
		if err := s.check(lo, args, s.r, len(args[0])); err != nil {
			return err
		}
		return s.inner.ObserveKeys(i, lo, len(args[0]), maskedKeys{s: s, args: args, lo: lo})
	}
	if len(args) == 0 {
		return s.check(lo, args, s.r, 0)
	}
	if err := s.check(lo, args, s.r, len(args[0])); err != nil {
		return err
	}
	s.tiles(lo, args, nil)
	return nil
}

// maskedKeys is the ops.KeySource of a chunk's masked deltas for the ties_sum Stager.
type maskedKeys struct {
	s    *dellaStager
	args [][]float64
	lo   int
}

func (m maskedKeys) Keys(i int, dst []uint32) error {
	bits := m.s.bits[i]
	for j, v := range m.args[i][:len(dst)] {
		e := m.lo + j
		dst[j] = absKey(v * tiesB2F(bits[e/64]>>(e%64)&1 != 0))
	}
	return nil
}

// EndPass ends the pass's phase: a delta's mask, the thresholds, or a Weiszfeld step.
func (s *dellaStager) EndPass(pass int) error {
	if s.pos != s.n {
		return fmt.Errorf("%s: pass %d saw %d of %d elements", s.name, pass, s.pos, s.n)
	}
	s.pos = 0
	ph, i := s.phase(pass)
	switch ph {
	case dellaGather:
		if s.delta == nil {
			s.delta = make([]float64, s.n)
		}
		var fill func(qs []float64, lo int) error
		if s.keep != nil {
			if s.off == nil {
				s.off = make([]float64, s.n)
			}
			keep := s.off // (the offsets' buffer holds the probabilities)
			s.keep(s.delta, s.rk, keep)
			fill = func(qs []float64, lo int) error {
				for j, q := range keep[lo : lo+len(qs)] {
					if math.IsNaN(q) {
						return fmt.Errorf("%s: bernoulli probability is NaN", s.name)
					}
					qs[j] = q
				}
				return nil
			}
		} else {
			var off []float64
			if s.rk != nil {
				if s.off == nil {
					s.off = make([]float64, s.n)
				}
				off = s.off
				dellaOffsets(s.delta, s.eps, s.rk, off)
			}
			fill = s.fill(off)
		}
		s.bits[i] = make([]uint64, (s.n+63)/64)
		if err := bernoulliBits64(s.name, s.g, s.n, s.bits[i], fill); err != nil {
			return err
		}
		if i == s.r-1 {
			s.delta, s.off, s.rk = nil, nil, nil
		}
		return nil
	case dellaThresholds:
		if err := s.inner.EndPass(i); err != nil {
			return err
		}
		if s.inner.voter == nil {
			return nil // more threshold passes
		}
		s.th = s.inner.th // (the ties_sum Stager's own output pass is not used)
		putTiesVoter(s.inner.voter)
		s.inner.voter = nil
		s.w = make([]float64, s.r)
		fill(s.w, 1) // the float32 ones
		s.den = s.weightSum(s.w)
		s.z = newWeiszfeld(s.r, s.o.eps, s.o.ftol, s.o.maxiter)
		return nil
	}
	if i != s.median-1 || s.z.stopped {
		return errors.New("ties_sum_with_dropout: Weiszfeld pass out of order")
	}
	s.combined = true // the first pass wrote the combined bits
	// geometricMedian00x's stopping rule; the next step's weights, from this median's distances.
	nw := s.z.endPass(i)
	if nw == nil {
		return nil
	}
	s.w, s.den = nw, s.weightSum(nw)
	s.median++
	return nil
}

// Chunk writes the output chunk: the median of the filtered points for the final weights (or
// their disjoint mean), through nan_to_num, over the rescale divisor.
func (s *dellaStager) Chunk(lo int, args [][]float64, out []float64) error {
	if s.th == nil {
		return errors.New("ties_sum_with_dropout: output chunk before the statistics passes")
	}
	if err := s.check(lo, args, s.r, len(out)); err != nil {
		return err
	}
	s.tiles(lo, args, out)
	return nil
}

// tiles runs the chunk [lo, lo+len(args[0])) a tile at a time: the filtered points, then either
// (out nil) a Weiszfeld step's median and distances, or the output.
func (s *dellaStager) tiles(lo int, args [][]float64, out []float64) {
	r := s.r
	if s.x == nil {
		s.x, s.prod = make([]float64, r*dellaTile), make([]float64, r*dellaTile)
		s.col = make([]float64, r)
		s.elected, s.counts = make([]float64, dellaTile), make([]float64, dellaTile)
		s.sums, s.med = make([]float64, dellaTile), make([]float64, dellaTile)
		s.votes = make([]int32, dellaTile)
		s.kept = make([]bool, r*dellaTile)
	}
	w := len(args[0])
	for t0 := 0; t0 < w; t0 += dellaTile {
		tw := min(dellaTile, w-t0)
		c0 := lo + t0 // the tile's first column in the tensor
		s.points(args, t0, tw, c0)
		if !s.o.median {
			// The disjoint mean: the agreeing deltas' column sum over their count.
			s.colSums(s.x, tw, c0)
			for j := range tw {
				out[t0+j] = s.nan(s.sums[j]/s.counts[j]) / s.div
			}
			continue
		}
		// weighted(w): each column's sum of the points times their weights, over their sum.
		prod := s.prod[:r*tw]
		for i := range r {
			wi := s.w[i]
			pr := prod[i*tw : i*tw+tw]
			for j, v := range s.x[i*tw : i*tw+tw] {
				pr[j] = v * wi
			}
		}
		if s.python {
			// Python's sum over the models, element by element: ((0 + p_0 w_0) + p_1 w_1) + ...
			sums := s.sums[:tw]
			clear(sums)
			for i := range r {
				for j, v := range prod[i*tw : i*tw+tw] {
					sums[j] += v
				}
			}
		} else {
			s.colSums(prod, tw, c0)
		}
		for j := range tw {
			s.med[j] = s.sums[j] / s.den
		}
		if out != nil {
			for j := range tw {
				out[t0+j] = s.nan(s.med[j]) / s.div
			}
			continue
		}
		s.distances(tw)
	}
}

// nan is the era's nan_to_num of an output: torch's defaults, or (1.1.5) 0 for NaN and infs.
func (s *dellaStager) nan(x float64) float64 {
	if s.nanZero {
		return tiesNanToZero(x)
	}
	return tiesNanToNum(x)
}

// weightSum is the weights' sum the median divides by: torch's (SumTorch) in 0.0.x, Python's
// (in model order, from 0) in 1.x.
func (s *dellaStager) weightSum(w []float64) float64 {
	if !s.python {
		return SumTorch(w)
	}
	den := 0.0
	for _, v := range w {
		den += v
	}
	return den
}

// distances continues each point's distance chain over the tile's columns (DistChains:
// DistsTorch's fused multiply-adds in element order).
func (s *dellaStager) distances(tw int) {
	x := s.x
	DistChains(func(i int) []float64 { return x[i*tw : i*tw+tw] }, s.med[:tw], s.z.acc)
}

// points fills the tile's filtered points x[i*tw+j] from the columns [t0, t0+tw) of the
// chunk's deltas (tensor columns from c0): the mask, the top-k filter, the elected sign of
// each column and the agreement, with counts (tiesFilterVote on the masked stack).
//
// After the first Weiszfeld pass the bits hold, per element, whether all three factors (mask,
// filter, agreement) are 1 (combined): then the point is v times that bit. It is the same
// value: a factor 0 makes v * +0 (a zero of v's sign, or NaN for an inf or a NaN), which the
// other factors, 1 or +0, leave as it is.
func (s *dellaStager) points(args [][]float64, t0, tw, c0 int) {
	r := s.r
	x := s.x[:r*tw]
	if s.combined {
		for i, a := range args {
			bits := s.bits[i]
			row := x[i*tw : i*tw+tw]
			for j, v := range a[t0 : t0+tw] {
				e := c0 + j
				row[j] = v * tiesB2F(bits[e/64]>>(e%64)&1 != 0)
			}
		}
		return
	}
	kept := s.kept[:r*tw] // mask and filter, for the combined bits
	for i, a := range args {
		bits, th := s.bits[i], s.th[i]
		row := x[i*tw : i*tw+tw]
		for j, v := range a[t0 : t0+tw] {
			e := c0 + j
			b := bits[e/64]>>(e%64)&1 != 0
			m := v * tiesB2F(b) // the masked delta
			keep := 0.0
			if math.Abs(m) >= th {
				keep = 1
			}
			row[j] = m * keep // filterTopK
			kept[i*tw+j] = b && keep != 0
		}
	}
	el := s.elected[:tw]
	if !s.o.bySigns {
		s.colSums(x, tw, c0)
		for j, v := range s.sums[:tw] {
			el[j] = tiesSign(v)
		}
	} else {
		// The votes of the signs, counted row by row (integers: any order).
		votes := s.votes[:tw]
		clear(votes)
		for i := range r {
			for j, u := range x[i*tw : i*tw+tw] {
				votes[j] += tiesB2I(u > 0) - tiesB2I(u < 0)
			}
		}
		for j, v := range votes {
			el[j] = float64(max(-1, min(v, 1)))
		}
	}
	cnt := s.counts[:tw]
	clear(cnt)
	for i := range r {
		row := x[i*tw : i*tw+tw]
		bits := s.bits[i]
		for j, v := range row {
			agree := tiesSign(v) == el[j]
			f := tiesB2F(agree)
			row[j] = v * f
			cnt[j] += f
			if s.o.median { // the Weiszfeld passes to come read the combined bits
				e := c0 + j
				bits[e/64] = bits[e/64]&^(1<<(e%64)) | uint64(tiesB2I(agree && kept[i*tw+j]))<<(e%64)
			}
		}
	}
}

// colSums writes to sums[:tw] SumDim0Torch's column sums of the tile buf (r rows of tw, tensor
// columns from c0 of n): whole 16-column blocks of the tensor with multiRowSum's 16-wide path,
// the other columns one at a time (sumDim0Col: the same additions).
func (s *dellaStager) colSums(buf []float64, tw, c0 int) {
	r, n := s.r, s.n
	blockEnd := 0
	if n >= 4 {
		blockEnd = n - n%16
	}
	for j := 0; j < tw; {
		c := c0 + j
		if c%16 == 0 && c+16 <= blockEnd && j+16 <= tw {
			multiRowSum(buf, j, tw, 1, 16, r, s.sums[j:j+16])
			j += 16
			continue
		}
		col := s.col[:r]
		for i := range col {
			col[i] = buf[i*tw+j]
		}
		s.sums[j] = sumDim0Col(col, c, n)
		j++
	}
}

// sumDim0Col is column c of SumDim0Torch over an [r, n] tensor whose column c holds col: the
// cascade of multiRowSum inside the 16-column blocks (one column of it is the same additions
// as the 16 together), rowSum past them, SumTorch for a single column.
func sumDim0Col(col []float64, c, n int) float64 {
	switch {
	case n == 1:
		return SumTorch(col)
	case n >= 4 && c < n-n%16:
		var s [1]float64
		multiRowSum(col, 0, 1, 1, 1, len(col), s[:])
		return s[0]
	}
	return rowSum(col, 0, 1, len(col))
}
