package stdlib

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/opstest"
)

// rotateCase is a hand-derived 0.0.x rotate: the centred rows of b are those of a rotated by
// 90° counter-clockwise (b_i = R90 a_i, so B = A R90ᵀ) and scaled by bScale.
//
//	A (centred) = (1, 0), (-1, 0), (0, 2), (0, -2): column means 0; ca = (1, 1) added.
//	B = bScale·(0, 1), (0, -1), (-2, 0), (2, 0); cb = (3, -1) added.
//	Aᵀ B = bScale·[[0, 2], [-8, 0]]: singular values 8 and 2 (distinct), polar factor
//	Q = U Vᵀ = [[0, 1], [-1, 0]] = R90ᵀ (det +1, so cancelling the reflection changes nothing).
//	Q^t rotates rows by -90°·t, i.e. the points by +90°·t; Q^0.5 = R45ᵀ.
//	interpolation w: ws(A, B Qᵀ, w) = ws(A, bScale·A, w) = (1 - w + w·bScale)·A.
func rotateCase(bScale float64) (a, b ops.Value) {
	ca, cb := [2]float64{1, 1}, [2]float64{3, -1}
	pa := [][2]float64{{1, 0}, {-1, 0}, {0, 2}, {0, -2}}
	var ad, bd []float64
	for _, p := range pa {
		ad = append(ad, p[0]+ca[0], p[1]+ca[1])
		// R90 (x, y) = (-y, x)
		bd = append(bd, bScale*-p[1]+cb[0], bScale*p[0]+cb[1])
	}
	return opstest.T([]int{4, 2}, ad...), opstest.T([]int{4, 2}, bd...)
}

// rotatedRows is s·(A rotated by θ) + centre, the expected output.
func rotatedRows(theta, s float64, centre [2]float64) []float64 {
	c, sn := math.Cos(theta), math.Sin(theta)
	var out []float64
	for _, p := range [][2]float64{{1, 0}, {-1, 0}, {0, 2}, {0, -2}} {
		out = append(out, s*(c*p[0]-sn*p[1])+centre[0], s*(sn*p[0]+c*p[1])+centre[1])
	}
	return out
}

func TestRotateEras(t *testing.T) {
	f := ops.Float
	kw := func(alignment, interp float64) []ops.Value { return []ops.Value{f(alignment), f(interp)} }
	a, b := rotateCase(1)
	a2, b2 := rotateCase(2)
	// The centroid term is ws(ca, cb, alignment) = (1-t)·(1, 1) + t·(3, -1).
	centre := func(t float64) [2]float64 { return [2]float64{(1-t)*1 + t*3, (1-t)*1 - t} }
	for _, d := range []*ops.Def{rotate00xDef, rotate005, rotate004} {
		name := d.FullName()
		// alignment 1: the whole rotation, b itself.
		nearHist(t, name+" alignment 1", runHist(t, d, []ops.Value{a, b}, nil, kw(1, 0)), rotatedRows(math.Pi/2, 1, centre(1)), 1e-12)
		// alignment 0.5: half the rotation (45°), centroid halfway.
		nearHist(t, name+" alignment 0.5", runHist(t, d, []ops.Value{a, b}, nil, kw(0.5, 0)), rotatedRows(math.Pi/4, 1, centre(0.5)), 1e-12)
		// alignment 2 (integer power, no reflection cancelling): 180°, centroid ws(.., 2) = (5, -3).
		nearHist(t, name+" alignment 2", runHist(t, d, []ops.Value{a, b}, nil, kw(2, 0)), rotatedRows(math.Pi, 1, centre(2)), 1e-12)
		// alignment 0, interpolation 0.5 toward b twice as large: (1 - 0.5 + 0.5·2)·A = 1.5·A,
		// not rotated (identity transform), centroid ca.
		nearHist(t, name+" interpolation", runHist(t, d, []ops.Value{a2, b2}, nil, kw(0, 0.5)), rotatedRows(0, 1.5, centre(0)), 1e-12)
		// both: 1.5·A rotated by 90°, centroid cb.
		nearHist(t, name+" both", runHist(t, d, []ops.Value{a2, b2}, nil, kw(1, 0.5)), rotatedRows(math.Pi/2, 1.5, centre(1)), 1e-12)
		opstest.Check(t, d, opstest.Spec{
			Hypers: map[string]ops.Value{d.KwOnly[0].Name: f(0.7), d.KwOnly[1].Name: f(0.3)},
			Cases: []opstest.Case{
				{Name: "nothing", Args: []ops.Value{a, b}, Kw: kw(0, 0), Want: a.T.Data},
				// pairs equal in float16 get ws(a, b, interp) = 0.75·a + 0.25·(a + 1e-9).
				{Name: "allclose", Args: []ops.Value{hvec(1, 2), hvec(1+1e-9, 2)}, Shape: []int{2}, Kw: kw(0.5, 0.25),
					Want: []float64{float64(0.75*1) + float64(0.25*(1+1e-9)), 2}},
				{Name: "alignment NaN", Args: []ops.Value{a, b}, Kw: kw(math.NaN(), 0), WantErr: "finite"},
			},
		})
	}
	// 1-D keys: 0.0.5 on give ws(a, b, interpolation); 8259d55 .. 60d0764 returned the centroid
	// ws(a, b, alignment) (a 1-row view's column means are the row itself).
	x, y := hvec(1, 2), hvec(3, 4)
	nearHist(t, "1-D 0.0.x", runHist(t, rotate00xDef, []ops.Value{x, y}, nil, kw(0.25, 0.5)), []float64{2, 3}, 0)
	nearHist(t, "1-D 0.0.5", runHist(t, rotate005, []ops.Value{x, y}, nil, kw(0.25, 0.5)), []float64{2, 3}, 0)
	nearHist(t, "1-D 0.0.4", runHist(t, rotate004, []ops.Value{x, y}, nil, kw(0.25, 0.5)), []float64{1.5, 2.5}, 0)
	// 4-D kernels with kw != 1: 0.0.4 does not rotate them (ws(a, b, beta)).
	k1, k2 := opstest.T([]int{1, 1, 1, 2}, 1, 2), opstest.T([]int{1, 1, 1, 2}, 3, 4)
	nearHist(t, "conv 0.0.4", runHist(t, rotate004, []ops.Value{k1, k2}, nil, kw(0.25, 0.5)), []float64{2, 3}, 0)
}

