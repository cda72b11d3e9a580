package fastblas

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
)

// Cache blocking (Goto's scheme): a kcBlock x ncBlock panel of B packed once per (jc, pc)
// step and shared by the goroutines, an mcBlock x kcBlock block of A packed by each goroutine,
// which then sweeps the micro-kernel over it. Only kcBlock changes the results (it is where
// the k sum restarts an accumulator): it is a constant. mcBlock and ncBlock may change freely.
const (
	kcBlock = 256
	mcBlock = 96   // 96 x 256 doubles: 192 KiB of A, resident in L2
	ncBlock = 2048 // 256 x 2048 doubles: 4 MiB of B, in L3
)

// parallelFlops: below this m*n*k the work runs on the calling goroutine only.
const parallelFlops = 1 << 21

// Dgemm computes C = alpha op(A) op(B) + beta C (row-major, as gonum's). beta is applied to C
// first (beta == 0 clears it without reading, as BLAS does: NaNs in C do not propagate), then
// each k block adds alpha times its products' sum: see the package comment.
func (Implementation) Dgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	aTrans := checkTrans(tA)
	bTrans := checkTrans(tB)
	if m < 0 {
		panic("blas: m < 0")
	}
	if n < 0 {
		panic("blas: n < 0")
	}
	if k < 0 {
		panic("blas: k < 0")
	}
	if aTrans && lda < max(1, m) || !aTrans && lda < max(1, k) {
		panic("blas: bad lda")
	}
	if bTrans && ldb < max(1, k) || !bTrans && ldb < max(1, n) {
		panic("blas: bad ldb")
	}
	if ldc < max(1, n) {
		panic("blas: bad ldc")
	}
	if m == 0 || n == 0 {
		return
	}
	if aTrans && len(a) < (k-1)*lda+m || !aTrans && len(a) < (m-1)*lda+k {
		panic("blas: insufficient length of a")
	}
	if bTrans && len(b) < (n-1)*ldb+k || !bTrans && len(b) < (k-1)*ldb+n {
		panic("blas: insufficient length of b")
	}
	if len(c) < (m-1)*ldc+n {
		panic("blas: insufficient length of c")
	}
	if alpha == 0 || k == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	// beta = 0: the first k block writes alpha acc + 0 without reading C (the same bits as
	// clearing C first, without the pass over it).
	zeroC := beta == 0
	if !zeroC {
		scaleC(m, n, beta, c, ldc)
	}
	gemm(aTrans, bTrans, m, n, k, alpha, a, lda, b, ldb, c, ldc, zeroC)
}

func checkTrans(t blas.Transpose) bool {
	switch t {
	case blas.NoTrans:
		return false
	case blas.Trans, blas.ConjTrans:
		return true
	}
	panic("blas: illegal transpose")
}

// scaleC sets C = beta C (C = 0 when beta is 0).
func scaleC(m, n int, beta float64, c []float64, ldc int) {
	if beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// matrix is a row-major operand read as op(X): element (i, p) is d[i*ld+p], or d[p*ld+i] when
// trans.
type matrix struct {
	d     []float64
	ld    int
	trans bool
}

var bufPool = sync.Pool{New: func() any { return new([]float64) }}

func getBuf(n int) *[]float64 {
	p := bufPool.Get().(*[]float64)
	if cap(*p) < n {
		*p = make([]float64, n)
	}
	*p = (*p)[:n]
	return p
}

// gemm is C += alpha op(A) op(B) for m, n, k > 0 (C = alpha op(A) op(B) when zeroC: C is
// then not read).
func gemm(aTrans, bTrans bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, c []float64, ldc int, zeroC bool) {
	am := matrix{a, lda, aTrans}
	bm := matrix{b, ldb, bTrans}
	workers := 1
	if m*n*k >= parallelFlops {
		workers = runtime.GOMAXPROCS(0)
	}
	// Row blocks: at most mcBlock rows, and enough blocks to keep every worker busy.
	mc := mcBlock
	if workers > 1 {
		per := (m + workers - 1) / workers
		mc = min(mc, (per+mr-1)/mr*mr)
	}
	nc := min(ncBlock, (n+nr-1)/nr*nr)
	kc := min(kcBlock, k)
	bp := getBuf(kc * nc)
	defer bufPool.Put(bp)
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		// A thin C (few B panels) uses each packed A panel a few times only, and packing cost
		// as much as the products (a quarter of the time of the blocked Householder updates'
		// GEMMs, whose n is 32). A transposed A's panels are six contiguous values a step
		// already: the kernels read them in place, with the row stride as their step.
		inPlace := aTrans && useAsm && nb <= inPlaceMaxN
		for pc := 0; pc < k; pc += kcBlock {
			kb := min(kcBlock, k-pc)
			mode := kUpdate
			if zeroC && pc == 0 {
				mode = kZero
			}
			packB(*bp, bm, pc, kb, jc, nb)
			blocks := (m + mc - 1) / mc
			run := func(next *atomic.Int64) {
				ap := getBuf(mc * kb)
				defer bufPool.Put(ap)
				for {
					blk := int(next.Add(1)) - 1
					if blk >= blocks {
						return
					}
					ic := blk * mc
					mb := min(mc, m-ic)
					panels := aPanels{ap: *ap, kb: kb}
					if inPlace {
						// The full panels in place, the last partial one packed.
						panels.inPlace, panels.ld, panels.full = am.d[pc*am.ld+ic:], am.ld, mb/mr*mr
						if panels.full < mb {
							packA(*ap, am, ic+panels.full, mb-panels.full, pc, kb)
						}
					} else {
						packA(*ap, am, ic, mb, pc, kb)
					}
					macroKernel(mb, nb, kb, alpha, &panels, *bp, c[ic*ldc+jc:], ldc, mode)
				}
			}
			var next atomic.Int64
			w := min(workers, blocks)
			if w <= 1 {
				run(&next)
				continue
			}
			var wg sync.WaitGroup
			for range w - 1 {
				wg.Go(func() { run(&next) })
			}
			run(&next)
			wg.Wait() // the next k block of these rows may only start after this one
		}
	}
}

