package vm_test

import (
	"slices"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
	"github.com/mechac/mechac/vm"
)

// TestLoadFusedBitwise: a LOAD fused with the subtract that reads it, or with the n_average or
// linear_combination step that adds it (load_fused.go), gives the bytes of the two instructions run apart, for float16, bfloat16 and float32 models (one with
// inf and NaN elements), in plain and staged chunked programs, with and without the staged
// input cache (so both the cached bytes and positional reads feed it), for chunk lengths that
// take the scalar tail only, the vector path, and the default, in both numerics.
func TestLoadFusedBitwise(t *testing.T) {
	dir := t.TempDir()
	keys := testKeys(t, 40)
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names)
	// The non-finite elements (first and last) go to two keys that the vector path takes
	// whole (a multiple of 8 elements), so that no scalar tail reports them.
	var long []string
	for _, k := range names {
		if len(keys[k]) == 2 && len(long) < 2 {
			keys[k] = []int{8, 6}
			long = append(long, k)
		}
	}
	head := writeModels(t, dir, keys, 6, 11, func(i int) map[string]bool {
		if i == 4 {
			return map[string]bool{long[0]: true, long[1]: true}
		}
		return nil
	})
	recipes := map[string]struct {
		src   string
		fused map[string]int // LOADs fused per class program, by numerics
	}{
		// Exact numerics fuse the chain into one linear_combination: no subtract is left.
		"deltas": {head + "merge \"subtract\" &1 &0\nmerge \"subtract\" &2 &0\nmerge \"add_difference\" &0 &6 alpha=0.5\nmerge \"add_difference\" &8 &7 alpha=0.25",
			map[string]int{"sd-mecha": 2}},
		"ties": {head + "merge \"subtract\" &1 &0\nmerge \"subtract\" &2 &0\nmerge \"subtract\" &3 &0\nmerge \"subtract\" &4 &0\nmerge \"subtract\" &5 &0\n" +
			"merge \"ties_sum\" &6 &7 &8 &9 &10 k=0.3\nmerge \"add_difference\" &0 &11\nmerge \"fallback\" &12 &0",
			map[string]int{"sd-mecha": 5, "exact": 5}},
		// Exact numerics stream n_average as a running sum: each model's LOAD after the first
		// fuses into its step as the second operand (LoadFusedSecond); sd-mecha's steps lerp.
		"average": {head + "merge \"n_average\" &1 &2 &3 &4 &5", map[string]int{"exact": 4}},
		// Exact numerics fuse a weighted_sum chain into a linear_combination streamed as
		// steps r + c·m: every step after the first (whose first coefficient is not 1) fuses
		// its model's LOAD. sd-mecha's weighted sums stay as written: nothing fuses.
		"chain": {head + "merge \"weighted_sum\" &1 &2 alpha=0.5\nmerge \"weighted_sum\" &3 &6 alpha=0.75\n" +
			"merge \"weighted_sum\" &4 &7 alpha=0.25\nmerge \"weighted_sum\" &5 &8 alpha=0.125", map[string]int{"exact": 3}},
		// The first operand is read again and the second is not first: nothing fuses.
		"reused": {head + "merge \"subtract\" &0 &1\nmerge \"add_difference\" &0 &6 alpha=0.5", nil},
	}
	for name, r := range recipes {
		for _, numerics := range []string{"exact", "sd-mecha"} {
			prog := compile(t, dir, r.src, numerics, ops.F32)
			n, err := vm.FusedLoadCount(prog, vm.Options{Registry: stdlib.Default()})
			if err != nil {
				t.Fatal(err)
			}
			if want := r.fused[numerics] * len(prog.Classes); n != want {
				t.Errorf("%s/%s: %d fused LOADs in %d classes, want %d", name, numerics, n, len(prog.Classes), want)
			}
			for _, chunk := range []int{7, 64, 0} {
				for _, noCache := range []bool{false, true} {
					run := func(noFusion bool) string {
						return runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 2, ChunkElems: chunk,
							NoStageCache: noCache, NoLoadFusion: noFusion}, name+"/"+numerics)
					}
					if got, want := run(false), run(true); got != want {
						t.Errorf("%s/%s chunk %d, no cache %v: fused %s, apart %s", name, numerics, chunk, noCache, got, want)
					}
				}
			}
		}
	}
}
