package stdlib

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/opstest"
	"github.com/mechac/mechac/ops/rng"
)

// TestHistoryResolution: each old name resolves, era by era, to the definition of its era, and
// names sd-mecha 1.1.5 no longer has do not resolve today.
func TestHistoryResolution(t *testing.T) {
	reg := Default()
	cases := []struct {
		name string
		want map[string]string // era ID -> FullName ("" = does not resolve)
	}{
		{"clip", map[string]string{"0.0.4": "clip@0.0.x", "0.0.9": "clip@0.0.x", "fork-0.0.12": "clip@0.0.x", "1.0": "", "1.1.5": ""}},
		{"copy_region", map[string]string{"0.0.4": "copy_region@0.0.x", "0.0.9": "copy_region@0.0.x", "1.0": "", "1.1.5": ""}},
		{"copy_top_k", map[string]string{"0.0.4": "copy_top_k@0.0.x", "1.0": "", "1.1.5": ""}},
		{"copy_difference", map[string]string{"0.0.4": "copy_difference@0.0.x", "1.0": "", "1.1.5": ""}},
		{"train_difference", map[string]string{
			"0.0.9": "train_difference@0.0.9", "0.0.29": "train_difference@0.0.x",
			"fork-0.0.12": "train_difference@fork-0.0.12", "fork-0.0.13": "train_difference@fork-0.0.13",
			"fork-0.0.19": "train_difference@fork-0.0.19", "fork-0.0.26": "train_difference@0.0.x",
			"1.0": "", "fork-1.0.4": "", "1.1.5": ""}},
		{"add_opposite", map[string]string{"0.0.29": "add_opposite@0.0.x", "fork-0.0.26": "add_opposite@0.0.x", "1.0": "", "1.1.5": ""}},
		{"clamped_add_opposite", map[string]string{"0.0.29": "clamped_add_opposite@0.0.x", "1.0": "", "1.1.5": ""}},
		{"select_max_delta", map[string]string{"0.0.29": "select_max_delta@0.0.x", "1.0": "select_max_delta@1.0", "fork-1.0.9": "select_max_delta@1.0", "1.1.5": ""}},
		{"select_max_white_delta", map[string]string{"1.0": "select_max_white_delta@1.0", "fork-1.0.4": "select_max_white_delta@1.0", "1.1.5": ""}},
		{"copy_distribution", map[string]string{"1.0": "copy_distribution@1.0", "1.1.5": ""}},
		{"distribution_crossover", map[string]string{
			"0.0.4": "distribution_crossover@0.0.4", "0.0.9": "distribution_crossover@0.0.9",
			"fork-0.0.12": "distribution_crossover@fork-0.0.12", "fork-0.0.13": "distribution_crossover@fork-0.0.13",
			"0.0.29": "distribution_crossover@0.0.x", "fork-0.0.26": "distribution_crossover@0.0.x",
			"1.0": "", "1.1.5": ""}},
		{"multiply_difference", map[string]string{"0.0.4": "multiply_difference@0.0.4", "0.0.9": "", "1.1.5": ""}},
		{"similarity_add_difference", map[string]string{"0.0.4": "similarity_add_difference@0.0.x", "1.0": "", "1.1.5": ""}},
		{"similarity_sum", map[string]string{"0.0.4": "similarity_sum@0.0.x", "1.0": "", "1.1.5": ""}},
		{"normalized_similarity_sum", map[string]string{"0.0.9": "normalized_similarity_sum@0.0.x", "1.0": "", "1.1.5": ""}},
		{"model_stock_for_tensor", map[string]string{"0.0.29": "model_stock_for_tensor@0.0.x", "fork-0.0.19": "model_stock_for_tensor@0.0.x", "1.0": "", "1.1.5": ""}},
		{"n_average", map[string]string{"0.0.29": "n_average@0.0.x", "fork-0.0.26": "n_average@0.0.x", "1.0": "n_average", "1.1.5": "n_average"}},
		// clamp: the midrange up to 0.0.24 (the 0.0.5 .. 0.0.18 eras and the fork's eras on
		// 0.0.12 .. 0.0.19; 0.0.4 before the name existed), the mean from 0.0.25 (0.0.29, fork 0.0.26).
		{"clamp", map[string]string{
			"0.0.4": "clamp@0.0.x", "0.0.5": "clamp@0.0.x", "0.0.9": "clamp@0.0.x", "0.0.29": "clamp@0.0.29",
			"fork-0.0.12": "clamp@0.0.x", "fork-0.0.13": "clamp@0.0.x", "fork-0.0.19": "clamp@0.0.x",
			"fork-0.0.26": "clamp@fork-0.0.26", "fork-0.0.26-hotfix": "clamp@fork-0.0.26-hotfix",
			"1.0": "clamp", "fork-1.0.9": "clamp", "1.1.5": "clamp"}},
		{"add_cosine_a", map[string]string{
			"0.0.4": "add_cosine_a@0.0.x", "0.0.9": "add_cosine_a@0.0.x", "0.0.29": "add_cosine_a@0.0.x",
			"fork-0.0.12": "add_cosine_a@0.0.x", "fork-0.0.26-hotfix": "add_cosine_a@0.0.x", "1.0": "add_cosine_a", "1.1.5": "add_cosine_a"}},
		{"add_cosine_b", map[string]string{
			"0.0.5": "add_cosine_b@0.0.x", "0.0.29": "add_cosine_b@0.0.x", "fork-0.0.19": "add_cosine_b@0.0.x",
			"1.0": "add_cosine_b", "fork-1.0.4": "add_cosine_b", "1.1.5": "add_cosine_b"}},
		// add_difference: default alpha 0.5 up to 0.0.16 and the fork's 01823a9, 1.0 from
		// 6abe8ac (0.0.18) and the fork's 3360d18 (TestEraDefaults checks the defaults).
		{"add_difference", map[string]string{
			"0.0.4": "add_difference@0.0.4", "0.0.5": "add_difference@0.0.9", "0.0.9": "add_difference@0.0.9",
			"fork-0.0.12": "add_difference@fork-0.0.12", "fork-0.0.13": "add_difference@fork-0.0.13",
			"fork-0.0.19": "add_difference@0.0.x", "0.0.29": "add_difference@0.0.x", "fork-0.0.26": "add_difference@0.0.x",
			"fork-0.0.26-hotfix": "add_difference@0.0.x", "1.0": "add_difference", "fork-1.0.4": "add_difference", "1.1.5": "add_difference"}},
		{"weighted_sum", map[string]string{
			"0.0.4": "weighted_sum@0.0.x", "0.0.5": "weighted_sum@0.0.x", "0.0.9": "weighted_sum@0.0.x", "0.0.29": "weighted_sum@0.0.x",
			"fork-0.0.12": "weighted_sum@0.0.x", "fork-0.0.26-hotfix": "weighted_sum@0.0.x", "1.0": "weighted_sum", "1.1.5": "weighted_sum"}},
		// rotate: alpha/beta in 8259d55 .. e0305da (two edge-rule variants), alignment/alpha from 165704a.
		{"rotate", map[string]string{
			"0.0.4": "rotate@0.0.4", "0.0.5": "rotate@0.0.5", "0.0.9": "rotate@0.0.x", "0.0.29": "rotate@0.0.x",
			"fork-0.0.12": "rotate@0.0.x", "fork-0.0.26": "rotate@0.0.x", "1.0": "rotate", "fork-1.0.9": "rotate", "1.1.5": "rotate"}},
	}
	for _, tc := range cases {
		for id, want := range tc.want {
			e, ok := reg.Era(id)
			if !ok {
				t.Fatalf("no era %s", id)
			}
			d, ok := reg.LookupIn(tc.name, e)
			got := ""
			if ok {
				got = d.FullName()
			}
			if got != want {
				t.Errorf("%s in era %s: got %q, want %q", tc.name, id, got, want)
			}
		}
		if tc.want["1.1.5"] == "" {
			if d, ok := reg.LookupIn(tc.name, nil); ok {
				t.Errorf("%s resolves today to %s; sd-mecha 1.1.5 has no such method", tc.name, d.FullName())
			}
		}
	}
}

