package rng

import (
	"errors"
	"math"
	"math/bits"
)

// SeedSequence constants (numpy/random/bit_generator.pyx).
const (
	ssPoolSize = 4
	ssInitA    = 0x43b0d7e5
	ssMultA    = 0x931e8875
	ssInitB    = 0x8b51f9dd
	ssMultB    = 0x58f38ded
	ssMixMultL = 0xca01f9dd
	ssMixMultR = 0x4973f715
	ssXShift   = 16
)

// SeedSequence is numpy's SeedSequence(entropy) without spawn keys: the 4-word pool.
type SeedSequence struct {
	pool [ssPoolSize]uint32
}

// NewSeedSequence mixes a non-negative integer entropy as numpy.random.SeedSequence(entropy)
// does: the integer is split into 32-bit words, least significant first (0 is one word 0).
func NewSeedSequence(entropy uint64) *SeedSequence {
	words := []uint32{uint32(entropy)}
	if hi := uint32(entropy >> 32); hi != 0 {
		words = append(words, hi)
	}
	return newSeedSequenceWords(words)
}

func newSeedSequenceWords(entropy []uint32) *SeedSequence {
	s := &SeedSequence{}
	hashConst := uint32(ssInitA)
	hashmix := func(v uint32) uint32 {
		v ^= hashConst
		hashConst *= ssMultA
		v *= hashConst
		v ^= v >> ssXShift
		return v
	}
	mix := func(x, y uint32) uint32 {
		r := ssMixMultL*x - ssMixMultR*y
		r ^= r >> ssXShift
		return r
	}
	m := &s.pool
	for i := range m {
		if i < len(entropy) {
			m[i] = hashmix(entropy[i])
		} else {
			m[i] = hashmix(0)
		}
	}
	for src := range m {
		for dst := range m {
			if src != dst {
				m[dst] = mix(m[dst], hashmix(m[src]))
			}
		}
	}
	for src := ssPoolSize; src < len(entropy); src++ {
		for dst := range m {
			m[dst] = mix(m[dst], hashmix(entropy[src]))
		}
	}
	return s
}

// GenerateState32 is SeedSequence.generate_state(n, np.uint32).
func (s *SeedSequence) GenerateState32(n int) []uint32 {
	out := make([]uint32, n)
	hashConst := uint32(ssInitB)
	for i := range out {
		v := s.pool[i%ssPoolSize]
		v ^= hashConst
		hashConst *= ssMultB
		v *= hashConst
		v ^= v >> ssXShift
		out[i] = v
	}
	return out
}

// GenerateState64 is SeedSequence.generate_state(n, np.uint64): pairs of 32-bit words,
// little-endian (the first word is the low half).
func (s *SeedSequence) GenerateState64(n int) []uint64 {
	w := s.GenerateState32(2 * n)
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(w[2*i]) | uint64(w[2*i+1])<<32
	}
	return out
}

// PCG64 multiplier (PCG_DEFAULT_MULTIPLIER_128).
const (
	pcgMultHi = 2549297995355413924
	pcgMultLo = 4865540595714422341
)

// NumPy is numpy 1.24's Generator(PCG64(seed)) = numpy.random.default_rng(seed) for an integer
// seed: a 128-bit PCG64 (XSL-RR output) seeded from SeedSequence(seed).generate_state(4,
// uint64) = [state_hi, state_lo, inc_hi, inc_lo].
type NumPy struct {
	stateHi, stateLo uint64
	incHi, incLo     uint64
}

// NewNumPy returns numpy.random.default_rng(seed) for a non-negative integer seed below 2^64.
func NewNumPy(seed uint64) *NumPy {
	v := NewSeedSequence(seed).GenerateState64(4)
	return NewPCG64(v[0], v[1], v[2], v[3])
}

// NewPCG64 seeds like numpy's pcg64_set_seed(seed = {hi, lo}, inc = {hi, lo}), i.e. PCG's
// pcg_setseq_128_srandom_r: inc = initseq<<1 | 1, state = 0, step, state += initstate, step.
func NewPCG64(seedHi, seedLo, incHi, incLo uint64) *NumPy {
	g := &NumPy{}
	g.incHi = incHi<<1 | incLo>>63
	g.incLo = incLo<<1 | 1
	g.step()
	var c uint64
	g.stateLo, c = bits.Add64(g.stateLo, seedLo, 0)
	g.stateHi, _ = bits.Add64(g.stateHi, seedHi, c)
	g.step()
	return g
}

