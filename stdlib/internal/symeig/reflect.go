package symeig

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// reflectBlock is how many reflectors applyQ gathers into one block reflector, and
// reflectPanel how many columns of the matrix it carries through all of them at a time.
// gonum's Dormqr applies blocks of 32 to the whole matrix: each block streams all of it
// through memory twice (at 2048, 32 MB, 64 times), which held its products to ~26 GFLOPS.
var reflectBlock, reflectPanel = 128, 256 // variables for the tests

// applyQ sets the m x nc matrix c (row stride ldc) to Q c, where Q = H(0) H(1) ... H(k-1) and
// H(j) = I - tau[j] v_j v_jᵀ are k reflectors stored as LAPACK's QR stores them: v_j[j] = 1,
// v_j[r] = a[r*lda+j] below it, 0 above. It is LAPACK's dormqr (left side, no transpose) in
// blocks of reflectBlock reflectors, each applied as I - V T Vᵀ (the compact WY form, T upper
// triangular) through three matrix products on the BLAS blas64 holds, to reflectPanel
// columns of c at a time: Q c's columns are Q times c's, so a panel stays in cache through
// every block.
func applyQ(m, nc, k int, a []float64, lda int, tau []float64, c []float64, ldc int) {
	if m == 0 || nc == 0 || k == 0 {
		return
	}
	blocks := qBlocks(m, k, a, lda, tau)
	width := min(reflectPanel, nc)
	nbMax := blocks[0].nb
	w := make([]float64, nbMax*width)  // (Vᵀ C)ᵀ
	tw := make([]float64, nbMax*width) // (T Vᵀ C)ᵀ
	bi := blas64.Implementation()
	for c0 := 0; c0 < nc; c0 += width {
		cols := min(width, nc-c0)
		// Q c = H(0) (... (H(k-1) c)): the last block first.
		for i := len(blocks) - 1; i >= 0; i-- {
			b := &blocks[i]
			cb := c[b.j0*ldc+c0:]
			bi.Dgemm(blas.Trans, blas.NoTrans, b.nb, cols, b.rows, 1, b.v, b.nb, cb, ldc, 0, w, cols)
			bi.Dgemm(blas.NoTrans, blas.NoTrans, b.nb, cols, b.nb, 1, b.t, b.nb, w, cols, 0, tw, cols)
			bi.Dgemm(blas.NoTrans, blas.NoTrans, b.rows, cols, b.nb, -1, b.v, b.nb, tw, cols, 1, cb, ldc)
		}
	}
}

// qBlock is nb reflectors from j0 as one block reflector I - V T Vᵀ on rows j0.. (rows of
// them): V rows x nb (row stride nb) with its unit diagonal and zeros made explicit, T nb x nb
// upper triangular.
type qBlock struct {
	j0, nb, rows int
	v, t         []float64
}

// qBlocks gathers the k reflectors into blocks of reflectBlock.
func qBlocks(m, k int, a []float64, lda int, tau []float64) []qBlock {
	nbMax := min(reflectBlock, k)
	var blocks []qBlock
	g := make([]float64, nbMax*nbMax) // Vᵀ V
	bi := blas64.Implementation()
	for j0 := 0; j0 < k; j0 += nbMax {
		b := qBlock{j0: j0, nb: min(nbMax, k-j0), rows: m - j0}
		nb := b.nb
		b.v, b.t = make([]float64, b.rows*nb), make([]float64, nb*nb)
		for r := range b.rows {
			row := b.v[r*nb : r*nb+nb]
			for q := range row {
				switch {
				case r < q:
					row[q] = 0
				case r == q:
					row[q] = 1
				default:
					row[q] = a[(j0+r)*lda+j0+q]
				}
			}
		}
		// T by LAPACK's dlarft recurrence: T[q, q] = tau_q, and column q above the diagonal is
		// -tau_q T[:q, :q] (V[:, :q]ᵀ v_q), the inner products taken from one Vᵀ V.
		bi.Dgemm(blas.Trans, blas.NoTrans, nb, nb, b.rows, 1, b.v, nb, b.v, nb, 0, g, nb)
		t := b.t
		for q := range nb {
			tq := tau[j0+q]
			for r := range q {
				s := 0.0
				for p, x := range t[r*nb+r : r*nb+q] {
					s += x * g[q*nb+r+p] // G is symmetric: its row q is column q
				}
				t[r*nb+q] = -tq * s
			}
			t[q*nb+q] = tq
		}
		blocks = append(blocks, b)
	}
	return blocks
}
