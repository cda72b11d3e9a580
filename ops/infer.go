package ops

import (
	"fmt"
	"sort"
	"strings"
)

// ConfigMatch is how well one registered model config explains a file's key set, in the terms
// of sd-mecha 1.1.5's ConfigMatchStats (graph_finalization.py create_config_stats).
type ConfigMatch struct {
	Config *ModelConfig
	// FileKeys is the number of distinct keys of the file.
	FileKeys int
	// Matched counts the config keys the file has, directly or through an alias.
	Matched int
	// Unknown counts the file keys (after alias resolution) the config does not know:
	// sd-mecha's state_dict_misses is Unknown / FileKeys, the ranking criterion.
	Unknown int
	// Missing counts the config's mandatory (non-optional) keys absent from the file:
	// sd-mecha's config_misses is Missing / len(Config.Keys).
	Missing int
}

// Candidate reports whether the config covers at least 10% of the file's keys, sd-mecha's
// threshold for considering a config at all.
func (m ConfigMatch) Candidate() bool { return m.FileKeys > 0 && 10*m.Matched >= m.FileKeys }

// better orders matches: fewer unknown file keys first (sd-mecha's only criterion; every match
// of one file shares the denominator, so counts compare exactly), then the smaller fraction of
// missing mandatory config keys, then the identifier. sd-mecha breaks the remaining ties by the
// order in which it globbed its YAML files, which is not deterministic; we are.
func (m ConfigMatch) better(o ConfigMatch) bool {
	if m.Unknown != o.Unknown {
		return m.Unknown < o.Unknown
	}
	// Missing/len(Keys) compared by cross-multiplication, to stay exact.
	a, b := m.Missing*len(o.Config.Keys), o.Missing*len(m.Config.Keys)
	if a != b {
		return a < b
	}
	return m.Config.ID < o.Config.ID
}

// inferable reports whether files can be inferred to be of config c. Configs whose every key is
// a scalar (0-dim or undeclared shape) describe recipe literals -- singleton-mecha's "key", the
// supermerger block-weight configs -- not checkpoints; a file is never inferred to be one of them.
func inferable(c *ModelConfig) bool {
	for _, k := range c.Keys {
		if len(k.Shape) > 0 {
			return true
		}
	}
	return false
}

// MatchConfig computes the match statistics of the file keys against one config.
func MatchConfig(c *ModelConfig, keys []string) ConfigMatch {
	m := ConfigMatch{Config: c}
	fileKeys := make(map[string]bool, len(keys))
	for _, k := range keys {
		fileKeys[k] = true
	}
	m.FileKeys = len(fileKeys)
	// Resolve aliases first, as sd-mecha does: a file holding both a key and one of its aliases
	// counts that key once. The denominator stays the raw number of file keys (sd-mecha divides
	// by the size of the set before resolution).
	resolved := make(map[string]bool, len(fileKeys))
	for k := range fileKeys {
		if spec, ok := c.Key(k); ok {
			resolved[spec.Name] = true
		} else {
			resolved[k] = true
			m.Unknown++
		}
	}
	for _, spec := range c.Keys {
		if resolved[spec.Name] {
			m.Matched++
		} else if !spec.Optional {
			m.Missing++
		}
	}
	return m
}

// ConfigCandidates returns the match of every inferable config covering at least 10% of the
// file's keys, best first (see InferConfig). Callers that combine several files into one config
// (sd-mecha intersects the candidate sets of every input sharing a config) start from this.
func (r *Registry) ConfigCandidates(keys []string) []ConfigMatch {
	var out []ConfigMatch
	for _, c := range r.Configs() {
		if !inferable(c) {
			continue
		}
		if m := MatchConfig(c, keys); m.Candidate() {
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].better(out[j]) })
	return out
}

// InferConfig finds the model config of a file from its keys, as sd-mecha 1.1.5 does for a model
// without an explicit model_config: every config whose keys (aliases included) cover at least
// 10% of the file's keys is a candidate, and the candidate with the fewest file keys unknown to
// it wins. Ties go to the config missing the smallest fraction of its mandatory keys, then to the
// smaller identifier. Literal-only configs (singleton-mecha, supermerger blocks) are never
// inferred for files. When no config qualifies, the error names the closest ones.
func (r *Registry) InferConfig(keys []string) (*ModelConfig, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("cannot infer the model config of a file without keys")
	}
	if cands := r.ConfigCandidates(keys); len(cands) > 0 {
		return cands[0].Config, nil
	}
	var all []ConfigMatch
	for _, c := range r.Configs() {
		if inferable(c) {
			all = append(all, MatchConfig(c, keys))
		}
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("cannot infer the model config: no model configs are registered")
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].Matched != all[j].Matched {
			return all[i].Matched > all[j].Matched
		}
		return all[i].Config.ID < all[j].Config.ID
	})
	var best []string
	for _, m := range all[:min(3, len(all))] {
		best = append(best, fmt.Sprintf("%s (%d of %d file keys)", m.Config.ID, m.Matched, m.FileKeys))
	}
	return nil, fmt.Errorf("no model config matches the file's %d keys (a config must know at least 10%% of them); closest: %s; give model_config explicitly",
		all[0].FileKeys, strings.Join(best, ", "))
}
