package stdlib

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
	"sync"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/rng"
	"gonum.org/v1/gonum/mat"
)

// LoRA / LoKr extraction: sd-mecha 1.1.5 lycoris.py LoraAlgorithm / LokrAlgorithm
// implement_extract_method, made to work. Upstream writes nothing (LoRA: base is read under the
// output key, so every key raises StateDictKeyError and is skipped) or crashes (LoKr: its key
// map passes the string "lokr" where algorithm objects are expected); mechac does what the code
// plainly intends, with the fixes a loader needs:
//
//   - LoRA, per base key of rank >= 2 viewed as (out, rest): k = min(rank, out, rest) (a rank
//     larger than the matrix is clamped, not an error), the SVD U S V^T (truncate_rank's
//     randomized one with use_approximate_basis, else the top k pairs by topSingular), and
//     lora_up = U_k sqrt(S_k) shaped (out, k, 1, ...), lora_down = sqrt(S_k) V_k^T shaped
//     (k, *shape[1:]), alpha = k, so that up @ down * alpha / k is the rank-k truncation that
//     truncate_rank computes. Upstream writes up 2-D for convolutions and alpha = the requested
//     rank even where the matrix has fewer pairs; kohya-format loaders want up (out, k, 1, 1),
//     and alpha / k = 1 keeps the scale right.
//   - LoKr: the nearest Kronecker product (Van Loan-Pitsianis, truncate_kronecker's rearrangement
//     and its top singular pair, exact as upstream's full SVD up to topSingular's tolerance):
//     lokr_w1 (m1, n1), lokr_w2 (m2, n2, *kernel), no alpha (LyCORIS, ComfyUI and A1111 never
//     scale a full w1 and w2).
//
// Signs: an SVD's singular vectors are defined up to sign, and gonum's and OpenBLAS's choices
// differ; each kept pair is flipped so that the largest-magnitude entry of its U column (the
// first one on ties) is positive (scikit-learn's svd_flip), so every build writes the same
// factors up to rounding.
//
// The VM computes each output key on its own, so up and down (w1 and w2) are two calls on the
// same delta; extractFactors lets them share one factorization.

// extractPart is which factor an output key holds.
type extractPart uint8

const (
	partUp extractPart = iota
	partDown
	partAlpha
	partW1
	partW2
)

// extractSuffixes are the output keys' suffixes (after the stem's ".") and their part.
var extractSuffixes = map[string]extractPart{
	"lora_up.weight":   partUp,
	"lora_down.weight": partDown,
	"alpha":            partAlpha,
	"lokr_w1":          partW1,
	"lokr_w2":          partW2,
}

// extractPartOf returns the part an output key holds. Stems have no dots (loraStem replaces
// them), so the suffix is everything after the first one.
func extractPartOf(key string) (extractPart, error) {
	_, suffix, ok := strings.Cut(key, ".")
	if p, found := extractSuffixes[suffix]; ok && found {
		return p, nil
	}
	return 0, fmt.Errorf("key %s is not an extracted LoRA/LoKr factor", key)
}

// extractKeyMap maps each output key an extraction writes to its base key: for algo "lora"
// the up, down and alpha keys, for "lokr" w1 and w2, of every given config.
func extractKeyMap(algo string, cfgs []*loraConfig) map[string]string {
	parts := []string{"lora_up.weight", "lora_down.weight", "alpha"}
	if algo == "lokr" {
		parts = []string{"lokr_w1", "lokr_w2"}
	}
	m := map[string]string{}
	for _, l := range cfgs {
		for _, k := range l.base.Keys {
			stem := loraStem(k)
			if stem == "" {
				continue
			}
			for _, s := range parts {
				name := l.prefix + "_" + stem + "." + s
				if _, dup := m[name]; !dup { // a later duplicate stem keeps the first key, as the config does
					m[name] = k.Name
				}
			}
		}
	}
	return m
}

