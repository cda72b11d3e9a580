package stdlib

import (
	"errors"
	"fmt"
	"math"

	"github.com/mechac/mechac/ops"
)

// The staged form of geometric_median (SPEC §5.4): Weiszfeld's iteration over chunks. Each
// step's median is, per element, the weighted mean of the models with that step's R weights,
// so a chunk's median is made from the chunk's models and the weights alone; what the step
// needs of the whole tensor is each model's distance to it, a sequential fma chain per model
// (DistTorch), which DistChains carries from chunk to chunk. So a statistics pass per step
// holds R running sums of squares, not the median, and the output pass makes the last step's
// median again: the same operations in the same order per element and per chain as the whole
// kernel (geometricMedianRows), hence its bits (median_staged_test.go).

// medianWholeMin is the whole kernel's memory (8 R n bytes: the models as float64 registers)
// from which a key runs staged (StageDef.Accepts). Staged, a key reads its inputs once per
// Weiszfeld step, as the whole kernel reads its registers, but decodes them every time, so it
// pays where whole tensors would not fit. A variable for the tests.
var medianWholeMin int64 = 1 << 30

func init() {
	geometricMedianDef.Stage = &ops.StageDef{
		New:     newMedianStager,
		Accepts: acceptsWhole(8, &medianWholeMin),
		Scratch: func(r, n int) int64 { return 8*int64(min(n, 1<<20)) + 40*int64(r) + 512 },
		// A pass per step: the mean's, then (for the estimate) ten steps, the whole kernel's
		// Def.Passes count.
		Passes: func(r, n int) int { return 11 },
		Cost:   1,
	}
}

// medianStager is geometric_median's Stager for one key: pass 0 takes the mean's distances,
// pass k its k-th step's (with the weights from pass k-1's distances); the output is the last
// step's median (the mean with maxiter <= 0).
type medianStager struct {
	r, n int
	pos  int

	w      []float64 // the weights of the pass being run (nil: pass 0, the mean)
	den    float64   // their sum, Python's (sequential from 0)
	z      weiszfeld // the distance chains and the stopping rule (z.stopped: the output uses w)
	passes int
	med    []float64
}

// weiszfeld is what a staged Weiszfeld iteration (geometric_median's Stager, DELLA's
// apply_median) keeps between its passes, each of which continues every point's distance chain
// to that pass's median in acc: the objective, the steps made, whether it stopped.
type weiszfeld struct {
	eps, ftol  float64
	maxiter    int64
	acc, dists []float64
	obj        float64
	steps      int64
	stopped    bool
}

func newWeiszfeld(r int, eps, ftol float64, maxiter int64) weiszfeld {
	return weiszfeld{eps: eps, ftol: ftol, maxiter: maxiter, acc: make([]float64, r), dists: make([]float64, r)}
}

// endPass ends pass `pass` (0: the start point's) with geometricMedianRowsWith's rule: the
// distances and their mean, the objective; a pass after the first is a step, and the iteration
// stops when the objective moved by at most ftol of itself or after maxiter steps. It returns
// the next step's weights 1/max(d, eps), or nil when stopped.
func (z *weiszfeld) endPass(pass int) []float64 {
	for i, a := range z.acc {
		z.dists[i] = math.Sqrt(a)
	}
	clear(z.acc)
	prev := z.obj
	z.obj = SumTorch(z.dists) / float64(len(z.dists))
	if pass > 0 {
		z.steps++
		if math.Abs(prev-z.obj) <= z.ftol*z.obj {
			z.stopped = true
		}
	}
	if z.steps >= z.maxiter {
		z.stopped = true
	}
	if z.stopped {
		return nil
	}
	w := make([]float64, len(z.dists))
	for i, d := range z.dists {
		w[i] = 1 / clampMin(d, z.eps)
	}
	return w
}

// acceptsWhole is a StageDef.Accepts taking the keys whose whole kernel would hold *min bytes
// or more, perElem bytes for each element of each tensor argument (min a variable the tests
// change).
func acceptsWhole(perElem int64, min *int64) func(c ops.StageCall) bool {
	return func(c ops.StageCall) bool {
		return perElem*int64(c.Tensors)*int64(ops.NumElements(c.Shape)) >= *min
	}
}

// newMedianStager is StageDef.New for geometric_median: a call the whole kernel rejects (bad
// keyword arguments, no models) is not staged, so its error stays the whole kernel's.
func newMedianStager(c ops.StageCall) (ops.Stager, bool, error) {
	kw, _, err := complete(geometricMedianDef, geometricMedianDef.KwOnly, c.Kw, c.Numerics)
	if err != nil || len(kw) != 3 || c.Tensors == 0 {
		return nil, false, nil
	}
	const name = "geometric_median"
	eps, err1 := tiesFloat(name, "eps", kw[0])
	maxiter, err2 := tiesInt(name, "maxiter", kw[1])
	ftol, err3 := tiesFloat(name, "ftol", kw[2])
	n := ops.NumElements(c.Shape)
	if err1 != nil || err2 != nil || err3 != nil || n == 0 {
		return nil, false, nil
	}
	return newMedianStagerFor(c.Tensors, n, eps, maxiter, ftol), true, nil
}

