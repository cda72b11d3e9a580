package stdlib

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/rng"
)

// TestDropoutStagedMatchesWhole: the staged dropout gives the whole kernel's bits over
// chunkings (one element, ragged, whole), for keep probabilities with one draw per element, 1
// (probability 0) and 0 (probability 1: no draws), rescales, seeds, NaN and infinities among
// the deltas, and shapes from one element up.
func TestDropoutStagedMatchesWhole(t *testing.T) {
	rng2 := rand.New(rand.NewPCG(41, 42))
	for trial, c := range []struct {
		prob, resc float64
		seed       ops.Value
		r          int
		shape      []int
	}{
		{0.9, 1, ops.Int(7), 4, []int{33, 5}},
		{0.25, 0.5, ops.Int(0), 3, []int{1000}},
		{0, 1, ops.Int(1), 2, []int{17}},
		{1, 1, ops.Int(2), 3, []int{9, 3}},
		{0.5, 2, ops.Null(), 5, []int{1}},
		{0.99, 1, ops.Int(123456789), 2, []int{257}},
	} {
		n := ops.NumElements(c.shape)
		ms := make([][]float64, c.r)
		for i := range ms {
			ms[i] = make([]float64, n)
			for j := range ms[i] {
				ms[i][j] = rng2.NormFloat64()
			}
		}
		ms[0][n/2] = math.NaN()
		ms[c.r-1][0] = math.Inf(1)
		kw := []ops.Value{ops.Float(c.prob), ops.Float(c.resc), ops.Float(1), ops.Float(0), c.seed}
		t.Run(fmt.Sprint(trial, c.prob, c.shape), func(t *testing.T) {
			if _, ok, err := dropoutDef.Stage.New(ops.StageCall{Kw: kw, Tensors: c.r, Shape: c.shape, Numerics: ops.Exact}); !ok || err != nil {
				t.Fatalf("not staged (err %v)", err)
			}
			want := wholeVarargs(t, dropoutDef, ms, c.shape, kw)
			checkChunkings(t, dropoutDef, ms, c.shape, kw, want, []int{n, 1, 1 + rng2.IntN(n), 7})
		})
	}
}

// TestDropoutStagedRefuses: calls the whole kernel rejects (overlap 2, a negative seed) and
// probabilities whose sampler may restart run whole.
func TestDropoutStagedRefuses(t *testing.T) {
	restart := -1.0
	for i := 1; i < 100000 && restart < 0; i++ {
		if one, _ := rng.BinomialOneDraw(1 - float64(i)/100000); !one {
			restart = float64(i) / 100000
		}
	}
	if restart < 0 {
		t.Fatal("no probability found whose sampler may restart")
	}
	for _, kw := range [][]ops.Value{
		{ops.Float(0.5), ops.Float(1), ops.Float(2), ops.Float(0), ops.Int(1)},
		{ops.Float(0.5), ops.Float(1), ops.Float(1), ops.Float(0), ops.Int(-3)},
		{ops.Float(restart), ops.Float(1), ops.Float(1), ops.Float(0), ops.Int(1)},
	} {
		if _, ok, _ := dropoutDef.Stage.New(ops.StageCall{Kw: kw, Tensors: 2, Shape: []int{10}, Numerics: ops.Exact}); ok {
			t.Errorf("%v staged", kw)
		}
	}
}
