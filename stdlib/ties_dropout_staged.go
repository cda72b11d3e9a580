package stdlib

import (
	"math"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/rng"
)

// The staged form of the fork's float32-mask ties_sum_with_dropout: fork-0.0.12 (the DARE +
// TIES of the 102-model x101a recipe), fork-0.0.13 and fork-0.0.x (SPEC §5.4). Whole-tensor, a
// key holds every delta and its masked copy: 103 GiB for the SDXL token embedding of x101a.
// The masks are one generator's float32 bernoulli draws, delta after delta, element after
// element; the rest is the era's TIES core. Staged, each delta gets its own copy of the
// generator, advanced (rng.Torch.Skip) to the delta's first draw, so a chunk's masks come from
// each delta's copy in turn; the masked chunks go to the core's Stager (newCore00xStager:
// ties_sum's, or with a median or the stock factor theirs), and the output is divided by
// 1 - p as the whole kernel does. Same bits (ties_dropout_staged_test.go).

// bernoulli32StageDef is the StageDef of the float32-mask ties_sum_with_dropout d (kind
// dropoutFork012 or dropoutFork013).
func bernoulli32StageDef(d *ops.Def, kind dropout00xKind) *ops.StageDef {
	sd := &ops.StageDef{
		New:     func(c ops.StageCall) (ops.Stager, bool, error) { return newBernoulli32Stager(d, kind, c) },
		Scratch: dropout012Scratch,
		Passes:  tiesStagePasses,
		Idle:    tiesKeyIdle,
		Cost:    tiesStagedCost + 16, // the masks, drawn again in every pass (calibrated on x101a, d16)
	}
	if kind == dropoutFork012 {
		return sd
	}
	// With a median or the stock factor the core reads its inputs again per step or for the
	// factor: like the 0.0.x ties_sum, only for keys whose whole kernel would hold a GiB.
	large := acceptsWhole(16, &dellaWholeMin)
	sd.Accepts = func(c ops.StageCall) bool {
		_, _, o, ok := stageKw00x(d, c, false)
		return !ok || !o.median && !o.stock || large(c)
	}
	// Scratch cannot see the keywords, but below the GiB only the plain core stages.
	sd.Scratch = func(r, n int) int64 {
		if !large(ops.StageCall{Tensors: r, Shape: []int{n}}) {
			return dropout012Scratch(r, n)
		}
		core := max(tiesStageScratch(r, n), dellaCoreScratch(r, n), tiesSumExtended.Stage.Scratch(r, n))
		return dropout012Scratch(r, n) - tiesStageScratch(r, n) + core
	}
	return sd
}

// dropout012Chunk is the chunk length the mask buffers are declared for (the VM's default,
// which stdlib cannot import; a longer --chunk-elems makes them longer).
const dropout012Chunk = 1 << 16

// dropout012Scratch is StageDef.Scratch: the ties_sum Stager's, one chunk of masked deltas,
// and two generator states per delta.
func dropout012Scratch(r, n int) int64 {
	return tiesStageScratch(r, n) + 8*int64(r)*int64(min(n, dropout012Chunk)) + 2*int64(r)*5120
}

// stageKw00x reads a staged call's keyword arguments as the 0.0.x kernels do (defaults
// applied, the TIES options of the era; maxiter rounded where the era rounds it); ok is false
// where the kernel would reject them, and then the call is not staged.
func stageKw00x(d *ops.Def, c ops.StageCall, roundMaxiter bool) (kw []ops.Value, h map[string]float64, o tiesEraOpts, ok bool) {
	kw, _, err := complete(d, d.KwOnly, c.Kw, c.Numerics)
	if err != nil {
		return nil, nil, o, false
	}
	if h, err = kwFloats(d, kw); err != nil {
		return nil, nil, o, false
	}
	if o, err = opts00x(d.FullName(), h, roundMaxiter); err != nil {
		return nil, nil, o, false
	}
	return kw, h, o, true
}