// newMedianStagerFor is the Stager of a geometric median of r points of n elements.
func newMedianStagerFor(r, n int, eps float64, maxiter int64, ftol float64) *medianStager {
	return &medianStager{r: r, n: n, passes: 1, z: newWeiszfeld(r, eps, ftol, maxiter)}
}

// Passes is the mean's pass and the steps planned so far (one more after each step that does
// not stop).
func (s *medianStager) Passes() int { return s.passes }

// errMedianBroadcast: a chunk shorter or longer than the others is a broadcast argument, which
// the whole kernel expands; the staged form does not.
var errMedianBroadcast = fmt.Errorf("geometric_median: chunks of unequal lengths: %w", ops.ErrUnstaged)

// check validates one call's chunks and moves past them.
func (s *medianStager) check(lo int, args [][]float64, want int) error {
	return checkChunks("geometric_median", s.r, s.n, &s.pos, lo, args, want, errMedianBroadcast)
}

// checkChunks validates a staged call's chunks at lo, each of length want (a chunk of another
// length is a broadcast argument: broadcast, which sends the key whole), r of them, at the
// expected offset *pos of n, and moves *pos past them.
func checkChunks(name string, r, n int, pos *int, lo int, args [][]float64, want int, broadcast error) error {
	if len(args) != r {
		return fmt.Errorf("%s: %d chunks for %d tensors", name, len(args), r)
	}
	for _, a := range args {
		if len(a) != want {
			return broadcast
		}
	}
	if lo != *pos || lo+want > n {
		return fmt.Errorf("%s: chunk [%d, %d) out of order (expected offset %d of %d)", name, lo, lo+want, *pos, n)
	}
	*pos += want
	return nil
}

// median writes the chunk's median for the pass's weights to dst: the mean (Python's sum from
// 0, over R) without weights, else the weighted sum (weightedSumsBlocked's order) over den.
func (s *medianStager) median(args [][]float64, dst []float64) {
	if s.w == nil {
		for j := range dst {
			v := 0.0
			for _, a := range args {
				v += a[j]
			}
			dst[j] = v / float64(s.r)
		}
		return
	}
	weightedSumsBlocked(args, s.w, dst)
	for j := range dst {
		dst[j] /= s.den
	}
}

// Observe continues every model's distance chain to the pass's median over the chunk.
func (s *medianStager) Observe(pass, lo int, args [][]float64) error {
	if pass != s.passes-1 || s.z.stopped {
		return fmt.Errorf("geometric_median: statistics pass %d of %d", pass, s.passes)
	}
	w := 0
	if len(args) > 0 {
		w = len(args[0])
	}
	if err := s.check(lo, args, w); err != nil {
		return err
	}
	if cap(s.med) < w {
		s.med = make([]float64, w)
	}
	med := s.med[:w]
	s.median(args, med)
	DistChains(func(i int) []float64 { return args[i] }, med, s.z.acc)
	return nil
}

// EndPass ends a step: the objective, the stopping rule (geometricMedianRowsWith's), and the
// next step's weights unless it stops.
func (s *medianStager) EndPass(pass int) error {
	if s.pos != s.n {
		return fmt.Errorf("geometric_median: pass %d saw %d of %d elements", pass, s.pos, s.n)
	}
	if pass != s.passes-1 || s.z.stopped {
		return fmt.Errorf("geometric_median: end of statistics pass %d of %d", pass, s.passes)
	}
	s.pos = 0
	w := s.z.endPass(pass)
	if w == nil {
		if s.w == nil { // maxiter <= 0: the weighted mean with weights one, the mean's bits
			s.w = make([]float64, s.r)
			fill(s.w, 1)
			s.den = float64(s.r)
		}
		return nil
	}
	den := 0.0
	for _, x := range w {
		den += x
	}
	s.w, s.den = w, den
	s.passes++
	return nil
}

var errMedianEarly = errors.New("geometric_median: output chunk before the statistics passes")

// Chunk writes the output chunk: the last step's median.
func (s *medianStager) Chunk(lo int, args [][]float64, out []float64) error {
	if !s.z.stopped {
		return errMedianEarly
	}
	if err := s.check(lo, args, len(out)); err != nil {
		return err
	}
	s.median(args, out)
	return nil
}
