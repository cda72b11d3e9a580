package stdlib

import (
	"math"
	"strings"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/opstest"
	"github.com/mechac/mechac/ops/rng"
)

// eraDef returns the registered definition with the given full name (name@era).
func eraDef(t *testing.T, full string) *ops.Def {
	t.Helper()
	for _, d := range defs {
		if d.FullName() == full {
			return d
		}
	}
	t.Fatalf("no definition %s", full)
	return nil
}

var tiesEraDefs = []string{
	"ties_sum@0.0.4", "ties_sum@0.0.9", "ties_sum@0.0.x", "ties_sum_extended@0.0.x",
	"ties_sum@fork-0.0.x", "ties_sum@fork-0.0.12", "ties_sum@fork-0.0.13",
	"ties_sum@fork-0.0.26", "ties_sum@fork-0.0.26-hotfix",
	"ties_sum_with_dropout@fork-0.0.12", "ties_sum_with_dropout@fork-0.0.13",
	"ties_sum_with_dropout@fork-0.0.x", "ties_sum_with_dropout@0.0.x",
	"ties_sum_with_dropout@fork-0.0.26", "ties_sum_with_dropout@fork-0.0.26-hotfix",
	"ties_sum_with_dropout@1.0", "ties_sum_with_dropout@fork-1.0.4", "ties_sum_with_dropout@fork-1.0.x",
}

// TestTiesErasConformance runs the opstest harness (definition, kernel contract, defaults,
// determinism) on every era definition.
func TestTiesErasConformance(t *testing.T) {
	for _, full := range tiesEraDefs {
		d := eraDef(t, full)
		if d.Pending != "" || d.Kernel == nil {
			t.Errorf("%s: still pending", full)
			continue
		}
		hy := map[string]ops.Value{}
		if kwIndex(d, "seed") >= 0 {
			hy["seed"] = kI(5)
		}
		if kwIndex(d, "probability") >= 0 && d.Era != "1.0" && !strings.HasPrefix(d.Era, "fork-1.") {
			hy["probability"] = kF(0.3)
		}
		for _, err := range opstest.Errors(d, opstest.Spec{Hypers: hy}) {
			msg := err.Error()
			// Faithful refusals the harness provokes: 0.0.12-0.0.19 need a seed
			// (torch.manual_seed(None) fails) and 1.0.x's probability must be one number.
			if strings.Contains(msg, "seed is required") || strings.Contains(msg, "must be a single number") {
				continue
			}
			t.Errorf("%s: %v", full, err)
		}
	}
}

// TestTiesErasLookup checks which definition each era resolves a TIES name to.
func TestTiesErasLookup(t *testing.T) {
	r := Default()
	for _, tc := range []struct{ era, name, want string }{
		{"0.0.4", "ties_sum", "ties_sum@0.0.4"},
		{"feefbf4", "ties_sum", "ties_sum@0.0.9"},
		{"0.0.29", "ties_sum", "ties_sum@0.0.x"},
		{"0.0.29", "ties_sum_with_dropout", "ties_sum_with_dropout@0.0.x"},
		{"0.0.29", "ties_sum_extended", "ties_sum_extended@0.0.x"},
		{"4edc67c", "ties_sum", "ties_sum@fork-0.0.12"},
		{"4edc67c", "ties_sum_with_dropout", "ties_sum_with_dropout@fork-0.0.12"},
		{"01823a9", "ties_sum", "ties_sum@fork-0.0.13"},
		{"29bac1a", "ties_sum_with_dropout", "ties_sum_with_dropout@fork-0.0.13"},
		{"3360d18", "ties_sum", "ties_sum@fork-0.0.x"},
		{"3360d18", "ties_sum_with_dropout", "ties_sum_with_dropout@fork-0.0.x"},
		{"6e545a3", "ties_sum", "ties_sum@fork-0.0.26"},
		{"6e545a3", "ties_sum_extended", "ties_sum_extended@0.0.x"},
		{"6e545a3", "ties_sum_with_dropout", "ties_sum_with_dropout@fork-0.0.26"},
		{"1458190", "ties_sum_with_dropout", "ties_sum_with_dropout@fork-0.0.26-hotfix"},
		{"8150c2a", "ties_sum_with_dropout", "ties_sum_with_dropout@1.0"},
		{"f758dc0", "ties_sum_with_dropout", "ties_sum_with_dropout@fork-1.0.4"},
		{"5818193", "ties_sum_with_dropout", "ties_sum_with_dropout@fork-1.0.4"},
		{"a4da898", "ties_sum_with_dropout", "ties_sum_with_dropout@fork-1.0.x"},
		{"3e3aea3", "ties_sum_with_dropout", "ties_sum_with_dropout@fork-1.0.x"},
		{"1.1.5", "ties_sum_with_dropout", "ties_sum_with_dropout"},
	} {
		e, ok := r.Era(tc.era)
		if !ok {
			t.Fatalf("no era %s", tc.era)
		}
		d, ok := r.LookupIn(tc.name, e)
		if !ok {
			t.Fatalf("%s: %s not found", tc.era, tc.name)
		}
		if d.FullName() != tc.want {
			t.Errorf("%s: %s resolves to %s, want %s", tc.era, tc.name, d.FullName(), tc.want)
		}
		if d.Pending != "" {
			t.Errorf("%s: %s is pending: %s", tc.era, d.FullName(), d.Pending)
		}
	}
}

