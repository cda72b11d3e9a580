package stdlib

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestPolarNull: the deflated polar factor of a rank-deficient matrix is orthogonal, agrees
// with the SVD's U Vᵀ on the range (p v_i = u_i for every singular pair above the null space),
// maps each deflated null vector v to its u, and orients an exact null pair towards the
// identity (uᵀ v >= 0). Cases: a centred product (null space of one, as rotate makes), a
// constructed null space of three, a tall matrix, and one too deficient to deflate.
func TestPolarNull(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	centred := func(r, c int) *mat.Dense {
		m := svdRandDense(rng, r, c)
		svdCentre(m, 1)
		return m
	}
	// rank k: a (n x k) times b (k x n')
	lowRank := func(m, n, k int) *mat.Dense {
		return laMul(svdRandDense(rng, m, k), svdRandDense(rng, k, n))
	}
	for _, tc := range []struct {
		name  string
		m     *mat.Dense
		nulls int // -1: polarNull must refuse
	}{
		{"centred 140x140", laMul(centred(140, 140).T(), centred(140, 140)), 1},
		{"nonsingular 100x100", svdRandDense(rng, 100, 100), 0},
		{"rank 97 of 100", lowRank(100, 100, 97), 3},
		{"tall 180x120 rank 119", lowRank(180, 120, 119), 1},
		{"rank 80 of 100", lowRank(100, 100, 80), -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, pairs, ok := polarNull(tc.m)
			if tc.nulls < 0 {
				if ok {
					t.Fatalf("deflated a null space of %d (more than %d)", len(pairs), polarNullMax)
				}
				return
			}
			if !ok {
				t.Fatal("polarNull refused")
			}
			if len(pairs) != tc.nulls {
				t.Fatalf("%d null pairs, want %d", len(pairs), tc.nulls)
			}
			r, c := p.Dims()
			// orthonormal columns
			if e := laFrobenius(laSub(laMul(p.T(), p), laEye(c))); e > 1e-12 {
				t.Errorf("|pᵀp - I| = %.3g", e)
			}
			u, s, vt, err := laSVD(tc.m)
			if err != nil {
				t.Fatal(err)
			}
			for i := range c - tc.nulls {
				pv := mat.NewVecDense(r, nil)
				pv.MulVec(p, vt.RowView(i))
				pv.SubVec(pv, u.ColView(i))
				if e := mat.Norm(pv, 2); e > 1e-9 {
					t.Errorf("pair %d (s = %.3g): |p v - u| = %.3g", i, s[i], e)
				}
			}
			for i, pr := range pairs {
				pv := mat.NewVecDense(r, nil)
				pv.MulVec(p, mat.NewVecDense(c, pr.v))
				pv.SubVec(pv, mat.NewVecDense(r, pr.u))
				if e := mat.Norm(pv, 2); e > 1e-9 {
					t.Errorf("null pair %d: |p v - u| = %.3g", i, e)
				}
				mv := mat.NewVecDense(r, nil)
				mv.MulVec(tc.m, mat.NewVecDense(c, pr.v))
				if e := mat.Norm(mv, 2) / s[0]; e > 1e-12 {
					t.Errorf("null pair %d: |m v|/|m| = %.3g", i, e)
				}
				if r == c && mat.Dot(mat.NewVecDense(r, pr.u), mat.NewVecDense(c, pr.v)) < 0 {
					t.Errorf("null pair %d: uᵀv < 0 (not the map closest to the identity)", i)
				}
			}
		})
	}
}

// TestFlipPair: flipping reverses det's sign, keeps p orthogonal and reverses p v.
func TestFlipPair(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	p, _, ok := polarNull(svdRandDense(rng, 50, 50))
	if !ok {
		t.Fatal("polarNull refused")
	}
	v := make([]float64, 50)
	v[3], v[7] = 0.6, 0.8
	f := flipPair(p, v)
	if laDetSign(f) != -laDetSign(p) {
		t.Error("det sign not reversed")
	}
	if e := laFrobenius(laSub(laMul(f.T(), f), laEye(50))); e > 1e-12 {
		t.Errorf("|fᵀf - I| = %.3g", e)
	}
	pv, fv := mat.NewVecDense(50, nil), mat.NewVecDense(50, nil)
	pv.MulVec(p, mat.NewVecDense(50, v))
	fv.MulVec(f, mat.NewVecDense(50, v))
	fv.AddVec(fv, pv)
	if e := mat.Norm(fv, 2); e > 1e-12 || math.IsNaN(e) {
		t.Errorf("|f v + p v| = %.3g", e)
	}
}
