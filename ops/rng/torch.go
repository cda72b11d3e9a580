package rng

import "math"

// TorchDefaultSeed is the seed of a fresh torch.Generator() (c10 default_rng_seed_val): what
// sd-mecha's ties_sum_with_dropout uses when its seed is null or negative.
const TorchDefaultSeed uint64 = 67280421310721

const (
	mtN         = 624
	mtM         = 397
	mtMatrixA   = 0x9908b0df
	mtUpperMask = 0x80000000
	mtLowerMask = 0x7fffffff
)

// Torch is torch 1.13's CPU generator: an MT19937 engine (ATen/core/MT19937RNGEngine.h) plus
// the cached second normal sample of the per-element normal sampler. The zero value is not
// usable; use NewTorch.
type Torch struct {
	state      [mtN]uint32
	left, next int
	// nextNormal caches r*sin(theta) of the per-element normal sampler (torch's
	// next_double_normal_sample); manual_seed clears it.
	nextNormal    float64
	hasNextNormal bool
}

// NewTorch returns a generator as torch.Generator().manual_seed(seed) leaves it.
func NewTorch(seed uint64) *Torch {
	g := &Torch{}
	g.ManualSeed(seed)
	return g
}

// ManualSeed re-seeds like torch.Generator.manual_seed: MT19937 init_genrand with the low 32
// bits of seed (a negative Python seed arrives as its two's complement uint64, whose low 32 bits
// torch uses the same way), and clears the cached normal sample.
func (g *Torch) ManualSeed(seed uint64) {
	g.state[0] = uint32(seed)
	for j := 1; j < mtN; j++ {
		p := g.state[j-1]
		g.state[j] = 1812433253*(p^(p>>30)) + uint32(j)
	}
	g.left, g.next = 1, 0
	g.hasNextNormal = false
}

// nextState regenerates the 624 state words (torch's next_state: it refills once left drops
// to zero, i.e. on the first draw after seeding, then every 624 draws).
func (g *Torch) nextState() {
	s := &g.state
	g.left, g.next = mtN, 0
	if vectorTwist(s) {
		return
	}
	i := 0
	for ; i < mtN-mtM; i++ {
		s[i] = s[i+mtM] ^ mix(s[i], s[i+1])
	}
	for ; i < mtN-1; i++ {
		s[i] = s[i+mtM-mtN] ^ mix(s[i], s[i+1])
	}
	s[mtN-1] = s[mtM-1] ^ mix(s[mtN-1], s[0])
}

// mix is the twist's combination of two state words. Its conditional xor by a mask (v's low
// bit is y's) is branch-free: the bit is random, and a branch on it mispredicts half the time
// (it was ~70% of a draw's cost).
func mix(u, v uint32) uint32 {
	y := u&mtUpperMask | v&mtLowerMask
	return y>>1 ^ -(v&1)&mtMatrixA
}

// noVector turns the AVX2 kernels off (the tests compare both paths).
var noVector = false

// Uint32 returns the next 32-bit word (torch's random()).
func (g *Torch) Uint32() uint32 {
	g.left--
	if g.left == 0 {
		g.nextState()
	}
	y := g.state[g.next]
	g.next++
	return temper(y)
}

