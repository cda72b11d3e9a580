package stdlib

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/opstest"
	"github.com/mechac/mechac/ops/rng"
)

// kwOf returns d's keyword-only arguments: the given ones by name, defaults elsewhere (up to
// the last given parameter).
func kwOf(d *ops.Def, given map[string]ops.Value) []ops.Value {
	last := -1
	for i, q := range d.KwOnly {
		if _, ok := given[q.Name]; ok {
			last = i
		}
	}
	kw := make([]ops.Value, last+1)
	for i := range kw {
		q := d.KwOnly[i]
		if v, ok := given[q.Name]; ok {
			kw[i] = v
		} else {
			kw[i] = *q.Default
		}
	}
	return kw
}

// runDef calls d's kernel on varargs and named keyword arguments and returns the output data.
func runDef(t *testing.T, d *ops.Def, n ops.Numerics, shape []int, vars []ops.Value, given map[string]ops.Value) []float64 {
	t.Helper()
	c := &ops.Call{Key: "k", Numerics: n, Var: vars, Kw: kwOf(d, given),
		Out: &ops.Tensor{Shape: shape, Data: make([]float64, ops.NumElements(shape)), DType: ops.F64}}
	if err := opstest.Run(d, c); err != nil {
		t.Fatalf("%s: %v", d.Name, err)
	}
	return c.Out.Data
}

func sameBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}

var (
	kF = func(x float64) ops.Value { return ops.Float(x) }
	kB = ops.Bool
	kI = ops.Int
)

func TestTiesSum(t *testing.T) {
	m := []ops.Value{t1(1, -2, 3), t1(2, 1, -1), t1(-1, 1, 1)}
	kw := func(k float64, vote bool) []ops.Value { return []ops.Value{kF(k), kB(vote)} }
	opstest.Check(t, tiesSum, opstest.Spec{
		Hypers: map[string]ops.Value{"k": kF(0.5)},
		Cases: []opstest.Case{
			// Sign vote: column 0 elects + ((1+2)/2), column 1 + ((1+1)/2), column 2 + ((3+1)/2).
			{Name: "sign vote", Var: m, Kw: kw(1, false), Want: []float64{1.5, 1, 2}},
			// Value vote: column 1 sums to 0, so only the (absent) zero elements agree: 0/0 -> 0.
			{Name: "value vote", Var: m, Kw: kw(1, true), Want: []float64{1.5, 0, 2}},
			// k = 0.5 of 4 elements: k' = int(0.5*4) = 2, threshold the 2nd smallest |x| = 2.
			{Name: "top-k filter", Var: []ops.Value{t1(1, -2, 3, 4)}, Kw: kw(0.5, false), Want: []float64{0, -2, 3, 4}},
			// The threshold is float32: 1+2^-30 rounds to 1 in float32, so 1 is kept too.
			{Name: "float32 threshold", Var: []ops.Value{t1(1, 1+0x1p-30, 5)}, Kw: kw(0.4, false), Want: []float64{1, 1 + 0x1p-30, 5}},
			{Name: "default k keeps all", Var: []ops.Value{t1(0.5, -0.25)}, Want: []float64{0.5, -0.25}},
			{Name: "k < 0 out of range", Var: []ops.Value{t1(1, 2)}, Kw: kw(-1, false), WantErr: "out of range"},
			{Name: "no models", Shape: []int{2}, Want: []float64{0, 0}},
		},
	})
}

func TestFilterTopK(t *testing.T) {
	a := []float64{-3, 0.5, 2, -0.25, 1}
	out := make([]float64, len(a))
	// k = 0.2: k' = int(0.8*5) = 4 -> threshold |x| = 2 (4th smallest).
	if err := filterTopK(a, 0.2, out); err != nil {
		t.Fatal(err)
	}
	want := []float64{-3, 0, 2, math.Copysign(0, -1), 0}
	if !sameBits(out, want) {
		t.Fatalf("got %v, want %v", out, want)
	}
	// (1-k)*n just below an integer truncates: k = 0.7 of 10 -> 3.0000000000000004 -> 3.
	b := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	out = make([]float64, 10)
	if err := filterTopK(b, 0.7, out); err != nil {
		t.Fatal(err)
	}
	if out[1] != 0 || out[2] != 3 {
		t.Fatalf("k=0.7: %v", out)
	}
}

