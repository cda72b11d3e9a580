package stdlib

import (
	"errors"
	"fmt"
	"math"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/rng"
)

// The TIES family as older sd-mecha releases and the AstolfoMix author's fork computed it
// (../shared/golden-eras/README.md sections 5.2-5.7; /work/spec-parts/ties-eras.md has one
// entry per definition). Differences from today's ties.go, all of which change numbers:
//
//   - 0.0.x polarity: vote_sgn > 0 votes with the SIGNS ("TIES-SOUP"), <= 0 with the values;
//     apply_stock > 0 applies the model-stock factor. 1.0.x / 1.1.x: vote_sgn=true votes with
//     the values, apply_stock=true does NOT apply the factor.
//   - 0.0.4/0.0.9 ties_sum always votes with the signs and multiplies by alpha.
//   - 0.0.x geometric median: torch.sum(torch.stack(...), dim=0) over the models and
//     weights.sum() as torch reductions (float32 ones at first); 1.0.x uses Python's sum().
//   - nan_to_num with torch's defaults (NaN -> 0, +-inf -> +-max) in every era before 1.1.
//   - ties_sum_with_dropout: the keep-probability dtype (float32 -> 24-bit uniforms in the
//     fork's 0.0.12-0.0.19, float64 -> 53-bit later), the generator (re-seeded per key either
//     way), DELLA offsets in float32, the clamps of each commit and the rescale rule.
//
// Every era here computes the same thing in exact and sd-mecha numerics: the float32
// quantities above are the era's own tensor dtypes, not recipe-scalar rounding (which the
// compiler does per era), so both modes make the same random and top-k decisions.

// tiesEraOpts are the resolved TIES options of one call, in the era's own polarity already.
type tiesEraOpts struct {
	k           float64
	bySigns     bool // the elected sign is sign(sum of signs), else sign(sum of values)
	stock       bool // multiply by the model-stock factor t
	median      bool // geometric median instead of the disjoint mean
	cosEps, eps float64
	ftol        float64
	maxiter     int64
	torchMedian bool // 0.0.x geometric median (torch.stack sums, float32 initial weights)
}

// tiesEraCoreStack is ties_sum / ties_sum_extended's body of the eras before 1.1 on a
// model-major stack of R raw deltas of n elements of the given shape (tiesStackIn: the
// kernel's scratch, or the masked deltas): top-k filter, election, then the disjoint mean
// (optionally times the model-stock factor) or the geometric median, through nan_to_num with
// torch's defaults. It filters the stack in place: with the chunked sums of
// geometricMedian00x, the stack is the core's only R x n buffer.
func tiesEraCoreStack(filtered []float64, r, n int, shape []int, o tiesEraOpts, out []float64) error {
	if r == 0 {
		return errors.New("no models (torch.stack of an empty list)")
	}
	counts, err := tiesFilterVote(filtered, r, n, o.k, !o.bySigns)
	if err != nil {
		return err
	}
	if o.median {
		if o.torchMedian {
			geometricMedian00x(filtered, r, n, o.eps, o.maxiter, o.ftol, out)
		} else {
			geometricMedian(filtered, r, n, o.eps, o.maxiter, o.ftol, out)
		}
		for j, v := range out {
			out[j] = tiesNanToNum(v)
		}
		return nil
	}
	sum := make([]float64, n)
	SumDim0Torch(filtered, r, n, sum)
	if !o.stock {
		for j := range out {
			out[j] = tiesNanToNum(sum[j] / counts[j])
		}
		return nil
	}
	t, err := modelStockT(tiesRows(filtered, r, n), n, shape, o.cosEps)
	if err != nil {
		return err
	}
	_, cols := tiesLastDim(shape, n)
	for j := range out {
		out[j] = tiesNanToNum(float64(sum[j]*t[j/cols]) / counts[j])
	}
	return nil
}

