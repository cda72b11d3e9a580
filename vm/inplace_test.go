package vm_test

import (
	"slices"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
	"github.com/mechac/mechac/vm"
)

// TestInPlaceBitwise: writing an InPlace method's result into its dying first operand gives the
// bytes of fresh buffers, over subtract chains, a streamed n_average, fused linear combinations
// (with a value read twice, which must not be overwritten), a fallback branch and non-finite
// inputs, in chunks and over whole tensors, in both numerics.
func TestInPlaceBitwise(t *testing.T) {
	dir := t.TempDir()
	keys := testKeys(t, 40)
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names)
	head := writeModels(t, dir, keys, 6, 1, func(i int) map[string]bool {
		if i == 2 {
			return map[string]bool{names[7]: true}
		}
		return nil
	})
	recipes := map[string]string{
		"subtracts":  head + "merge \"subtract\" &1 &0\nmerge \"subtract\" &2 &0\nmerge \"add_difference\" &0 &6 alpha=0.5\nmerge \"add_difference\" &8 &7 alpha=0.25",
		"n_average":  head + "merge \"n_average\" &0 &1 &2 &3 &4 &5",
		"fused":      head + "merge \"weighted_sum\" &0 &1 alpha=0.3\nmerge \"weighted_sum\" &6 &2 alpha=0.6\nmerge \"subtract\" &7 &7\nmerge \"add_difference\" &7 &8 alpha=0.5\nmerge \"weighted_sum\" &9 &3 alpha=0.1\nmerge \"weighted_sum\" &10 &4 alpha=0.7",
		"fallback":   head + "merge \"subtract\" &2 &1\nmerge \"add_difference\" &0 &6 alpha=0.5\nmerge \"fallback\" &7 &0",
		"ties mixed": head + "merge \"subtract\" &1 &0\nmerge \"subtract\" &3 &0\nmerge \"ties_sum\" &6 &7 k=0.5\nmerge \"add_difference\" &0 &8",
	}
	for name, src := range recipes {
		for _, numerics := range []string{"exact", "sd-mecha"} {
			prog := compile(t, dir, src, numerics, ops.F32)
			run := func(noInPlace bool, chunk int) string {
				return runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 2, ChunkElems: chunk, NoInPlace: noInPlace},
					name+"/"+numerics)
			}
			for _, chunk := range []int{-1, 7, 0} {
				if got, want := run(false, chunk), run(true, chunk); got != want {
					t.Errorf("%s/%s chunk %d: in place %s, fresh buffers %s", name, numerics, chunk, got, want)
				}
			}
		}
	}
}
