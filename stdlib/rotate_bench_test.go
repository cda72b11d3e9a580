package stdlib

import (
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib/configs"
)

// BenchmarkRotateSDXL estimates rotate on a whole SDXL model (sdxl-sgm) with the arguments real
// recipes use (alignment 1, no interpolation, centralization 1): the kernel on one random pair
// of every distinct key shape of rank >= 2, timed once, times the number of keys of that shape.
// MECHAC_ROTATE_ERA=0.0.5 runs 0.0.5's rotate (the only real recipe with rotate,
// incompatible_fusion@953313a: alpha=1.0 beta=0.0) instead of 1.1.5's, and
// MECHAC_ROTATE_ALIGNMENT=0.5 1.1.5's rotate with that alignment (a fractional one takes the
// matrix power: an eigen-decomposition per key). The pairs are independent Gaussian matrices,
// unless MECHAC_ROTATE_NEAR=e makes b = a + e·noise: two fine-tunes of one model, where the
// wide keys' Stiefel iteration (fractional alignments) converges in 3-4 steps instead of
// running to stiefel_max_iters. MECHAC_ROTATE_ONLY=SHAPE (as ops.FormatShape prints it, e.g.
// "[1280, 5120]") times that shape alone. Run with
//
//	go test ./stdlib -run '^$' -bench 'RotateSDXL' -benchtime 1x -v
//
// It reports the estimate as "s/model" and "cpu-s/model".
func BenchmarkRotateSDXL(b *testing.B) {
	cfg, err := configs.Load("sdxl-sgm")
	if err != nil {
		b.Fatal(err)
	}
	era := os.Getenv("MECHAC_ROTATE_ERA")
	alignment := 1.0
	if v := os.Getenv("MECHAC_ROTATE_ALIGNMENT"); v != "" {
		if alignment, err = strconv.ParseFloat(v, 64); err != nil {
			b.Fatal(err)
		}
	}
	near := 0.0
	if v := os.Getenv("MECHAC_ROTATE_NEAR"); v != "" {
		if near, err = strconv.ParseFloat(v, 64); err != nil {
			b.Fatal(err)
		}
	}
	only := os.Getenv("MECHAC_ROTATE_ONLY")
	counts := map[string]int{}
	shapes := map[string][]int{}
	for _, k := range cfg.Keys {
		if len(k.Shape) < 2 {
			continue
		}
		s := ops.FormatShape(k.Shape)
		if only != "" && s != only {
			continue
		}
		counts[s]++
		shapes[s] = k.Shape
	}
	names := make([]string, 0, len(counts))
	for s := range counts {
		names = append(names, s)
	}
	slices.SortFunc(names, func(x, y string) int {
		return ops.NumElements(shapes[x]) - ops.NumElements(shapes[y])
	})
	rng := rand.New(rand.NewPCG(31, 32))
	for range b.N {
		total, totalCPU := 0.0, 0.0
		for _, s := range names {
			shape := shapes[s]
			n := ops.NumElements(shape)
			a, bb := &ops.Tensor{Shape: shape, Data: make([]float64, n)}, &ops.Tensor{Shape: shape, Data: make([]float64, n)}
			for i := range n {
				a.Data[i], bb.Data[i] = rng.NormFloat64(), rng.NormFloat64()
				if near > 0 {
					bb.Data[i] = a.Data[i] + near*bb.Data[i]
				}
			}
			c := &ops.Call{Numerics: ops.Exact, Out: &ops.Tensor{Shape: shape, Data: make([]float64, n)}}
			def := rotateDef
			if era == "0.0.5" {
				def = rotate005
				c.Args = []ops.Value{ops.TensorValue(a), ops.TensorValue(bb)}
				c.Kw = []ops.Value{ops.Float(1), ops.Float(0)}
			} else {
				c.Args = []ops.Value{ops.TensorValue(a), ops.TensorValue(bb), ops.Float(alignment), ops.TensorValue(ops.Scalar(0)),
					ops.Float(1), stiefelEpsDefault, ops.Int(100)}
			}
			start, cpu := time.Now(), processCPU().Seconds()
			if err := def.Kernel(c); err != nil {
				b.Fatal(err)
			}
			d, dc := time.Since(start).Seconds(), processCPU().Seconds()-cpu
			k := float64(counts[s])
			total += d * k
			totalCPU += dc * k
			b.Logf("%-22s x%3d  %7.3f s (cpu %7.3f s) each  %7.1f s (cpu %7.1f s)", s, counts[s], d, dc, d*k, dc*k)
		}
		b.ReportMetric(total, "s/model")
		b.ReportMetric(totalCPU, "cpu-s/model")
	}
}
