package ops

import (
	"fmt"
	"sort"
	"strings"
)

// Era is a span of sd-mecha history in which recipes meant the same thing: the same
// dialect, the same engine rules (which keys exist, what a missing key does, how scalars are
// typed) and the same math for each method name. Methods whose math changed have one Def per
// era (Def.Era); an era looks a method up along its Chain, newest first, ending at today's "".
type Era struct {
	ID      string
	Version string // sd-mecha version, e.g. "0.0.9", "fork-0.0.26"
	Dialect string // "A", "B" or "C"
	// Commits are the sd-mecha commits (short hashes) of this era, as recipe file names cite them.
	Commits []string
	// Chain lists the era names to try when looking a method up, most specific first; "" (today)
	// is always tried last.
	Chain  []string
	Engine Engine
	Doc    string
}

// MissingRule says what a merge does for a key one of its inputs lacks.
type MissingRule uint8

const (
	// MissingDrops: the merge lacks the key too (sd-mecha 0.1+: intersection, fallback catches).
	MissingDrops MissingRule = iota
	// MissingPassthrough: the whole key is copied from the first model (left-first DFS from the
	// root) that has it (sd-mecha 0.0.4 .. 0.0.18).
	MissingPassthrough
	// MissingFirstChild: the merge returns its first input that has the key in the same merge
	// space, else the passthrough value (sd-mecha 0.0.19 on).
	MissingFirstChild
)

// ScalarRounding says which recipe scalars are rounded to float32 in sd-mecha numerics.
type ScalarRounding uint8

const (
	// RoundTensorHypers: numbers bound to Tensor-typed hyper-parameters (sd-mecha 1.1.x).
	RoundTensorHypers ScalarRounding = iota
	// RoundNone: every scalar is an exact Python number (0.0.x).
	RoundNone
	// RoundAllScalars: every number is a float32 tensor first, then coerced (sd-mecha 1.0.x).
	RoundAllScalars
)

// Engine holds the rules of an era's merge engine that are not any one method's math.
type Engine struct {
	// UnionKeys: the output has the union of the inputs' keys (restricted to the config), and
	// Missing says what a merge does with a key an input lacks. false: sd-mecha 1.x key rules.
	UnionKeys bool
	Missing   MissingRule
	// Passthrough reports keys that are never merged: copied from the first model having them.
	Passthrough func(key string, shape []int) bool
	// KeepKey, when set, drops the keys it rejects (unless passthrough) from a union output.
	KeepKey func(key string) bool
	// Hyper resolves a dict hyper-parameter for one key (name/value pairs in recipe order);
	// ok=false means the dict has no value for the key (a KeyError in that era).
	Hyper func(names []string, values []Value, key string) (v Value, ok bool)
	// ValidateHyper, when set, checks a dict's names at compile time.
	ValidateHyper func(names []string) error
	// Scalars says how recipe scalars are typed in sd-mecha numerics.
	Scalars ScalarRounding
	// OmitNonFinite: an input tensor with NaN/Inf counts as missing (1.1.x).
	OmitNonFinite bool
	// NanToNumOutput: non-finite output values become 0 / ±max (the fork's 3e3aea3).
	NanToNumOutput bool
	// IgnoreUnknownKeywords: merge lines may carry keywords the method lacks (0.0.x wrappers
	// took **kwargs and dropped them).
	IgnoreUnknownKeywords bool
}

// AddEra registers an era.
func (r *Registry) AddEra(e *Era) error {
	if r.eras == nil {
		r.eras = map[string]*Era{}
	}
	if _, dup := r.eras[e.ID]; dup {
		return fmt.Errorf("era %s registered twice", e.ID)
	}
	r.eras[e.ID] = e
	return nil
}

// Era finds an era by ID, sd-mecha version or commit (a prefix of at least 7 hex digits).
func (r *Registry) Era(name string) (*Era, bool) {
	if e, ok := r.eras[name]; ok {
		return e, true
	}
	for _, e := range r.Eras() {
		if e.Version == name {
			return e, true
		}
		for _, c := range e.Commits {
			if len(name) >= 7 && (strings.HasPrefix(c, name) || strings.HasPrefix(name, c)) {
				return e, true
			}
		}
	}
	return nil, false
}

// Eras returns every era sorted by ID.
func (r *Registry) Eras() []*Era {
	var out []*Era
	for _, e := range r.eras {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// LookupIn finds the definition of a method in an era: name@x for each x of the era's chain,
// then today's name (and aliases). A nil era means today.
func (r *Registry) LookupIn(name string, e *Era) (*Def, bool) {
	if e != nil {
		for _, x := range e.Chain {
			if d, ok := r.defs[name+"@"+x]; ok {
				return d, true
			}
		}
	}
	return r.Lookup(name)
}