// step is state = state * MULT + inc (mod 2^128).
func (g *NumPy) step() {
	hi, lo := bits.Mul64(g.stateLo, pcgMultLo)
	hi += g.stateHi*pcgMultLo + g.stateLo*pcgMultHi
	var c uint64
	lo, c = bits.Add64(lo, g.incLo, 0)
	hi, _ = bits.Add64(hi, g.incHi, c)
	g.stateHi, g.stateLo = hi, lo
}

// Uint64 is PCG64's next 64-bit output (random_raw): step, then XSL-RR of the new state.
func (g *NumPy) Uint64() uint64 {
	g.step()
	return bits.RotateLeft64(g.stateHi^g.stateLo, -int(g.stateHi>>58))
}

// Advance moves the generator k outputs ahead, as k calls of Uint64 would (PCG's
// pcg_advance_lcg_128: the affine step composed with itself by squaring, O(log k)).
func (g *NumPy) Advance(k uint64) {
	accMulHi, accMulLo := uint64(0), uint64(1)
	accAddHi, accAddLo := uint64(0), uint64(0)
	curMulHi, curMulLo := uint64(pcgMultHi), uint64(pcgMultLo)
	curAddHi, curAddLo := g.incHi, g.incLo
	for ; k > 0; k >>= 1 {
		if k&1 == 1 {
			accMulHi, accMulLo = mul128(accMulHi, accMulLo, curMulHi, curMulLo)
			accAddHi, accAddLo = mul128(accAddHi, accAddLo, curMulHi, curMulLo)
			accAddHi, accAddLo = add128(accAddHi, accAddLo, curAddHi, curAddLo)
		}
		// cur_add = (cur_mult + 1) * cur_add; cur_mult = cur_mult^2
		m1Hi, m1Lo := add128(curMulHi, curMulLo, 0, 1)
		curAddHi, curAddLo = mul128(m1Hi, m1Lo, curAddHi, curAddLo)
		curMulHi, curMulLo = mul128(curMulHi, curMulLo, curMulHi, curMulLo)
	}
	g.stateHi, g.stateLo = mul128(accMulHi, accMulLo, g.stateHi, g.stateLo)
	g.stateHi, g.stateLo = add128(g.stateHi, g.stateLo, accAddHi, accAddLo)
}

// mul128 and add128 are 128-bit products and sums mod 2^128.
func mul128(aHi, aLo, bHi, bLo uint64) (uint64, uint64) {
	hi, lo := bits.Mul64(aLo, bLo)
	return hi + aHi*bLo + aLo*bHi, lo
}

func add128(aHi, aLo, bHi, bLo uint64) (uint64, uint64) {
	lo, c := bits.Add64(aLo, bLo, 0)
	hi, _ := bits.Add64(aHi, bHi, c)
	return hi, lo
}

// BinomialOneDraw reports whether Binomial(1, p) takes exactly one Float64 for every possible
// uniform (p valid): true for p == 0 too, which takes none (then ok is false: no draws). The
// inversion sampler restarts with a new uniform only when, after u > (1-p'), u - (1-p') still
// exceeds p'(1-p')/(1-p') as rounded (p' = min(p, 1-p)); u - (1-p') grows with u, so checking
// the largest uniform, 1 - 2^-53, decides it.
func BinomialOneDraw(p float64) (oneEach, draws bool) {
	if !(p >= 0 && p <= 1) {
		return false, false
	}
	if p == 0 {
		return true, false
	}
	pp, qn, _ := inversionOne(p)
	// binomialInversion's second px for n = 1, x = 1.
	px := (1.0 * pp * qn) / (1.0 * (1.0 - pp))
	uMax := float64(1<<53-1) * (1.0 / 9007199254740992.0)
	return !(uMax > qn && uMax-qn > px), true
}

