package stdlib

import (
	"errors"
	"fmt"

	"github.com/mechac/mechac/ops"
)

// The staged form of model_stock (SPEC §5.4). Its factor t is per row of the last dimension:
// the mean cosine similarity of consecutive deltas over that row alone, summed over the R-1
// pairs in SumDim0Torch's order for the [R-1, rows] matrix of similarities, where a column's
// sum depends only on its values and on whether it lies in a full 16-column block (the fact
// SumDim0TorchChunked rests on). So one statistics pass takes the rows in order, a row cut by
// a chunk's edge carried to the next chunk, makes each row's R-1 similarities, and sums them
// 16 rows at a time (or one at a time past the last full block); the output pass is the mean
// times its row's factor. The Stager holds the factors (8 bytes a row), one carried row of
// every delta and a block of similarities, instead of R float64 deltas: the whole kernel's
// bits (stock_staged_test.go).

// stockWholeMin is the whole kernel's memory (8 R n bytes: the deltas as float64 registers)
// from which a key runs staged (StageDef.Accepts): staged, a key reads its inputs twice. A
// variable for the tests.
var stockWholeMin int64 = 1 << 30

func init() {
	modelStock.Stage = &ops.StageDef{
		New:     newStockStager,
		Accepts: acceptsWhole(8, &stockWholeMin),
		Scratch: stockStagedScratch,
		Cost:    1,
	}
}

// stockStagedScratch is the Stager's: the factors, one row of every delta carried, R-1
// similarities per row of a 16-row block, and the cosine's scratch (a row of cols up to n).
func stockStagedScratch(r, n int) int64 {
	return 8*int64(n) + 8*int64(r)*int64(n) + 8*16*int64(r) + 16*int64(n) + 512
}

// stockStager is model_stock's Stager for one key.
type stockStager struct {
	r, n, rows, cols int
	eps              float64
	pos              int
	ended            bool

	t        []float64   // per row: the sum of its similarities, then (EndPass) its factor
	carry    [][]float64 // per delta: the first elements of a row a chunk's edge cut
	carried  int
	blockEnd int       // rows below it are summed 16 at a time (multiRowSum)
	block    []float64 // x 16 similarities of the current 16-row block
	sims     []float64 // one row's R-1 similarities
	scratch  []float64
}

// newStockStager is StageDef.New for model_stock: a call the whole kernel rejects (fewer than 2
// deltas, a bad cos_eps) or treats specially (no elements) is not staged.
func newStockStager(c ops.StageCall) (ops.Stager, bool, error) {
	kw, _, err := complete(modelStock, modelStock.KwOnly, c.Kw, c.Numerics)
	if err != nil || len(kw) != 1 || c.Tensors < 2 {
		return nil, false, nil
	}
	eps, err := tiesFloat("model_stock", "cos_eps", kw[0])
	n := ops.NumElements(c.Shape)
	if err != nil || n == 0 {
		return nil, false, nil
	}
	return newStockStagerFor(c.Tensors, n, c.Shape, eps), true, nil
}

// newStockStagerFor is the Stager of the model-stock factor of r >= 2 deltas of n > 0
// elements of shape.
func newStockStagerFor(r, n int, shape []int, eps float64) *stockStager {
	rows, cols := tiesLastDim(shape, n)
	s := &stockStager{r: r, n: n, rows: rows, cols: cols, eps: eps, t: make([]float64, rows),
		carry: make([][]float64, r), sims: make([]float64, r-1),
		block: make([]float64, 16*(r-1)), scratch: make([]float64, 2*cols)}
	if rows >= 4 {
		s.blockEnd = rows - rows%16
	}
	return s
}

// Passes: the similarities' pass.
func (s *stockStager) Passes() int { return 1 }

var errStockBroadcast = fmt.Errorf("model_stock: chunks of unequal lengths: %w", ops.ErrUnstaged)

// check validates one call's chunks and moves past them.
func (s *stockStager) check(lo int, args [][]float64, want int) error {
	return checkChunks("model_stock", s.r, s.n, &s.pos, lo, args, want, errStockBroadcast)
}

// Observe measures the rows the chunk completes.
func (s *stockStager) Observe(pass, lo int, args [][]float64) error {
	if pass != 0 || s.ended {
		return fmt.Errorf("model_stock: statistics pass %d", pass)
	}
	w := 0
	if len(args) > 0 {
		w = len(args[0])
	}
	if err := s.check(lo, args, w); err != nil {
		return err
	}
	j := 0
	if s.carried > 0 { // finish the row the last chunk cut
		take := min(s.cols-s.carried, w)
		for i, a := range args {
			s.carry[i] = append(s.carry[i][:s.carried], a[:take]...)
		}
		s.carried += take
		j = take
		if s.carried < s.cols {
			return nil
		}
		s.measure((lo+j)/s.cols-1, func(i int) []float64 { return s.carry[i] })
		s.carried = 0
	}
	for ; j+s.cols <= w; j += s.cols {
		s.measure((lo+j)/s.cols, func(i int) []float64 { return args[i][j : j+s.cols] })
	}
	if j < w { // a row the chunk's edge cuts: carried
		for i, a := range args {
			if cap(s.carry[i]) < s.cols {
				s.carry[i] = make([]float64, 0, s.cols)
			}
			s.carry[i] = append(s.carry[i][:0], a[j:]...)
		}
		s.carried = w - j
	}
	return nil
}

// measure takes row k's R-1 similarities (its elements of delta i are row(i)) and, once its
// 16-row block is complete (or at once past the last full block), their sums.
func (s *stockStager) measure(k int, row func(i int) []float64) {
	for i := 0; i+1 < s.r; i++ {
		CosineSimilarityLastDimTorch(row(i), row(i+1), 1, s.cols, s.eps, s.sims[i:i+1], s.scratch)
	}
	switch {
	case s.rows == 1:
		s.t[0] = SumTorch(s.sims) // SumDim0Torch of one column: a contiguous sum
	case k < s.blockEnd:
		for i, v := range s.sims {
			s.block[i*16+k%16] = v
		}
		if k%16 == 15 {
			multiRowSum(s.block, 0, 16, 1, 16, s.r-1, s.t[k-15:k+1])
		}
	default:
		s.t[k] = rowSum(s.sims, 0, 1, s.r-1)
	}
}

// EndPass turns each row's sum into its factor, modelStockT's.
func (s *stockStager) EndPass(pass int) error {
	if pass != 0 || s.pos != s.n || s.carried != 0 {
		return fmt.Errorf("model_stock: pass %d ended at %d of %d elements", pass, s.pos, s.n)
	}
	s.pos, s.ended, s.carry, s.block = 0, true, nil, nil
	fr, fr1 := float64(s.r), float64(s.r-1)
	for k, sum := range s.t {
		c := sum / fr1
		s.t[k] = (fr * c) / (1 + fr1*c)
	}
	return nil
}

var errStockEarly = errors.New("model_stock: output chunk before the statistics pass")

// Chunk writes the mean of the deltas times the row's factor, through nan_to_num.
func (s *stockStager) Chunk(lo int, args [][]float64, out []float64) error {
	if !s.ended {
		return errStockEarly
	}
	if err := s.check(lo, args, len(out)); err != nil {
		return err
	}
	for j := range out {
		v := 0.0
		for _, a := range args {
			v += a[j]
		}
		out[j] = tiesNanToNum(s.t[(lo+j)/s.cols] * (v / float64(s.r)))
	}
	return nil
}
