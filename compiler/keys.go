package compiler

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"unsafe"

	"github.com/mechac/mechac/compiler/ir"
	"github.com/mechac/mechac/lang/pos"
	"github.com/mechac/mechac/ops"
)

// ModelSource gives the compiler what it may know about a model file before any data is
// read: its header. The CLI resolves paths (models dirs, Windows separators) behind it.
type ModelSource interface {
	Model(path string) (*ModelInfo, error)
}

// ModelPrefetcher is a ModelSource that can read several headers at once: Compile hands it
// every model path of the recipe (in order, repeats included) before asking for each with
// Model, which then reports any error as usual.
type ModelPrefetcher interface {
	Prefetch(paths []string)
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

// modelKeys is what a model value provides: its canonical keys, and the tensor name in the
// file of each (the same name but where the file holds an alias).
type modelKeys struct {
	info  *ModelInfo
	input int
	keys  keySet
	// rename maps a canonical key to the file's tensor name where they differ (aliases);
	// usually empty, so 216 models of 2515 keys do not hold 216 maps of 2515 names.
	rename map[string]string
}

// tensor is the file's tensor name of canonical key k, and whether the model has k.
func (mk *modelKeys) tensor(k string) (string, bool) {
	if !mk.keys.has(k) {
		return "", false
	}
	if n, ok := mk.rename[k]; ok {
		return n, true
	}
	return k, true
}

// keyTable holds the per-value key sets computed from headers.
type keyTable struct {
	u      *keyUniverse
	sets   map[*ir.Value]keySet
	models map[*ir.Value]*modelKeys
	reg    *ops.Registry
}

// headerKeys is what the compiler derives from one tensor table, computed once for all the
// models that share it (a ModelSource may give models with equal headers one table): the
// sorted names, the inferred config, and the key mapping in each config.
type headerKeys struct {
	names     []string
	inferred  *ops.ModelConfig
	inferErr  error
	inferDone bool
	byConfig  map[string]*configKeys
}

// configKeys is a tensor table read in one config.
type configKeys struct {
	keys   keySet
	rename map[string]string
	extra  []string // tensor names that are not keys of the config
}

func (h *headerKeys) infer(reg *ops.Registry) (*ops.ModelConfig, error) {
	if !h.inferDone {
		h.inferred, h.inferErr = reg.InferConfig(h.names)
		h.inferDone = true
	}
	return h.inferred, h.inferErr
}

// tableIdentity identifies a tensor table by its map, so models sharing one share the work.
func tableIdentity(m map[string]TensorInfo) unsafe.Pointer {
	return reflect.ValueOf(m).UnsafePointer()
}

// inConfig maps the table's names to cfg's canonical keys (aliases included).
func (h *headerKeys) inConfig(u *keyUniverse, cfg *ops.ModelConfig, id string) *configKeys {
	if ck, ok := h.byConfig[id]; ok {
		return ck
	}
	ck := &configKeys{keys: u.newSet()}
	for _, n := range h.names {
		canon := n
		if cfg != nil {
			spec, ok := cfg.Key(n)
			if !ok {
				ck.extra = append(ck.extra, n)
				continue
			}
			canon = spec.Name
		}
		// A file holding both a key and its alias: the canonical name wins; among aliases
		// only, the last in name order.
		if canon == n {
			delete(ck.rename, canon)
		} else if !ck.keys.has(canon) || ck.rename[canon] != "" {
			if ck.rename == nil {
				ck.rename = map[string]string{}
			}
			ck.rename[canon] = n
		}
		ck.keys.add(canon)
	}
	h.byConfig[id] = ck
	return ck
}

// resolveModels reads every model's header, infers configs the recipe does not name, maps
// file tensor names to config keys (aliases included), and returns the inputs in order.
func (c *compilation) resolveModels() pos.ErrorList {
	var errs pos.ErrorList
	u := newKeyUniverse()
	c.keys = &keyTable{u: u, sets: map[*ir.Value]keySet{}, models: map[*ir.Value]*modelKeys{}, reg: c.opts.Registry}
	byPath := map[string]int{}
	tables := map[unsafe.Pointer]*headerKeys{}
	if pf, ok := c.opts.Models.(ModelPrefetcher); ok {
		var paths []string
		for _, v := range c.fn.Values {
			if v.Op == ir.OpModel {
				paths = append(paths, v.Path)
			}
		}
		pf.Prefetch(paths)
	}
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
		h := tables[tableIdentity(info.Tensors)]
		if h == nil || info.Tensors == nil {
			h = &headerKeys{names: make([]string, 0, len(info.Tensors)), byConfig: map[string]*configKeys{}}
			for n := range info.Tensors {
				h.names = append(h.names, n)
			}
			sort.Strings(h.names)
			tables[tableIdentity(info.Tensors)] = h
		}
		names := h.names
		declared := v.Config != ""
		if !declared {
			cfg, err := h.infer(c.opts.Registry)
			if err != nil {
				errs.Addf(v.Pos, "%s: cannot tell the model config from its keys: %v (name one with model_config=)", v.Path, err)
				continue
			}
			v.Config = cfg.ID
			c.inferred = append(c.inferred, fmt.Sprintf("%s: inferred model config %s", v.Path, cfg.ID))
		}
		cfg, _ := c.opts.Registry.Config(v.Config)
		ck := h.inConfig(u, cfg, v.Config)
		extra := ck.extra
		if declared && 2*len(extra) > len(names) {
			msg := fmt.Sprintf("%s does not look like a %s model: %d of its %d tensors are not %s keys", v.Path, v.Config, len(extra), len(names), v.Config)
			if best, err := h.infer(c.opts.Registry); err == nil && best.ID != v.Config {
				msg += fmt.Sprintf(" (its keys match %s)", best.ID)
			}
			errs.Addf(v.Pos, "%s", msg)
			continue
		}
		if len(extra) > 0 {
			c.warnf("%s: %d tensor%s not in config %s ignored (first: %s)", v.Path, len(extra), plural(len(extra)), v.Config, extra[0])
		}
		c.keys.models[v] = &modelKeys{info: info, input: idx, keys: ck.keys, rename: ck.rename}
	}
	return errs
}

