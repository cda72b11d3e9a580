package stdlib

import "github.com/mechac/mechac/ops/rng"

// bernoulliMaskBlock is the number of elements bernoulliMask64 draws at a time.
const bernoulliMaskBlock = 1024

// bernoulliMask64 writes m[j] = dl[j] * bernoulli(q_j) for every j: torch.bernoulli of a
// float64 probability tensor (one Float64 uniform u per element, in order, kept iff u < q),
// then the product with the delta (1 or +0, as torch's float mask). fillQ writes the
// probabilities of the elements [lo, lo+len(q)), which must lie in [0, 1] (torch.bernoulli's
// check, an error of the method name otherwise); a block's uniforms are drawn after its
// probabilities are checked, so an error returns before the block's draws, which only
// matters to a generator the failed call no longer uses.
func bernoulliMask64(name string, g *rng.Torch, dl, m []float64, fillQ func(q []float64, lo int) error) error {
	var qb, ub [bernoulliMaskBlock]float64
	m = m[:len(dl)]
	for lo := 0; lo < len(dl); lo += bernoulliMaskBlock {
		hi := min(lo+bernoulliMaskBlock, len(dl))
		q, u := qb[:hi-lo], ub[:hi-lo]
		if err := fillQ(q, lo); err != nil {
			return err
		}
		for _, p := range q {
			if err := bernoulliCheck(name, p); err != nil {
				return err
			}
		}
		g.Float64s(u)
		for j, v := range dl[lo:hi] {
			m[lo+j] = v * tiesB2F(u[j] < q[j])
		}
	}
	return nil
}
