//go:build !amd64

package stdlib

import "math"

var vecSubVector, vecFMAVector = false, false

// vecSub sets out[i] = a[i] - b[i] (len(a), len(b) >= len(out); out may be a or b).
func vecSub(out, a, b []float64) {
	a, b = a[:len(out)], b[:len(out)]
	for i := range out {
		out[i] = a[i] - b[i]
	}
}

// vecAdd sets out[i] = a[i] + b[i] (len(a), len(b) >= len(out); out may be a or b).
func vecAdd(out, a, b []float64) {
	a, b = a[:len(out)], b[:len(out)]
	for i := range out {
		out[i] = a[i] + b[i]
	}
}

// vecScale sets out[i] = a[i] * c (len(a) >= len(out); out may be a).
func vecScale(out, a []float64, c float64) {
	a = a[:len(out)]
	for i := range out {
		out[i] = a[i] * c
	}
}

// vecMaskMul sets out[i] = v[i] * tiesB2F(u[i] < q[i]) (out may be v).
func vecMaskMul(out, v, u, q []float64) {
	v, u, q = v[:len(out)], u[:len(out)], q[:len(out)]
	for i := range out {
		out[i] = v[i] * tiesB2F(u[i] < q[i])
	}
}

// vecMaskMulScalar sets out[i] = v[i] * tiesB2F(u[i] < q) (out may be v or u).
func vecMaskMulScalar(out, v, u []float64, q float64) {
	v, u = v[:len(out)], u[:len(out)]
	for i := range out {
		out[i] = v[i] * tiesB2F(u[i] < q)
	}
}

// vecAddProd sets d[j] += float64(v[j] * w).
func vecAddProd(d, v []float64, w float64) {
	v = v[:len(d)]
	for i := range d {
		d[i] += float64(v[i] * w)
	}
}

// vecTopK sets out[i] = a[i] * (1 if |a[i]| >= th else +0) (out may be a).
func vecTopK(out, a []float64, th float64) {
	a = a[:len(out)]
	for i := range out {
		m := 0.0
		if math.Abs(a[i]) >= th {
			m = 1
		}
		out[i] = a[i] * m
	}
}

// vecNormProd sets out[i] = (x[i] / nx) * (y[i] / ny).
func vecNormProd(out, x, y []float64, nx, ny float64) {
	x, y = x[:len(out)], y[:len(out)]
	for i := range out {
		out[i] = (x[i] / nx) * (y[i] / ny)
	}
}

// vecMul sets out[i] = a[i] * b[i] (out may be a or b).
func vecMul(out, a, b []float64) {
	a, b = a[:len(out)], b[:len(out)]
	for i := range out {
		out[i] = a[i] * b[i]
	}
}

// vecSignVote adds tiesSign(row[j]) to votes[j].
func vecSignVote(votes, row []float64) {
	for i := range votes {
		votes[i] += tiesSign(row[i])
	}
}

// vecAgree is tiesFilterVote's agreement pass over one row.
func vecAgree(row, elected, counts []float64) {
	for i := range row {
		f := tiesB2F(tiesSign(row[i]) == elected[i])
		row[i] = row[i] * f
		counts[i] += f
	}
}

// vecDiv sets out[i] = a[i] / d (len(a) >= len(out); out may be a).
func vecDiv(out, a []float64, d float64) {
	a = a[:len(out)]
	for i := range out {
		out[i] = a[i] / d
	}
}

// vecAddScaled sets out[i] = math.FMA(b[i], w, a[i]) (len(a), len(b) >= len(out); out may be
// a or b).
func vecAddScaled(out, a, b []float64, w float64) {
	a, b = a[:len(out)], b[:len(out)]
	for i := range out {
		out[i] = math.FMA(b[i], w, a[i])
	}
}