// TestTiesSum009 checks feefbf4's sign vote and alpha.
func TestTiesSum009(t *testing.T) {
	d := eraDef(t, "ties_sum@0.0.9")
	m := []ops.Value{t1(1, -2, 3), t1(2, 1, -1), t1(-1, 1, 1)}
	opstest.Check(t, d, opstest.Spec{Cases: []opstest.Case{
		// Always the sign vote (there is no vote_sgn): as 1.1.5's ties_sum with vote_sgn=false.
		{Name: "sign vote, alpha 1", Var: m, Kw: []ops.Value{kF(1), kF(1)}, Want: []float64{1.5, 1, 2}},
		{Name: "alpha scales", Var: m, Kw: []ops.Value{kF(0.5), kF(1)}, Want: []float64{0.75, 0.5, 1}},
		// Defaults: alpha 1, k 0.2 (int(0.8*5) = 4: the threshold is the 4th smallest |x|).
		{Name: "defaults: alpha 1, k 0.2", Var: []ops.Value{t1(1, -2, 3, 4, 5)}, Want: []float64{0, 0, 0, 4, 5}},
		// 0/0 -> 0 and +inf -> max float64 (torch.nan_to_num defaults; 1.1.5 gives 0).
		{Name: "nan_to_num defaults", Var: []ops.Value{t1(1, 1e308, 1), t1(1, 1e308, -1)}, Kw: []ops.Value{kF(1), kF(1)},
			Want: []float64{1, math.MaxFloat64, 0}},
	}})
}