// TestEraOfCommit: sd-mecha 0.0.5's commits have their own era (rotate's alpha/beta), the
// 0.0.6 .. 0.0.18 ones the 0.0.9 era.
func TestEraOfCommit(t *testing.T) {
	reg := Default()
	for commit, want := range map[string]string{
		"953313a": "0.0.5", "e0305da": "0.0.5", "be45b2c": "0.0.9", "feefbf4": "0.0.9", "60d0764": "0.0.4",
	} {
		if e, ok := reg.Era(commit); !ok || e.ID != want {
			t.Errorf("commit %s: got era %v, want %s", commit, e, want)
		}
	}
}

// TestEraDefaults: the default of each keyword-only parameter of a 0.0.x definition in every
// era, as read from the sd-mecha (and fork) source of the era's commits: which value a recipe
// that leaves the keyword out gets. "-" means required (no default).
func TestEraDefaults(t *testing.T) {
	reg := Default()
	cases := []struct {
		name, param string
		want        map[string]string // era ID -> default, formatted with %v
	}{
		// 6abe8ac "add difference default to 1.0" (in 0.0.18); the fork merged it at 3360d18.
		{"add_difference", "alpha", map[string]string{
			"0.0.4": "0.5", "0.0.5": "0.5", "0.0.9": "0.5", "fork-0.0.12": "0.5", "fork-0.0.13": "0.5",
			"fork-0.0.19": "1", "0.0.29": "1", "fork-0.0.26": "1", "fork-0.0.26-hotfix": "1", "1.0": "1", "1.1.5": "1"}},
		{"weighted_sum", "alpha", map[string]string{
			"0.0.4": "0.5", "0.0.5": "0.5", "0.0.9": "0.5", "fork-0.0.12": "0.5", "fork-0.0.19": "0.5", "0.0.29": "0.5"}},
		{"train_difference", "alpha", map[string]string{"0.0.9": "1", "fork-0.0.13": "1", "0.0.29": "1"}},
		{"add_opposite", "alpha", map[string]string{"0.0.29": "1", "fork-0.0.26": "1"}},
		{"clamped_add_opposite", "alpha", map[string]string{"0.0.29": "1"}},
		{"select_max_delta", "alpha", map[string]string{"0.0.29": "0.5"}},
		{"copy_region", "width", map[string]string{"0.0.4": "-", "0.0.5": "-"}},
		{"copy_top_k", "offset", map[string]string{"0.0.4": "-", "0.0.5": "-"}},
		{"similarity_add_difference", "alpha", map[string]string{"0.0.4": "-", "0.0.5": "-"}},
		{"similarity_add_difference", "similarity_scale", map[string]string{"0.0.4": "1", "0.0.5": "1"}},
		{"multiply_difference", "sign_alpha", map[string]string{"0.0.4": "-"}},
		{"distribution_crossover", "tilt", map[string]string{"0.0.4": "-", "0.0.9": "-", "0.0.29": "-"}},
		{"distribution_crossover", "mean", map[string]string{"0.0.4": "-", "0.0.9": "-", "fork-0.0.12": "-"}},
		{"distribution_crossover", "alpha", map[string]string{"0.0.29": "-", "fork-0.0.26": "-"}},
		{"model_stock_for_tensor", "cos_eps", map[string]string{"0.0.29": "1e-06"}},
		{"clip", "stiffness", map[string]string{"0.0.4": "0", "0.0.9": "0"}},
		{"clamp", "stiffness", map[string]string{"0.0.9": "0", "0.0.29": "0", "fork-0.0.26": "0"}},
		{"add_cosine_a", "alpha", map[string]string{"0.0.9": "-", "0.0.29": "-"}},
		{"rotate", "beta", map[string]string{"0.0.4": "-", "0.0.5": "-"}},
		{"rotate", "alignment", map[string]string{"0.0.9": "1", "0.0.29": "1", "fork-0.0.12": "1"}},
		{"rotate", "alpha", map[string]string{"0.0.4": "-", "0.0.5": "-", "0.0.9": "0", "0.0.29": "0"}},
		// top_k_tensor_sum: 0.5 through 0.0.29, 1.0 from 0.1.0.
		{"top_k_tensor_sum", "width", map[string]string{
			"0.0.9": "0.5", "0.0.29": "0.5", "fork-0.0.12": "0.5", "fork-0.0.26-hotfix": "0.5", "1.0": "1", "1.1.5": "1"}},
		{"slerp", "alpha", map[string]string{"0.0.4": "0.5", "0.0.9": "0.5", "0.0.29": "0.5", "fork-0.0.26": "0.5"}},
		{"tensor_sum", "width", map[string]string{"0.0.9": "0.5", "0.0.29": "0.5", "1.1.5": "0.5"}},
		// crossover: mean/tilt required in 0d1b193 .. e0305da, defaults from 165704a, alpha from 0.0.14.
		{"crossover", "mean", map[string]string{"0.0.4": "-", "0.0.5": "-", "0.0.9": "0.5", "fork-0.0.12": "0.5", "fork-0.0.13": "0.5"}},
		{"crossover", "tilt", map[string]string{"0.0.4": "-", "0.0.5": "-", "0.0.9": "0", "fork-0.0.13": "0", "0.0.29": "0"}},
		{"crossover", "alpha", map[string]string{"0.0.29": "0.5", "fork-0.0.19": "0.5", "fork-0.0.26": "0.5", "1.1.5": "0.5"}},
	}
	for _, tc := range cases {
		for id, want := range tc.want {
			e, ok := reg.Era(id)
			if !ok {
				t.Fatalf("no era %s", id)
			}
			d, ok := reg.LookupIn(tc.name, e)
			if !ok {
				t.Errorf("%s does not resolve in era %s", tc.name, id)
				continue
			}
			got, found := "", false
			for _, p := range append(slices.Clone(d.Params), d.KwOnly...) {
				if p.Name != tc.param {
					continue
				}
				found, got = true, "-"
				if p.Default != nil {
					x, _ := p.Default.Float64()
					got = fmt.Sprint(x)
				}
			}
			if !found {
				t.Errorf("%s in era %s: no parameter %s", d.FullName(), id, tc.param)
			} else if got != want {
				t.Errorf("%s in era %s: default of %s = %s, want %s", d.FullName(), id, tc.param, got, want)
			}
		}
	}
}