// inPlaceMaxN: up to this many columns of C in a jc block, a transposed A is read in place
// instead of packed (four 16-column tiles: the packed panel would serve four kernel calls).
const inPlaceMaxN = 64

// aPanels is where macroKernel finds op(A)'s panels of 6 rows: packed in ap (panel i0 at
// ap[i0*kb:], steps of mr), or, for a transposed A read in place, the full panels in inPlace
// (panel i0 at inPlace[i0:], steps of ld, a row of A) and the last partial one packed in ap.
type aPanels struct {
	ap      []float64
	kb      int
	inPlace []float64
	ld      int
	full    int
}

// at returns panel i0 and its step.
func (p *aPanels) at(i0 int) ([]float64, int) {
	switch {
	case p.inPlace == nil:
		return p.ap[i0*p.kb:], mr
	case i0 < p.full:
		return p.inPlace[i0:], p.ld
	}
	return p.ap, mr
}

// packA copies op(A)[ic:ic+mb, pc:pc+kb] into panels of mr rows, each kb x mr (row p holds the
// panel's mr values of column p), the last panel padded with zeros.
func packA(dst []float64, a matrix, ic, mb, pc, kb int) {
	full := mb / mr * mr
	if a.trans {
		// Row pc+p of A holds column p of every panel: read it once, sequentially.
		for p := range kb {
			src := a.d[(pc+p)*a.ld+ic : (pc+p)*a.ld+ic+mb]
			for i0 := 0; i0 < full; i0 += mr {
				s := src[i0 : i0+mr : i0+mr]
				d := dst[i0*kb+p*mr : i0*kb+p*mr+mr : i0*kb+p*mr+mr]
				d[0], d[1], d[2], d[3], d[4], d[5] = s[0], s[1], s[2], s[3], s[4], s[5]
			}
			if full < mb {
				d := dst[full*kb+p*mr : full*kb+p*mr+mr]
				for r := range mr {
					if full+r < mb {
						d[r] = src[full+r]
					} else {
						d[r] = 0
					}
				}
			}
		}
		return
	}
	for i0 := 0; i0 < full; i0 += mr {
		// A full panel: step p takes one value of each of the six rows and stores the six
		// together (the panel is written in order; the rows are six read streams).
		panel := dst[i0*kb : i0*kb+kb*mr]
		o := (ic+i0)*a.ld + pc
		r0, r1, r2 := a.d[o:o+kb], a.d[o+a.ld:o+a.ld+kb], a.d[o+2*a.ld:o+2*a.ld+kb]
		r3, r4, r5 := a.d[o+3*a.ld:o+3*a.ld+kb], a.d[o+4*a.ld:o+4*a.ld+kb], a.d[o+5*a.ld:o+5*a.ld+kb]
		for p := range kb {
			d := panel[p*mr : p*mr+mr : p*mr+mr]
			d[0], d[1], d[2], d[3], d[4], d[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
		}
	}
	for i0 := full; i0 < mb; i0 += mr {
		panel := dst[i0*kb : i0*kb+kb*mr]
		rows := min(mr, mb-i0)
		for r := range mr {
			if r >= rows {
				for p := range kb {
					panel[p*mr+r] = 0
				}
				continue
			}
			i := ic + i0 + r
			src := a.d[i*a.ld+pc : i*a.ld+pc+kb]
			for p, v := range src {
				panel[p*mr+r] = v
			}
		}
	}
}

// packB copies op(B)[pc:pc+kb, jc:jc+nb] into panels of nr columns, each kb x nr, the last
// padded with zeros.
func packB(dst []float64, b matrix, pc, kb, jc, nb int) {
	for j0 := 0; j0 < nb; j0 += nr {
		panel := dst[j0*kb : j0*kb+kb*nr]
		cols := min(nr, nb-j0)
		if !b.trans && cols == nr {
			for p := range kb {
				o := (pc+p)*b.ld + jc + j0
				src, d := b.d[o:o+nr:o+nr], panel[p*nr:p*nr+nr:p*nr+nr]
				d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7] = src[0], src[1], src[2], src[3], src[4], src[5], src[6], src[7]
			}
			continue
		}
		for q := range nr {
			if q >= cols {
				for p := range kb {
					panel[p*nr+q] = 0
				}
				continue
			}
			j := jc + j0 + q
			if b.trans {
				src := b.d[j*b.ld+pc : j*b.ld+pc+kb]
				for p, v := range src {
					panel[p*nr+q] = v
				}
			} else {
				for p := range kb {
					panel[p*nr+q] = b.d[(pc+p)*b.ld+j]
				}
			}
		}
	}
}

