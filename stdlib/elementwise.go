package stdlib

import (
	"fmt"
	"math"

	"github.com/mechac/mechac/ops"
)

// Lerp is torch's lerp(a, b, w) as torch 1.13's AVX2 kernel computes it (ATen lerp_vec, compiled
// with FMA contraction; golden README "Numerics" rule 6): two branches, chosen by |w| < 0.5 so
// that the result is exact at both ends (w = 0 gives a, w = 1 gives b for finite inputs), each a
// fused multiply-add. An unfused a + w*(b-a) differs in the last bit on about a fifth of inputs.
func Lerp(a, b, w float64) float64 {
	d := b - a
	if math.Abs(w) < 0.5 {
		return math.FMA(w, d, a)
	}
	return math.FMA(-d, 1-w, b)
}

// isClose is ops.IsClose (math.isclose with its defaults), shared with the compiler's key fold.
func isClose(x, y float64) bool { return ops.IsClose(x, y) }

// tensors returns the tensor of each value, checking that each broadcasts to n elements.
func tensors(name string, n int, vals ...ops.Value) ([]*ops.Tensor, error) {
	ts := make([]*ops.Tensor, len(vals))
	for i, v := range vals {
		if v.Kind != ops.KindTensor || v.T == nil {
			return nil, fmt.Errorf("%s: argument %d is %s, want a tensor", name, i+1, v.Kind)
		}
		if l := len(v.T.Data); l != 1 && l != n {
			return nil, fmt.Errorf("%s: argument %d has %d elements, the output %d", name, i+1, l, n)
		}
		ts[i] = v.T
	}
	return ts, nil
}

// copyInto writes src, broadcast if it has one element, into out.Data and gives out src's dtype:
// the routing methods return their input tensor unchanged, dtype included.
func copyInto(name string, out *ops.Tensor, src ops.Value) error {
	ts, err := tensors(name, len(out.Data), src)
	if err != nil {
		return err
	}
	t := ts[0]
	if len(t.Data) == len(out.Data) {
		copy(out.Data, t.Data)
	} else {
		for i := range out.Data {
			out.Data[i] = t.Data[0]
		}
	}
	out.DType = t.DType
	return nil
}

// fill sets every element of out to v.
func fill(out []float64, v float64) {
	for i := range out {
		out[i] = v
	}
}
