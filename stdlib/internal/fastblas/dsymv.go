package fastblas

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
)

// Dsymv computes y = alpha A x + beta y for the symmetric n x n A of which the ul triangle is
// stored (row-major, as gonum's). LAPACK's tridiagonal reduction (Dsytrd's Dlatrd) calls it once
// per column on the trailing matrix: half of that reduction's arithmetic, all of it bound by
// memory. gonum's reads each stored row twice (a dot and an axpy) on one goroutine; here each
// row of the triangle is read once, its dot with x and its axpy into a partial y fused in one
// pass (symvRow), the rows in blocks of symvBlock that run on all cores.
//
// Determinism: the blocks are fixed by n (not by the number of goroutines), each keeps its own
// partial vector, and they are added in block order; each row's dot sums in eight lanes (column
// j into lane j mod 8, one fused multiply-add each) that are then added in lane order. So the
// bits depend on neither GOMAXPROCS nor the CPU (symvRowGo is the same operations in Go).
//
// For row r (lower: its columns j < r; upper: j > r): t_r = Σ a_rj x_j, and p[j] += a_rj x_r;
// then (A x)_r = fma(a_rr, x_r, t_r) + p_1[r] + p_2[r] + ... (blocks in order), and
// y_r = beta y_r + alpha (A x)_r (beta = 0: y is not read; alpha = 0: y = beta y).
func (Implementation) Dsymv(ul blas.Uplo, n int, alpha float64, a []float64, lda int, x []float64, incX int, beta float64, y []float64, incY int) {
	if ul != blas.Lower && ul != blas.Upper {
		panic("blas: illegal triangle")
	}
	if n < 0 {
		panic("blas: n < 0")
	}
	if lda < max(1, n) {
		panic("blas: bad lda")
	}
	if incX == 0 || incY == 0 {
		panic("blas: zero increment")
	}
	if n == 0 {
		return
	}
	if len(a) < lda*(n-1)+n || len(x) < 1+(n-1)*abs(incX) || len(y) < 1+(n-1)*abs(incY) {
		panic("blas: short slice")
	}
	if alpha == 0 && beta == 1 {
		return
	}
	xs := gather(x, n, incX)
	// Dlatrd calls this once per column: the buffers come from the pool, not the heap.
	axp := getBuf(n)
	defer bufPool.Put(axp)
	ax := *axp
	clear(ax)
	if alpha != 0 {
		symvProduct(ul == blas.Lower, n, a, lda, xs, ax)
	}
	iy := 0
	if incY < 0 {
		iy = -(n - 1) * incY
	}
	for i := range n {
		v := alpha * ax[i]
		if alpha == 0 {
			v = 0
		}
		switch beta {
		case 0:
			y[iy] = v
		default:
			y[iy] = float64(beta*y[iy]) + v
		}
		iy += incY
	}
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

// gather returns x's n elements (stride inc, BLAS's order for a negative inc) contiguously.
func gather(x []float64, n, inc int) []float64 {
	if inc == 1 {
		return x[:n]
	}
	out := make([]float64, n)
	ix := 0
	if inc < 0 {
		ix = -(n - 1) * inc
	}
	for i := range out {
		out[i] = x[ix]
		ix += inc
	}
	return out
}

// symvBlock is the number of rows whose axpys share a partial vector. A constant: it decides
// the order of the additions, hence the bits.
const symvBlock = 128

// symvProduct sets ax = A x for the symmetric A stored in its lower (or upper) triangle.
func symvProduct(lower bool, n int, a []float64, lda int, x, ax []float64) {
	blocks := (n + symvBlock - 1) / symvBlock
	pp := getBuf(blocks * n)
	defer bufPool.Put(pp)
	partial := *pp
	clear(partial)
	workers := min(runtime.GOMAXPROCS(0), blocks)
	if n*n < 1<<16 {
		workers = 1
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				b := int(next.Add(1)) - 1
				if b >= blocks {
					return
				}
				p := partial[b*n : (b+1)*n]
				r := b * symvBlock
				end := min(n, (b+1)*symvBlock)
				if lower && useAsm {
					// Four rows at a time: the same operations as one at a time.
					for ; r+4 <= end && r >= 8; r += 4 {
						symv4Rows(a, lda, r, x, p, ax)
					}
				}
				for ; r < end; r++ {
					lo, hi := 0, r // the stored off-diagonal part of row r
					if !lower {
						lo, hi = r+1, n
					}
					row := a[r*lda+lo : r*lda+hi]
					ax[r] = math.FMA(a[r*lda+r], x[r], symvRow(row, x[lo:hi], p[lo:hi], x[r]))
				}
			}
		})
	}
	wg.Wait()
	for b := range blocks {
		p := partial[b*n : (b+1)*n]
		for i := range ax {
			ax[i] += p[i]
		}
	}
}

// symvRow returns Σ row[j] x[j] (eight lanes, see Dsymv) and adds row[j]·xr to p[j], one
// fused multiply-add each.
func symvRow(row, x, p []float64, xr float64) float64 {
	var lanes [8]float64
	n8 := len(row) &^ 7
	if useAsm && n8 > 0 {
		_, _ = x[n8-1], p[n8-1]
		symvRowAsm(&row[0], &x[0], &p[0], n8, xr, &lanes)
	} else {
		n8 = 0
	}
	symvRowGo(row[n8:], x[n8:len(row)], p[n8:len(row)], xr, &lanes, n8)
	s := lanes[0]
	for _, l := range lanes[1:] {
		s += l
	}
	return s
}

// symvRowGo is symvRowAsm's operations in Go, from column offset j0 (which picks the lanes).
func symvRowGo(row, x, p []float64, xr float64, lanes *[8]float64, j0 int) {
	x, p = x[:len(row)], p[:len(row)]
	for j, v := range row {
		l := &lanes[(j0+j)&7]
		*l = math.FMA(v, x[j], *l)
		p[j] = math.FMA(v, xr, p[j])
	}
}

// symv4Rows is the lower triangle's rows r..r+3 of symvProduct (r >= 8, asm): their common
// columns [0, r &^ 7) by symv4RowsAsm, then each row's rest in row order, so that each
// element of p and each lane gets the operations four symvRow calls would give it.
func symv4Rows(a []float64, lda, r int, x, p, ax []float64) {
	var rows [4]*float64
	var xr [4]float64
	var lanes [4][8]float64
	n8 := r &^ 7
	_, _ = x[n8-1], p[n8-1]
	for k := range 4 {
		rows[k] = &a[(r+k)*lda : (r+k)*lda+n8][0]
		xr[k] = x[r+k]
	}
	symv4RowsAsm(&rows, &x[0], &p[0], n8, &xr, &lanes)
	for k := range 4 {
		i := r + k
		row := a[i*lda+n8 : i*lda+i]
		symvRowGo(row, x[n8:i], p[n8:i], xr[k], &lanes[k], n8)
		s := lanes[k][0]
		for _, l := range lanes[k][1:] {
			s += l
		}
		ax[i] = math.FMA(a[i*lda+i], x[i], s)
	}
}
