package stdlib

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/opstest"
)

func TestLoRAConfigs(t *testing.T) {
	r := ops.NewRegistry()
	if err := RegisterLoRAConfigs(r); err != nil {
		t.Fatal(err)
	}
	want := []string{"sd1-kohya_kohya_lora", "sd1-kohya_lycoris_lora", "sdxl-kohya_but_diffusers_kohya_lora",
		"sdxl-kohya_but_diffusers_lycoris_lora", "sdxl-kohya_kohya_lora", "sdxl-kohya_lycoris_lora"}
	if got := r.ConfigIDs(); !reflect.DeepEqual(got, want) {
		t.Fatalf("configs %v", got)
	}
	c, _ := r.Config("sdxl-kohya_kohya_lora")
	alpha, ok := c.Key("lora_first_stage_model_quant_conv.alpha")
	if !ok || !reflect.DeepEqual(alpha.Shape, []int{}) || !alpha.Optional || alpha.Component != "vae" {
		t.Errorf("alpha spec %+v", alpha)
	}
	if k, ok := c.Key("lora_te2_text_projection.lokr_w1_a"); !ok || k.Shape != nil {
		t.Errorf("text_projection lokr_w1_a: %+v %v", k, ok)
	}
	for _, bad := range []string{"lora_first_stage_model_quant_conv_bias.alpha", "lora_te1_text_model_embeddings_position_ids.alpha",
		"lora_te2_text_model_final_layer_norm.alpha"} {
		if _, ok := c.Key(bad); ok {
			t.Errorf("%s should not exist (bias, integer or 1-D)", bad)
		}
	}
	// 11 keys per eligible base key: 4 LoRA + 8 LoKr suffixes, alpha shared.
	if len(c.Keys)%11 != 0 {
		t.Errorf("%d keys", len(c.Keys))
	}
	l, _ := r.Config("sd1-kohya_lycoris_lora")
	if _, ok := l.Key("lycoris_vae_quant_conv.lokr_w2"); !ok {
		t.Error("sd1 lycoris key missing")
	}
}

func TestLoRAAlternatives(t *testing.T) {
	l := findLoraConfig("sdxl-kohya_kohya_lora")
	alts, ok := l.mapKeysAlt("first_stage_model.quant_conv.weight")
	if !ok || len(alts) != 16 {
		t.Fatalf("%d alternatives", len(alts))
	}
	p := "lora_first_stage_model_quant_conv."
	for i, want := range [][]string{
		{p + "lora_up.weight", p + "lora_down.weight", p + "lora_mid.weight", p + "alpha"},
		{p + "lora_up.weight", p + "lora_down.weight", p + "lora_mid.weight"},
		{p + "lora_up.weight", p + "lora_down.weight", p + "alpha"},
		{p + "lora_up.weight", p + "lora_down.weight"},
		{p + "lokr_w1", p + "lokr_w2_a", p + "lokr_w2_b", p + "lokr_t2", p + "alpha"},
	} {
		if !reflect.DeepEqual(alts[i], [][]string{want}) {
			t.Errorf("alternative %d: %v, want %v", i, alts[i], want)
		}
	}
	if got := alts[15][0]; !reflect.DeepEqual(got, []string{p + "lokr_w1_a", p + "lokr_w1_b", p + "lokr_w2_a", p + "lokr_w2_b"}) {
		t.Errorf("last alternative %v", got)
	}
	for _, k := range []string{"first_stage_model.quant_conv.bias", "not.a.key"} {
		if _, ok := l.mapKeysAlt(k); ok {
			t.Errorf("%s has alternatives", k)
		}
	}
}

func altIndex(t *testing.T, want loraAlt) int {
	for i, a := range loraAlts {
		if a == want {
			return i
		}
	}
	t.Fatalf("no alternative %+v", want)
	return -1
}