func TestTiesSumExtended(t *testing.T) {
	d := tiesSumExtended
	opstest.Check(t, d, opstest.Spec{
		Cases: []opstest.Case{
			// Model stock: parallel deltas, cos = 1, t = 2*1/(1+1) = 1.
			{Name: "stock parallel", Var: []ops.Value{t1(1, 0), t1(1, 0)}, Kw: kwOf(d, map[string]ops.Value{"k": kF(1)}), Want: []float64{1, 0}},
			// Orthogonal deltas: cos = 0, t = 0.
			{Name: "stock orthogonal", Var: []ops.Value{t1(1, 0), t1(0, 1)}, Kw: kwOf(d, map[string]ops.Value{"k": kF(1)}), Want: []float64{0, 0}},
			// apply_stock=true means *no* model stock (sd-mecha 1.1.5 polarity): disjoint mean.
			{Name: "apply_stock true", Var: []ops.Value{t1(1, 0), t1(0, 1)}, Kw: kwOf(d, map[string]ops.Value{"k": kF(1), "apply_stock": kB(true)}), Want: []float64{1, 1}},
			// Geometric median of identical deltas is the delta.
			{Name: "median", Var: []ops.Value{t1(1, -2), t1(1, -2), t1(1, -2)}, Kw: kwOf(d, map[string]ops.Value{"k": kF(1), "apply_median": kB(true)}), Want: []float64{1, -2}},
			{Name: "stock needs 2", Var: []ops.Value{t1(1, 2)}, WantErr: "at least 2"},
		},
	})
	// apply_stock=true equals ties_sum with the same k and vote.
	r := []ops.Value{opstest.T([]int{2, 3}, 0.3, -0.1, 0.7, 0.2, 0.05, -0.4), opstest.T([]int{2, 3}, -0.2, -0.3, 0.6, 0.1, 0.5, -0.1), opstest.T([]int{2, 3}, 0.1, 0.2, -0.6, 0.3, 0.4, 0.2)}
	for _, vote := range []bool{false, true} {
		a := runDef(t, d, ops.SDMecha, []int{2, 3}, r, map[string]ops.Value{"k": kF(0.5), "vote_sgn": kB(vote), "apply_stock": kB(true)})
		b := runDef(t, tiesSum, ops.SDMecha, []int{2, 3}, r, map[string]ops.Value{"k": kF(0.5), "vote_sgn": kB(vote)})
		if !sameBits(a, b) {
			t.Errorf("vote=%v: extended(apply_stock) %v != ties_sum %v", vote, a, b)
		}
	}
}

