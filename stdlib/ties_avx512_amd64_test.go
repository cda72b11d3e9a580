package stdlib

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechac/mechac/ops"
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

// TestTiesVoteInt512 holds the integer float16 vote to the float64 one (tiesVote16F16AVX512)
// bit for bit wherever it reports ok, and checks that it reports ok exactly where its premise
// holds (every base a float32 integer multiple of 2^-24, every |m - b| below 1): model counts 1
// to 20, one or several bases, thresholds from "keep all, zeros too" (lom1 = -1) up, deltas
// near 1 in magnitude, float16 values with signed zeros, subnormals, infinities and NaNs, and
// bases off the 2^-24 grid.
func TestTiesVoteInt512(t *testing.T) {
	if !tiesAVX512 || !num.HasF16C() {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(55, 56))
	specials := []uint16{0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x3bff, 0xbbff, 0x3c00, 0xbc00, 0x7c00, 0xfc00, 0x7e00, 0x7d01}
	oks := 0
	for iter := range 2000 {
		r := 1 + rng.IntN(20)
		n := 16 * (1 + rng.IntN(5))
		kind := iter % 4 // 0, 1: finite, small deltas; 2: float16 specials; 3: bases off the grid
		scale := 0.01
		if rng.IntN(4) == 0 {
			scale = 0.3 // some differences reach 1
		}
		nb := 1
		if rng.IntN(3) == 0 {
			nb = 1 + rng.IntN(r)
		}
		baseSet := make([][]float64, nb)
		for k := range baseSet {
			baseSet[k] = make([]float64, n)
			for j := range n {
				baseSet[k][j] = num.F16ToF64(num.F16FromF64(rng.NormFloat64() * 0.1))
				if kind == 3 && rng.IntN(64) == 0 {
					if rng.IntN(2) == 0 {
						baseSet[k][j] += 1e-9 // not a float32
					} else {
						baseSet[k][j] = 0x1p-30 // a float32, off the 2^-24 grid
					}
				}
			}
		}
		raws, bases := make([][]byte, r), make([][]float64, r)
		lom1 := make([]int64, r)
		lom1f := make([]int32, r)
		premise := true
		for i := range r {
			bases[i] = baseSet[min(i*nb/r, nb-1)]
			raws[i] = make([]byte, 2*n)
			for j := range n {
				h := num.F16FromF64(bases[i][j] + rng.NormFloat64()*scale)
				switch k := rng.IntN(12); {
				case k == 0:
					h = num.F16FromF64(bases[i][j]) // a zero delta when the base is float16
				case k == 1 && kind == 2:
					h = specials[rng.IntN(len(specials))]
				}
				binary.LittleEndian.PutUint16(raws[i][2*j:], h)
				b := bases[i][j]
				d := num.F16ToF64(h) - b
				if float64(float32(b)) != b || b*(1<<24) != math.Trunc(b*(1<<24)) || !(math.Abs(d) < 1) {
					premise = false
				}
			}
			lo := uint64(0)
			switch rng.IntN(5) {
			case 0:
				lom1[i], lom1f[i] = -1, -1 // keep all, zeros too
				continue
			case 1:
				lo = 1 // keep the nonzero ones
			case 2:
				lo = tiesInfBits // keep none (a NaN threshold)
			default:
				lo = math.Float64bits(rng.Float64() * 0.02)
				lo = min(max(lo, 1), tiesInfBits)
			}
			lom1[i], lom1f[i] = int64(lo)-1, tiesLom1F32(lo)
		}
		want, got := make([]float64, n), make([]float64, n)
		ptrs, bptrs := make([]*byte, r), make([]*float64, r)
		for i := range r {
			ptrs[i], bptrs[i] = &raws[i][0], &bases[i][0]
		}
		tiesVote16F16AVX512(&ptrs[0], &bptrs[0], &lom1[0], r, &want[0], n)
		iv := tiesIntVote{lom1: lom1f}
		ok := iv.vote(ptrs, bases, n, got, nil, false, 0)
		if ok != premise {
			t.Fatalf("case %d (r %d, n %d, kind %d): ok %v, premise %v", iter, r, n, kind, ok, premise)
		}
		if nb == 1 && kind != 3 {
			// The shared-base vote's premise check: the same verdict.
			base16 := make([]byte, 2*n)
			num.EncodeInto(base16, bases[0], ops.F16, false)
			sv := tiesIntVote{lom1: lom1f, lom1s: make([]int32, r), baseT: make([][]byte, r)}
			for i := range r {
				sv.lom1s[i], sv.baseT[i] = tiesLom1Scaled(lom1f[i]), base16
			}
			if sok := sv.vote(ptrs, make([][]float64, r), n, make([]float64, n), nil, false, 0); sok != premise || sv.base16 != 1 {
				t.Fatalf("case %d (r %d, n %d, kind %d): shared-base ok %v (%d tiles), premise %v", iter, r, n, kind, sok, sv.base16, premise)
			}
		}
		if !ok {
			continue
		}
		oks++
		for j := range n {
			if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
				t.Fatalf("case %d (r %d, n %d): column %d: %x (%g), float64 vote %x (%g)", iter, r, n, j,
					math.Float64bits(got[j]), got[j], math.Float64bits(want[j]), want[j])
			}
		}
		// The add folded in (ChunkFromAdd): add_difference(a, vote, w) as vecAddScaled makes it,
		// for a weight and an a of any sign and size, zeros included.
		a := make([]float64, n)
		for j := range a {
			switch rng.IntN(8) {
			case 0:
				a[j] = math.Copysign(0, rng.NormFloat64())
			default:
				a[j] = rng.NormFloat64() * math.Pow(2, float64(rng.IntN(40)-20))
			}
		}
		w := []float64{1, -1, 0.5, 0.3, -2.7, 1e-300}[rng.IntN(6)]
		wantAdd, gotAdd := make([]float64, n), make([]float64, n)
		vecAddScaled(wantAdd, a, want, w)
		if !iv.vote(ptrs, bases, n, gotAdd, a, false, w) {
			t.Fatalf("case %d: the vote with an add declined", iter)
		}
		same := func(what string, got, want []float64) {
			t.Helper()
			for j := range n {
				if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
					t.Fatalf("case %d (r %d, n %d, w %g), %s: column %d: %x (%g), vote then vecAddScaled %x (%g)", iter, r, n, w, what, j,
						math.Float64bits(got[j]), got[j], math.Float64bits(want[j]), want[j])
				}
			}
		}
		same("add", gotAdd, wantAdd)
		if nb != 1 {
			continue
		}
		// Added to the models' one base (addBase: its float32 widening, widened again), from
		// the float64 bases and from the stored float16 alone (bases nil, as a lazy source).
		vecAddScaled(wantAdd, bases[0], want, w)
		if !iv.vote(ptrs, bases, n, gotAdd, nil, true, w) {
			t.Fatalf("case %d: the vote with the base added declined", iter)
		}
		same("base added", gotAdd, wantAdd)
		if kind == 3 {
			continue // a base off the float16 grid has no stored float16
		}
		base16 := make([]byte, 2*n)
		num.EncodeInto(base16, bases[0], ops.F16, false)
		iv.baseT = make([][]byte, r)
		for i := range r {
			iv.baseT[i] = base16
		}
		clear(gotAdd)
		if !iv.vote(ptrs, make([][]float64, r), n, gotAdd, nil, true, w) {
			t.Fatalf("case %d: the vote from stored bases declined", iter)
		}
		same("stored base added", gotAdd, wantAdd)
		// The one stored base widened in registers (tiesVote16F16IntSharedAVX512), with the
		// thresholds scaled: alone, with the base added, and with another addend.
		iv.lom1s = make([]int32, r)
		for i := range r {
			iv.lom1s[i] = tiesLom1Scaled(lom1f[i])
		}
		clear(got)
		if !iv.vote(ptrs, make([][]float64, r), n, got, nil, false, 0) {
			t.Fatalf("case %d: the shared-base vote declined", iter)
		}
		same("shared base", got, want)
		clear(gotAdd)
		if !iv.vote(ptrs, make([][]float64, r), n, gotAdd, nil, true, w) {
			t.Fatalf("case %d: the shared-base vote with the base added declined", iter)
		}
		same("shared base added", gotAdd, wantAdd)
		vecAddScaled(wantAdd, a, want, w)
		clear(gotAdd)
		if !iv.vote(ptrs, make([][]float64, r), n, gotAdd, a, false, w) {
			t.Fatalf("case %d: the shared-base vote with an add declined", iter)
		}
		same("shared base, add", gotAdd, wantAdd)
		iv.baseT, iv.lom1s = nil, nil
	}
	t.Logf("%d of 2000 cases took the integer vote", oks)
	if oks < 500 {
		t.Fatalf("only %d of 2000 cases took the integer vote", oks)
	}
}

