package vm_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
	"github.com/mechac/mechac/vm"
)

// TestRawKeysBitwise: a staged ties_sum whose statistics take their keys from the stored bytes
// (stage_keys.go) writes the bytes of the same run over the slice's float64 chunks
// (NoRawKeys) and of whole tensors, for float16, bfloat16 and float32 model sets and a mixed
// one (whose pairs of unlike dtypes take the slice), with inf and NaN in some inputs (with and
// without OmitNonFinite), for chunk lengths that give a scalar tail and the default; and it
// checks that the stored-bytes paths ran where they can (the sparse sample's whole operands
// included). The output pass then makes the
// arguments a piece at a time (stage_args.go), which NoRawKeys turns off too.
func TestRawKeysBitwise(t *testing.T) {
	keys := testKeys(t, 30)
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names)
	// Two keys get an inf and a NaN in model 2; one key is large enough for the sample pass.
	nan := map[string]bool{names[3]: true, names[17]: true}
	keys[names[20]] = []int{160, 130}
	// Several vote tiles and columns past the last 16-column block.
	keys[names[21]] = []int{131, 67}
	// Two keys large enough for the sparse sample (ops.WholeKeySource), one with an inf in
	// its first run (which takes the full sample) and a NaN in no run.
	keys[names[22]] = []int{320, 260}
	keys[names[23]] = []int{300, 240}
	nan[names[23]] = true
	sets := map[string][]ops.DType{
		"f16":   {ops.F16, ops.F16, ops.F16, ops.F16, ops.F16},
		"bf16":  {ops.BF16, ops.BF16, ops.BF16, ops.BF16, ops.BF16},
		"f32":   {ops.F32, ops.F32, ops.F32, ops.F32, ops.F32},
		"mixed": {ops.F16, ops.F16, ops.BF16, ops.F16, ops.F32},
	}
	for name, dts := range sets {
		dir := t.TempDir()
		src := "version 0.1.0\n"
		for i, dt := range dts {
			var bad map[string]bool
			if i == 2 {
				bad = nan
			}
			writeModel(t, filepath.Join(dir, fmt.Sprintf("m%d.safetensors", i)), dt, keys, uint64(40+i), bad)
			src += fmt.Sprintf("model \"m%d.safetensors\" model_config=\"sdxl-sgm\" merge_space=\"weight\"\n", i)
		}
		src += fourDeltas +
			"merge \"ties_sum\" &5 &6 &7 &8 k=0.3\nmerge \"add_difference\" &0 &9\nmerge \"fallback\" &10 &0\n"
		for _, omit := range []bool{true, false} {
			prog := compile(t, dir, src, "sd-mecha", ops.F32)
			prog.OmitNonFinite = omit
			want := runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 2, ChunkElems: -1}, name+" whole")
			for _, chunk := range []int{7, 64, 0} {
				label := fmt.Sprintf("%s omit %v chunk %d", name, omit, chunk)
				run := func(noRaw bool) string {
					return runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 2, ChunkElems: chunk, NoRawKeys: noRaw}, label)
				}
				before, beforeDirect, beforeWhole := vm.RawKeyChunks.Load(), vm.DirectChunks.Load(), vm.WholeKeyCalls.Load()
				if got := run(false); got != want {
					t.Errorf("%s: keys from the stored bytes: sha256 %s, whole tensors %s", label, got, want)
				}
				took, direct := vm.RawKeyChunks.Load()-before, vm.DirectChunks.Load()-beforeDirect
				if whole := vm.WholeKeyCalls.Load() - beforeWhole; (whole > 0) != (name != "mixed") {
					t.Errorf("%s: %d whole operands given for the sparse sample", label, whole)
				}
				if got := run(true); got != want {
					t.Errorf("%s: keys from the slice: sha256 %s, whole tensors %s", label, got, want)
				}
				if (took > 0) != (name != "mixed") || (direct > 0) != (name != "mixed") {
					t.Errorf("%s: %d chunks took their keys from the stored bytes, %d their arguments a piece at a time",
						label, took, direct)
				}
				// Every key past the cache's limit: a window of one chunk of each input (copied:
				// mapped, they are read whole, below).
				before, beforeDirect, beforeWin := vm.RawKeyChunks.Load(), vm.DirectChunks.Load(), vm.WindowReads.Load()
				beforeWhole, beforeLazy := vm.WholeKeyCalls.Load(), vm.LazyLoads.Load()
				if got := runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 2, ChunkElems: chunk, StageCacheBytes: 1, NoMapInputs: true}, label); got != want {
					t.Errorf("%s: keys from a window of the stored bytes: sha256 %s, whole tensors %s", label, got, want)
				}
				took, direct = vm.RawKeyChunks.Load()-before, vm.DirectChunks.Load()-beforeDirect
				win, whole := vm.WindowReads.Load()-beforeWin, vm.WholeKeyCalls.Load()-beforeWhole
				lazy := vm.LazyLoads.Load() - beforeLazy
				if win == 0 || whole != 0 || (took > 0) != (name != "mixed") || (direct > 0) != (name != "mixed") ||
					(lazy > 0) != (name != "mixed") {
					t.Errorf("%s, windows: %d chunks read into windows, %d whole operands given, %d chunks took their keys "+
						"from the stored bytes, %d their arguments a piece at a time, %d lazy bases", label, win, whole, took, direct, lazy)
				}
			}
		}
	}
}
