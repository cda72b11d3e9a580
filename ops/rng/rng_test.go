package rng

import (
	"math"
	"testing"
)

// MT19937 reference outputs for init_genrand(5489) (the default seed of the reference
// implementation mt19937ar.c by Matsumoto and Nishimura, and of std::mt19937): the first five
// words, and the 10000th word 4123659995 required by the C++ standard ([rand.predef]).
func TestMT19937Reference(t *testing.T) {
	g := NewTorch(5489)
	want := []uint32{3499211612, 581869302, 3890346734, 3586334585, 545404204}
	for i, w := range want {
		if got := g.Uint32(); got != w {
			t.Fatalf("word %d = %d, want %d", i, got, w)
		}
	}
	for i := len(want); i < 9999; i++ {
		g.Uint32()
	}
	if got := g.Uint32(); got != 4123659995 {
		t.Fatalf("10000th word = %d, want 4123659995", got)
	}
}

// torch.manual_seed(0); torch.rand(2) is the well-known tensor([0.4963, 0.7682]): float32
// uniforms from the low 24 bits of the MT19937 words 2357136044 and 2546248239.
func TestTorchRandFloat32Seed0(t *testing.T) {
	g := NewTorch(0)
	a, b := g.Float32(), g.Float32()
	if a != 8325804*0x1p-24 || b != 12888623*0x1p-24 {
		t.Fatalf("rand = %v %v", a, b)
	}
	if math.Abs(a-0.4963) > 5e-5 || math.Abs(b-0.7682) > 5e-5 {
		t.Fatalf("rand = %v %v, want 0.4963 0.7682", a, b)
	}
}

func TestTorchSeedingAndWords(t *testing.T) {
	// manual_seed uses the low 32 bits only.
	a, b := NewTorch(5489), NewTorch(5489|7<<32)
	for i := 0; i < 10; i++ {
		if a.Uint32() != b.Uint32() {
			t.Fatal("seed high bits changed the stream")
		}
	}
	// random64 = first word << 32 | second word; Float64 keeps its low 53 bits.
	g, h := NewTorch(1), NewTorch(1)
	w0, w1 := h.Uint32(), h.Uint32()
	u := g.Float64()
	want := float64((uint64(w0)<<32|uint64(w1))&(1<<53-1)) * 0x1p-53
	if u != want {
		t.Fatalf("Float64 = %v, want %v", u, want)
	}
	// Bernoulli64 consumes two words, Bernoulli32 one.
	g, h = NewTorch(3), NewTorch(3)
	for i := 0; i < 100; i++ {
		p := float64(i) / 100
		if g.Bernoulli64(p) != (h.Float64() < p) {
			t.Fatal("Bernoulli64 differs from Float64 < p")
		}
		if g.Bernoulli32(p) != (h.Float32() < p) {
			t.Fatal("Bernoulli32 differs from Float32 < p")
		}
	}
	if got := NewTorch(TorchDefaultSeed).Uint32(); got != NewTorch(TorchDefaultSeed&0xffffffff).Uint32() {
		t.Fatalf("default seed: %d", got)
	}
}

func TestTorchRandn(t *testing.T) {
	// n = 20: 20 uniforms, block 0..15 transformed, then the last 16 (4..19) redrawn.
	g, h := NewTorch(9), NewTorch(9)
	out := make([]float64, 20)
	g.RandnFloat64(out)
	d := make([]float64, 20)
	for i := range d {
		d[i] = h.Float64()
	}
	boxMuller16(d[:16])
	for i := 4; i < 20; i++ {
		d[i] = h.Float64()
	}
	boxMuller16(d[4:])
	for i := range d {
		if d[i] != out[i] {
			t.Fatalf("randn[%d] = %v, want %v", i, out[i], d[i])
		}
	}
	// Moments of a large sample.
	big := make([]float64, 1<<16)
	g.RandnFloat64(big)
	var s, s2 float64
	for _, v := range big {
		s += v
		s2 += v * v
	}
	m := s / float64(len(big))
	v := s2/float64(len(big)) - m*m
	if math.Abs(m) > 0.02 || math.Abs(v-1) > 0.02 {
		t.Fatalf("mean %v var %v", m, v)
	}
	// Fewer than 16: per-element sampler with the cached sine sample.
	g, h = NewTorch(9), NewTorch(9)
	small := make([]float64, 3)
	g.RandnFloat64(small)
	u1, u2 := h.Float64(), h.Float64()
	r := math.Sqrt(-2 * math.Log(1-u2))
	if small[0] != r*math.Cos(twoPi*u1) || small[1] != r*math.Sin(twoPi*u1) {
		t.Fatalf("small randn = %v", small)
	}
}