// TestAddDifferenceEraValues runs each add_difference definition with its default alpha on
// hand-derived values: a + 0.5·b before 0.0.18, a + b after.
func TestAddDifferenceEraValues(t *testing.T) {
	reg := Default()
	a, b := hvec(1, -2, 0.25), hvec(3, 0.5, -1)
	for era, want := range map[string][]float64{
		"0.0.4": {2.5, -1.75, -0.25}, "0.0.9": {2.5, -1.75, -0.25}, "fork-0.0.13": {2.5, -1.75, -0.25},
		"0.0.29": {4, -1.5, -0.75}, "fork-0.0.26": {4, -1.5, -0.75},
	} {
		e, _ := reg.Era(era)
		d, ok := reg.LookupIn("add_difference", e)
		if !ok {
			t.Fatalf("add_difference does not resolve in %s", era)
		}
		got := runHist(t, d, []ops.Value{a, b}, nil, []ops.Value{*d.KwOnly[0].Default})
		if !slices.Equal(got, want) {
			t.Errorf("%s in era %s: got %v, want %v", d.FullName(), era, got, want)
		}
	}
}

// TestTopKTensorSum00x: the 0.0.x default width 0.5 against today's 1.0 on a hand-derived
// case. a = [1, -4, 2, 3] sorts to [-4, 1, 2, 3]; b = [10, 30, 20, 40] ranks its elements
// 0, 2, 1, 3, so element i is offered sorted(a)[rank_b(i)] = -4, 2, 1, 3. width 0.5 keeps the
// band |x| <= kth(2) of |a| = 2: elements 1 and 2 take 2 and 1; width 1 takes every offer.
func TestTopKTensorSum00x(t *testing.T) {
	reg := Default()
	a, b := hvec(1, -4, 2, 3), hvec(10, 30, 20, 40)
	e, _ := reg.Era("0.0.9")
	old, _ := reg.LookupIn("top_k_tensor_sum", e)
	if got, want := runHist(t, old, []ops.Value{a, b}, nil, []ops.Value{*old.KwOnly[0].Default, *old.KwOnly[1].Default}), []float64{1, 2, 1, 3}; !slices.Equal(got, want) {
		t.Errorf("%s with defaults: got %v, want %v", old.FullName(), got, want)
	}
	today, _ := reg.LookupIn("top_k_tensor_sum", nil)
	if got, want := runHist(t, today, []ops.Value{a, b, *today.Params[2].Default, *today.Params[3].Default}, nil, nil), []float64{-4, 2, 1, 3}; !slices.Equal(got, want) {
		t.Errorf("%s with defaults: got %v, want %v", today.FullName(), got, want)
	}
}