// extractKeyMaps caches extractKeyMap per (algo, flavour, base) ("" base: every base of the
// flavour, for the interfaces, which dispatch on the input's config; the test checks that the
// three bases never map one output key to two base keys).
var extractKeyMaps sync.Map // string -> func() map[string]string

func extractKeys(algo, prefix, base string) map[string]string {
	id := algo + "|" + prefix + "|" + base
	f, _ := extractKeyMaps.LoadOrStore(id, sync.OnceValue(func() map[string]string {
		var cfgs []*loraConfig
		for _, l := range loraConfigs() {
			if l.prefix == prefix && (base == "" || l.base.ID == base) {
				cfgs = append(cfgs, l)
			}
		}
		return extractKeyMap(algo, cfgs)
	}))
	return f.(func() map[string]string)()
}

// extractArgs are an extraction call's arguments.
type extractArgs struct {
	rank   int
	approx bool
	iters  int
	seed   uint64
	seeded bool
	ratio  float64
}

// readExtractArgs reads the hyper-parameters after base (args[1:]), defaults for absent ones.
func readExtractArgs(name, algo string, args []ops.Value) (extractArgs, error) {
	a := extractArgs{rank: 8, approx: true, iters: 2, ratio: 0.5}
	get := func(i int) (ops.Value, bool) {
		if i < len(args) && args[i].Kind != ops.KindNull {
			return args[i], true
		}
		return ops.Value{}, false
	}
	var err error
	if algo == "lokr" {
		if v, ok := get(1); ok {
			if a.ratio, err = svdNumberArg(name, "kronecker_ratio", v); err != nil {
				return a, err
			}
		}
		if math.IsNaN(a.ratio) || math.IsInf(a.ratio, 0) {
			return a, fmt.Errorf("%s: kronecker_ratio %v is not finite", name, a.ratio)
		}
		return a, nil
	}
	if v, ok := get(1); ok {
		if a.rank, err = svdIntArg(name, "rank", v); err != nil {
			return a, err
		}
	}
	if a.rank < 1 {
		return a, fmt.Errorf("%s: rank must be at least 1, not %d", name, a.rank)
	}
	if v, ok := get(2); ok {
		if a.approx, err = svdBoolArg(name, "use_approximate_basis", v); err != nil {
			return a, err
		}
	}
	if v, ok := get(3); ok {
		if a.iters, err = svdIntArg(name, "approximate_basis_iters", v); err != nil {
			return a, err
		}
	}
	if a.iters < 0 {
		return a, fmt.Errorf("%s: approximate_basis_iters must be at least 0, not %d", name, a.iters)
	}
	if len(args) > 4 {
		if a.seed, a.seeded, err = svdSeedArg(name, args[4]); err != nil {
			return a, err
		}
	}
	return a, nil
}

// extractShape is the shape of part for a base tensor of shape base.
func extractShape(part extractPart, base []int, a extractArgs) ([]int, error) {
	if len(base) < 2 || ops.NumElements(base) == 0 {
		return nil, fmt.Errorf("the delta has shape %s; extraction needs at least 2 dims and 1 element", ops.FormatShape(base))
	}
	rows, cols := svdMatrix2D(base, false)
	k := min(a.rank, rows, cols)
	switch part {
	case partUp:
		s := []int{rows, k}
		for range len(base) - 2 {
			s = append(s, 1)
		}
		return s, nil
	case partDown:
		return append([]int{k}, base[1:]...), nil
	case partAlpha:
		return []int{}, nil
	case partW1:
		m1, _, n1, _ := kronDimsMemo(base, a.ratio)
		return []int{m1, n1}, nil
	case partW2:
		_, m2, _, n2 := kronDimsMemo(base, a.ratio)
		return append([]int{m2, n2}, base[2:]...), nil
	}
	return nil, fmt.Errorf("unknown part %d", part)
}

