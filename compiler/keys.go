package compiler

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mechac/mechac/compiler/ir"
	"github.com/mechac/mechac/lang/pos"
	"github.com/mechac/mechac/ops"
)

// ModelSource gives the compiler what it may know about a model file before any data is
// read: its header. The CLI resolves paths (models dirs, Windows separators) behind it.
type ModelSource interface {
	Model(path string) (*ModelInfo, error)
}

// ModelInfo is one model file's header.
type ModelInfo struct {
	// Path is where the file was found (what the VM opens).
	Path       string
	Size       int64
	HeaderHash string
	Tensors    map[string]TensorInfo
}

// TensorInfo is one tensor of a header.
type TensorInfo struct {
	DType ops.DType
	Shape []int
}

// keySet is a set of canonical key names, or every key (a constant broadcast).
type keySet struct {
	all  bool
	keys map[string]bool
}

func (s keySet) has(k string) bool { return s.all || s.keys[k] }

// modelKeys is what a model value provides: canonical key -> tensor name in the file.
type modelKeys struct {
	info  *ModelInfo
	input int
	load  map[string]string
}

// keyTable holds the per-value key sets computed from headers.
type keyTable struct {
	sets   map[*ir.Value]keySet
	models map[*ir.Value]*modelKeys
	reg    *ops.Registry
}

// resolveModels reads every model's header, infers configs the recipe does not name, maps
// file tensor names to config keys (aliases included), and returns the inputs in order.
func (c *compilation) resolveModels() pos.ErrorList {
	var errs pos.ErrorList
	c.keys = &keyTable{sets: map[*ir.Value]keySet{}, models: map[*ir.Value]*modelKeys{}, reg: c.opts.Registry}
	byPath := map[string]int{}
	for _, v := range c.fn.Values {
		if v.Op != ir.OpModel {
			continue
		}
		info, err := c.opts.Models.Model(v.Path)
		if err != nil {
			errs.Addf(v.Pos, "%v", err)
			continue
		}
		idx, ok := byPath[info.Path]
		if !ok {
			idx = len(c.inputs)
			byPath[info.Path] = idx
			c.inputs = append(c.inputs, inputRef{info: info, value: v})
		}
		names := make([]string, 0, len(info.Tensors))
		for n := range info.Tensors {
			names = append(names, n)
		}
		sort.Strings(names)
		declared := v.Config != ""
		if !declared {
			cfg, err := c.opts.Registry.InferConfig(names)
			if err != nil {
				errs.Addf(v.Pos, "%s: cannot tell the model config from its keys: %v (name one with model_config=)", v.Path, err)
				continue
			}
			v.Config = cfg.ID
			c.inferred = append(c.inferred, fmt.Sprintf("%s: inferred model config %s", v.Path, cfg.ID))
		}
		cfg, _ := c.opts.Registry.Config(v.Config)
		mk := &modelKeys{info: info, input: idx, load: map[string]string{}}
		var extra []string
		for _, n := range names {
			canon := n
			if cfg != nil {
				spec, ok := cfg.Key(n)
				if !ok {
					extra = append(extra, n)
					continue
				}
				canon = spec.Name
			}
			if prev, dup := mk.load[canon]; dup {
				// A file holding both a key and its alias: the canonical name wins.
				if prev == canon {
					continue
				}
			}
			mk.load[canon] = n
		}
		if declared && 2*len(extra) > len(names) {
			msg := fmt.Sprintf("%s does not look like a %s model: %d of its %d tensors are not %s keys", v.Path, v.Config, len(extra), len(names), v.Config)
			if best, err := c.opts.Registry.InferConfig(names); err == nil && best.ID != v.Config {
				msg += fmt.Sprintf(" (its keys match %s)", best.ID)
			}
			errs.Addf(v.Pos, "%s", msg)
			continue
		}
		if len(extra) > 0 {
			c.warnf("%s: %d tensor%s not in config %s ignored (first: %s)", v.Path, len(extra), plural(len(extra)), v.Config, extra[0])
		}
		c.keys.models[v] = mk
	}
	return errs
}

