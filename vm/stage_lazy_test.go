package vm_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
	"github.com/mechac/mechac/vm"
	"github.com/mechac/mechac/vm/safetensors"
)

// TestLazyBaseBitwise: the output pass of a staged ties_sum whose add_difference is folded in
// leaves the base's chunk unwidened (stage_lazy.go) and gives the bytes of the run that widens
// it at its LOAD (NoLazyBase) and of the whole-tensor run: fine-tunes close to the base (the
// integer vote takes every span from the stored bytes), one far from it in one key (the vote
// declines there and the base is widened), and a base with an inf in one key (the plan omits
// non-finite inputs: the key runs whole, as it did). Both paths run.
func TestLazyBaseBitwise(t *testing.T) {
	dir := t.TempDir()
	keys := map[string][]int{}
	var names []string
	cfg, _ := stdlib.Default().Config("sdxl-sgm")
	shapes := [][]int{{96, 40}, {40, 6}, {3000}, {37}, {16, 16}, {128, 33}}
	for _, k := range cfg.Keys {
		if len(names) == len(shapes) {
			break
		}
		if k.Optional || !k.DType.IsFloat() || k.Component == "scheduler" {
			continue
		}
		keys[k.Name] = shapes[len(names)]
		names = append(names, k.Name)
	}
	far, inf := names[0], names[5]
	rng := rand.New(rand.NewPCG(71, 72))
	bases := map[string][]float64{}
	for _, k := range names {
		b := make([]float64, ops.NumElements(keys[k]))
		for j := range b {
			b[j] = rng.NormFloat64()
		}
		bases[k] = b
	}
	head := "version 0.1.0\n"
	for i := range 6 {
		var outs []safetensors.OutTensor
		for _, k := range names {
			outs = append(outs, safetensors.OutTensor{Name: k, DType: ops.F16, Shape: keys[k]})
		}
		path := filepath.Join(dir, fmt.Sprintf("m%d.safetensors", i))
		w, err := safetensors.Create(path, outs, nil, safetensors.WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range names {
			data := make([]float64, len(bases[k]))
			for j := range data {
				switch {
				case i == 0:
					data[j] = bases[k][j]
				case i == 2 && k == far:
					data[j] = bases[k][j] + 3*rng.NormFloat64()
				default:
					data[j] = bases[k][j] + 0.01*rng.NormFloat64()
				}
			}
			if i == 0 && k == inf {
				data[5] = math.Inf(1)
			}
			if err := w.WriteFloat64(k, data); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		head += fmt.Sprintf("model \"m%d.safetensors\" model_config=\"sdxl-sgm\" merge_space=\"weight\"\n", i)
	}
	src := head + "merge \"subtract\" &1 &0\nmerge \"subtract\" &2 &0\nmerge \"subtract\" &3 &0\nmerge \"subtract\" &4 &0\nmerge \"subtract\" &5 &0\n" +
		"merge \"ties_sum\" &6 &7 &8 &9 &10 k=0.3\nmerge \"add_difference\" &0 &11 alpha=0.6\nmerge \"fallback\" &12 &0\n"
	prog := compile(t, dir, src, "exact", ops.F16)
	whole := runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 1, ChunkElems: -1}, "whole")
	for _, chunk := range []int{64, 1000, 0} {
		run := func(noLazy bool) string {
			return runSum(t, prog, vm.Options{Registry: stdlib.Default(), Jobs: 2, ChunkElems: chunk, NoLazyBase: noLazy},
				fmt.Sprintf("chunk %d, NoLazyBase %v", chunk, noLazy))
		}
		loads, widened := vm.LazyLoads.Load(), vm.LazyWidened.Load()
		got := run(false)
		loads, widened = vm.LazyLoads.Load()-loads, vm.LazyWidened.Load()-widened
		if want := run(true); got != want || got != whole {
			t.Errorf("chunk %d: lazy base %s, widened at the LOAD %s, whole %s", chunk, got, want, whole)
		}
		t.Logf("chunk %d: %d base chunks left unwidened, %d widened later", chunk, loads, widened)
		if loads == 0 || widened == 0 || widened >= loads {
			t.Errorf("chunk %d: %d base chunks left unwidened, %d widened later: want both paths", chunk, loads, widened)
		}
	}
}
