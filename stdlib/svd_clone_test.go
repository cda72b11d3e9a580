package stdlib

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestLaClone: laClone's own copies (dense rows, tiled transposes) equal gonum's DenseCopyOf
// element for element, for views with a row stride, sizes off the 32-element tile, and a
// matrix type it leaves to gonum; and the copy shares no memory with its source.
func TestLaClone(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	big := mat.NewDense(100, 90, nil)
	for i := range 100 {
		for j := range 90 {
			big.Set(i, j, rng.NormFloat64())
		}
	}
	for _, tc := range []struct {
		name string
		m    mat.Matrix
	}{
		{"dense", big},
		{"view", big.Slice(3, 70, 5, 88)},
		{"one row", big.Slice(7, 8, 0, 90)},
		{"transpose", big.T()},
		{"transposed view", big.Slice(1, 65, 2, 35).T()},
		{"transposed column", big.Slice(0, 100, 4, 5).T()},
		{"diagonal", mat.NewDiagDense(5, []float64{1, 2, 3, 4, 5})},
	} {
		got, want := laClone(tc.m), mat.DenseCopyOf(tc.m)
		if !mat.Equal(got, want) {
			t.Errorf("%s: laClone differs from DenseCopyOf", tc.name)
		}
		if r, c := got.Dims(); r > 0 && c > 0 {
			old := got.At(0, 0)
			got.Set(0, 0, old+1)
			if tc.m.At(0, 0) != old {
				t.Errorf("%s: the copy shares memory with its source", tc.name)
			}
		}
	}
}

// TestLaSymSkew: the tiled symmetric and skew parts are the element-wise definitions bit for
// bit (the diagonal's skew part +0, not -0), with and without sym, and in place.
func TestLaSymSkew(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, n := range []int{1, 2, 31, 32, 33, 70} {
		q := make([]float64, n*n)
		for i := range q {
			q[i] = rng.NormFloat64()
		}
		wantSym, wantSkew := make([]float64, n*n), make([]float64, n*n)
		for i := range n {
			for j := range n {
				x, y := q[i*n+j], q[j*n+i]
				wantSym[i*n+j], wantSkew[i*n+j] = (x+y)/2, (x-y)/2
			}
		}
		sym, skew := make([]float64, n*n), make([]float64, n*n)
		laSymSkew(sym, skew, q, n)
		inPlace := append([]float64(nil), q...)
		laSymSkew(nil, inPlace, inPlace, n)
		for i := range q {
			for _, c := range []struct {
				name      string
				got, want float64
			}{{"sym", sym[i], wantSym[i]}, {"skew", skew[i], wantSkew[i]}, {"in place", inPlace[i], wantSkew[i]}} {
				if math.Float64bits(c.got) != math.Float64bits(c.want) {
					t.Fatalf("n %d, element %d: %s %v, want %v", n, i, c.name, c.got, c.want)
				}
			}
		}
	}
}