// svdFlip makes the largest-magnitude entry of each of the first k columns of u positive (the
// first such entry on ties), negating the matching row of vt.
func svdFlip(u, vt *mat.Dense, k int) {
	rows, _ := u.Dims()
	_, cols := vt.Dims()
	for j := range k {
		best, at := -1.0, 0
		for i := range rows {
			if x := math.Abs(u.At(i, j)); x > best {
				best, at = x, i
			}
		}
		if u.At(at, j) >= 0 {
			continue
		}
		for i := range rows {
			u.Set(i, j, -u.At(i, j))
		}
		for i := range cols {
			vt.Set(j, i, -vt.At(j, i))
		}
	}
}

// extractLoRA returns the up (rows x k) and down (k x cols) factors of delta d, row-major.
func extractLoRA(d *ops.Tensor, a extractArgs) ([]float64, []float64, error) {
	rows, cols := svdMatrix2D(d.Shape, false)
	k := min(a.rank, rows, cols)
	if k < 1 {
		return nil, nil, fmt.Errorf("the delta has shape %s", ops.FormatShape(d.Shape))
	}
	m := laDenseOf(rows, cols, d.Data)
	var u, vt *mat.Dense
	var s []float64
	var err error
	if a.approx {
		u, s, vt, err = svdLowRank(m, k, a.iters, a.seed, a.seeded)
	} else {
		u, s, vt, err = topSingular(m, k)
	}
	if err != nil {
		return nil, nil, err
	}
	svdFlip(u, vt, k)
	up, down := make([]float64, rows*k), make([]float64, k*cols)
	for j := range k {
		sq := math.Sqrt(s[j])
		for i := range rows {
			up[i*k+j] = u.At(i, j) * sq
		}
		for i := range cols {
			down[j*cols+i] = sq * vt.At(j, i)
		}
	}
	return up, down, nil
}

// Iterative top-k SVD. gonum's full SVD computes every singular vector with unblocked
// rotations: about 40 s for one 1280 x 1280 matrix, hours for a model, where the extraction
// needs the top k (LoKr: 1). topSingular finds them by subspace iteration with Rayleigh-Ritz
// (matrix products on the fast Dgemm, Householder QR, an SVD of a (p x n) projection), run
// until every kept pair's residual |A v_i - s_i u_i| is at most topSingularTol * s_0 (tested
// every topSingularCheck iterations), or topSingularMaxIters iterations (a spectrum with no
// gap after k, e.g. pure noise, where the truncation itself is ill-defined). Matrices with a small side, or a k near it, get the full
// SVD, which is then cheap or unavoidable. The start block is torch.randn with torch's default
// seed, so the result is deterministic.
const (
	topSingularTol      = 1e-12
	topSingularMaxIters = 100
	topSingularSmall    = 96
	topSingularCheck    = 4
)

// topSingularBlock is topSingular's block size for the top k pairs of an m x n matrix, k plus
// oversampling so that the k-th pair converges fast, and whether it takes the full SVD instead
// (a small side, or a block of half of it or more).
func topSingularBlock(m, n, k int) (p int, full bool) {
	small := min(m, n)
	p = min(small, 2*k+8)
	return p, small <= topSingularSmall || 2*p >= small
}

// topSingular returns the k largest singular triplets of a: u (m x k'), s, vt (k' x n), k' >= k
// (the full SVD returns every pair; callers use the first k).
func topSingular(a *mat.Dense, k int) (*mat.Dense, []float64, *mat.Dense, error) {
	m, n := a.Dims()
	p, full := topSingularBlock(m, n, k)
	if full {
		return laSVD(a)
	}
	if err := laCheckFinite("svd", a); err != nil {
		return nil, nil, nil, err
	}
	q := approximateBasis(a, p, 0, rng.TorchDefaultSeed, true) // orth(A Omega), m x p
	for it := 0; ; it++ {
		// The Rayleigh-Ritz step and the residual cost about as much as two iterations: check
		// every topSingularCheck iterations only.
		if it%topSingularCheck == 0 || it == topSingularMaxIters {
			ub, s, vt, err := laSVD(laMul(q.T(), a)) // Rayleigh-Ritz on span(q)
			if err != nil {
				return nil, nil, nil, err
			}
			u := laMul(q, ub)
			// A^T u_i = s_i v_i holds by construction; the residual is in A v_i - s_i u_i.
			av := laMul(a, vt.Slice(0, k, 0, n).T())
			res := 0.0
			for j := range k {
				r := 0.0
				for i := range m {
					d := av.At(i, j) - s[j]*u.At(i, j)
					r += d * d
				}
				res = max(res, math.Sqrt(r))
			}
			if res <= topSingularTol*s[0] || it == topSingularMaxIters {
				return u, s, vt, nil
			}
		}
		q = laOrthoBasis(laMul(a, laOrthoBasis(laMul(a.T(), q))))
	}
}