// computeKeySets applies each method's key rule bottom-up.
func (c *compilation) computeKeySets() {
	t := c.keys
	for _, v := range c.fn.Values {
		switch v.Op {
		case ir.OpModel:
			s := keySet{keys: map[string]bool{}}
			if mk := t.models[v]; mk != nil {
				for k := range mk.load {
					s.keys[k] = true
				}
			}
			t.sets[v] = s
		case ir.OpConst:
			t.sets[v] = keySet{all: true}
		case ir.OpDict, ir.OpLiteral:
			t.sets[v] = c.literalKeys(v)
		case ir.OpMerge:
			t.sets[v] = c.mergeKeys(v)
		}
	}
}

func (c *compilation) mergeKeys(v *ir.Value) keySet {
	t := c.keys
	tensorArgs := func() []*ir.Value {
		var out []*ir.Value
		for i, a := range v.Operands() {
			p := v.ParamFor(i)
			if a != nil && a.Op != ir.OpConst && (p.Type == ops.TensorIn || p.Type == ops.TensorHyper) {
				out = append(out, a)
			}
		}
		return out
	}
	switch v.Def.Keys {
	case ops.KeysBroadcast:
		return keySet{all: true}
	case ops.KeysMapped:
		return c.mappedKeys(v)
	case ops.KeysFilter:
		in := t.sets[v.Args[0]]
		s := keySet{keys: map[string]bool{}}
		for k := range in.keys {
			if v.Def.KeepKey(k) {
				s.keys[k] = true
			}
		}
		return s
	case ops.KeysFallback:
		a, d := t.sets[v.Args[0]], t.sets[v.Args[1]]
		if a.all || d.all {
			return keySet{all: true}
		}
		s := keySet{keys: map[string]bool{}}
		for k := range a.keys {
			s.keys[k] = true
		}
		for k := range d.keys {
			s.keys[k] = true
		}
		return s
	case ops.KeysPickComponent, ops.KeysOmitComponent:
		in := t.sets[v.Args[0]]
		cfg, _ := c.opts.Registry.Config(v.Args[0].Config)
		comp := componentArg(v)
		pick := v.Def.Keys == ops.KeysPickComponent
		s := keySet{keys: map[string]bool{}}
		if cfg == nil {
			return s
		}
		for _, spec := range cfg.Keys {
			if (spec.Component == comp) == pick && in.has(spec.Name) {
				s.keys[spec.Name] = true
			}
		}
		return s
	}
	if c.unionKeys() {
		// 0.0.x engines: every key some input has; a merge missing an input's key is handled
		// per key by the era's Missing rule in code generation.
		s := keySet{keys: map[string]bool{}}
		for _, a := range tensorArgs() {
			as := t.sets[a]
			if as.all {
				continue
			}
			for k := range as.keys {
				s.keys[k] = true
			}
		}
		return s
	}
	s := keySet{all: true}
	for _, a := range tensorArgs() {
		as := t.sets[a]
		if as.all {
			continue
		}
		if s.all {
			s = keySet{keys: map[string]bool{}}
			for k := range as.keys {
				s.keys[k] = true
			}
			continue
		}
		for k := range s.keys {
			if !as.keys[k] {
				delete(s.keys, k)
			}
		}
	}
	return s
}

// outputKeys returns the root's keys, sorted (the output file's order).
func (c *compilation) outputKeys() ([]string, error) {
	s := c.keys.sets[c.fn.Root]
	if s.all {
		return nil, pos.Errorf(c.fn.Root.Pos, "the recipe's result is a constant, not a model")
	}
	var keys []string
	for k := range s.keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, nil
}

func joinShapes(shapes [][]int) string {
	var parts []string
	for _, s := range shapes {
		parts = append(parts, ops.FormatShape(s))
	}
	return strings.Join(parts, ", ")
}
