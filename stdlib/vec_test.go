package stdlib

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestVecKernels: vecSub and vecAddScaled give the Go loops' bits (a - b, math.FMA(b, w, a))
// over lengths 0..67, NaNs with payloads (so which NaN wins shows), ±Inf, ±0 and subnormals
// in either operand and in w, into a new slice and in place over a and over b.
func TestVecKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(47, 48))
	special := []float64{0, math.Copysign(0, -1), math.NaN(), math.Float64frombits(0xfff8000000000123),
		math.Float64frombits(0x7ff0000000000001), math.Inf(1), math.Inf(-1), 5e-324, -5e-324,
		math.MaxFloat64, -math.MaxFloat64, 1}
	ws := append([]float64{0.5, -1.25, 3}, special...)
	for n := range 68 {
		for trial := range 4 {
			a, b := make([]float64, n), make([]float64, n)
			for j := range n {
				a[j], b[j] = rng.NormFloat64(), rng.NormFloat64()
				if rng.IntN(3) == 0 {
					a[j] = special[rng.IntN(len(special))]
				}
				if rng.IntN(3) == 0 {
					b[j] = special[rng.IntN(len(special))]
				}
			}
			w := ws[rng.IntN(len(ws))]
			want, wantF := make([]float64, n), make([]float64, n)
			wantA, wantD, wantS, wantM := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
			wantT, wantN, wantP := make([]float64, n), make([]float64, n), make([]float64, n)
			for j := range n {
				want[j] = a[j] - b[j]
				wantF[j] = math.FMA(b[j], w, a[j])
				wantA[j] = a[j] + b[j]
				wantD[j] = a[j] / w
				wantS[j] = a[j] * w
				wantM[j] = a[j] * tiesB2F(b[j] < w)
				m := 0.0
				if math.Abs(a[j]) >= w {
					m = 1
				}
				wantT[j] = a[j] * m
				wantN[j] = (a[j] / w) * (b[j] / (w + 1))
				wantP[j] = a[j] * b[j]
			}
			for _, in := range []string{"new", "a", "b"} {
				check := func(op string, f func(out, a, b []float64), want []float64) {
					a2, b2 := append([]float64(nil), a...), append([]float64(nil), b...)
					out := map[string][]float64{"new": make([]float64, n), "a": a2, "b": b2}[in]
					f(out, a2, b2)
					for j := range n {
						if math.Float64bits(out[j]) != math.Float64bits(want[j]) {
							t.Fatalf("%s n %d trial %d out=%s [%d]: %v %v w %v: %#x, Go loop %#x", op, n, trial, in, j,
								a[j], b[j], w, math.Float64bits(out[j]), math.Float64bits(want[j]))
						}
					}
				}
				check("sub", vecSub, want)
				check("fma", func(out, a, b []float64) { vecAddScaled(out, a, b, w) }, wantF)
				check("add", vecAdd, wantA)
				check("div", func(out, a, _ []float64) { vecDiv(out, a, w) }, wantD)
				check("scale", func(out, a, _ []float64) { vecScale(out, a, w) }, wantS)
				check("mul", vecMul, wantP)
				wantAP, gotAP := append([]float64(nil), b...), append([]float64(nil), b...)
				for j := range wantAP {
					wantAP[j] += float64(a[j] * w)
				}
				vecAddProd(gotAP, a, w)
				for j := range n {
					// Where two of the operands are NaN, IEEE lets the result be either one's
					// (quieted), and which one a compiled Go loop keeps depends on its register
					// allocation: an unrelated check added to this function, or the race
					// detector's instrumentation, flipped it. There the kernel may return any
					// NaN operand's; everywhere else, the Go loop's bits.
					if nans := nanPayloads(a[j], w, b[j]); len(nans) > 1 {
						if g := math.Float64bits(gotAP[j]); !slices.Contains(nans, g) {
							t.Fatalf("addprod n %d [%d]: NaNs %#x: %#x, none of them quieted", n, j, nans, g)
						}
						continue
					}
					if math.Float64bits(gotAP[j]) != math.Float64bits(wantAP[j]) {
						t.Fatalf("addprod n %d [%d]: %v %v w %v: %#x, Go loop %#x", n, j, a[j], b[j], w,
							math.Float64bits(gotAP[j]), math.Float64bits(wantAP[j]))
					}
				}
				votes, wantV := append([]float64(nil), b...), append([]float64(nil), b...)
				for j := range wantV {
					wantV[j] += tiesSign(a[j])
				}
				vecSignVote(votes, a)
				el := make([]float64, n)
				for j := range el {
					el[j] = float64(rng.IntN(3) - 1)
				}
				row, cnt := append([]float64(nil), a...), append([]float64(nil), b...)
				wantR, wantC := append([]float64(nil), a...), append([]float64(nil), b...)
				for j := range wantR {
					f := tiesB2F(tiesSign(wantR[j]) == el[j])
					wantR[j] = wantR[j] * f
					wantC[j] += f
				}
				vecAgree(row, el, cnt)
				for j := range n {
					if math.Float64bits(votes[j]) != math.Float64bits(wantV[j]) || math.Float64bits(row[j]) != math.Float64bits(wantR[j]) ||
						math.Float64bits(cnt[j]) != math.Float64bits(wantC[j]) {
						t.Fatalf("vote/agree n %d [%d]: %v %v %v, want %v %v %v", n, j, votes[j], row[j], cnt[j], wantV[j], wantR[j], wantC[j])
					}
				}
				check("topk", func(out, a, _ []float64) { vecTopK(out, a, w) }, wantT)
				check("normprod", func(out, a, b []float64) { vecNormProd(out, a, b, w, w+1) }, wantN)
				wantMS := make([]float64, n)
				for j := range wantMS {
					wantMS[j] = a[j] * tiesB2F(b[j] < w)
				}
				check("maskmulscalar", func(out, a, b []float64) { vecMaskMulScalar(out, a, b, w) }, wantMS)
				check("maskmul", func(out, a, b []float64) {
					q := make([]float64, len(out))
					fill(q, w)
					vecMaskMul(out, a, b, q)
				}, wantM)
			}
		}
	}
}

// BenchmarkVecSub is subtract's kernel on one chunk (64 Ki elements, the VM's 512 KiB chunk
// buffers), against the Go loop it replaces.
func BenchmarkVecSub(b *testing.B) {
	const n = 64 << 10
	x, y, out := tiesBenchData(3, n)[0], tiesBenchData(3, n)[1], make([]float64, n)
	b.Run("vector", func(b *testing.B) {
		cpu0 := processCPU()
		for b.Loop() {
			vecSub(out, x, y)
		}
		tiesPerElem(b, cpu0, n)
	})
	b.Run("loop", func(b *testing.B) {
		cpu0 := processCPU()
		for b.Loop() {
			for i := range out {
				out[i] = x[i] - y[i]
			}
		}
		tiesPerElem(b, cpu0, n)
	})
}

// nanPayloads is the bits, quieted, of the NaNs among xs.
func nanPayloads(xs ...float64) []uint64 {
	var out []uint64
	for _, x := range xs {
		if math.IsNaN(x) {
			out = append(out, math.Float64bits(x)|1<<51)
		}
	}
	return out
}