// TestCrossoverOld: crossover's 0.0.x `mean` definitions run their own kernel, not today's
// (which would drop `mean`): its shortcuts, its trained filter (whose mean is `mean`), and its
// batch over the first dimension, against a direct computation with rfftn and the filter.
func TestCrossoverOld(t *testing.T) {
	reg := Default()
	for _, id := range []string{"0.0.4", "0.0.5", "0.0.9", "fork-0.0.12", "fork-0.0.13"} {
		e, _ := reg.Era(id)
		d, ok := reg.LookupIn("crossover", e)
		if !ok || d.Pending != "" || d.Kernel == nil || d.KwOnly[0].Name != "mean" {
			t.Errorf("crossover in era %s: got %v, want a kernel with keyword mean", id, d)
		}
	}
	e, _ := reg.Era("0.0.9")
	d, _ := reg.LookupIn("crossover", e)
	rng := rand.New(rand.NewPCG(41, 42))
	run := func(a, b []float64, shape []int, mean, tilt float64) []float64 {
		t.Helper()
		out := make([]float64, len(a))
		c := &ops.Call{Key: "k", Numerics: ops.SDMecha,
			Args: []ops.Value{ops.TensorValue(&ops.Tensor{Shape: shape, Data: a, DType: ops.F64}),
				ops.TensorValue(&ops.Tensor{Shape: shape, Data: b, DType: ops.F64})},
			Kw:  []ops.Value{ops.Float(mean), ops.Float(tilt)},
			Out: &ops.Tensor{Shape: shape, Data: out, DType: ops.F64}}
		if err := d.Kernel(c); err != nil {
			t.Fatal(err)
		}
		return out
	}
	randn := func(n int) []float64 {
		x := make([]float64, n)
		for i := range x {
			x[i] = rng.NormFloat64()
		}
		return x
	}
	a, b := randn(12), randn(12)
	if got := run(a, b, []int{3, 4}, 0, 0.3); !slices.Equal(got, a) {
		t.Errorf("mean 0: %v, want a", got)
	}
	for i, v := range run(a, b, []int{3, 4}, 0.3, 1) {
		if v != ws00x(a[i], b[i], 0.3) {
			t.Fatalf("tilt 1: [%d] = %v, want ws(a, b, mean)", i, v)
		}
	}
	near := slices.Clone(a)
	near[5] += 1e-9 // equal in float16
	for i, v := range run(a, near, []int{3, 4}, 0.3, 0.25) {
		if v != ws00x(a[i], near[i], 0.25) {
			t.Fatalf("allclose in float16: [%d] = %v, want ws(a, b, tilt)", i, v)
		}
	}
	// The sharp cut is a threshold of the mesh, which runs from 0 to 1 (the radial mean of the
	// squared linspaces). In one dimension the training reaches `mean` within an element; in
	// more the fixed-point step overshoots (the filter's mean moves faster than its offset)
	// and, as in the source, the 100 steps end where they end.
	for _, shape := range [][]int{{700}, {50, 40}, {30, 40, 50}} {
		mesh := trainedFilterMesh(shape)
		if mesh[0] != 0 || mesh[len(mesh)-1] != 1 {
			t.Errorf("%v: mesh from %v to %v, want 0 to 1", shape, mesh[0], mesh[len(mesh)-1])
		}
		f, err := trainedFilter(shape, 0.37, 0)
		if err != nil {
			t.Fatal(err)
		}
		lo1, hi0 := float32(2), float32(-1) // the least mesh value cut in, the largest left out
		ones := 0.0
		for i, v := range f {
			if v == 1 {
				lo1 = min(lo1, mesh[i])
				ones++
			} else {
				hi0 = max(hi0, mesh[i])
			}
		}
		if hi0 >= lo1 {
			t.Errorf("%v: not a threshold of the mesh (%v left out, %v cut in)", shape, hi0, lo1)
		}
		if n := float64(len(f)); len(shape) == 1 && math.Abs(ones/n-0.37) > 1/n {
			t.Errorf("%v: filter mean %v, want 0.37", shape, ones/n)
		}
	}
	// Direct: the whole tensor, or the rows of a batched one, each mixed with its part of the
	// filter of the spectrum's shape (batch included).
	direct := func(a, b []float64, shape []int, batch int, batched bool, mean, tilt float64) []float64 {
		per := len(a) / batch
		out := make([]float64, len(a))
		var filter []float32
		for r := range batch {
			fa, cshape := rfftn(a[r*per:(r+1)*per], shape)
			fb, _ := rfftn(b[r*per:(r+1)*per], shape)
			if filter == nil {
				fs := cshape
				if batched {
					fs = append([]int{batch}, cshape...)
				}
				filter, _ = trainedFilter(fs, mean, tilt)
			}
			for i := range fa {
				w := float64(filter[r*len(fa)+i])
				fa[i] = complex((1-w)*real(fa[i])+w*real(fb[i]), (1-w)*imag(fa[i])+w*imag(fb[i]))
			}
			irfftn(out[r*per:(r+1)*per], fa, shape)
		}
		return out
	}
	for _, tc := range []struct {
		shape, inner []int
		batch        int
		batched      bool
	}{
		{[]int{6, 10}, []int{6, 10}, 1, false},
		{[]int{40001, 3}, []int{3}, 40001, true},         // past 40000 rows: batched
		{[]int{2, 3, 3, 3}, []int{3, 3, 3}, 2, true},     // a 3x3 kernel: batched
		{[]int{1, 3, 3, 3}, []int{3, 3, 3}, 1, true},     // one output channel: a batch of one
		{[]int{4, 3, 1, 1}, []int{4, 3, 1, 1}, 1, false}, // a 1x1 kernel: every dimension
	} {
		n := ops.NumElements(tc.shape)
		a, b := randn(n), randn(n)
		for _, tilt := range []float64{0, 0.4} {
			got := run(a, b, tc.shape, 0.6, tilt)
			want := direct(a, b, tc.inner, tc.batch, tc.batched, 0.6, tilt)
			for i := range got {
				if math.Abs(got[i]-want[i]) > 1e-12*(1+math.Abs(want[i])) {
					t.Fatalf("%v tilt %v: [%d] = %v, direct %v", tc.shape, tilt, i, got[i], want[i])
				}
			}
		}
	}
}

