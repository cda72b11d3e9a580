package stdlib

import (
	"fmt"
	"strings"
	"sync"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib/configs"
)

// Config conversions: sd-mecha 1.1.5 model_configs/convert_sdxl_kohya_to_original.py,
// convert_sdxl_diffusers_unet_to_original.py, convert_sdxl_diffusers_clip_g_to_original.py,
// convert_sd1_kohya_to_original.py, convert_huggingface_sd_vae_to_original.py and
// convert_n_to_1.py. Each is a key renaming between two configs, plus:
//   - n -> 1 stacking: the kohya layout splits CLIP-G's fused attention projection into q/k/v;
//     to sgm they are stacked with torch.vstack (1-D biases therefore become [3, w], not [3w]:
//     sd-mecha's quirk, reproduced), then transposed where flagged (text_projection);
//   - 1 -> n chunking: from sgm, transposed where flagged, then chunk(n, dim=0), chunk i to
//     output key i;
//   - sd1 VAE mid-attention weights: [c, c] <-> [c, c, 1, 1] (reshape_weight_for_sd adds two
//     unit dims to any non-1-D tensor; reshape_weight_for_hf squeezes every unit dim).
// The key tables follow sd-mecha's map_keys: the source config's keys in order, each renamed by
// the same string replacements; a relation is kept only when every key it names exists in its
// config (sd-mecha's builder raises ValueError otherwise and the conversion skips the key), and
// an output key already taken keeps its first relation. So the sgm -> kohya -> sgm round trip
// loses conditioner.embedders.1.model.logit_scale (no kohya key), the sd1 VAE mid-attention
// group norms (sd-mecha never renames norm -> group_norm: its attention renames only run on keys
// containing "attentions", which no key does at that point), and every key of a component the
// other config lacks (sgm's scheduler buffers).
//
// Upstream, convert_'sd1-kohya'_to_'sd1-ldm' and its reverse crash (TypeError:
// 'RealizedKeyRelation' object is not subscriptable) and both sdxl-diffusers_unet_only
// conversions crash (AttributeError: no attribute 'input_keys'); mechac implements what their
// map_keys and bodies evidently mean.
//
// OutShape gets no key, so the key tables encode the one shape decision they need in the length
// of the input list (the compiler reads the same key several times at no cost): a 1 -> n
// conversion names the fused source key once per chunk (n), and an sd1 conversion names the
// source key twice where it reshapes. The kernels use the first tensor and find the rest of
// the operation (chunk index, transpose) by c.Key.

// convOp is what a conversion does to produce one output key.
type convOp uint8

const (
	convCopy  convOp = iota // rename (transpose if flagged)
	convStack               // vstack the inputs (then transpose if flagged)
	convChunk               // transpose if flagged, then chunk(n, 0)[index]
	convToSD                // reshape(*shape, 1, 1) unless 1-D
	convToHF                // squeeze every unit dim
)

// convEntry is one output key's relation.
type convEntry struct {
	in        []string // input keys (what MapKeys returns; see the encoding above)
	op        convOp
	transpose bool
	index     int // chunk index
}

// convTable maps output keys to their relation.
type convTable map[string]*convEntry

// orderedReplace is a Python dict of str.replace pairs: insertion order, a re-assigned key keeps
// its first position and takes the new value.
type orderedReplace struct {
	keys []string
	vals map[string]string
}