// kronDimsMemo is kronDims remembered per (shape, ratio): its correctly rounded logarithms
// cost about a millisecond per shape, and every LoKr key asks for them several times (twice
// when compiling, twice per factor when running) on a few dozen distinct shapes.
func kronDimsMemo(shape []int, ratio float64) (m1, m2, n1, n2 int) {
	key := fmt.Sprint(shape, ratio)
	if v, ok := kronDimsSeen.Load(key); ok {
		d := v.([4]int)
		return d[0], d[1], d[2], d[3]
	}
	m1, m2, n1, n2 = kronDims(shape, ratio)
	kronDimsSeen.Store(key, [4]int{m1, m2, n1, n2})
	return m1, m2, n1, n2
}

var kronDimsSeen sync.Map // "[shape] ratio" -> [4]int

// extractLoKr returns w1 (m1 x n1) and w2 (m2 x n2 x kernel) of the nearest Kronecker
// product of d, row-major.
func extractLoKr(d *ops.Tensor, ratio float64) ([]float64, []float64, error) {
	m1, m2, n1, n2 := kronDimsMemo(d.Shape, ratio)
	p2 := ops.NumElements(d.Shape[2:])
	// d.reshape(m1, m2, n1, n2*p2).permute(0, 2, 1, 3).reshape(m1*n1, m2*n2*p2)
	rows, cols, q := m1*n1, m2*n2*p2, n2*p2
	r := mat.NewDense(rows, cols, nil)
	for i1 := range m1 {
		for i2 := range m2 {
			for j1 := range n1 {
				src := ((i1*m2+i2)*n1 + j1) * q
				copy(r.RawRowView(i1*n1 + j1)[i2*q:(i2+1)*q], d.Data[src:src+q])
			}
		}
	}
	u, s, vt, err := topSingular(r, 1)
	if err != nil {
		return nil, nil, err
	}
	svdFlip(u, vt, 1)
	s0 := math.Sqrt(s[0])
	w1, w2 := make([]float64, rows), make([]float64, cols)
	for i := range rows {
		w1[i] = u.At(i, 0) * s0
	}
	for j := range cols {
		w2[j] = s0 * vt.At(0, j)
	}
	return w1, w2, nil
}

// extractKernel computes the factor c.Key names.
func extractKernel(name, algo string, c *ops.Call) error {
	if len(c.Args) == 0 || c.Args[0].Kind != ops.KindTensorList || len(c.Args[0].Ts) != 1 {
		return fmt.Errorf("%s: want the delta of one base key", name)
	}
	d := c.Args[0].Ts[0]
	a, err := readExtractArgs(name, algo, c.Args)
	if err != nil {
		return err
	}
	part, err := extractPartOf(c.Key)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	shape, err := extractShape(part, d.Shape, a)
	if err != nil {
		return fmt.Errorf("%s: key %s: %v", name, c.Key, err)
	}
	if n := ops.NumElements(shape); n != len(c.Out.Data) {
		return fmt.Errorf("%s: key %s: factor has %d elements, the output %d", name, c.Key, n, len(c.Out.Data))
	}
	c.Out.DType = d.DType
	switch part {
	case partAlpha:
		rows, cols := svdMatrix2D(d.Shape, false)
		c.Out.Data[0] = float64(min(a.rank, rows, cols))
		return nil
	}
	f, err := extractFactors(algo, d, a)
	if err != nil {
		return fmt.Errorf("%s: key %s: %v", name, c.Key, err)
	}
	i := 0
	if part == partDown || part == partW2 {
		i = 1
	}
	copy(c.Out.Data, f[i])
	return nil
}