// TestSlerp00x: slerp before 0.0.10 rotated the unnormalised tensors, 0.0.12 on the unit ones.
// a = (3, 4), b = (4, 3): |a| = |b| = 5, dot = 0.96, ω = acos 0.96, α = 0.5 gives
// (u + v)·sin(ω/2)/sin ω·5 = (u + v)·5/(2cos(ω/2)), cos(ω/2) = sqrt(0.98) = 0.7·sqrt 2: with
// u + v = a + b = (7, 7) that is 25/sqrt 2 each, with the unit vectors (1.4, 1.4) 5/sqrt 2. Parallel
// tensors (dot = 1) give ws(a, b, α) in both.
func TestSlerp00x(t *testing.T) {
	reg := Default()
	for _, tc := range []struct {
		era     string
		want    string
		a, b    ops.Value
		alpha   float64
		outWant []float64
	}{
		{"0.0.4", "slerp@0.0.4", hvec(3, 4), hvec(4, 3), 0.5, []float64{25 / math.Sqrt2, 25 / math.Sqrt2}},
		{"0.0.5", "slerp@0.0.9", hvec(3, 4), hvec(4, 3), 0.5, []float64{25 / math.Sqrt2, 25 / math.Sqrt2}},
		{"0.0.9", "slerp@0.0.9", hvec(3, 4), hvec(4, 3), 0.5, []float64{25 / math.Sqrt2, 25 / math.Sqrt2}},
		{"fork-0.0.12", "slerp@0.0.x", hvec(3, 4), hvec(4, 3), 0.5, []float64{5 / math.Sqrt2, 5 / math.Sqrt2}},
		{"0.0.29", "slerp@0.0.x", hvec(3, 4), hvec(4, 3), 0.5, []float64{5 / math.Sqrt2, 5 / math.Sqrt2}},
		{"0.0.9", "slerp@0.0.9", hvec(1, 2), hvec(2, 4), 0.25, []float64{1.25, 2.5}},
		{"0.0.29", "slerp@0.0.x", hvec(1, 2), hvec(2, 4), 0.25, []float64{1.25, 2.5}},
	} {
		e, _ := reg.Era(tc.era)
		d, ok := reg.LookupIn("slerp", e)
		if !ok || d.FullName() != tc.want {
			t.Fatalf("slerp in era %s: got %v, want %s", tc.era, d, tc.want)
		}
		got := runHist(t, d, []ops.Value{tc.a, tc.b}, nil, []ops.Value{ops.Float(tc.alpha)})
		for i := range got {
			if math.Abs(got[i]-tc.outWant[i]) > 1e-13*math.Abs(tc.outWant[i]) {
				t.Errorf("%s in era %s: got %v, want %v", tc.want, tc.era, got, tc.outWant)
				break
			}
		}
	}
}

func hvec(xs ...float64) ops.Value { return opstest.T([]int{len(xs)}, xs...) }

// runDef runs d on the arguments in exact numerics and returns the output.
func runHist(t *testing.T, d *ops.Def, args, vars, kw []ops.Value) []float64 {
	t.Helper()
	c := &ops.Call{Numerics: ops.Exact, Args: args, Var: vars, Kw: kw}
	if err := opstest.Run(d, c); err != nil {
		t.Fatalf("%s: %v", d.FullName(), err)
	}
	return c.Out.Data
}

func nearHist(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	for i := range got {
		if !(math.Abs(got[i]-want[i]) <= tol) && !(math.IsNaN(got[i]) && math.IsNaN(want[i])) {
			t.Fatalf("%s: got %v, want %v", what, got, want)
		}
	}
}

