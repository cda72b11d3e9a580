package stdlib

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/mechac/mechac/stdlib/configs"
	"github.com/mechac/mechac/stdlib/internal/fastblas"
)

// Speed of the polar factor (isotropic_overrided's work) on the SDXL shapes, with gonum's
// native BLAS and with fastblas, and an estimate of a whole SDXL model. Run with
//
//	go test ./stdlib -run '^$' -bench 'SVDPolarShapes/blas=fast' -benchtime 1x
//	go test ./stdlib -run '^$' -bench 'SVDIsotropicSDXL' -benchtime 1x
//
// (blas=gonum takes minutes on the large shapes.)

// polarShapes: an attention projection, a small one, a 3x3 conv (wide), a feed-forward
// output (tall) and CLIP-G's token embedding.
var polarShapes = [][2]int{{1280, 1280}, {640, 640}, {1280, 11520}, {10240, 1280}, {49408, 1280}}

// withBLAS runs f with impl installed as gonum's BLAS, then restores fastblas.
func withBLAS(impl blas.Float64, f func()) {
	blas64.Use(impl)
	defer blas64.Use(fastblas.Implementation{})
	f()
}

func BenchmarkSVDPolarShapes(b *testing.B) {
	impls := []struct {
		name string
		impl blas.Float64
	}{{"fast", fastblas.Implementation{}}, {"gonum", gonum.Implementation{}}}
	for _, im := range impls {
		for _, sh := range polarShapes {
			a := svdBenchMatrix(sh[0], sh[1])
			b.Run(fmt.Sprintf("blas=%s/%dx%d", im.name, sh[0], sh[1]), func(b *testing.B) {
				withBLAS(im.impl, func() {
					cpu := processCPU().Seconds()
					for range b.N {
						if _, err := polarFactor(a); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric((processCPU().Seconds()-cpu)/float64(b.N), "cpu-s/op")
				})
			})
		}
	}
}

// BenchmarkSVDIsotropicSDXL estimates isotropic_overrided on a whole SDXL model (sdxl-sgm):
// the polar factor of one random matrix of every distinct 2-D key shape (shape[0] x rest),
// timed once, times the number of keys of that shape. MECHAC_ISO_HIGHDIM=1 adds the keys of
// rank > 2 (apply_high_dim). It reports the estimate in seconds as "s/model".
func BenchmarkSVDIsotropicSDXL(b *testing.B) {
	cfg, err := configs.Load("sdxl-sgm")
	if err != nil {
		b.Fatal(err)
	}
	highDim := os.Getenv("MECHAC_ISO_HIGHDIM") == "1"
	counts := map[[2]int]int{}
	for _, k := range cfg.Keys {
		if len(k.Shape) < 2 || len(k.Shape) > 2 && !highDim {
			continue
		}
		r, c := svdMatrix2D(k.Shape, false)
		counts[[2]int{r, c}]++
	}
	shapes := make([][2]int, 0, len(counts))
	for sh := range counts {
		shapes = append(shapes, sh)
	}
	slices.SortFunc(shapes, func(x, y [2]int) int { return x[0]*x[1] - y[0]*y[1] })
	for range b.N {
		total, totalCPU := 0.0, 0.0
		for _, sh := range shapes {
			a := svdBenchMatrix(sh[0], sh[1])
			start, cpu := time.Now(), processCPU().Seconds()
			if _, err := polarFactor(a); err != nil {
				b.Fatal(err)
			}
			d, dc := time.Since(start).Seconds(), processCPU().Seconds()-cpu
			n := float64(counts[sh])
			total += d * n
			totalCPU += dc * n
			b.Logf("%6dx%-6d x%3d  %7.3f s (cpu %7.3f s) each  %7.1f s (cpu %7.1f s)", sh[0], sh[1], counts[sh], d, dc, d*n, dc*n)
		}
		b.ReportMetric(total, "s/model")
		b.ReportMetric(totalCPU, "cpu-s/model")
	}
}
