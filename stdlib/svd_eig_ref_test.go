package stdlib

import (
	"errors"
	"fmt"
	"math/cmplx"

	"gonum.org/v1/gonum/mat"
)

// The eigen-decomposition route of sd-mecha's orthogonal_matrix_power and logm, as mechac took
// it before orthoFunc: the reference the tests hold the symmetric route to.

// laCmat is a complex matrix held as its real and imaginary parts.
type laCmat struct{ re, im *mat.Dense }

// laEig is torch.linalg.eig(a) for a real square matrix: the eigenvalues and the right
// eigenvectors (unit Euclidean norm, largest component real, as LAPACK dgeev).
func laEig(a mat.Matrix) ([]complex128, laCmat, error) {
	if err := laCheckFinite("eig", a); err != nil {
		return nil, laCmat{}, err
	}
	var e mat.Eigen
	if !e.Factorize(a, mat.EigenRight) {
		return nil, laCmat{}, errors.New("eigen-decomposition did not converge")
	}
	vals := e.Values(nil)
	var v mat.CDense
	e.VectorsTo(&v)
	at := v.At
	n := len(vals)
	re, im := mat.NewDense(n, n, nil), mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			z := at(i, j)
			if flipSignsForTest {
				// -1 for real eigenvalues, i and -i for a conjugate pair (keeps them conjugate).
				switch l := vals[j]; {
				case imag(l) == 0:
					z = -z
				case imag(l) > 0:
					z *= 1i
				default:
					z *= -1i
				}
			}
			re.Set(i, j, real(z))
			im.Set(i, j, imag(z))
		}
	}
	return vals, laCmat{re, im}, nil
}

// laScaleCols returns v diag(d) (column j times d[j]).
func laScaleCols(v laCmat, d []complex128) laCmat {
	r, c := v.re.Dims()
	re, im := mat.NewDense(r, c, nil), mat.NewDense(r, c, nil)
	for i := range r {
		for j := range c {
			z := complex(v.re.At(i, j), v.im.At(i, j)) * d[j]
			re.Set(i, j, real(z))
			im.Set(i, j, imag(z))
		}
	}
	return laCmat{re, im}
}

// laRealMulH returns the real part of w v^H: w_re v_re^T + w_im v_im^T.
func laRealMulH(w, v laCmat) *mat.Dense {
	return laAdd(laMul(w.re, v.re.T()), laMul(w.im, v.im.T()))
}

// orthogonalMatrixPowerEig is sd-mecha's orthogonal_matrix_power(q, t): with q = V diag(l) V^-1
// from eig (V unitary for an orthogonal q with distinct eigenvalues), Re(V diag(l^t) V^H),
// l^t on the principal branch (exp(t log l), arg in (-pi, pi]). An eigenvalue at -1 whose
// conjugate partner LAPACK returns as a second real -1 gets +i pi from both; the imaginary
// residual is then dropped with the rest (sd-mecha only warns).
func orthogonalMatrixPowerEig(q mat.Matrix, t float64) (*mat.Dense, error) {
	vals, vecs, err := laEig(q)
	if err != nil {
		return nil, err
	}
	pow := make([]complex128, len(vals))
	for i, l := range vals {
		pow[i] = cmplx.Pow(l, complex(t, 0))
	}
	return laRealMulH(laScaleCols(vecs, pow), vecs), nil
}

// laLogmEig is sd-mecha's logm(m): laEig(m) = (l, V); Re(V diag(log l) V^-1), the complex solve done
// as the real 2n x 2n system of its real embedding.
func laLogmEig(m mat.Matrix) (*mat.Dense, error) {
	vals, vecs, err := laEig(m)
	if err != nil {
		return nil, err
	}
	n := len(vals)
	lg := make([]complex128, n)
	for i, l := range vals {
		lg[i] = cmplx.Log(l)
	}
	b := laScaleCols(vecs, lg)
	// X V = B  <=>  V^T X^T = B^T. Embedding complex Z = A + iB as [[A, -B], [B, A]], the first
	// block row of X's embedding is [Xr, -Xi] = [Br, -Bi] Vemb^-1, i.e. Vemb^T Y = [Br, -Bi]^T.
	vemb := mat.NewDense(2*n, 2*n, nil)
	for i := range n {
		for j := range n {
			r, im := vecs.re.At(i, j), vecs.im.At(i, j)
			vemb.Set(i, j, r)
			vemb.Set(i+n, j+n, r)
			vemb.Set(i, j+n, -im)
			vemb.Set(i+n, j, im)
		}
	}
	rhs := mat.NewDense(n, 2*n, nil)
	for i := range n {
		for j := range n {
			rhs.Set(i, j, b.re.At(i, j))
			rhs.Set(i, j+n, -b.im.At(i, j))
		}
	}
	var y mat.Dense
	if err := y.Solve(vemb.T(), rhs.T()); err != nil {
		var c mat.Condition
		if !errors.As(err, &c) {
			return nil, fmt.Errorf("logm: %v", err)
		}
	}
	out := mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			out.Set(i, j, y.At(j, i))
		}
	}
	return out, nil
}