// TestTiesLom1F32 checks the threshold's float32 form: bits64(float64(x)) >= lo exactly when
// bits32(x) > tiesLom1F32(lo), for thresholds at, between and around float32 values (subnormal,
// normal, beyond float32's range, +Inf) and magnitudes x around them.
func TestTiesLom1F32(t *testing.T) {
	rng := rand.New(rand.NewPCG(57, 58))
	var los []uint64
	for _, f := range []float32{0x1p-149, 0x1p-126, 1e-3, 0.5, 0.99999994, math.MaxFloat32} {
		b := math.Float64bits(float64(f))
		los = append(los, b-1, b, b+1)
	}
	los = append(los, 1, 2, math.Float64bits(1e300), tiesInfBits)
	for range 2000 {
		los = append(los, min(max(math.Float64bits(math.Abs(rng.NormFloat64())*math.Pow(2, float64(rng.IntN(60)-50))), 1), tiesInfBits))
	}
	for _, lo := range los {
		m := tiesLom1F32(lo)
		f := math.Float32frombits(uint32(m + 1))
		for _, x := range []float32{0, f, math.Nextafter32(f, 0), math.Nextafter32(f, 2), float32(math.Float64frombits(lo)), 0x1p-149, 1, math.MaxFloat32, float32(math.Inf(1))} {
			if x < 0 || x != x {
				continue
			}
			want := math.Float64bits(float64(x)) >= lo
			if got := int32(math.Float32bits(x)) > m; got != want {
				t.Fatalf("lo %x (%g), x %g: keep %v, want %v", lo, math.Float64frombits(lo), x, got, want)
			}
		}
	}
}

