package configs

import (
	"strings"
	"testing"

	"github.com/mechac/mechac/ops"
)

func load(t *testing.T, id string) *ops.ModelConfig {
	t.Helper()
	c, err := Load(id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// componentCounts returns the number of keys and optional keys per component, in order.
func componentCounts(c *ops.ModelConfig) (comps []string, keys, optional map[string]int) {
	keys, optional = map[string]int{}, map[string]int{}
	for _, k := range c.Keys {
		keys[k.Component]++
		if k.Optional {
			optional[k.Component]++
		}
	}
	return c.Components, keys, optional
}

func TestEveryConfigRegisters(t *testing.T) {
	want := []string{"flux-flux", "sd1-kohya", "sd1-ldm", "sd1-supermerger_blocks", "sd3-comfyui",
		"sdxl-diffusers_unet_only", "sdxl-kohya", "sdxl-kohya_but_diffusers", "sdxl-sgm",
		"sdxl-supermerger_blocks", "singleton-mecha"}
	r := ops.NewRegistry()
	if err := Register(r); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.ConfigIDs(), " "); got != strings.Join(want, " ") {
		t.Errorf("configs %s\nwant    %s", got, strings.Join(want, " "))
	}
	// They are registered lazily: each must build (a build error would panic at first use).
	for _, id := range want {
		if c, ok := r.Config(id); !ok || c.ID != id {
			t.Errorf("config %s: %v, %v", id, c, ok)
		}
	}
}

// Counts from sd-mecha 1.1.5's YAML files (and docs/sd-mecha-methods.md section 6).
func TestCounts(t *testing.T) {
	for _, tc := range []struct {
		id         string
		components string
		keys       []int
		optional   []int
	}{
		{"sdxl-sgm", "clip_l clip_g vae diffuser scheduler", []int{197, 390, 248, 1684, 12}, []int{19, 16, 0, 4, 12}},
		{"sd1-ldm", "clip_l vae diffuser ema scheduler", []int{197, 248, 686, 688, 12}, []int{1, 0, 0, 688, 12}},
		{"sd1-kohya", "clip_l diffuser vae", []int{196, 686, 248}, []int{0, 0, 0}},
		{"sdxl-kohya", "vae clip_l clip_g diffuser", []int{248, 197, 517, 1680}, nil},
		{"sdxl-kohya_but_diffusers", "vae clip_l clip_g diffuser", []int{248, 197, 517, 1680}, nil},
		{"sdxl-diffusers_unet_only", "diffuser", []int{1680}, nil},
		{"flux-flux", "diffuser clip_l t5xxl vae", []int{780, 196, 219, 244}, nil},
		{"sd3-comfyui", "vae diffuser clip_g clip_l t5xxl", []int{244, 492, 518, 198, 220}, nil},
		{"sdxl-supermerger_blocks", "blocks", []int{21}, nil},
		{"sd1-supermerger_blocks", "blocks", []int{26}, nil},
		{"singleton-mecha", "keys", []int{1}, nil},
	} {
		c := load(t, tc.id)
		comps, keys, optional := componentCounts(c)
		if got := strings.Join(comps, " "); got != tc.components {
			t.Errorf("%s: components %q, want %q", tc.id, got, tc.components)
			continue
		}
		for i, comp := range comps {
			if keys[comp] != tc.keys[i] {
				t.Errorf("%s/%s: %d keys, want %d", tc.id, comp, keys[comp], tc.keys[i])
			}
			if tc.optional != nil && optional[comp] != tc.optional[i] {
				t.Errorf("%s/%s: %d optional keys, want %d", tc.id, comp, optional[comp], tc.optional[i])
			}
		}
	}
}

func TestSDXLSGM(t *testing.T) {
	c := load(t, "sdxl-sgm")
	opt := 0
	for _, k := range c.Keys {
		if k.Optional {
			opt++
		}
	}
	if len(c.Keys) != 2531 || opt != 51 {
		t.Errorf("sdxl-sgm: %d keys (%d optional), want 2531 (51)", len(c.Keys), opt)
	}
	// YAML order: the first key and the last key of the file.
	if c.Keys[0].Name != "conditioner.embedders.0.transformer.text_model.embeddings.position_embedding.weight" {
		t.Errorf("first key %s", c.Keys[0].Name)
	}
	for _, tc := range []struct {
		key   string
		dtype ops.DType
		shape string
		opt   bool
	}{
		{"conditioner.embedders.0.transformer.text_model.embeddings.position_ids", ops.I64, "[1, 77]", true},
		{"conditioner.embedders.1.model.logit_scale", ops.F32, "[]", true},
		{"conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight", ops.F32, "[49408, 768]", false},
		{"model.diffusion_model.input_blocks.0.0.weight", ops.F32, "[320, 4, 3, 3]", false},
		{"ztsnr", ops.I64, "[0]", true},
	} {
		k, ok := c.Key(tc.key)
		if !ok {
			t.Errorf("sdxl-sgm lacks %s", tc.key)
			continue
		}
		if k.DType != tc.dtype || ops.FormatShape(k.Shape) != tc.shape || k.Optional != tc.opt || k.Shape == nil {
			t.Errorf("%s: %v %s optional=%v, want %v %s %v", tc.key, k.DType, ops.FormatShape(k.Shape), k.Optional, tc.dtype, tc.shape, tc.opt)
		}
	}
}

func TestSD1Aliases(t *testing.T) {
	c := load(t, "sd1-ldm")
	if len(c.Keys) != 1831 {
		t.Errorf("sd1-ldm: %d keys, want 1831", len(c.Keys))
	}
	aliased := 0
	for _, k := range c.Keys {
		if len(k.Aliases) > 0 {
			aliased++
		}
		if k.Component == "clip_l" && len(k.Aliases) != 1 {
			t.Errorf("clip_l key %s has aliases %v, want one", k.Name, k.Aliases)
		}
	}
	if aliased != 883 {
		t.Errorf("%d keys with aliases, want 883", aliased)
	}
	k, ok := c.Key("cond_stage_model.transformer.embeddings.token_embedding.weight")
	if !ok || k.Name != "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight" {
		t.Errorf("alias resolves to %v", k)
	}
}

func TestSingleton(t *testing.T) {
	c := load(t, "singleton-mecha")
	if len(c.Keys) != 1 || c.Keys[0].Name != "key" || c.Keys[0].Shape != nil {
		t.Errorf("singleton-mecha: %+v", c.Keys)
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{
		"clip\tk\tF32\t[1]\t-\n",        // 5 fields
		"clip\tk\tF99\t[1]\t-\t-\n",     // dtype
		"clip\tk\tF32\t(1)\t-\t-\n",     // shape
		"clip\tk\tF32\t[1]\tmaybe\t-\n", // flags
		"a\tk\tF32\t[1]\t-\t-\nb\tl\tF32\t[1]\t-\t-\na\tm\tF32\t[1]\t-\t-\n", // component split
		"# only a comment\n",
	} {
		if _, err := Parse("x-y", []byte(bad)); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
	if _, err := Load("nope-nope"); err == nil {
		t.Error("Load of a missing config succeeded")
	}
}
