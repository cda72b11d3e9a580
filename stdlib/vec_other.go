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

// vecAddScaled sets out[i] = math.FMA(b[i], w, a[i]) (len(a), len(b) >= len(out); out may be
// a or b).
func vecAddScaled(out, a, b []float64, w float64) {
	a, b = a[:len(out)], b[:len(out)]
	for i := range out {
		out[i] = math.FMA(b[i], w, a[i])
	}
}
