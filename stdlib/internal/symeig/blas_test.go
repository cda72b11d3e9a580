package symeig

import (
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/mechac/mechac/stdlib/internal/fastblas"
)

// The tests and benchmarks run with the BLAS mechac installs (stdlib's init does it there).
func init() { blas64.Use(fastblas.Implementation{}) }
