package symeig

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// tridiagCase is a named symmetric tridiagonal matrix: diagonal and off-diagonal.
type tridiagCase struct {
	name string
	d, e []float64
}

func tridiagCases() []tridiagCase {
	rng := rand.New(rand.NewPCG(11, 12))
	gauss := func(n int) ([]float64, []float64) {
		d, e := make([]float64, n), make([]float64, n-1)
		for i := range d {
			d[i] = rng.NormFloat64()
		}
		for i := range e {
			e[i] = rng.NormFloat64()
		}
		return d, e
	}
	var cs []tridiagCase
	add := func(name string, d, e []float64) { cs = append(cs, tridiagCase{name, d, e}) }
	for _, n := range []int{1, 2, 3, 33, 64, 257, 600} {
		d, e := gauss(n)
		add(fmt.Sprintf("gaussian %d", n), d, e)
	}
	// Wilkinson's W+: eigenvalues in pairs agreeing to many digits (deflation by rotation).
	for _, m := range []int{10, 50, 200} {
		n := 2*m + 1
		d, e := make([]float64, n), make([]float64, n-1)
		for i := range d {
			d[i] = math.Abs(float64(m - i))
		}
		for i := range e {
			e[i] = 1
		}
		add(fmt.Sprintf("wilkinson %d", n), d, e)
	}
	// Glued Wilkinson matrices: clusters of near-equal eigenvalues across weakly coupled
	// blocks, a few ulps apart for the weaker glues (roots in intervals of a few ulps: the
	// secular solver's choice of the nearer end must be exact there).
	for _, glue := range []float64{1e-9, 1e-12, 1e-15} {
		var d, e []float64
		for b := range 8 {
			for i := range 21 {
				d = append(d, math.Abs(float64(10-i)))
				if i < 20 {
					e = append(e, 1)
				}
			}
			if b < 7 {
				e = append(e, glue)
			}
		}
		add(fmt.Sprintf("glued wilkinson 168, glue %g", glue), d, e)
	}
	// Negative couplings, exact splits, a tiny coupling, equal diagonal (all eigenvalues of a
	// scaled second difference), the identity plus noise at 1e-12, a graded matrix.
	{
		d, e := gauss(150)
		for i := range e {
			e[i] = -math.Abs(e[i])
		}
		add("negative couplings 150", d, e)
		d, e = gauss(150)
		for i := 0; i < len(e); i += 7 {
			e[i] = 0
		}
		add("splits 150", d, e)
		d, e = gauss(150)
		e[74] = 1e-300
		add("tiny coupling 150", d, e)
		d, e = make([]float64, 300), make([]float64, 299)
		for i := range d {
			d[i] = 2
		}
		for i := range e {
			e[i] = -1
		}
		add("second difference 300", d, e)
		d, e = gauss(200)
		for i := range d {
			d[i] = 1 + 1e-12*d[i]
		}
		for i := range e {
			e[i] *= 1e-12
		}
		add("identity cluster 200", d, e)
		d, e = make([]float64, 100), make([]float64, 99)
		for i := range d {
			d[i] = 3
		}
		add("diagonal 100", d, e)
		d, e = gauss(120)
		for i := range d {
			d[i] *= math.Pow(10, float64(i)/12)
		}
		for i := range e {
			e[i] *= math.Pow(10, float64(i)/12)
		}
		add("graded 120", d, e)
	}
	return cs
}

