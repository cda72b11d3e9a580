package vm_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mechac/mechac/compiler"
	"github.com/mechac/mechac/lang"
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
	"github.com/mechac/mechac/vm"
	"github.com/mechac/mechac/vm/bytecode"
)

// fourDeltas continues dellaRecipe's model lines with the deltas of models 1-4 from model 0
// (registers 5-8).
const fourDeltas = "merge \"subtract\" &1 &0\nmerge \"subtract\" &2 &0\nmerge \"subtract\" &3 &0\nmerge \"subtract\" &4 &0\n"

// dellaRecipe writes five float16 models of testKeys (three of them made large enough to
// matter, one with columns past the 16-column blocks) into dir and returns the recipe's model
// lines, in dialect B's or C's form.
func dellaRecipe(t *testing.T, dir string, seed uint64, dialectC bool) string {
	t.Helper()
	return dellaRecipeShapes(t, dir, seed, dialectC, map[int][]int{4: {64, 40}, 9: {37, 41}, 15: {300, 8}})
}

// dellaRecipeShapes is dellaRecipe with the shapes of the keys at the given places of testKeys'
// sorted names.
func dellaRecipeShapes(t *testing.T, dir string, seed uint64, dialectC bool, shapes map[int][]int) string {
	t.Helper()
	keys := testKeys(t, 30)
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names)
	for i, shape := range shapes {
		keys[names[i]] = shape
	}
	src := ""
	if dialectC {
		src = "version 0.1.0\n"
	}
	for i := range 5 {
		writeModel(t, filepath.Join(dir, fmt.Sprintf("m%d.safetensors", i)), ops.F16, keys, seed+uint64(i), nil)
		if dialectC {
			src += fmt.Sprintf("model \"m%d.safetensors\" model_config=\"sdxl-sgm\" merge_space=\"weight\"\n", i)
		} else {
			src += fmt.Sprintf("model \"m%d.safetensors\" \"sdxl\" \"base\"\n", i)
		}
	}
	return src
}

