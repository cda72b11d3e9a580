package compiler

import (
	"reflect"
	"sort"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
)

// loadMap is how key tables were built before they were bitsets (canonical key -> the file's
// tensor name, one map a model): the reference inConfig must agree with.
func loadMap(cfg *ops.ModelConfig, names []string) (map[string]string, []string) {
	load := map[string]string{}
	var extra []string
	for _, n := range names {
		spec, ok := cfg.Key(n)
		if !ok {
			extra = append(extra, n)
			continue
		}
		if prev, dup := load[spec.Name]; dup && prev == spec.Name {
			continue
		}
		load[spec.Name] = n
	}
	return load, extra
}

// TestInConfigAliases: a file holding a key, an alias of it, both, or names the config does
// not know maps to the same tensors as the one-map-a-model tables did.
func TestInConfigAliases(t *testing.T) {
	reg := stdlib.Default()
	cfg, ok := reg.Config("sd1-ldm")
	if !ok {
		t.Fatal("no sd1-ldm config")
	}
	var key, alias string
	for _, k := range cfg.Keys {
		if len(k.Aliases) > 0 {
			key, alias = k.Name, k.Aliases[0]
			break
		}
	}
	if key == "" {
		t.Fatal("sd1-ldm has no aliased key")
	}
	other := cfg.Keys[0].Name
	for _, tc := range []struct {
		name  string
		names []string
		keep  bool // keep the order (the key before its alias) instead of sorting
	}{
		{"key", []string{key, other}, false},
		{"alias", []string{alias, other}, false},
		{"key and alias", []string{key, alias, other}, false},
		{"key then alias", []string{key, alias, other}, true},
		{"alias then key", []string{alias, key, other}, true},
		{"unknown names", []string{key, "not.a.key", "zz.other"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names := append([]string(nil), tc.names...)
			if !tc.keep {
				sort.Strings(names)
			}
			h := &headerKeys{names: names, byConfig: map[string]*configKeys{}}
			ck := h.inConfig(newKeyUniverse(), cfg, cfg.ID)
			want, wantExtra := loadMap(cfg, names)
			mk := &modelKeys{keys: ck.keys, rename: ck.rename}
			got := map[string]string{}
			for k := range ck.keys.keys() {
				n, ok := mk.tensor(k)
				if !ok {
					t.Fatalf("key %s in the set but tensor() says absent", k)
				}
				got[k] = n
			}
			if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(ck.extra, wantExtra) {
				t.Errorf("got %v extra %v, want %v extra %v", got, ck.extra, want, wantExtra)
			}
			if _, ok := mk.tensor("absent.key"); ok {
				t.Error("tensor() finds a key the file lacks")
			}
		})
	}
}

// TestKeySetOps: the bitset operations the key rules use.
func TestKeySetOps(t *testing.T) {
	u := newKeyUniverse()
	set := func(ks ...string) keySet {
		s := u.newSet()
		for _, k := range ks {
			s.add(k)
		}
		return s
	}
	list := func(s keySet) []string {
		var out []string
		for k := range s.keys() {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	a, b := set("a", "b", "c"), set("b", "c", "d")
	for _, tc := range []struct {
		name string
		got  keySet
		want []string
	}{
		{"union", func() keySet { s := a.clone(); s.unionWith(b); return s }(), []string{"a", "b", "c", "d"}},
		{"intersection", func() keySet { s := a.clone(); s.intersectWith(b); return s }(), []string{"b", "c"}},
		{"clone is separate", func() keySet { s := a.clone(); s.add("z"); return a }(), []string{"a", "b", "c"}},
		{"empty", u.newSet(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := list(tc.got); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if tc.got.len() != len(tc.want) {
				t.Errorf("len %d, want %d", tc.got.len(), len(tc.want))
			}
		})
	}
	if (keySet{}).has("a") || !(keySet{all: true}).has("anything") || !a.has("a") || a.has("d") || a.has("never.seen") {
		t.Error("has is wrong on the zero set, the set of all keys or a plain set")
	}
}
