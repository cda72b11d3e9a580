package stdlib

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/mechac/mechac/ops"
)

// TestSVDFromPolar: laSVDFromPolar (laSVD's route from procrustesPolarMin on) is an SVD
// of its matrix: u diag(s) vt reconstructs it, u's columns and vt's rows are orthonormal, s is
// descending and non-negative and equals gonum's singular values; square, tall, rank-deficient
// (centred rows: a null pair deflated) and with repeated singular values.
func TestSVDFromPolar(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	gauss := func(r, c int) *mat.Dense {
		m := mat.NewDense(r, c, nil)
		for i := range r {
			for j := range c {
				m.Set(i, j, rng.NormFloat64())
			}
		}
		return m
	}
	centred := func(r, c int) *mat.Dense {
		m := gauss(r, c)
		svdCentre(m, 1)
		return m
	}
	repeated := laEye(150) // singular values 2 (x50), 1 (x100), turned by random rotations
	for i := range 50 {
		repeated.Set(i, i, 2)
	}
	repeated = laMul(laMul(randomRotation(rng, 150, 1), repeated), randomRotation(rng, 150, 1))
	// a = p h with h symmetric but indefinite: p is then not a's polar factor, yet
	// laSVDFromPolar must still give an SVD, moving each negative eigenvalue's sign into u (a
	// deflated null direction's eigenvalue can round below zero).
	indefP := randomRotation(rng, 130, 1)
	hq := randomRotation(rng, 130, 1)
	hd := laEye(130)
	for i := range 130 {
		hd.Set(i, i, float64(i%7)-2.5)
	}
	indef := laMul(indefP, laMul(laMul(hq, hd), hq.T()))
	for _, tc := range []struct {
		name string
		a    *mat.Dense
		p    *mat.Dense
	}{
		{"indefinite h", indef, indefP},
		{"square 200", gauss(200, 200), nil},
		{"tall 400x150", gauss(400, 150), nil},
		{"centred square 180", centred(180, 180), nil},
		{"centred tall 300x140", laMul(centred(140, 300).T(), laEye(140)), nil},
		{"repeated", repeated, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			if p == nil {
				var ok bool
				if p, _, ok = polarNull(tc.a); !ok {
					t.Fatal("polarNull failed: the test would not reach laSVDFromPolar")
				}
			}
			u, s, vt, err := laSVDFromPolar(tc.a, p)
			if err != nil {
				t.Fatal(err)
			}
			r, c := tc.a.Dims()
			if ur, uc := u.Dims(); ur != r || uc != c {
				t.Fatalf("u is %dx%d", ur, uc)
			}
			if !slices.IsSortedFunc(s, func(x, y float64) int { return cmpFloat(y, x) }) || s[len(s)-1] < 0 {
				t.Errorf("singular values not descending and non-negative: %v", s[len(s)-3:])
			}
			norm := s[0]
			us := mat.DenseCopyOf(u)
			for j := range c {
				for i := range r {
					us.Set(i, j, us.At(i, j)*s[j])
				}
			}
			if d := matDiff(laMul(us, vt), tc.a); d > 1e-12*norm {
				t.Errorf("u diag(s) vt - a: %g", d)
			}
			if d := matDiff(laMul(u.T(), u), laEye(c)); d > 1e-12 {
				t.Errorf("uᵀu - I: %g", d)
			}
			if d := matDiff(laMul(vt, vt.T()), laEye(c)); d > 1e-12 {
				t.Errorf("vt vtᵀ - I: %g", d)
			}
			want, err := laSingularValues(tc.a)
			if err != nil {
				t.Fatal(err)
			}
			for i := range s {
				if math.Abs(s[i]-want[i]) > 1e-12*norm {
					t.Fatalf("s[%d] = %v, gonum %v", i, s[i], want[i])
				}
			}
		})
	}
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// TestSVDPolarRoute: from procrustesPolarMin singular values on, laSVD takes the polar route
// (laSVDPolar; a wide matrix through its transpose), which is an SVD with gonum's singular
// values; and truncate_rank's exact path, which calls it, gives the gonum route's result on a
// matrix with a gap at the rank (where the truncation is unique).
func TestSVDPolarRoute(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, sh := range [][2]int{{140, 300}, {300, 140}, {160, 160}, {150, 260}} {
		a := svdRandDense(rng, sh[0], sh[1])
		if sh[0] == 150 {
			svdCentre(a, 1) // rank 149: a null pair deflated
		}
		u, s, vt, ok := laSVDPolar(a)
		if !ok {
			t.Fatalf("%v: laSVDPolar failed", sh)
		}
		u2, s2, vt2, err := laSVD(a)
		if err != nil {
			t.Fatal(err)
		}
		// (With an optimized LAPACK, the mechac_openblas build, laSVD takes its dgesdd instead.)
		if lapackSVD == nil && (!mat.Equal(u, u2) || !slices.Equal(s, s2) || !mat.Equal(vt, vt2)) {
			t.Errorf("%v: laSVD did not take the polar route", sh)
		}
		r, c := sh[0], sh[1]
		k := min(r, c)
		if ur, uc := u.Dims(); ur != r || uc != k {
			t.Fatalf("%v: u is %dx%d", sh, ur, uc)
		}
		if vr, vc := vt.Dims(); vr != k || vc != c {
			t.Fatalf("%v: vt is %dx%d", sh, vr, vc)
		}
		us := mat.DenseCopyOf(u)
		for j := range k {
			for i := range r {
				us.Set(i, j, us.At(i, j)*s[j])
			}
		}
		if d := matDiff(laMul(us, vt), a); d > 1e-12*s[0] {
			t.Errorf("%v: u diag(s) vt - a: %g", sh, d)
		}
		if d := matDiff(laMul(u.T(), u), laEye(k)); d > 1e-12 {
			t.Errorf("%v: uᵀu - I: %g", sh, d)
		}
		if d := matDiff(laMul(vt, vt.T()), laEye(k)); d > 1e-12 {
			t.Errorf("%v: vt vtᵀ - I: %g", sh, d)
		}
		want, err := laSingularValues(a)
		if err != nil {
			t.Fatal(err)
		}
		for i := range s {
			if math.Abs(s[i]-want[i]) > 1e-12*s[0] {
				t.Fatalf("%v: s[%d] = %v, gonum %v", sh, i, s[i], want[i])
			}
		}
	}
	// truncate_rank(a, 20) exact, a = U diag(σ) Vᵀ with σ = 10 (x20), then 1.
	const r, c, rank = 150, 200, 20
	sigma := mat.NewDense(r, c, nil)
	for i := range r {
		sigma.Set(i, i, 1)
		if i < rank {
			sigma.Set(i, i, 10)
		}
	}
	a := laMul(laMul(randomRotation(rng, r, 1), sigma), randomRotation(rng, c, 1))
	run := func(polarMin int) []float64 {
		defer func(m int) { procrustesPolarMin = m }(procrustesPolarMin)
		procrustesPolarMin = polarMin
		call := &ops.Call{Numerics: ops.Exact, Args: []ops.Value{svdMat(a), ops.TensorValue(ops.Scalar(rank)), ops.Bool(false), ops.Int(2), ops.Int(1)},
			Out: &ops.Tensor{Shape: []int{r, c}, Data: make([]float64, r*c)}}
		if err := truncateRank.Kernel(call); err != nil {
			t.Fatal(err)
		}
		return call.Out.Data
	}
	want, got := run(math.MaxInt), run(128)
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12*10 {
			t.Fatalf("truncate_rank exact: element %d: polar route %v, gonum route %v", i, got[i], want[i])
		}
	}
}
