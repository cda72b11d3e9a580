package vm_test

import (
	"slices"
	"testing"

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
	src := dellaRecipe(t, dir, 70, true) +
		fourDeltas +
		"merge \"ties_sum_with_dropout\" &5 &6 &7 &8 probability=0.1 della_eps=-0.1 rescale=false k=1.0 vote_sgn=true " +
		"apply_stock=false cos_eps=1e-06 apply_median=true eps=1e-06 maxiter=100 ftol=1e-20\n" +
		"merge \"isotropic_overrided\" &9 0.8 false true\nmerge \"add_difference\" &0 &10 1.0\nmerge \"fallback\" &11 &1\n"
	prog := compileEra(t, dir, src, "fork-1.0.4")
	reg := dellaEveryKey(t)
	an, err := vm.Analyze(prog, vm.Options{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(an.Chunked, true) {
		t.Fatal("no key runs staged")
	}
	want := runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 2, ChunkElems: -1}, "whole")
	before := vm.HybridKeys.Load()
	checkStagedRuns(t, prog, reg, want)
	if got := vm.HybridKeys.Load() - before; got == 0 {
		t.Error("no key ran staged then whole")
	}
}