// computeKeySets applies each method's key rule bottom-up.
func (c *compilation) computeKeySets() {
	t := c.keys
	for _, v := range c.fn.Values {
		switch v.Op {
		case ir.OpModel:
			// Models are never changed in place: sets derived from them are new sets.
			s := t.u.newSet()
			if mk := t.models[v]; mk != nil {
				s = mk.keys
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
		s := t.u.newSet()
		for k := range in.keys() {
			if v.Def.KeepKey(k) {
				s.add(k)
			}
		}
		return s
	case ops.KeysFallback:
		a, d := t.sets[v.Args[0]], t.sets[v.Args[1]]
		if a.all || d.all {
			return keySet{all: true}
		}
		s := t.u.newSet()
		s.unionWith(a)
		s.unionWith(d)
		return s
	case ops.KeysPickComponent, ops.KeysOmitComponent:
		in := t.sets[v.Args[0]]
		cfg, _ := c.opts.Registry.Config(v.Args[0].Config)
		comp := componentArg(v)
		pick := v.Def.Keys == ops.KeysPickComponent
		s := t.u.newSet()
		if cfg == nil {
			return s
		}
		for _, spec := range cfg.Keys {
			if (spec.Component == comp) == pick && in.has(spec.Name) {
				s.add(spec.Name)
			}
		}
		return s
	}
	if c.unionKeys() {
		// 0.0.x engines: every key some input has; a merge missing an input's key is handled
		// per key by the era's Missing rule in code generation.
		s := t.u.newSet()
		for _, a := range tensorArgs() {
			if as := t.sets[a]; !as.all {
				s.unionWith(as)
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
			s = as.clone()
			continue
		}
		s.intersectWith(as)
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
	for k := range s.keys() {
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
