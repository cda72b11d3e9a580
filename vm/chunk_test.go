package vm_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
	"github.com/mechac/mechac/vm"
)

// TestChunkedBitwise: chunked execution writes the same bytes as whole-tensor execution, for
// chunk lengths that divide the tensors, that leave odd remainders and that would leave a
// one-element chunk, with non-finite inputs (a chunk meets one, the key starts again over
// whole tensors) and under --max-memory.
func TestChunkedBitwise(t *testing.T) {
	dir := t.TempDir()
	keys := testKeys(t, 60)
	// Bigger tensors than testKeys gives, so that keys span many chunks: odd sizes on purpose.
	for k, s := range keys {
		if len(s) >= 2 {
			keys[k] = append([]int{37}, s[1:]...)
		}
	}
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	nan := map[string]bool{names[3]: true, names[17]: true, names[29]: true}
	writeModel(t, filepath.Join(dir, "a.safetensors"), ops.F16, keys, 1, nan)
	writeModel(t, filepath.Join(dir, "b.safetensors"), ops.BF16, keys, 2, map[string]bool{names[29]: true})
	writeModel(t, filepath.Join(dir, "c.safetensors"), ops.F32, keys, 3, nil)
	head := "version 0.1.0\n" +
		`model "a.safetensors" model_config="sdxl-sgm" merge_space="weight"` + "\n" +
		`model "b.safetensors" model_config="sdxl-sgm" merge_space="weight"` + "\n" +
		`model "c.safetensors" model_config="sdxl-sgm" merge_space="weight"` + "\n"
	tests := []struct {
		name, recipe, numerics string
		dtype                  ops.DType
	}{
		{"n_average", head + `merge "n_average" &0 &1 &2`, "exact", ops.F16},
		{"n_average sd-mecha", head + `merge "n_average" &0 &1 &2`, "sd-mecha", ops.F16},
		{"weighted_sum", head + `merge "weighted_sum" &0 &1 alpha=0.3`, "exact", ops.BF16},
		{"add_difference chain", head + "merge \"subtract\" &0 &2\nmerge \"add_difference\" &2 &3 0.7", "sd-mecha", ops.F32},
		{"fallback over elementwise", head + "merge \"weighted_sum\" &0 &2 alpha=0.25\nmerge \"fallback\" &3 &1", "exact", ops.F16},
		{"clean inputs", head + "merge \"subtract\" &2 &1\nmerge \"add_difference\" &2 &3 1.5", "exact", ops.F64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog := compile(t, dir, tt.recipe, tt.numerics, tt.dtype)
			run := func(chunk, jobs int, mem int64) string {
				return runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: jobs, ChunkElems: chunk, MaxMemory: mem},
					fmt.Sprintf("chunk %d -j %d", chunk, jobs))
			}
			want := run(-1, 1, 0)
			for _, c := range []struct {
				chunk, jobs int
				mem         int64
			}{{2, 1, 0}, {3, 2, 0}, {7, 1, 0}, {36, 2, 0}, {37, 1, 0}, {64, 2, 0}, {1000, 1, 0}, {5, 2, 4096}, {0, 2, 0}} {
				if got := run(c.chunk, c.jobs, c.mem); got != want {
					t.Errorf("chunk %d -j %d --max-memory %d: sha256 %s, whole tensors %s", c.chunk, c.jobs, c.mem, got, want)
				}
			}
		})
	}
}

