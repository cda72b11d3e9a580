// Package configs holds sd-mecha 1.1.5's built-in model configs (the key lists of sdxl-sgm,
// sd1-ldm, ...) as embedded data, and loads them into an ops.Registry.
//
// # Data format
//
// One UTF-8 text file per config, data/<identifier>.tsv, generated once from sd-mecha 1.1.5's
// sd_mecha/extensions/builtin/model_configs/<identifier>.yaml (the identifier is the file stem,
// as sd-mecha's YamlModelConfig takes it, not the YAML's own "identifier" field, which is wrong
// in two upstream files). Lines starting with '#' are comments. Every other line is one key,
// six tab-separated fields:
//
//	component  key  dtype  shape  flags  aliases
//
// The fields:
//   - component: the YAML component the key is listed under. Components are in YAML order and
//     contiguous, so the order of first appearance is the component order (sd-mecha has no
//     component without keys).
//   - key: the key name, in YAML order (the order of sd-mecha's output files).
//   - dtype: the safetensors name of the declared dtype (F32, F16, BF16, I64, I32), or "?" when
//     the YAML declares none (singleton-mecha).
//   - shape: "[d0,d1,...]", "[]" for a 0-dim tensor, or "?" when the YAML declares none.
//   - flags: "optional" or "-".
//   - aliases: comma-separated alternative names (older layouts of the same tensor), or "-".
//
// Keys, components and aliases never contain tabs, commas or spaces (the generator checks).
package configs

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/mechac/mechac/ops"
)

//go:embed data/*.tsv
var data embed.FS

// IDs returns the identifiers of the embedded configs, sorted.
func IDs() []string {
	entries, err := fs.ReadDir(data, "data")
	if err != nil {
		panic(err) // the embedded directory always exists
	}
	var ids []string
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".tsv"); ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Load parses one embedded config. Every call returns a fresh value, so callers may keep it.
func Load(id string) (*ops.ModelConfig, error) {
	raw, err := data.ReadFile(path.Join("data", id+".tsv"))
	if err != nil {
		return nil, fmt.Errorf("model config %q is not embedded", id)
	}
	return Parse(id, raw)
}

// Parse reads a config in the format described in the package documentation.
func Parse(id string, raw []byte) (*ops.ModelConfig, error) {
	c := &ops.ModelConfig{ID: id}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if text == "" || text[0] == '#' {
			continue
		}
		f := strings.Split(text, "\t")
		if len(f) != 6 {
			return nil, fmt.Errorf("config %s line %d: %d fields, want 6", id, line, len(f))
		}
		k := ops.KeySpec{Component: f[0], Name: f[1]}
		var err error
		if f[2] == "?" {
			// No declared dtype (singleton-mecha's "key"): ops.DType has no "unknown", and the
			// value of such a key is whatever the literal holds, merged in float64.
			k.DType = ops.F64
		} else if k.DType, err = ops.ParseDType(f[2]); err != nil {
			return nil, fmt.Errorf("config %s line %d: %v", id, line, err)
		}
		if k.Shape, err = parseShape(f[3]); err != nil {
			return nil, fmt.Errorf("config %s line %d: %v", id, line, err)
		}
		switch f[4] {
		case "optional":
			k.Optional = true
		case "-":
		default:
			return nil, fmt.Errorf("config %s line %d: unknown flags %q", id, line, f[4])
		}
		if f[5] != "-" {
			k.Aliases = strings.Split(f[5], ",")
		}
		if !seen[k.Component] {
			seen[k.Component] = true
			c.Components = append(c.Components, k.Component)
		} else if c.Components[len(c.Components)-1] != k.Component {
			return nil, fmt.Errorf("config %s line %d: component %s is not contiguous", id, line, k.Component)
		}
		c.Keys = append(c.Keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("config %s: %v", id, err)
	}
	if len(c.Keys) == 0 {
		return nil, fmt.Errorf("config %s has no keys", id)
	}
	return c, nil
}

// parseShape reads "[a,b]", "[]" (0-dim, a non-nil empty slice) or "?" (unknown: nil).
func parseShape(s string) ([]int, error) {
	if s == "?" {
		return nil, nil
	}
	inner, okL := strings.CutPrefix(s, "[")
	inner, okR := strings.CutSuffix(inner, "]")
	if !okL || !okR {
		return nil, fmt.Errorf("bad shape %q", s)
	}
	shape := []int{}
	if inner == "" {
		return shape, nil
	}
	for _, d := range strings.Split(inner, ",") {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad shape %q", s)
		}
		shape = append(shape, n)
	}
	return shape, nil
}

// Register adds every embedded config to r, each parsed when first asked for
// (ops.Registry.AddConfigLazy): a recipe that names its model config needs one of them, and
// parsing all 1.4 MB of them took 15% of `mechac compile`'s time on an SDXL recipe (17 ms of
// every run's start). Inferring a file's config parses them all, as before. Every embedded
// config parses (TestEveryConfigRegisters).
func Register(r *ops.Registry) error {
	for _, id := range IDs() {
		if err := r.AddConfigLazy(id, func() (*ops.ModelConfig, error) { return Load(id) }); err != nil {
			return err
		}
	}
	return nil
}