// SeedSequence(0) and SeedSequence(0xDEADBEAF).generate_state(4, np.uint64), as listed in
// numpy's numpy/random/src/pcg64/pcg64-test-data-gen.c ("First 4 values produced by
// SeedSequence(0)"; PCG_128BIT_CONSTANT(high, low) pairs).
func TestSeedSequence(t *testing.T) {
	for _, tc := range []struct {
		seed uint64
		want [4]uint64
	}{
		{0, [4]uint64{15793235383387715774, 12390638538380655177, 2361836109651742017, 3188717715514472916}},
		{0xDEADBEAF, [4]uint64{5778446405158232650, 4639759349701729399, 13222832537653397986, 2330059127936092250}},
	} {
		got := NewSeedSequence(tc.seed).GenerateState64(4)
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("SeedSequence(%#x) word %d = %d, want %d", tc.seed, i, got[i], tc.want[i])
			}
		}
	}
}

// numpy.random.default_rng(42): bit_generator.random_raw() gives 0xc621fbcd16d92688,
// 0x705a5661a791ffc1, 0xdbcd12c26eda1624 and .random(3) gives 0.7739560485559633,
// 0.4388784397520523, 0.8585979199113825 (values widely quoted, e.g. in numpy-compatible
// ports' tests); default_rng(0).random(3) = [0.63696169, 0.26978671, 0.04097352] (numpy's
// absolute-beginners guide); default_rng(7).random(2) = [0.625095466604667, 0.8972138009695755].
func TestNumPyDefaultRNG(t *testing.T) {
	g := NewNumPy(42)
	for i, w := range []uint64{0xc621fbcd16d92688, 0x705a5661a791ffc1, 0xdbcd12c26eda1624} {
		if got := g.Uint64(); got != w {
			t.Fatalf("random_raw %d = %#x, want %#x", i, got, w)
		}
	}
	g = NewNumPy(42)
	for i, w := range []float64{0.7739560485559633, 0.4388784397520523, 0.8585979199113825} {
		if got := g.Float64(); got != w {
			t.Fatalf("random %d = %v, want %v", i, got, w)
		}
	}
	g = NewNumPy(0)
	for i, w := range []float64{0.63696169, 0.26978671, 0.04097352} {
		if got := g.Float64(); math.Abs(got-w) > 5e-9 {
			t.Fatalf("default_rng(0) random %d = %v, want %v", i, got, w)
		}
	}
	g = NewNumPy(7)
	for i, w := range []float64{0.625095466604667, 0.8972138009695755} {
		if got := g.Float64(); got != w {
			t.Fatalf("default_rng(7) random %d = %v, want %v", i, got, w)
		}
	}
}