// geometricMedian00x is the 0.0.x fork's geometric_median_list_of_array (Weiszfeld) on R
// points of n elements (model-major):
//
//	weighted_average(P, w) = torch.sum(torch.stack([p_i * w_i]), dim=0) / w.sum()
//	w = float32 ones; median = weighted_average(P, w); obj = mean(dist(p_i, median) * w)
//	repeat maxiter times: w' = w / clamp(dist(p_i, median), eps); median = weighted_average(P, w');
//	    prev, obj = obj, mean(dist(p_i, median) * w); stop if |prev - obj| <= ftol*obj
//	return weighted_average(P, w') (w' = w when maxiter <= 0)
//
// Every sum is a torch reduction (SumDim0Torch over the stacked products, SumTorch over the
// weights and distances); the float32 ones are exact, so only their sum's dtype is moot. The
// stacked products are built and summed a column chunk at a time (SumDim0TorchChunked, the
// same bits), so they take R x sumDim0Chunk values instead of another R x n stack.
func geometricMedian00x(pts []float64, r, n int, eps float64, maxiter int64, ftol float64, out []float64) {
	var prod []float64
	// weightedThen is weighted(w, dst) that calls then(c0, c1) once dst[c0:c1] is final.
	weightedThen := func(w []float64, dst []float64, then func(c0, c1 int)) {
		den := SumTorch(w)
		// sum_i p_i * w_i (the scaled rows summed as SumDim0Torch, never written out)
		prod = SumDim0TorchScaledThen(pts, r, n, w, dst, prod, func(c0, c1 int) {
			vecDiv(dst[c0:c1], dst[c0:c1], den)
			if then != nil {
				then(c0, c1)
			}
		})
	}
	weighted := func(w []float64, dst []float64) { weightedThen(w, dst, nil) }
	ones := make([]float64, r)
	fill(ones, 1)
	median := make([]float64, n)
	weighted(ones, median)
	dists := make([]float64, r)
	objective := func() float64 {
		// times the weights (ones): exact
		DistsTorch(func(i int) []float64 { return pts[i*n : (i+1)*n] }, median, dists)
		return SumTorch(dists) / float64(r)
	}
	// weightedObjective is weighted(w, median) then objective() in one pass over the points:
	// each column chunk's distance chains run right after its median columns are made, while
	// the points' chunk is in the cache (DistChains carries the chains from chunk to chunk in
	// element order, and the sums are per column: the two passes' bits).
	acc := make([]float64, r)
	weightedObjective := func(w []float64) float64 {
		clear(acc)
		weightedThen(w, median, func(c0, c1 int) {
			DistChains(func(i int) []float64 { return pts[i*n+c0 : i*n+c1] }, median[c0:c1], acc)
		})
		for i, x := range acc {
			dists[i] = math.Sqrt(x)
		}
		return SumTorch(dists) / float64(r)
	}
	w := ones
	obj := objective()
	nw := make([]float64, r) // the new weights, computed from the median alone: one buffer serves
	for it := int64(0); it < maxiter; it++ {
		prev := obj
		// dists holds dist(p_i, median) for this very median (the objective's, times the
		// float32 ones, which is exact): the fork computes it a second time, with the same bits.
		for i := range nw {
			nw[i] = 1 / clampMin(dists[i], eps)
		}
		w = nw
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

// --- argument helpers -------------------------------------------------------------------------

// eraMaxiter is range(maxiter) of a 0.0.x Python number: round(maxiter) when the era rounds
// (6e545a3 and upstream 0.0.26+: range(max(0, round(maxiter)))), else it must be integral
// (range() of a float is a TypeError). Negative counts run no iteration.
func eraMaxiter(name string, v float64, round bool) (int64, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s: maxiter must be finite, not %v", name, v)
	}
	if round {
		v = math.RoundToEven(v)
	} else if v != math.Trunc(v) {
		return 0, fmt.Errorf("%s: maxiter = %v: range() needs an integer in this era", name, v)
	}
	return int64(max(v, 0)), nil
}

// kwFloats reads the named float keyword arguments of def d (absent names read as their
// default through normalising, so every name of d.KwOnly is present).
func kwFloats(d *ops.Def, kw []ops.Value) (map[string]float64, error) {
	m := make(map[string]float64, len(kw))
	for i, q := range d.KwOnly {
		if q.Type != ops.FloatHyper && q.Type != ops.IntHyper && q.Type != ops.BoolHyper {
			continue
		}
		if kw[i].Kind == ops.KindNull {
			continue
		}
		x, err := tiesFloat(d.FullName(), q.Name, kw[i])
		if err != nil {
			return nil, err
		}
		m[q.Name] = x
	}
	return m, nil
}

// kwIndex returns the position of the keyword-only parameter name in d, or -1.
func kwIndex(d *ops.Def, name string) int {
	for i, q := range d.KwOnly {
		if q.Name == name {
			return i
		}
	}
	return -1
}

// opts00x reads the 0.0.x TIES hypers from h (missing names take the 0.0.x defaults, so a
// definition whose era lacked a hyper behaves as if it was never given).
func opts00x(name string, h map[string]float64, roundMaxiter bool) (tiesEraOpts, error) {
	get := func(k string, def float64) float64 {
		if v, ok := h[k]; ok {
			return v
		}
		return def
	}
	mi, err := eraMaxiter(name, get("maxiter", 100), roundMaxiter)
	if err != nil {
		return tiesEraOpts{}, err
	}
	return tiesEraOpts{
		k:           get("k", 0.2),
		bySigns:     get("vote_sgn", 0) > 0,
		stock:       get("apply_stock", 0) > 0,
		median:      get("apply_median", 0) > 0,
		cosEps:      get("cos_eps", 1e-6),
		eps:         get("eps", 1e-6),
		ftol:        get("ftol", 1e-20),
		maxiter:     mi,
		torchMedian: true,
	}, nil
}

// floats00x are 0.0.x Hyper parameters: Python numbers with the given defaults.
func floats00x(names []string, defaults []float64) []ops.Param {
	ps := make([]ops.Param, len(names))
	for i, n := range names {
		ps[i] = floatDefault(n, defaults[i])
	}
	return ps
}

var (
	tiesPlain00x    = floats00x([]string{"k", "vote_sgn"}, []float64{0.2, 0})
	tiesStock00x    = floats00x([]string{"k", "vote_sgn", "apply_stock", "cos_eps"}, []float64{0.2, 0, 0, 1e-6})
	tiesExtended00x = floats00x([]string{"k", "vote_sgn", "apply_stock", "cos_eps", "apply_median", "eps", "maxiter", "ftol"},
		[]float64{0.2, 0, 0, 1e-6, 0, 1e-6, 100, 1e-20})
)

func cat(parts ...[]ops.Param) []ops.Param {
	var out []ops.Param
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// --- ties_sum / ties_sum_extended of 0.0.x ------------------------------------------------------

// tiesSumAlpha00x defines 0.0.4 / 0.0.9's ties_sum(*models, alpha, k=0.2): always a sign vote,
// alpha * nan_to_num(disjoint mean).
func tiesSumAlpha00x(era string) *ops.Def {
	d := &ops.Def{
		Name: "ties_sum", Era: era,
		Varargs: tiesDeltaVarargs("models"),
		KwOnly:  floats00x([]string{"alpha", "k"}, []float64{1, 0.2}),
		Returns: ops.DeltaSpace, Traits: ops.WholeTensor, Keys: ops.KeysIntersect,
		Scratch: tiesCoreScratch,
		Passes:  tiesPasses,
		Formula: "alpha * nan_to_num(sum_i D_i[s_i == e] / count), D_i = topk(m_i, k), s_i = sign(D_i), e = sign(sum_i s_i)",
		Doc: "sd-mecha 0.0.4-0.0.9 TIES: the elected sign is the sign of the sum of the SIGNS " +
			"(\"TIES-SOUP\", there is no vote_sgn), the agreeing filtered deltas are averaged, " +
			"NaN becomes 0 and +-inf +-max (torch.nan_to_num defaults), times alpha. The " +
			"commits declare alpha required; the author's feefbf4 copy that wrote his recipes had " +
			"no alpha (lambda = 1), so alpha defaults to 1.0 here and a recipe giving it gets the " +
			"pristine behaviour.",
	}
	d.Kernel = func(c *ops.Call) error {
		h, err := kwFloats(d, c.Kw)
		if err != nil {
			return err
		}
		out := c.Out.Data
		n := len(out)
		ms, err := tiesVarTensors(d.FullName(), n, c.Var)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if err := tiesEraCoreStack(tiesStackIn(ops.ScratchOf(c, len(ms)*n), ms, n), len(ms), n, c.Out.Shape, tiesEraOpts{k: h["k"], bySigns: true}, out); err != nil {
			return fmt.Errorf("%s: %v", d.FullName(), err)
		}
		alpha := h["alpha"]
		for j, v := range out {
			out[j] = alpha * v
		}
		return nil
	}
	d.Stage = ties00xStageDef(func(c ops.StageCall) (float64, bool, float64, bool) {
		kw, _, err := complete(d, d.KwOnly, c.Kw, c.Numerics)
		if err != nil {
			return 0, false, 0, false
		}
		h, err := kwFloats(d, kw)
		if err != nil {
			return 0, false, 0, false
		}
		return h["k"], false, h["alpha"], true // the vote of the signs
	})
	return define(d)
}

// tiesSum00xDef defines a 0.0.x ties_sum or ties_sum_extended with the given keyword-only
// parameters (a subset of tiesExtended00x) and the 0.0.x polarities.
func tiesSum00xDef(name, era string, kw []ops.Param, roundMaxiter bool, doc string) *ops.Def {
	d := &ops.Def{
		Name: name, Era: era,
		Varargs: tiesDeltaVarargs("models"),
		KwOnly:  kw,
		Returns: ops.DeltaSpace, Traits: ops.WholeTensor, Keys: ops.KeysIntersect,
		Scratch: tiesCoreScratch,
		Passes:  tiesPasses,
		Formula: "e = sign(sum_i (vote_sgn > 0 ? sign(D_i) : D_i)), F_i = D_i[sign(D_i) == e]; " +
			"apply_median > 0 ? nan_to_num(gmedian00x(F)) : nan_to_num(sum_i F_i * (apply_stock > 0 ? t_stock : 1) / count)",
		Doc: doc,
	}
	d.Kernel = func(c *ops.Call) error {
		h, err := kwFloats(d, c.Kw)
		if err != nil {
			return err
		}
		o, err := opts00x(d.FullName(), h, roundMaxiter)
		if err != nil {
			return err
		}
		out := c.Out.Data
		n := len(out)
		ms, err := tiesVarTensors(d.FullName(), n, c.Var)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if err := tiesEraCoreStack(tiesStackIn(ops.ScratchOf(c, len(ms)*n), ms, n), len(ms), n, c.Out.Shape, o, out); err != nil {
			return fmt.Errorf("%s: %v", d.FullName(), err)
		}
		return nil
	}
	d.Stage = ties00xStageDef(func(c ops.StageCall) (float64, bool, float64, bool) {
		_, _, o, ok := stageKw00x(d, c, roundMaxiter)
		if !ok || o.median || o.stock {
			return 0, false, 0, false
		}
		return o.k, !o.bySigns, 1, true
	})
	// With a median (which overrides the stock factor), the core is the 0.0.x DELLA core's
	// without dropout: its Stager with every mask all ones from the start (each masked delta is
	// the delta, x * 1 = x), no gather passes or draws, no rescale. Without a median, the one
	// above (ties_sum's Stager), or with the stock factor the composed one below.
	plain := d.Stage
	median := dellaStageDef(func(c ops.StageCall) (ops.Stager, bool, error) {
		_, _, o, ok := stageKw00x(d, c, roundMaxiter)
		if !ok || !o.median {
			return nil, false, nil
		}
		st, ok := newCore00xStager(d.FullName(), c, o)
		return st, ok, nil
	})
	median.Scratch = dellaCoreScratch
	median.Passes = func(r, n int) int { return tiesStageKeyPasses(r, n) + 8 }
	// The stock factor without a median: ties_sum_extended's composed Stager in the 0.0.x
	// polarities (apply_stock > 0 applies the factor) and torch.nan_to_num's defaults.
	stock := func(c ops.StageCall) (ops.Stager, bool, error) {
		_, _, o, ok := stageKw00x(d, c, roundMaxiter)
		if !ok || !o.stock || o.median {
			return nil, false, nil
		}
		st, ok := newCore00xStager(d.FullName(), c, o)
		return st, ok, nil
	}
	kind := func(c ops.StageCall) (median, stock bool) {
		_, _, o, ok := stageKw00x(d, c, roundMaxiter)
		return ok && o.median, ok && o.stock && !o.median
	}
	d.Stage = &ops.StageDef{
		New: func(c ops.StageCall) (ops.Stager, bool, error) {
			switch m, st := kind(c); {
			case m:
				return median.New(c)
			case st:
				return stock(c)
			}
			return plain.New(c)
		},
		// The median's and the stock factor's Stagers read their inputs again per step or
		// for the factor: like DELLA's, only for keys whose whole kernel would hold a GiB;
		// ties_sum's for every key.
		Accepts: func(c ops.StageCall) bool {
			m, st := kind(c)
			return !m && !st || median.Accepts(c)
		},
		// Scratch sees no keywords: below the GiB only ties_sum's Stager runs; above it, the
		// largest of the three (the stock factor's composed Stager counted too).
		Scratch: func(r, n int) int64 {
			if !median.Accepts(ops.StageCall{Tensors: r, Shape: []int{n}}) {
				return plain.Scratch(r, n)
			}
			return max(plain.Scratch(r, n), median.Scratch(r, n), tiesSumExtended.Stage.Scratch(r, n))
		},
		Passes: plain.Passes, KeyPasses: plain.KeyPasses, Idle: plain.Idle, Cost: plain.Cost,
	}
	return define(d)
}

// newCore00xStager is the Stager of the 0.0.x TIES core (tiesEraCoreStack) with options o over c's
// tensors: with a median, the 0.0.x DELLA Stager without dropout; with the stock factor
// alone, ties_sum_extended's composed Stager in the 0.0.x polarities; else ties_sum's; all
// with torch's nan_to_num defaults. false where the core is not staged (no elements, no
// deltas, the stock factor of one delta, a k the kernels reject).
func newCore00xStager(name string, c ops.StageCall, o tiesEraOpts) (ops.Stager, bool) {
	r, n := c.Tensors, ops.NumElements(c.Shape)
	switch {
	case r == 0 || n == 0:
		return nil, false
	case o.median:
		st, ok, err := newDellaStager(name, c, o, 0, 1, 1, nil, false, nil)
		if !ok || err != nil {
			return nil, false
		}
		return st.(*dellaStager).withoutDropout(), true
	case o.stock:
		if r < 2 {
			return nil, false
		}
		s, ok := newTiesExtStagerFor(r, n, c.Shape, o.k, !o.bySigns, true, o.cosEps)
		if !ok {
			return nil, false
		}
		s.nanToNum = true
		return s, true
	}
	s, ok := newTiesStagerFor(r, n, o.k, !o.bySigns)
	if !ok {
		return nil, false
	}
	s.nanToNum = true
	return s, true
}

const tiesPolarity00x = "0.0.x polarities: vote_sgn > 0 elects the sign of the sum of the SIGNS " +
	"(\"TIES-SOUP\"), vote_sgn <= 0 of the values; apply_stock > 0 multiplies the disjoint sum by " +
	"the model-stock factor t = n*c/(1+(n-1)*c) before dividing by the count; apply_median > 0 " +
	"takes the geometric median of all n filtered rows (zeros where filtered, no division by " +
	"the count) with the 0.0.x Weiszfeld (torch.stack sums, float32 initial weights). " +
	"nan_to_num with torch's defaults."

var (
	_ = tiesSumAlpha00x("0.0.4")
	_ = tiesSumAlpha00x("0.0.9")

	_ = tiesSum00xDef("ties_sum", "0.0.x", tiesPlain00x, true,
		"sd-mecha 0.0.12-0.0.29 ties_sum(*models, k=0.2, vote_sgn=0.0): TIES with a value vote, "+
			"or a sign vote when vote_sgn > 0 (0.0.12-0.0.19 upstream had no vote_sgn: the "+
			"default is their behaviour). "+tiesPolarity00x)
	_ = tiesSum00xDef("ties_sum_extended", "0.0.x", tiesExtended00x, true,
		"sd-mecha 0.0.26+ / the fork's 6e545a3 ties_sum_extended. "+tiesPolarity00x+
			" maxiter is Python-rounded (range(max(0, round(maxiter)))).")
	// The fork's ties_sum grew hypers commit by commit before 6e545a3 split it off into
	// ties_sum_extended; a hyper the commit did not have was silently dropped.
	_ = tiesSum00xDef("ties_sum", "fork-0.0.x", tiesExtended00x, false,
		"the fork's 3360d18 (0.0.19) ties_sum with every TIES hyper. "+tiesPolarity00x+
			" maxiter must be integral (range(maxiter)).")
	_ = tiesSum00xDef("ties_sum", "fork-0.0.13", tiesStock00x, false,
		"the fork's 01823a9 ties_sum: model stock added, no geometric median. "+tiesPolarity00x)
	_ = tiesSum00xDef("ties_sum", "fork-0.0.12", tiesPlain00x, false,
		"the fork's 4edc67c ties_sum(*models, k=0.2, vote_sgn=0.0). "+tiesPolarity00x)
	_ = tiesSum00xDef("ties_sum", "fork-0.0.26", tiesPlain00x, true,
		"the fork's 6e545a3 ties_sum(*models, k=0.2, vote_sgn=0.0) (the extras moved to "+
			"ties_sum_extended). "+tiesPolarity00x)
	_ = tiesSum00xDef("ties_sum", "fork-0.0.26-hotfix", tiesPlain00x, true,
		"the fork's 1458190 ties_sum, as 6e545a3. "+tiesPolarity00x)
)

// --- ties_sum_with_dropout of the 0.0.x fork ------------------------------------------------------

// dropout00xKind selects the fork commit's ties_sum_with_dropout.
type dropout00xKind uint8

const (
	dropoutFork012  dropout00xKind = iota // 4edc67c: float32 P, always / (1 - p)
	dropoutFork013                        // 29bac1a/01823a9/3360d18: + p == 1 -> r*0, no_rescale
	dropoutDella                          // 6e545a3 / upstream 0.0.26+: float64 P, DELLA, (1-p)^rescale
	dropoutDellaFix                       // 1458190: + clamp(nan_to_num(P, nan=1e-20), 1e-20, 1)
)

// eraSeed reads a 0.0.x seed: (value, true), or (0, false) for None.
func eraSeed(name string, v ops.Value) (float64, bool, error) {
	if v.Kind == ops.KindNull {
		return 0, false, nil
	}
	x, ok := v.Float64()
	if !ok || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, false, fmt.Errorf("%s: seed must be a finite number or null, not %s", name, v)
	}
	return x, true, nil
}

// dellaOffsets writes the fork's DELLA offsets for one delta to off: rank/N - (N+1)/(2N) times
// della_eps, every operation in float32 (the int64 scipy ordinal ranks 1..N divided by the
// int N is a float32 tensor; the Python scalars enter as float32), widened exactly. Any NaN in
// delta makes scipy's ranks all NaN (float64): every offset is NaN.
func dellaOffsets(delta []float64, dellaEps float64, rk *dellaRanker, off []float64) {
	n := len(delta)
	ranks := rk.ranks(delta)
	if rk.nan {
		fill(off, math.NaN())
		return
	}
	ne := float32(n)
	center := float32(float64(n+1) / float64(n*2))
	e := float32(dellaEps)
	for i := dellaOffsetsFast(ranks, ne, center, e, off); i < n; i++ {
		off[i] = float64((float32(ranks[i]+1)/ne - center) * e)
	}
}

// dellaFillQ is the keep probabilities of a 0.0.x DELLA delta for bernoulliMask64: 1 - p plus
// its offset (none when off is nil), clamped as the hotfix does.
func dellaFillQ(kind dropout00xKind, pMin float64, off []float64) func(qs []float64, lo int) error {
	return func(qs []float64, lo int) error {
		start := 0
		if off != nil {
			start = dellaFillQFast(qs, off[lo:], pMin, kind == dropoutDellaFix)
		}
		for j := start; j < len(qs); j++ {
			q := pMin
			if off != nil {
				q = pMin + off[lo+j]
			}
			if kind == dropoutDellaFix { // clamp(nan_to_num(P, nan=1e-20), 1e-20, 1)
				if math.IsNaN(q) {
					q = 1e-20
				}
				q = min(max(tiesNanToNum(q), 1e-20), 1)
			}
			qs[j] = q
		}
		return nil
	}
}

// della10xFillQ is the keep probabilities of a 1.0.x DELLA delta: clamp(1 - p + offset, 1e-20,
// 1), or with fixed (fork-1.0.x) clamp(1 - p + nan_to_num(offset, 0, 0, 0), 0, 1); no offset
// when off is nil. torch.clamp keeps a NaN.
func della10xFillQ(fixed bool, pMin float64, off []float64) func(qs []float64, lo int) error {
	low := 1e-20
	if fixed {
		low = 0
	}
	return func(qs []float64, at int) error {
		for j := range qs {
			q := pMin
			if off != nil {
				e := off[at+j]
				if fixed {
					e = tiesNanToZero(e)
				}
				q = pMin + e
			}
			if q < low {
				q = low
			} else if q > 1 {
				q = 1
			}
			qs[j] = q
		}
		return nil
	}
}

// bernoulliCheck is torch.bernoulli's range check on one probability.
func bernoulliCheck(name string, p float64) error {
	if !(p >= 0 && p <= 1) {
		return fmt.Errorf("%s: bernoulli probability %v is not in [0, 1] (torch refuses it)", name, p)
	}
	return nil
}

// tiesDropout00xDef defines one fork commit's ties_sum_with_dropout.
func tiesDropout00xDef(era string, kind dropout00xKind, kw []ops.Param, doc, formula string) *ops.Def {
	d := &ops.Def{
		Name: "ties_sum_with_dropout", Era: era,
		Varargs: tiesDeltaVarargs("deltas"),
		KwOnly:  kw,
		Returns: ops.DeltaSpace, Traits: ops.WholeTensor | ops.Random, Keys: ops.KeysIntersect,
		Scratch: tiesDropoutScratch,
		Passes:  tiesDropoutPasses,
		Formula: formula,
		Doc:     doc,
	}
	seedAt := kwIndex(d, "seed")
	if kind >= dropoutDella {
		d.Stage = della00xStageDef(d, kind)
	} else {
		d.Stage = bernoulli32StageDef(d, kind)
	}
	d.Kernel = func(c *ops.Call) error {
		name := d.FullName()
		h, err := kwFloats(d, c.Kw)
		if err != nil {
			return err
		}
		o, err := opts00x(name, h, kind >= dropoutDella)
		if err != nil {
			return err
		}
		seed, hasSeed, err := eraSeed(name, c.Kw[seedAt])
		if err != nil {
			return err
		}
		p := h["probability"]
		out := c.Out.Data
		n := len(out)
		if kind >= dropoutDella && (len(c.Var) == 0 || p == 1) {
			fill(out, 0)
			return nil
		}
		ms, err := tiesVarTensors(name, n, c.Var)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		var g *rng.Torch
		switch {
		case kind < dropoutDella:
			// torch.manual_seed(seed) on the global generator at every key call.
			if !hasSeed {
				return fmt.Errorf("%s: seed is required in this era (torch.manual_seed(None) fails)", name)
			}
			g = rng.NewTorch(uint64(int64(seed)))
		case hasSeed && seed >= 0:
			g = rng.NewTorch(uint64(int64(math.RoundToEven(seed))))
		default:
			g = rng.NewTorch(rng.TorchDefaultSeed)
		}
		// The masked deltas go straight into the stack the TIES core filters in place.
		masked := ops.ScratchOf(c, len(ms)*n) // every element is written below
		if kind < dropoutDella {
			keep := float64(float32(1 - p)) // torch.full(shape, 1 - p): a float32 tensor
			if err := bernoulliCheck(name, keep); err != nil {
				return err
			}
			for i, dl := range ms {
				// Bernoulli32 per element: a Float32 uniform u, kept iff u < keep. The
				// uniforms go to m first (bulk draws, in order), then become the masked values.
				m := masked[i*n : (i+1)*n]
				g.Float32s(m)
				vecMaskMulScalar(m, dl, m, keep)
			}
		} else {
			dellaEps := h["della_eps"]
			var off []float64
			var rk *dellaRanker
			if dellaEps != 0 {
				off = make([]float64, n)
				if rk, err = newDellaRanker(name, n); err != nil {
					return err
				}
			}
			pMin := 1 - p
			for i, dl := range ms {
				if off != nil {
					dellaOffsets(dl, dellaEps, rk, off)
				}
				err := bernoulliMask64(name, g, dl, masked[i*n:(i+1)*n], dellaFillQ(kind, pMin, off))
				if err != nil {
					return err
				}
			}
		}
		if err := tiesEraCoreStack(masked, len(ms), n, c.Out.Shape, o, out); err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		switch kind {
		case dropoutFork012:
			div := 1 - p
			for j := range out {
				out[j] /= div
			}
		case dropoutFork013:
			switch {
			case p == 1:
				for j := range out {
					out[j] *= 0
				}
			case h["no_rescale"] <= 0:
				div := 1 - p
				for j := range out {
					out[j] /= div
				}
			}
		default:
			div := math.Pow(1-p, h["rescale"])
			if math.IsNaN(div) || math.IsInf(div, 0) {
				div = 1
			}
			for j := range out {
				out[j] /= div
			}
		}
		return nil
	}
	return define(d)
}

func seed00x(def *float64) ops.Param {
	if def == nil {
		return ops.Param{Name: "seed", Type: ops.FloatHyper, Default: nullDefault(), Optional: true, Spaces: ops.ParamSpace}
	}
	return floatDefault("seed", *def)
}

var minusOne = -1.0

var (
	tiesDropoutFork012 = tiesDropout00xDef("fork-0.0.12", dropoutFork012,
		cat(floats00x([]string{"probability"}, []float64{0.9}), tiesPlain00x, []ops.Param{seed00x(nil)}),
		"the fork's 4edc67c DARE + TIES: torch.manual_seed(int(seed)) on the global generator "+
			"at every key call, each delta times bernoulli(full(shape, 1 - p)) with a FLOAT32 "+
			"probability (24-bit uniforms: keep iff (w & 0xFFFFFF)*2^-24 < fp32(1 - p)), deltas "+
			"in argument order, then ties_sum@fork-0.0.12 and ALWAYS / (1 - p) (p = 1 divides "+
			"by zero). seed is required. "+tiesPolarity00x,
		"ties_sum(delta_i * bernoulli_f32(fp32(1 - p))) / (1 - p)")
	_ = tiesDropout00xDef("fork-0.0.13", dropoutFork013,
		cat(floats00x([]string{"probability", "no_rescale"}, []float64{0.9, 0}), tiesStock00x, []ops.Param{seed00x(nil)}),
		"the fork's 29bac1a/01823a9 DARE + TIES: masks as fork-0.0.12 (float32 probabilities, "+
			"global generator re-seeded per key); p == 1 gives r*0, no_rescale > 0 keeps r, "+
			"else r / (1 - p). apply_stock/cos_eps are 01823a9's (29bac1a dropped them). "+tiesPolarity00x,
		"p == 1 ? r*0 : (no_rescale > 0 ? r : r / (1 - p)), r = ties_sum(delta_i * bernoulli_f32(fp32(1 - p)))")
	_ = tiesDropout00xDef("fork-0.0.x", dropoutFork013,
		cat(floats00x([]string{"probability", "no_rescale"}, []float64{0.9, 0}), tiesExtended00x, []ops.Param{seed00x(nil)}),
		"the fork's 3360d18 (0.0.19) DARE + TIES: as fork-0.0.13 with the geometric median "+
			"(apply_median, eps, maxiter, ftol). "+tiesPolarity00x,
		"p == 1 ? r*0 : (no_rescale > 0 ? r : r / (1 - p)), r = ties_sum(delta_i * bernoulli_f32(fp32(1 - p)))")
	dellaKw00x = cat(floats00x([]string{"probability", "della_eps", "rescale"}, []float64{0.9, 0, 1}), tiesExtended00x, []ops.Param{seed00x(&minusOne)})
	_          = tiesDropout00xDef("0.0.x", dropoutDella, dellaKw00x,
		"sd-mecha 0.0.26+ / the fork's 6e545a3 (\"della\") DARE/DELLA + TIES: no deltas or "+
			"p == 1 give 0; a new torch generator per key call, seeded with round(seed) when "+
			"seed >= 0 (else torch's default seed); P = full(1 - p, float64) + Delta, Delta = "+
			"(rank/N - (N+1)/(2N)) * della_eps in float32 (ordinal ranks of |delta|) when "+
			"della_eps != 0; 53-bit uniforms; then ties_sum_extended@0.0.x and / (1 - p)^rescale "+
			"(1 when not finite). P outside [0, 1] is an error, as in torch. "+tiesPolarity00x,
		"ties_sum_extended(delta_i * bernoulli_f64(1 - p + Delta_i)) / (1 - p)^rescale")
	_ = tiesDropout00xDef("fork-0.0.26", dropoutDella, dellaKw00x,
		"the fork's 6e545a3 (\"della\"): as ties_sum_with_dropout@0.0.x.",
		"ties_sum_extended(delta_i * bernoulli_f64(1 - p + Delta_i)) / (1 - p)^rescale")
	_ = tiesDropout00xDef("fork-0.0.26-hotfix", dropoutDellaFix, dellaKw00x,
		"the fork's 1458190 hotfix: as fork-0.0.26 with P = clamp(nan_to_num(P, nan=1e-20), "+
			"1e-20, 1) before the draws.",
		"ties_sum_extended(delta_i * bernoulli_f64(clamp(nan_to_num(1 - p + Delta_i, nan=1e-20), 1e-20, 1))) / (1 - p)^rescale")
)

// --- ties_sum_with_dropout of 1.0.x ---------------------------------------------------------------

// tiesDropout10xDef defines the 1.0.x ties_sum_with_dropout; fixed is a4da898's clamp to
// [0, 1] after nan_to_num of the DELLA offsets, else clamp(P, 1e-20, 1).
func tiesDropout10xDef(era string, fixed bool, doc string) *ops.Def {
	formula := "ties_sum_extended(delta_i * bernoulli_f64(clamp(1 - p + Delta_i, 1e-20, 1))) / (rescale ? 1 - p : 1)"
	if fixed {
		formula = "ties_sum_extended(delta_i * bernoulli_f64(clamp(1 - p + nan_to_num(Delta_i, 0, 0, 0), 0, 1))) / (rescale ? 1 - p : 1)"
	}
	d := &ops.Def{
		Name: "ties_sum_with_dropout", Era: era,
		Varargs: tiesDeltaVarargs("deltas"),
		KwOnly:  tiesDropoutParams,
		Returns: ops.DeltaSpace, Traits: ops.WholeTensor | ops.Random, Keys: ops.KeysIntersect,
		Scratch: tiesDropoutScratch,
		Passes:  tiesDropoutPasses,
		Formula: formula,
		Doc:     doc,
	}
	d.Stage = della10xStageDef(d, fixed)
	d.Kernel = func(c *ops.Call) error {
		name := d.FullName()
		out := c.Out.Data
		n := len(out)
		pts, err := tensors(name, n, c.Kw[0])
		if err != nil {
			return err
		}
		if !pts[0].IsScalar() {
			return fmt.Errorf("%s: probability must be a single number in this era (math.isclose of a tensor)", name)
		}
		p := pts[0].Data[0]
		if len(c.Var) == 0 || isClose(p, 1) {
			fill(out, 0)
			return nil
		}
		a, err := readDropoutArgs(name, c, n)
		if err != nil || n == 0 {
			return err
		}
		dellaEps, rescale, t, ms, seed := a.dellaEps, a.rescale, a.opts, a.ms, a.seed
		o := tiesEraOpts{
			k: t.k, bySigns: !t.voteSgn, stock: !t.applyStock, median: t.applyMedian,
			cosEps: t.cosEps, eps: t.eps, ftol: t.ftol, maxiter: max(t.maxiter, 0),
		}
		g := rng.NewTorch(uint64(seed))
		var off []float64
		var rk *dellaRanker
		if dellaEps != 0 { // math.isclose(della_eps, 0.0): only 0 itself
			off = make([]float64, n)
			if rk, err = newDellaRanker(name, n); err != nil {
				return err
			}
		}
		pMin := 1 - p // torch.ones_like(delta) - probability (a float64 0-dim tensor)
		// The masked deltas go straight into the stack the TIES core filters in place: the
		// worker's scratch, as 1.1.5's kernel's (every element is written below).
		masked := ops.ScratchOf(c, len(ms)*n)
		for i, dl := range ms {
			if off != nil {
				dellaOffsets(dl, dellaEps, rk, off)
			}
			err := bernoulliMask64(name, g, dl, masked[i*n:(i+1)*n], della10xFillQ(fixed, pMin, off))
			if err != nil {
				return err
			}
		}
		if err := tiesEraCoreStack(masked, len(ms), n, c.Out.Shape, o, out); err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		if rescale {
			div := 1 - p
			for j := range out {
				out[j] /= div
			}
		}
		return nil
	}
	return define(d)
}

const polarity10x = " Polarities as 1.1.5 (vote_sgn=true votes with the VALUES, apply_stock=true " +
	"does not apply the stock factor: the opposite of 0.0.x's 1.0), nan_to_num with torch's " +
	"defaults, the geometric median with Python sums and float64 weights; every recipe number " +
	"was a float32 tensor first (the era's scalar rule), and 1 - p is computed in float64."

var (
	_ = tiesDropout10xDef("1.0", false,
		"sd-mecha 1.0.x (8150c2a) DARE/DELLA + TIES: a new torch generator per key call "+
			"(seeded when seed >= 0), P = clamp(ones - p + Delta, 1e-20, 1) in float64 with "+
			"Delta's float32 DELLA offsets, 53-bit uniforms, ties_sum_extended, / (1 - p) when "+
			"rescale; p isclose to 1 gives 0."+polarity10x+" The 0.1.0rc-era signature "+
			"(probability: float, no_rescale) is not covered.")
	_ = tiesDropout10xDef("fork-1.0.4", false,
		"the fork's f758dc0/5818193 (1.0.4): as ties_sum_with_dropout@1.0 (clamp(P, 1e-20, 1)).")
	_ = tiesDropout10xDef("fork-1.0.x", true,
		"the fork's a4da898/3e3aea3 (1.0.9): as ties_sum_with_dropout@1.0 but the DELLA "+
			"offsets go through nan_to_num(nan=0, posinf=0, neginf=0) and P is clamped to [0, 1].")
)
