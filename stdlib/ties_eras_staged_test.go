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
}

// TestTies00xMedianStagedMatchesWhole: a 0.0.x ties_sum core with a geometric median runs staged
// as the 0.0.x DELLA core without dropout (every keep probability 1, no rescale), and with the
// model-stock factor alone as ties_sum_extended's composed Stager in the 0.0.x polarities; both
// give the whole kernel's bits (the median with and without the stock factor, which it
// overrides), both votes, k, maxiter, non-finite values, over chunkings; they are taken only
// for keys of a GiB (Accepts), where the same call with neither is taken for any key.
func TestTies00xMedianStagedMatchesWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	for _, full := range []string{"ties_sum_extended@0.0.x", "ties_sum@fork-0.0.x"} {
		d, ok := Default().Lookup(full)
		if !ok {
			t.Fatalf("%s: not defined", full)
		}
		for trial := range 24 {
			n := []int{1, 17, 100, 1100}[trial%4]
			r := []int{2, 3, 8}[trial%3]
			ms := tiesTestData(rng, r, n, trial%4 == 3 || trial%8 == 1)
			given := map[string]ops.Value{"apply_median": ops.Float(float64(trial % 4 / 2)), "k": ops.Float([]float64{1, 0.2, 0.5}[trial%3]),
				"vote_sgn": ops.Float(float64(trial % 2)), "maxiter": ops.Float([]float64{100, 3}[trial/2%2]),
				"apply_stock": ops.Float(float64(1 - trial%4/2*(trial/3%2)))}
			kw := kwOf(d, given)
			name := fmt.Sprintf("%s n=%d r=%d %v", full, n, r, given)
			want, err := runVarKernel(d, ops.Exact, ms, []int{n}, kw)
			if err != nil {
				t.Fatalf("%s: kernel: %v", name, err)
			}
			for _, step := range []int{n, 7, 1} {
				var cs [][2]int
				for lo := 0; lo < n; lo += step {
					cs = append(cs, [2]int{lo, min(lo+step, n)})
				}
				got, _, err := runStager(d.Stage, ops.Exact, ms, []int{n}, kw, cs, cs)
				if err != nil {
					t.Fatalf("%s: staged: %v", name, err)
				}
				if j := tiesFirstDiff(got, want); j >= 0 {
					t.Fatalf("%s step %d: [%d] = %v, whole %v", name, step, j, got[j], want[j])
				}
			}
		}
		for _, kw := range []map[string]ops.Value{{"apply_median": ops.Float(1)}, {"apply_stock": ops.Float(1)}} {
			small := ops.StageCall{Kw: kwOf(d, kw), Tensors: 3, Shape: []int{100}, Numerics: ops.Exact}
			if d.Stage.Accepts(small) {
				t.Errorf("%s %v: a small key taken staged", full, kw)
			}
		}
		small := ops.StageCall{Tensors: 3, Shape: []int{100}, Numerics: ops.Exact}
		small.Kw = kwOf(d, nil)
		if !d.Stage.Accepts(small) {
			t.Errorf("%s: a small key without a median not taken staged", full)
		}
	}
}

// TestTiesChunkFromAddMatchesChunk: every ties_sum Stager that is an ops.ArgChunkAdder (the
// 0.0.4/0.0.9 cores scaled by alpha included) writes ChunkFromAdd's output as Chunk's followed
// by add_difference(base, out, w), bit for bit.
func TestTiesChunkFromAddMatchesChunk(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	adders := 0
	for _, full := range []string{"ties_sum", "ties_sum@0.0.4", "ties_sum@0.0.9", "ties_sum@0.0.x", "ties_sum@fork-0.0.12"} {
		d, ok := Default().Lookup(full)
		if !ok || d.Stage == nil {
			t.Fatalf("%s: no staged form", full)
		}
		for _, alpha := range []float64{1, 0.5, 1.3} {
			const n, r = 1100, 3
			ms := tiesTestData(rng, r, n, false)
			given := map[string]ops.Value{"k": ops.Float(0.2)}
			for _, q := range d.KwOnly {
				if q.Name == "alpha" {
					given["alpha"] = ops.Float(alpha)
				}
			}
			kw := kwOf(d, given)
			// Two Stagers through the same passes: one for Chunk, one for ChunkFromAdd.
			var stagers [2]ops.Stager
			for i := range stagers {
				s, ok, err := d.Stage.New(ops.StageCall{Kw: kw, Tensors: r, Shape: []int{n}, Numerics: ops.Exact})
				if err != nil || !ok {
					t.Fatalf("%s: New: %v %v", full, ok, err)
				}
				for p := 0; p < s.Passes(); p++ {
					if err := s.Observe(p, 0, ms); err != nil {
						t.Fatal(err)
					}
					if err := s.EndPass(p); err != nil {
						t.Fatal(err)
					}
				}
				stagers[i] = s
			}
			adder, ok := stagers[1].(ops.ArgChunkAdder)
			if !ok {
				continue
			}
			adders++
			base := make([]float64, n)
			for j := range base {
				base[j] = rng.NormFloat64()
			}
			want := make([]float64, n)
			if err := stagers[0].Chunk(0, ms, want); err != nil {
				t.Fatal(err)
			}
			vecAddScaled(want, base, want, 0.7)
			got := make([]float64, n)
			if err := adder.ChunkFromAdd(0, testArgs(ms), got, base, 0.7); err != nil {
				t.Fatal(err)
			}
			if j := tiesFirstDiff(got, want); j >= 0 {
				t.Fatalf("%s alpha %v: [%d] = %v, Chunk then add %v", full, alpha, j, got[j], want[j])
			}
		}
	}
	if adders == 0 {
		t.Fatal("no Stager was an ArgChunkAdder")
	}
}