// TestAdmissionPeaks (vm.Analyze): elementwise keys are admitted by their live registers times a chunk,
// staged keys (ties_sum) by that plus their Stager's scratch, the others by the plan's
// whole-tensor peak.
func TestAdmissionPeaks(t *testing.T) {
	dir := t.TempDir()
	keys := testKeys(t, 20)
	writeModel(t, filepath.Join(dir, "a.safetensors"), ops.F16, keys, 1, nil)
	writeModel(t, filepath.Join(dir, "b.safetensors"), ops.F16, keys, 2, nil)
	head := "version 0.1.0\n" +
		`model "a.safetensors" model_config="sdxl-sgm" merge_space="weight"` + "\n" +
		`model "b.safetensors" model_config="sdxl-sgm" merge_space="weight"` + "\n"
	tiesScratch := func(n int) int64 {
		d, _ := stdlib.Default().Lookup("ties_sum")
		return d.Stage.Scratch(1, n)
	}
	for _, tt := range []struct {
		name, recipe string
		chunked      bool
		scratch      func(n int) int64
	}{
		{"elementwise", head + `merge "weighted_sum" &0 &1 alpha=0.3`, true, nil},
		// A staged key also keeps its two float16 inputs' bytes (stage_cache.go).
		{"staged", head + "merge \"subtract\" &0 &1\nmerge \"ties_sum\" &2 k=0.5\nmerge \"add_difference\" &1 &3", true,
			func(n int) int64 { return tiesScratch(n) + 2*2*int64(n) }},
		{"whole tensor", head + "merge \"subtract\" &0 &1\nmerge \"ties_sum_extended\" &2 k=0.5\nmerge \"add_difference\" &1 &3", false, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			prog := compile(t, dir, tt.recipe, "exact", ops.F16)
			an, err := vm.Analyze(prog, vm.Options{Registry: stdlib.Default(), ChunkElems: 100})
			if err != nil {
				t.Fatal(err)
			}
			peaks, chunked, chunk := an.Peaks, an.Chunked, an.ChunkElems
			if chunk != 100 {
				t.Errorf("chunk length %d, want the option's 100", chunk)
			}
			for i, k := range prog.Keys {
				if chunked[i] != tt.chunked {
					t.Fatalf("key %s: chunked %v, want %v", k.Name, chunked[i], tt.chunked)
				}
				want := k.Peak
				if tt.chunked {
					want = 3 * 100 * 8 // three registers live at once
				}
				if tt.scratch != nil {
					want += tt.scratch(ops.NumElements(k.Shape))
				}
				if peaks[i] != want {
					t.Errorf("key %s: admitted with %d bytes, want %d", k.Name, peaks[i], want)
				}
			}
		})
	}
}

// TestDefaultChunkShrinks: without ChunkElems, a program holding many registers at once gets
// shorter chunks, so that a worker's chunk memory stays within about 8 MiB whatever the number
// of models (and the bytes do not change: TestChunkedBitwise runs every length). An n_average
// of models is streamed by the compiler (one model live at a time) and keeps whole chunks.
func TestDefaultChunkShrinks(t *testing.T) {
	dir := t.TempDir()
	keys := testKeys(t, 10)
	recipe := "version 0.1.0\n"
	refs, deltas := "", ""
	for i := 0; i < 40; i++ {
		name := fmt.Sprintf("m%d.safetensors", i)
		writeModel(t, filepath.Join(dir, name), ops.F16, keys, uint64(i), nil)
		recipe += fmt.Sprintf("model %q model_config=\"sdxl-sgm\" merge_space=\"weight\"\n", name)
		refs += fmt.Sprintf(" &%d", i)
	}
	subs := ""
	for i := 1; i < 40; i++ {
		subs += fmt.Sprintf("merge \"subtract\" &%d &0\n", i)
		deltas += fmt.Sprintf(" &%d", 40+i-1)
	}
	for _, tc := range []struct {
		name, recipe string
		short        bool
	}{
		{"2 models", recipe + "merge \"n_average\" &0 &1", false},
		{"40 models, streamed", recipe + "merge \"n_average\"" + refs, false},
		{"39 deltas", recipe + subs + "merge \"n_average\"" + deltas + "\nmerge \"add_difference\" &0 &79", true},
	} {
		prog := compile(t, dir, tc.recipe, "exact", ops.F16)
		an, err := vm.Analyze(prog, vm.Options{Registry: stdlib.Default()})
		if err != nil {
			t.Fatal(err)
		}
		peaks, chunk := an.Peaks, an.ChunkElems
		if !tc.short {
			if chunk != vm.DefaultChunkElems {
				t.Errorf("%s: chunk length %d, want %d", tc.name, chunk, vm.DefaultChunkElems)
			}
			continue
		}
		if chunk >= vm.DefaultChunkElems {
			t.Errorf("%s: chunk length %d, want shorter than %d", tc.name, chunk, vm.DefaultChunkElems)
		}
		for _, p := range peaks {
			if p > 8<<20+int64(chunk)*8 {
				t.Errorf("%s: a key holds %d bytes of chunks, more than about 8 MiB", tc.name, p)
			}
		}
	}
}