// tiesLom1Scaled keeps what tiesLom1F32's threshold keeps, for the integer vote's differences
// scaled by 2^24: zero and the multiples of 2^-24 below 1, against thresholds of every kind.
func TestTiesLom1Scaled(t *testing.T) {
	rng := rand.New(rand.NewPCG(59, 60))
	lom1s := []int32{-1, 0, 1, 0x337fffff, 0x33800000, 0x33800001, 0x3f7fffff, 0x3f800000, 0x7f7fffff, 0x7fffffff}
	for range 200 {
		lom1s = append(lom1s, tiesLom1F32(math.Float64bits(rng.Float64()*math.Pow(2, float64(-rng.IntN(30))))))
	}
	ds := []float32{0, 0x1p-24, 0x2p-24, 1 - 0x1p-24}
	for range 2000 {
		ds = append(ds, float32(rng.IntN(1<<24))*0x1p-24)
	}
	for _, l := range lom1s {
		s := tiesLom1Scaled(l)
		for _, d := range ds {
			keep := int32(math.Float32bits(d)) > l
			if got := int32(math.Float32bits(d*(1<<24))) > s; got != keep {
				t.Fatalf("lom1 %#x (scaled %#x), |d| %g: keep %v scaled, %v not", l, s, d, got, keep)
			}
		}
	}
}
