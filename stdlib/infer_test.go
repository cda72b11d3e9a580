package stdlib

import (
	"strings"
	"testing"
)

func TestInferConfigRules(t *testing.T) {
	r := Default()
	sgm, _ := r.Config("sdxl-sgm")
	var keys []string
	for _, k := range sgm.Keys {
		keys = append(keys, k.Name)
	}

	// Every key of sdxl-sgm: sdxl-sgm, with no unknown key.
	if c, err := r.InferConfig(keys); err != nil || c.ID != "sdxl-sgm" {
		t.Errorf("all sdxl-sgm keys: %v %v", c, err)
	}
	cands := r.ConfigCandidates(keys)
	if len(cands) == 0 || cands[0].Unknown != 0 || cands[0].Missing != 0 || cands[0].Matched != 2531 {
		t.Errorf("candidates %+v", cands)
	}

	// Only the VAE: sdxl-sgm and sd1-ldm both name it first_stage_model.* and know every key
	// (no unknown key); the tie goes to the config missing the smaller fraction of its
	// mandatory keys, sd1-ldm (882 of 1831 vs 2232 of 2531).
	var vae []string
	for _, k := range sgm.Keys {
		if k.Component == "vae" {
			vae = append(vae, k.Name)
		}
	}
	c, err := r.InferConfig(vae)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "sd1-ldm" {
		t.Errorf("vae keys: %s", c.ID)
	}

	// 9 known keys among 100: below sd-mecha's 10% threshold. 10 of 100: accepted.
	mixed := append([]string{}, keys[:9]...)
	for i := 0; i < 91; i++ {
		mixed = append(mixed, "unknown."+strings.Repeat("x", i+1))
	}
	if _, err := r.InferConfig(mixed); err == nil || !strings.Contains(err.Error(), "sdxl-sgm (9 of 100") {
		t.Errorf("9%% known: %v", err)
	}
	mixed[9] = keys[9]
	if c, err := r.InferConfig(mixed); err != nil || c.ID != "sdxl-sgm" {
		t.Errorf("10%% known: %v %v", c, err)
	}

	// Literal-only configs are never inferred for files.
	if _, err := r.InferConfig([]string{"key"}); err == nil {
		t.Error("{key} inferred a config")
	}
	if _, err := r.InferConfig([]string{"BASE", "IN00", "OUT08"}); err == nil {
		t.Error("block keys inferred a config")
	}
	if _, err := r.InferConfig(nil); err == nil {
		t.Error("no keys inferred a config")
	}
}
