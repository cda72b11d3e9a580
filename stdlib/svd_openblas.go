//go:build cgo && mechac_openblas

package stdlib

// Optional: the SVD and the non-symmetric eigen-decomposition through OpenBLAS's LAPACK (dgesdd,
// divide and conquer, and dgeev: what torch.linalg.svd and torch.linalg.eig call on the CPU),
// about ten times faster than gonum's pure-Go dgesvd and several times its Dgeev on SDXL-sized
// matrices. Build with `go build -tags mechac_openblas` (needs cgo and libopenblas-dev); the
// default build is pure Go. The cgo calls live in stdlib/internal/openblas: Go allows no cgo
// in a package with Go assembly.

import (
	"gonum.org/v1/gonum/mat"

	"github.com/mechac/mechac/stdlib/internal/openblas"
)

func init() { lapackSVD, lapackEig = openblasSVD, openblasEig }

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
		data = mat.DenseCopyOf(a).RawMatrix().Data
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

// openblasEig runs dgeev (right eigenvectors) on a column-major copy of the square matrix a.
// Each vector has unit norm and its largest component real, as gonum's Dgeev gives them.
func openblasEig(a *mat.Dense) ([]complex128, *mat.Dense, *mat.Dense, error) {
	n, _ := a.Dims()
	if n == 0 {
		return nil, mat.NewDense(0, 0, nil), mat.NewDense(0, 0, nil), nil
	}
	col := make([]float64, n*n)
	for i := range n {
		for j := range n {
			col[j*n+i] = a.At(i, j)
		}
	}
	wr, wi, vr := make([]float64, n), make([]float64, n), make([]float64, n*n)
	if err := openblas.Dgeev(n, col, wr, wi, vr); err != nil {
		return nil, nil, nil, err
	}
	vals := make([]complex128, n)
	re, im := mat.NewDense(n, n, nil), mat.NewDense(n, n, nil)
	for j := 0; j < n; j++ {
		vals[j] = complex(wr[j], wi[j])
		if wi[j] == 0 || j+1 == n {
			for i := range n {
				re.Set(i, j, vr[j*n+i])
			}
			continue
		}
		// A pair: v_j = x + iy and v_{j+1} = x - iy, from the columns j (x) and j+1 (y).
		vals[j+1] = complex(wr[j+1], wi[j+1])
		for i := range n {
			x, y := vr[j*n+i], vr[(j+1)*n+i]
			re.Set(i, j, x)
			im.Set(i, j, y)
			re.Set(i, j+1, x)
			im.Set(i, j+1, -y)
		}
		j++
	}
	return vals, re, im, nil
}
