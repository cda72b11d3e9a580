package stdlib

import (
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/mechac/mechac/stdlib/internal/fastblas"
)

// gonum's LAPACK (LU, QR, triangular solves, the blocked parts of its SVD and eigen
// decompositions) does almost all its arithmetic in BLAS level 3, and gonum's pure-Go Dgemm
// runs a few GFLOPS; fastblas's assembly Dgemm (and the Dtrsm blocked on it) run 10-20 times
// faster on AVX2+FMA and give the same bits on any CPU and with any number of goroutines.
// blas64.Use is process-wide: every gonum call of the binary gets it (only stdlib uses gonum).
func init() { blas64.Use(fastblas.Implementation{}) }
