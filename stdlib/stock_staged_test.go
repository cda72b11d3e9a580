package stdlib

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechac/mechac/ops"
)

// The staged model stock gives the whole kernel's bits over any chunking (rows cut by chunk
// edges, chunks shorter than a row): shapes with 1, 2, 3, 15, 16, 17, 40 and 100 rows (inside
// and past the 16-row blocks), a 0-dim key and a vector, 2 to 9 deltas, a zero row (cos_eps),
// NaN and infinities.
func TestStockStagedMatchesWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	shapes := [][]int{{}, {7}, {1, 30}, {2, 5}, {3, 3, 3}, {15, 8}, {16, 4}, {17, 6}, {40, 9}, {100, 3}, {33, 2, 2}}
	for trial := range 66 {
		shape := shapes[trial%len(shapes)]
		n := ops.NumElements(shape)
		r := 2 + rng.IntN(8)
		ms := make([][]float64, r)
		for i := range ms {
			ms[i] = make([]float64, n)
			for j := range ms[i] {
				ms[i][j] = rng.NormFloat64() * math.Ldexp(1, rng.IntN(6)-3)
			}
		}
		switch trial % 5 {
		case 1:
			_, cols := tiesLastDim(shape, n)
			for j := 0; j < min(cols, n); j++ {
				ms[0][j] = 0 // a zero row: the cosine's eps
			}
		case 2:
			ms[r-1][rng.IntN(n)] = math.NaN()
		case 3:
			ms[0][rng.IntN(n)] = math.Inf(1)
		}
		kw := []ops.Value{ops.Float([]float64{1e-6, 0.5, 0}[trial%3])}
		want := make([]float64, n)
		c := &ops.Call{Numerics: ops.Exact, Out: &ops.Tensor{Shape: shape, Data: want}, Kw: kw}
		for _, m := range ms {
			c.Var = append(c.Var, ops.TensorValue(&ops.Tensor{Shape: shape, Data: m}))
		}
		if err := modelStock.Kernel(c); err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprint(trial, shape), func(t *testing.T) {
			for _, step := range []int{n, 1, 1 + rng.IntN(n), 5} {
				var chunks []int
				for lo := 0; lo < n; lo += step {
					chunks = append(chunks, min(step, n-lo))
				}
				got, _ := runStaged(t, modelStock, ms, shape, kw, chunks)
				for j := range want {
					if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
						t.Fatalf("r=%d chunks of %d: [%d] = %v, whole %v", r, step, j, got[j], want[j])
					}
				}
			}
		})
	}
}
