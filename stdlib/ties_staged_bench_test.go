package stdlib

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mechac/mechac/ops"
)

// tiesPerElem reports the CPU time and the wall time per model-element of a benchmark loop.
func tiesPerElem(b *testing.B, cpu0 time.Duration, elems int) {
	per := float64(b.N * elems)
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/per, "cpu-ns/model-elem")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/model-elem")
}

// tiesBenchData is r deltas of n normal values, the benchmark's TIES inputs.
func tiesBenchData(r, n int) [][]float64 {
	rng := rand.New(rand.NewPCG(1, 2))
	ms := make([][]float64, r)
	for i := range ms {
		ms[i] = make([]float64, n)
		for j := range ms[i] {
			ms[i][j] = rng.NormFloat64() * 1e-3
		}
	}
	return ms
}

// BenchmarkTiesSumDirect is the whole ties_sum kernel (thresholds and vote) for 8 deltas of
// 1 Mi elements; ns/op / (8 << 20) is the time per model-element.
func BenchmarkTiesSumDirect(b *testing.B) {
	const r, n = 8, 1 << 20
	ms := tiesBenchData(r, n)
	out := make([]float64, n)
	for _, vote := range []bool{false, true} {
		name := "signs"
		if vote {
			name = "values"
		}
		b.Run(name, func(b *testing.B) {
			cpu0 := processCPU()
			for b.Loop() {
				if _, err := tiesSumDirect(ms, 0.2, vote, out); err != nil {
					b.Fatal(err)
				}
			}
			tiesPerElem(b, cpu0, r*n)
		})
	}
}

// BenchmarkTiesKthAbsF32 is one delta's threshold (1 Mi elements).
func BenchmarkTiesKthAbsF32(b *testing.B) {
	x := tiesBenchData(1, 1<<20)[0]
	cpu0 := processCPU()
	for b.Loop() {
		tiesKthAbsF32(x, 838861)
	}
	tiesPerElem(b, cpu0, len(x))
}

// BenchmarkTiesVote is tiesVoter alone (thresholds known) for 8 deltas of 1 Mi elements
// (read from memory) and of 4 Ki elements (in cache, as a staged chunk computed just before).
func BenchmarkTiesVote(b *testing.B) {
	for _, n := range []int{1 << 20, 4 << 10} {
		const r = 8
		ms := tiesBenchData(r, n)
		th := make([]float64, r)
		for i, m := range ms {
			th[i], _ = tiesTopKThreshold(m, 0.2)
		}
		out := make([]float64, n)
		for _, vote := range []bool{false, true} {
			name := "signs"
			if vote {
				name = "values"
			}
			b.Run(fmt.Sprintf("%s/n=%d", name, n), func(b *testing.B) {
				v := newTiesVoter(th, n, vote)
				cpu0 := processCPU()
				for b.Loop() {
					v.run(ms, 0, out)
				}
				tiesPerElem(b, cpu0, r*n)
			})
			b.Run(fmt.Sprintf("%s/n=%d/elementwise", name, n), func(b *testing.B) {
				cpu0 := processCPU()
				for b.Loop() {
					tiesVoteElementwise(ms, th, vote, out)
				}
				tiesPerElem(b, cpu0, r*n)
			})
		}
	}
}

// BenchmarkTiesFloor is a plain sum over the same 8 deltas: the memory floor of a pass.
func BenchmarkTiesFloor(b *testing.B) {
	const r, n = 8, 1 << 20
	ms := tiesBenchData(r, n)
	s := 0.0
	cpu0 := processCPU()
	for b.Loop() {
		for _, m := range ms {
			for _, v := range m {
				s += v
			}
		}
	}
	tiesPerElem(b, cpu0, r*n)
	_ = s
}

// tiesVoteElementwise is the vote as tiesSumDirect computed it before tiesVoter, per element
// with a loop over the models (r < 16, n >= 16 and a multiple of 16: every column in a
// block), kept as BenchmarkTiesVote's baseline on the same machine and load.
func tiesVoteElementwise(ms [][]float64, th []float64, voteSgn bool, out []float64) {
	var dv [16]float64
	var sv [16]int
	d, sg := dv[:len(ms)], sv[:len(ms)]
	colSum := func(d []float64) float64 {
		acc := 0.0
		for _, v := range d {
			acc += v
		}
		return acc
	}
	for j := range out {
		votes := 0
		for i, m := range ms {
			v := m[j]
			keep := math.Abs(v) >= th[i]
			f, s := 0.0, 0
			if keep {
				f = 1
			}
			if v > 0 {
				s = 1
			}
			if v < 0 {
				s = -1
			}
			if !keep {
				s = 0
			}
			d[i], sg[i] = v*f, s
			votes += s
		}
		var s int
		if voteSgn {
			s = int(tiesSign(colSum(d)))
		} else {
			s = max(-1, min(votes, 1))
		}
		c := 0.0
		for i, v := range d {
			f := 0.0
			if sg[i] == s {
				f = 1
			}
			d[i] = v * f
			c += f
		}
		out[j] = tiesNanToZero(colSum(d) / c)
	}
}

// BenchmarkTiesStaged is the staged form over 16 Ki-element chunks of 8 deltas of 1 Mi
// elements (every pass, the thresholds and the output), to set against BenchmarkTiesSumDirect.
func BenchmarkTiesStaged(b *testing.B) {
	const r, n, chunk = 8, 1 << 20, 16 << 10
	ms := tiesBenchData(r, n)
	out := make([]float64, n)
	args := make([][]float64, r)
	for _, mode := range []string{"one-pass", "two-pass"} {
		b.Run(mode, func(b *testing.B) {
			budget := tiesStageKeyBudget
			defer func() { tiesStageKeyBudget = budget }()
			tiesStageKeyBudget = map[string]int64{"one-pass": 1 << 62}[mode]
			cpu0 := processCPU()
			for b.Loop() {
				s, _, _ := tiesSum.Stage.New(ops.StageCall{Kw: tiesKw(0.2, false), Tensors: r, Shape: []int{n}})
				for p := 0; p < s.Passes(); p++ {
					for lo := 0; lo < n; lo += chunk {
						for i, m := range ms {
							args[i] = m[lo : lo+chunk]
						}
						if err := s.Observe(p, lo, args); err != nil {
							b.Fatal(err)
						}
					}
					if err := s.EndPass(p); err != nil {
						b.Fatal(err)
					}
				}
				for lo := 0; lo < n; lo += chunk {
					for i, m := range ms {
						args[i] = m[lo : lo+chunk]
					}
					if err := s.Chunk(lo, args, out[lo:lo+chunk]); err != nil {
						b.Fatal(err)
					}
				}
			}
			tiesPerElem(b, cpu0, r*n)
		})
	}
}
