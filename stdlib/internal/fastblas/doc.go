// Package fastblas is gonum's pure-Go BLAS with a fast, deterministic Dgemm (an AVX2+FMA
// register-blocked micro-kernel in Go assembly over packed panels), Dtrsm, Dtrmm and Dsyr2k
// blocked on it, and a Dsymv that reads its triangle once on all cores. gonum's own Dgemm runs
// a few GFLOPS; the LU, QR and triangular solves of the SVD-family methods spend nearly all
// their time in it, and the symmetric eigen-decompositions (symeig) in Dsymv and Dsyr2k.
// Install with blas64.Use(fastblas.Implementation{}).
//
// Determinism: every element of C is the sum over k in increasing order, one fused
// multiply-add a step, in blocks of kcBlock (an accumulator starting at +0 per block, then
// c = fma(alpha, acc, c)), whatever the number of goroutines (they split C's rows, never k) or
// the CPU. A machine without AVX2 and FMA runs the same operations in the same order in pure Go
// with math.FMA, which rounds once as the instruction does: the results are bit-identical.
// Dtrsm and Dtrmm add gonum's own routines on small triangles (splitting only independent
// columns or rows among goroutines): identical on every amd64 CPU too; on other architectures
// the Go compiler may fuse gonum's multiply-adds, as it may everywhere else in gonum. Dsymv and
// Dsyr2k fix their own orders (see them), independent of goroutines and CPU as well. Transpose,
// a tiled matrix transpose, is here for the copies of the SVD family.
package fastblas

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Implementation is gonum's native BLAS with Dgemm, Dtrsm, Dtrmm, Dsyr2k and Dsymv replaced.
type Implementation struct{ gonum.Implementation }

var _ blas.Float64 = Implementation{}