// Binomial(1, p) is numpy's inversion sampler: one uniform per draw, compared against
// qn = exp(log(1 - p')) with p' = min(p, 1-p).
func TestNumPyBinomialOne(t *testing.T) {
	for _, p := range []float64{0.1, 0.3, 0.5, 0.6, 0.9, 1} {
		g, h := NewNumPy(5), NewNumPy(5)
		pp := p
		flip := p > 0.5
		if flip {
			pp = 1 - p
		}
		qn := math.Exp(math.Log(1 - pp))
		ones := 0
		for i := 0; i < 2000; i++ {
			got, err := g.Binomial(1, p)
			if err != nil {
				t.Fatal(err)
			}
			u := h.Float64()
			x := int64(0)
			if u > qn {
				x = 1
				if u-qn > pp*qn/(1-pp) { // the rare restart; not hit with these draws
					t.Skip("restart path")
				}
			}
			if flip {
				x = 1 - x
			}
			if got != x {
				t.Fatalf("p=%v draw %d: %d, want %d", p, i, got, x)
			}
			ones += int(got)
		}
		if math.Abs(float64(ones)/2000-p) > 0.05 {
			t.Errorf("p=%v: mean %v", p, float64(ones)/2000)
		}
	}
	g := NewNumPy(1)
	if x, _ := g.Binomial(1, 0); x != 0 || g.Uint64() != NewNumPy(1).Uint64() {
		t.Error("p=0 must not draw")
	}
	if _, err := g.Binomial(100, 0.5); err != ErrBinomialBTPE {
		t.Errorf("BTPE: %v", err)
	}
	if _, err := g.Binomial(1, math.NaN()); err == nil {
		t.Error("NaN p accepted")
	}
}

// BenchmarkTorchFloat64 times torch's 53-bit uniforms (two 32-bit MT19937 outputs each).
func BenchmarkTorchFloat64(b *testing.B) {
	g := NewTorch(TorchDefaultSeed)
	s := 0.0
	for b.Loop() {
		s += g.Float64()
	}
	_ = s
}

// BenchmarkTorchFloat64s times the bulk draws, per value.
func BenchmarkTorchFloat64s(b *testing.B) {
	g := NewTorch(TorchDefaultSeed)
	buf := make([]float64, 1024)
	for b.Loop() {
		g.Float64s(buf)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1024, "ns/value")
}

// TestTorchSkip: Skip(k) leaves the generator where k Uint32 calls do, across regenerations.
func TestTorchSkip(t *testing.T) {
	for _, k := range []uint64{0, 1, 622, 623, 624, 625, 1247, 5000} {
		for _, pre := range []int{0, 1, 300, 623} {
			a, b := NewTorch(7), NewTorch(7)
			for range pre {
				a.Uint32()
				b.Uint32()
			}
			a.Skip(k)
			for range k {
				b.Uint32()
			}
			for i := range 700 {
				if x, y := a.Uint32(), b.Uint32(); x != y {
					t.Fatalf("skip %d after %d: output %d is %d, want %d", k, pre, i, x, y)
				}
			}
		}
	}
}

// TestTorchBulkDraws checks that the bulk draws (Float64s: two 32-bit outputs each, Float32s:
// one) are the single draws, across regenerations of the state and after odd numbers of
// outputs, for many lengths, and leave the generator where the single draws do.
func TestTorchBulkDraws(t *testing.T) {
	for _, tc := range []struct {
		name   string
		bulk   func(g *Torch, dst []float64)
		single func(g *Torch) float64
	}{
		{"Float64s", (*Torch).Float64s, (*Torch).Float64},
		{"Float32s", (*Torch).Float32s, (*Torch).Float32},
	} {
		for _, skip := range []int{0, 1, 311, 622, 623} {
			a, b := NewTorch(42), NewTorch(42)
			for range skip {
				a.Uint32()
				b.Uint32()
			}
			for _, n := range []int{0, 1, 2, 311, 312, 313, 623, 624, 625, 2000, 5} {
				got := make([]float64, n)
				tc.bulk(a, got)
				for i := range got {
					if want := tc.single(b); got[i] != want {
						t.Fatalf("%s: skip %d, n %d, draw %d: %v, want %v", tc.name, skip, n, i, got[i], want)
					}
				}
			}
			if a.Uint32() != b.Uint32() {
				t.Fatalf("%s, skip %d: the generators diverge after the bulk draws", tc.name, skip)
			}
		}
	}
}