func TestTiesSumWithDropout(t *testing.T) {
	d := tiesSumWithDropout
	opstest.Check(t, d, opstest.Spec{
		Hypers: map[string]ops.Value{"seed": kI(3)},
		Cases: []opstest.Case{
			{Name: "p = 1 gives 0", Var: []ops.Value{t1(1, 2), t1(3, 4)}, Kw: kwOf(d, map[string]ops.Value{"probability": s0(1)}), Want: []float64{0, 0}},
			// A per-element probability (a mechac extension: sd-mecha 1.1.5 fails on it) with
			// p = 0 keeps everything and rescales by 1 - 0.
		},
	})
	// One delta, k = 1, no model stock: the TIES step is the identity on the masked delta, so
	// the output is delta * mask / rescale with the masks from torch's generator.
	delta := make([]float64, 40)
	for i := range delta {
		delta[i] = float64(i%7) - 2.5 + float64(i)/64
	}
	vars := []ops.Value{opstest.T([]int{5, 8}, delta...)}
	for _, tc := range []struct {
		name    string
		seed    ops.Value
		genSeed uint64
	}{{"seed 7", kI(7), 7}, {"null seed", ops.Null(), rng.TorchDefaultSeed}, {"negative seed", kI(-5), rng.TorchDefaultSeed}} {
		for _, n := range opstest.Modes {
			got := runDef(t, d, n, []int{5, 8}, vars, map[string]ops.Value{
				"probability": kF(0.3), "k": kF(1), "apply_stock": kB(true), "seed": tc.seed})
			p := 0.3
			div := 1 - p
			if n == ops.SDMecha {
				p = f32(0.3)
				div = float64(float32(1) - float32(p))
			}
			g := rng.NewTorch(tc.genSeed)
			for i, v := range delta {
				m := 0.0
				if g.Bernoulli64(1 - p) {
					m = 1
				}
				want := (v * m) / 1 / div
				if m == 0 {
					want = 0 / div
				}
				if math.Float64bits(got[i]) != math.Float64bits(want) {
					t.Fatalf("%s %s: element %d = %v, want %v", tc.name, n, i, got[i], want)
				}
			}
		}
	}
	// DELLA: keep probabilities from the float32 rank offsets (sd-mecha numerics).
	got := runDef(t, d, ops.SDMecha, []int{5, 8}, vars, map[string]ops.Value{
		"probability": kF(0.5), "della_eps": kF(0.4), "rescale": kB(false), "k": kF(1), "apply_stock": kB(true), "seed": kI(11)})
	g := rng.NewTorch(11)
	for i, v := range delta {
		rank := 1 // ordinal rank of |v|, ties by position
		for j, w := range delta {
			if math.Abs(w) < math.Abs(v) || (math.Abs(w) == math.Abs(v) && j < i) {
				rank++
			}
		}
		off := (float32(rank)/float32(40) - float32(41.0/80)) * float32(0.4)
		keep := math.Min(math.Max(1-f32(0.5)+float64(off), 0), 1)
		m := 0.0
		if g.Bernoulli64(keep) {
			m = 1
		}
		want := v * m
		if m == 0 {
			want = 0
		}
		if math.Float64bits(got[i]) != math.Float64bits(want) {
			t.Fatalf("della: element %d = %v, want %v", i, got[i], want)
		}
	}
}

func TestModelStock(t *testing.T) {
	opstest.Check(t, modelStock, opstest.Spec{
		Cases: []opstest.Case{
			{Name: "parallel", Var: []ops.Value{t1(1, 0), t1(1, 0)}, Want: []float64{1, 0}},
			// Per row of the last dimension: row 0 parallel (t = 1), row 1 orthogonal (t = 0).
			{Name: "rows", Var: []ops.Value{opstest.T([]int{2, 2}, 1, 0, 0, 1), opstest.T([]int{2, 2}, 1, 0, 1, 0)}, Want: []float64{1, 0, 0, 0}},
			// Opposite deltas: c ~ -1, t = 2c/(1+c) a huge negative number; mean +0 -> t*0 = -0.
			{Name: "opposite", Var: []ops.Value{t1(1, 2), t1(-1, -2)}, Want: []float64{negZ, negZ}},
			// The squared norms overflow: c = 0, t = 0, the mean is inf, 0*inf = NaN -> 0.
			{Name: "nan_to_num", Var: []ops.Value{t1(1e308, 1e308), t1(1e308, 1e308)}, Want: []float64{0, 0}},
			{Name: "one delta", Var: []ops.Value{t1(1, 2)}, WantErr: "at least 2"},
		},
	})
}