func TestHistoryElementwise(t *testing.T) {
	f := ops.Float
	kw := func(vs ...float64) []ops.Value {
		out := make([]ops.Value, len(vs))
		for i, v := range vs {
			out[i] = f(v)
		}
		return out
	}
	third := 2.0 / 3
	// clip: bounds 0, 0, 4, 10: midrange 5 (the mean would be 3.5). stiffness 1: hi = the
	// smallest bound >= 5 = 10, lo = the largest bound <= 5 = 4 (today's clamp: 4 and 0).
	bounds := []ops.Value{hvec(0, 0, 0), hvec(0, 0, 0), hvec(4, 4, 4), hvec(10, 10, 10)}
	opstest.Check(t, clip00x, opstest.Spec{
		Hypers: map[string]ops.Value{"stiffness": f(0.3)},
		Cases: []opstest.Case{
			{Name: "midrange", Args: []ops.Value{hvec(20, -1, 7)}, Var: bounds, Kw: kw(1), Want: []float64{10, 4, 7}},
			{Name: "stiffness 0", Args: []ops.Value{hvec(20, -1, 7)}, Var: bounds, Want: []float64{10, 0, 7}},
			{Name: "no bounds", Args: []ops.Value{hvec(1)}, Shape: []int{1}, WantErr: "no bounds"},
		},
	})
	if got := runHist(t, clampDef, []ops.Value{hvec(20, -1, 7)}, bounds, kw(1)); got[0] != 4 || got[1] != 0 {
		t.Errorf("today's clamp with the same bounds should pull toward the mean: %v", got)
	}
	opstest.Check(t, copyDifference00x, opstest.Spec{Cases: []opstest.Case{
		// a=3, b=1, c=0: |b-c| = 1, |b-a| = 2: sign(1)·(2/3)·|2|·1.8.
		{Name: "value", Args: []ops.Value{hvec(3, 1, 5), hvec(1, 1, 5), hvec(0, 1, 5)},
			Want: []float64{float64(float64(1*third)*2) * 1.8, 0, 0}},
	}})
	opstest.Check(t, eraDef(t, "train_difference@0.0.9"), opstest.Spec{Cases: []opstest.Case{
		// (c-a)(b-c)/max² = 1 -> a + 1; -1 -> clamped to 0 -> a; 0/0 -> 0 -> a.
		{Name: "value", Args: []ops.Value{hvec(1, 3, 2), hvec(3, 3, 2), hvec(2, 2, 2)}, Want: []float64{2, 3, 2}},
		{Name: "alpha", Args: []ops.Value{hvec(1), hvec(3), hvec(2)}, Kw: kw(0.5), Want: []float64{1.5}},
	}})
	opstest.Check(t, trainDifference00x, opstest.Spec{Cases: []opstest.Case{
		// |b-a| = 2, |b-c| = 1: mask 1.8·2/3; 0/0 -> 0.
		{Name: "value", Args: []ops.Value{hvec(1, 2), hvec(3, 2), hvec(2, 2)}, Want: []float64{1 + 1.8*third, 2}},
	}})
	opstest.Check(t, addOpposite00x, opstest.Spec{Cases: []opstest.Case{
		// |a-b| = 2, |a+b-2c| = 4: mask 2·2/6; a + 3·mask = 3.
		{Name: "value", Args: []ops.Value{hvec(1, 2), hvec(3, 2), hvec(0, 2)}, Want: []float64{1 + 3*(2*(2.0/6)), 2}},
	}})
	opstest.Check(t, clampedAddOpposite00x, opstest.Spec{Cases: []opstest.Case{
		{Name: "value", Args: []ops.Value{hvec(1, 3), hvec(3, 3), hvec(2, 2)}, Kw: kw(0.5), Want: []float64{2, 3}},
	}})
	opstest.Check(t, multiplyDifference004, opstest.Spec{
		Hypers: map[string]ops.Value{"alpha": f(0.5), "sign_alpha": f(0.3)},
		Cases: []opstest.Case{
			// sqrt(4·9) = 6 with the sign of 0.5·4 + 0.5·(-9) = -2.5; sign_alpha 0: a's sign.
			{Name: "value", Args: []ops.Value{hvec(4, 4), hvec(-9, -9)}, Kw: []ops.Value{f(0.5), f(0.5)}, Want: []float64{-6, -6}},
			{Name: "sign of a", Args: []ops.Value{hvec(4), hvec(-9)}, Kw: []ops.Value{f(0.5), f(0)}, Want: []float64{6}},
		},
	})
	opstest.Check(t, similarityAddDifference00x, opstest.Spec{
		Hypers: map[string]ops.Value{"alpha": f(0.7)},
		Cases: []opstest.Case{
			// (1,1): s = 1 -> the half weighted sum 1; (0,0): s = NaN -> 1 -> 0; (1,-1): s = 0 ->
			// a + b = 0; (2,-1): s = (-2/4 + 1)/2 = 0.25 -> 0.75·1 + 0.25·0.5.
			{Name: "value", Args: []ops.Value{hvec(1, 0, 1, 2), hvec(1, 0, -1, -1)}, Kw: kw(1),
				Want: []float64{1, 0, 0, 0.875}},
		},
	})
	opstest.Check(t, nAverage00x, opstest.Spec{Cases: []opstest.Case{
		{Name: "mean", Var: []ops.Value{hvec(1, 2), hvec(3, 4), hvec(5, 9)}, Want: []float64{3, 5}},
	}})
}

