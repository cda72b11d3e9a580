package main

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/mechac/mechac/compiler"
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
	"github.com/mechac/mechac/vm"
	"github.com/mechac/mechac/vm/safetensors"
)

// limitProbe records the Go runtime's memory limit when the output's first bytes are written,
// that is while the merge runs.
type limitProbe struct {
	*os.File
	limit *int64
}

func (f *limitProbe) WriteAt(p []byte, off int64) (int, error) {
	if *f.limit == 0 {
		*f.limit = debug.SetMemoryLimit(-1)
	}
	return f.File.WriteAt(p, off)
}

// tiesFixture writes float16 models base, a and b of the tensors shapes into a temporary
// folder, and recipe.mecha, base + ties_sum(k=0.5) of a's and b's deltas, beside them.
func tiesFixture(t *testing.T, shapes map[string][]int) (dir, recipe string) {
	t.Helper()
	dir = t.TempDir()
	for i, name := range []string{"base", "a", "b"} {
		writeModel(t, filepath.Join(dir, name+".safetensors"), ops.F16, shapes, float64(i))
	}
	src := `version 0.1.0
model "base.safetensors" model_config="sdxl-sgm" merge_space="weight"
model "a.safetensors" model_config="sdxl-sgm" merge_space="weight"
merge "subtract" &1 &0
model "b.safetensors" model_config="sdxl-sgm" merge_space="weight"
merge "subtract" &3 &0
merge "ties_sum" &2 &4 k=0.5
merge "add_difference" &0 &5
`
	recipe = filepath.Join(dir, "recipe.mecha")
	if err := os.WriteFile(recipe, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, recipe
}

// TestUnlimitedGoLimit: without --max-memory, the Go runtime's limit during the run, with
// what the process holds outside it (the binary's pages, the staged input caches), is the peak
// `mechac plan` printed, not more (x215a on d16 models peaked at 1.53 GiB against 1.40 GiB
// printed with the limit at 17/16 of the prediction).
func TestUnlimitedGoLimit(t *testing.T) {
	if debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Skip("a memory limit is set (GOMEMLIMIT): run keeps it")
	}
	dir, path := tiesFixture(t, map[string][]int{"model.diffusion_model.out.2.weight": {640, 160}, "model.diffusion_model.out.0.bias": {320}})
	var stdout, stderr strings.Builder
	if code := mainEnv(&env{stdout: &stdout, stderr: &stderr}, []string{"plan", path, "-j", "2", "--no-time"}); code != 0 {
		t.Fatalf("plan: exit status %d: %s", code, stderr.String())
	}
	m := regexp.MustCompile(`\(predicted peak ([0-9.]+ [KMG]iB)\)`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("no predicted peak in the plan:\n%s", stdout.String())
	}
	printed, err := parseSize(m[1])
	if err != nil {
		t.Fatal(err)
	}
	var got int64
	writerHook = func(f *os.File) safetensors.TempFile { return &limitProbe{File: f, limit: &got} }
	defer func() { writerHook = nil }()
	stderr.Reset()
	if code := mainEnv(&env{stdout: &stdout, stderr: &stderr}, []string{"run", path, "-o", filepath.Join(dir, "out.safetensors"), "-q", "-j", "2"}); code != 0 {
		t.Fatalf("run: exit status %d: %s", code, stderr.String())
	}
	if got <= 0 || got == math.MaxInt64 {
		t.Fatalf("no memory limit seen during the run (%d)", got)
	}
	// The run measures the live heap without the plan's collection first: a few MiB apart.
	const tolerance = 4 << 20
	if outside := got + goLimitSlack; outside > printed+tolerance {
		t.Errorf("Go's limit %s plus the binary's %s is more than the %s plan printed", humanBytes(got), humanBytes(goLimitSlack), humanBytes(printed))
	}
	if got < printed/2 {
		t.Errorf("Go's limit %s is less than half the %s plan printed: the collector would run more than it needs", humanBytes(got), humanBytes(printed))
	}
}

// TestMaxMemoryGoLimit: under --max-memory, the Go runtime's limit leaves room for the staged
// input caches, which are mappings outside the Go heap that the limit does not count (SPEC
// 5.2): with them inside it, garbage could fill the heap up to their size on top of them
// (x215a on d8 models: 2.02 GiB peak RSS under --max-memory 2GiB).
func TestMaxMemoryGoLimit(t *testing.T) {
	dir, path := tiesFixture(t, map[string][]int{"model.diffusion_model.out.2.weight": {64, 64}})
	// The VM's view of the run: the key runs staged in chunks of 512, with an input cache.
	f, src, err := loadRecipe(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := compiler.Compile(f, compiler.Options{Registry: stdlib.Default(), RecipeText: string(src),
		OutputDType: ops.F16, Models: newModelFinder(nil, path)})
	if err != nil {
		t.Fatal(err)
	}
	an, err := vm.Analyze(res.Program, vm.Options{Registry: stdlib.Default(), ChunkElems: 512})
	if err != nil {
		t.Fatal(err)
	}
	if an.IdleStageCache == 0 {
		t.Fatal("the key runs without a staged input cache: the test checks nothing")
	}
	const limit, workers = 256 << 20, 2
	var got int64
	writerHook = func(f *os.File) safetensors.TempFile { return &limitProbe{File: f, limit: &got} }
	defer func() { writerHook = nil }()
	var stdout, stderr strings.Builder
	code := mainEnv(&env{stdout: &stdout, stderr: &stderr}, []string{"run", path, "-o", filepath.Join(dir, "out.safetensors"),
		"-q", "-j", "2", "--chunk-elems", "512", "--max-memory", "256MiB"})
	if code != 0 {
		t.Fatalf("exit status %d: %s", code, stderr.String())
	}
	if got <= 0 {
		t.Fatal("no memory limit seen during the run")
	}
	if room := limit - got; room < goLimitSlack+workers*an.IdleStageCache {
		t.Errorf("Go's limit %d leaves %d bytes of the 256 MiB, less than the slack %d and %d workers' input caches of %d",
			got, room, goLimitSlack, workers, an.IdleStageCache)
	}
}