// compileEra compiles src (models in dir) in the given era.
func compileEra(t *testing.T, dir, src, era string) *bytecode.Program {
	t.Helper()
	f, err := lang.Parse("x.mecha", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	res, err := compiler.Compile(f, compiler.Options{Registry: stdlib.Default(), Numerics: ops.Exact, OutputDType: ops.F32,
		Models: dirModels(dir), RecipeText: src, Era: era})
	if err != nil {
		t.Fatal(err)
	}
	return res.Program
}

// dellaEveryKey is the default registry with every ties_sum_with_dropout key staged, however
// small (by default only those the whole kernel would need a GiB for).
func dellaEveryKey(t *testing.T) *ops.Registry {
	t.Helper()
	return everyKeyStaged(t, "ties_sum_with_dropout")
}

// everyKeyStaged is the default registry with every key of the method called name staged,
// however small (its StageDef's Accepts dropped).
func everyKeyStaged(t *testing.T, name string) *ops.Registry {
	t.Helper()
	reg := ops.NewRegistry()
	for _, d := range stdlib.Default().Defs() {
		if d.Name == name && d.Stage != nil && d.Stage.Accepts != nil {
			c, st := *d, *d.Stage
			st.Accepts = nil
			c.Stage = &st
			d = &c
		}
		if err := reg.Register(d); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

// checkStagedRuns runs prog under reg for chunk lengths, -j, --max-memory, without the staged
// input cache and with a window of it for every key (a 1-byte limit), and fails where the
// bytes are not want's.
func checkStagedRuns(t *testing.T, prog *bytecode.Program, reg *ops.Registry, want string) {
	t.Helper()
	for _, c := range []struct {
		chunk, jobs int
		mem         int64
		noCache     bool
		window      bool
	}{{7, 1, 0, false, false}, {64, 2, 0, false, false}, {0, 2, 0, false, false}, {100, 2, 0, true, false},
		{5, 2, 4096, false, false}, {7, 2, 0, false, true}, {64, 1, 4096, false, true}} {
		opts := vm.Options{Registry: reg, Jobs: c.jobs, ChunkElems: c.chunk, MaxMemory: c.mem, NoStageCache: c.noCache}
		if c.window {
			opts.StageCacheBytes = 1
		}
		if got := runSum(t, prog, opts, fmt.Sprint(c)); got != want {
			t.Errorf("chunk %d -j %d --max-memory %d no cache %v window %v: sha256 %s, whole tensors %s",
				c.chunk, c.jobs, c.mem, c.noCache, c.window, got, want)
		}
	}
}

// TestDellaStagedBitwise: an x215a-shaped recipe (dialect B, era fork-0.0.26: DELLA masks,
// TIES k=1 voting with the signs, the geometric median) runs its keys staged, a pass per
// delta reading that delta's inputs alone (ops.ArgSelector), and writes the bytes of the
// whole-tensor run for chunk lengths, -j, --max-memory, with and without the staged input
// cache; with the default registry its small keys run whole.
func TestDellaStagedBitwise(t *testing.T) {
	dir := t.TempDir()
	src := dellaRecipe(t, dir, 60, false) +
		fourDeltas +
		"merge \"ties_sum_with_dropout\" &5 &6 &7 &8 apply_median=1.0 seed=241011 maxiter=100 della_eps=-0.1 " +
		"cos_eps=1e-06 vote_sgn=1.0 rescale=0.0 apply_stock=0.0 k=1.0 ftol=1e-20 probability=0.1 eps=1e-06\n" +
		"merge \"add_difference\" &0 &9 alpha=1.0\n"
	prog := compileEra(t, dir, src, "fork-0.0.26")
	reg := dellaEveryKey(t)
	if an, err := vm.Analyze(prog, vm.Options{Registry: stdlib.Default()}); err != nil || slices.Contains(an.Chunked, true) {
		t.Fatalf("default registry: small keys chunked (err %v), want every key whole", err)
	}
	an, err := vm.Analyze(prog, vm.Options{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(an.Staged, func(st *vm.StagedCall) bool { return st != nil }) {
		t.Fatal("no key class runs ties_sum_with_dropout@fork-0.0.26 staged")
	}
	want := runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 2, ChunkElems: -1}, "whole")
	if got := runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 2}, "default"); got != want {
		t.Errorf("default registry: sha256 %s, whole tensors %s", got, want)
	}
	before := vm.SelectedPasses.Load()
	checkStagedRuns(t, prog, reg, want)
	// Three staged keys of 4 deltas, a pass per delta each, in every run.
	if got := vm.SelectedPasses.Load() - before; got < 5*3*4 {
		t.Errorf("%d statistics passes read one delta alone, want at least %d", got, 5*3*4)
	}
}

// TestDella115StagedBitwise: today's ties_sum_with_dropout (version 0.1.0 recipe, sd-mecha
// 1.1.5) runs staged and writes the whole-tensor run's bytes, in both numerics.
func TestDella115StagedBitwise(t *testing.T) {
	dir := t.TempDir()
	src := dellaRecipe(t, dir, 80, true) +
		fourDeltas +
		"merge \"ties_sum_with_dropout\" &5 &6 &7 &8 probability=0.1 della_eps=-0.1 k=1.0 vote_sgn=true " +
		"apply_median=true seed=241011\nmerge \"add_difference\" &0 &9\nmerge \"fallback\" &10 &0\n"
	for _, numerics := range []string{"exact", "sd-mecha"} {
		num, err := ops.ParseNumerics(numerics)
		if err != nil {
			t.Fatal(err)
		}
		f, err := lang.Parse("x.mecha", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		res, err := compiler.Compile(f, compiler.Options{Registry: stdlib.Default(), Numerics: num, OutputDType: ops.F32,
			Models: dirModels(dir), RecipeText: src})
		if err != nil {
			t.Fatal(err)
		}
		prog := res.Program
		reg := dellaEveryKey(t)
		if an, err := vm.Analyze(prog, vm.Options{Registry: reg}); err != nil || !slices.Contains(an.Chunked, true) {
			t.Fatalf("%s: no key runs staged (err %v)", numerics, err)
		}
		want := runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 2, ChunkElems: -1}, "whole")
		before := vm.StagedKeys.Load()
		checkStagedRuns(t, prog, reg, want)
		if vm.StagedKeys.Load() == before {
			t.Errorf("%s: no key ran its statistics passes", numerics)
		}
	}
}

// TestMedianStagedBitwise: geometric_median over five models runs staged (a pass per Weiszfeld
// step, the median of each chunk made again from the step's weights) and writes the
// whole-tensor run's bytes for chunk lengths, -j, --max-memory, with and without the staged
// input cache, with the default stopping rule and with a few steps.
func TestMedianStagedBitwise(t *testing.T) {
	dir := t.TempDir()
	models := dellaRecipe(t, dir, 90, true)
	for _, call := range []string{"merge \"geometric_median\" &0 &1 &2 &3 &4\n",
		"merge \"geometric_median\" &0 &1 &2 &3 &4 maxiter=3 eps=0.01\n"} {
		checkStagedMethod(t, compileEra(t, dir, models+call, ""), "geometric_median")
	}
}