func TestHistoryWholeTensor(t *testing.T) {
	f := ops.Float
	// copy_region = tensor_sum: rows [1, 3) of 4 from b.
	a4 := opstest.T([]int{4, 2}, 1, 1, 2, 2, 3, 3, 4, 4)
	b4 := opstest.T([]int{4, 2}, 5, 5, 6, 6, 7, 7, 8, 8)
	opstest.Check(t, copyRegion00x, opstest.Spec{
		Hypers: map[string]ops.Value{"width": f(0.5), "offset": f(0.25)},
		Cases: []opstest.Case{{Name: "rows", Args: []ops.Value{a4, b4}, Kw: []ops.Value{f(0.5), f(0.25)},
			Want: []float64{1, 1, 6, 6, 7, 7, 4, 4}}},
	})
	// copy_top_k: sorted a = [-4, -2, 1, 3], b's ranks give element i the values 3, 1, -2, -4;
	// the band is (kth(1), kth(3)] = (1, 3]: the value 1 is outside (today's band [1, 3] takes it).
	wo := []ops.Value{f(0.5), f(0.25)}
	opstest.Check(t, copyTopK00x, opstest.Spec{
		Hypers: map[string]ops.Value{"width": f(0.5), "offset": f(0.25)},
		Cases: []opstest.Case{{Name: "strict", Args: []ops.Value{hvec(1, -2, 3, -4), hvec(4, 3, 2, 1)}, Kw: wo,
			Want: []float64{3, -2, -2, -4}}},
	})
	if got := runHist(t, topKTensorSum, []ops.Value{hvec(1, -2, 3, -4), hvec(4, 3, 2, 1), f(0.5), f(0.25)}, nil, nil); got[1] != 1 {
		t.Errorf("top_k_tensor_sum's band is closed: got %v", got)
	}
	// select_max_delta: z(a) = ±√(3)/2; 0.0.x: z(b) = b/std = [2, 0, 0, 0]; 1.0: (b - 1)/2 =
	// [1.5, -0.5, -0.5, -0.5]. alpha 0.7: 0.3·0.866 against 0.7·|z(b)|.
	ad, bd := hvec(1, -1, 1, -1), hvec(4, 0, 0, 0)
	opstest.Check(t, selectMaxDelta00x, opstest.Spec{Cases: []opstest.Case{
		{Name: "std", Args: []ops.Value{ad, bd}, Kw: []ops.Value{f(0.7)}, Want: []float64{4, -1, 1, -1}},
		{Name: "tie picks a", Args: []ops.Value{ad, hvec(2, -2, 2, -2)}, Want: []float64{1, -1, 1, -1}},
	}})
	opstest.Check(t, selectMaxDelta10, opstest.Spec{Cases: []opstest.Case{
		{Name: "standardised", Args: []ops.Value{ad, bd, f(0.7)}, Want: []float64{4, 0, 0, 0}},
		// a constant tensor: 0/0 -> 0, so b wins wherever alpha·|z(b)| > 0, and a where z(b) = 0.
		{Name: "constant a", Args: []ops.Value{hvec(3, 3, 3, 3), bd}, Want: []float64{4, 0, 0, 0}},
		{Name: "constant b", Args: []ops.Value{bd, hvec(3, 3, 3, 3)}, Want: []float64{4, 0, 0, 0}},
		{Name: "constant both", Args: []ops.Value{hvec(3, 3), hvec(5, 5)}, Want: []float64{3, 3}},
	}})
	// similarity sums on one column: a = [1, 0], b = [1, 1]: cosine 1/√2 (both kinds), alpha 0.5:
	// k = 1 - (1/√2 - 0.5), blended as (1-k)·a + k·b (not lerp).
	a2, b2 := opstest.T([]int{2, 1}, 1, 0), opstest.T([]int{2, 1}, 1, 1)
	k := 1 - (1/math.Sqrt2 - 0.5)
	want := []float64{(1-k)*1 + k*1, k}
	for _, d := range []*ops.Def{normalizedSimilaritySum00x, similaritySum00x} {
		nearHist(t, d.FullName(), runHist(t, d, []ops.Value{a2, b2}, nil, []ops.Value{f(0.5)}), want, 1e-15)
		opstest.Check(t, d, opstest.Spec{Hypers: map[string]ops.Value{"alpha": f(0.3)}, Cases: []opstest.Case{
			// orthogonal columns: similarity 0, alpha 0 -> k = 1 -> b; identical: k = 0 -> a.
			{Name: "orthogonal", Args: []ops.Value{opstest.T([]int{2, 1}, 1, 0), opstest.T([]int{2, 1}, 0, 1)}, Kw: []ops.Value{f(0)}, Want: []float64{0, 1}},
			{Name: "same", Args: []ops.Value{a2, a2}, Kw: []ops.Value{f(0)}, Want: []float64{1, 0}},
		}})
	}
	// model_stock_for_tensor is model_stock.
	ms := []ops.Value{opstest.T([]int{2, 3}, 1, 2, 3, 4, 5, 6), opstest.T([]int{2, 3}, 2, 1, 0, -1, 5, 2), opstest.T([]int{2, 3}, 0, 1, 1, 3, -2, 1)}
	got := runHist(t, modelStockForTensor00x, nil, ms, []ops.Value{f(1e-6)})
	ref := runHist(t, modelStock, nil, ms, []ops.Value{f(1e-6)})
	for i := range got {
		if math.Float64bits(got[i]) != math.Float64bits(ref[i]) {
			t.Fatalf("model_stock_for_tensor %v, model_stock %v", got, ref)
		}
	}
	opstest.Check(t, modelStockForTensor00x, opstest.Spec{})
}

