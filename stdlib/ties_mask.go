package stdlib

import (
	"sync"

	"github.com/mechac/mechac/ops/rng"
)

// bernoulliMaskBlock is the number of elements bernoulliMask64 draws at a time.
const bernoulliMaskBlock = 1024

// bernoulliBlocks recycles bernoulliDraw64's probability and uniform blocks: they escape to
// the callbacks, so each call allocated and zeroed 16 KiB, per delta per key (x215a: 215 calls
// a key, ~1.5% of its CPU time in the zeroing). Every element is written before it is read.
var bernoulliBlocks = sync.Pool{New: func() any { return new([2][bernoulliMaskBlock]float64) }}

// bernoulliMask64 writes m[j] = dl[j] * bernoulli(q_j) for every j: torch.bernoulli of a
// float64 probability tensor (one Float64 uniform u per element, in order, kept iff u < q),
// then the product with the delta (1 or +0, as torch's float mask). fillQ writes the
// probabilities of the elements [lo, lo+len(q)), which must lie in [0, 1] (torch.bernoulli's
// check, an error of the method name otherwise); a block's uniforms are drawn after its
// probabilities are checked, so an error returns before the block's draws, which only
// matters to a generator the failed call no longer uses.
func bernoulliMask64(name string, g *rng.Torch, dl, m []float64, fillQ func(q []float64, lo int) error) error {
	m = m[:len(dl)]
	return bernoulliDraw64(name, g, len(dl), fillQ, func(lo int, u, q []float64) {
		vecMaskMul(m[lo:lo+len(u)], dl[lo:lo+len(u)], u, q)
	})
}

// bernoulliMaskScalar64 is bernoulliMask64 with one probability q, in [0, 1], for every
// element: the uniforms drawn in order into m, then m[j] = dl[j] * (1 if u_j < q else +0).
func bernoulliMaskScalar64(g *rng.Torch, dl, m []float64, q float64) {
	m = m[:len(dl)]
	g.Float64s(m)
	vecMaskMulScalar(m, dl, m, q)
}

// bernoulliBits64 is bernoulliMask64's draws kept as bits: bit j of bits (bits[j/64] >> j%64)
// is set iff element j is kept.
func bernoulliBits64(name string, g *rng.Torch, n int, bits []uint64, fillQ func(q []float64, lo int) error) error {
	clear(bits[:(n+63)/64])
	return bernoulliDraw64(name, g, n, fillQ, func(lo int, u, q []float64) {
		for j := range u {
			bits[(lo+j)/64] |= uint64(tiesB2I(u[j] < q[j])) << ((lo + j) % 64)
		}
	})
}

// bernoulliDraw64 draws the uniforms of n float64 bernoulli trials a block at a time, each
// block's probabilities (fillQ) checked first, and hands each block's uniforms and
// probabilities to keep.
func bernoulliDraw64(name string, g *rng.Torch, n int, fillQ func(q []float64, lo int) error, keep func(lo int, u, q []float64)) error {
	bufs := bernoulliBlocks.Get().(*[2][bernoulliMaskBlock]float64)
	defer bernoulliBlocks.Put(bufs)
	qb, ub := &bufs[0], &bufs[1]
	for lo := 0; lo < n; lo += bernoulliMaskBlock {
		hi := min(lo+bernoulliMaskBlock, n)
		q, u := qb[:hi-lo], ub[:hi-lo]
		if err := fillQ(q, lo); err != nil {
			return err
		}
		if !vecUnit(q) { // bernoulliCheck's test, four at a time: it ran per element
			for _, p := range q {
				if err := bernoulliCheck(name, p); err != nil {
					return err
				}
			}
		}
		g.Float64s(u)
		keep(lo, u, q)
	}
	return nil
}