// TestStockStagedBitwise: model_stock over four deltas runs staged (one pass for the per-row
// factors, rows cut by chunk edges carried) and writes the whole-tensor run's bytes for chunk
// lengths, -j, --max-memory, with and without the staged input cache.
func TestStockStagedBitwise(t *testing.T) {
	dir := t.TempDir()
	src := dellaRecipe(t, dir, 95, true) +
		fourDeltas +
		"merge \"model_stock\" &5 &6 &7 &8\nmerge \"add_difference\" &0 &9\n"
	checkStagedMethod(t, compileEra(t, dir, src, ""), "model_stock")
}

// checkStagedMethod checks that prog's calls of the method called name run staged when every
// key may, and give the whole-tensor run's bytes over checkStagedRuns's matrix (and with the
// default registry, which stages only the large keys).
func checkStagedMethod(t *testing.T, prog *bytecode.Program, name string) {
	t.Helper()
	reg := everyKeyStaged(t, name)
	an, err := vm.Analyze(prog, vm.Options{Registry: reg})
	if err != nil || !slices.ContainsFunc(an.Staged, func(st *vm.StagedCall) bool { return st != nil }) {
		t.Fatalf("no key class runs %s staged (err %v)", name, err)
	}
	want := runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 2, ChunkElems: -1}, "whole")
	if got := runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 2}, "default"); got != want {
		t.Errorf("default registry: sha256 %s, whole tensors %s", got, want)
	}
	before := vm.StagedKeys.Load()
	checkStagedRuns(t, prog, reg, want)
	if vm.StagedKeys.Load() == before {
		t.Errorf("%s: no key ran its statistics passes", name)
	}
}

// TestTiesExtendedStagedBitwise: ties_sum_extended over four deltas runs staged (the
// thresholds from the stored bytes, then the median's steps or the model stock's pass over the
// filtered deltas) and writes the whole-tensor run's bytes, with the factor, without it, and
// with the median.
func TestTiesExtendedStagedBitwise(t *testing.T) {
	dir := t.TempDir()
	models := dellaRecipe(t, dir, 97, true) +
		fourDeltas
	for _, kw := range []string{"", " apply_stock=true vote_sgn=true", " apply_median=true maxiter=4 k=0.5"} {
		src := models + "merge \"ties_sum_extended\" &5 &6 &7 &8" + kw + "\nmerge \"add_difference\" &0 &9\n"
		keys, selected := vm.RawKeyChunks.Load(), vm.SelectedPasses.Load()
		checkStagedMethod(t, compileEra(t, dir, src, ""), "ties_sum_extended")
		if vm.RawKeyChunks.Load() == keys {
			t.Errorf("%q: no threshold chunk took its keys from the stored bytes", kw)
		}
		if kw != " apply_stock=true vote_sgn=true" && vm.SelectedPasses.Load() == selected {
			t.Errorf("%q: no pass over the filtered deltas", kw)
		}
	}
}

// TestTies00xMedianStagedBitwise: a 0.0.x ties_sum_extended (dialect B, era 0.0.29) with a
// geometric median runs staged as the 0.0.x DELLA core without dropout, with the model-stock
// factor as ties_sum_extended's composed Stager, and writes the whole-tensor run's bytes.
func TestTies00xMedianStagedBitwise(t *testing.T) {
	dir := t.TempDir()
	models := dellaRecipe(t, dir, 99, false) +
		fourDeltas
	for _, kw := range []string{"apply_median=1.0 maxiter=5 k=0.5 vote_sgn=0.0 apply_stock=0.0",
		"apply_median=0.0 maxiter=100 k=0.2 vote_sgn=1.0 apply_stock=1.0"} {
		src := models + "merge \"ties_sum_extended\" &5 &6 &7 &8 " + kw + " cos_eps=1e-06 eps=1e-06 ftol=1e-20\n" +
			"merge \"add_difference\" &0 &9 alpha=1.0\n"
		checkStagedMethod(t, compileEra(t, dir, src, "0.0.29"), "ties_sum_extended")
	}
}

// TestDropoutStagedBitwise: dropout over four deltas runs staged (no statistics passes: each
// output chunk draws its masks at its own offset in the key's generator) and gives the whole
// run's bytes over the VM matrix.
func TestDropoutStagedBitwise(t *testing.T) {
	dir := t.TempDir()
	src := dellaRecipe(t, dir, 97, true) +
		fourDeltas +
		"merge \"dropout\" &5 &6 &7 &8 probability=0.75 rescale=0.5 seed=11\nmerge \"add_difference\" &0 &9\n"
	checkStagedMethod(t, compileEra(t, dir, src, ""), "dropout")
}

