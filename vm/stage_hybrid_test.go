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
)

// TestHybridStagedBitwise: an x6a-shaped recipe (version 0.1.0, era fork-1.0.4: DELLA masks and
// the median, then isotropic_overrided of the merged delta, add_difference and a fallback)
// stages its ties_sum_with_dropout and runs the rest whole (stage_hybrid.go), and writes the
// bytes of the whole-tensor run for chunk lengths, -j, --max-memory, with and without the input
// cache.
func TestHybridStagedBitwise(t *testing.T) {
	dir := t.TempDir()
	keys := testKeys(t, 24)
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names)
	keys[names[4]] = []int{64, 40}
	keys[names[9]] = []int{37, 41}
	src := "version 0.1.0\n"
	for i := range 5 {
		writeModel(t, filepath.Join(dir, fmt.Sprintf("m%d.safetensors", i)), ops.F16, keys, uint64(70+i), nil)
		src += fmt.Sprintf("model \"m%d.safetensors\" model_config=\"sdxl-sgm\" merge_space=\"weight\"\n", i)
	}
	src += "merge \"subtract\" &1 &0\nmerge \"subtract\" &2 &0\nmerge \"subtract\" &3 &0\nmerge \"subtract\" &4 &0\n" +
		"merge \"ties_sum_with_dropout\" &5 &6 &7 &8 probability=0.1 della_eps=-0.1 rescale=false k=1.0 vote_sgn=true " +
		"apply_stock=false cos_eps=1e-06 apply_median=true eps=1e-06 maxiter=100 ftol=1e-20\n" +
		"merge \"isotropic_overrided\" &9 0.8 false true\nmerge \"add_difference\" &0 &10 1.0\nmerge \"fallback\" &11 &1\n"
	f, err := lang.Parse("x.mecha", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	res, err := compiler.Compile(f, compiler.Options{Registry: stdlib.Default(), Numerics: ops.Exact, OutputDType: ops.F32,
		Models: dirModels(dir), RecipeText: src, Era: "fork-1.0.4"})
	if err != nil {
		t.Fatal(err)
	}
	prog := res.Program
	reg := ops.NewRegistry()
	for _, d := range stdlib.Default().Defs() {
		if d.Name == "ties_sum_with_dropout" && d.Stage != nil && d.Stage.Accepts != nil {
			c, st := *d, *d.Stage
			st.Accepts = nil // every key staged, however small
			c.Stage = &st
			d = &c
		}
		if err := reg.Register(d); err != nil {
			t.Fatal(err)
		}
	}
	an, err := vm.Analyze(prog, vm.Options{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(an.Chunked, true) {
		t.Fatal("no key runs staged")
	}
	want := runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 2, ChunkElems: -1}, "whole")
	before := vm.HybridKeys.Load()
	for _, c := range []struct {
		chunk, jobs int
		mem         int64
		noCache     bool
	}{{7, 1, 0, false}, {64, 2, 0, false}, {0, 2, 0, false}, {100, 2, 0, true}, {5, 2, 4096, false}} {
		got := runSum(t, prog, vm.Options{Registry: reg, Jobs: c.jobs, ChunkElems: c.chunk, MaxMemory: c.mem,
			NoStageCache: c.noCache}, fmt.Sprint(c))
		if got != want {
			t.Errorf("chunk %d -j %d --max-memory %d no cache %v: sha256 %s, whole tensors %s", c.chunk, c.jobs, c.mem, c.noCache, got, want)
		}
	}
	if got := vm.HybridKeys.Load() - before; got == 0 {
		t.Error("no key ran staged then whole")
	}
}
