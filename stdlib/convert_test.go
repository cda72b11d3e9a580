package stdlib

import (
	"reflect"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/opstest"
)

// TestConvertKeyTables checks sd-mecha's renames on representative keys of every pair.
func TestConvertKeyTables(t *testing.T) {
	type row struct {
		def     *ops.Def
		out     string
		in      []string
		missing bool
	}
	const g = "conditioner.embedders.1.model."
	for _, r := range []row{
		// sgm -> kohya: renames, clip_g q/k/v chunks (the fused key named once per chunk).
		{convertSGMToKohya, "te1.text_model.encoder.layers.0.mlp.fc1.weight", []string{"conditioner.embedders.0.transformer.text_model.encoder.layers.0.mlp.fc1.weight"}, false},
		{convertSGMToKohya, "unet.input_blocks.1.0.in_layers.2.weight", []string{"model.diffusion_model.input_blocks.1.0.in_layers.2.weight"}, false},
		{convertSGMToKohya, "te2.text_model.encoder.layers.3.self_attn.k_proj.weight", []string{g + "transformer.resblocks.3.attn.in_proj_weight", g + "transformer.resblocks.3.attn.in_proj_weight", g + "transformer.resblocks.3.attn.in_proj_weight"}, false},
		{convertSGMToKohya, "te2.text_projection.weight", []string{g + "text_projection"}, false},
		{convertSGMToKohya, "te2.text_model.final_layer_norm.weight", []string{g + "ln_final.weight"}, false},
		{convertSGMToKohya, "te2.text_model.embeddings.position_embedding.weight", []string{g + "positional_embedding"}, false},
		{convertSGMToKohya, "first_stage_model.quant_conv.weight", []string{"first_stage_model.quant_conv.weight"}, false},
		// kohya -> sgm: stacks; logit_scale and the scheduler buffers have no kohya key.
		{convertKohyaToSGM, g + "transformer.resblocks.0.attn.in_proj_bias", []string{"te2.text_model.encoder.layers.0.self_attn.q_proj.bias", "te2.text_model.encoder.layers.0.self_attn.k_proj.bias", "te2.text_model.encoder.layers.0.self_attn.v_proj.bias"}, false},
		{convertKohyaToSGM, g + "logit_scale", nil, true},
		{convertKohyaToSGM, "alphas_cumprod", nil, true},
		// kohya_but_diffusers: diffusers UNet names.
		{convertSGMToKohyaDiffusers, "unet.down_blocks.1.attentions.0.proj_in.weight", []string{"model.diffusion_model.input_blocks.4.1.proj_in.weight"}, false},
		{convertKohyaDiffusersToSGM, "model.diffusion_model.label_emb.0.2.bias", []string{"unet.add_embedding.linear_2.bias"}, false},
		{convertKohyaDiffusersToSGM, "model.diffusion_model.output_blocks.2.2.conv.weight", []string{"unet.up_blocks.0.upsamplers.0.conv.weight"}, false},
		{convertKohyaDiffusersToSGM, "model.diffusion_model.input_blocks.1.0.skip_connection.weight", nil, true},
		// diffusers UNet only: no prefix, no text encoders.
		{convertDiffusersUNetToSGM, "model.diffusion_model.middle_block.2.out_layers.3.weight", []string{"mid_block.resnets.1.conv2.weight"}, false},
		{convertDiffusersUNetToSGM, "conditioner.embedders.0.transformer.text_model.final_layer_norm.weight", nil, true},
		// sd1: VAE attention weights are reshaped (the key named twice), group norms dropped.
		{convertSD1KohyaToLDM, "first_stage_model.encoder.mid.attn_1.q.weight", []string{"vae.encoder.mid_block.attentions.0.to_q.weight", "vae.encoder.mid_block.attentions.0.to_q.weight"}, false},
		{convertSD1KohyaToLDM, "first_stage_model.decoder.mid.attn_1.proj_out.bias", []string{"vae.decoder.mid_block.attentions.0.to_out.0.bias", "vae.decoder.mid_block.attentions.0.to_out.0.bias"}, false},
		{convertSD1KohyaToLDM, "first_stage_model.decoder.mid.attn_1.norm.weight", nil, true},
		{convertSD1KohyaToLDM, "first_stage_model.decoder.up.3.upsample.conv.weight", []string{"vae.decoder.up_blocks.0.upsamplers.0.conv.weight"}, false},
		{convertSD1KohyaToLDM, "model.diffusion_model.output_blocks.2.1.conv.bias", []string{"unet.up_blocks.0.upsamplers.0.conv.bias"}, false},
		{convertSD1KohyaToLDM, "cond_stage_model.transformer.text_model.encoder.layers.11.mlp.fc2.bias", []string{"te.text_model.encoder.layers.11.mlp.fc2.bias"}, false},
		{convertLDMToSD1Kohya, "unet.time_embedding.linear_1.weight", []string{"model.diffusion_model.time_embed.0.weight"}, false},
	} {
		got, ok := r.def.MapKeys(r.out)
		if r.missing {
			if ok {
				t.Errorf("%s: %s maps to %v, want no key", r.def.Name, r.out, got)
			}
			continue
		}
		if !ok || !reflect.DeepEqual(got, [][]string{r.in}) {
			t.Errorf("%s: %s maps to %v (%v), want %v", r.def.Name, r.out, got, ok, r.in)
		}
	}
}