// TestDropout013StagedBitwise: the fork's fork-0.0.x ties_sum_with_dropout (dialect B) runs
// staged over its three cores (plain, median, stock factor), the float32 masks drawn again per
// pass, and writes the whole-tensor run's bytes.
func TestDropout013StagedBitwise(t *testing.T) {
	dir := t.TempDir()
	models := dellaRecipe(t, dir, 101, false) +
		fourDeltas
	for _, kw := range []string{"apply_median=0.0 apply_stock=0.0 no_rescale=0.0",
		"apply_median=1.0 maxiter=5 apply_stock=0.0 no_rescale=1.0",
		"apply_median=0.0 apply_stock=1.0 no_rescale=0.0"} {
		src := models + "merge \"ties_sum_with_dropout\" &5 &6 &7 &8 probability=0.3 k=0.5 vote_sgn=0.0 seed=7.0 " + kw +
			" cos_eps=1e-06 eps=1e-06 ftol=1e-20\nmerge \"add_difference\" &0 &9 alpha=1.0\n"
		checkStagedMethod(t, compileEra(t, dir, src, "fork-0.0.19"), "ties_sum_with_dropout")
	}
}

// TestStageAbove: under Options.StageAbove (run sets it to its --max-memory budget), a key its
// StageDef declines (DELLA below a GiB) runs staged when its whole-tensor peak is above the
// bound and the staged form needs less, and only then; the plan's figures say the same; the
// bytes are the whole-tensor run's.
func TestStageAbove(t *testing.T) {
	dir := t.TempDir()
	// One key large enough (64 Ki elements) that its Stager's fixed buffers are small next to
	// the whole kernel's 16 bytes per element and delta.
	src := dellaRecipeShapes(t, dir, 70, true, map[int][]int{4: {256, 256}}) + fourDeltas +
		"merge \"ties_sum_with_dropout\" &5 &6 &7 &8 probability=0.1 della_eps=-0.1 k=1.0 vote_sgn=true " +
		"apply_median=true seed=241011\nmerge \"add_difference\" &0 &9\n"
	prog := compileEra(t, dir, src, "")
	const chunk = 64 // chunk buffers small enough that the staged form needs less than whole
	plain, err := vm.Analyze(prog, vm.Options{Registry: stdlib.Default(), ChunkElems: chunk})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(plain.Chunked, true) {
		t.Fatal("without StageAbove: a DELLA key below a GiB runs staged")
	}
	var most int64
	for _, k := range prog.Keys {
		most = max(most, k.Peak)
	}
	// Above every key's peak: nothing changes.
	if an, err := vm.Analyze(prog, vm.Options{Registry: stdlib.Default(), ChunkElems: chunk, StageAbove: most}); err != nil || slices.Contains(an.Chunked, true) {
		t.Fatalf("StageAbove at the largest peak: a key runs staged (err %v)", err)
	}
	// Below the largest: the keys above it whose staged form needs less run staged, at that
	// smaller peak; the others stay whole.
	above := most / 4
	an, err := vm.Analyze(prog, vm.Options{Registry: stdlib.Default(), ChunkElems: chunk, StageAbove: above})
	if err != nil {
		t.Fatal(err)
	}
	staged := 0
	for i, k := range prog.Keys {
		switch {
		case an.Chunked[i]:
			staged++
			if k.Peak <= above || an.Peaks[i] >= k.Peak {
				t.Errorf("key %s staged: whole peak %d, staged %d, bound %d", k.Name, k.Peak, an.Peaks[i], above)
			}
		case an.Peaks[i] != k.Peak:
			t.Errorf("key %s whole: admitted with %d, its peak %d", k.Name, an.Peaks[i], k.Peak)
		}
	}
	if staged == 0 {
		t.Fatalf("StageAbove %d (largest peak %d): no key runs staged", above, most)
	}
	// At the smallest bound the small keys, whose Stager's fixed buffers outweigh their whole
	// kernel, stay whole all the same.
	low, err := vm.Analyze(prog, vm.Options{Registry: stdlib.Default(), ChunkElems: chunk, StageAbove: 1})
	if err != nil {
		t.Fatal(err)
	}
	whole := 0
	for i, k := range prog.Keys {
		if !low.Chunked[i] {
			whole++
		} else if low.Peaks[i] >= k.Peak {
			t.Errorf("StageAbove 1: key %s staged at %d, its whole peak %d", k.Name, low.Peaks[i], k.Peak)
		}
	}
	if whole == 0 {
		t.Error("StageAbove 1: every key staged, the small ones too")
	}
	want := runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 2, ChunkElems: -1}, "whole")
	before := vm.StagedKeys.Load()
	for _, mem := range []int64{0, most} {
		got := runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 2, ChunkElems: chunk, StageAbove: above, MaxMemory: mem}, "staged above")
		if got != want {
			t.Errorf("StageAbove %d, --max-memory %d: sha256 %s, whole tensors %s", above, mem, got, want)
		}
	}
	if got := vm.StagedKeys.Load() - before; got < int64(2*staged) {
		t.Errorf("%d keys ran their statistics passes, want %d", got, 2*staged)
	}
}
