package stdlib

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/mechac/mechac/ops"
)

// The TIES kernels' scratch was cut (deltas filtered in place, no vote stack, chunked sums);
// these tests hold the new code to the bits of the stacked computation it replaced, kept
// here as the reference.

// tiesSameBits reports whether a and b are equal bit for bit (any NaN matches any NaN).
func tiesSameBits(a, b []float64) (int, bool) {
	if len(a) != len(b) {
		return -1, false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
			return i, false
		}
	}
	return 0, true
}

// SumDim0TorchChunked gives SumDim0Torch's bits for sizes around the 16-column blocks and the
// 4096-column chunks, for 1..20 rows and 215.
func TestSumDim0TorchChunkedBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	colsList := []int{1, 2, 3, 4, 5, 15, 16, 17, 31, 33, 4095, 4096, 4097, 4111, 4112, 4113, 8192 + 4099}
	rowsList := []int{215}
	for r := 1; r <= 20; r++ {
		rowsList = append(rowsList, r)
	}
	for _, rows := range rowsList {
		for _, cols := range colsList {
			if rows == 215 && cols > 5000 {
				continue // keep the test short
			}
			x := make([]float64, rows*cols)
			for i := range x {
				x[i] = rng.NormFloat64() * math.Ldexp(1, rng.IntN(40)-20)
			}
			want := make([]float64, cols)
			SumDim0Torch(x, rows, cols, want)
			got := make([]float64, cols)
			SumDim0TorchChunked(rows, cols, func(dst []float64, c0, c1 int) {
				w := c1 - c0
				for i := 0; i < rows; i++ {
					copy(dst[i*w:(i+1)*w], x[i*cols+c0:i*cols+c1])
				}
			}, got, nil)
			if j, ok := tiesSameBits(got, want); !ok {
				t.Fatalf("rows=%d cols=%d: column %d: got %v, want %v", rows, cols, j, got[j], want[j])
			}
		}
	}
}

// refTiesDeltas is tiesDeltas as it was: a stack of filtered deltas and a stack of votes.
func refTiesDeltas(ms [][]float64, n int, k float64, voteSgn bool) (filtered, counts []float64, err error) {
	r := len(ms)
	d := make([]float64, r*n)
	for i, m := range ms {
		if err := filterTopK(m, k, d[i*n:(i+1)*n]); err != nil {
			return nil, nil, err
		}
	}
	votes := make([]float64, r*n)
	if voteSgn {
		copy(votes, d)
	} else {
		for i, v := range d {
			votes[i] = tiesSign(v)
		}
	}
	final := make([]float64, n)
	SumDim0Torch(votes, r, n, final)
	counts = make([]float64, n)
	for j := range final {
		s := tiesSign(final[j])
		c := 0.0
		for i := 0; i < r; i++ {
			f := 0.0
			if tiesSign(d[i*n+j]) == s {
				f = 1
			}
			d[i*n+j] *= f
			c += f
		}
		counts[j] = c
	}
	return d, counts, nil
}

// refGeometricMedian00x is geometricMedian00x as it was: the whole stack of products.
func refGeometricMedian00x(pts []float64, r, n int, eps float64, maxiter int64, ftol float64, out []float64) {
	prod := make([]float64, r*n)
	weighted := func(w []float64, dst []float64) {
		for i := 0; i < r; i++ {
			for j, v := range pts[i*n : (i+1)*n] {
				prod[i*n+j] = v * w[i]
			}
		}
		SumDim0Torch(prod, r, n, dst)
		den := SumTorch(w)
		for j := range dst {
			dst[j] /= den
		}
	}
	w := make([]float64, r)
	fill(w, 1)
	median := make([]float64, n)
	weighted(w, median)
	dists := make([]float64, r)
	objective := func() float64 {
		for i := range dists {
			dists[i] = DistTorch(pts[i*n:(i+1)*n], median)
		}
		return SumTorch(dists) / float64(r)
	}
	obj := objective()
	for it := int64(0); it < maxiter; it++ {
		prev := obj
		nw := make([]float64, r)
		for i := range nw {
			nw[i] = 1 / clampMin(DistTorch(pts[i*n:(i+1)*n], median), eps)
		}
		w = nw
		weighted(w, median)
		obj = objective()
		if math.Abs(prev-obj) <= ftol*obj {
			break
		}
	}
	weighted(w, out)
}

