package stdlib

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mechac/mechac/ops"
)

// TestTies00xStagedMatchesWhole: the 0.0.x ties_sum cores staged through ties_sum's Stager
// (torch.nan_to_num's defaults, times alpha for 0.0.4/0.0.9) give the whole kernels' bits for
// every pass mode (the keys- modes with ChunkFrom too), chunking, model count, k, vote, alpha
// and non-finite values; a geometric median or the model-stock factor is not staged.
func TestTies00xStagedMatchesWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	defs := []string{"ties_sum@0.0.4", "ties_sum@0.0.9", "ties_sum@0.0.x", "ties_sum@fork-0.0.12",
		"ties_sum@fork-0.0.26", "ties_sum@fork-0.0.x", "ties_sum_extended@0.0.x"}
	for trial := range 300 {
		full := defs[trial%len(defs)]
		d, ok := Default().Lookup(full)
		if !ok || d.Stage == nil {
			t.Fatalf("%s: no staged form", full)
		}
		n := []int{1, 3, 17, 100, 1100}[rng.IntN(5)]
		r := []int{1, 2, 3, 8, 17}[rng.IntN(5)]
		ms := tiesTestData(rng, r, n, rng.IntN(3) == 0)
		given := map[string]ops.Value{"k": ops.Float([]float64{1, 0.2, 0.5}[rng.IntN(3)])}
		for _, q := range d.KwOnly {
			switch q.Name {
			case "alpha":
				given["alpha"] = ops.Float([]float64{1, 0.5, 1.3}[rng.IntN(3)])
			case "vote_sgn":
				given["vote_sgn"] = ops.Float(float64(rng.IntN(2)))
			}
		}
		kw := kwOf(d, given)
		mode := tiesAllModes[rng.IntN(len(tiesAllModes))]
		obs, outs, step := tiesPickChunks(rng, n, []int{1, 7, 16, 17, 4096, 0})
		t.Run(mode, func(t *testing.T) {
			tiesStageMode(t, mode)
			name := fmt.Sprintf("%s n=%d r=%d step=%d %v", full, n, r, step, given)
			want, err := runVarKernel(d, ops.Exact, ms, []int{n}, kw)
			if err != nil {
				t.Fatalf("%s: kernel: %v", name, err)
			}
			got, _, err := runStager(d.Stage, ops.Exact, ms, []int{n}, kw, obs, outs)
			if err != nil {
				t.Fatalf("%s: staged: %v", name, err)
			}
			if j := tiesFirstDiff(got, want); j >= 0 {
				t.Fatalf("%s: [%d] = %v, whole %v", name, j, got[j], want[j])
			}
		})
	}
	// A median or the stock factor: the whole kernel.
	d, _ := Default().Lookup("ties_sum_extended@0.0.x")
	for _, kw := range []map[string]ops.Value{{"apply_median": ops.Float(1)}, {"apply_stock": ops.Float(1)}} {
		if _, ok, err := d.Stage.New(ops.StageCall{Kw: kwOf(d, kw), Tensors: 3, Shape: []int{100}, Numerics: ops.Exact}); ok || err != nil {
			t.Errorf("ties_sum_extended@0.0.x %v: staged (ok %v, err %v)", kw, ok, err)
		}
	}
}
