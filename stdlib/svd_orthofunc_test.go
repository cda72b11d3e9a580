package stdlib

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// orthoCase is an orthogonal test matrix with det +1.
type orthoCase struct {
	name string
	q    *mat.Dense
}

func randomRotation(rng *rand.Rand, n int, spread float64) *mat.Dense {
	g := mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			v := spread * rng.NormFloat64()
			if i == j && spread < 1 {
				v += 1
			}
			g.Set(i, j, v)
		}
	}
	q, _ := laQRPos(g)
	if laDetSign(q) < 0 {
		for i := range n {
			q.Set(i, 0, -q.At(i, 0))
		}
	}
	return q
}

func orthoCases() []orthoCase {
	rng := rand.New(rand.NewPCG(11, 12))
	half := laEye(6)
	half.Set(0, 0, -1) // a turn by pi in the plane (0, 1)
	half.Set(1, 1, -1)
	plane := laEye(5) // one plane turned by 0.3, the rest fixed
	plane.Set(2, 2, math.Cos(0.3))
	plane.Set(2, 4, -math.Sin(0.3))
	plane.Set(4, 2, math.Sin(0.3))
	plane.Set(4, 4, math.Cos(0.3))
	return []orthoCase{
		{"identity", laEye(8)},
		{"one plane", plane},
		{"turn by pi", half},
		{"haar 7", randomRotation(rng, 7, 1)},
		{"haar 60", randomRotation(rng, 60, 1)},
		{"haar 201", randomRotation(rng, 201, 1)},
		{"near identity 90", randomRotation(rng, 90, 1e-3)},
	}
}

// skewCases are rotations exp(k) of known logarithms k: small ones, where eig's vectors of a
// tight cluster are not orthogonal and its route loses digits, and one with angles up to 3.
func skewCases() []struct {
	name string
	k    *mat.Dense
} {
	rng := rand.New(rand.NewPCG(13, 14))
	skew := func(n int, scale float64) *mat.Dense {
		k := mat.NewDense(n, n, nil)
		for i := range n {
			for j := range i {
				v := scale * rng.NormFloat64()
				k.Set(i, j, v)
				k.Set(j, i, -v)
			}
		}
		return k
	}
	return []struct {
		name string
		k    *mat.Dense
	}{
		{"angles 1e-9", skew(50, 1e-10)},
		{"angles 1e-4", skew(80, 1e-5)},
		{"angles to 3", skew(40, 0.2)},
	}
}

// TestOrthoFuncOfKnownLog: for q = exp(k), q^t = exp(t k) and logm(q) = k (k's angles below pi).
func TestOrthoFuncOfKnownLog(t *testing.T) {
	for _, tc := range skewCases() {
		t.Run(tc.name, func(t *testing.T) {
			q := laExpm(tc.k)
			for _, p := range []float64{0.5, 0.3, -0.25, 1.7} {
				got, err := orthogonalMatrixPower(q, p)
				if err != nil {
					t.Fatal(err)
				}
				var tk mat.Dense
				tk.Scale(p, tc.k)
				if d := matDiff(got, laExpm(&tk)); d > 1e-13 {
					t.Errorf("q^%g: %g from exp(t k)", p, d)
				}
			}
			got, err := laLogm(q)
			if err != nil {
				t.Fatal(err)
			}
			if d := matDiff(got, tc.k); d > 1e-13 {
				t.Errorf("logm: %g from k", d)
			}
			n, _ := got.Dims()
			for i := range n {
				for j := range n {
					if got.At(i, j) != -got.At(j, i) {
						t.Fatalf("logm not exactly skew at (%d, %d)", i, j)
					}
				}
			}
		})
	}
}

// TestOrthoFuncMatchesEig holds orthoFunc's matrix powers and logarithms to the eig route
// sd-mecha takes (svd_eig_ref_test.go), and to their definitions: (q^t)^(1/t) round trips, and
// exp(logm(q)) = q.
func TestOrthoFuncMatchesEig(t *testing.T) {
	for _, tc := range orthoCases() {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range []float64{0.5, 0.3, -0.25, 1.7} {
				got, err := orthogonalMatrixPower(tc.q, p)
				if err != nil {
					t.Fatal(err)
				}
				want, err := orthogonalMatrixPowerEig(tc.q, p)
				if err != nil {
					t.Fatal(err)
				}
				if d := matDiff(got, want); d > 1e-11 {
					t.Errorf("q^%g: %g from the eig route", p, d)
				}
			}
			got, err := laLogm(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			want, err := laLogmEig(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if d := matDiff(got, want); d > 1e-11 {
				t.Errorf("logm: %g from the eig route", d)
			}
			if tc.name != "turn by pi" { // there exp(logm) = I: the branch is ambiguous
				if d := matDiff(laExpm(got), tc.q); d > 1e-12 {
					t.Errorf("exp(logm(q)) - q: %g", d)
				}
			}
		})
	}
}

func matDiff(a, b *mat.Dense) float64 {
	d, _ := maxAbsDiff(laData(a), laData(b))
	return d
}
