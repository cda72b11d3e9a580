package stdlib

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mechac/mechac/ops"
)

// dropout012Run runs ties_sum_with_dropout@fork-0.0.12 on whole tensors (the kernel) and
// staged the way the VM does (every statistics pass over obs, then the output over outs).
func dropout012Run(ms [][]float64, shape []int, kw []ops.Value, obs, outs [][2]int) (whole, staged []float64, err error) {
	d := tiesDropoutFork012
	if whole, err = runVarKernel(d, ops.Exact, ms, shape, kw); err != nil {
		return nil, nil, fmt.Errorf("kernel: %v", err)
	}
	staged, _, err = runStager(d.Stage, ops.Exact, ms, shape, kw, obs, outs)
	return whole, staged, err
}

// TestDropout012StagedMatchesWhole: the staged DARE + TIES gives the kernel's bits for every
// ties_sum pass mode, chunking, model count, k, vote polarity, probability, seed and non-finite values.
func TestDropout012StagedMatchesWhole(t *testing.T) {
	d := tiesDropoutFork012
	// Every ties_sum mode, the sampled ones and their misses included: a miss adds passes,
	// each of which must draw the masks again from the start.
	modes := tiesAllModes
	rng := rand.New(rand.NewPCG(31, 32))
	for _, n := range []int{1, 2, 3, 17, 100, 700, 1100} {
		for _, r := range []int{1, 2, 3, 8, 17} {
			for _, k := range []float64{1, 0.2, 0.5} {
				for _, vote := range []float64{0, 1} {
					p := []float64{0.1, 0.5, 0.9, 0}[rng.IntN(4)]
					seed := float64(rng.IntN(1 << 20))
					bad := rng.IntN(3) == 0
					ms := tiesTestData(rng, r, n, bad)
					shape := []int{n}
					kw := kwOf(d, map[string]ops.Value{"probability": ops.Float(p), "k": ops.Float(k),
						"vote_sgn": ops.Float(vote), "seed": ops.Float(seed)})
					mode := modes[rng.IntN(len(modes))]
					obs, outs, step := tiesPickChunks(rng, n, []int{1, 7, 16, 17, 4096, 0})
					t.Run(mode, func(t *testing.T) {
						tiesStageMode(t, mode)
						want, got, err := dropout012Run(ms, shape, kw, obs, outs)
						if err != nil {
							t.Fatalf("n=%d r=%d k=%v vote=%v p=%v: %v", n, r, k, vote, p, err)
						}
						if j := tiesFirstDiff(got, want); j >= 0 {
							t.Fatalf("n=%d r=%d k=%v vote=%v p=%v seed=%v bad=%v step=%d: [%d] = %v, whole %v",
								n, r, k, vote, p, seed, bad, step, j, got[j], want[j])
						}
					})
				}
			}
		}
	}
}

// TestDropout012StagedRefuses: calls the whole kernel rejects or treats specially are not
// staged (no seed, p = 1, no elements), so the kernel gives their error or bytes.
func TestDropout012StagedRefuses(t *testing.T) {
	d := tiesDropoutFork012
	for _, tc := range []struct {
		name  string
		given map[string]ops.Value
		shape []int
	}{
		{"no seed", map[string]ops.Value{"probability": ops.Float(0.1)}, []int{4}},
		{"p = 1", map[string]ops.Value{"probability": ops.Float(1), "seed": ops.Float(1)}, []int{4}},
		{"p > 1", map[string]ops.Value{"probability": ops.Float(2), "seed": ops.Float(1)}, []int{4}},
		{"no elements", map[string]ops.Value{"probability": ops.Float(0.1), "seed": ops.Float(1)}, []int{0}},
	} {
		_, ok, err := d.Stage.New(ops.StageCall{Kw: kwOf(d, tc.given), Tensors: 2, Shape: tc.shape, Numerics: ops.Exact})
		if ok || err != nil {
			t.Errorf("%s: staged %v, error %v; want the whole kernel", tc.name, ok, err)
		}
	}
}

// TestDropout013StagedMatchesWhole: fork-0.0.13's and fork-0.0.x's DARE + TIES staged (the
// float32 masks over the era's core: plain, the stock factor, the median) give the kernel's
// bits over chunkings, model counts, k, votes, probabilities, no_rescale, seeds and
// non-finite values.
func TestDropout013StagedMatchesWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	for _, era := range []string{"fork-0.0.13", "fork-0.0.x"} {
		d := eraDef(t, "ties_sum_with_dropout@"+era)
		cores := []string{"plain", "stock"}
		if era == "fork-0.0.x" {
			cores = append(cores, "median")
		}
		for _, core := range cores {
			for trial := range 12 {
				n := []int{1, 3, 17, 100, 700}[trial%5]
				r := []int{2, 3, 8}[trial%3]
				if core == "stock" {
					n = []int{4, 48, 700}[trial%3] // rows of the stock factor: a 2-D shape below
				}
				given := map[string]ops.Value{
					"probability": ops.Float([]float64{0.1, 0.5, 0.9, 0}[trial%4]),
					"k":           ops.Float([]float64{1, 0.2, 0.5}[trial%3]),
					"vote_sgn":    ops.Float(float64(trial % 2)),
					"no_rescale":  ops.Float(float64(trial / 6)),
					"seed":        ops.Float(float64(rng.IntN(1 << 20))),
				}
				switch core {
				case "stock":
					given["apply_stock"] = ops.Float(1)
				case "median":
					given["apply_median"] = ops.Float(1)
					given["maxiter"] = ops.Float([]float64{100, 3, 0}[trial%3])
				}
				shape := []int{n}
				if core == "stock" {
					shape = []int{n / 4, 4}
				}
				ms := tiesTestData(rng, r, n, trial%4 == 3)
				kw := kwOf(d, given)
				obs, outs, step := tiesPickChunks(rng, n, []int{1, 7, 16, 17, 4096, 0})
				if _, ok, err := d.Stage.New(ops.StageCall{Kw: kw, Tensors: r, Shape: shape, Numerics: ops.Exact}); !ok || err != nil {
					t.Fatalf("%s %s trial %d: not staged (%v)", era, core, trial, err)
				}
				want, err := runVarKernel(d, ops.Exact, ms, shape, kw)
				if err != nil {
					t.Fatalf("%s %s trial %d: kernel: %v", era, core, trial, err)
				}
				got, _, err := runStager(d.Stage, ops.Exact, ms, shape, kw, obs, outs)
				if err != nil {
					t.Fatalf("%s %s trial %d: %v", era, core, trial, err)
				}
				if j := tiesFirstDiff(got, want); j >= 0 {
					t.Fatalf("%s %s trial %d (n=%d r=%d step=%d %v): [%d] = %v, whole %v", era, core, trial, n, r, step, given, j, got[j], want[j])
				}
			}
		}
	}
}
