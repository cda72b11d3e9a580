package stdlib

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechac/mechac/ops/num"
)

// TestTiesVote512 holds the AVX-512 vote to tiesVote8F16 bit for bit (outputs and the big
// flag) over model counts from 1 to 20, column counts of one to five 16-column steps, and
// float16 values and bases that include signed zeros, subnormals, infinities, NaNs with
// payloads and ties (zero deltas), with thresholds from "keep all" (lom1 = -1) up.
func TestTiesVote512(t *testing.T) {
	if !tiesAVX512 || !num.HasF16C() {
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

// TestTiesKeysSplit512 holds the AVX-512 key split to tiesSubKeysSplitF16 (the AVX2 loop):
// the same count below lo, the same keys in [lo, hi] in the same order, the same bad flag,
// over ranges that take none, some or all of the keys, and float16 pairs with signed zeros,
// subnormals, infinities and NaNs; and tiesKeysSplitFast, which joins both loops, on lengths
// that leave eight keys to the AVX2 one.
func TestTiesKeysSplit512(t *testing.T) {
	if !tiesAVX512 || !num.HasF16C() {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(53, 54))
	specials := []uint16{0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00, 0x7d01}
	for iter := range 600 {
		n := 16 * (1 + rng.IntN(40))
		special := iter%3 == 2
		a, b := make([]byte, 2*n), make([]byte, 2*n)
		for j := range n {
			x := rng.NormFloat64() * 0.1
			ha, hb := num.F16FromF64(x+rng.NormFloat64()*0.01), num.F16FromF64(x)
			if rng.IntN(10) == 0 {
				ha = hb
			}
			if special && rng.IntN(20) == 0 {
				ha = specials[rng.IntN(len(specials))]
			}
			binary.LittleEndian.PutUint16(a[2*j:], ha)
			binary.LittleEndian.PutUint16(b[2*j:], hb)
		}
		// A range around random keys of the data, or all of them, or none.
		k1 := math.Float32bits(float32(math.Abs(rng.NormFloat64() * 0.01)))
		k2 := math.Float32bits(float32(math.Abs(rng.NormFloat64() * 0.01)))
		lo, hi := min(k1, k2), max(k1, k2)
		switch iter % 5 {
		case 0:
			lo, hi = 0, math.MaxInt32
		case 1:
			lo, hi = 0, 0
		}
		want, got := make([]uint32, n+8), make([]uint32, n+8)
		wb, wm, wbad := tiesSubKeysSplitF16(&a[0], &b[0], n, lo, hi, &tiesCompactPerm, &want[0])
		gb, gm, gbad := tiesSubKeysSplitF16AVX512(&a[0], &b[0], n, lo, hi, &got[0])
		if gbad != wbad || (!special && gbad) {
			t.Fatalf("case %d (n %d): bad %v, AVX2 %v", iter, n, gbad, wbad)
		}
		if wbad {
			continue
		}
		if gb != wb || gm != wm || !slices.Equal(got[:gm], want[:wm]) {
			t.Fatalf("case %d (n %d, [%x, %x]): below %d, %d kept; AVX2 %d, %d", iter, n, lo, hi, gb, gm, wb, wm)
		}
		// The joined loops, on n - 8 keys: 16-key steps, then one 8-key step.
		if n >= 24 {
			m := n - 8
			out := make([]uint32, 3, 3+m+8)
			scanned, below, out := tiesKeysSplitFast(out, a[:2*m], b[:2*m], lo, hi)
			w := make([]uint32, m+8)
			wb, wm, _ := tiesSubKeysSplitF16(&a[0], &b[0], m, lo, hi, &tiesCompactPerm, &w[0])
			if scanned != m || below != wb || !slices.Equal(out[3:], w[:wm]) {
				t.Fatalf("case %d (n %d): tiesKeysSplitFast scanned %d below %d kept %d; want %d, %d, %d", iter, m, scanned, below, len(out)-3, m, wb, wm)
			}
		}
	}
}
