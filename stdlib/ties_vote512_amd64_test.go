package stdlib

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechac/mechac/ops/num"
)

// TestTiesVote512 holds the AVX-512 vote to tiesVote8F16 bit for bit (outputs and the big
// flag) over model counts from 1 to 20, column counts of one to five 16-column steps, and
// float16 values and bases that include signed zeros, subnormals, infinities, NaNs with
// payloads and ties (zero deltas), with thresholds from "keep all" (lom1 = -1) up.
func TestTiesVote512(t *testing.T) {
	if !tiesVote512 || !num.HasF16C() {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(51, 52))
	specials := []uint16{0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x7c00, 0xfc00, 0x7e00, 0x7d01, 0xfe37, 0x7bff, 0xfbff}
	baseSpecials := []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(), math.Float64frombits(0x7ff4000000000001), 5e-324}
	for iter := range 400 {
		r := 1 + rng.IntN(20)
		n := 16 * (1 + rng.IntN(5))
		special := iter%2 == 1 // half the cases finite only: there big must stay false
		raws, bases := make([][]byte, r), make([][]float64, r)
		base := make([]float64, n)
		for j := range base {
			base[j] = num.F16ToF64(num.F16FromF64(rng.NormFloat64() * 0.1))
			if special && rng.IntN(16) == 0 {
				base[j] = baseSpecials[rng.IntN(len(baseSpecials))]
			}
		}
		lom1 := make([]int64, r)
		for i := range r {
			raws[i], bases[i] = make([]byte, 2*n), base
			for j := range n {
				h := num.F16FromF64(base[j] + rng.NormFloat64()*0.01)
				switch k := rng.IntN(12); {
				case k == 0:
					h = num.F16FromF64(base[j]) // a zero delta: a tie
				case k == 1 && special:
					h = specials[rng.IntN(len(specials))]
				}
				binary.LittleEndian.PutUint16(raws[i][2*j:], h)
			}
			switch rng.IntN(4) {
			case 0:
				lom1[i] = -1 // keep all, zeros too
			default:
				lom1[i] = int64(math.Float64bits(rng.Float64()*0.01)) - 1
			}
		}
		want, got := make([]float64, n), make([]float64, n)
		ptrs, bptrs := make([]*byte, r), make([]*float64, r)
		for i := range r {
			ptrs[i], bptrs[i] = &raws[i][0], &bases[i][0]
		}
		wantBig := tiesVote8F16(&ptrs[0], &bptrs[0], &lom1[0], r, &want[0], n)
		gotBig := tiesVote16F16AVX512(&ptrs[0], &bptrs[0], &lom1[0], r, &got[0], n)
		if gotBig != wantBig || (!special && gotBig) {
			t.Fatalf("case %d (r %d, n %d): big %v, AVX2 %v", iter, r, n, gotBig, wantBig)
		}
		for j := range n {
			if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
				t.Fatalf("case %d (r %d, n %d): column %d: %x, AVX2 %x", iter, r, n, j,
					math.Float64bits(got[j]), math.Float64bits(want[j]))
			}
		}
	}
}
