package stdlib

import (
	"math"

	"golang.org/x/sys/cpu"
)

// Elementwise kernels four float64 at a time with AVX2: the same IEEE operation per element
// with the same operand roles as the Go loop (so the same NaN picked where two are NaN), hence
// the same bits; TestVecKernels compares them over lengths and special values.

//go:noescape
func vecSubAVX2(out, a, b *float64, n int)

//go:noescape
func vecFMAAVX2(out, a, b *float64, w float64, n int)

//go:noescape
func vecAddAVX2(out, a, b *float64, n int)

//go:noescape
func vecMulAVX2(out, a, b *float64, n int)

//go:noescape
func vecDivAVX2(out, a *float64, d float64, n int)

//go:noescape
func vecScaleAVX2(out, a *float64, c float64, n int)

//go:noescape
func vecMaskMulAVX2(out, v, u, q *float64, n int)

//go:noescape
func vecTopKAVX2(out, a *float64, th float64, n int)

//go:noescape
func vecAddProdAVX2(d, v *float64, w float64, n int)

//go:noescape
func vecAccProdAVX2(d, v *float64, w float64, n int)

//go:noescape
func vecMaskMulScalarAVX2(out, v, u *float64, q float64, n int)

//go:noescape
func vecSignVoteAVX2(votes, row *float64, n int)

//go:noescape
func vecAgreeAVX2(row, elected, counts *float64, n int)

//go:noescape
func vecNormProdAVX2(out, x, y *float64, nx, ny float64, n int)

