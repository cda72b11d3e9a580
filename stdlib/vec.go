package stdlib

import "math"

// The portable loops of the vector kernels (vec_amd64.go, vec_other.go): what each computes,
// element by element. The AVX2 paths give their bits (TestVecKernels) and leave them the tails.

// vecSubLoop is vecSub element by element (see there).
func vecSubLoop(out, a, b []float64) {
	a, b = a[:len(out)], b[:len(out)]
	for i := range out {
		out[i] = a[i] - b[i]
	}
}

// vecAddLoop is vecAdd element by element (see there).
func vecAddLoop(out, a, b []float64) {
	a, b = a[:len(out)], b[:len(out)]
	for i := range out {
		out[i] = a[i] + b[i]
	}
}

// vecScaleLoop is vecScale element by element (see there).
func vecScaleLoop(out, a []float64, c float64) {
	a = a[:len(out)]
	for i := range out {
		out[i] = a[i] * c
	}
}

// vecMaskMulLoop is vecMaskMul element by element (see there).
func vecMaskMulLoop(out, v, u, q []float64) {
	v, u, q = v[:len(out)], u[:len(out)], q[:len(out)]
	for i := range out {
		out[i] = v[i] * tiesB2F(u[i] < q[i])
	}
}

// vecMaskMulScalarLoop is vecMaskMulScalar element by element (see there).
func vecMaskMulScalarLoop(out, v, u []float64, q float64) {
	v, u = v[:len(out)], u[:len(out)]
	for i := range out {
		out[i] = v[i] * tiesB2F(u[i] < q)
	}
}

// vecAddProdLoop is vecAddProd element by element (see there).
func vecAddProdLoop(d, v []float64, w float64) {
	v = v[:len(d)]
	for i := range d {
		d[i] += float64(v[i] * w)
	}
}

// vecAccProdLoop is vecAccProd element by element (see there; which NaN a sum of two keeps is
// the compiler's choice here: TestSumDim0TorchScaled checks the vector path against
// addRows16AVX's).
func vecAccProdLoop(d, v []float64, w float64) {
	v = v[:len(d)]
	for i := range d {
		d[i] = d[i] + float64(v[i]*w)
	}
}

// vecTopKLoop is vecTopK element by element (see there).
func vecTopKLoop(out, a []float64, th float64) {
	a = a[:len(out)]
	for i := range out {
		m := 0.0
		if math.Abs(a[i]) >= th {
			m = 1
		}
		out[i] = a[i] * m
	}
}

// vecNormProdLoop is vecNormProd element by element (see there).
func vecNormProdLoop(out, x, y []float64, nx, ny float64) {
	x, y = x[:len(out)], y[:len(out)]
	for i := range out {
		out[i] = (x[i] / nx) * (y[i] / ny)
	}
}

// vecMulLoop is vecMul element by element (see there).
func vecMulLoop(out, a, b []float64) {
	a, b = a[:len(out)], b[:len(out)]
	for i := range out {
		out[i] = a[i] * b[i]
	}
}

// vecSignVoteLoop is vecSignVote element by element (see there).
func vecSignVoteLoop(votes, row []float64) {
	row = row[:len(votes)]
	for i := range votes {
		votes[i] += tiesSign(row[i])
	}
}

// vecAgreeLoop is vecAgree element by element (see there).
func vecAgreeLoop(row, elected, counts []float64) {
	elected, counts = elected[:len(row)], counts[:len(row)]
	for i := range row {
		f := tiesB2F(tiesSign(row[i]) == elected[i])
		row[i] = row[i] * f
		counts[i] += f
	}
}

// vecDivLoop is vecDiv element by element (see there).
func vecDivLoop(out, a []float64, d float64) {
	a = a[:len(out)]
	for i := range out {
		out[i] = a[i] / d
	}
}

// vecAddScaledLoop is vecAddScaled element by element (see there).
func vecAddScaledLoop(out, a, b []float64, w float64) {
	a, b = a[:len(out)], b[:len(out)]
	for i := range out {
		out[i] = math.FMA(b[i], w, a[i])
	}
}