// TestTiesSum00xPolarity checks the 0.0.x polarities against today's definitions: 0.0.x
// vote_sgn > 0 is today's vote_sgn=false (signs), apply_stock > 0 is today's apply_stock=false
// (the stock factor applied).
func TestTiesSum00xPolarity(t *testing.T) {
	vars := []ops.Value{
		opstest.T([]int{2, 3}, 1, -2, 3, 0.5, -0.25, 2),
		opstest.T([]int{2, 3}, 2, 1, -1, -0.5, 0.75, 1),
		opstest.T([]int{2, 3}, -1, 1, 1, 0.25, 0.5, -3),
	}
	shape := []int{2, 3}
	for _, tc := range []struct {
		name          string
		era           map[string]ops.Value
		today         map[string]ops.Value
		extendedToday bool
	}{
		{"0.0.x vote_sgn=1 is signs", map[string]ops.Value{"k": kF(1), "vote_sgn": kF(1)}, map[string]ops.Value{"k": kF(1), "vote_sgn": kB(false)}, false},
		{"0.0.x vote_sgn=0 is values", map[string]ops.Value{"k": kF(1), "vote_sgn": kF(0)}, map[string]ops.Value{"k": kF(1), "vote_sgn": kB(true)}, false},
		{"fork apply_stock=1 applies the factor", map[string]ops.Value{"k": kF(1), "vote_sgn": kF(1), "apply_stock": kF(1)},
			map[string]ops.Value{"k": kF(1), "vote_sgn": kB(false), "apply_stock": kB(false)}, true},
		{"fork apply_stock=0 does not", map[string]ops.Value{"k": kF(1), "vote_sgn": kF(0), "apply_stock": kF(0)},
			map[string]ops.Value{"k": kF(1), "vote_sgn": kB(true), "apply_stock": kB(true)}, true},
	} {
		era := eraDef(t, "ties_sum@fork-0.0.x")
		today := tiesSum
		if tc.extendedToday {
			today = tiesSumExtended
		}
		for _, n := range opstest.Modes {
			got := runDef(t, era, n, shape, vars, tc.era)
			want := runDef(t, today, n, shape, vars, tc.today)
			if !sameBits(got, want) {
				t.Errorf("%s (%s): %v, want %v", tc.name, n, got, want)
			}
		}
	}
	// The plain 0.0.x ties_sum has no apply_stock: the keyword-less call is the same math.
	a := runDef(t, eraDef(t, "ties_sum@0.0.x"), ops.Exact, shape, vars, map[string]ops.Value{"k": kF(1), "vote_sgn": kF(1)})
	b := runDef(t, eraDef(t, "ties_sum@fork-0.0.x"), ops.Exact, shape, vars, map[string]ops.Value{"k": kF(1), "vote_sgn": kF(1)})
	if !sameBits(a, b) {
		t.Errorf("ties_sum@0.0.x %v != ties_sum@fork-0.0.x %v", a, b)
	}
}

// TestGeometricMedian00x: with at most 3 points torch's reductions are plain left-to-right sums,
// so the 0.0.x Weiszfeld equals 1.0.x's; symmetric points have their centre as the median.
func TestGeometricMedian00x(t *testing.T) {
	pts := []float64{1, 2, 3, 4, -1, 0.5, 2, 8, 0.25, 1, -3, 2}
	a, b := make([]float64, 4), make([]float64, 4)
	geometricMedian00x(pts, 3, 4, 1e-6, 100, 1e-20, a)
	geometricMedian(pts, 3, 4, 1e-6, 100, 1e-20, b)
	if !sameBits(a, b) {
		t.Errorf("3 points: 0.0.x %v, 1.0.x %v", a, b)
	}
	sym := []float64{1, 0, -1, 0, 0, 1, 0, -1}
	c := make([]float64, 2)
	geometricMedian00x(sym, 4, 2, 1e-6, 100, 1e-20, c)
	if c[0] != 0 || c[1] != 0 {
		t.Errorf("symmetric points: median %v, want [0 0]", c)
	}
	// maxiter = 0 is the plain mean (float32 ones as weights).
	m := make([]float64, 4)
	geometricMedian00x(pts, 3, 4, 1e-6, 0, 1e-20, m)
	for j := range m {
		if want := (pts[j] + pts[4+j] + pts[8+j]) / 3; m[j] != want {
			t.Errorf("maxiter 0: element %d = %v, want %v", j, m[j], want)
		}
	}
}

func dropoutDelta() ([]float64, []ops.Value) {
	delta := make([]float64, 40)
	for i := range delta {
		delta[i] = float64(i%7) - 2.5 + float64(i)/64
	}
	return delta, []ops.Value{opstest.T([]int{5, 8}, delta...)}
}