// inversionOne is what Binomial(1, p) hands the inversion sampler (0 < p <= 1): p' =
// min(p, 1-p) (1-p when flip), and the sampler's first threshold qn = exp(1·log(1-p')).
func inversionOne(p float64) (pp, qn float64, flip bool) {
	pp, flip = p, p > 0.5
	if flip {
		pp = 1.0 - p
	}
	return pp, math.Exp(1.0 * math.Log(1.0-pp)), flip
}

// BinomialOne is Binomial(1, p) for a p where BinomialOneDraw holds, its constants computed
// once: the inversion sampler then returns u > (1-p') for its one uniform u (p' = min(p, 1-p),
// 1-p' computed as exp(log(1-p')), as numpy does), or 1 minus that for p > 0.5, and 0 without
// a draw for p = 0. numpy recomputes exp and log on every call; this is the same comparison.
type BinomialOne struct {
	qn         float64
	flip, none bool
}

// NewBinomialOne returns the sampler of Binomial(1, p), or false where p is not valid or
// the inversion sampler may take a second uniform (BinomialOneDraw).
func NewBinomialOne(p float64) (BinomialOne, bool) {
	one, draws := BinomialOneDraw(p)
	switch {
	case !one:
		return BinomialOne{}, false
	case !draws:
		return BinomialOne{none: true}, true
	}
	var b BinomialOne
	_, b.qn, b.flip = inversionOne(p)
	return b, true
}

// Draw is one Binomial(1, p) from g.
func (b BinomialOne) Draw(g *NumPy) int64 {
	if b.none {
		return 0
	}
	x := int64(0)
	if g.Float64() > b.qn {
		x = 1
	}
	if b.flip {
		return 1 - x
	}
	return x
}

// Float64 is Generator.random(): (next_uint64 >> 11) * 2^-53.
func (g *NumPy) Float64() float64 {
	return float64(g.Uint64()>>11) * (1.0 / 9007199254740992.0)
}

// binomialInversion is numpy's random_binomial_inversion(n, p) (distributions.c).
func (g *NumPy) binomialInversion(n int64, p float64) int64 {
	q := 1.0 - p
	qn := math.Exp(float64(n) * math.Log(q))
	np := float64(n) * p
	bound := int64(math.Min(float64(n), np+10.0*math.Sqrt(np*q+1)))
	x := int64(0)
	px := qn
	u := g.Float64()
	for u > px {
		x++
		if x > bound {
			x = 0
			px = qn
			u = g.Float64()
		} else {
			u -= px
			px = (float64(n-x+1) * p * px) / (float64(x) * q)
		}
	}
	return x
}

// ErrBinomialBTPE is returned for parameters numpy would sample with its BTPE algorithm
// (n*min(p, 1-p) > 30), which this package does not implement.
var ErrBinomialBTPE = errors.New("rng: binomial with n*min(p, 1-p) > 30 (numpy's BTPE) is not implemented")

// Binomial is numpy 1.24's Generator.binomial(n, p) for one draw (random_binomial): 0 without
// a draw when n == 0 or p == 0; otherwise the inversion sampler on min(p, 1-p) (n minus the
// draw when p > 0.5). p must be in [0, 1] and not NaN, n >= 0 (numpy's checks).
//
// For n == 1 this consumes one Float64 u per draw (more only on a rounding-edge restart) and
// returns, for p <= 0.5: u > (1-p) ? 1 : 0 with (1-p) computed as exp(log(1-p)); for p > 0.5:
// 1 - [u > exp(log(p'))] with p' = 1 - (1 - p).
func (g *NumPy) Binomial(n int64, p float64) (int64, error) {
	if !(p >= 0 && p <= 1) {
		return 0, errors.New("rng: binomial p must be in [0, 1]")
	}
	if n < 0 {
		return 0, errors.New("rng: binomial n must be >= 0")
	}
	if n == 0 || p == 0 {
		return 0, nil
	}
	if p <= 0.5 {
		if p*float64(n) <= 30 {
			return g.binomialInversion(n, p), nil
		}
		return 0, ErrBinomialBTPE
	}
	q := 1.0 - p
	if q*float64(n) <= 30 {
		return n - g.binomialInversion(n, q), nil
	}
	return 0, ErrBinomialBTPE
}