// macroKernel adds alpha times the block product (mb x kb, A's panels from a, by the packed
// kb x nb of bp) to c (mb x nb, stride ldc). Full tiles update c in the kernel; edge tiles go
// through a scratch tile with the same operations.
func macroKernel(mb, nb, kb int, alpha float64, a *aPanels, bp, c []float64, ldc, mode int) {
	var tile [mr * nr]float64
	full := mb / mr * mr
	for j0 := 0; j0 < nb; j0 += nr {
		bpanel := bp[j0*kb : j0*kb+kb*nr]
		if use512 && j0+2*nr <= nb && full > 0 {
			// Two full B panels: their full 6-row tiles in one AVX-512 kernel, the rows left
			// over below on each panel as usual.
			bnext := bp[(j0+nr)*kb : (j0+nr)*kb+kb*nr]
			for i0 := 0; i0 < full; i0 += mr {
				ap, step := a.at(i0)
				kernel6x16(kb, ap, step, bpanel, bnext, c[i0*ldc+j0:], ldc, alpha, mode)
			}
			if full < mb {
				ap, step := a.at(full)
				macroEdge(mb-full, nr, kb, alpha, ap, step, bpanel, c[full*ldc+j0:], ldc, &tile, mode)
				macroEdge(mb-full, nr, kb, alpha, ap, step, bnext, c[full*ldc+j0+nr:], ldc, &tile, mode)
			}
			j0 += nr
			continue
		}
		cols := min(nr, nb-j0)
		for i0 := 0; i0 < mb; i0 += mr {
			ap, step := a.at(i0)
			rows := min(mr, mb-i0)
			if rows == mr && cols == nr {
				kernel6x8(kb, ap, step, bpanel, c[i0*ldc+j0:], ldc, alpha, mode)
				continue
			}
			macroEdge(rows, cols, kb, alpha, ap, step, bpanel, c[i0*ldc+j0:], ldc, &tile, mode)
		}
	}
}

// macroEdge adds alpha times the product of one A panel and one B panel to the rows x cols
// corner of c (an edge tile), through the scratch tile: the kernel's operations, then one
// fused multiply-add per element.
func macroEdge(rows, cols, kb int, alpha float64, apanel []float64, astep int, bpanel, c []float64, ldc int, tile *[mr * nr]float64, mode int) {
	kernel6x8(kb, apanel, astep, bpanel, tile[:], nr, 0, kRaw)
	for i := range rows {
		row := c[i*ldc : i*ldc+cols]
		for j := range row {
			if mode == kZero {
				row[j] = math.FMA(alpha, tile[i*nr+j], 0)
			} else {
				row[j] = math.FMA(alpha, tile[i*nr+j], row[j])
			}
		}
	}
}