// TestNumPyAdvance: Advance(k) leaves the generator where k Uint64 calls do, for k from 0 to
// past 2^20, from several seeds and states.
func TestNumPyAdvance(t *testing.T) {
	for _, seed := range []uint64{0, 1, 67280421310721} {
		for _, k := range []uint64{0, 1, 2, 3, 7, 64, 1000, 1<<20 + 5} {
			a, b := NewNumPy(seed), NewNumPy(seed)
			a.Uint64() // not from the seeded state only
			b.Uint64()
			for range k {
				a.Uint64()
			}
			b.Advance(k)
			if x, y := a.Uint64(), b.Uint64(); x != y {
				t.Fatalf("seed %d, k %d: next output %x after k draws, %x after Advance", seed, k, x, y)
			}
		}
	}
}

// TestBinomialOneDraw: where BinomialOneDraw says one draw each, a million Binomial(1, p)
// leave the generator exactly a million outputs on; p = 0 draws nothing.
func TestBinomialOneDraw(t *testing.T) {
	for _, p := range []float64{0.1, 0.5, 0.9, 1 - 0.9, 0.999, 1, 1e-9} {
		one, draws := BinomialOneDraw(p)
		if !one || !draws {
			t.Fatalf("p = %v: one draw each %v, draws %v", p, one, draws)
		}
		g, ref := NewNumPy(5), NewNumPy(5)
		const n = 1 << 20
		for range n {
			if _, err := g.Binomial(1, p); err != nil {
				t.Fatal(err)
			}
		}
		ref.Advance(n)
		if g.Uint64() != ref.Uint64() {
			t.Errorf("p = %v: %d binomials did not take %d outputs", p, n, n)
		}
	}
	if one, draws := BinomialOneDraw(0); !one || draws {
		t.Errorf("p = 0: got %v %v, want no draws", one, draws)
	}
	if one, _ := BinomialOneDraw(math.NaN()); one {
		t.Error("NaN p accepted")
	}
}

// TestBinomialOneMatches: BinomialOne.Draw gives Binomial(1, p)'s values from the same
// generator, and leaves it at the same place.
func TestBinomialOneMatches(t *testing.T) {
	for _, p := range []float64{0, 1e-9, 0.1, 0.25, 0.5, 0.6, 0.9, 0.999, 1} {
		b, ok := NewBinomialOne(p)
		if !ok {
			t.Fatalf("p = %v refused", p)
		}
		g, ref := NewNumPy(9), NewNumPy(9)
		for i := range 200000 {
			want, err := ref.Binomial(1, p)
			if err != nil {
				t.Fatal(err)
			}
			if got := b.Draw(g); got != want {
				t.Fatalf("p = %v, draw %d: %d, Binomial %d", p, i, got, want)
			}
		}
		if g.Uint64() != ref.Uint64() {
			t.Errorf("p = %v: generators apart", p)
		}
	}
	for p := 0.0; p <= 1; p += 1.0 / 4096 {
		if one, _ := BinomialOneDraw(p); !one {
			if _, ok := NewBinomialOne(p); ok {
				t.Fatalf("p = %v accepted where the sampler may restart", p)
			}
		}
	}
}

// TestTorchVector: the AVX2 regeneration of the state and bulk float64 and float32 draws give
// the words and draws of the Go loops, from many seeds (so random states) and across
// regenerations.
func TestTorchVector(t *testing.T) {
	if !hasVectorKernels() {
		t.Skip("no AVX2: only the Go loops run here")
	}
	defer func() { noVector = false }()
	for seed := range uint64(50) {
		noVector = false
		a := NewTorch(seed * 7919)
		noVector = true
		b := NewTorch(seed * 7919)
		for round := range 3 {
			bulk := (*Torch).Float64s
			if round == 1 {
				bulk = (*Torch).Float32s
			}
			noVector = false
			got := make([]float64, 1000+int(seed)%9)
			bulk(a, got)
			wa := a.Uint32()
			noVector = true
			want := make([]float64, len(got))
			bulk(b, want)
			wb := b.Uint32()
			for i := range got {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
					t.Fatalf("seed %d round %d: draw %d %v, want %v", seed, round, i, got[i], want[i])
				}
			}
			if wa != wb {
				t.Fatalf("seed %d round %d: word %d, want %d", seed, round, wa, wb)
			}
		}
		if a.state != b.state {
			t.Fatalf("seed %d: the states differ", seed)
		}
	}
}