func TestHistoryDistributionCrossover(t *testing.T) {
	f := ops.Float
	zeros, ones, alt := hvec(0, 0, 0, 0), hvec(1, 1, 1, 1), hvec(1, -1, 1, -1)
	id, rev := hvec(0, 1, 2, 3), hvec(3, 2, 1, 0)
	ak := func(alpha, tilt float64) []ops.Value { return []ops.Value{f(alpha), f(tilt)} }
	d := distributionCrossover00x
	// rfft of 4 values has 3 frequencies; filter linspace(0, 1, 3) > 0.5 = [0, 0, 1]: the DC of
	// a and the Nyquist frequency of b survive, in c's order or not.
	nearHist(t, "dc from a", runHist(t, d, []ops.Value{ones, zeros, id}, nil, ak(0.5, 0)), []float64{1, 1, 1, 1}, 1e-15)
	nearHist(t, "dc of b dropped", runHist(t, d, []ops.Value{zeros, ones, id}, nil, ak(0.5, 0)), []float64{0, 0, 0, 0}, 1e-15)
	nearHist(t, "nyquist of b", runHist(t, d, []ops.Value{zeros, alt, rev}, nil, ak(0.5, 0)), []float64{1, -1, 1, -1}, 1e-15)
	nearHist(t, "tilt 1", runHist(t, d, []ops.Value{ones, zeros, id}, nil, ak(0.25, 1)), []float64{0.75, 0.75, 0.75, 0.75}, 0)
	nearHist(t, "alpha 1", runHist(t, d, []ops.Value{ones, alt, id}, nil, ak(1, 0.3)), []float64{1, -1, 1, -1}, 0)
	opstest.Check(t, d, opstest.Spec{Hypers: map[string]ops.Value{"alpha": f(0.4), "tilt": f(0.3)}})

	// The trained cut: 5 frequencies, mesh = linspace(0,1,5)² = [0, 1/16, 1/4, 9/16, 1];
	// mean 0.4, tilt 0: offset 0.4 gives [0,0,0,0,1] (mean 0.2), offset 0.6 [0,0,0,1,1] (0.4).
	filt, err := trainedFilter1D(5, 0.4, 0)
	if err != nil || !slices.Equal(filt, []float32{0, 0, 0, 1, 1}) {
		t.Fatalf("trained filter: %v %v", filt, err)
	}
	if _, err := trainedFilter1D(5, 1.5, 0); err == nil {
		t.Error("a mean outside [0, 1] must fail")
	}
	for _, era := range []string{"0.0.4", "0.0.9", "fork-0.0.12", "fork-0.0.13"} {
		d := eraDef(t, "distribution_crossover@"+era)
		z8, alt8 := hvec(0, 0, 0, 0, 0, 0, 0, 0), hvec(1, -1, 1, -1, 1, -1, 1, -1)
		nearHist(t, era+" nyquist", runHist(t, d, []ops.Value{z8, alt8, hvec(0, 1, 2, 3, 4, 5, 6, 7)}, nil, ak(0.4, 0)), []float64{1, -1, 1, -1, 1, -1, 1, -1}, 1e-15)
		nearHist(t, era+" mean 0", runHist(t, d, []ops.Value{ones, alt, id}, nil, ak(0, 0.5)), []float64{1, 1, 1, 1}, 0)
		opstest.Check(t, d, opstest.Spec{Hypers: map[string]ops.Value{"mean": f(0.4), "tilt": f(0.3)}})
	}
}

func TestHistoryPending(t *testing.T) {
	for _, full := range []string{"select_max_white_delta@1.0"} {
		d := eraDef(t, full)
		if d.Pending == "" || d.Kernel != nil {
			t.Errorf("%s should be Pending", full)
		}
	}
}

// TestCopyDistribution: noise with the input's mean and population std, from a fresh torch
// generator with the default seed per key: the same numbers on every call, and the sample's
// mean and std close to the input's (n = 20000: within a few standard errors).
func TestCopyDistribution(t *testing.T) {
	d := eraDef(t, "copy_distribution@1.0")
	n := 20000
	a := &ops.Tensor{Shape: []int{n}, Data: make([]float64, n)}
	for i := range a.Data {
		a.Data[i] = 3 + 2*math.Sin(float64(i)) // mean ~3, population std ~sqrt(2)
	}
	run := func() []float64 {
		c := &ops.Call{Numerics: ops.Exact, Args: []ops.Value{ops.TensorValue(a)}, Out: &ops.Tensor{Shape: []int{n}, Data: make([]float64, n)}}
		if err := d.Kernel(c); err != nil {
			t.Fatal(err)
		}
		return c.Out.Data
	}
	x, y := run(), run()
	if !slices.Equal(x, y) {
		t.Fatal("two calls gave different noise")
	}
	stats := func(v []float64) (float64, float64) {
		m := 0.0
		for _, e := range v {
			m += e
		}
		m /= float64(len(v))
		s := 0.0
		for _, e := range v {
			s += (e - m) * (e - m)
		}
		return m, math.Sqrt(s / float64(len(v)))
	}
	am, as := stats(a.Data)
	xm, xs := stats(x)
	if math.Abs(xm-am) > 5*as/math.Sqrt(float64(n)) || math.Abs(xs-as) > 0.05*as {
		t.Errorf("noise mean %v std %v, input mean %v std %v", xm, xs, am, as)
	}
	// The first draws are torch.randn's with the default seed (ops/rng's own tests check the
	// generator against torch): z_0 = (x_0 - mean)/std reproduces them.
	z := make([]float64, n) // torch.randn's algorithm depends on the count: draw as many
	rng.NewTorch(rng.TorchDefaultSeed).RandnFloat64(z)
	for i := range z[:4] {
		if got := (x[i] - am) / as; math.Abs(got-z[i]) > 1e-12 {
			t.Errorf("draw %d: %v, torch.randn gives %v", i, got, z[i])
		}
	}
	opstest.Check(t, d, opstest.Spec{})
}
