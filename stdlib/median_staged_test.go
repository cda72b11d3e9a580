package stdlib

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechac/mechac/ops"
)

// runStaged runs d's Stager over the tensors ms of shape in chunks of the given lengths
// (statistics passes, then the output pass) and returns the output and the passes it took.
func runStaged(t *testing.T, d *ops.Def, ms [][]float64, shape []int, kw []ops.Value, chunks []int) ([]float64, int) {
	t.Helper()
	n := len(ms[0])
	st, ok, err := d.Stage.New(ops.StageCall{Kw: kw, Tensors: len(ms), Shape: shape, Numerics: ops.Exact})
	if err != nil || !ok {
		t.Fatalf("no stager: %v", err)
	}
	args := make([][]float64, len(ms))
	part := func(lo, c int) [][]float64 {
		for i, m := range ms {
			args[i] = m[lo : lo+c]
		}
		return args
	}
	for pass := 0; pass < st.Passes(); pass++ {
		lo := 0
		for _, c := range chunks {
			if err := st.Observe(pass, lo, part(lo, c)); err != nil {
				t.Fatal(err)
			}
			lo += c
		}
		if err := st.EndPass(pass); err != nil {
			t.Fatal(err)
		}
	}
	out := make([]float64, n)
	lo := 0
	for _, c := range chunks {
		if err := st.Chunk(lo, part(lo, c), out[lo:lo+c]); err != nil {
			t.Fatal(err)
		}
		lo += c
	}
	return out, st.Passes()
}

// wholeVarargs runs d's whole kernel over the varargs tensors ms of shape with keywords kw.
func wholeVarargs(t *testing.T, d *ops.Def, ms [][]float64, shape []int, kw []ops.Value) []float64 {
	t.Helper()
	out := make([]float64, ops.NumElements(shape))
	c := &ops.Call{Numerics: ops.Exact, Out: &ops.Tensor{Shape: shape, Data: out}, Kw: kw}
	for _, m := range ms {
		c.Var = append(c.Var, ops.TensorValue(&ops.Tensor{Shape: shape, Data: m}))
	}
	if err := d.Kernel(c); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkChunkings runs d staged over ms in chunks of each of steps elements and fails where a
// value is not want's, bit for bit.
func checkChunkings(t *testing.T, d *ops.Def, ms [][]float64, shape []int, kw []ops.Value, want []float64, steps []int) {
	t.Helper()
	n := len(want)
	for _, step := range steps {
		var chunks []int
		for lo := 0; lo < n; lo += step {
			chunks = append(chunks, min(step, n-lo))
		}
		got, _ := runStaged(t, d, ms, shape, kw, chunks)
		for j := range want {
			if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
				t.Fatalf("%d tensors, chunks of %d: [%d] = %v, whole %v", len(ms), step, j, got[j], want[j])
			}
		}
	}
}

// The staged geometric median gives the whole kernel's bits over any chunking: means and steps,
// every stopping rule (maxiter 0, 1, a few, the default; ftol 0, tiny, coarse), points at one
// place (every distance clamped by eps), and NaN, infinities and negative zeros in the points.
func TestMedianStagedMatchesWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	for trial := range 60 {
		r := 1 + rng.IntN(9)
		n := 1 + rng.IntN(3000)
		ms := make([][]float64, r)
		for i := range ms {
			ms[i] = make([]float64, n)
			for j := range ms[i] {
				ms[i][j] = rng.NormFloat64() * math.Ldexp(1, rng.IntN(6)-3)
			}
		}
		switch trial % 6 {
		case 1: // every point at one place
			for i := 1; i < r; i++ {
				copy(ms[i], ms[0])
			}
		case 2:
			ms[0][rng.IntN(n)] = math.NaN()
		case 3:
			ms[r-1][rng.IntN(n)] = math.Inf(1 - 2*(trial/6%2))
		case 4:
			for j := range n {
				if j%3 == 0 {
					for i := range ms {
						ms[i][j] = math.Copysign(0, -1)
					}
				}
			}
		}
		eps := []float64{1e-6, 1e-2, 0}[trial%3]
		maxiter := []int64{100, 0, 1, 3, -2}[trial%5]
		ftol := []float64{1e-20, 0, 1e-3}[trial/3%3]
		kw := []ops.Value{ops.Float(eps), ops.Int(maxiter), ops.Float(ftol)}
		want := make([]float64, n)
		geometricMedianRows(ms, n, eps, maxiter, ftol, want)
		t.Run(fmt.Sprint(trial), func(t *testing.T) {
			for _, step := range []int{n, 1 + rng.IntN(n), 7} {
				var chunks []int
				for lo := 0; lo < n; lo += step {
					chunks = append(chunks, min(step, n-lo))
				}
				got, passes := runStaged(t, geometricMedianDef, ms, []int{n}, kw, chunks)
				if passes < 1 || int64(passes) > max(maxiter, 0)+1 {
					t.Errorf("%d passes for maxiter %d", passes, maxiter)
				}
				for j := range want {
					if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
						t.Fatalf("r=%d n=%d chunks of %d: [%d] = %v, whole %v", r, n, step, j, got[j], want[j])
					}
				}
			}
		})
	}
}
