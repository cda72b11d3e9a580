package stdlib

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mechac/mechac/ops"
)

// della00xDef is the registered ties_sum_with_dropout of a 0.0.x DELLA era.
func della00xDef(t *testing.T, era string) *ops.Def {
	t.Helper()
	d, ok := Default().Lookup("ties_sum_with_dropout@" + era)
	if !ok || d.Stage == nil {
		t.Fatalf("ties_sum_with_dropout@%s: no staged form (found %v)", era, ok)
	}
	return d
}

// TestDella00xStagedMatchesWhole: the staged 0.0.x DELLA ties_sum_with_dropout (a pass per
// delta, the thresholds, the Weiszfeld steps) gives the whole kernel's bits, for the three
// eras, DELLA and DARE (della_eps 0), the geometric median and the disjoint mean, both vote
// polarities, k, maxiter (0, 1, the default), seeds, rescale, chunkings, model counts on both
// sides of a cascade level, and non-finite values (which the hotfix clamps and the others
// refuse, with the kernel's error).
func TestDella00xStagedMatchesWhole(t *testing.T) {
	old := dellaWholeMin
	t.Cleanup(func() { dellaWholeMin = old })
	dellaWholeMin = 0
	rng := rand.New(rand.NewPCG(51, 52))
	for trial := range 160 {
		era := []string{"0.0.x", "fork-0.0.26", "fork-0.0.26-hotfix"}[trial%3]
		d := della00xDef(t, era)
		n := []int{1, 5, 16, 33, 300, 1100, 2500}[rng.IntN(7)]
		r := []int{1, 2, 3, 8, 17, 20}[rng.IntN(6)]
		bad := rng.IntN(5) == 0
		ms := tiesTestData(rng, r, n, bad)
		given := map[string]ops.Value{
			"probability":  ops.Float([]float64{0.1, 0.5, 0.9}[rng.IntN(3)]),
			"della_eps":    ops.Float([]float64{-0.1, 0.05, 0}[rng.IntN(3)]),
			"rescale":      ops.Float([]float64{0, 1, 2}[rng.IntN(3)]),
			"k":            ops.Float([]float64{1, 0.2, 0.5}[rng.IntN(3)]),
			"vote_sgn":     ops.Float(float64(rng.IntN(2))),
			"apply_median": ops.Float(float64(rng.IntN(4) % 2)),
			"maxiter":      ops.Float([]float64{100, 0, 1, 3}[rng.IntN(4)]),
			"seed":         ops.Float([]float64{-1, 241011, float64(rng.IntN(1 << 20))}[rng.IntN(3)]),
		}
		kw := kwOf(d, given)
		obs, outs, step := tiesPickChunks(rng, n, []int{1, 7, 16, 17, 4096, 0})
		name := fmt.Sprintf("%d %s n=%d r=%d bad=%v step=%d %v", trial, era, n, r, bad, step, given)
		dellaCompare(t, name, d, ops.Exact, ms, n, kw, obs, outs)
	}
}

// dellaCompare runs d on ms whole and staged (statistics over obs, output over outs) and fails
// unless both give the same bits or the same error (in numerics num).
func dellaCompare(t *testing.T, name string, d *ops.Def, num ops.Numerics, ms [][]float64, n int, kw []ops.Value, obs, outs [][2]int) {
	t.Helper()
	want, werr := runVarKernel(d, num, ms, []int{n}, kw)
	got, _, serr := runStager(d.Stage, num, ms, []int{n}, kw, obs, outs)
	if werr != nil || serr != nil {
		if werr == nil || serr == nil || werr.Error() != serr.Error() {
			t.Fatalf("%s: kernel error %v, staged error %v", name, werr, serr)
		}
		return
	}
	if j := tiesFirstDiff(got, want); j >= 0 {
		t.Fatalf("%s: [%d] = %v, whole %v", name, j, got[j], want[j])
	}
}

