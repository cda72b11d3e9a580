package ops

import (
	"fmt"
	"sort"
	"sync"
)

// Registry holds merge method definitions and model configs. The compiler and the VM receive
// one; package stdlib fills the default one, tests build tiny ones.
type Registry struct {
	defs    map[string]*Def // by FullName
	aliases map[string]string
	configs map[string]*ModelConfig
	eras    map[string]*Era
	// lazy holds configs registered by AddConfigLazy and not built yet; mu guards it and
	// configs while one is built.
	lazy map[string]func() (*ModelConfig, error)
	mu   sync.Mutex
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{defs: map[string]*Def{}, aliases: map[string]string{}, configs: map[string]*ModelConfig{},
		lazy: map[string]func() (*ModelConfig, error){}}
}

// Register adds a method definition. It fails on an invalid or duplicate definition.
func (r *Registry) Register(d *Def) error {
	if err := d.Validate(); err != nil {
		return err
	}
	if _, dup := r.defs[d.FullName()]; dup {
		return fmt.Errorf("method %s registered twice", d.FullName())
	}
	r.defs[d.FullName()] = d
	return nil
}

// MustRegister is Register for package initialisation: it panics on a programming error.
func (r *Registry) MustRegister(ds ...*Def) {
	for _, d := range ds {
		if err := r.Register(d); err != nil {
			panic(err)
		}
	}
}

// Alias makes name resolve to the definition registered as target (a FullName).
func (r *Registry) Alias(name, target string) { r.aliases[name] = target }

// Lookup finds a method by name (or name@era, or an alias).
func (r *Registry) Lookup(name string) (*Def, bool) {
	if d, ok := r.defs[name]; ok {
		return d, true
	}
	if t, ok := r.aliases[name]; ok {
		d, ok := r.defs[t]
		return d, ok
	}
	return nil, false
}

// Names returns the registered method names (FullNames), sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.defs))
	for n := range r.defs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Defs returns every definition, sorted by FullName.
func (r *Registry) Defs() []*Def {
	var ds []*Def
	for _, n := range r.Names() {
		ds = append(ds, r.defs[n])
	}
	return ds
}

// Suggest returns the registered name closest to name (for "did you mean"), or "".
func (r *Registry) Suggest(name string) string {
	cands := r.Names()
	for a := range r.aliases {
		cands = append(cands, a)
	}
	return Nearest(name, cands)
}

// AddConfig registers a model config.
func (r *Registry) AddConfig(c *ModelConfig) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.configs[c.ID]; dup {
		return fmt.Errorf("model config %s registered twice", c.ID)
	}
	if _, dup := r.lazy[c.ID]; dup {
		return fmt.Errorf("model config %s registered twice", c.ID)
	}
	if err := c.init(); err != nil {
		return err
	}
	r.configs[c.ID] = c
	return nil
}

// AddConfigLazy registers a model config that build makes the first time it is needed (Config
// of its id, or Configs): configs generated from others (stdlib's LoRA key sets, ~2 MiB each)
// that most runs never use would otherwise be live heap in every process.
func (r *Registry) AddConfigLazy(id string, build func() (*ModelConfig, error)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.configs[id]; dup {
		return fmt.Errorf("model config %s registered twice", id)
	}
	if _, dup := r.lazy[id]; dup {
		return fmt.Errorf("model config %s registered twice", id)
	}
	r.lazy[id] = build
	return nil
}

// Config finds a model config by identifier (building it if it was registered lazily; a build
// error panics: it is a programming error in the registering package, caught by its tests).
func (r *Registry) Config(id string) (*ModelConfig, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.configs[id]; ok {
		return c, true
	}
	build, ok := r.lazy[id]
	if !ok {
		return nil, false
	}
	return r.buildLocked(id, build), true
}

// buildLocked builds a lazily registered config (r.mu held).
func (r *Registry) buildLocked(id string, build func() (*ModelConfig, error)) *ModelConfig {
	c, err := build()
	if err == nil && c.ID != id {
		err = fmt.Errorf("built config %s for identifier %s", c.ID, id)
	}
	if err == nil {
		err = c.init()
	}
	if err != nil {
		panic(fmt.Sprintf("model config %s: %v", id, err))
	}
	delete(r.lazy, id)
	r.configs[id] = c
	return c
}

// Configs returns every config, sorted by identifier (building the lazy ones).
func (r *Registry) Configs() []*ModelConfig {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, build := range r.lazy {
		r.buildLocked(id, build)
	}
	var cs []*ModelConfig
	for _, c := range r.configs {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].ID < cs[j].ID })
	return cs
}

// ConfigIDs returns the config identifiers, sorted (without building lazy configs).
func (r *Registry) ConfigIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.configs)+len(r.lazy))
	for id := range r.configs {
		ids = append(ids, id)
	}
	for id := range r.lazy {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Nearest returns the candidate with the smallest edit distance to s, if it is close enough
// to be a plausible typo (distance at most half of s's length, at least 1 allowed... ) or "".
func Nearest(s string, cands []string) string {
	best, bestD := "", -1
	for _, c := range cands {
		d := editDistance(s, c)
		if bestD < 0 || d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD > (len(s)+1)/2+1 {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
