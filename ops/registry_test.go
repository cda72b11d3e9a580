package ops

import "testing"

// TestConfigLazy: a lazily registered config is built once, when Config asks for it or
// Configs lists every config; ConfigIDs lists it without building it; an identifier is
// registered once, eagerly or lazily.
func TestConfigLazy(t *testing.T) {
	r := NewRegistry()
	builds := 0
	if err := r.AddConfig(&ModelConfig{ID: "eager"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"lazy1", "lazy2"} {
		if err := r.AddConfigLazy(id, func() (*ModelConfig, error) { builds++; return &ModelConfig{ID: id}, nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.AddConfigLazy("eager", nil); err == nil {
		t.Error("lazy registration over an eager one accepted")
	}
	if err := r.AddConfig(&ModelConfig{ID: "lazy1"}); err == nil {
		t.Error("eager registration over a lazy one accepted")
	}
	if ids := r.ConfigIDs(); len(ids) != 3 || ids[0] != "eager" || ids[2] != "lazy2" || builds != 0 {
		t.Errorf("ConfigIDs = %v after %d builds, want [eager lazy1 lazy2] and none", ids, builds)
	}
	for range 2 {
		if c, ok := r.Config("lazy1"); !ok || c.ID != "lazy1" {
			t.Fatalf("Config(lazy1) = %v, %v", c, ok)
		}
	}
	if builds != 1 {
		t.Errorf("%d builds after two lookups of one config, want 1", builds)
	}
	if cs := r.Configs(); len(cs) != 3 || builds != 2 {
		t.Errorf("Configs: %d configs after %d builds, want 3 and 2", len(cs), builds)
	}
	if _, ok := r.Config("nope"); ok {
		t.Error("unknown config found")
	}
}
