package stdlib

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/rng"
)

// TIES family: sd-mecha 1.1.5 sd_mecha/extensions/builtin/merge_methods/ties.py (ties_sum,
// ties_sum_extended, ties_sum_with_dropout, model_stock, geometric_median, dropout) and
// slicing.py (tensor_sum, top_k_tensor_sum).
//
// Numerics, both modes: the torch operation order of sd-mecha 1.1.5 with merge dtype float64
// (golden README "Numerics" rules 6-9): sums over the stacked models and cosine similarities in
// ATen's cascade order (reduce.go), torch.dist as a sequential fma, kthvalue on float32
// magnitudes, ordinal ranks, MT19937 bernoulli draws and numpy PCG64 binomial draws
// (package ops/rng). The only difference between the modes is the treatment of the Tensor-typed
// hyper-parameter `probability` of ties_sum_with_dropout and what is computed from it: float32
// in sd-mecha numerics (its value, the DARE rescale divisor f32(1 - f32(p)) and DELLA's
// float32 rank offsets), exact float64 in exact numerics. Discrete decisions (thresholds,
// ranks, random draws) are the same in both modes.

// --- argument helpers -------------------------------------------------------------------------

func tiesFloat(name, param string, v ops.Value) (float64, error) {
	x, ok := v.Float64()
	if !ok || v.Kind == ops.KindTensor && !v.T.IsScalar() {
		return 0, fmt.Errorf("%s: %s must be a number, not %s", name, param, v)
	}
	return x, nil
}

func tiesInt(name, param string, v ops.Value) (int64, error) {
	x, ok := v.Int64()
	if !ok {
		return 0, fmt.Errorf("%s: %s must be an integer, not %s", name, param, v)
	}
	return x, nil
}

func tiesBool(name, param string, v ops.Value) (bool, error) {
	b, ok := v.Truth()
	if !ok {
		return false, fmt.Errorf("%s: %s must be a bool, not %s", name, param, v)
	}
	return b, nil
}

// tiesSeed reads an optional int seed: (seed, true), or (0, false) for null.
func tiesSeed(name string, v ops.Value) (int64, bool, error) {
	if v.Kind == ops.KindNull {
		return 0, false, nil
	}
	x, ok := v.Int64()
	if !ok {
		return 0, false, fmt.Errorf("%s: seed must be an integer or null, not %s", name, v)
	}
	return x, true, nil
}

// tiesVarTensors returns the data of every vararg, each of length n (a one-element input is
// repeated, as the VM's broadcast promises; sd-mecha's torch.stack would need equal shapes).
func tiesVarTensors(name string, n int, vals []ops.Value) ([][]float64, error) {
	ts, err := tensors(name, n, vals...)
	if err != nil {
		return nil, err
	}
	out := make([][]float64, len(ts))
	for i, t := range ts {
		if len(t.Data) == n {
			out[i] = t.Data
			continue
		}
		d := make([]float64, n)
		fill(d, t.Data[0])
		out[i] = d
	}
	return out, nil
}

// tiesLastDim returns (rows, cols) of a tensor of the given shape seen as [-1, shape[-1]]; a 0-dim
// tensor is one row of one element.
func tiesLastDim(shape []int, n int) (int, int) {
	if len(shape) == 0 || n == 0 {
		return 1, max(n, 1)
	}
	c := shape[len(shape)-1]
	return n / c, c
}

// tiesSign is torch.sign: (0 < x) - (x < 0); +0 for +-0 and NaN. Without branches: the
// signs of deltas are random, and a branch on them mispredicts half the time.
func tiesSign(x float64) float64 {
	return tiesB2F(x > 0) - tiesB2F(x < 0)
}

// tiesNanToZero is torch.nan_to_num(x, nan=0, posinf=0, neginf=0).
func tiesNanToZero(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

// tiesNanToNum is torch.nan_to_num(x) with its defaults: NaN -> 0, +-inf -> +-max float64.
func tiesNanToNum(x float64) float64 {
	switch {
	case math.IsNaN(x):
		return 0
	case math.IsInf(x, 1):
		return math.MaxFloat64
	case math.IsInf(x, -1):
		return -math.MaxFloat64
	}
	return x
}

// tiesLessNaNLast orders floats ascending with NaN after everything (torch's sort and kthvalue).
func tiesLessNaNLast[T float32 | float64](a, b T) int {
	an, bn := a != a, b != b
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	}
	return cmp.Compare(a, b)
}

// --- TIES core --------------------------------------------------------------------------------

// filterTopK is sd-mecha's filter_top_k(a, k): keep the elements whose magnitude is at least
// the float32 kthvalue of the magnitudes, k' = max(int((1-k)*numel), 1); the others become
// a*0 (a signed zero).
func filterTopK(a []float64, k float64, out []float64) error {
	th, err := tiesTopKThreshold(a, k)
	if err != nil {
		return err
	}
	vecTopK(out, a, th)
	return nil
}

// tiesTopKIndex is filter_top_k's k' = max(int((1-k)*n), 1), checked like torch.
func tiesTopKIndex(n int, k float64) (int, error) {
	f := (1 - k) * float64(n)
	if math.IsNaN(f) {
		return 0, fmt.Errorf("k = %v: cannot convert float NaN to integer", k)
	}
	kk := 1 // max(int(f), 1); int() truncates toward zero
	if f >= 2 {
		if f >= float64(n)+1 {
			return 0, fmt.Errorf("kthvalue(): selected number k = %v out of range for %d elements (k must be in [0, 1])", math.Trunc(f), n)
		}
		kk = int(f)
	}
	return kk, nil
}

// tiesDeltasIn is sd-mecha's ties_sum_deltas: every model top-k filtered, the elected sign
// sign(sum over models of (vote_sgn ? delta : sign(delta))), and the deltas agreeing with it.
// It stacks ms into d (tiesStackIn) and returns the stacked filtered deltas [R*n]
// (model-major) and the per-element count of agreeing models (float32 0/1 sums, exact).
func tiesDeltasIn(d []float64, ms [][]float64, n int, k float64, voteSgn bool) (filtered, counts []float64, err error) {
	d = tiesStackIn(d, ms, n)
	counts, err = tiesFilterVote(d, len(ms), n, k, voteSgn)
	return d, counts, err
}

// tiesStackIn copies R tensors of n elements into d, one model-major [R*n] stack (its
// contents overwritten): a kernel's scratch (ops.ScratchOf), which, unlike a fresh stack, is
// not zeroed and faulted in at every key.
func tiesStackIn(d []float64, ms [][]float64, n int) []float64 {
	d = d[:len(ms)*n]
	for i, m := range ms {
		copy(d[i*n:(i+1)*n], m[:n])
	}
	return d
}

