package compiler

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mechac/mechac/lang"
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
)

// sdxlModels is an in-memory ModelSource of n SDXL-shaped models m0..m(n-1) and a base, all
// with the config's keys and shapes; shared says whether they share one tensor table (as the
// CLI's model finder gives models with equal headers) or each has its own.
func sdxlModels(b testing.TB, reg *ops.Registry, n int, shared bool) memModels {
	cfg, ok := reg.Config("sdxl-sgm")
	if !ok {
		b.Fatal("no sdxl-sgm config")
	}
	table := func() map[string]TensorInfo {
		t := make(map[string]TensorInfo, len(cfg.Keys))
		for _, k := range cfg.Keys {
			t[k.Name] = TensorInfo{DType: ops.F16, Shape: k.Shape}
		}
		return t
	}
	m := memModels{}
	one := table()
	for i := -1; i < n; i++ {
		name := fmt.Sprintf("m%d.safetensors", i)
		if i < 0 {
			name = "base.safetensors"
		}
		t := one
		if !shared {
			t = table()
		}
		m[name] = &ModelInfo{Path: name, Size: 1 << 20, HeaderHash: name, Tensors: t}
	}
	return m
}

// manyModelRecipes are the benchmark's recipes (cmd/mechac-bench's): the uniform average of
// n models, and TIES of n deltas against a base with a fallback.
func manyModelRecipes(n int) [][2]string {
	var avg, ties strings.Builder
	avg.WriteString("version 0.1.0\n")
	ties.WriteString("version 0.1.0\nmodel \"base.safetensors\" model_config=\"sdxl-sgm\" merge_space=\"weight\"\n")
	var refs, deltas []string
	for i := range n {
		fmt.Fprintf(&avg, "model \"m%d.safetensors\" model_config=\"sdxl-sgm\" merge_space=\"weight\"\n", i)
		refs = append(refs, fmt.Sprintf("&%d", i))
		fmt.Fprintf(&ties, "model \"m%d.safetensors\" model_config=\"sdxl-sgm\" merge_space=\"weight\"\n", i)
		fmt.Fprintf(&ties, "merge \"subtract\" &%d &0\n", 2*i+1)
		deltas = append(deltas, fmt.Sprintf("&%d", 2*i+2))
	}
	fmt.Fprintf(&avg, "merge \"n_average\" %s", strings.Join(refs, " "))
	fmt.Fprintf(&ties, "merge \"ties_sum\" %s k=0.2\n", strings.Join(deltas, " "))
	fmt.Fprintf(&ties, "merge \"add_difference\" &0 &%d\n", 2*n+1)
	fmt.Fprintf(&ties, "merge \"fallback\" &%d &0", 2*n+2)
	return [][2]string{{"average", avg.String()}, {"ties", ties.String()}}
}

// BenchmarkCompileManyModels: compilation time and allocations against the number of models
// (issue 5: compilation's heap was what grew with N). -benchmem's B/op is the garbage a
// compilation makes; run with -memprofile to see where.
func BenchmarkCompileManyModels(b *testing.B) {
	reg := stdlib.Default()
	for _, n := range []int{8, 32, 128} {
		for _, shared := range []bool{true, false} {
			models := sdxlModels(b, reg, n, shared)
			for _, r := range manyModelRecipes(n) {
				name, src := r[0], r[1]
				f, err := lang.Parse(name+".mecha", []byte(src))
				if err != nil {
					b.Fatal(err)
				}
				b.Run(fmt.Sprintf("%s/N=%d/shared=%t", name, n, shared), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						res, err := Compile(f, Options{Registry: reg, Models: models, RecipeText: src, OutputDType: ops.F16})
						if err != nil {
							b.Fatal(err)
						}
						if len(res.Program.Keys) == 0 {
							b.Fatal("no keys")
						}
					}
				})
			}
		}
	}
}
