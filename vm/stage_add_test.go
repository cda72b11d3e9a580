package vm_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
	"github.com/mechac/mechac/vm"
)

// TestAddFusedBitwise: an add_difference of a staged ties_sum's output folded into the vote's
// tiles (stagedAdd, ops.ArgChunkAdder) gives the bytes of the two CALLs run apart: with and
// without a fallback after it, alpha 1 and not, float16
// models (one with an inf and a NaN), in both numerics. It runs where it should: not for
// alpha 0 (the base unchanged, no fused multiply-add), nor where the base has no chunk yet
// when the vote runs.
func TestAddFusedBitwise(t *testing.T) {
	dir := t.TempDir()
	keys := testKeys(t, 30)
	var first string
	for k, s := range keys {
		if len(s) == 2 && first == "" {
			keys[k] = []int{40, 6}
			first = k
		}
	}
	// Float16 models, as the output pass takes staged arguments a piece at a time only from
	// deltas whose two operands are stored alike (rawKeysReady).
	head := "version 0.1.0\n"
	for i := range 6 {
		var nan map[string]bool
		if i == 3 {
			nan = map[string]bool{first: true}
		}
		writeModel(t, filepath.Join(dir, fmt.Sprintf("m%d.safetensors", i)), ops.F16, keys, 21+uint64(i), nan)
		head += fmt.Sprintf("model \"m%d.safetensors\" model_config=\"sdxl-sgm\" merge_space=\"weight\"\n", i)
	}
	deltas := "merge \"subtract\" &1 &0\nmerge \"subtract\" &2 &0\nmerge \"subtract\" &3 &0\nmerge \"subtract\" &4 &0\nmerge \"subtract\" &5 &0\n"
	const ties = "merge \"ties_sum\" &6 &7 &8 &9 &10 k=0.3\n"
	for _, c := range []struct {
		name, ties, tail string
		folded           bool
	}{
		{"fallback", ties, "merge \"add_difference\" &0 &11\nmerge \"fallback\" &12 &0", true},
		{"alpha", ties, "merge \"add_difference\" &0 &11 alpha=-0.7", true},
		// m1's LOAD is fused into its subtract, which the output pass skips: no base chunk to
		// add to when the vote runs, and the add runs apart.
		{"other base", ties, "merge \"add_difference\" &1 &11 alpha=1.5", false},
		{"alpha 0", ties, "merge \"add_difference\" &0 &11 alpha=0", false},
		// The 0.0.9 core scales its vote by alpha before the add (it once added it unscaled).
		{"0.0.9 alpha", "merge \"ties_sum@0.0.9\" &6 &7 &8 &9 &10 k=0.3 alpha=0.5\n", "merge \"add_difference\" &0 &11 alpha=-0.7", true},
	} {
		for _, numerics := range []string{"exact", "sd-mecha"} {
			prog := compile(t, dir, head+deltas+c.ties+c.tail, numerics, ops.F32)
			for _, chunk := range []int{64, 0} {
				run := func(noFusion bool) string {
					return runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 2, ChunkElems: chunk, NoAddFusion: noFusion},
						c.name+"/"+numerics)
				}
				before := vm.AddedChunks.Load()
				got := run(false)
				added := vm.AddedChunks.Load() - before
				if want := run(true); got != want {
					t.Errorf("%s/%s chunk %d: folded %s, apart %s", c.name, numerics, chunk, got, want)
				}
				if (added > 0) != c.folded {
					t.Errorf("%s/%s chunk %d: %d chunks folded the add", c.name, numerics, chunk, added)
				}
			}
		}
	}
}
