//go:build cgo && mechac_openblas

package stdlib

// Optional: the SVD through OpenBLAS's LAPACK (dgesdd, divide and conquer: what
// torch.linalg.svd calls on the CPU), about ten times faster than gonum's pure-Go dgesvd on
// SDXL-sized matrices. Build with `go build -tags mechac_openblas` (needs cgo and libopenblas-dev); the
// default build is pure Go. The cgo calls live in stdlib/internal/openblas: Go allows no cgo
// in a package with Go assembly.

import (
	"gonum.org/v1/gonum/mat"

	"github.com/mechac/mechac/stdlib/internal/openblas"
)

func init() { lapackSVD = openblasSVD }

// openblasSVD runs dgesdd on a's row-major buffer, which column-major LAPACK reads as a^T:
// a^T = V S U^T, so LAPACK's "u" buffer (n x k column-major) is Vt row-major and its "vt"
// buffer (k x m column-major) is U row-major, without copies.
func openblasSVD(a *mat.Dense, vectors bool) (*mat.Dense, []float64, *mat.Dense, error) {
	m, n := a.Dims()
	k := min(m, n)
	if k == 0 {
		return mat.NewDense(m, 0, nil), nil, mat.NewDense(0, n, nil), nil
	}
	g := a.RawMatrix()
	data := g.Data
	if g.Stride != n {
		data = laClone(a).RawMatrix().Data
	}
	s := make([]float64, k)
	jobz := byte('N')
	var vtBuf, uBuf []float64 // LAPACK's u (n x k) and vt (k x m)
	if vectors {
		jobz = 'S'
		uBuf, vtBuf = make([]float64, n*k), make([]float64, k*m)
	}
	if err := openblas.Dgesdd(jobz, n, m, data, s, uBuf, vtBuf); err != nil {
		return nil, nil, nil, err
	}
	if !vectors {
		return nil, s, nil, nil
	}
	return mat.NewDense(m, k, vtBuf), s, mat.NewDense(k, n, uBuf), nil
}