// TestTiesDropoutFork012: float32 keep probability (24-bit uniforms), always / (1 - p).
func TestTiesDropoutFork012(t *testing.T) {
	d := eraDef(t, "ties_sum_with_dropout@fork-0.0.12")
	delta, vars := dropoutDelta()
	for _, n := range opstest.Modes {
		got := runDef(t, d, n, []int{5, 8}, vars, map[string]ops.Value{"probability": kF(0.1), "k": kF(1), "vote_sgn": kF(1), "seed": kI(114514)})
		g := rng.NewTorch(114514)
		keep := float64(float32(0.9))
		words := 0
		for i, v := range delta {
			m := 0.0
			if g.Bernoulli32(keep) {
				m = 1
			}
			words++
			want := v * m / (1 - 0.1)
			if m == 0 {
				want = 0 // torch's sum(dim=0) starts from +0: a dropped -x is +0
			}
			if math.Float64bits(got[i]) != math.Float64bits(want) {
				t.Fatalf("%s: element %d = %v, want %v", n, i, got[i], want)
			}
		}
	}
	// A float seed is truncated (torch.manual_seed(int(seed))); no seed is an error.
	a := runDef(t, d, ops.Exact, []int{5, 8}, vars, map[string]ops.Value{"seed": kF(7.9)})
	b := runDef(t, d, ops.Exact, []int{5, 8}, vars, map[string]ops.Value{"seed": kI(7)})
	if !sameBits(a, b) {
		t.Error("seed 7.9 should act as 7")
	}
	c := &ops.Call{Key: "k", Var: vars, Kw: kwOf(d, map[string]ops.Value{"seed": ops.Null()}),
		Out: &ops.Tensor{Shape: []int{5, 8}, Data: make([]float64, 40), DType: ops.F64}}
	if err := opstest.Run(d, c); err == nil || !strings.Contains(err.Error(), "seed is required") {
		t.Errorf("no seed: err = %v, want seed is required", err)
	}
}

// TestTiesDropoutFork013: p == 1 gives r*0, no_rescale keeps r.
func TestTiesDropoutFork013(t *testing.T) {
	d := eraDef(t, "ties_sum_with_dropout@fork-0.0.13")
	delta, vars := dropoutDelta()
	got := runDef(t, d, ops.Exact, []int{5, 8}, vars, map[string]ops.Value{"probability": kF(1), "k": kF(1), "seed": kI(3)})
	for i, v := range got {
		if v != 0 {
			t.Fatalf("p = 1: element %d = %v", i, v)
		}
	}
	// no_rescale > 0 and p = 0 (float32 keep 1: everything kept): the delta itself.
	got = runDef(t, d, ops.Exact, []int{5, 8}, vars, map[string]ops.Value{"probability": kF(0), "no_rescale": kF(1), "k": kF(1), "seed": kI(3)})
	if !sameBits(got, delta) {
		t.Errorf("no_rescale, p = 0: %v, want the delta", got)
	}
}

// TestTiesDropoutDella00x: 6e545a3's float64 keep probabilities with float32 DELLA offsets,
// round(seed), (1 - p)^rescale; the 1458190 clamp.
func TestTiesDropoutDella00x(t *testing.T) {
	d := eraDef(t, "ties_sum_with_dropout@fork-0.0.26")
	delta, vars := dropoutDelta()
	got := runDef(t, d, ops.SDMecha, []int{5, 8}, vars, map[string]ops.Value{
		"probability": kF(0.5), "della_eps": kF(-0.4), "rescale": kF(2), "k": kF(1), "vote_sgn": kF(1), "seed": kF(10.5)})
	g := rng.NewTorch(10) // round(10.5) = 10
	for i, v := range delta {
		rank := 1
		for j, w := range delta {
			if math.Abs(w) < math.Abs(v) || (math.Abs(w) == math.Abs(v) && j < i) {
				rank++
			}
		}
		off := (float32(rank)/float32(40) - float32(41.0/80)) * float32(-0.4)
		m := 0.0
		if g.Bernoulli64(0.5 + float64(off)) {
			m = 1
		}
		want := v * m / math.Pow(0.5, 2)
		if m == 0 {
			want = 0
		}
		if math.Float64bits(got[i]) != math.Float64bits(want) {
			t.Fatalf("della: element %d = %v, want %v", i, got[i], want)
		}
	}
	// Keep probabilities above 1: torch refuses them in 6e545a3, 1458190 clamps.
	big := map[string]ops.Value{"probability": kF(0), "della_eps": kF(1), "k": kF(1), "seed": kI(1)}
	opstest.Check(t, d, opstest.Spec{Cases: []opstest.Case{
		{Name: "P > 1 refused", Var: vars, Kw: kwOf(d, big), WantErr: "not in [0, 1]"},
		{Name: "p = 1 gives 0", Var: vars, Kw: kwOf(d, map[string]ops.Value{"probability": kF(1)}), Shape: []int{5, 8}, Want: make([]float64, 40)},
	}})
	fix := eraDef(t, "ties_sum_with_dropout@fork-0.0.26-hotfix")
	runDef(t, fix, ops.Exact, []int{5, 8}, vars, big)
	// Negative seed: torch's default seed, the same stream as no seed at all.
	a := runDef(t, d, ops.Exact, []int{5, 8}, vars, map[string]ops.Value{"seed": kI(-1)})
	b := runDef(t, d, ops.Exact, []int{5, 8}, vars, map[string]ops.Value{"seed": ops.Null()})
	if !sameBits(a, b) {
		t.Error("seed -1 and no seed should both use torch's default seed")
	}
}

