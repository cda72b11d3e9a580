package stdlib

import (
	"github.com/mechac/mechac/ops/rng"
	"gonum.org/v1/gonum/mat"
)

// svdLowRank is sd-mecha's svd_lowrank (a copy of torch._lowrank.svd_lowrank): the SVD of a
// restricted to a randomized rank-r range. For a wide a the range is found for a^T.
func svdLowRank(a *mat.Dense, rank, iters int, seed uint64, seeded bool) (u *mat.Dense, s []float64, vt *mat.Dense, err error) {
	m, n := a.Dims()
	x := a
	if m < n {
		x = laClone(a.T())
	}
	q := approximateBasis(x, rank, iters, seed, seeded)
	ub, s, vt, err := laSVD(laMul(q.T(), x))
	if err != nil {
		return nil, nil, nil, err
	}
	u = laMul(q, ub)
	if m < n {
		return laClone(vt.T()), s, laClone(u.T()), nil
	}
	return u, s, vt, nil
}

// approximateBasis is sd-mecha's get_approximate_basis (torch._lowrank.get_approximate_basis):
// r = torch.randn(cols, rank, float64, generator seeded with seed), q = Q(a r), then iters
// times q = Q(a^T q), q = Q(a q), Q being the Householder QR's orthonormal factor. Without a
// seed, a fresh generator with torch's default seed.
func approximateBasis(a *mat.Dense, rank, iters int, seed uint64, seeded bool) *mat.Dense {
	_, n := a.Dims()
	if !seeded {
		seed = rng.TorchDefaultSeed
	}
	r := make([]float64, n*rank)
	rng.NewTorch(seed).RandnFloat64(r)
	q := laOrthoBasis(laMul(a, mat.NewDense(n, rank, r)))
	for range iters {
		q = laOrthoBasis(laMul(a.T(), q))
		q = laOrthoBasis(laMul(a, q))
	}
	return q
}