// TestTridiagonalDC checks divide and conquer against the definition on tridiagonal
// matrices made to deflate (Wilkinson's, glued, clusters, splits) or not, at several leaf
// sizes (1 recurses down to 1x1 blocks): residual |T z_j - λ_j z_j| and |ZᵀZ - I| to 4 n
// ulps (of |T|, of 1), ascending eigenvalues, and the eigenvalues against the QL iteration's.
func TestTridiagonalDC(t *testing.T) {
	defer func(l int) { dcLeaf = l }(dcLeaf)
	for _, leaf := range []int{1, 4, 32} {
		dcLeaf = leaf
		for _, tc := range tridiagCases() {
			n := len(tc.d)
			d, res, orth, norm := dcQuality(t, tc.d, tc.e)
			ulp := 0x1p-52
			if res > 4*float64(n)*ulp*norm || orth > 4*float64(n)*ulp || math.IsNaN(res+orth) {
				t.Errorf("leaf %d %s: residual %.3g (%.1f n ulps of |T|), orthogonality %.3g (%.1f n ulps)",
					leaf, tc.name, res, res/(float64(n)*ulp*norm), orth, orth/(float64(n)*ulp))
			}
			if testing.Verbose() {
				t.Logf("leaf %d %s: residual %.1f n ulps, orthogonality %.1f n ulps", leaf, tc.name, res/(float64(n)*ulp*norm), orth/(float64(n)*ulp))
			}
			ql := slices.Clone(tc.d)
			ee := slices.Clone(tc.e)
			vt := make([]float64, n*n)
			for i := range n {
				vt[i*n+i] = 1
			}
			if err := tridiagonalQL(ql, ee, vt, n); err != nil {
				t.Fatal(err)
			}
			slices.Sort(ql)
			for i := range n {
				if math.Abs(ql[i]-d[i]) > 30*float64(n)*ulp*norm {
					t.Errorf("leaf %d %s: eigenvalue %d: %g, QL %g", leaf, tc.name, i, d[i], ql[i])
					break
				}
			}
		}
	}
}

// TestTridiagonalDCRandomClusters: many small matrices whose diagonals repeat a few values
// to within 1e-14 and whose couplings are often tiny, so that merges meet clusters, ties and
// near-ties in every arrangement; leaf size 4, so every matrix goes through many merges.
func TestTridiagonalDCRandomClusters(t *testing.T) {
	defer func(l int) { dcLeaf = l }(dcLeaf)
	dcLeaf = 4
	rng := rand.New(rand.NewPCG(21, 22))
	for trial := range 300 {
		n := 20 + rng.IntN(100)
		d, e := make([]float64, n), make([]float64, n-1)
		for i := range d {
			d[i] = float64(rng.IntN(4)) + 1e-14*rng.NormFloat64()
		}
		for i := range e {
			switch rng.IntN(4) {
			case 0:
				e[i] = 0
			case 1:
				e[i] = 1e-13 * rng.NormFloat64()
			default:
				e[i] = rng.NormFloat64()
			}
		}
		_, res, orth, norm := dcQuality(t, d, e)
		if ulp := 0x1p-52 * float64(n); res > 4*ulp*norm || orth > 4*ulp || math.IsNaN(res+orth) {
			t.Fatalf("trial %d (n %d): residual %.3g (%.1f n ulps), orthogonality %.3g (%.1f n ulps)", trial, n, res, res/(ulp*norm), orth, orth/ulp)
		}
	}
}

// dcQuality runs tridiagonalDC on (d, e) and returns the eigenvalues (checked ascending), the
// largest residual |T z_j - λ_j z_j|, the largest |ZᵀZ - I| and T's infinity norm.
func dcQuality(t *testing.T, d0, e []float64) (w []float64, res, orth, norm float64) {
	t.Helper()
	n := len(d0)
	d := slices.Clone(d0)
	z, err := tridiagonalDC(d, e, n)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(d) {
		t.Fatal("eigenvalues not ascending")
	}
	for i := range n {
		r := math.Abs(d0[i])
		if i > 0 {
			r += math.Abs(e[i-1])
		}
		if i < n-1 {
			r += math.Abs(e[i])
		}
		norm = max(norm, r)
	}
	for j := range n {
		for i := range n {
			r := (d0[i] - d[j]) * z[i*n+j]
			if i > 0 {
				r += e[i-1] * z[(i-1)*n+j]
			}
			if i < n-1 {
				r += e[i] * z[(i+1)*n+j]
			}
			res = max(res, math.Abs(r))
		}
		for k := j; k < n; k++ {
			s := 0.0
			for i := range n {
				s += z[i*n+j] * z[i*n+k]
			}
			if k == j {
				s--
			}
			orth = max(orth, math.Abs(s))
		}
	}
	return d, res, orth, norm
}
