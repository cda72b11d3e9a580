package stdlib

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// specTemplates are the method families SPEC.md enters once under a templated name: a
// registered name matching the pattern is entered when SPEC has the template and every
// config the name is built from.
var specTemplates = []struct {
	re       *regexp.Regexp
	template string
}{
	{regexp.MustCompile(`^convert_'([^']+)'_to_'([^']+)'$`), "convert_'A'_to_'B'"},
	{regexp.MustCompile(`^convert_'([^']+)'_to_base$`), "convert_'<lora config>'_to_base"},
	{regexp.MustCompile(`^extract_lora_'([^']+)'$`), "extract_lora_'<lora config>'"},
	{regexp.MustCompile(`^extract_lokr_'([^']+)'$`), "extract_lokr_'<lora config>'"},
}

// TestSpecEntries: SPEC.md names every method the default registry defines (issue 4: one
// entry per method), by its own name or, for the templated families, by the template and its
// configs; and every method has the one-line formula explain shows.
func TestSpecEntries(t *testing.T) {
	raw, err := os.ReadFile("../SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	spec := string(raw)
	defs := Default().Defs()
	if len(defs) < 100 {
		t.Fatalf("only %d methods registered", len(defs))
	}
	for _, d := range defs {
		// mechac explain prints the definition's formula under each line of a recipe.
		if d.Formula == "" || strings.ContainsAny(d.Formula, "\n\r") {
			t.Errorf("%s: Formula must be one non-empty line, is %q", d.Name, d.Formula)
		}
		if strings.Contains(spec, d.Name) {
			continue
		}
		entered := false
		for _, tm := range specTemplates {
			m := tm.re.FindStringSubmatch(d.Name)
			if m == nil || !strings.Contains(spec, tm.template) {
				continue
			}
			entered = true
			for _, cfg := range m[1:] {
				// A LoRA config is named from its model config and its format.
				cfg = strings.TrimSuffix(strings.TrimSuffix(cfg, "_kohya_lora"), "_lycoris_lora")
				entered = entered && strings.Contains(spec, cfg)
			}
		}
		if !entered {
			t.Errorf("SPEC.md has no entry for %s", d.Name)
		}
	}
}