// TestRotateViews: the 2-D views of the 0.0.x rotate definitions.
func TestRotateViews(t *testing.T) {
	for _, tc := range []struct {
		shape      []int
		lastDim    bool
		rows, cols int
	}{
		{[]int{8, 4, 3, 3}, false, 32, 9}, // conv kernel: (-1, kh*kw)
		{[]int{8, 4, 1, 1}, false, 8, 4},  // 1x1 conv: (shape[0], rest)
		{[]int{8, 4, 1, 1}, true, 8, 4},   // 8259d55 .. 0.0.24 too
		{[]int{2, 3, 5}, false, 2, 15},    // 0.0.29: (shape[0], rest)
		{[]int{2, 3, 5}, true, 6, 5},      // 8259d55 .. 0.0.24: (-1, shape[-1])
		{[]int{6, 7}, true, 6, 7},
	} {
		r, c := rotate00x{lastDimView: tc.lastDim}.view(tc.shape)
		if r != tc.rows || c != tc.cols {
			t.Errorf("%v lastDim=%v: got (%d, %d), want (%d, %d)", tc.shape, tc.lastDim, r, c, tc.rows, tc.cols)
		}
	}
}

// BenchmarkRotate00x: 0.0.x rotate on a square key and on a wide one, where it takes the SVD of
// the cols x cols matrix Aᵀ B (no low-rank path).
func BenchmarkRotate00x(b *testing.B) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, sh := range [][2]int{{256, 256}, {96, 384}} {
		a, bb := svdMat(svdRandDense(rng, sh[0], sh[1])), svdMat(svdRandDense(rng, sh[0], sh[1]))
		for _, alignment := range []float64{1, 0.5} {
			b.Run(fmt.Sprintf("%dx%d/alignment=%v", sh[0], sh[1], alignment), func(b *testing.B) {
				for range b.N {
					c := &ops.Call{Numerics: ops.Exact, Args: []ops.Value{a, bb}, Kw: []ops.Value{ops.Float(alignment), ops.Float(0.5)},
						Out: &ops.Tensor{Shape: []int{sh[0], sh[1]}, Data: make([]float64, sh[0]*sh[1])}}
					if err := rotate00xDef.Kernel(c); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
