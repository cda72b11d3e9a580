package vm_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
	"github.com/mechac/mechac/vm"
	"github.com/mechac/mechac/vm/safetensors"
)

// tiesModels writes five float16 models of 30 keys (two large enough for the sparse sample)
// and returns the TIES recipe over their deltas.
func tiesModels(t *testing.T, dir string) string {
	t.Helper()
	keys := testKeys(t, 30)
	names := sortedNames(keys)
	keys[names[20]], keys[names[22]] = []int{160, 130}, []int{320, 260}
	src := "version 0.1.0\n"
	for i := range 5 {
		writeModel(t, filepath.Join(dir, fmt.Sprintf("m%d.safetensors", i)), ops.F16, keys, uint64(60+i), nil)
		src += fmt.Sprintf("model \"m%d.safetensors\" model_config=\"sdxl-sgm\" merge_space=\"weight\"\n", i)
	}
	return src + fourDeltas + "merge \"ties_sum\" &5 &6 &7 &8 k=0.3\nmerge \"add_difference\" &0 &9\nmerge \"fallback\" &10 &0\n"
}

// TestMappedInputs: staged keys read through mappings of their inputs (input_map.go) write
// the bytes of the run that copies them (NoMapInputs), with a sweep after every key (which
// unmaps also the pages the other worker reads) and without, for 1 and 2 workers, with the
// small keys read in batches (copies: the two large keys' 10 tensors mapped) and not, and
// past the cache's limit.
func TestMappedInputs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("inputs are mapped on Linux only")
	}
	dir := t.TempDir()
	prog := compile(t, dir, tiesModels(t, dir), "exact", ops.F32)
	want := runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 2, NoMapInputs: true}, "copied")
	defer vm.SetMapSweepBytes(vm.SetMapSweepBytes(1))
	for _, sweep := range []int64{1, 64 << 20} {
		vm.SetMapSweepBytes(sweep)
		for _, c := range []struct {
			jobs    int
			noBatch bool
		}{{1, false}, {2, false}, {2, true}} {
			label := fmt.Sprintf("sweep %d, %d workers, no batches %v", sweep, c.jobs, c.noBatch)
			mapped, sweeps := vm.MappedTensors.Load(), vm.MapSweeps.Load()
			opts := vm.Options{Registry: stdlib.Default(), Jobs: c.jobs, NoReadBatch: c.noBatch}
			if got := runSum(t, prog, opts, label); got != want {
				t.Errorf("%s: sha256 %s, copied %s", label, got, want)
			}
			mapped, sweeps = vm.MappedTensors.Load()-mapped, vm.MapSweeps.Load()-sweeps
			if wantMapped := map[bool]int64{false: 10, true: 150}[c.noBatch]; mapped != wantMapped {
				t.Errorf("%s: %d tensors mapped, want %d", label, mapped, wantMapped)
			}
			if (sweeps > 0) != (sweep == 1) {
				t.Errorf("%s: %d sweeps", label, sweeps)
			}
		}
	}
	// Every key past the cache's limit: read whole through the mappings instead of a window
	// (no chunk copied), with sweeps as the passes go (every 64 KiB of chunks here) and
	// without (the default 64 MiB).
	vm.SetMapSweepBytes(64 << 20)
	defer vm.SetMapProgressBytes(vm.SetMapProgressBytes(0))
	for _, sweep := range []int64{64 << 10, 64 << 20} {
		vm.SetMapProgressBytes(sweep)
		label := fmt.Sprintf("past the cache, sweep %d", sweep)
		mapped, sweeps, win := vm.MappedTensors.Load(), vm.MapSweeps.Load(), vm.WindowReads.Load()
		opts := vm.Options{Registry: stdlib.Default(), Jobs: 2, StageCacheBytes: 1, NoReadBatch: true}
		if got := runSum(t, prog, opts, label); got != want {
			t.Errorf("%s: sha256 %s, copied %s", label, got, want)
		}
		mapped, sweeps, win = vm.MappedTensors.Load()-mapped, vm.MapSweeps.Load()-sweeps, vm.WindowReads.Load()-win
		if mapped != 150 || win != 0 || (sweeps > 0) != (sweep < 1<<20) {
			t.Errorf("%s: %d tensors mapped, %d chunks read into windows, %d sweeps", label, mapped, win, sweeps)
		}
	}
	// Under a budget, and where a key's five inputs span more pages (2 MiB each) than the
	// cache's limit, nothing is mapped.
	for _, opts := range []vm.Options{{MaxMemory: 1 << 30}, {StageCacheBytes: 4 << 20, NoReadBatch: true}} {
		opts.Registry, opts.Jobs = stdlib.Default(), 2
		label := fmt.Sprintf("budget %d, cache %d", opts.MaxMemory, opts.StageCacheBytes)
		before := vm.MappedTensors.Load()
		if got := runSum(t, prog, opts, label); got != want {
			t.Errorf("%s: sha256 %s, copied %s", label, got, want)
		}
		if n := vm.MappedTensors.Load() - before; n != 0 {
			t.Errorf("%s: %d tensors mapped", label, n)
		}
	}
}

