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

// TestDellaStagedBitwise: an x215a-shaped recipe (dialect B, era fork-0.0.26: DELLA masks,
// TIES k=1 voting with the signs, the geometric median) runs its large keys staged, a pass per
// delta reading that delta's inputs alone (ops.ArgSelector), and writes the bytes of the
// whole-tensor run for chunk lengths, -j, --max-memory, with and without the staged input
// cache.
func TestDellaStagedBitwise(t *testing.T) {
	dir := t.TempDir()
	keys := testKeys(t, 30)
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names)
	keys[names[4]] = []int{64, 40}  // staged (1024 elements or more)
	keys[names[9]] = []int{37, 41}  // staged, columns past the 16-column blocks
	keys[names[15]] = []int{300, 8} // staged
	src := ""
	for i := range 5 {
		writeModel(t, filepath.Join(dir, fmt.Sprintf("m%d.safetensors", i)), ops.F16, keys, uint64(60+i), nil)
		src += fmt.Sprintf("model \"m%d.safetensors\" \"sdxl\" \"base\"\n", i)
	}
	src += "merge \"subtract\" &1 &0\nmerge \"subtract\" &2 &0\nmerge \"subtract\" &3 &0\nmerge \"subtract\" &4 &0\n" +
		"merge \"ties_sum_with_dropout\" &5 &6 &7 &8 apply_median=1.0 seed=241011 maxiter=100 della_eps=-0.1 " +
		"cos_eps=1e-06 vote_sgn=1.0 rescale=0.0 apply_stock=0.0 k=1.0 ftol=1e-20 probability=0.1 eps=1e-06\n" +
		"merge \"add_difference\" &0 &9 alpha=1.0\n"
	f, err := lang.Parse("x.mecha", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	res, err := compiler.Compile(f, compiler.Options{Registry: stdlib.Default(), Numerics: ops.Exact, OutputDType: ops.F32,
		Models: dirModels(dir), RecipeText: src, Era: "fork-0.0.26"})
	if err != nil {
		t.Fatal(err)
	}
	prog := res.Program
	// Every key staged, however small (by default only those the whole kernel would need a
	// GiB for).
	reg := ops.NewRegistry()
	for _, d := range stdlib.Default().Defs() {
		if d.Name == "ties_sum_with_dropout" && d.Stage != nil && d.Stage.Accepts != nil {
			c, st := *d, *d.Stage
			st.Accepts = nil
			c.Stage = &st
			d = &c
		}
		if err := reg.Register(d); err != nil {
			t.Fatal(err)
		}
	}
	if an, err := vm.Analyze(prog, vm.Options{Registry: stdlib.Default()}); err != nil || slices.Contains(an.Chunked, true) {
		t.Fatalf("default registry: small keys chunked (err %v), want every key whole", err)
	}
	an, err := vm.Analyze(prog, vm.Options{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	staged := 0
	for _, st := range an.Staged {
		if st != nil {
			staged++
		}
	}
	if staged == 0 {
		t.Fatal("no key class runs ties_sum_with_dropout@fork-0.0.26 staged")
	}
	want := runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 2, ChunkElems: -1}, "whole")
	if got := runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 2}, "default"); got != want {
		t.Errorf("default registry: sha256 %s, whole tensors %s", got, want)
	}
	before := vm.SelectedPasses.Load()
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
	// Three staged keys of 4 deltas, a pass per delta each, in every run.
	if got := vm.SelectedPasses.Load() - before; got < 5*3*4 {
		t.Errorf("%d statistics passes read one delta alone, want at least %d", got, 5*3*4)
	}
}