// tiesFilterVote is tiesDeltasIn on a stack d of R raw deltas that it filters in place (the
// kernels that compute their deltas, e.g. dropout masks, write them there directly, so the
// only R x n buffer of the TIES core is d). filterTopK may work in place: its threshold is read
// from the whole row before any element is written, and each element is written from itself.
// The vote needs no stack of its own: a vote of values is SumDim0Torch of d itself, and a vote
// of signs is a sum of -1/0/+1, exact in any order, so an integer count gives the same sign.
// The agreement pass runs row after row; counts add the 0/1 factors in model order as before.
func tiesFilterVote(d []float64, r, n int, k float64, voteSgn bool) (counts []float64, err error) {
	for i := 0; i < r; i++ {
		row := d[i*n : (i+1)*n]
		if err := filterTopK(row, k, row); err != nil {
			return nil, err
		}
	}
	elected := make([]float64, n)
	if voteSgn {
		SumDim0Torch(d, r, n, elected)
		for j, v := range elected {
			elected[j] = tiesSign(v)
		}
	} else {
		// The count of signs, in float64 (exact), straight into elected, then its sign.
		for i := 0; i < r; i++ {
			vecSignVote(elected, d[i*n:(i+1)*n])
		}
		for j, v := range elected {
			elected[j] = tiesSign(v)
		}
	}
	counts = make([]float64, n)
	for i := 0; i < r; i++ {
		// f = 1 or +0 (as the branch it replaces), row *= f, counts += f.
		vecAgree(d[i*n:(i+1)*n], elected, counts)
	}
	return counts, nil
}

// modelStockT is sd-mecha's get_model_stock_t(deltas, cos_eps): per row of the last dimension,
// c = mean over i of cosine_similarity(delta_i, delta_{i+1}, dim=-1, cos_eps), and
// t = (R * c) / (1 + (R-1) * c). deltas holds R tensors of n elements.
func modelStockT(deltas [][]float64, n int, shape []int, cosEps float64) ([]float64, error) {
	r := len(deltas)
	if r < 2 {
		return nil, errors.New("model stock needs at least 2 models (torch.stack of no cosine similarities)")
	}
	rows, cols := tiesLastDim(shape, n)
	sq, prod := make([]float64, cols), make([]float64, cols)
	norms := make([]float64, r)
	e2 := cosEps * cosEps
	t := make([]float64, rows)
	// The [R-1, rows] cosine similarities are computed and summed a chunk of rows at a time
	// (each row's similarity depends on that row alone; SumDim0TorchChunked gives
	// SumDim0Torch's bits), so a tensor with a short last dimension (a 3x3 convolution: rows =
	// n/3) needs no x rows matrix. Row by row, each delta's norm is taken once for its
	// two pairs (CosineSimilarityLastDimTorch's operations, so its bits), while the row's
	// values of every delta are in the cache.
	SumDim0TorchChunked(r-1, rows, func(dst []float64, c0, c1 int) {
		w := c1 - c0
		for row := c0; row < c1; row++ {
			for i, d := range deltas {
				norms[i] = rowNormTorch(d[row*cols:(row+1)*cols], e2, sq)
			}
			for i := 0; i+1 < r; i++ {
				dst[i*w+row-c0] = cosineRowTorch(deltas[i][row*cols:(row+1)*cols], deltas[i+1][row*cols:(row+1)*cols],
					norms[i], norms[i+1], prod)
			}
		}
	}, t, nil)
	fr, fr1 := float64(r), float64(r-1)
	for j := range t {
		c := t[j] / fr1 // mean(dim=0) = sum / (R-1)
		t[j] = (fr * c) / (1 + fr1*c)
	}
	return t, nil
}

// geometricMedian is sd-mecha's geometric_median (Weiszfeld, after krishnap25/geom_median):
// the points are the R tensors of n elements in pts (model-major); the result goes to out.
//
//	median = (0 + p_0 + ... + p_{R-1}) / R;  obj = mean(dist(p_i, median))
//	repeat max(0, maxiter) times:
//	    w_i = 1 / max(dist(p_i, median), eps)
//	    median = (0 + p_0*w_0 + ... ) / (0 + w_0 + ...)
//	    prev, obj = obj, mean(dist(p_i, median))
//	    stop if |prev - obj| <= ftol * obj
//	result: the weighted average with the last w (ones when maxiter <= 0)
//
// Sums over models are Python's builtin sum (sequential, from int 0), the mean over the R
// distances torch's (SumTorch / R), dist a sequential fma (DistTorch).
func geometricMedian(pts []float64, r, n int, eps float64, maxiter int64, ftol float64, out []float64) {
	geometricMedianRows(tiesRows(pts, r, n), n, eps, maxiter, ftol, out)
}

// tiesRows views a model-major [R*n] stack as its R rows.
func tiesRows(stack []float64, r, n int) [][]float64 {
	rows := make([][]float64, r)
	for i := range rows {
		rows[i] = stack[i*n : (i+1)*n]
	}
	return rows
}

// geometricMedianRows is geometricMedian on the R points ps (each of n elements), read in
// place: the geometric_median method needs no stacked copy of its inputs.
func geometricMedianRows(ps [][]float64, n int, eps float64, maxiter int64, ftol float64, out []float64) {
	geometricMedianRowsWith(ps, n, eps, maxiter, ftol, out, weightedSumsBlocked)
}

// weightedSumsBlocked writes dst[j] = sum_i ps[i][j] * w[i], Python's sum per element (from 0,
// model after model), a block of columns model by model: the same additions in the same order
// per element, with stride-1 reads instead of one row per model per element. float64(...)
// keeps the product rounded on its own (no fused multiply-add on any architecture), as torch
// computes it.
func weightedSumsBlocked(ps [][]float64, w, dst []float64) {
	const block = 1024
	for c0 := 0; c0 < len(dst); c0 += block {
		d := dst[c0:min(c0+block, len(dst))]
		clear(d)
		for i, wi := range w {
			vecAddProd(d, ps[i][c0:c0+len(d)], wi)
		}
	}
}