// TestMappedInputTruncated: a model file truncated after the run opened it faults where a
// staged key reads it through its mapping; the run reports the file, writes no output and
// does not crash.
func TestMappedInputTruncated(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("inputs are mapped on Linux only")
	}
	dir := t.TempDir()
	prog := compile(t, dir, tiesModels(t, dir), "exact", ops.F32)
	victim := filepath.Join(dir, "m3.safetensors")
	out := filepath.Join(t.TempDir(), "out.safetensors")
	before := vm.MappedTensors.Load()
	_, err := vm.Run(context.Background(), prog, vm.Options{
		Registry: stdlib.Default(), Jobs: 1, Output: out, NoReadBatch: true,
		OpenInput: func(path string) (*safetensors.File, error) {
			f, err := safetensors.Open(path)
			if err == nil && path == victim {
				err = os.Truncate(path, f.DataStart())
			}
			return f, err
		},
	})
	if err == nil || !strings.Contains(err.Error(), victim) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("run over a truncated input: %v", err)
	}
	if vm.MappedTensors.Load() == before {
		t.Error("nothing was read through a mapping")
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output after the error: %v", err)
	}
}

// sortedNames is the names of keys in order.
func sortedNames(keys map[string][]int) []string {
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// Analyze counts what mapped inputs may hold (on Linux, without NoMapInputs): the finished
// keys' pages not swept yet, at most the input files' size in whole 2 MiB pages
// (MapBacklog), and, where keys are past the cache's limit, each worker's pages swept as the
// passes go (MapProgress).
func TestAnalyzeMapped(t *testing.T) {
	dir := t.TempDir()
	prog := compile(t, dir, tiesModels(t, dir), "exact", ops.F32)
	var files int64
	for _, in := range prog.Inputs {
		files += (in.Size + 2<<20 - 1) / (2 << 20) * (2 << 20)
	}
	linux := runtime.GOOS == "linux"
	for _, c := range []struct {
		opts              vm.Options
		backlog, progress bool
	}{
		{vm.Options{}, linux, false},
		{vm.Options{StageCacheBytes: 1}, linux, linux},
		{vm.Options{StageCacheBytes: 1, NoMapInputs: true}, false, false},
	} {
		c.opts.Registry = stdlib.Default()
		an, err := vm.Analyze(prog, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		wantBacklog, wantProgress := int64(0), int64(0)
		if c.backlog {
			wantBacklog = min(64<<20, files)
		}
		if c.progress {
			wantProgress = 16 << 20
		}
		if an.MapBacklog != wantBacklog || an.MapProgress != wantProgress {
			t.Errorf("cache %d, no map %v: backlog %d, progress %d; want %d, %d", c.opts.StageCacheBytes, c.opts.NoMapInputs,
				an.MapBacklog, an.MapProgress, wantBacklog, wantProgress)
		}
	}
}
