package stdlib

import (
	"math"
	"strings"
	"testing"

	"github.com/mechac/mechac/ops"
)

func lcCall(cs string, ms ...*ops.Tensor) *ops.Call {
	c := &ops.Call{Numerics: ops.Exact, Kw: []ops.Value{ops.String(cs)}}
	n := 1
	for _, m := range ms {
		c.Var = append(c.Var, ops.TensorValue(m))
		n = max(n, len(m.Data))
	}
	c.Out = &ops.Tensor{Shape: []int{n}, Data: make([]float64, n), DType: ops.F64}
	return c
}

func vec(xs ...float64) *ops.Tensor {
	return &ops.Tensor{Shape: []int{len(xs)}, Data: xs, DType: ops.F64}
}

func TestLinearCombination(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	three := 3.0 // a variable: Go folds constant expressions exactly
	tests := []struct {
		name string
		cs   string
		ms   []*ops.Tensor
		want []float64
		err  string
	}{
		{"two", "0.25,0.75", []*ops.Tensor{vec(4, 8), vec(0, 4)}, []float64{1, 5}, ""},
		// the same model twice with opposite coefficients: x - x, NaN where x is not finite
		{"self difference", "1,-1", []*ops.Tensor{vec(3, inf, nan), vec(3, inf, nan)}, []float64{0, nan, nan}, ""},
		// a zero coefficient still multiplies: 0*inf = NaN, as the chain's 0*x
		{"zero coefficient", "1,0", []*ops.Tensor{vec(1, 2), vec(5, inf)}, []float64{1, nan}, ""},
		{"broadcast one element", "2,1", []*ops.Tensor{vec(1, 2, 3), vec(10)}, []float64{12, 14, 16}, ""},
		// one fused multiply-add per further term: 0.1*3 + 0.2*3 rounds once at the end
		{"fma", "0.1,0.2", []*ops.Tensor{vec(3), vec(3)}, []float64{math.FMA(0.2, three, 0.1*three)}, ""},
		{"count", "1", []*ops.Tensor{vec(1), vec(2)}, nil, "1 coefficients for 2 models"},
		{"syntax", "1,x", []*ops.Tensor{vec(1), vec(2)}, nil, `"x" is not a number`},
	}
	def, ok := Default().Lookup(LinearCombination)
	if !ok {
		t.Fatal("linear_combination not registered")
	}
	if def.Traits&ops.Elementwise == 0 {
		t.Error("linear_combination must be elementwise (row-chunked execution)")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := lcCall(tt.cs, tt.ms...)
			err := def.Kernel(c)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range tt.want {
				g := c.Out.Data[i]
				if math.Float64bits(g) != math.Float64bits(w) && !(math.IsNaN(g) && math.IsNaN(w)) {
					t.Errorf("out[%d] = %v, want %v", i, g, w)
				}
			}
		})
	}
}

// TestLinearCombinationBlocks: the blocked accumulation gives the same bits as a plain loop
// over terms, across block boundaries.
func TestLinearCombinationBlocks(t *testing.T) {
	n := 3*fusedBlock + 17
	var ms []*ops.Tensor
	var cs []float64
	for k := 0; k < 5; k++ {
		d := make([]float64, n)
		for i := range d {
			d[i] = math.Sin(float64(i*(k+3))) * float64(k+1)
		}
		ms = append(ms, &ops.Tensor{Shape: []int{n}, Data: d, DType: ops.F64})
		cs = append(cs, 1/float64(k+3))
	}
	c := lcCall(ops.FormatCoefficients(cs), ms...)
	def, _ := Default().Lookup(LinearCombination)
	if err := def.Kernel(c); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		want := cs[0] * ms[0].Data[i]
		for k := 1; k < len(ms); k++ {
			want = math.FMA(cs[k], ms[k].Data[i], want)
		}
		if c.Out.Data[i] != want {
			t.Fatalf("out[%d] = %v, want %v", i, c.Out.Data[i], want)
		}
	}
	back, err := ops.ParseCoefficients(ops.FormatCoefficients(cs))
	if err != nil {
		t.Fatal(err)
	}
	for i := range cs {
		if back[i] != cs[i] {
			t.Errorf("coefficient %d: %v does not round-trip (%v)", i, cs[i], back[i])
		}
	}
}

// BenchmarkFusedChain compares the 48-model running mean of the x43 recipe as 47
// weighted_sum calls (each writing a fresh buffer) with one 48-term linear_combination.
func BenchmarkFusedChain(b *testing.B) {
	const n, models = 1 << 18, 48
	ms := make([]*ops.Tensor, models)
	for k := range ms {
		d := make([]float64, n)
		for i := range d {
			d[i] = float64((i*(k+7))%1000) / 997
		}
		ms[k] = &ops.Tensor{Shape: []int{n}, Data: d, DType: ops.F64}
	}
	ws, _ := Default().Lookup("weighted_sum")
	lc, _ := Default().Lookup(LinearCombination)
	b.Run("chain", func(b *testing.B) {
		b.SetBytes(n * 8 * models)
		bufs := [2][]float64{make([]float64, n), make([]float64, n)}
		for b.Loop() {
			prev := ms[0]
			for k := 1; k < models; k++ {
				out := &ops.Tensor{Shape: []int{n}, Data: bufs[k%2], DType: ops.F64}
				c := &ops.Call{Numerics: ops.Exact, Args: []ops.Value{ops.TensorValue(ms[k]), ops.TensorValue(prev),
					ops.TensorValue(ops.Scalar(float64(k) / float64(k+1)))}, Out: out}
				if err := ws.Kernel(c); err != nil {
					b.Fatal(err)
				}
				prev = out
			}
		}
	})
	b.Run("fused", func(b *testing.B) {
		b.SetBytes(n * 8 * models)
		cs := make([]float64, models)
		for i := range cs {
			cs[i] = 1.0 / models
		}
		c := lcCall(ops.FormatCoefficients(cs), ms...)
		for b.Loop() {
			if err := lc.Kernel(c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
