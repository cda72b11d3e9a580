package fastblas

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Dtrmm computes B = alpha op(A) B (side Left) or B = alpha B op(A) (side Right), A
// triangular, in place, recursively as Dtrsm: halves of the triangle, the off-diagonal block
// by the fast Dgemm, gonum's native Dtrmm on triangles up to trsmLeaf. LAPACK's triangular
// inverse (Dtrtri, used by Dgetri) spends its time here.
func (Implementation) Dtrmm(s blas.Side, ul blas.Uplo, tA blas.Transpose, d blas.Diag, m, n int, alpha float64, a []float64, lda int, b []float64, ldb int) {
	k := n
	if s == blas.Left {
		k = m
	}
	valid := (s == blas.Left || s == blas.Right) && (ul == blas.Lower || ul == blas.Upper) &&
		(tA == blas.NoTrans || tA == blas.Trans || tA == blas.ConjTrans) &&
		(d == blas.NonUnit || d == blas.Unit) && m >= 0 && n >= 0 && lda >= max(1, k) &&
		ldb >= max(1, n) && m > 0 && n > 0 && len(a) >= lda*(k-1)+k && len(b) >= ldb*(m-1)+n
	if !valid || k <= trsmLeaf || m*n/k < trsmMinRHS || alpha == 0 {
		gonum.Implementation{}.Dtrmm(s, ul, tA, d, m, n, alpha, a, lda, b, ldb)
		return
	}
	scaleC(m, n, alpha, b, ldb)
	t := tri{a: a, lda: lda, trans: tA != blas.NoTrans, ul: ul, diag: d}
	if s == blas.Left {
		t.mulLeft(0, m, n, b, ldb)
	} else {
		t.mulRight(0, n, m, b, ldb)
	}
}

// mulLeft sets B = op(A)[o:o+k, o:o+k] B for the k x n B.
func (t tri) mulLeft(o, k, n int, b []float64, ldb int) {
	if k <= trsmLeaf {
		tA := blas.NoTrans
		if t.trans {
			tA = blas.Trans
		}
		diag := t.a[o*t.lda+o:]
		parallelChunks(n, k*k*n, func(j0, j1 int) {
			gonum.Implementation{}.Dtrmm(blas.Left, t.ul, tA, t.diag, k, j1-j0, 1, diag, t.lda, b[j0:], ldb)
		})
		return
	}
	h := k / 2
	b1, b2 := b, b[h*ldb:]
	if t.lower() {
		// [T11 0; T21 T22] [B1; B2] = [T11 B1; T21 B1 + T22 B2]: B2 first (it needs the old B1).
		t.mulLeft(o+h, k-h, n, b2, ldb)
		blk, tr := t.block(o+h, o)
		Implementation{}.Dgemm(tr, blas.NoTrans, k-h, n, h, 1, blk, t.lda, b1, ldb, 1, b2, ldb)
		t.mulLeft(o, h, n, b1, ldb)
		return
	}
	// [T11 T12; 0 T22] [B1; B2] = [T11 B1 + T12 B2; T22 B2]: B1 first (it needs the old B2).
	t.mulLeft(o, h, n, b1, ldb)
	blk, tr := t.block(o, o+h)
	Implementation{}.Dgemm(tr, blas.NoTrans, h, n, k-h, 1, blk, t.lda, b2, ldb, 1, b1, ldb)
	t.mulLeft(o+h, k-h, n, b2, ldb)
}

// mulRight sets B = B op(A)[o:o+k, o:o+k] for the m x k B.
func (t tri) mulRight(o, k, m int, b []float64, ldb int) {
	if k <= trsmLeaf {
		tA := blas.NoTrans
		if t.trans {
			tA = blas.Trans
		}
		diag := t.a[o*t.lda+o:]
		parallelChunks(m, k*k*m, func(i0, i1 int) {
			gonum.Implementation{}.Dtrmm(blas.Right, t.ul, tA, t.diag, i1-i0, k, 1, diag, t.lda, b[i0*ldb:], ldb)
		})
		return
	}
	h := k / 2
	b1, b2 := b, b[h:]
	if t.lower() {
		// [B1 B2] [T11 0; T21 T22] = [B1 T11 + B2 T21, B2 T22]: B1 first.
		t.mulRight(o, h, m, b1, ldb)
		blk, tr := t.block(o+h, o)
		Implementation{}.Dgemm(blas.NoTrans, tr, m, h, k-h, 1, b2, ldb, blk, t.lda, 1, b1, ldb)
		t.mulRight(o+h, k-h, m, b2, ldb)
		return
	}
	// [B1 B2] [T11 T12; 0 T22] = [B1 T11, B1 T12 + B2 T22]: B2 first.
	t.mulRight(o+h, k-h, m, b2, ldb)
	blk, tr := t.block(o, o+h)
	Implementation{}.Dgemm(blas.NoTrans, tr, m, k-h, h, 1, b1, ldb, blk, t.lda, 1, b2, ldb)
	t.mulRight(o, h, m, b1, ldb)
}