var (
	vecSubVector = cpu.X86.HasAVX2
	// math.FMA is the FMA instruction only where the CPU has one (else a software fused
	// multiply-add, the same bits but no vector form here).
	vecFMAVector = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

// vecSub sets out[i] = a[i] - b[i] (len(a), len(b) >= len(out); out may be a or b).
func vecSub(out, a, b []float64) {
	a, b = a[:len(out)], b[:len(out)]
	i := 0
	if n := len(out) &^ 3; vecSubVector && n > 0 {
		vecSubAVX2(&out[0], &a[0], &b[0], n)
		i = n
	}
	vecSubLoop(out[i:], a[i:], b[i:])
}

// vecAdd sets out[i] = a[i] + b[i] (len(a), len(b) >= len(out); out may be a or b).
func vecAdd(out, a, b []float64) {
	a, b = a[:len(out)], b[:len(out)]
	i := 0
	if n := len(out) &^ 3; vecSubVector && n > 0 {
		vecAddAVX2(&out[0], &a[0], &b[0], n)
		i = n
	}
	vecAddLoop(out[i:], a[i:], b[i:])
}

// vecScale sets out[i] = a[i] * c (len(a) >= len(out); out may be a). The vector path takes
// a c that is not a NaN: the product then has a[i]'s NaN, or the default one, whichever the
// operand order.
func vecScale(out, a []float64, c float64) {
	a = a[:len(out)]
	i := 0
	if n := len(out) &^ 3; vecSubVector && n > 0 && !math.IsNaN(c) {
		vecScaleAVX2(&out[0], &a[0], c, n)
		i = n
	}
	vecScaleLoop(out[i:], a[i:], c)
}

// vecMaskMul sets out[i] = v[i] * tiesB2F(u[i] < q[i]) (len(v), len(u), len(q) >= len(out); out
// may be v): a delta times its bernoulli mask.
func vecMaskMul(out, v, u, q []float64) {
	v, u, q = v[:len(out)], u[:len(out)], q[:len(out)]
	i := 0
	if n := len(out) &^ 3; vecSubVector && n > 0 {
		vecMaskMulAVX2(&out[0], &v[0], &u[0], &q[0], n)
		i = n
	}
	vecMaskMulLoop(out[i:], v[i:], u[i:], q[i:])
}

// vecMaskMulScalar sets out[i] = v[i] * tiesB2F(u[i] < q) (len(v), len(u) >= len(out); out may
// be v or u): a delta times its bernoulli mask of one probability.
func vecMaskMulScalar(out, v, u []float64, q float64) {
	v, u = v[:len(out)], u[:len(out)]
	i := 0
	if n := len(out) &^ 3; vecSubVector && n > 0 {
		vecMaskMulScalarAVX2(&out[0], &v[0], &u[0], q, n)
		i = n
	}
	vecMaskMulScalarLoop(out[i:], v[i:], u[i:], q)
}

// vecAddProd sets d[j] += float64(v[j] * w): the product rounded, then the sum (len(v) >=
// len(d)).
func vecAddProd(d, v []float64, w float64) {
	v = v[:len(d)]
	i := 0
	if n := len(d) &^ 3; vecSubVector && n > 0 {
		vecAddProdAVX2(&d[0], &v[0], w, n)
		i = n
	}
	vecAddProdLoop(d[i:], v[i:], w)
}

// vecAccProd sets d[j] = d[j] + float64(v[j] * w) (len(v) >= len(d)): the product rounded, then
// added to d as the cascade sums add a row (d the first operand, which decides the payload when
// both are NaN; vecAddProd adds the product first).
func vecAccProd(d, v []float64, w float64) {
	v = v[:len(d)]
	i := 0
	if n := len(d) &^ 3; vecSubVector && n > 0 {
		vecAccProdAVX2(&d[0], &v[0], w, n)
		i = n
	}
	vecAccProdLoop(d[i:], v[i:], w)
}

// vecTopK sets out[i] = a[i] * (1 if |a[i]| >= th else +0) (len(a) >= len(out); out may be a).
func vecTopK(out, a []float64, th float64) {
	a = a[:len(out)]
	i := 0
	if n := len(out) &^ 3; vecSubVector && n > 0 {
		vecTopKAVX2(&out[0], &a[0], th, n)
		i = n
	}
	vecTopKLoop(out[i:], a[i:], th)
}

// vecNormProd sets out[i] = (x[i] / nx) * (y[i] / ny) (len(x), len(y) >= len(out)).
func vecNormProd(out, x, y []float64, nx, ny float64) {
	x, y = x[:len(out)], y[:len(out)]
	i := 0
	if n := len(out) &^ 3; vecSubVector && n > 0 {
		vecNormProdAVX2(&out[0], &x[0], &y[0], nx, ny, n)
		i = n
	}
	vecNormProdLoop(out[i:], x[i:], y[i:], nx, ny)
}

// vecMul sets out[i] = a[i] * b[i] (len(a), len(b) >= len(out); out may be a or b).
func vecMul(out, a, b []float64) {
	a, b = a[:len(out)], b[:len(out)]
	i := 0
	if n := len(out) &^ 3; vecSubVector && n > 0 {
		vecMulAVX2(&out[0], &a[0], &b[0], n)
		i = n
	}
	vecMulLoop(out[i:], a[i:], b[i:])
}

// vecSignVote adds tiesSign(row[j]) to votes[j] (len(row) >= len(votes)).
func vecSignVote(votes, row []float64) {
	row = row[:len(votes)]
	i := 0
	if n := len(votes) &^ 3; vecSubVector && n > 0 {
		vecSignVoteAVX2(&votes[0], &row[0], n)
		i = n
	}
	vecSignVoteLoop(votes[i:], row[i:])
}

// vecAgree is tiesFilterVote's agreement pass over one row: f = 1 where tiesSign(row[j]) ==
// elected[j], else +0; row[j] *= f; counts[j] += f.
func vecAgree(row, elected, counts []float64) {
	elected, counts = elected[:len(row)], counts[:len(row)]
	i := 0
	if n := len(row) &^ 3; vecSubVector && n > 0 {
		vecAgreeAVX2(&row[0], &elected[0], &counts[0], n)
		i = n
	}
	vecAgreeLoop(row[i:], elected[i:], counts[i:])
}

// vecDiv sets out[i] = a[i] / d (len(a) >= len(out); out may be a).
func vecDiv(out, a []float64, d float64) {
	a = a[:len(out)]
	i := 0
	if n := len(out) &^ 3; vecSubVector && n > 0 {
		vecDivAVX2(&out[0], &a[0], d, n)
		i = n
	}
	vecDivLoop(out[i:], a[i:], d)
}

// vecAddScaled sets out[i] = math.FMA(b[i], w, a[i]) (len(a), len(b) >= len(out); out may be
// a or b).
func vecAddScaled(out, a, b []float64, w float64) {
	a, b = a[:len(out)], b[:len(out)]
	i := 0
	if n := len(out) &^ 3; vecFMAVector && n > 0 {
		vecFMAAVX2(&out[0], &a[0], &b[0], w, n)
		i = n
	}
	vecAddScaledLoop(out[i:], a[i:], b[i:], w)
}

//go:noescape
func vecUnitAVX2(q *float64, n int) (ok bool)

// vecUnit reports whether every q is in [0, 1] (a NaN is not): bernoulliDraw64's range check,
// four at a time.
func vecUnit(q []float64) bool {
	n := 0
	if vecSubVector {
		if n = len(q) &^ 3; n > 0 && !vecUnitAVX2(&q[0], n) {
			return false
		}
	}
	for _, p := range q[n:] {
		if !(p >= 0 && p <= 1) {
			return false
		}
	}
	return true
}