func TestGeometricMedian(t *testing.T) {
	opstest.Check(t, geometricMedianDef, opstest.Spec{
		Cases: []opstest.Case{
			// Two points: the mean has equal distances, the weights stay equal.
			{Name: "two points", Var: []ops.Value{t1(0, 0), t1(2, 2)}, Want: []float64{1, 1}},
			{Name: "maxiter 0", Var: []ops.Value{t1(0, 3), t1(1, 3), t1(5, 3)}, Kw: []ops.Value{kF(1e-6), kI(0)}, Want: []float64{2, 3}},
		},
	})
	// Collinear points 0, 1, 10: the median is 1 (the mean is 11/3).
	got := runDef(t, geometricMedianDef, ops.Exact, []int{1}, []ops.Value{t1(0), t1(1), t1(10)}, map[string]ops.Value{"maxiter": kI(1000)})
	if math.Abs(got[0]-1) > 1e-4 {
		t.Errorf("median of 0, 1, 10 = %v", got[0])
	}
}

func TestDropout(t *testing.T) {
	d := dropoutDef
	opstest.Check(t, d, opstest.Spec{
		Hypers: map[string]ops.Value{"probability": kF(0.5), "seed": kI(1)},
		Cases: []opstest.Case{
			// probability 0: every element kept (binomial(1, 1) = 1), the mean of the deltas.
			{Name: "keep all", Var: []ops.Value{t1(1, 2), t1(3, 4)}, Kw: kwOf(d, map[string]ops.Value{"probability": kF(0)}), Want: []float64{2, 3}},
			// probability 1: nothing kept, 0 / max(0, 1) / 1.
			{Name: "drop all", Var: []ops.Value{t1(1, 2), t1(3, 4)}, Kw: kwOf(d, map[string]ops.Value{"probability": kF(1)}), Want: []float64{0, 0}},
			{Name: "overlap 0", Var: []ops.Value{t1(1)}, Kw: kwOf(d, map[string]ops.Value{"overlap": kF(0)}), WantErr: "overlapping-sets"},
			{Name: "negative seed", Var: []ops.Value{t1(1)}, Kw: kwOf(d, map[string]ops.Value{"seed": kI(-1)}), WantErr: "non-negative"},
		},
	})
	// Masks from numpy's default_rng(seed).binomial(1, 1-p), delta after delta, C order.
	a := []float64{1, -2, 3, -4, 5, 6}
	b := []float64{0.5, 0.25, -1, 2, -3, 7}
	got := runDef(t, d, ops.SDMecha, []int{2, 3}, []ops.Value{opstest.T([]int{2, 3}, a...), opstest.T([]int{2, 3}, b...)},
		map[string]ops.Value{"probability": kF(0.4), "rescale": kF(0.5), "seed": kI(42)})
	g := rng.NewNumPy(42)
	ma, mb := make([]int64, 6), make([]int64, 6)
	for i := range ma {
		ma[i], _ = g.Binomial(1, 0.6)
	}
	for i := range mb {
		mb[i], _ = g.Binomial(1, 0.6)
	}
	resc := math.Sqrt(1 - 0.4)
	for i := range a {
		s, c := 0.0, 0.0
		if ma[i] == 1 {
			s += a[i]
			c++
		}
		if mb[i] == 1 {
			s += b[i]
			c++
		}
		want := s / math.Max(c, 1) / resc
		if math.Float64bits(got[i]) != math.Float64bits(want) {
			t.Fatalf("element %d = %v, want %v", i, got[i], want)
		}
	}
}

func TestRatioToRegion(t *testing.T) {
	for _, tc := range []struct {
		w, o     float64
		n        int
		s, e     int
		inverted bool
	}{
		{0.5, 0, 10, 0, 5, false},
		{0.5, 0.25, 4, 1, 3, false},
		{0.5, 0.75, 4, 1, 3, true},
		{-0.3, 0.1, 10, 1, 8, true},   // width < 0 moves the offset back: offset 0.8, width 0.3
		{0.25, -1.5, 8, 4, 6, false},  // offset 1 - 1.5 + 1 = 0.5
		{0.25, 0.125, 4, 0, 2, false}, // round(0.5) = 0, round(1.5) = 2: halves to even
		{2, 0, 6, 0, 6, false},        // width clamped to 1
	} {
		s, e, inv := ratioToRegion(tc.w, tc.o, tc.n)
		if s != tc.s || e != tc.e || inv != tc.inverted {
			t.Errorf("ratioToRegion(%v, %v, %d) = %d, %d, %v; want %d, %d, %v", tc.w, tc.o, tc.n, s, e, inv, tc.s, tc.e, tc.inverted)
		}
	}
}