// extractDef defines extract_<flavour>_<algo> (base "": the interface, dispatched on the
// input's config) or extract_<algo>_'<base>_<flavour>_lora'.
func extractDef(name, algo string, f loraFlavour, base string) *ops.Def {
	params := []ops.Param{
		{Name: "base", Type: ops.TensorIn, Spaces: ops.DeltaSpace},
		floatDefault("kronecker_ratio", 0.5),
	}
	traits := ops.LinearAlgebra
	formula := "lokr_w1 (m1 x n1), lokr_w2 (m2 x n2 x kernel) = sqrt(s0) u0, sqrt(s0) v0 of the SVD of base rearranged (Van Loan-Pitsianis; kron_dims(shape, kronecker_ratio))"
	doc := "Extracts a LoKr (LyCORIS Kronecker) file from a delta: per base key of rank >= 2, the nearest " +
		"Kronecker product w1 (x) w2 (truncate_kronecker's rearrangement and its top singular pair, to a " +
		"residual of 1e-12 s0), written as " +
		"lokr_w1 (m1, n1) and lokr_w2 (m2, n2, *kernel), no alpha; kronecker_ratio sizes the factors " +
		"as in truncate_kronecker. sd-mecha 1.1.5 crashes building this method's key map."
	if algo == "lora" {
		params = []ops.Param{
			{Name: "base", Type: ops.TensorIn, Spaces: ops.DeltaSpace},
			intDefault("rank", 8),
			boolDefault("use_approximate_basis", true),
			intDefault("approximate_basis_iters", 2),
			approxSeedParamNull,
		}
		params[1].Check = func(v ops.Value) error {
			if r, ok := v.Int64(); ok && r < 1 {
				return fmt.Errorf("rank must be at least 1, not %d", r)
			}
			return nil
		}
		traits |= ops.Random
		formula = "k = min(rank, out, rest); U S Vh = SVD(base as out x rest); lora_up = U_k sqrt(S_k) (out, k, 1..), lora_down = sqrt(S_k) Vh_k (k, *shape[1:]), alpha = k"
		doc = "Extracts a LoRA file from a delta (e.g. a fine-tune minus its base): per base key of rank >= 2 " +
			"viewed as (out, rest), the rank-k truncated SVD (k = rank clamped to min(out, rest)), the singular " +
			"values split as sqrt on both sides, signs fixed so the largest-magnitude entry of each U column is " +
			"positive: lora_up (out, k) or (out, k, 1, 1), lora_down (k, in) or (k, in, kh, kw), alpha = k, so " +
			"up @ down * alpha / k is truncate_rank's result. With use_approximate_basis (default) the SVD is " +
			"truncate_rank's randomized one (a null seed is torch's default seed: deterministic); without it the " +
			"top k pairs by subspace iteration to a residual of 1e-12 s0. " +
			"sd-mecha 1.1.5 writes no tensor for this method."
	}
	d := &ops.Def{
		Name:    name,
		Params:  params,
		Returns: ops.WeightSpace,
		Traits:  traits,
		Keys:    ops.KeysMapped,
		Formula: formula,
		Doc:     doc,
	}
	keys := func() map[string]string { return extractKeys(algo, f.prefix, base) }
	if base == "" {
		d.Doc += fmt.Sprintf(" Dispatches on the delta's config (sdxl-kohya, sdxl-kohya_but_diffusers or sd1-kohya) "+
			"to extract_%s_'<config>_%s_lora'.", algo, f.id)
	}
	d.OutConfig = func(in []string) (string, error) {
		if len(in) != 1 || in[0] == "" {
			if base == "" {
				return "", fmt.Errorf("the delta's model config is unknown; %s needs one of %s", name, strings.Join(loraBases, ", "))
			}
			return base + "_" + f.id + "_lora", nil
		}
		if base != "" && in[0] != base {
			return "", fmt.Errorf("its input must be a %s delta, not %s", base, in[0])
		}
		for _, b := range loraBases {
			if in[0] == b {
				return b + "_" + f.id + "_lora", nil
			}
		}
		return "", fmt.Errorf("no implementation for model config %s (sd-mecha has one for %s; convert the models first, "+
			"e.g. convert_'sdxl-sgm'_to_'sdxl-kohya')", in[0], strings.Join(loraBases, ", "))
	}
	d.MapKeys = func(out string) ([][]string, bool) {
		b, ok := keys()[out]
		if !ok {
			return nil, false
		}
		return [][]string{{b}}, true
	}
	d.OutShapeKey = func(key string, _ int, args, _, _ []ops.Value) ([]int, error) {
		if len(args) == 0 || len(args[0].Ts) != 1 {
			return nil, fmt.Errorf("want the delta of one base key")
		}
		a, err := readExtractArgs(name, algo, args)
		if err != nil {
			return nil, fmt.Errorf("%v (the hyper-parameters must be constants)", err)
		}
		part, err := extractPartOf(key)
		if err != nil {
			return nil, err
		}
		return extractShape(part, args[0].Ts[0].Shape, a)
	}
	d.Kernel = func(c *ops.Call) error { return extractKernel(name, algo, c) }
	d.ScratchIn = func(out []int, in [][]int, hp map[string]float64) int64 {
		if len(out) == 0 {
			return 0 // alpha: the rank, no factorization
		}
		return extractScratch(algo, in, hp)
	}
	return define(d)
}