// TestDella10xStagedMatchesWhole: the staged 1.0.x ties_sum_with_dropout (1.0, fork-1.0.4,
// fork-1.0.x: clamped probabilities, Python's sums in the median, the model-stock polarity)
// gives the whole kernel's bits, over the same range of arguments and data.
func TestDella10xStagedMatchesWhole(t *testing.T) {
	della1xTrials(t, 53, func(trial int) (*ops.Def, ops.Numerics) {
		return della00xDef(t, []string{"1.0", "fork-1.0.4", "fork-1.0.x"}[trial%3]), ops.Exact
	})
}

// TestDella115StagedMatchesWhole: today's ties_sum_with_dropout staged (dropoutKeep's
// probabilities, 1.1.5's polarities, Python's sums in the median, nan_to_num(0, 0, 0), the
// rescale divisor of each numerics) gives the whole kernel's bits in both numerics.
func TestDella115StagedMatchesWhole(t *testing.T) {
	della1xTrials(t, 55, func(trial int) (*ops.Def, ops.Numerics) {
		return tiesSumWithDropout, []ops.Numerics{ops.Exact, ops.SDMecha}[trial%2]
	})
}

// della1xTrials compares 160 random calls of the 1.x ties_sum_with_dropout that pick gives per
// trial, staged against whole (every key staged), and fails unless at least half are staged.
func della1xTrials(t *testing.T, seed uint64, pick func(trial int) (*ops.Def, ops.Numerics)) {
	old := dellaWholeMin
	t.Cleanup(func() { dellaWholeMin = old })
	dellaWholeMin = 0
	rng := rand.New(rand.NewPCG(seed, seed+1))
	staged := 0
	for trial := range 160 {
		d, num := pick(trial)
		n := []int{1, 5, 16, 33, 300, 1100, 2500}[rng.IntN(7)]
		r := []int{1, 2, 3, 8, 17, 20}[rng.IntN(6)]
		bad := rng.IntN(5) == 0
		ms := tiesTestData(rng, r, n, bad)
		given := dropout1xKw(rng)
		kw := kwOf(d, given)
		obs, outs, step := tiesPickChunks(rng, n, []int{1, 7, 16, 17, 4096, 0})
		name := fmt.Sprintf("%d %s %v n=%d r=%d bad=%v step=%d %v", trial, d.FullName(), num, n, r, bad, step, given)
		if _, ok, _ := d.Stage.New(ops.StageCall{Kw: kw, Tensors: r, Shape: []int{n}, Numerics: num}); !ok {
			continue // the stock factor without a median: the whole kernel
		}
		staged++
		dellaCompare(t, name, d, num, ms, n, kw, obs, outs)
	}
	if staged < 80 {
		t.Errorf("only %d of 160 calls staged", staged)
	}
}

// dropout1xKw is random keyword arguments of a 1.x ties_sum_with_dropout call.
func dropout1xKw(rng *rand.Rand) map[string]ops.Value {
	return map[string]ops.Value{
		"probability":  ops.TensorValue(ops.Scalar([]float64{0.1, 0.5, 0.9, 0.30000001192092896}[rng.IntN(4)])),
		"della_eps":    ops.Float([]float64{-0.1, 0.05, 0}[rng.IntN(3)]),
		"rescale":      ops.Bool(rng.IntN(2) == 0),
		"k":            ops.Float([]float64{1, 0.2, 0.5}[rng.IntN(3)]),
		"vote_sgn":     ops.Bool(rng.IntN(2) == 0),
		"apply_stock":  ops.Bool(rng.IntN(4) != 0),
		"apply_median": ops.Bool(rng.IntN(4) != 0),
		"maxiter":      ops.Int([]int64{100, 0, 1, 3}[rng.IntN(4)]),
		"seed":         ops.Int([]int64{-1, 241011, int64(rng.IntN(1 << 20))}[rng.IntN(3)]),
	}
}
