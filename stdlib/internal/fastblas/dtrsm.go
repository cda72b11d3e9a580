package fastblas

import (
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// trsmLeaf: triangles up to this order are solved by gonum's native Dtrsm; larger ones are
// split in halves, the off-diagonal block applied by the fast Dgemm (recursive blocking, most
// flops in large GEMMs).
const trsmLeaf = 32

// trsmMinRHS: with fewer right-hand sides gonum's native Dtrsm is used (the micro-kernel's
// tiles are 8 wide: a single vector would waste 7/8 of its work).
const trsmMinRHS = 16

// Dtrsm solves op(A) X = alpha B (side Left) or X op(A) = alpha B (side Right) for X, in
// place in B, A triangular. The order of the operations depends on the shapes only (never on
// the number of goroutines), so the results are deterministic.
func (Implementation) Dtrsm(s blas.Side, ul blas.Uplo, tA blas.Transpose, d blas.Diag, m, n int, alpha float64, a []float64, lda int, b []float64, ldb int) {
	k := n
	if s == blas.Left {
		k = m
	}
	valid := (s == blas.Left || s == blas.Right) && (ul == blas.Lower || ul == blas.Upper) &&
		(tA == blas.NoTrans || tA == blas.Trans || tA == blas.ConjTrans) &&
		(d == blas.NonUnit || d == blas.Unit) && m >= 0 && n >= 0 && lda >= max(1, k) &&
		ldb >= max(1, n) && m > 0 && n > 0 && len(a) >= lda*(k-1)+k && len(b) >= ldb*(m-1)+n
	if valid && alpha != 0 && m*n == k && k > 1 {
		// One right-hand side: gonum's Dtrsm would make one call per element of A; its Dtrsv
		// runs along A's rows.
		scaleC(m, n, alpha, b, ldb)
		if s == blas.Left {
			gonum.Implementation{}.Dtrsv(ul, tA, d, k, a, lda, b, ldb)
		} else {
			// x op(A) = b  <=>  op(A)^T x^T = b^T.
			tv := blas.Trans
			if tA != blas.NoTrans {
				tv = blas.NoTrans
			}
			gonum.Implementation{}.Dtrsv(ul, tv, d, k, a, lda, b, 1)
		}
		return
	}
	if !valid || k <= trsmLeaf || m*n/k < trsmMinRHS || alpha == 0 {
		// gonum panics on the invalid arguments, as BLAS would, and does the small cases
		// (and the few right-hand sides, where a triangle is a level-2 operation).
		gonum.Implementation{}.Dtrsm(s, ul, tA, d, m, n, alpha, a, lda, b, ldb)
		return
	}
	scaleC(m, n, alpha, b, ldb)
	t := tri{a: a, lda: lda, trans: tA != blas.NoTrans, ul: ul, diag: d}
	if s == blas.Left {
		t.left(0, m, n, b, ldb)
	} else {
		t.right(0, n, m, b, ldb)
	}
}

// tri is the triangular op(A) of a Dtrsm call.
type tri struct {
	a     []float64
	lda   int
	trans bool
	ul    blas.Uplo
	diag  blas.Diag
}

// lower reports whether op(A) is lower triangular.
func (t tri) lower() bool { return (t.ul == blas.Lower) != t.trans }

// block returns op(A)[r0:, c0:] as a Dgemm operand (slice, stride, transpose flag).
func (t tri) block(r0, c0 int) ([]float64, blas.Transpose) {
	if t.trans {
		return t.a[c0*t.lda+r0:], blas.Trans
	}
	return t.a[r0*t.lda+c0:], blas.NoTrans
}

// left solves op(A)[o:o+k, o:o+k] X = B for the k x n B (stride ldb).
func (t tri) left(o, k, n int, b []float64, ldb int) {
	if k <= trsmLeaf {
		tA := blas.NoTrans
		if t.trans {
			tA = blas.Trans
		}
		diag := t.a[o*t.lda+o:]
		// Columns of B are independent: solve them in parallel chunks.
		parallelChunks(n, k*k*n, func(j0, j1 int) {
			gonum.Implementation{}.Dtrsm(blas.Left, t.ul, tA, t.diag, k, j1-j0, 1, diag, t.lda, b[j0:], ldb)
		})
		return
	}
	h := k / 2
	b1, b2 := b, b[h*ldb:]
	if t.lower() {
		// [T11 0; T21 T22]: X1 from T11, then B2 -= T21 X1, X2 from T22.
		t.left(o, h, n, b1, ldb)
		blk, tr := t.block(o+h, o)
		Implementation{}.Dgemm(tr, blas.NoTrans, k-h, n, h, -1, blk, t.lda, b1, ldb, 1, b2, ldb)
		t.left(o+h, k-h, n, b2, ldb)
		return
	}
	// [T11 T12; 0 T22]: X2 from T22, then B1 -= T12 X2, X1 from T11.
	t.left(o+h, k-h, n, b2, ldb)
	blk, tr := t.block(o, o+h)
	Implementation{}.Dgemm(tr, blas.NoTrans, h, n, k-h, -1, blk, t.lda, b2, ldb, 1, b1, ldb)
	t.left(o, h, n, b1, ldb)
}

// right solves X op(A)[o:o+k, o:o+k] = B for the m x k B (stride ldb).
func (t tri) right(o, k, m int, b []float64, ldb int) {
	if k <= trsmLeaf {
		tA := blas.NoTrans
		if t.trans {
			tA = blas.Trans
		}
		diag := t.a[o*t.lda+o:]
		// Rows of B are independent.
		parallelChunks(m, k*k*m, func(i0, i1 int) {
			gonum.Implementation{}.Dtrsm(blas.Right, t.ul, tA, t.diag, i1-i0, k, 1, diag, t.lda, b[i0*ldb:], ldb)
		})
		return
	}
	h := k / 2
	b1, b2 := b, b[h:]
	if t.lower() {
		// X [T11 0; T21 T22] = B: X2 from T22, then B1 -= X2 T21, X1 from T11.
		t.right(o+h, k-h, m, b2, ldb)
		blk, tr := t.block(o+h, o)
		Implementation{}.Dgemm(blas.NoTrans, tr, m, h, k-h, -1, b2, ldb, blk, t.lda, 1, b1, ldb)
		t.right(o, h, m, b1, ldb)
		return
	}
	// X [T11 T12; 0 T22] = B: X1 from T11, then B2 -= X1 T12, X2 from T22.
	t.right(o, h, m, b1, ldb)
	blk, tr := t.block(o, o+h)
	Implementation{}.Dgemm(blas.NoTrans, tr, m, k-h, h, -1, b1, ldb, blk, t.lda, 1, b2, ldb)
	t.right(o+h, k-h, m, b2, ldb)
}

// parallelChunks calls f on a partition of [0, n) into contiguous chunks, concurrently when
// the work (flops) is large; f must treat its indices independently of the partition.
func parallelChunks(n, flops int, f func(lo, hi int)) {
	w := runtime.GOMAXPROCS(0)
	if flops < parallelFlops || w <= 1 || n < 2*w {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := range w {
		lo, hi := n*i/w, n*(i+1)/w
		wg.Go(func() { f(lo, hi) })
	}
	wg.Wait()
}