// temper is MT19937's output transform of a state word.
func temper(y uint32) uint32 {
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// Uint64 returns two words as torch's random64(): the first word is the high half.
func (g *Torch) Uint64() uint64 {
	hi := g.Uint32()
	lo := g.Uint32()
	return uint64(hi)<<32 | uint64(lo)
}

// Float64 is torch's uniform_real_distribution<double>(0, 1): 53 bits of random64() times
// 2^-53, in [0, 1).
func (g *Torch) Float64() float64 {
	return float64(g.Uint64()&(1<<53-1)) * 0x1p-53
}

// Float32 is torch's uniform_real_distribution<float>(0, 1): 24 bits of one word times 2^-24,
// in [0, 1) (returned widened, exactly).
func (g *Torch) Float32() float64 {
	return float64(g.Uint32()&(1<<24-1)) * 0x1p-24
}

// Bernoulli64 draws torch.bernoulli for one element with a float64 probability p: one
// Float64 uniform u, and true iff u < p.
func (g *Torch) Bernoulli64(p float64) bool { return g.Float64() < p }

// Skip advances the generator by k 32-bit outputs, as k calls of Uint32 would, without
// tempering them: a staged kernel (stdlib) positions one generator per delta this way.
func (g *Torch) Skip(k uint64) {
	for k > 0 {
		if g.left > 1 {
			m := min(k, uint64(g.left-1))
			g.left -= int(m)
			g.next += int(m)
			k -= m
			continue
		}
		g.Uint32() // regenerates the state, then takes its first word
		k--
	}
}

// Float32s fills dst with the next len(dst) Float32 draws (one 32-bit output each), the
// values len(dst) calls of Float32 return, tempering the words in a loop of its own.
func (g *Torch) Float32s(dst []float64) {
	for len(dst) > 0 {
		m := min(g.left-1, len(dst)) // words left before a regeneration (see Float64s)
		if m <= 0 {
			dst[0] = g.Float32()
			dst = dst[1:]
			continue
		}
		words := g.state[g.next : g.next+m]
		for k := vectorFloat32s(dst[:m], words); k < m; k++ {
			dst[k] = float64(temper(words[k])&(1<<24-1)) * 0x1p-24
		}
		g.next += m
		g.left -= m
		dst = dst[m:]
	}
}

// Float64s fills dst with the next len(dst) Float64 draws, the values len(dst) calls of
// Float64 return. It tempers the state's words in a loop of its own, about three times as
// fast as a call per draw; the DELLA and DARE masks draw one uniform per element.
func (g *Torch) Float64s(dst []float64) {
	for len(dst) > 0 {
		// Words left before the state is regenerated: a draw taking the last one (left
		// reaching 0) regenerates first, so left-1 words can be taken as they are.
		m := min((g.left-1)/2, len(dst))
		if m <= 0 {
			dst[0] = g.Float64()
			dst = dst[1:]
			continue
		}
		words := g.state[g.next : g.next+2*m]
		for k := vectorFloat64s(dst[:m], words); k < m; k++ {
			hi, lo := temper(words[2*k]), temper(words[2*k+1])
			dst[k] = float64((uint64(hi)<<32|uint64(lo))&(1<<53-1)) * 0x1p-53
		}
		g.next += 2 * m
		g.left -= 2 * m
		dst = dst[m:]
	}
}

// Bernoulli32 draws torch.bernoulli for one element with a float32 probability p (p must be
// a float32 value): one Float32 uniform u, true iff u < p.
func (g *Torch) Bernoulli32(p float64) bool { return g.Float32() < p }

// RandnFloat64 fills out like torch.randn(out.shape, dtype=float64, generator=g) on the CPU
// (torch 1.13 normal_kernel). For len(out) >= 16 (normal_fill): len(out) uniforms
// (Float64), then Box-Muller on every full block of 16 (u1 = 1 - d[j], u2 = d[j+8],
// r = sqrt(-2 log u1), theta = 2 pi u2, d[j] = r cos theta, d[j+8] = r sin theta, j < 8);
// if len(out) % 16 != 0 the last 16 values are redrawn (16 new uniforms) and transformed
// again. For fewer than 16 values, torch's per-element normal_distribution<double>: two
// uniforms u1, u2, r = sqrt(-2 log(1 - u2)), theta = 2 pi u1, the value r cos theta and
// r sin theta cached for the next element.
//
// log, cos and sin are Go's, which may differ from glibc's in the last bit on rare inputs.
func (g *Torch) RandnFloat64(out []float64) {
	n := len(out)
	if n < 16 {
		for i := range out {
			out[i] = g.normal()
		}
		return
	}
	for i := range out {
		out[i] = g.Float64()
	}
	for i := 0; i+16 <= n; i += 16 {
		boxMuller16(out[i : i+16])
	}
	if n%16 != 0 {
		d := out[n-16:]
		for i := range d {
			d[i] = g.Float64()
		}
		boxMuller16(d)
	}
}

// twoPi is 2.0f * c10::pi<double>, exact in float64.
const twoPi = 2 * math.Pi

func boxMuller16(d []float64) {
	for j := 0; j < 8; j++ {
		u1 := 1 - d[j]
		u2 := d[j+8]
		r := math.Sqrt(-2 * math.Log(u1))
		theta := twoPi * u2
		d[j] = r * math.Cos(theta)
		d[j+8] = r * math.Sin(theta)
	}
}

// normal is torch's at::normal_distribution<double>(0, 1) with the generator's cached sample.
func (g *Torch) normal() float64 {
	if g.hasNextNormal {
		g.hasNextNormal = false
		return g.nextNormal
	}
	u1 := g.Float64()
	u2 := g.Float64()
	r := math.Sqrt(-2 * math.Log(1-u2))
	theta := twoPi * u1
	g.nextNormal, g.hasNextNormal = r*math.Sin(theta), true
	return r * math.Cos(theta)
}