// extractScratch is an extraction's scratch (ops.Def.ScratchIn) on a delta of shape in[0]
// (n elements, viewed as m x c, s and l its smaller and larger side), per call: a LoRA's
// randomized SVD at rank k = min(rank, m, c) as truncate_rank's (svdTruncScratch), its exact
// top-k pairs as topSingularScratch; a LoKr's rearranged matrix, whose top pair topSingular
// finds, as topSingularScratch at k = 1. (Of the two calls on one delta, up and down or w1
// and w2, only the first factorizes, extractFactors; each is counted, as either can be
// first; an alpha key takes none.) Measured live-heap peaks (GOGC=5) over 1280², 640x2560,
// 2560x640, 320x320x3x3 and 1280x80 at ranks 8 and 64: randomized 1.0n-2.2n against bounds of
// 2.0n-3.7n, exact 1.4n-4.5n against 2.1n-5.3n, LoKr 1.1n-1.4n against 2.1n; on the two
// smallest keys (under 8 MiB) the exact path at rank 8 (2.5n-2.8n against 2.3n) and LoKr (3.8n
// against 2.3n) also hold up to 3 MiB of the iteration's small blocks, dropped but not yet
// collected (the same at GOGC=1), which the runtime overhead covers.
func extractScratch(algo string, in [][]int, hp map[string]float64) int64 {
	if len(in) != 1 || len(in[0]) < 2 {
		return 0
	}
	shape := in[0]
	if algo == "lokr" {
		ratio := 0.5
		if x, ok := hp["kronecker_ratio"]; ok {
			ratio = x
		}
		m1, m2, n1, n2 := kronDimsMemo(shape, ratio)
		return topSingularScratch(m1*n1, m2*n2*ops.NumElements(shape[2:]), 1)
	}
	m, c := svdMatrix2D(shape, false)
	k := min(8, m, c)
	if x, ok := hp["rank"]; ok && x >= 1 {
		k = min(int(x), m, c)
	}
	if approx, ok := hp["use_approximate_basis"]; ok && approx == 0 {
		return topSingularScratch(m, c, k)
	}
	return svdTruncScratch(m, c, hp, float64(k))
}

