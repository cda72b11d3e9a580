package stdlib

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechac/mechac/ops"
)

// The staged ties_sum_extended gives the whole kernel's bits over any chunking: the median
// (every stopping rule), the model-stock factor and its absence (apply_stock's polarity), both
// votes, several k, shapes inside and past SumDim0Torch's 16-column blocks and of one element,
// brackets that miss, NaN and infinities.
func TestTiesExtendedStagedMatchesWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(81, 82))
	shapes := [][]int{{1}, {3}, {7, 5}, {16, 2}, {40, 9}, {20000}, {130, 130}, {5, 4, 3}}
	for trial := range 48 {
		shape := shapes[trial%len(shapes)]
		n := ops.NumElements(shape)
		r := 2 + rng.IntN(7)
		ms := make([][]float64, r)
		for i := range ms {
			ms[i] = make([]float64, n)
			for j := range ms[i] {
				// float32 values: the k-th magnitude is one of them, so the keep test meets equality.
				ms[i][j] = float64(float32(rng.NormFloat64() * math.Ldexp(1e-3, rng.IntN(4))))
			}
		}
		switch trial % 7 {
		case 3:
			ms[0][rng.IntN(n)] = math.NaN()
		case 5:
			ms[r-1][rng.IntN(n)] = math.Inf(-1)
		}
		median := trial%3 == 0
		stock := trial%3 == 1 // apply_stock=true: no factor
		kw := []ops.Value{ops.Float([]float64{0.2, 0.5, 1, 0.05}[trial%4]), ops.Bool(trial%2 == 1), ops.Bool(stock), ops.Bool(median),
			ops.Float(1e-6), ops.Float([]float64{1e-6, 1e-2}[trial%2]), ops.Int([]int64{100, 3, 0}[trial%3]), ops.Float(1e-20)}
		want := wholeVarargs(t, tiesSumExtended, ms, shape, kw)
		t.Run(fmt.Sprint(trial, shape), func(t *testing.T) {
			defer func(s float64) { tiesSampleSigmas = s }(tiesSampleSigmas)
			if trial%5 == 4 {
				tiesSampleSigmas = -1 // every bracket misses: more threshold passes
			}
			checkChunkings(t, tiesSumExtended, ms, shape, kw, want, []int{n, 1 + rng.IntN(n), 7})
		})
	}
}