func TestTensorSum(t *testing.T) {
	a := opstest.T([]int{4, 1}, 1, 2, 3, 4)
	b := opstest.T([]int{4, 1}, 5, 6, 7, 8)
	opstest.Check(t, tensorSum, opstest.Spec{
		Cases: []opstest.Case{
			{Name: "region from b", Args: []ops.Value{a, b, kF(0.5), kF(0.25)}, Want: []float64{1, 6, 7, 4}},
			{Name: "wrapped region from a", Args: []ops.Value{a, b, kF(0.5), kF(0.75)}, Want: []float64{5, 2, 3, 8}},
			{Name: "rows of 2", Args: []ops.Value{opstest.T([]int{2, 2}, 1, 2, 3, 4), opstest.T([]int{2, 2}, 5, 6, 7, 8), kF(0.5), kF(0.5)}, Want: []float64{1, 2, 7, 8}},
			{Name: "0-dim width > 0.5", Args: []ops.Value{s0(1), s0(2), kF(0.6)}, Want: []float64{2}},
			{Name: "0-dim width 0.5", Args: []ops.Value{s0(1), s0(2), kF(0.5)}, Want: []float64{1}},
			{Name: "shape mismatch", Args: []ops.Value{opstest.T([]int{2, 2}, 1, 2, 3, 4), opstest.T([]int{4}, 1, 2, 3, 4)}, Shape: []int{4}, WantErr: "differ"},
		},
	})
}

func TestTopKTensorSum(t *testing.T) {
	a := t1(3, 1, 2)
	b := t1(10, 30, 20)
	opstest.Check(t, topKTensorSum, opstest.Spec{
		Cases: []opstest.Case{
			// Full band: a's sorted values in b's order (b's ranks 0, 2, 1).
			{Name: "full band", Args: []ops.Value{a, b}, Want: []float64{1, 3, 2}},
			// Empty region: thresholds -1, -1, nothing in the band, a unchanged.
			{Name: "empty band", Args: []ops.Value{a, b, kF(0), kF(0)}, Want: []float64{3, 1, 2}},
			// Region [2, 4) of 4: band kth(2) = 2 <= |v| <= kth(4) = 5 over sorted a = [-5, 1, 2, 3];
			// b's ranks are [3, 2, 1, 0]: elements 0, 1, 3 take 3, 2, -5; element 2 would take 1
			// (outside the band) and keeps a's 2.
			{Name: "top band", Args: []ops.Value{t1(3, 1, 2, -5), t1(4, 3, 2, 1), kF(0.5), kF(0.5)}, Want: []float64{3, 2, 2, -5}},
		},
	})
}

func TestTiesDocsMentionQuirks(t *testing.T) {
	for _, d := range []*ops.Def{tiesSumExtended, tiesSumWithDropout} {
		if !strings.Contains(d.Doc, "apply_stock=false") {
			t.Errorf("%s: Doc does not document the apply_stock polarity", d.Name)
		}
	}
}

// TestSelectKthMatchesSort: quickselect gives the value a full sort puts at every index,
// NaN last, with duplicates and signed zeros.
func TestSelectKthMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		n := 1 + r.IntN(60)
		x := make([]float32, n)
		for i := range x {
			switch r.IntN(6) {
			case 0:
				x[i] = float32(math.NaN())
			case 1:
				x[i] = 0
			default:
				x[i] = float32(r.IntN(7))
			}
		}
		sorted := slices.Clone(x)
		slices.SortFunc(sorted, tiesLessNaNLast[float32])
		for k := 0; k < n; k++ {
			got := selectKth(slices.Clone(x), k)
			want := sorted[k]
			if !(got == want || (got != got && want != want)) {
				t.Fatalf("trial %d, k=%d: got %v, want %v (input %v)", trial, k, got, want, x)
			}
		}
	}
}