// geometricMedianRowsWith is geometricMedianRows with its weighted sums taken by sums (the
// tests compare sums orders).
func geometricMedianRowsWith(ps [][]float64, n int, eps float64, maxiter int64, ftol float64, out []float64,
	sums func(ps [][]float64, w, dst []float64)) {
	r := len(ps)
	p := func(i int) []float64 { return ps[i][:n] }
	weighted := func(w []float64, dst []float64) {
		sums(ps, w, dst)
		den := 0.0
		for _, v := range w {
			den += v
		}
		vecDiv(dst, dst, den)
	}
	median := make([]float64, n)
	for j := range median {
		s := 0.0
		for i := 0; i < r; i++ {
			s += ps[i][j]
		}
		median[j] = s / float64(r)
	}
	dists := make([]float64, r)
	objective := func() float64 {
		DistsTorch(p, median, dists) // times the weights (ones): exact
		return SumTorch(dists) / float64(r)
	}
	// weightedObjective is weighted(w, median) then objective(), in one pass over the points: a
	// block of columns of the median, then every point's distance chain over that block while
	// it is in the cache. The sums are per element and the chains go through the elements in
	// order (DistChains carries them from block to block), so the bits are the two passes'.
	// The points were read twice per iteration; the Weiszfeld loop is bound by those reads.
	const block = 4096
	rows := make([][]float64, r)
	acc := make([]float64, r)
	weightedObjective := func(w []float64) float64 {
		den := 0.0
		for _, v := range w {
			den += v
		}
		clear(acc)
		for c0 := 0; c0 < n; c0 += block {
			c1 := min(c0+block, n)
			for i := range rows {
				rows[i] = ps[i][c0:c1]
			}
			m := median[c0:c1]
			sums(rows, w, m)
			vecDiv(m, m, den)
			DistChains(func(i int) []float64 { return rows[i] }, m, acc)
		}
		for i, x := range acc {
			dists[i] = math.Sqrt(x)
		}
		return SumTorch(dists) / float64(r)
	}
	w := make([]float64, r)
	fill(w, 1)
	obj := objective()
	for it := int64(0); it < maxiter; it++ {
		prev := obj
		// dists holds dist(p_i, median) for this very median (the objective's, times the
		// weight 1, which is exact): sd-mecha computes it a second time, with the same bits.
		for i := range w {
			w[i] = 1 / clampMin(dists[i], eps)
		}
		obj = weightedObjective(w)
		if math.Abs(prev-obj) <= ftol*obj {
			break
		}
	}
	if maxiter > 0 {
		// The result is weighted(w) for the last weights: the median the last step made.
		copy(out, median)
		return
	}
	weighted(w, out)
}

// tiesExtendedStack is ties_sum_extended's body on a model-major stack of R raw deltas of n
// elements of shape (tiesStackIn: the kernel's scratch, or DARE/DELLA's masked deltas), which
// it filters in place (its only R x n buffer).
func tiesExtendedStack(filtered []float64, r, n int, shape []int, k float64, voteSgn, applyStock, applyMedian bool,
	cosEps, eps float64, maxiter int64, ftol float64, out []float64) error {
	counts, err := tiesFilterVote(filtered, r, n, k, voteSgn)
	if err != nil {
		return err
	}
	if applyMedian {
		geometricMedian(filtered, r, n, eps, maxiter, ftol, out)
		for j, v := range out {
			out[j] = tiesNanToZero(v)
		}
		return nil
	}
	sum := make([]float64, n)
	SumDim0Torch(filtered, r, n, sum)
	if applyStock { // sd-mecha 1.1.5: apply_stock=True means t = 1.0
		for j := range out {
			out[j] = tiesNanToZero(sum[j] * 1.0 / counts[j])
		}
		return nil
	}
	t, err := modelStockT(tiesRows(filtered, r, n), n, shape, cosEps)
	if err != nil {
		return err
	}
	_, cols := tiesLastDim(shape, n)
	for j := range out {
		out[j] = tiesNanToZero(sum[j] * t[j/cols] / counts[j])
	}
	return nil
}

// tiesKw reads the shared keyword arguments k, vote_sgn, apply_stock, apply_median, cos_eps,
// eps, maxiter, ftol from kw by name.
type tiesOpts struct {
	k                                float64
	voteSgn, applyStock, applyMedian bool
	cosEps, eps, ftol                float64
	maxiter                          int64
}