func (o *orderedReplace) set(k, v string) {
	if o.vals == nil {
		o.vals = map[string]string{}
	}
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

// apply replaces every occurrence of each key by its value, in order (Python's chained
// str.replace).
func (o *orderedReplace) apply(s string) string {
	for _, k := range o.keys {
		s = strings.ReplaceAll(s, k, o.vals[k])
	}
	return s
}

// loadConfig returns an embedded config (a fresh copy) or panics: the names used here are
// constants that the tests check.
func loadConfig(id string) *ops.ModelConfig {
	c, err := configs.Load(id)
	if err != nil {
		panic(err)
	}
	return c
}

// hasKey reports whether the config has the key under its own name (sd-mecha's builder checks
// the keys dict, not the aliases).
func hasKey(c *ops.ModelConfig, k string) bool {
	s, ok := c.Key(k)
	return ok && s.Name == k
}

// --- SDXL UNet: sgm <-> diffusers names (convert_sdxl_diffusers_unet_to_original.py) ---

var sdxlUNetLayer = sync.OnceValue(func() *orderedReplace {
	m := &orderedReplace{}
	for i := range 3 {
		for j := range 2 {
			m.set(fmt.Sprintf("input_blocks.%d.0.", 3*i+j+1), fmt.Sprintf("down_blocks.%d.resnets.%d.", i, j))
			if i > 0 {
				m.set(fmt.Sprintf("input_blocks.%d.1.", 3*i+j+1), fmt.Sprintf("down_blocks.%d.attentions.%d.", i, j))
			}
		}
		for j := range 4 {
			m.set(fmt.Sprintf("output_blocks.%d.0.", 3*i+j), fmt.Sprintf("up_blocks.%d.resnets.%d.", i, j))
			if i < 2 {
				m.set(fmt.Sprintf("output_blocks.%d.1.", 3*i+j), fmt.Sprintf("up_blocks.%d.attentions.%d.", i, j))
			}
		}
		m.set(fmt.Sprintf("input_blocks.%d.0.op.", 3*(i+1)), fmt.Sprintf("down_blocks.%d.downsamplers.0.conv.", i))
		base := fmt.Sprintf("output_blocks.%d.", 3*i+2)
		up := base + "1."
		if _, ok := m.vals[base+"1."]; ok {
			up = base + "2."
		}
		m.set(up, fmt.Sprintf("up_blocks.%d.upsamplers.0.", i))
	}
	m.set("output_blocks.2.2.conv.", "output_blocks.2.1.conv.")
	m.set("middle_block.1.", "mid_block.attentions.0.")
	for j := range 2 {
		m.set(fmt.Sprintf("middle_block.%d.", 2*j), fmt.Sprintf("mid_block.resnets.%d.", j))
	}
	return m
})

var unetResnetReplace = func() *orderedReplace {
	m := &orderedReplace{}
	for _, p := range [][2]string{
		{"in_layers.0", "norm1"}, {"in_layers.2", "conv1"}, {"out_layers.0", "norm2"},
		{"out_layers.3", "conv2"}, {"emb_layers.1", "time_emb_proj"}, {"skip_connection", "conv_shortcut"},
	} {
		m.set(p[0], p[1])
	}
	return m
}()

var unetWhole = map[string]string{
	"time_embed.0.weight": "time_embedding.linear_1.weight", "time_embed.0.bias": "time_embedding.linear_1.bias",
	"time_embed.2.weight": "time_embedding.linear_2.weight", "time_embed.2.bias": "time_embedding.linear_2.bias",
	"input_blocks.0.0.weight": "conv_in.weight", "input_blocks.0.0.bias": "conv_in.bias",
	"out.0.weight": "conv_norm_out.weight", "out.0.bias": "conv_norm_out.bias",
	"out.2.weight": "conv_out.weight", "out.2.bias": "conv_out.bias",
}

var sdxlUNetWhole = func() map[string]string {
	m := map[string]string{
		"label_emb.0.0.weight": "add_embedding.linear_1.weight", "label_emb.0.0.bias": "add_embedding.linear_1.bias",
		"label_emb.0.2.weight": "add_embedding.linear_2.weight", "label_emb.0.2.bias": "add_embedding.linear_2.bias",
	}
	for k, v := range unetWhole {
		m[k] = v
	}
	return m
}()

// unetKey is sd-mecha's convert_unet_key (both the SDXL and the SD1 version): drop
// "model.diffusion_model.", apply the layer renames, the resnet renames where "resnets"
// appears, then the whole-key renames.
func unetKey(ldmKey string, layer *orderedReplace, whole map[string]string, prefix string) string {
	parts := strings.Split(ldmKey, ".")
	k := strings.Join(parts[min(2, len(parts)):], ".")
	k = layer.apply(k)
	if strings.Contains(k, "resnets") {
		k = unetResnetReplace.apply(k)
	}
	if w, ok := whole[k]; ok {
		k = w
	}
	return prefix + k
}

// clipGKeys is convert_clip_g_key: the kohya keys of an sgm CLIP-G key (three for the fused
// in_proj), and whether the tensor is transposed (text_projection).
func clipGKeys(sgmKey string) ([]string, bool) {
	var k string
	if strings.HasSuffix(sgmKey, "text_projection") {
		k = "te2.text_projection.weight"
	} else {
		k = strings.ReplaceAll(sgmKey, "conditioner.embedders.1.model.", "te2.text_model.")
		for _, p := range [][2]string{
			{".token_embedding.", ".embeddings.token_embedding."},
			{".positional_embedding", ".embeddings.position_embedding.weight"},
			{".transformer.resblocks.", ".encoder.layers."},
			{".attn.", ".self_attn."},
			{".mlp.c_fc.", ".mlp.fc1."},
			{".mlp.c_proj.", ".mlp.fc2."},
			{".ln_final.", ".final_layer_norm."},
			{".ln_", ".layer_norm"},
		} {
			k = strings.ReplaceAll(k, p[0], p[1])
		}
	}
	var out []string
	if strings.HasSuffix(k, ".in_proj_weight") || strings.HasSuffix(k, ".in_proj_bias") {
		kind := "weight"
		if strings.HasSuffix(k, "bias") {
			kind = "bias"
		}
		partial := strings.ReplaceAll(strings.ReplaceAll(k, ".in_proj_weight", ""), ".in_proj_bias", "")
		for _, p := range []string{"q", "k", "v"} {
			out = append(out, fmt.Sprintf("%s.%s_proj.%s", partial, p, kind))
		}
	} else {
		out = []string{k}
	}
	return out, strings.HasSuffix(sgmKey, "text_projection")
}

// sdxlKohyaKeys is the kohya-side keys of an sgm key (both kohya flavours).
func sdxlKohyaKeys(sgmKey string, diffusersUNet bool) ([]string, bool) {
	switch {
	case strings.HasPrefix(sgmKey, "model.diffusion_model."):
		if diffusersUNet {
			return []string{unetKey(sgmKey, sdxlUNetLayer(), sdxlUNetWhole, "unet.")}, false
		}
		return []string{strings.ReplaceAll(sgmKey, "model.diffusion_model.", "unet.")}, false
	case strings.HasPrefix(sgmKey, "conditioner.embedders.0."):
		return []string{strings.ReplaceAll(sgmKey, "conditioner.embedders.0.transformer.", "te1.")}, false
	case strings.HasPrefix(sgmKey, "conditioner.embedders.1."):
		return clipGKeys(sgmKey)
	}
	return []string{sgmKey}, false
}

// buildPairTables walks the keys of the "original" config (sgm, ldm) and calls pair for each
// to get the other side; it returns the table original -> other (to the original config) and
// other -> original (from it). A relation is kept when every key exists in its config; an
// output key keeps its first relation.
func buildPairTables(orig, other *ops.ModelConfig, pair func(origKey string) (otherKeys []string, transpose bool, reshape bool)) (toOrig, fromOrig convTable) {
	toOrig, fromOrig = convTable{}, convTable{}
	for _, spec := range orig.Keys {
		ok := spec.Name
		oks, transpose, reshape := pair(ok)
		all := len(oks) > 0
		for _, k := range oks {
			all = all && hasKey(other, k)
		}
		if !all {
			continue
		}
		// other -> original: one output key from len(oks) inputs.
		if _, taken := toOrig[ok]; !taken {
			e := &convEntry{in: oks, op: convCopy, transpose: transpose}
			switch {
			case len(oks) > 1:
				e.op = convStack
			case reshape:
				e.op, e.in = convToSD, []string{oks[0], oks[0]}
			}
			toOrig[ok] = e
		}
		// original -> other: len(oks) output keys from one input.
		taken := false
		for _, k := range oks {
			_, t := fromOrig[k]
			taken = taken || t
		}
		if taken {
			continue
		}
		for i, k := range oks {
			e := &convEntry{in: []string{ok}, op: convCopy, transpose: transpose}
			switch {
			case len(oks) > 1:
				e.op, e.index = convChunk, i
				e.in = make([]string, len(oks))
				for j := range e.in {
					e.in[j] = ok
				}
			case reshape:
				e.op, e.in = convToHF, []string{ok, ok}
			}
			fromOrig[k] = e
		}
	}
	return toOrig, fromOrig
}

// convPair is the two tables of one pair of configs, built on first use.
type convPair struct {
	orig, other string
	reshapes    bool                // sd1: doubled keys encode a reshape, not a chunk
	tables      func() [2]convTable // [to orig, from orig]
}

func newConvPair(orig, other string, pair func(string) ([]string, bool, bool)) *convPair {
	return &convPair{orig: orig, other: other, reshapes: orig == "sd1-ldm", tables: sync.OnceValue(func() [2]convTable {
		to, from := buildPairTables(loadConfig(orig), loadConfig(other), pair)
		return [2]convTable{to, from}
	})}
}

var (
	pairSDXLKohya = newConvPair("sdxl-sgm", "sdxl-kohya", func(k string) ([]string, bool, bool) {
		ks, t := sdxlKohyaKeys(k, false)
		return ks, t, false
	})
	pairSDXLKohyaDiffusers = newConvPair("sdxl-sgm", "sdxl-kohya_but_diffusers", func(k string) ([]string, bool, bool) {
		ks, t := sdxlKohyaKeys(k, true)
		return ks, t, false
	})
	pairSDXLDiffusersUNet = newConvPair("sdxl-sgm", "sdxl-diffusers_unet_only", func(k string) ([]string, bool, bool) {
		if !strings.HasPrefix(k, "model.diffusion_model") {
			return nil, false, false
		}
		return []string{unetKey(k, sdxlUNetLayer(), sdxlUNetWhole, "")}, false, false
	})
	pairSD1Kohya = newConvPair("sd1-ldm", "sd1-kohya", func(k string) ([]string, bool, bool) {
		switch {
		case strings.HasPrefix(k, "model.diffusion_model."):
			return []string{unetKey(k, sd1UNetLayer(), unetWhole, "unet.")}, false, false
		case strings.HasPrefix(k, "cond_stage_model."):
			parts := strings.Split(k, ".")
			return []string{"te." + strings.Join(parts[min(2, len(parts)):], ".")}, false, false
		case strings.HasPrefix(k, "first_stage_model."):
			hf, reshape := sd1VAEKey(k)
			return []string{hf}, false, reshape
		}
		return []string{k}, false, false
	})
)

// --- SD1 (convert_sd1_kohya_to_original.py, convert_huggingface_sd_vae_to_original.py) ---

var sd1UNetLayer = sync.OnceValue(func() *orderedReplace {
	m := &orderedReplace{}
	for i := range 4 {
		for j := range 2 {
			m.set(fmt.Sprintf("input_blocks.%d.0.", 3*i+j+1), fmt.Sprintf("down_blocks.%d.resnets.%d.", i, j))
			if i < 3 {
				m.set(fmt.Sprintf("input_blocks.%d.1.", 3*i+j+1), fmt.Sprintf("down_blocks.%d.attentions.%d.", i, j))
			}
		}
		for j := range 3 {
			m.set(fmt.Sprintf("output_blocks.%d.0.", 3*i+j), fmt.Sprintf("up_blocks.%d.resnets.%d.", i, j))
			if i > 0 {
				m.set(fmt.Sprintf("output_blocks.%d.1.", 3*i+j), fmt.Sprintf("up_blocks.%d.attentions.%d.", i, j))
			}
		}
		if i < 3 {
			m.set(fmt.Sprintf("input_blocks.%d.0.op.", 3*(i+1)), fmt.Sprintf("down_blocks.%d.downsamplers.0.conv.", i))
			sub := 2
			if i == 0 {
				sub = 1
			}
			m.set(fmt.Sprintf("output_blocks.%d.%d.", 3*i+2, sub), fmt.Sprintf("up_blocks.%d.upsamplers.0.", i))
		}
	}
	m.set("middle_block.1.", "mid_block.attentions.0.")
	for j := range 2 {
		m.set(fmt.Sprintf("middle_block.%d.", 2*j), fmt.Sprintf("mid_block.resnets.%d.", j))
	}
	return m
})

var sd1VAEMap = sync.OnceValue(func() *orderedReplace {
	m := &orderedReplace{}
	m.set("nin_shortcut", "conv_shortcut")
	m.set("norm_out", "conv_norm_out")
	m.set("mid.attn_1.", "mid_block.attentions.0.")
	for i := range 4 {
		for j := range 2 {
			m.set(fmt.Sprintf("encoder.down.%d.block.%d.", i, j), fmt.Sprintf("encoder.down_blocks.%d.resnets.%d.", i, j))
		}
		if i < 3 {
			m.set(fmt.Sprintf("down.%d.downsample.", i), fmt.Sprintf("down_blocks.%d.downsamplers.0.", i))
			m.set(fmt.Sprintf("up.%d.upsample.", 3-i), fmt.Sprintf("up_blocks.%d.upsamplers.0.", i))
		}
		for j := range 3 {
			m.set(fmt.Sprintf("decoder.up.%d.block.%d.", 3-i, j), fmt.Sprintf("decoder.up_blocks.%d.resnets.%d.", i, j))
		}
	}
	for i := range 2 {
		m.set(fmt.Sprintf("mid.block_%d.", i+1), fmt.Sprintf("mid_block.resnets.%d.", i))
	}
	return m
})

var sd1VAEAttnExtra = [][2]string{{"q", "to_q"}, {"k", "to_k"}, {"v", "to_v"}, {"proj_out", "to_out.0"}}

var sd1VAEAttn = func() *orderedReplace {
	m := &orderedReplace{}
	for _, p := range [][2]string{{"norm.", "group_norm."}, {"q.", "query."}, {"k.", "key."}, {"v.", "value."}, {"proj_out.", "proj_attn."}} {
		m.set(p[0], p[1])
	}
	return m
}()

// sd1VAEKey is convert_vae_key: the kohya (diffusers) name of an ldm VAE key and whether the
// tensor is reshaped (the mid-attention q/k/v/proj_out weights and biases; a bias is 1-D, so
// only the weights change shape).
func sd1VAEKey(ldmKey string) (string, bool) {
	parts := strings.Split(ldmKey, ".")
	hf := strings.Join(parts[1:], ".")
	reshape := false
	for _, p := range sd1VAEAttnExtra {
		if strings.Contains(hf, "mid.attn_1."+p[0]+".weight") || strings.Contains(hf, "mid.attn_1."+p[0]+".bias") {
			reshape = true
			hf = strings.ReplaceAll(hf, p[0], p[1])
		}
	}
	for _, p := range sd1VAEAttnExtra {
		if strings.Contains(hf, "mid.attn_1."+p[1]+".weight") {
			reshape = true
		}
	}
	if strings.Contains(hf, "attentions") {
		hf = sd1VAEAttn.apply(hf)
	}
	return "vae." + sd1VAEMap().apply(hf), reshape
}

// converter defines one direction of a pair.
func converter(p *convPair, toOrig bool) *ops.Def {
	from, to, ti := p.other, p.orig, 0
	if !toOrig {
		from, to, ti = p.orig, p.other, 1
	}
	name := fmt.Sprintf("convert_'%s'_to_'%s'", from, to)
	table := func() convTable { return p.tables()[ti] }
	return define(&ops.Def{
		Name:          name,
		Params:        []ops.Param{symbolIn("model")},
		Returns:       ops.AnySpace,
		ReturnsSymbol: "S",
		Traits:        ops.Routing,
		Keys:          ops.KeysMapped,
		Formula:       fmt.Sprintf("out[key] = model[renamed key] (%s -> %s; stack/chunk fused q,k,v; transpose/reshape where flagged)", from, to),
		Doc: fmt.Sprintf("Converts a %s state dict to %s key names, as sd-mecha 1.1.5's conversion does: a "+
			"renaming, plus stacking (vstack) or chunking of CLIP-G's fused attention projection, the "+
			"text_projection transpose, and the sd1 VAE attention reshape. Keys without a counterpart "+
			"are dropped (the sgm -> kohya -> sgm round trip loses logit_scale).", from, to),
		OutConfig: func(in []string) (string, error) {
			if len(in) == 1 && in[0] != "" && in[0] != from {
				return "", fmt.Errorf("its input must be a %s model, not %s", from, in[0])
			}
			return to, nil
		},
		MapKeys: func(out string) ([][]string, bool) {
			e, ok := table()[out]
			if !ok {
				return nil, false
			}
			return [][]string{e.in}, true
		},
		OutShape: func(args, _, _ []ops.Value) ([]int, error) {
			if len(args) != 1 || args[0].Kind != ops.KindTensorList || len(args[0].Ts) == 0 {
				return nil, fmt.Errorf("want the input tensors of one key")
			}
			return convShape(args[0].Ts, toOrig, p.reshapes)
		},
		Kernel: func(c *ops.Call) error {
			e, ok := table()[c.Key]
			if !ok {
				return fmt.Errorf("%s: no key %s in %s", name, c.Key, to)
			}
			if len(c.Args) != 1 || c.Args[0].Kind != ops.KindTensorList || len(c.Args[0].Ts) != len(e.in) {
				return fmt.Errorf("%s: key %s wants %d input tensors", name, c.Key, len(e.in))
			}
			return convApply(c.Out, e, c.Args[0].Ts)
		},
	})
}

// convShape is the output shape from the input list alone (see the encoding in the file
// comment). reshapes says the pair is sd1's, whose doubled keys mean a reshape (to ldm) or a
// squeeze (from ldm); the sdxl pairs repeat a key only to chunk it (from sgm), and their other
// multi-key lists are stacks (to sgm). A transposed tensor (text_projection) is square, so a
// single-key list keeps its shape.
func convShape(ts []*ops.Tensor, toOrig, reshapes bool) ([]int, error) {
	s0 := ts[0].Shape
	switch {
	case len(ts) == 1:
		return append([]int{}, s0...), nil
	case reshapes && toOrig:
		return toSDShape(s0), nil
	case reshapes:
		return squeezeShape(s0), nil
	case toOrig:
		return vstackShape(ts)
	}
	return chunkShape(s0, len(ts))
}

func toSDShape(s []int) []int {
	out := append([]int{}, s...)
	if len(s) != 1 {
		out = append(out, 1, 1)
	}
	return out
}

func squeezeShape(s []int) []int {
	out := []int{}
	for _, d := range s {
		if d != 1 {
			out = append(out, d)
		}
	}
	return out
}

// vstackShape is torch.vstack's shape: every input at least 2-D ([w] -> [1, w], 0-dim -> [1, 1]),
// concatenated on dim 0.
func vstackShape(ts []*ops.Tensor) ([]int, error) {
	var out []int
	for i, t := range ts {
		s := atLeast2D(t.Shape)
		if i == 0 {
			out = append([]int{}, s...)
			continue
		}
		if !ops.SameShape(s[1:], out[1:]) {
			return nil, fmt.Errorf("vstack: shapes %s and %s do not match", ops.FormatShape(ts[0].Shape), ops.FormatShape(t.Shape))
		}
		out[0] += s[0]
	}
	return out, nil
}

func atLeast2D(s []int) []int {
	switch len(s) {
	case 0:
		return []int{1, 1}
	case 1:
		return []int{1, s[0]}
	}
	return s
}

func chunkShape(s []int, n int) ([]int, error) {
	if len(s) == 0 || s[0]%n != 0 {
		return nil, fmt.Errorf("cannot chunk shape %s in %d equal parts on dim 0", ops.FormatShape(s), n)
	}
	out := append([]int{}, s...)
	out[0] /= n
	return out, nil
}

// convApply computes one output key.
func convApply(out *ops.Tensor, e *convEntry, ts []*ops.Tensor) error {
	src := ts[0]
	out.DType = src.DType
	switch e.op {
	case convStack:
		var data []float64
		for _, t := range ts {
			data = append(data, t.Data...)
			if t.DType != out.DType {
				out.DType = ops.F64 // torch.cat promotes; merge values are float64 anyway
			}
		}
		shape, err := vstackShape(ts)
		if err != nil {
			return err
		}
		src = &ops.Tensor{Shape: shape, Data: data}
	case convChunk:
		t := src
		if e.transpose {
			t = reverseDims(t)
		}
		shape, err := chunkShape(t.Shape, len(ts))
		if err != nil {
			return err
		}
		n := ops.NumElements(shape)
		src = &ops.Tensor{Shape: shape, Data: t.Data[e.index*n : (e.index+1)*n]}
	}
	if e.transpose && e.op != convChunk {
		src = reverseDims(src)
	}
	if len(src.Data) != len(out.Data) {
		return fmt.Errorf("result has %d elements, the output %d", len(src.Data), len(out.Data))
	}
	copy(out.Data, src.Data)
	return nil
}

// reverseDims is torch's .T: the dims reversed (a no-op below 2-D).
func reverseDims(t *ops.Tensor) *ops.Tensor {
	n := len(t.Shape)
	if n < 2 {
		return t
	}
	shape := make([]int, n)
	for i := range shape {
		shape[i] = t.Shape[n-1-i]
	}
	out := &ops.Tensor{Shape: shape, Data: make([]float64, len(t.Data)), DType: t.DType}
	// strides of the input, and an odometer over the output index.
	stride := make([]int, n)
	s := 1
	for i := n - 1; i >= 0; i-- {
		stride[i] = s
		s *= t.Shape[i]
	}
	idx := make([]int, n)
	for o := range out.Data {
		src := 0
		for i := range n {
			src += idx[i] * stride[n-1-i]
		}
		out.Data[o] = t.Data[src]
		for i := n - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return out
}

// The conversions, named as sd-mecha registers them.
var (
	convertSGMToKohya          = converter(pairSDXLKohya, false)
	convertKohyaToSGM          = converter(pairSDXLKohya, true)
	convertSGMToKohyaDiffusers = converter(pairSDXLKohyaDiffusers, false)
	convertKohyaDiffusersToSGM = converter(pairSDXLKohyaDiffusers, true)
	convertSGMToDiffusersUNet  = converter(pairSDXLDiffusersUNet, false)
	convertDiffusersUNetToSGM  = converter(pairSDXLDiffusersUNet, true)
	convertLDMToSD1Kohya       = converter(pairSD1Kohya, false)
	convertSD1KohyaToLDM       = converter(pairSD1Kohya, true)
)