// The in-place filter and the stack-free votes give the reference's filtered deltas and
// counts, bit for bit, with NaN, infinities, signed zeros and magnitude ties.
func TestTiesFilterVoteMatchesStacked(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for trial := 0; trial < 200; trial++ {
		r := 1 + rng.IntN(20)
		if trial%50 == 0 {
			r = 215
		}
		n := 1 + rng.IntN(300)
		ms := tiesTestData(rng, r, n, trial%3 == 0)
		k := []float64{1, 0.2, 0.5, 0.9}[trial%4]
		voteSgn := trial%2 == 1
		wantD, wantC, err1 := refTiesDeltas(ms, n, k, voteSgn)
		gotD, gotC, err2 := tiesDeltas(ms, n, k, voteSgn)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("trial %d: errors %v / %v", trial, err1, err2)
		}
		if j, ok := tiesSameBits(gotD, wantD); !ok {
			t.Fatalf("trial %d (r=%d n=%d k=%v vote=%v): filtered[%d] = %v, want %v", trial, r, n, k, voteSgn, j, gotD[j], wantD[j])
		}
		if j, ok := tiesSameBits(gotC, wantC); !ok {
			t.Fatalf("trial %d: counts[%d] = %v, want %v", trial, j, gotC[j], wantC[j])
		}
	}
}

// The chunked 0.0.x geometric median gives the reference's bits, across the chunk boundary.
func TestGeometricMedian00xChunkedMatchesStacked(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, sz := range []struct{ r, n int }{{1, 1}, {2, 3}, {3, 17}, {7, 4096}, {13, 4113}, {20, 5000}, {215, 37}} {
		pts := make([]float64, sz.r*sz.n)
		for i := range pts {
			pts[i] = rng.NormFloat64()
		}
		want := make([]float64, sz.n)
		got := make([]float64, sz.n)
		refGeometricMedian00x(pts, sz.r, sz.n, 1e-6, 100, 1e-20, want)
		geometricMedian00x(pts, sz.r, sz.n, 1e-6, 100, 1e-20, got)
		if j, ok := tiesSameBits(got, want); !ok {
			t.Fatalf("r=%d n=%d: [%d] = %v, want %v", sz.r, sz.n, j, got[j], want[j])
		}
	}
}

// scratchCase is one method call whose heap allocation is held to the Def's Scratch.
type scratchCase struct {
	method string
	kw     map[string]ops.Value
	// shaped: the allocation depends on the shape (model stock works per row of the last
	// dimension), which Scratch does not see; it declares the largest, so only the upper
	// bound is checked.
	shaped bool
}

// Every TIES-family method with a Scratch declares at least what a call allocates (r = 20
// tensors of n = 10000 elements), and not wildly more.
func TestTiesScratchDeclared(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops pooled buffers at random: the bytes allocated are not the kernels'")
	}
	const r, n = 20, 10000
	rng := rand.New(rand.NewPCG(13, 14))
	vars := make([]ops.Value, r)
	for i := range vars {
		d := make([]float64, n)
		for j := range d {
			d[j] = rng.NormFloat64()
		}
		vars[i] = ops.TensorValue(&ops.Tensor{Shape: []int{100, 100}, Data: d})
	}
	median := map[string]ops.Value{"apply_median": ops.Float(1), "k": ops.Float(0.5), "della_eps": ops.Float(-0.1), "probability": ops.Float(0.1)}
	for _, tc := range []scratchCase{
		{"ties_sum", nil, false},
		{"ties_sum_extended", nil, false},
		{"ties_sum_extended", map[string]ops.Value{"apply_median": ops.Bool(true)}, false},
		{"ties_sum_with_dropout", map[string]ops.Value{"della_eps": ops.Float(0.1)}, false},
		{"ties_sum_with_dropout", map[string]ops.Value{"apply_median": ops.Bool(true)}, false},
		{"ties_sum_with_dropout@fork-0.0.26", median, false},
		{"ties_sum_with_dropout@fork-0.0.12", map[string]ops.Value{"seed": ops.Float(1)}, false},
		{"ties_sum_with_dropout@fork-1.0.x", nil, false},
		{"ties_sum_extended@0.0.x", median, false},
		{"ties_sum@0.0.x", nil, false},
		{"model_stock", nil, true},
		{"geometric_median", nil, false},
		{"dropout", nil, false},
	} {
		d, ok := Default().Lookup(tc.method)
		if !ok {
			t.Fatalf("%s: not registered", tc.method)
		}
		if d.Scratch == nil {
			t.Errorf("%s: no Scratch", tc.method)
			continue
		}
		declared := d.Scratch(r, n)
		c := &ops.Call{Key: "k", Numerics: ops.SDMecha, Var: vars, Kw: kwOf(d, tc.kw),
			Out: &ops.Tensor{Shape: []int{100, 100}, Data: make([]float64, n), DType: ops.F64}}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		// The kernel itself: opstest.Run would add its snapshot of the inputs.
		if err := d.Kernel(c); err != nil {
			t.Fatalf("%s: %v", tc.method, err)
		}
		runtime.ReadMemStats(&after)
		used := int64(after.TotalAlloc - before.TotalAlloc)
		t.Logf("%s %v: allocated %d bytes, declared %d", tc.method, tc.kw, used, declared)
		if used > declared {
			t.Errorf("%s %v: allocated %d bytes, declares only %d", tc.method, tc.kw, used, declared)
		}
		if !tc.shaped && declared > 2*used+64<<10 {
			t.Errorf("%s %v: declares %d bytes, allocates only %d", tc.method, tc.kw, declared, used)
		}
	}
}
