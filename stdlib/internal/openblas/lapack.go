//go:build cgo && mechac_openblas

package openblas

/*
#cgo LDFLAGS: -lopenblas
extern void dgesdd_(char* jobz, int* m, int* n, double* a, int* lda, double* s, double* u,
	int* ldu, double* vt, int* ldvt, double* work, int* lwork, int* iwork, int* info);
*/
import "C"

import "fmt"

// Dgesdd is LAPACK's dgesdd on the m x n column-major matrix a (lda m, overwritten), jobz 'N'
// (s only) or 'S' (u: m x min(m, n), vt: min(m, n) x n, column-major): s receives the singular
// values in descending order.
func Dgesdd(jobz byte, m, n int, a, s, u, vt []float64) error {
	k := min(m, n)
	jz := C.char(jobz)
	ldu, ldvt := C.int(1), C.int(1)
	one := []float64{0}
	pu, pvt := &one[0], &one[0]
	if jobz == 'S' {
		ldu, ldvt = C.int(m), C.int(k)
		pu, pvt = &u[0], &vt[0]
	}
	cm, cn, lda := C.int(m), C.int(n), C.int(m)
	iwork := make([]C.int, 8*k)
	return withWork("dgesdd", "SVD did not converge", func(work []float64, lwork, info *C.int) {
		C.dgesdd_(&jz, &cm, &cn, (*C.double)(&a[0]), &lda, (*C.double)(&s[0]), (*C.double)(pu), &ldu,
			(*C.double)(pvt), &ldvt, (*C.double)(&work[0]), lwork, &iwork[0], info)
	})
}

// withWork runs a LAPACK routine twice, as LAPACK asks: a workspace query (lwork = -1, the size
// returned in work[0]), then the call with that workspace. failed names a nonzero info of the
// call itself.
func withWork(name, failed string, call func(work []float64, lwork, info *C.int)) error {
	var info C.int
	q := []float64{0}
	lwork := C.int(-1)
	call(q, &lwork, &info)
	if info != 0 {
		return fmt.Errorf("%s workspace query: info %d", name, int(info))
	}
	work := make([]float64, int(q[0])+1)
	lwork = C.int(len(work))
	call(work, &lwork, &info)
	if info != 0 {
		return fmt.Errorf("%s (%s info %d)", failed, name, int(info))
	}
	return nil
}
