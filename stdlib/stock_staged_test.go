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
		want := wholeVarargs(t, modelStock, ms, shape, kw)
		t.Run(fmt.Sprint(trial, shape), func(t *testing.T) {
			checkChunkings(t, modelStock, ms, shape, kw, want, []int{n, 1, 1 + rng.IntN(n), 5})
		})
	}
}
