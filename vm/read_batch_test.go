package vm_test

import (
	"fmt"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
	"github.com/mechac/mechac/vm"
)

// TestReadBatchBitwise: small staged keys taken in batches, their inputs read together
// (read_batch.go), give the bytes of the run that reads every key's inputs apart
// (NoReadBatch), with one to three workers, float16 and mixed-dtype models (a batch's tensors
// of different sizes), one model with an inf and a NaN in a key (it runs whole, or omits), and
// a key that one model lacks; the batches run, and not under --max-memory.
func TestReadBatchBitwise(t *testing.T) {
	for _, mixed := range []bool{false, true} {
		dir := t.TempDir()
		keys := testKeys(t, 90)
		var nanKey string
		for k := range keys {
			nanKey = k
			break
		}
		head := "version 0.1.0\n"
		for i := range 5 {
			dt := ops.F16
			if mixed {
				dt = []ops.DType{ops.F16, ops.BF16, ops.F32}[i%3]
			}
			var nan map[string]bool
			ks := keys
			if i == 2 {
				nan = map[string]bool{nanKey: true}
			}
			if i == 4 { // a key this model lacks
				ks = map[string][]int{}
				for k, s := range keys {
					if k != nanKey {
						ks[k] = s
					}
				}
			}
			writeModel(t, fmt.Sprintf("%s/m%d.safetensors", dir, i), dt, ks, 31+uint64(i), nan)
			head += fmt.Sprintf("model \"m%d.safetensors\" model_config=\"sdxl-sgm\" merge_space=\"weight\"\n", i)
		}
		src := head + "merge \"subtract\" &1 &0\nmerge \"subtract\" &2 &0\nmerge \"subtract\" &3 &0\nmerge \"subtract\" &4 &0\n" +
			"merge \"ties_sum\" &5 &6 &7 &8 k=0.3\nmerge \"add_difference\" &0 &9 alpha=0.8\nmerge \"fallback\" &10 &0\n"
		prog := compile(t, dir, src, "exact", ops.F16)
		want := runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 1, NoReadBatch: true}, "apart")
		for _, jobs := range []int{1, 2, 3} {
			reads, served := vm.BatchReads.Load(), vm.BatchKeys.Load()
			got := runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: jobs}, fmt.Sprintf("mixed %v, -j %d", mixed, jobs))
			reads, served = vm.BatchReads.Load()-reads, vm.BatchKeys.Load()-served
			if got != want {
				t.Errorf("mixed %v, -j %d: batched %s, apart %s", mixed, jobs, got, want)
			}
			if reads == 0 || served < int64(len(keys))/2 {
				t.Errorf("mixed %v, -j %d: %d batch reads served %d keys of %d", mixed, jobs, reads, served, len(keys))
			}
		}
		before := vm.BatchKeys.Load()
		got := runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 2, MaxMemory: 1 << 30}, "budget")
		if got != want || vm.BatchKeys.Load() != before {
			t.Errorf("mixed %v, --max-memory: %s (want %s), %d keys batched", mixed, got, want, vm.BatchKeys.Load()-before)
		}
	}
}