func TestLoRACompose(t *testing.T) {
	l := findLoraConfig("sdxl-kohya_kohya_lora")
	key := "first_stage_model.post_quant_conv.weight" // declared [4, 4, 1, 1]
	run := func(alt loraAlt, ts ...ops.Value) *ops.Tensor {
		t.Helper()
		in := tlist(ts...).Ts
		i := altIndex(t, alt)
		shape, err := l.outShape(key, i, in)
		if err != nil {
			t.Fatal(err)
		}
		out := &ops.Tensor{Shape: shape, Data: make([]float64, ops.NumElements(shape))}
		if err := loraKernel(l, key, i, in, out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	// LoRA with alpha: up @ down * alpha / rank.
	up := opstest.T([]int{4, 1, 1, 1}, 1, 2, 3, 4)
	down := opstest.T([]int{1, 4, 1, 1}, 1, 0, -1, 2)
	out := run(loraAlt{alpha: true}, up, down, opstest.T([]int{1}, 0.5))
	want := []float64{0.5, 0, -0.5, 1, 1, 0, -1, 2, 1.5, 0, -1.5, 3, 2, 0, -2, 4}
	if !reflect.DeepEqual(out.Shape, []int{4, 4, 1, 1}) || !reflect.DeepEqual(out.Data, want) {
		t.Errorf("lora alpha: %v %v", out.Shape, out.Data)
	}
	// Tucker mid with a rank-1 identity core equals the plain product.
	plain := run(loraAlt{}, up, down)
	mid := run(loraAlt{mid: true}, up, down, opstest.T([]int{1, 1, 1, 1}, 1))
	if !reflect.DeepEqual(plain.Data, mid.Data) {
		t.Errorf("tucker %v, plain %v", mid.Data, plain.Data)
	}
	// LoKr: kron(w1_a @ w1_b, w2) * alpha / w1_b.shape[0].
	w1a := opstest.T([]int{2, 1}, 1, 2)
	w1b := opstest.T([]int{1, 2}, 1, 1)
	w2 := opstest.T([]int{2, 2, 1, 1}, 1, 0, 0, 1)
	out = run(loraAlt{lokr: true, w1Fact: true, w2: "full", alpha: true}, w1a, w1b, w2, opstest.T([]int{1}, 3))
	want = []float64{3, 0, 3, 0, 0, 3, 0, 3, 6, 0, 6, 0, 0, 6, 0, 6}
	if !reflect.DeepEqual(out.Data, want) {
		t.Errorf("lokr: %v", out.Data)
	}
	// LoKr with a full w1 ignores alpha (no factorized dimension).
	w1 := opstest.T([]int{2, 2}, 1, 1, 2, 2)
	a := run(loraAlt{lokr: true, w2: "full", alpha: true}, w1, w2, opstest.T([]int{1}, 3))
	b := run(loraAlt{lokr: true, w2: "full"}, w1, w2)
	if !reflect.DeepEqual(a.Data, b.Data) {
		t.Errorf("full lokr scaled by alpha: %v vs %v", a.Data, b.Data)
	}
	// A factorized w2 [2,1] @ [1,2,1,1] gives a 2-D w2; the result takes the declared shape.
	w2a := opstest.T([]int{2, 1}, 1, 1)
	w2b := opstest.T([]int{1, 2, 1, 1}, 1, 0)
	out = run(loraAlt{lokr: true, w2: "fact"}, w1, w2a, w2b)
	if !reflect.DeepEqual(out.Shape, []int{4, 4, 1, 1}) {
		t.Errorf("shape %v", out.Shape)
	}
	// A delta of the wrong size is torch's reshape error.
	if _, err := l.outShape(key, altIndex(t, loraAlt{}), tlist(opstest.T([]int{2, 1}, 1, 1), opstest.T([]int{1, 2}, 1, 1)).Ts); err == nil || !strings.Contains(err.Error(), "invalid for input of size") {
		t.Errorf("want a reshape error, got %v", err)
	}
}
