package fastblas

import "gonum.org/v1/gonum/blas"

// syr2kBlock is the order of the diagonal blocks Dsyr2k makes in a scratch square (a constant:
// it decides which products go through which Dgemm call, hence the bits).
const syr2kBlock = 256

// Dsyr2k computes the ul triangle of C = alpha (A Bᵀ + B Aᵀ) + beta C (tA NoTrans, A and B
// n x k) or alpha (Aᵀ B + Bᵀ A) + beta C (Trans, k x n). Dsytrd's trailing-matrix update
// (rank 2·32) is this; gonum's own runs it on one goroutine at ~2 GFLOPS (4.8 of a 2560x2560
// decomposition's 20 CPU-s). Here C's rows go in blocks of syr2kBlock: the part of a block
// row left (lower) or right (upper) of its diagonal block is two Dgemm calls on C itself,
// beta applied by the first; the diagonal block is two Dgemm calls into a scratch square, of
// which the stored triangle is then added: c = beta c + s (beta = 0: c = s). The other triangle
// of C is neither read nor written.
func (Implementation) Dsyr2k(ul blas.Uplo, tA blas.Transpose, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if ul != blas.Lower && ul != blas.Upper {
		panic("blas: illegal triangle")
	}
	trans := checkTrans(tA)
	if n < 0 || k < 0 {
		panic("blas: negative dimension")
	}
	rowsA, colsA := n, k
	if trans {
		rowsA, colsA = k, n
	}
	if lda < max(1, colsA) || ldb < max(1, colsA) || ldc < max(1, n) {
		panic("blas: bad leading dimension")
	}
	if n == 0 {
		return
	}
	if len(c) < ldc*(n-1)+n || rowsA > 0 && (len(a) < lda*(rowsA-1)+colsA || len(b) < ldb*(rowsA-1)+colsA) {
		panic("blas: short slice")
	}
	if k == 0 {
		alpha = 0 // no products: C = beta C (Dgemm with alpha 0 reads neither A nor B)
	}
	g := Implementation{}
	// rows returns the operand rows (NoTrans) or columns (Trans) i0.. as the first factor of
	// a Dgemm, and as its transposed second factor.
	tN, tT := blas.NoTrans, blas.Trans
	if trans {
		tN, tT = blas.Trans, blas.NoTrans
	}
	at := func(m []float64, ld, i int) []float64 {
		if len(m) == 0 {
			return m
		}
		if trans {
			return m[i:]
		}
		return m[i*ld:]
	}
	scratch := getBuf(syr2kBlock * syr2kBlock)
	defer bufPool.Put(scratch)
	for i0 := 0; i0 < n; i0 += syr2kBlock {
		i1 := min(n, i0+syr2kBlock)
		m := i1 - i0
		c0, c1 := 0, i0 // the off-diagonal columns of this block row
		if ul == blas.Upper {
			c0, c1 = i1, n
		}
		if c1 > c0 {
			cc := c[i0*ldc+c0:]
			g.Dgemm(tN, tT, m, c1-c0, k, alpha, at(a, lda, i0), lda, at(b, ldb, c0), ldb, beta, cc, ldc)
			g.Dgemm(tN, tT, m, c1-c0, k, alpha, at(b, ldb, i0), ldb, at(a, lda, c0), lda, 1, cc, ldc)
		}
		s := (*scratch)[:m*m]
		g.Dgemm(tN, tT, m, m, k, alpha, at(a, lda, i0), lda, at(b, ldb, i0), ldb, 0, s, m)
		g.Dgemm(tN, tT, m, m, k, alpha, at(b, ldb, i0), ldb, at(a, lda, i0), lda, 1, s, m)
		for i := range m {
			lo, hi := 0, i+1
			if ul == blas.Upper {
				lo, hi = i, m
			}
			row := c[(i0+i)*ldc+i0 : (i0+i)*ldc+i0+m]
			for j := lo; j < hi; j++ {
				if beta == 0 {
					row[j] = s[i*m+j]
				} else {
					row[j] = float64(beta*row[j]) + s[i*m+j]
				}
			}
		}
	}
}