// TestConvertCoverage: every kohya key has a source; sgm keeps all but logit_scale and the
// keys of components kohya lacks; the tables are each other's inverse.
func TestConvertCoverage(t *testing.T) {
	for _, p := range []*convPair{pairSDXLKohya, pairSDXLKohyaDiffusers, pairSDXLDiffusersUNet, pairSD1Kohya} {
		tb := p.tables()
		other := loadConfig(p.other)
		want := len(other.Keys)
		if p == pairSD1Kohya {
			want -= 4 // the VAE attention group norms sd-mecha never renames
		}
		if len(tb[1]) != want {
			t.Errorf("%s -> %s: %d keys, want %d", p.orig, p.other, len(tb[1]), want)
		}
		for out, e := range tb[0] {
			for _, in := range e.in {
				if back, ok := tb[1][in]; !ok || back.in[0] != out {
					t.Errorf("%s: %s <- %s is not inverted", p.other, out, in)
				}
			}
		}
	}
	if n := len(pairSDXLKohya.tables()[0]); n != 2531-17 {
		t.Errorf("kohya -> sgm: %d keys, want 2514 (all but logit_scale and 16 scheduler/v-pred keys)", n)
	}
}

func tlist(ts ...ops.Value) ops.Value {
	v := ops.Value{Kind: ops.KindTensorList}
	for _, t := range ts {
		v.Ts = append(v.Ts, t.T)
	}
	return v
}

func runMapped(t *testing.T, d *ops.Def, key string, arg ops.Value) *ops.Tensor {
	t.Helper()
	c := &ops.Call{Key: key, Args: []ops.Value{arg}}
	if err := opstest.Run(d, c); err != nil {
		t.Fatalf("%s at %s: %v", d.Name, key, err)
	}
	return c.Out
}

func TestConvertKernels(t *testing.T) {
	const g = "conditioner.embedders.1.model."
	fused := opstest.T([]int{6, 2}, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
	out := runMapped(t, convertSGMToKohya, "te2.text_model.encoder.layers.0.self_attn.v_proj.weight", tlist(fused, fused, fused))
	if !reflect.DeepEqual(out.Shape, []int{2, 2}) || !reflect.DeepEqual(out.Data, []float64{8, 9, 10, 11}) {
		t.Errorf("v chunk: %v %v", out.Shape, out.Data)
	}
	// vstack of 1-D biases is [3, w] (sd-mecha's quirk).
	b := opstest.T([]int{2}, 1, 2)
	out = runMapped(t, convertKohyaToSGM, g+"transformer.resblocks.0.attn.in_proj_bias", tlist(b, b, b))
	if !reflect.DeepEqual(out.Shape, []int{3, 2}) {
		t.Errorf("stacked bias shape %v, want [3, 2]", out.Shape)
	}
	// text_projection is transposed both ways.
	tp := opstest.T([]int{2, 2}, 1, 2, 3, 4)
	for _, d := range []*ops.Def{convertKohyaToSGM, convertSGMToKohya} {
		key := g + "text_projection"
		if d == convertSGMToKohya {
			key = "te2.text_projection.weight"
		}
		out = runMapped(t, d, key, tlist(tp))
		if !reflect.DeepEqual(out.Data, []float64{1, 3, 2, 4}) {
			t.Errorf("%s: text_projection %v", d.Name, out.Data)
		}
	}
	// sd1 VAE attention: [c, c] <-> [c, c, 1, 1].
	w := opstest.T([]int{2, 2}, 1, 2, 3, 4)
	out = runMapped(t, convertSD1KohyaToLDM, "first_stage_model.encoder.mid.attn_1.k.weight", tlist(w, w))
	if !reflect.DeepEqual(out.Shape, []int{2, 2, 1, 1}) || !reflect.DeepEqual(out.Data, w.T.Data) {
		t.Errorf("to ldm: %v %v", out.Shape, out.Data)
	}
	w4 := opstest.T([]int{2, 2, 1, 1}, 1, 2, 3, 4)
	out = runMapped(t, convertLDMToSD1Kohya, "vae.encoder.mid_block.attentions.0.to_k.weight", tlist(w4, w4))
	if !reflect.DeepEqual(out.Shape, []int{2, 2}) {
		t.Errorf("to kohya: %v", out.Shape)
	}
}

func TestReverseDims(t *testing.T) {
	x := &ops.Tensor{Shape: []int{2, 3, 1}, Data: []float64{0, 1, 2, 3, 4, 5}}
	y := reverseDims(x)
	if !reflect.DeepEqual(y.Shape, []int{1, 3, 2}) || !reflect.DeepEqual(y.Data, []float64{0, 3, 1, 4, 2, 5}) {
		t.Errorf("%v %v", y.Shape, y.Data)
	}
}