// topSingularScratch bounds topSingular's scratch for the top k pairs of an m x c matrix of n
// elements, with the matrix's copy: where it takes the full SVD (the smaller side s at most
// topSingularSmall, or its block size p = min(s, 2k + 8) at least s/2), 8·(5n + 5s²) bytes,
// else 8·(2n + 4(m + c)p) for the iteration's blocks and products.
func topSingularScratch(m, c, k int) int64 {
	n, s := m*c, min(m, c)
	p, full := topSingularBlock(m, c, k)
	if full {
		return int64(8 * (5*n + 5*s*s))
	}
	return int64(8 * (2*n + 4*(m+c)*p))
}

// extractDefs: the four interfaces, then the twelve implementations.
var extractDefs = func() []*ops.Def {
	var out []*ops.Def
	for _, f := range loraFlavours {
		out = append(out, extractDef("extract_"+f.id+"_lora", "lora", f, ""))
		out = append(out, extractDef("extract_"+f.id+"_lokr", "lokr", f, ""))
	}
	for _, f := range loraFlavours {
		for _, b := range loraBases {
			cfg := "'" + b + "_" + f.id + "_lora'"
			out = append(out, extractDef("extract_lora_"+cfg, "lora", f, b))
			out = append(out, extractDef("extract_lokr_"+cfg, "lokr", f, b))
		}
	}
	return out
}()

// The two factors of a key (up and down, w1 and w2) are two output keys, so two kernel calls
// on the same delta; extractFactors computes the factorization once for both. An entry is
// keyed by the method's arguments, the delta's shape and a 64-bit hash of its bits, is
// computed by the first call (a concurrent second call waits for it) and dropped once two
// calls have taken their factor; it holds only the factors (kilobytes for a LoRA). A hash
// collision would need two different deltas of one shape extracted with the same arguments in
// one run, and 64 equal hash bits.
type extractCacheKey struct {
	algo  string
	args  extractArgs
	shape string
	hash  uint64
}

type extractEntry struct {
	done    chan struct{}
	factors [2][]float64
	err     error
	left    int
}

var extractCache = struct {
	sync.Mutex
	m map[extractCacheKey]*extractEntry
}{m: map[extractCacheKey]*extractEntry{}}

// extractFactors returns both factors of d: [up, down] or [w1, w2].
func extractFactors(algo string, d *ops.Tensor, a extractArgs) ([2][]float64, error) {
	if algo == "lokr" {
		a = extractArgs{ratio: a.ratio}
	} else {
		a.ratio = 0
	}
	key := extractCacheKey{algo: algo, args: a, shape: ops.FormatShape(d.Shape), hash: hashFloats(d.Data)}
	extractCache.Lock()
	e, found := extractCache.m[key]
	if !found {
		e = &extractEntry{done: make(chan struct{}), left: 2}
		extractCache.m[key] = e
	}
	extractCache.Unlock()
	if found {
		<-e.done
	} else {
		if algo == "lokr" {
			e.factors[0], e.factors[1], e.err = extractLoKr(d, a.ratio)
		} else {
			e.factors[0], e.factors[1], e.err = extractLoRA(d, a)
		}
		close(e.done)
	}
	extractCache.Lock()
	if e.left--; e.left == 0 && extractCache.m[key] == e {
		delete(extractCache.m, key)
	}
	extractCache.Unlock()
	return e.factors, e.err
}

// hashFloats hashes the float64 bit patterns with xxHash64's round and avalanche (one lane:
// every bit of every word reaches every bit of the state).
func hashFloats(xs []float64) uint64 {
	const p1, p2, p3 = 11400714785074694791, 14029467366897019727, 1609587929392839161
	h := uint64(len(xs)) * p3
	for _, x := range xs {
		h += math.Float64bits(x) * p2
		h = bits.RotateLeft64(h, 31) * p1
	}
	h ^= h >> 33
	h *= p2
	h ^= h >> 29
	h *= p3
	return h ^ h>>32
}