// TestTiesDropout10x: the 1.0.x polarity (vote_sgn=true votes with values, as 0.0.x's
// vote_sgn=0), the fp64 1 - p, and the clamps of f758dc0 and a4da898.
func TestTiesDropout10x(t *testing.T) {
	vars := []ops.Value{
		opstest.T([]int{2, 3}, 1, -2, 3, 0.5, -0.25, 2),
		opstest.T([]int{2, 3}, 2, 1, -1, -0.5, 0.75, 1),
		opstest.T([]int{2, 3}, -1, 1, 1, 0.25, 0.5, -3),
	}
	shape := []int{2, 3}
	// p = 0 keeps everything: both eras reduce to their TIES step.
	v10 := runDef(t, eraDef(t, "ties_sum_with_dropout@1.0"), ops.Exact, shape, vars, map[string]ops.Value{
		"probability": s0(0), "k": kF(1), "vote_sgn": kB(true), "apply_stock": kB(true), "seed": kI(1)})
	v00 := runDef(t, eraDef(t, "ties_sum_with_dropout@fork-0.0.x"), ops.Exact, shape, vars, map[string]ops.Value{
		"probability": kF(0), "k": kF(1), "vote_sgn": kF(0), "apply_stock": kF(0), "seed": kI(1)})
	ref := runDef(t, tiesSum, ops.Exact, shape, vars, map[string]ops.Value{"k": kF(1), "vote_sgn": kB(true)})
	if !sameBits(v10, ref) || !sameBits(v00, ref) {
		t.Errorf("value vote: 1.0 %v, fork-0.0.x %v, want %v", v10, v00, ref)
	}
	// A NaN in a DELLA delta: scipy's ranks are all NaN; f758dc0 hands NaN to bernoulli (an
	// error), a4da898 zeroes the offsets.
	nan := []ops.Value{opstest.T([]int{3}, 1, math.NaN(), 2)}
	kw := map[string]ops.Value{"probability": s0(0.1), "della_eps": kF(0.1), "k": kF(1), "apply_stock": kB(true), "seed": kI(1)}
	d10 := eraDef(t, "ties_sum_with_dropout@1.0")
	c := &ops.Call{Key: "k", Var: nan, Kw: kwOf(d10, kw), Out: &ops.Tensor{Shape: []int{3}, Data: make([]float64, 3), DType: ops.F64}}
	if err := opstest.Run(d10, c); err == nil || !strings.Contains(err.Error(), "not in [0, 1]") {
		t.Errorf("1.0 with NaN DELLA offsets: err = %v, want a bernoulli range error", err)
	}
	runDef(t, eraDef(t, "ties_sum_with_dropout@fork-1.0.x"), ops.Exact, []int{3}, nan, kw)
	// rescale divides by 1 - p in float64 (p a float64 0-dim tensor), not float32.
	one := []ops.Value{opstest.T([]int{2}, 1, 1)}
	got := runDef(t, eraDef(t, "ties_sum_with_dropout@fork-1.0.x"), ops.SDMecha, []int{2}, one, map[string]ops.Value{
		"probability": s0(0), "k": kF(1), "apply_stock": kB(true), "seed": kI(1)})
	if got[0] != 1 || got[1] != 1 {
		t.Errorf("p = 0: %v", got)
	}
}
