package stdlib

import (
	"errors"
	"fmt"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/rng"
)

// The staged form of dropout (SPEC §5.4): no statistics at all. The whole kernel draws delta
// i's mask from one numpy generator as draws i·n .. i·n+n-1 (a Binomial(1, 1-probability) per
// element, deltas in order), and each draw is one PCG64 output whenever the inversion sampler
// cannot restart for that probability (rng.BinomialOneDraw; about 2% of probabilities can, on
// the largest uniforms: those keys run whole). So the mask of element e of delta i is the draw
// at i·n + e: an output chunk positions a copy of the key's generator there with PCG64's
// jump-ahead (rng.NumPy.Advance, O(log n)) and computes its elements from the chunks alone.
// The key then holds chunks, never its deltas whole.

func init() {
	dropoutDef.Stage = &ops.StageDef{
		New: newDropoutStager,
		// The sums and counts of one chunk.
		Scratch: func(r, n int) int64 { return 16*int64(min(n, 1<<20)) + tiesSmallScratch(r) },
		Passes:  func(r, n int) int { return 0 },
		Cost:    12, // a PCG64 output and a compare per element of every delta (calibrated on the scale-4 set)
	}
}

// dropoutStager is dropout's Stager for one key.
type dropoutStager struct {
	a      dropoutHypers
	r, n   int
	g      *rng.NumPy // the key's generator, never drawn from (copied per chunk and delta)
	draws  bool       // false: keepP = 0, no draws at all
	sm     dropoutSampler
	counts []float64
}

// newDropoutStager is StageDef.New: a call the whole kernel rejects, has no deltas for, or
// whose probability may restart numpy's sampler is not staged.
func newDropoutStager(c ops.StageCall) (ops.Stager, bool, error) {
	kw, _, err := complete(dropoutDef, dropoutDef.KwOnly, c.Kw, c.Numerics)
	if err != nil {
		return nil, false, nil
	}
	a, err := dropoutParams(kw)
	r, n := c.Tensors, ops.NumElements(c.Shape)
	if err != nil || r == 0 || n == 0 || a.check() != nil {
		return nil, false, nil
	}
	one, draws := rng.BinomialOneDraw(a.keepP)
	if !one {
		return nil, false, nil
	}
	return &dropoutStager{a: a, r: r, n: n, g: rng.NewNumPy(uint64(a.seed)), draws: draws, sm: newDropoutSampler(a.keepP)}, true, nil
}

// Passes is none: the output chunks need only their own elements and their offset.
func (s *dropoutStager) Passes() int { return 0 }

var errDropoutPass = errors.New("dropout: the staged form has no statistics passes")

func (s *dropoutStager) Observe(int, int, [][]float64) error { return errDropoutPass }
func (s *dropoutStager) EndPass(int) error                   { return errDropoutPass }

// Chunk writes the output chunk at lo: the whole kernel's sums and counts over the chunk, the
// masks drawn from the generator advanced to each delta's draws for these elements.
func (s *dropoutStager) Chunk(lo int, args [][]float64, out []float64) error {
	w := len(out)
	if len(args) != s.r || lo < 0 || lo+w > s.n {
		return fmt.Errorf("dropout: chunk [%d, %d) of %d chunks for %d deltas of %d elements", lo, lo+w, len(args), s.r, s.n)
	}
	if cap(s.counts) < w {
		s.counts = make([]float64, w)
	}
	counts := s.counts[:w]
	clear(counts)
	clear(out)
	for i, d := range args {
		if len(d) != w {
			return fmt.Errorf("dropout: chunks of unequal lengths: %w", ops.ErrUnstaged)
		}
		g := *s.g
		if s.draws {
			g.Advance(uint64(i)*uint64(s.n) + uint64(lo))
		}
		if err := s.sm.add(&g, d, out, counts); err != nil {
			return err
		}
	}
	s.a.finish(out, counts)
	return nil
}
