package stdlib

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// expStiefel is sd-mecha's exp_stiefel(u, delta) step by step: the point reached from u
// (n x p, n > p) along the tangent delta. stiefelLog.point computes it in the log's factors;
// this literal form is the reference the tests hold it to.
func expStiefel(u, delta *mat.Dense) (*mat.Dense, error) {
	n, p := u.Dims()
	if n <= p {
		return nil, fmt.Errorf("exp_stiefel: u must be tall, is %dx%d", n, p)
	}
	k := min(n-p, p)
	a := laMul(u.T(), delta)
	q, r := laQRPos(laSub(delta, laMul(u, a)))
	q = mat.DenseCopyOf(q.Slice(0, n, 0, k))
	r = mat.DenseCopyOf(r.Slice(0, k, 0, p))
	w := mat.NewDense(p+k, p+k, nil)
	w.Slice(0, p, 0, p).(*mat.Dense).Copy(a)
	for i := range p {
		for j := range k {
			w.Set(i, p+j, -r.At(j, i))
		}
	}
	w.Slice(p, p+k, 0, p).(*mat.Dense).Copy(r)
	m := laExpm(w)
	return laAdd(laMul(u, m.Slice(0, p, 0, p)), laMul(q, m.Slice(p, p+k, 0, p))), nil
}

// TestStiefelPoint holds stiefelLog.point(c) to exp_stiefel(a, c·delta) taken literally:
// within rounding when the iteration ran out of steps (the exponential of c l̃ in the log's
// factors is the same matrix), within |c| eps when it converged (v^c from the last logm's
// decomposition; SPEC §8 rotate). A point taken as v^c without convergence, or with the
// wrong function of v, is off by far more. Wide views with k = p and k < p, near and
// unrelated pairs.
func TestStiefelPoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, sh := range [][2]int{{4, 10}, {4, 6}, {12, 40}} {
		for _, near := range []float64{0.05, 0} {
			a := svdRandDense(rng, sh[0], sh[1])
			b := svdRandDense(rng, sh[0], sh[1])
			if near > 0 {
				for i, x := range a.RawMatrix().Data {
					b.RawMatrix().Data[i] = x + near*b.RawMatrix().Data[i]
				}
			}
			tr, err := procrustes(a, b, true)
			if err != nil {
				t.Fatal(err)
			}
			for _, run := range []struct {
				eps       float64
				iters     int
				converged bool
			}{{1e-8, 100, true}, {1e-8, 1, false}, {1e-13, 2, false}} {
				name := fmt.Sprintf("%dx%d near %g eps %g iters %d", sh[0], sh[1], near, run.eps, run.iters)
				lg, err := logStiefel(tr.v, tr.u, run.eps, run.iters)
				if err != nil {
					t.Fatal(err)
				}
				if (lg.converged != nil) != run.converged {
					t.Fatalf("%s: converged %v, want %v", name, lg.converged != nil, run.converged)
				}
				delta := lg.delta()
				for _, c := range []float64{0.75, 0.25, -0.5, 1.5, 1} {
					var scaled mat.Dense
					scaled.Scale(c, delta)
					want, err := expStiefel(tr.v, &scaled)
					if err != nil {
						t.Fatal(err)
					}
					tol := 1e-12
					if run.converged {
						tol += 2 * math.Abs(c) * run.eps
					}
					got := lg.point(c)
					var d mat.Dense
					d.Sub(got, want)
					if e := mat.Norm(&d, 2); e > tol || math.IsNaN(e) {
						t.Errorf("%s c %g: |point - exp_stiefel| = %.3g > %.3g", name, c, e, tol)
					}
					if run.converged && c == 1 {
						d.Sub(got, tr.u)
						if e := mat.Norm(&d, 2); e > 1e-12 {
							t.Errorf("%s: |point(1) - u| = %.3g", name, e)
						}
					}
				}
			}
		}
	}
}