// dropout012Stager is the Stager of one key.
type dropout012Stager struct {
	inner   ops.Stager  // the era's TIES core
	keep    float64     // float32(1 - p): the bernoulli probability
	div     float64     // 1 - p
	rescale bool        // divide by div (fork-0.0.13: unless no_rescale > 0)
	start   []rng.Torch // each delta's generator at its first draw
	gens    []rng.Torch // the generators of the pass being run
	masked  [][]float64 // one chunk of masked deltas
}

// newBernoulli32Stager is StageDef.New. A call the whole kernel rejects or treats specially
// (bad arguments, no seed, p = 1, no deltas or elements) is not staged: the whole kernel
// gives its error or bytes.
func newBernoulli32Stager(d *ops.Def, kind dropout00xKind, c ops.StageCall) (ops.Stager, bool, error) {
	name := d.FullName()
	kw, h, o, ok := stageKw00x(d, c, false)
	if !ok || kind == dropoutFork012 && (o.stock || o.median) {
		return nil, false, nil
	}
	seed, hasSeed, err := eraSeed(name, kw[kwIndex(d, "seed")])
	if err != nil || !hasSeed {
		return nil, false, nil
	}
	p := h["probability"]
	keep := float64(float32(1 - p))
	if p == 1 || bernoulliCheck(name, keep) != nil || math.IsNaN(p) {
		return nil, false, nil
	}
	r, n := c.Tensors, ops.NumElements(c.Shape)
	inner, ok := newCore00xStager(name, c, o)
	if !ok {
		return nil, false, nil
	}
	s := &dropout012Stager{inner: inner, keep: keep, div: 1 - p, rescale: kind == dropoutFork012 || h["no_rescale"] <= 0,
		start: make([]rng.Torch, r), gens: make([]rng.Torch, r), masked: make([][]float64, r)}
	g := rng.NewTorch(uint64(int64(seed))) // torch.manual_seed(int(seed)) at every key call
	for i := range s.start {
		s.start[i] = *g
		g.Skip(uint64(n)) // a float32 draw takes one 32-bit output
	}
	copy(s.gens, s.start)
	return s, true, nil
}

// Passes is the ties_sum Stager's.
func (s *dropout012Stager) Passes() int { return s.inner.Passes() }

// mask returns the chunk's masked deltas: each delta's next len(args[i]) draws.
func (s *dropout012Stager) mask(args [][]float64) [][]float64 {
	keep := s.keep
	for i, a := range args {
		if cap(s.masked[i]) < len(a) {
			s.masked[i] = make([]float64, len(a))
		}
		m := s.masked[i][:len(a)]
		// The uniforms go to m first (bulk draws), then become the masked values.
		s.gens[i].Float32s(m)
		vecMaskMulScalar(m, a, m, keep) // bernoulli(keep): 1 or +0, times the delta
		s.masked[i] = m
	}
	return s.masked[:len(args)]
}

// Observe masks the chunk and hands it to the ties_sum Stager.
func (s *dropout012Stager) Observe(pass, lo int, args [][]float64) error {
	if len(args) != len(s.gens) {
		return s.inner.Observe(pass, lo, args) // its error
	}
	return s.inner.Observe(pass, lo, s.mask(args))
}

// EndPass ends the ties_sum Stager's pass and rewinds the generators for the next one.
func (s *dropout012Stager) EndPass(pass int) error {
	copy(s.gens, s.start)
	return s.inner.EndPass(pass)
}

// Chunk masks the chunk, runs the core's output, and divides by 1 - p (unless no_rescale).
func (s *dropout012Stager) Chunk(lo int, args [][]float64, out []float64) error {
	if len(args) != len(s.gens) {
		return s.inner.Chunk(lo, args, out) // its error
	}
	if err := s.inner.Chunk(lo, s.mask(args), out); err != nil {
		return err
	}
	for j := range out {
		if s.rescale {
			out[j] /= s.div
		}
	}
	return nil
}
