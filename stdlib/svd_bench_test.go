package stdlib

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mechac/mechac/ops"
	"gonum.org/v1/gonum/mat"
)

// Speed of the SVD family's building blocks on SDXL-sized matrices (a 1280x1280 attention
// projection, a 640x2560 feed-forward half). Run with
//
//	go test ./stdlib -run '^$' -bench SVD -benchtime 1x
//
// The full SVD (U, S, V) benchmarks take about half a minute each.

var benchShapes = [][2]int{{1280, 1280}, {640, 2560}}

func svdBenchMatrix(r, c int) *mat.Dense {
	return svdRandDense(rand.New(rand.NewPCG(11, 12)), r, c)
}

func BenchmarkSVDFull(b *testing.B) {
	for _, sh := range benchShapes {
		a := svdBenchMatrix(sh[0], sh[1])
		b.Run(fmt.Sprintf("%dx%d", sh[0], sh[1]), func(b *testing.B) {
			for range b.N {
				if _, _, _, err := laSVD(a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSVDValues(b *testing.B) {
	for _, sh := range benchShapes {
		a := svdBenchMatrix(sh[0], sh[1])
		b.Run(fmt.Sprintf("%dx%d", sh[0], sh[1]), func(b *testing.B) {
			for range b.N {
				if _, err := laSingularValues(a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSVDPolar: the polar factor and log|det| (what isotropic_overrided uses).
func BenchmarkSVDPolar(b *testing.B) {
	for _, sh := range benchShapes {
		a := svdBenchMatrix(sh[0], sh[1])
		b.Run(fmt.Sprintf("%dx%d", sh[0], sh[1]), func(b *testing.B) {
			for range b.N {
				if _, err := polarFactor(a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSVDGramEigen: the alternative of an eigen-decomposition (with vectors) of the
// smaller Gram matrix.
func BenchmarkSVDGramEigen(b *testing.B) {
	for _, sh := range benchShapes {
		a := svdBenchMatrix(sh[0], sh[1])
		b.Run(fmt.Sprintf("%dx%d", sh[0], sh[1]), func(b *testing.B) {
			for range b.N {
				k := min(sh[0], sh[1])
				g := mat.NewSymDense(k, nil)
				if sh[0] >= sh[1] {
					g.SymOuterK(1, a.T())
				} else {
					g.SymOuterK(1, a)
				}
				var e mat.EigenSym
				if !e.Factorize(g, true) {
					b.Fatal("eigen")
				}
			}
		})
	}
}

// BenchmarkSVDNewtonSchulz: the alternative of the inverse-free Newton-Schulz iteration
// X <- X (3I - X^T X) / 2 from X = A / sigma_max, to a relative change of 1e-12.
func BenchmarkSVDNewtonSchulz(b *testing.B) {
	for _, sh := range benchShapes {
		a := svdBenchMatrix(sh[0], sh[1])
		if sh[0] < sh[1] {
			a = mat.DenseCopyOf(a.T())
		}
		b.Run(fmt.Sprintf("%dx%d", sh[0], sh[1]), func(b *testing.B) {
			for range b.N {
				s, _ := laSingularValues(a)
				x := laClone(a)
				x.Scale(1/s[0], x)
				_, n := x.Dims()
				it := 0
				for ; it < 200; it++ {
					xtx := laMul(x.T(), x)
					xtx.Scale(-0.5, xtx)
					for i := range n {
						xtx.Set(i, i, xtx.At(i, i)+1.5)
					}
					next := laMul(x, xtx)
					ch := laFrobenius(laSub(next, x)) / laFrobenius(next)
					x = next
					if ch < 1e-12 {
						break
					}
				}
				b.ReportMetric(float64(it+1), "iters")
			}
		})
	}
}

func BenchmarkSVDIsotropicOverrided(b *testing.B) {
	for _, sh := range benchShapes {
		a := svdBenchMatrix(sh[0], sh[1])
		shape := []int{sh[0], sh[1]}
		args := []ops.Value{svdMat(a), ops.Float(0), ops.Bool(false), ops.Bool(false)}
		b.Run(fmt.Sprintf("%dx%d", sh[0], sh[1]), func(b *testing.B) {
			for range b.N {
				c := &ops.Call{Numerics: ops.Exact, Args: args, Out: &ops.Tensor{Shape: shape, Data: make([]float64, sh[0]*sh[1])}}
				if err := isotropicOverrided.Kernel(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSVDTruncateRank: truncate_rank's default randomized path (rank 8, 2 power
// iterations) and its exact path.
func BenchmarkSVDTruncateRank(b *testing.B) {
	for _, sh := range benchShapes {
		a := svdBenchMatrix(sh[0], sh[1])
		shape := []int{sh[0], sh[1]}
		for _, approx := range []bool{true, false} {
			args := []ops.Value{svdMat(a), ops.TensorValue(ops.Scalar(8)), ops.Bool(approx), ops.Int(2), ops.Int(1)}
			b.Run(fmt.Sprintf("%dx%d/approx=%v", sh[0], sh[1], approx), func(b *testing.B) {
				for range b.N {
					c := &ops.Call{Numerics: ops.Exact, Args: args, Out: &ops.Tensor{Shape: shape, Data: make([]float64, sh[0]*sh[1])}}
					if err := truncateRank.Kernel(c); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkSVDRotate(b *testing.B) {
	for _, sh := range [][2]int{{1280, 1280}} {
		a := svdBenchMatrix(sh[0], sh[1])
		bb := svdRandDense(rand.New(rand.NewPCG(13, 14)), sh[0], sh[1])
		shape := []int{sh[0], sh[1]}
		for _, alignment := range []float64{1, 0.5} {
			args := []ops.Value{svdMat(a), svdMat(bb), ops.Float(alignment), ops.TensorValue(ops.Scalar(0.5))}
			b.Run(fmt.Sprintf("%dx%d/alignment=%v", sh[0], sh[1], alignment), func(b *testing.B) {
				for range b.N {
					c := &ops.Call{Numerics: ops.Exact, Args: args, Out: &ops.Tensor{Shape: shape, Data: make([]float64, sh[0]*sh[1])}}
					if err := rotateDef.Kernel(c); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