func readTiesOpts(name string, params []ops.Param, kw []ops.Value) (tiesOpts, error) {
	var o tiesOpts
	for i, q := range params {
		v := kw[i]
		var err error
		switch q.Name {
		case "k":
			o.k, err = tiesFloat(name, q.Name, v)
		case "vote_sgn":
			o.voteSgn, err = tiesBool(name, q.Name, v)
		case "apply_stock":
			o.applyStock, err = tiesBool(name, q.Name, v)
		case "apply_median":
			o.applyMedian, err = tiesBool(name, q.Name, v)
		case "cos_eps":
			o.cosEps, err = tiesFloat(name, q.Name, v)
		case "eps":
			o.eps, err = tiesFloat(name, q.Name, v)
		case "ftol":
			o.ftol, err = tiesFloat(name, q.Name, v)
		case "maxiter":
			o.maxiter, err = tiesInt(name, q.Name, v)
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

// Scratch declarations (ops.Def.Scratch) of the TIES family, in bytes, for r tensors of n
// elements. They are upper bounds of what a call allocates (TestTiesScratchDeclared measures
// them), except that a one-element vararg broadcast to n elements costs 8n more per vararg.

// dropoutArgs are ties_sum_with_dropout's arguments after the probability, which 1.0.x and
// 1.1.5 read alike (tiesDropoutParams).
type dropoutArgs struct {
	dellaEps float64
	rescale  bool
	opts     tiesOpts
	seed     int64 // torch's default seed when none (or a negative one) is given
	ms       [][]float64
}

// readDropoutArgs reads them from c (the deltas have n elements each).
func readDropoutArgs(name string, c *ops.Call, n int) (dropoutArgs, error) {
	var a dropoutArgs
	var err error
	if a.dellaEps, err = tiesFloat(name, "della_eps", c.Kw[1]); err != nil {
		return a, err
	}
	if a.rescale, err = tiesBool(name, "rescale", c.Kw[2]); err != nil {
		return a, err
	}
	if a.opts, err = readTiesOpts(name, tiesDropoutParams[3:11], c.Kw[3:11]); err != nil {
		return a, err
	}
	seed, ok, err := tiesSeed(name, c.Kw[11])
	if err != nil {
		return a, err
	}
	if !ok || seed < 0 {
		seed = int64(rng.TorchDefaultSeed)
	}
	a.seed = seed
	a.ms, err = tiesVarTensors(name, n, c.Var)
	return a, err
}

// medianPasses is geometric_median's Def.Passes, in elementwise-pass equivalents: a Weiszfeld
// iteration streams the points once (the distances continue over each block of the new median
// while it is in the cache, SPEC's geometric_median), about two and a half plain passes' cost
// with the AVX2 cascade and the AVX2 distance chains (examples/bench/geometric_median8.mecha:
// 12.2 s measured where four passes per iteration priced 19 s, x215a d16 56.5 s against 67
// s). The usual ftol (1e-20) stops only
// at an exact fixed point, which the iteration nevertheless reaches quickly: on x215a's 216
// generated models 5-8 iterations for most keys (element-weighted mean 7.2; 0.4% of the
// elements took all 100), so it is priced at min(maxiter, 10) iterations.
func medianPasses(kw map[string]float64) float64 {
	it, ok := kw["maxiter"]
	if !ok {
		it = 100
	}
	return 8 + 2.5*min(max(it, 0), 10)
}

// tiesPasses is Def.Passes of the TIES methods: a few passes for top-k, vote and mean, plus the
// geometric median's when apply_median is set (a method without apply_median has none).
func tiesPasses(kw map[string]float64) float64 {
	if v, ok := kw["apply_median"]; !ok || v == 0 {
		return 8
	}
	return 8 + medianPasses(kw)
}

// tiesDropoutPasses is Def.Passes of ties_sum_with_dropout: tiesPasses plus the masks, one
// torch uniform per element, and DELLA's ranks when della_eps is not 0. DARE's masks (one
// probability) cost ~20 passes (examples/bench/dare_ties8.mecha: 12.5-13.0 s measured, 13.7 s
// priced; x101a d16 6.8 s, 6.8 s priced); DELLA's, a probability per element, ~32, and its
// ranks (a radix sort per delta) ~30 more (x215a, 216 generated models at d16: 54-57 s
// measured, 60 s priced).
func tiesDropoutPasses(kw map[string]float64) float64 {
	if kw["della_eps"] == 0 {
		return tiesPasses(kw) + 20
	}
	return tiesPasses(kw) + 32 + 30
}

// tiesSmallScratch covers the per-model slices, the generators and the pooled buffers.
func tiesSmallScratch(r int) int64 { return 1024*int64(r) + 64<<10 }

// tiesChunkScratch is SumDim0TorchChunked's r x min(n, sumDim0Chunk) buffer.
func tiesChunkScratch(r, n int) int64 { return 8 * int64(r) * int64(min(n, sumDim0Chunk)) }

// tiesCoreScratch is a TIES core call (tiesExtendedStack, tiesEraCoreStack): the R x n stack
// of deltas filtered in place, plus per element the elected signs, the integer votes, the
// counts, the top-k candidates, the sum or the median, the model-stock factor and the cosine
// scratch (at most 56 bytes), and the chunked products or cosines.
func tiesCoreScratch(r, n int) int64 {
	return 8*int64(r)*int64(n) + 56*int64(n) + tiesChunkScratch(r, n) + tiesSmallScratch(r)
}

// tiesDropoutScratch is tiesCoreScratch plus the dropout's keep probabilities or DELLA
// offsets (8 bytes per element) and their ranker (dellaRankerBytes).
func tiesDropoutScratch(r, n int) int64 {
	return tiesCoreScratch(r, n) + 8*int64(n) + dellaRankerBytes(n)
}

// tiesSumScratch is ties_sum's: below 16 models the direct path needs only the top-k
// candidates, else the TIES core.
func tiesSumScratch(r, n int) int64 {
	if r < 16 {
		return 4*int64(n) + tiesSmallScratch(r)
	}
	return tiesCoreScratch(r, n)
}

// modelStockScratch is model_stock's: the cosine scratch and the factor t (24 bytes per
// element at most) and the chunked cosines; the deltas are read in place.
func modelStockScratch(r, n int) int64 {
	return 24*int64(n) + tiesChunkScratch(r, n) + tiesSmallScratch(r)
}

// geometricMedianScratch is geometric_median's: the median; the points are read in place.
func geometricMedianScratch(r, n int) int64 { return 8*int64(n) + tiesSmallScratch(r) }

// dropoutScratch is dropout's (multi-model DARE): the per-element counts.
func dropoutScratch(r, n int) int64 { return 8*int64(n) + tiesSmallScratch(r) }

// --- definitions ------------------------------------------------------------------------------

var tiesDeltaVarargs = func(name string) *ops.Param {
	return &ops.Param{Name: name, Type: ops.TensorIn, Spaces: ops.DeltaSpace}
}

// tiesSum: ties_sum(*models: delta, k: float = 1.0, vote_sgn: bool = False) -> delta.
var tiesSum = define(&ops.Def{
	Name:    "ties_sum",
	Varargs: tiesDeltaVarargs("models"),
	KwOnly:  []ops.Param{floatDefault("k", 1.0), boolDefault("vote_sgn", false)},
	Returns: ops.DeltaSpace,
	Traits:  ops.WholeTensor,
	Keys:    ops.KeysIntersect,
	Formula: "d_i = topk(m_i, k); s = tiesSign(sum_i (vote_sgn ? d_i : tiesSign(d_i))); nan_to_num(sum_i d_i[tiesSign(d_i)==s] / count_i[tiesSign(d_i)==s])",
	Doc: "TIES merging (Yadav et al. 2023, arXiv:2306.01708) of task vectors: each delta keeps " +
		"its elements whose |value| reaches the float32 kthvalue of its magnitudes at " +
		"k' = max(int((1-k)*numel), 1) (k = 1 keeps everything), an elected tiesSign per element is " +
		"the sign of the sum of the signs (vote_sgn=false, sd-mecha 1.1.5's default) or of the " +
		"values (vote_sgn=true), and the deltas agreeing with it are averaged (disjoint mean). " +
		"Where the elected sign is 0, the zeroed elements count as agreeing; a 0/0 or x/0 " +
		"becomes 0 (nan_to_num). Sums over models in torch's sum(dim=0) order.",
	Scratch: tiesSumScratch,
	Kernel: func(c *ops.Call) error {
		o, err := readTiesOpts("ties_sum", []ops.Param{{Name: "k"}, {Name: "vote_sgn"}}, c.Kw)
		if err != nil {
			return err
		}
		out := c.Out.Data
		if len(c.Var) == 0 {
			fill(out, 0)
			return nil
		}
		n := len(out)
		ms, err := tiesVarTensors("ties_sum", n, c.Var)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if done, err := tiesSumDirect(ms, o.k, o.voteSgn, out); done || err != nil {
			if err != nil {
				return fmt.Errorf("ties_sum: %v", err)
			}
			return nil
		}
		filtered, counts, err := tiesDeltasIn(ops.ScratchOf(c, len(ms)*n), ms, n, o.k, o.voteSgn)
		if err != nil {
			return fmt.Errorf("ties_sum: %v", err)
		}
		SumDim0Torch(filtered, len(ms), n, out)
		for j := range out {
			out[j] = tiesNanToZero(out[j] / counts[j])
		}
		return nil
	},
})

// tiesExtendedParams are ties_sum_extended's keyword-only parameters, in 1.1.5's order.
var tiesExtendedParams = []ops.Param{
	floatDefault("k", 0.2),
	boolDefault("vote_sgn", false),
	boolDefault("apply_stock", false),
	boolDefault("apply_median", false),
	floatDefault("cos_eps", 1e-6),
	floatDefault("eps", 1e-6),
	intDefault("maxiter", 100),
	floatDefault("ftol", 1e-20),
}

const tiesQuirkDoc = "Reproduces sd-mecha 1.1.5's polarities: apply_stock=false (the default) " +
	"*applies* the model-stock factor t and apply_stock=true does not (t = 1); vote_sgn=false " +
	"votes with the signs, true with the values. "

// tiesSumExtended: ties_sum_extended(*models: delta, k=0.2, vote_sgn=False, apply_stock=False,
// apply_median=False, cos_eps=1e-6, eps=1e-6, maxiter=100, ftol=1e-20) -> delta.
var tiesSumExtended = define(&ops.Def{
	Name:    "ties_sum_extended",
	Varargs: tiesDeltaVarargs("models"),
	KwOnly:  tiesExtendedParams,
	Returns: ops.DeltaSpace,
	Traits:  ops.WholeTensor,
	Keys:    ops.KeysIntersect,
	Formula: "TIES filter + vote; apply_median ? geometric_median(filtered) : sum_i(filtered_i) * (apply_stock ? 1 : t_stock) / count",
	Doc: "TIES merging with two alternatives to the disjoint mean: apply_median=true takes the " +
		"geometric median (Weiszfeld, eps/maxiter/ftol) of the filtered deltas; otherwise the " +
		"sum of the filtered deltas is scaled by the model-stock factor t = R*c/(1+(R-1)*c), c " +
		"the mean cosine similarity of consecutive filtered deltas along the last dimension " +
		"(cos_eps), and divided by the agreeing count. " + tiesQuirkDoc +
		"NaN/inf results become 0. Model stock needs at least 2 models.",
	Scratch: tiesCoreScratch,
	Passes:  tiesPasses,
	Kernel: func(c *ops.Call) error {
		o, err := readTiesOpts("ties_sum_extended", tiesExtendedParams, c.Kw)
		if err != nil {
			return err
		}
		out := c.Out.Data
		if len(c.Var) == 0 {
			fill(out, 0)
			return nil
		}
		n := len(out)
		ms, err := tiesVarTensors("ties_sum_extended", n, c.Var)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		stack := tiesStackIn(ops.ScratchOf(c, len(ms)*n), ms, n)
		if err := tiesExtendedStack(stack, len(ms), n, c.Out.Shape, o.k, o.voteSgn, o.applyStock, o.applyMedian,
			o.cosEps, o.eps, o.maxiter, o.ftol, out); err != nil {
			return fmt.Errorf("ties_sum_extended: %v", err)
		}
		return nil
	},
})

// tiesDropoutParams are ties_sum_with_dropout's keyword-only parameters, in 1.1.5's order.
var tiesDropoutParams = []ops.Param{
	func() ops.Param {
		d := ops.Float(0.9)
		return ops.Param{Name: "probability", Type: ops.TensorHyper, Default: &d, Spaces: ops.ParamSpace}
	}(),
	floatDefault("della_eps", 0),
	boolDefault("rescale", true),
	floatDefault("k", 0.2),
	boolDefault("vote_sgn", false),
	boolDefault("apply_stock", false),
	floatDefault("cos_eps", 1e-6),
	boolDefault("apply_median", false),
	floatDefault("eps", 1e-6),
	intDefault("maxiter", 100),
	floatDefault("ftol", 1e-20),
	{Name: "seed", Type: ops.IntHyper, Default: nullDefault(), Optional: true, Spaces: ops.ParamSpace},
}

// dropoutKeep writes sd-mecha's find_della_dropout keep probabilities for one delta:
// p_keep = clamp(1 - p + Delta, 0, 1), Delta = 0 (DARE, della_eps == 0) or DELLA's
// (rank/N - (N+1)/(2N)) * della_eps with rank the ordinal rank of |delta| (1..N, ties by
// position). sd-mecha numerics compute Delta in float32 as torch does (int64 rank / int ->
// float32), exact numerics in float64.
func dropoutKeep(delta []float64, p *ops.Tensor, dellaEps float64, numerics ops.Numerics, keep []float64, rk *dellaRanker) {
	n := len(delta)
	pMin := func(i int) float64 { return 1 - p.At(i) }
	if dellaEps == 0 {
		for i := range keep {
			keep[i] = tiesClampUnit(pMin(i))
		}
		return
	}
	// scipy rankdata(method="ordinal") of |delta| (float64; any NaN makes every rank NaN,
	// nan_policy="propagate", and nan_to_num then zeroes Delta).
	ranks := rk.ranks(delta)
	if rk.nan {
		for i := range keep {
			keep[i] = tiesClampUnit(pMin(i))
		}
		return
	}
	if numerics == ops.SDMecha {
		ne := float32(n)
		center := float32(float64(n+1) / float64(n*2))
		e := float32(dellaEps)
		for i, r := range ranks {
			d := (float32(r+1)/ne - center) * e
			keep[i] = tiesClampUnit(pMin(i) + tiesNanToZero(float64(d)))
		}
		return
	}
	fn := float64(n)
	center := float64(n+1) / float64(n*2)
	for i, r := range ranks {
		d := (float64(r+1)/fn - center) * dellaEps
		keep[i] = tiesClampUnit(pMin(i) + tiesNanToZero(d))
	}
}

// tiesClampUnit is clamp(x, 0, 1) (NaN stays NaN).
func tiesClampUnit(x float64) float64 {
	if x < 0 {
		return 0
	}
	if x > 1 {
		return 1
	}
	return x
}

// tiesSumWithDropout: ties_sum_with_dropout(*deltas: delta, probability: Tensor = 0.9,
// della_eps=0.0, rescale=True, k=0.2, vote_sgn=False, apply_stock=False, cos_eps=1e-6,
// apply_median=False, eps=1e-6, maxiter=100, ftol=1e-20, seed: int = None) -> delta.
var tiesSumWithDropout = define(&ops.Def{
	Name:    "ties_sum_with_dropout",
	Varargs: tiesDeltaVarargs("deltas"),
	KwOnly:  tiesDropoutParams,
	Returns: ops.DeltaSpace,
	Traits:  ops.WholeTensor | ops.Random,
	Keys:    ops.KeysIntersect,
	Formula: "ties_sum_extended(delta_i * bernoulli(clamp(1 - p + della_i, 0, 1))) / (rescale ? 1 - p : 1)",
	Doc: "DARE (Yu et al. 2023) / DELLA (Deep et al. 2024) followed by TIES: every delta keeps " +
		"each element with probability 1 - p (plus, for DELLA with della_eps != 0, " +
		"(rank/N - (N+1)/(2N)) * della_eps, rank the ordinal rank of |delta|), the kept deltas go " +
		"through ties_sum_extended (k, vote_sgn, apply_stock, cos_eps, apply_median, eps, " +
		"maxiter, ftol), and the result is divided by 1 - p when rescale. p isclose to 1 gives 0. " +
		"Randomness: a torch CPU generator (MT19937) created per key and seeded with seed, or " +
		"torch's default seed 67280421310721 when seed is null or negative; the masks are drawn " +
		"delta after delta in argument order, elements in C order, two 32-bit words per element " +
		"(float64 bernoulli: u = 53-bit uniform, keep iff u < p_keep). In sd-mecha numerics p is " +
		"float32, the rescale divisor f32(1 - f32(p)) and the DELLA offsets float32, as in " +
		"sd-mecha; exact numerics use exact values (same draws). A per-element (param-space) " +
		"probability is accepted as an extension (sd-mecha 1.1.5 fails on it): no isclose " +
		"shortcut, p_keep and the divisor 1 - p per element in float64. " + tiesQuirkDoc,
	Scratch: tiesDropoutScratch,
	Passes:  tiesDropoutPasses,
	Kernel: func(c *ops.Call) error {
		const name = "ties_sum_with_dropout"
		out := c.Out.Data
		n := len(out)
		pts, err := tensors(name, n, c.Kw[0])
		if err != nil {
			return err
		}
		pt := pts[0]
		scalarP := pt.IsScalar()
		if len(c.Var) == 0 || scalarP && isClose(pt.Data[0], 1) {
			fill(out, 0)
			return nil
		}
		a, err := readDropoutArgs(name, c, n)
		if err != nil || n == 0 {
			return err
		}
		dellaEps, rescale, o, ms := a.dellaEps, a.rescale, a.opts, a.ms
		g := rng.NewTorch(uint64(a.seed))
		var rk *dellaRanker
		if dellaEps != 0 {
			if rk, err = newDellaRanker(name, n); err != nil {
				return err
			}
		}
		// The masked deltas go straight into the stack the TIES core filters in place. The
		// stack is the worker's scratch (every element is written before it is read): a
		// fresh one was zeroed by make and faulted in again at every key, ~5% of the DELLA
		// benchmark's CPU samples.
		masked := ops.ScratchOf(c, len(ms)*n)
		if err := dropoutMasks(name, g, ms, pt, dellaEps, c.Numerics, rk, masked); err != nil {
			return err
		}
		if err := tiesExtendedStack(masked, len(ms), n, c.Out.Shape, o.k, o.voteSgn, o.applyStock, o.applyMedian,
			o.cosEps, o.eps, o.maxiter, o.ftol, out); err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		if !rescale {
			return nil
		}
		if scalarP {
			p := pt.Data[0]
			div := 1 - p
			if c.Numerics == ops.SDMecha {
				div = float64(float32(1) - float32(p)) // 1.0 - f32 0-dim tensor: computed in float32
			}
			for j := range out {
				out[j] /= div
			}
			return nil
		}
		for j := range out {
			out[j] /= 1 - pt.Data[j]
		}
		return nil
	},
})

// dropoutMasks writes the 1.1.5 ties_sum_with_dropout masks of the deltas ms, masked[i*n+j] =
// ms[i][j] * bernoulli(keep_ij), the keep probabilities dropoutKeep's (rk its ranker when
// della_eps is not 0), the uniforms drawn from g delta after delta in element order.
func dropoutMasks(name string, g *rng.Torch, ms [][]float64, pt *ops.Tensor, dellaEps float64, numerics ops.Numerics, rk *dellaRanker, masked []float64) error {
	n := len(masked) / max(len(ms), 1)
	if dellaEps == 0 && pt.IsScalar() {
		// DARE with one probability: every element's keep probability is clamp(1 - p), and
		// its mask a uniform below it (the per-element path's bits, without filling and
		// checking n probabilities per delta: 9% of the DARE-TIES benchmark's CPU time).
		q := tiesClampUnit(1 - pt.Data[0])
		if math.IsNaN(q) {
			return fmt.Errorf("%s: bernoulli probability is NaN", name)
		}
		for i, d := range ms {
			bernoulliMaskScalar64(g, d, masked[i*n:(i+1)*n], q)
		}
		return nil
	}
	keep := make([]float64, n)
	for i, d := range ms {
		dropoutKeep(d, pt, dellaEps, numerics, keep, rk)
		err := bernoulliMask64(name, g, d, masked[i*n:(i+1)*n], func(qs []float64, lo int) error {
			for j, q := range keep[lo : lo+len(qs)] {
				if math.IsNaN(q) {
					return fmt.Errorf("%s: bernoulli probability is NaN", name)
				}
				qs[j] = q
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// modelStock: model_stock(*deltas: delta, cos_eps: float = 1e-6) -> delta.
var modelStock = define(&ops.Def{
	Name:    "model_stock",
	Varargs: tiesDeltaVarargs("deltas"),
	KwOnly:  []ops.Param{floatDefault("cos_eps", 1e-6)},
	Returns: ops.DeltaSpace,
	Traits:  ops.WholeTensor,
	Keys:    ops.KeysIntersect,
	Formula: "nan_to_num(t * mean_i(delta_i)), t = R*c/(1+(R-1)*c), c = mean_i cos(delta_i, delta_{i+1}) along the last dim",
	Doc: "Model Stock (Jang et al. 2024, after mergekit's approximation): the mean of the deltas " +
		"scaled per row of the last dimension by t = R*c/(1+(R-1)*c), c the mean cosine " +
		"similarity of consecutive deltas (torch cosine_similarity, eps = cos_eps). The mean is " +
		"Python's sum from 0 divided by R; nan_to_num with torch's defaults (NaN -> 0, +-inf -> " +
		"+-max float64). Needs at least 2 deltas (sd-mecha fails on torch.stack([])). For a " +
		"0-dim key sd-mecha's result has shape [1]; mechac keeps the key's shape.",
	Scratch: modelStockScratch,
	Kernel: func(c *ops.Call) error {
		cosEps, err := tiesFloat("model_stock", "cos_eps", c.Kw[0])
		if err != nil {
			return err
		}
		out := c.Out.Data
		n := len(out)
		ms, err := tiesVarTensors("model_stock", n, c.Var)
		if err != nil {
			return err
		}
		r := len(ms)
		if r < 2 {
			return fmt.Errorf("model_stock: needs at least 2 deltas, got %d", r)
		}
		if n == 0 {
			return nil
		}
		t, err := modelStockT(ms, n, c.Out.Shape, cosEps)
		if err != nil {
			return fmt.Errorf("model_stock: %v", err)
		}
		_, cols := tiesLastDim(c.Out.Shape, n)
		for j := range out {
			s := 0.0
			for i := 0; i < r; i++ {
				s += ms[i][j]
			}
			out[j] = tiesNanToNum(t[j/cols] * (s / float64(r)))
		}
		return nil
	},
})

// geometricMedianDef: geometric_median(*models, eps=1e-6, maxiter=100, ftol=1e-20).
var geometricMedianDef = define(&ops.Def{
	Name:          "geometric_median",
	Varargs:       &ops.Param{Name: "models", Type: ops.TensorIn, Spaces: ops.AnySpace, Symbol: "S"},
	KwOnly:        []ops.Param{floatDefault("eps", 1e-6), intDefault("maxiter", 100), floatDefault("ftol", 1e-20)},
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.WholeTensor,
	Keys:          ops.KeysIntersect,
	Formula:       "argmin_m sum_i ||m_i - m||_2 (Weiszfeld: w_i = 1/max(dist(m_i, m), eps), m = sum w_i m_i / sum w_i)",
	Doc: "Geometric median of the models' whole tensors by Weiszfeld's algorithm (after " +
		"krishnap25/geom_median): start from the mean, reweight by inverse distances (clamped " +
		"below by eps), at most maxiter iterations, stop when the mean distance changes by at " +
		"most ftol times itself (exact comparison, so the iteration count follows torch's " +
		"rounding: torch.dist as a sequential fma, Python sums over models).",
	Scratch: geometricMedianScratch,
	Passes:  medianPasses,
	Kernel: func(c *ops.Call) error {
		const name = "geometric_median"
		eps, err := tiesFloat(name, "eps", c.Kw[0])
		if err != nil {
			return err
		}
		maxiter, err := tiesInt(name, "maxiter", c.Kw[1])
		if err != nil {
			return err
		}
		ftol, err := tiesFloat(name, "ftol", c.Kw[2])
		if err != nil {
			return err
		}
		out := c.Out.Data
		n := len(out)
		ms, err := tiesVarTensors(name, n, c.Var)
		if err != nil {
			return err
		}
		r := len(ms)
		if r == 0 {
			return fmt.Errorf("%s: no models", name)
		}
		geometricMedianRows(ms, n, eps, maxiter, ftol, out)
		return nil
	},
})

// tiesPyMod2 is Python's x % 2 for a float (the result has the divisor's sign).
func tiesPyMod2(x float64) float64 {
	r := math.Mod(x, 2)
	if r != 0 && r < 0 {
		r += 2
	}
	return r
}

// dropoutDef: dropout(*deltas: delta, probability: float = 0.9, rescale: float = 1.0,
// overlap: float = 1.0, overlap_emphasis: float = 0.0, seed: int = None) -> delta.
var dropoutDef = define(&ops.Def{
	Name:    "dropout",
	Varargs: tiesDeltaVarargs("deltas"),
	KwOnly: []ops.Param{
		floatDefault("probability", 0.9),
		floatDefault("rescale", 1.0),
		floatDefault("overlap", 1.0),
		floatDefault("overlap_emphasis", 0.0),
		{Name: "seed", Type: ops.IntHyper, Default: nullDefault(), Optional: true, Spaces: ops.ParamSpace},
	},
	Returns: ops.DeltaSpace,
	Traits:  ops.WholeTensor | ops.Random,
	Keys:    ops.KeysIntersect,
	Formula: "m_i ~ Bernoulli(1 - p); sum_i m_i*delta_i / max(sum_i m_i, 1) / (p == 1 ? 1 : (1 - p)^rescale)",
	Doc: "Multi-model DARE (\"n-supermario\"): every delta gets an independent keep mask with " +
		"probability 1 - probability, the kept values are averaged over the models that kept " +
		"them (an element no model keeps is 0), and the result is divided by (1 - probability)^rescale " +
		"(1 when that is not finite). Randomness: numpy.random.default_rng(seed) (PCG64 seeded " +
		"by SeedSequence) re-created per key, one rng.binomial(n=1, p=1-probability, " +
		"size=shape) per delta in argument order (numpy's inversion sampler, one 53-bit " +
		"uniform per element). sd-mecha seeds a null seed from OS entropy (irreproducible); " +
		"mechac uses seed 0 so that plans stay deterministic. A negative seed is an error " +
		"(numpy). Only odd integer overlap values (the default 1) are supported: other values " +
		"select sd-mecha's overlapping-sets rng.choice path, which is not implemented.",
	Scratch: dropoutScratch,
	Kernel: func(c *ops.Call) error {
		a, err := dropoutParams(c.Kw)
		if err != nil {
			return err
		}
		out := c.Out.Data
		n := len(out)
		if len(c.Var) == 0 {
			fill(out, 0)
			return nil
		}
		if err := a.check(); err != nil {
			return err
		}
		ms, err := tiesVarTensors("dropout", n, c.Var)
		if err != nil {
			return err
		}
		g := rng.NewNumPy(uint64(a.seed))
		counts := make([]float64, n)
		fill(out, 0)
		sm := newDropoutSampler(a.keepP)
		for _, d := range ms {
			if err := sm.add(g, d, out, counts); err != nil {
				return err
			}
		}
		a.finish(out, counts)
		return nil
	},
})

// dropoutHypers are a dropout call's hyper-parameters.
type dropoutHypers struct {
	prob, resc, overlap, keepP float64
	seed                       int64
}

// dropoutParams reads dropout's keyword arguments (KwOnly order); a null seed is 0.
func dropoutParams(kw []ops.Value) (dropoutHypers, error) {
	const name = "dropout"
	var hp [4]float64
	for i, pn := range []string{"probability", "rescale", "overlap", "overlap_emphasis"} {
		x, err := tiesFloat(name, pn, kw[i])
		if err != nil {
			return dropoutHypers{}, err
		}
		hp[i] = x
	}
	seed, ok, err := tiesSeed(name, kw[4])
	if err != nil {
		return dropoutHypers{}, err
	}
	if !ok {
		seed = 0
	}
	if seed < 0 {
		return dropoutHypers{}, fmt.Errorf("%s: seed must be non-negative (numpy SeedSequence), got %d", name, seed)
	}
	return dropoutHypers{prob: hp[0], resc: hp[1], overlap: hp[2], keepP: 1 - hp[0], seed: seed}, nil
}

// check is the errors of a call with deltas: an overlap sd-mecha samples otherwise, a keep
// probability numpy refuses.
func (a dropoutHypers) check() error {
	if tiesPyMod2(a.overlap) != 1 {
		return fmt.Errorf("dropout: overlap=%v (not an odd integer) uses sd-mecha's overlapping-sets sampler, which mechac does not implement", a.overlap)
	}
	if !(a.keepP >= 0 && a.keepP <= 1) {
		return fmt.Errorf("dropout: p = 1 - probability = %v must be in [0, 1] (numpy binomial)", a.keepP)
	}
	return nil
}

// dropoutSampler draws dropout's masks: numpy's Binomial(1, keepP), through rng.BinomialOne
// (its constants computed once) where that sampler takes one uniform per draw, else
// rng.NumPy.Binomial (which recomputes them per element: ~10x slower).
type dropoutSampler struct {
	keepP float64
	one   rng.BinomialOne
	fast  bool
}

func newDropoutSampler(keepP float64) dropoutSampler {
	one, fast := rng.NewBinomialOne(keepP)
	return dropoutSampler{keepP: keepP, one: one, fast: fast}
}

// add draws delta d's keep mask from g, one Binomial(1, keepP) per element in order, and adds
// the kept values to out and their count to counts.
func (sm dropoutSampler) add(g *rng.NumPy, d, out, counts []float64) error {
	out, counts = out[:len(d)], counts[:len(d)]
	for j, v := range d {
		var x int64
		if sm.fast {
			x = sm.one.Draw(g)
		} else {
			var err error
			if x, err = g.Binomial(1, sm.keepP); err != nil {
				return fmt.Errorf("dropout: %v", err)
			}
		}
		if x != 0 {
			out[j] += v
			counts[j]++
		}
	}
	return nil
}

// finish divides the sums by their counts (at least 1) and by (1 - probability)^rescale (1
// when probability is 1 or that is not finite).
func (a dropoutHypers) finish(out, counts []float64) {
	rescalar := 1.0
	if a.prob != 1 {
		rescalar = math.Pow(1-a.prob, a.resc)
		if math.IsInf(rescalar, 0) || math.IsNaN(rescalar) {
			rescalar = 1
		}
	}
	for j := range out {
		out[j] = out[j] / max(counts[j], 1) / rescalar
	}
}

// ratioToRegion is sd-mecha's ratio_to_region(width, offset, n): the [start, end) region of
// n items (Python round, halves to even) and whether it wraps around (inverted).
func ratioToRegion(width, offset float64, n int) (start, end int, inverted bool) {
	if width < 0 {
		offset += width
		width = -width
	}
	width = math.Min(width, 1)
	if offset < 0 {
		offset = 1 + offset - math.Trunc(offset)
	}
	offset = math.Mod(offset, 1.0)
	fn := float64(n)
	var s, e float64
	if width+offset <= 1 {
		s, e = offset*fn, (width+offset)*fn
	} else {
		inverted = true
		s, e = (width+offset-1)*fn, offset*fn
	}
	return int(math.RoundToEven(s)), int(math.RoundToEven(e)), inverted
}

// tiesPySlice clamps a Python slice [start:end] of a sequence of length n (non-negative bounds).
func tiesPySlice(start, end, n int) (int, int) {
	start = min(max(start, 0), n)
	end = min(max(end, 0), n)
	if end < start {
		end = start
	}
	return start, end
}

var tiesWidthOffset = func(w float64) []ops.Param {
	return []ops.Param{floatDefault("width", w), floatDefault("offset", 0.0)}
}

// tensorSum: tensor_sum(a, b, width: float = 0.5, offset: float = 0.0).
var tensorSum = define(&ops.Def{
	Name:          "tensor_sum",
	Params:        append([]ops.Param{symbolIn("a"), symbolIn("b")}, tiesWidthOffset(0.5)...),
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.WholeTensor,
	Keys:          ops.KeysIntersect,
	Formula:       "region [start, end) of dim 0 from (width, offset): a with rows of the region from b (or b with a's rows when the region wraps)",
	Doc: "Splices two tensors along their first dimension: the region starts at offset and " +
		"spans width (fractions of the dimension, rounded half to even; a negative width extends " +
		"backwards, offset wraps modulo 1). Rows inside the region come from b, the rest from a; " +
		"when offset + width > 1 the region wraps and is taken from a instead, the rest from b. " +
		"A 0-dim tensor is b when width > 0.5, else a. (sd-mecha writes into its input " +
		"tensor; mechac does not modify inputs.)",
	Kernel: func(c *ops.Call) error {
		const name = "tensor_sum"
		width, err := tiesFloat(name, "width", c.Args[2])
		if err != nil {
			return err
		}
		offset, err := tiesFloat(name, "offset", c.Args[3])
		if err != nil {
			return err
		}
		out := c.Out.Data
		ts, err := tensors(name, len(out), c.Args[0], c.Args[1])
		if err != nil {
			return err
		}
		a, b := ts[0], ts[1]
		if len(a.Shape) == 0 {
			src := c.Args[0]
			if width > 0.5 {
				src = c.Args[1]
			}
			return copyInto(name, c.Out, src)
		}
		if !ops.SameShape(a.Shape, b.Shape) {
			return fmt.Errorf("%s: shapes %s and %s differ", name, ops.FormatShape(a.Shape), ops.FormatShape(b.Shape))
		}
		rows := a.Shape[0]
		start, end, inverted := ratioToRegion(width, offset, rows)
		start, end = tiesPySlice(start, end, rows)
		base, region := a, b
		if inverted {
			base, region = b, a
		}
		copy(out, base.Data)
		if rows > 0 {
			row := len(out) / rows
			copy(out[start*row:end*row], region.Data[start*row:end*row])
		}
		return nil
	},
})

// topKTensorSum: top_k_tensor_sum(a, b, width: float = 1.0, offset: float = 0.0).
var topKTensorSum = define(&ops.Def{
	Name:          "top_k_tensor_sum",
	Params:        append([]ops.Param{symbolIn("a"), symbolIn("b")}, tiesWidthOffset(1.0)...),
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.WholeTensor,
	Keys:          ops.KeysIntersect,
	Formula:       "a_i, or sorted(a)[rank_b(i)] where that value's |.| lies in the magnitude band [kth(start), kth(end)] (outside it when wrapped)",
	Doc: "Gives a the value ordering of b inside a band of magnitudes: a's values are sorted, " +
		"element i takes the sorted value at b_i's rank (stable argsort) when that value's " +
		"magnitude lies between the float32 kthvalues of |a| at the region's start and end " +
		"(region from width/offset as in tensor_sum, over all elements; a start of 0 means " +
		"no lower bound), or outside that band when the region wraps; other elements keep a's value.",
	Kernel: func(c *ops.Call) error {
		const name = "top_k_tensor_sum"
		width, err := tiesFloat(name, "width", c.Args[2])
		if err != nil {
			return err
		}
		offset, err := tiesFloat(name, "offset", c.Args[3])
		if err != nil {
			return err
		}
		out := c.Out.Data
		n := len(out)
		ts, err := tensors(name, n, c.Args[0], c.Args[1])
		if err != nil {
			return err
		}
		a, b := ts[0], ts[1]
		if len(a.Data) != len(b.Data) {
			return fmt.Errorf("%s: a has %d elements, b %d", name, len(a.Data), len(b.Data))
		}
		n = len(a.Data)
		aDist, redist, lo, hi, inverted, err := topKSelection(name, a.Data, b.Data, width, offset)
		if err != nil {
			return err
		}
		for i := range out {
			j := redist[i]
			v := math.Abs(aDist[j])
			in := lo <= v && v <= hi
			if inverted {
				in = !in
			}
			m := 0.0
			if in {
				m = 1
			}
			out[i] = (1-m)*a.Data[i] + m*aDist[j]
		}
		return nil
	},
})

// topKSelection is the selection shared by top_k_tensor_sum and the old copy_top_k: a's
// values sorted (NaN last), the rank of every element of b (stable sort: the redistribution
// that puts a's distribution in b's order), and the magnitude bounds [lo, hi] of the region
// ratio_to_region(width, offset) gives, inverted when the region wraps around.
func topKSelection(name string, a, b []float64, width, offset float64) (aDist []float64, redist []int, lo, hi float64, inverted bool, err error) {
	n := len(a)
	aDist = slices.Clone(a)
	slices.SortStableFunc(aDist, tiesLessNaNLast[float64])
	bIdx := make([]int, n)
	for i := range bIdx {
		bIdx[i] = i
	}
	slices.SortStableFunc(bIdx, func(x, y int) int { return tiesLessNaNLast(b[x], b[y]) })
	redist = make([]int, n)
	for j, i := range bIdx {
		redist[i] = j
	}
	start, end, inverted := ratioToRegion(width, offset, n)
	kth := func(k int) (float64, error) {
		if k <= 0 {
			return -1, nil
		}
		if k > n {
			return 0, fmt.Errorf("%s: kthvalue(): selected number k = %d out of range for %d elements", name, k, n)
		}
		return tiesKthAbsF32(aDist, k), nil
	}
	if lo, err = kth(start); err != nil {
		return
	}
	hi, err = kth(end)
	return
}
