//go:build !amd64

package stdlib

var vecSubVector, vecFMAVector = false, false

// vecSub sets out[i] = a[i] - b[i] (len(a), len(b) >= len(out); out may be a or b).
func vecSub(out, a, b []float64) { vecSubLoop(out, a, b) }

// vecAdd sets out[i] = a[i] + b[i] (len(a), len(b) >= len(out); out may be a or b).
func vecAdd(out, a, b []float64) { vecAddLoop(out, a, b) }

// vecScale sets out[i] = a[i] * c (len(a) >= len(out); out may be a). The vector path takes
// a c that is not a NaN: the product then has a[i]'s NaN, or the default one, whichever the
// operand order.
func vecScale(out, a []float64, c float64) { vecScaleLoop(out, a, c) }

// vecMaskMul sets out[i] = v[i] * tiesB2F(u[i] < q[i]) (len(v), len(u), len(q) >= len(out); out
// may be v): a delta times its bernoulli mask.
func vecMaskMul(out, v, u, q []float64) { vecMaskMulLoop(out, v, u, q) }

// vecMaskMulScalar sets out[i] = v[i] * tiesB2F(u[i] < q) (len(v), len(u) >= len(out); out may
// be v or u): a delta times its bernoulli mask of one probability.
func vecMaskMulScalar(out, v, u []float64, q float64) { vecMaskMulScalarLoop(out, v, u, q) }

// vecAddProd sets d[j] += float64(v[j] * w): the product rounded, then the sum (len(v) >=
// len(d)).
func vecAddProd(d, v []float64, w float64) { vecAddProdLoop(d, v, w) }

// vecAccProd: see vec_amd64.go.
func vecAccProd(d, v []float64, w float64) { vecAccProdLoop(d, v, w) }

// vecTopK sets out[i] = a[i] * (1 if |a[i]| >= th else +0) (len(a) >= len(out); out may be a).
func vecTopK(out, a []float64, th float64) { vecTopKLoop(out, a, th) }

// vecNormProd sets out[i] = (x[i] / nx) * (y[i] / ny) (len(x), len(y) >= len(out)).
func vecNormProd(out, x, y []float64, nx, ny float64) { vecNormProdLoop(out, x, y, nx, ny) }

// vecMul sets out[i] = a[i] * b[i] (len(a), len(b) >= len(out); out may be a or b).
func vecMul(out, a, b []float64) { vecMulLoop(out, a, b) }

// vecSignVote adds tiesSign(row[j]) to votes[j] (len(row) >= len(votes)).
func vecSignVote(votes, row []float64) { vecSignVoteLoop(votes, row) }

// vecAgree is tiesFilterVote's agreement pass over one row: f = 1 where tiesSign(row[j]) ==
// elected[j], else +0; row[j] *= f; counts[j] += f.
func vecAgree(row, elected, counts []float64) { vecAgreeLoop(row, elected, counts) }

// vecDiv sets out[i] = a[i] / d (len(a) >= len(out); out may be a).
func vecDiv(out, a []float64, d float64) { vecDivLoop(out, a, d) }

// vecAddScaled sets out[i] = math.FMA(b[i], w, a[i]) (len(a), len(b) >= len(out); out may be
// a or b).
func vecAddScaled(out, a, b []float64, w float64) { vecAddScaledLoop(out, a, b, w) }

// vecUnit reports whether every q is in [0, 1] (a NaN is not).
func vecUnit(q []float64) bool {
	for _, p := range q {
		if !(p >= 0 && p <= 1) {
			return false
		}
	}
	return true
}
