//go:build cgo && mechac_openblas

package stdlib

// Optional: the SVD through OpenBLAS's LAPACK (dgesdd, divide and conquer; what torch.linalg.svd
// calls on the CPU), about ten times faster than gonum's pure-Go dgesvd on SDXL-sized matrices.
// Build with `go build -tags mechac_openblas` (needs cgo and libopenblas-dev); the default build
// is pure Go.

/*
#cgo LDFLAGS: -lopenblas
extern void dgesdd_(char* jobz, int* m, int* n, double* a, int* lda, double* s, double* u,
	int* ldu, double* vt, int* ldvt, double* work, int* lwork, int* iwork, int* info);
*/
import "C"

import (
	"fmt"

	"gonum.org/v1/gonum/mat"
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
		data = mat.DenseCopyOf(a).RawMatrix().Data
	}
	s := make([]float64, k)
	jobz := C.char('N')
	var vtBuf, uBuf []float64 // LAPACK's u (n x k) and vt (k x m)
	ldu, ldvt := C.int(1), C.int(1)
	one := []float64{0}
	pu, pvt := &one[0], &one[0]
	if vectors {
		jobz = 'S'
		uBuf, vtBuf = make([]float64, n*k), make([]float64, k*m)
		ldu, ldvt = C.int(n), C.int(k)
		pu, pvt = &uBuf[0], &vtBuf[0]
	}
	cm, cn, lda := C.int(n), C.int(m), C.int(n)
	iwork := make([]C.int, 8*k)
	var info C.int
	q := []float64{0}
	lwork := C.int(-1)
	C.dgesdd_(&jobz, &cm, &cn, (*C.double)(&data[0]), &lda, (*C.double)(&s[0]), (*C.double)(pu), &ldu,
		(*C.double)(pvt), &ldvt, (*C.double)(&q[0]), &lwork, &iwork[0], &info)
	if info != 0 {
		return nil, nil, nil, fmt.Errorf("dgesdd workspace query: info %d", int(info))
	}
	work := make([]float64, int(q[0])+1)
	lwork = C.int(len(work))
	C.dgesdd_(&jobz, &cm, &cn, (*C.double)(&data[0]), &lda, (*C.double)(&s[0]), (*C.double)(pu), &ldu,
		(*C.double)(pvt), &ldvt, (*C.double)(&work[0]), &lwork, &iwork[0], &info)
	if info != 0 {
		return nil, nil, nil, fmt.Errorf("SVD did not converge (dgesdd info %d)", int(info))
	}
	if !vectors {
		return nil, s, nil, nil
	}
	return mat.NewDense(m, k, vtBuf), s, mat.NewDense(k, n, uBuf), nil
}
