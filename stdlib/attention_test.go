package stdlib

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/opstest"
)

const unetAttn = "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn1."

func randTensor(r *rand.Rand, shape ...int) *ops.Tensor {
	t := &ops.Tensor{Shape: shape, Data: make([]float64, ops.NumElements(shape)), DType: ops.F64}
	for i := range t.Data {
		t.Data[i] = r.NormFloat64() * 0.1
	}
	return t
}

// runAttn runs balance_attention for key on the group tensors given by name.
func runAttn(t *testing.T, d *ops.Def, key string, byKey map[string]*ops.Tensor) (*ops.Tensor, error) {
	t.Helper()
	need, ok := d.MapKeys(key)
	if !ok {
		t.Fatalf("%s: no mapping", key)
	}
	v := ops.Value{Kind: ops.KindTensorList}
	for _, k := range need[0] {
		v.Ts = append(v.Ts, byKey[k])
	}
	c := &ops.Call{Key: key, Numerics: ops.SDMecha, Args: []ops.Value{v}}
	err := opstest.Run(d, c)
	return c.Out, err
}

func TestBalanceAttentionDefs(t *testing.T) {
	for _, d := range []*ops.Def{balanceAttentionIface, balanceAttentionSDXL} {
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		if _, err := d.OutConfig([]string{"sd1-ldm"}); err == nil || !strings.Contains(err.Error(), "sdxl-sgm only") {
			t.Errorf("%s accepted sd1-ldm: %v", d.Name, err)
		}
		if cfg, err := d.OutConfig([]string{"sdxl-sgm"}); err != nil || cfg != "sdxl-sgm" {
			t.Errorf("%s: %q %v", d.Name, cfg, err)
		}
	}
	// The VAE mid attention keys are each their own group (passed through), the output bias too.
	for _, k := range []string{"first_stage_model.encoder.mid.attn_1.q.weight", unetAttn + "to_out.0.bias",
		"conditioner.embedders.0.transformer.text_model.encoder.layers.0.self_attn.out_proj.bias"} {
		need, ok := balanceAttentionIface.MapKeys(k)
		if !ok || len(need[0]) != 1 {
			t.Errorf("%s: want a group of one, got %v", k, need)
		}
	}
	need, _ := balanceAttentionIface.MapKeys(unetAttn + "to_q.weight")
	if len(need[0]) != 4 || need[0][0] != unetAttn+"to_q.weight" {
		t.Errorf("unet group: %v", need)
	}
}

// TestBalanceAttentionInvariant: q'ᵀk' = qᵀk and o'v' = o v (the attention function is kept),
// for a UNet cross-attention with two heads of 64 rows and a CLIP-G fused projection.
func TestBalanceAttentionInvariant(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	in := map[string]*ops.Tensor{
		unetAttn + "to_q.weight":     randTensor(r, 128, 40),
		unetAttn + "to_k.weight":     randTensor(r, 128, 30),
		unetAttn + "to_v.weight":     randTensor(r, 128, 30),
		unetAttn + "to_out.0.weight": randTensor(r, 40, 128),
	}
	out := map[string]*ops.Tensor{}
	for k := range in {
		o, err := runAttn(t, balanceAttentionIface, k, in)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		out[k] = o
	}
	m := func(x *ops.Tensor) *mat.Dense { return mat.NewDense(x.Shape[0], x.Shape[1], x.Data) }
	// per head: q_hᵀ k_h
	for h := 0; h < 128; h += 64 {
		var before, after mat.Dense
		before.Mul(m(in[unetAttn+"to_q.weight"]).Slice(h, h+64, 0, 40).T(), m(in[unetAttn+"to_k.weight"]).Slice(h, h+64, 0, 30))
		after.Mul(m(out[unetAttn+"to_q.weight"]).Slice(h, h+64, 0, 40).T(), m(out[unetAttn+"to_k.weight"]).Slice(h, h+64, 0, 30))
		if !mat.EqualApprox(&before, &after, 1e-10) {
			t.Errorf("head %d: qᵀk changed", h/64)
		}
		var ob, oa mat.Dense
		ob.Mul(m(in[unetAttn+"to_out.0.weight"]).Slice(0, 40, h, h+64), m(in[unetAttn+"to_v.weight"]).Slice(h, h+64, 0, 30))
		oa.Mul(m(out[unetAttn+"to_out.0.weight"]).Slice(0, 40, h, h+64), m(out[unetAttn+"to_v.weight"]).Slice(h, h+64, 0, 30))
		if !mat.EqualApprox(&ob, &oa, 1e-10) {
			t.Errorf("head %d: o v changed", h/64)
		}
	}
	// the projections did change (the rebalancing is not the identity)
	if mat.EqualApprox(m(in[unetAttn+"to_q.weight"]), m(out[unetAttn+"to_q.weight"]), 1e-6) {
		t.Errorf("q unchanged")
	}
}

func TestBalanceAttentionCLIPG(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	p := "conditioner.embedders.1.model.transformer.resblocks.0.attn."
	in := map[string]*ops.Tensor{
		p + "in_proj_bias":    randTensor(r, 192),
		p + "in_proj_weight":  randTensor(r, 192, 20),
		p + "out_proj.weight": randTensor(r, 64, 64),
	}
	w, err := runAttn(t, balanceAttentionSDXL, p+"in_proj_weight", in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := runAttn(t, balanceAttentionSDXL, p+"in_proj_bias", in)
	if err != nil {
		t.Fatal(err)
	}
	// logits with the bias column: [q|bq]ᵀ-free form: (q x + bq)·(k x + bk) for x = e_0
	x := make([]float64, 20)
	x[0] = 1
	proj := func(wt, bt *ops.Tensor, part int) []float64 {
		y := make([]float64, 64)
		for i := range 64 {
			row := part*64 + i
			y[i] = bt.Data[row]
			for j := range 20 {
				y[i] += wt.Data[row*20+j] * x[j]
			}
		}
		return y
	}
	dot := func(a, b []float64) (s float64) {
		for i := range a {
			s += a[i] * b[i]
		}
		return
	}
	before := dot(proj(in[p+"in_proj_weight"], in[p+"in_proj_bias"], 0), proj(in[p+"in_proj_weight"], in[p+"in_proj_bias"], 1))
	after := dot(proj(w, b, 0), proj(w, b, 1))
	if math.Abs(before-after) > 1e-10 {
		t.Errorf("q·k changed: %g -> %g", before, after)
	}
}

func TestBalanceAttentionRefusesNon64(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	in := map[string]*ops.Tensor{
		unetAttn + "to_q.weight":     randTensor(r, 10, 10),
		unetAttn + "to_k.weight":     randTensor(r, 10, 10),
		unetAttn + "to_v.weight":     randTensor(r, 10, 10),
		unetAttn + "to_out.0.weight": randTensor(r, 10, 10),
	}
	_, err := runAttn(t, balanceAttentionIface, unetAttn+"to_q.weight", in)
	if err == nil || !strings.Contains(err.Error(), "heads of 64 rows") {
		t.Errorf("want a refusal, got %v", err)
	}
	// a pass-through key still works
	bias := map[string]*ops.Tensor{unetAttn + "to_out.0.bias": randTensor(r, 10)}
	o, err := runAttn(t, balanceAttentionIface, unetAttn+"to_out.0.bias", bias)
	if err != nil || o.Data[3] != bias[unetAttn+"to_out.0.bias"].Data[3] {
		t.Errorf("pass-through: %v", err)
	}
}
