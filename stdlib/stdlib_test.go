package stdlib

import (
	"strings"
	"testing"

	"github.com/mechac/mechac/ops"
)

// The signatures, spaces, traits and key rules as sd-mecha 1.1.5 declares them (see
// /work/spec-parts/stdlib.md for the source lines).
func TestDefault(t *testing.T) {
	r := Default()
	if r != Default() {
		t.Error("Default is not cached")
	}
	for _, tc := range []struct {
		sig, spaces string
		traits      ops.Traits
		keys        ops.KeyRule
	}{
		{"weighted_sum(a: Tensor, b: Tensor, alpha: Tensor|float = 0.5)", "S:{weight|delta|param} S:{weight|delta|param} param -> S:{weight|delta|param}", ops.Elementwise, ops.KeysIntersect},
		{"add_difference(a: Tensor, b: Tensor, alpha: Tensor|float = 1.0)", "S:{weight|delta|param} delta param -> S:{weight|delta|param}", ops.Elementwise, ops.KeysIntersect},
		{"subtract(a: Tensor, b: Tensor)", "weight weight -> delta", ops.Elementwise, ops.KeysIntersect},
		{"scale(a: Tensor, alpha: Tensor|float = 1.0)", "delta param -> delta", ops.Elementwise, ops.KeysIntersect},
		{"n_average(*models: Tensor)", "*S:{weight|delta|param} -> S:{weight|delta|param}", ops.Elementwise, ops.KeysIntersect},
		{"fallback(a: Tensor, default: Tensor)", "S:{weight|delta|param} S:{weight|delta|param} -> S:{weight|delta|param}", ops.Routing, ops.KeysFallback},
		{"pick_component(a: Tensor, component: str)", "S:{weight|delta|param} param -> S:{weight|delta|param}", ops.Routing, ops.KeysPickComponent},
		{"omit_component(a: Tensor, component: str)", "S:{weight|delta|param} param -> S:{weight|delta|param}", ops.Routing, ops.KeysOmitComponent},
		{"cast(a: Tensor, device: str = null, dtype: str = null)", "S:{weight|delta|param} param param -> S:{weight|delta|param}", ops.Elementwise, ops.KeysIntersect},
		{"convert_singleton(singleton: Tensor)", "S:{weight|delta|param} -> S:{weight|delta|param}", ops.Routing, ops.KeysBroadcast},
	} {
		name := tc.sig[:strings.IndexByte(tc.sig, '(')]
		d, ok := r.Lookup(name)
		if !ok {
			t.Errorf("%s not registered", name)
			continue
		}
		if got := d.Signature(); got != tc.sig {
			t.Errorf("signature %s, want %s", got, tc.sig)
		}
		if got := spaces(d); got != tc.spaces {
			t.Errorf("%s spaces %s, want %s", name, got, tc.spaces)
		}
		if d.Traits != tc.traits || d.Keys != tc.keys {
			t.Errorf("%s: traits %v keys %v, want %v %v", name, d.Traits, d.Keys, tc.traits, tc.keys)
		}
	}
	runnable := 0
	for _, d := range defs {
		if d.Pending == "" {
			runnable++
		}
	}
	if len(r.Names()) != len(defs) || runnable < 10 {
		t.Errorf("%d methods registered, %d defined, %d with a kernel", len(r.Names()), len(defs), runnable)
	}
	if len(r.ConfigIDs()) != 17 {
		t.Errorf("configs %v", r.ConfigIDs())
	}
}

func spaces(d *ops.Def) string {
	one := func(s ops.Space, sym string) string {
		if s == 0 {
			s = ops.AnySpace
		}
		if sym != "" {
			return sym + ":" + s.String()
		}
		return s.String()
	}
	var parts []string
	for _, q := range d.Params {
		parts = append(parts, one(q.Spaces, q.Symbol))
	}
	if d.Varargs != nil {
		parts = append(parts, "*"+one(d.Varargs.Spaces, d.Varargs.Symbol))
	}
	return strings.Join(parts, " ") + " -> " + one(d.Returns, d.ReturnsSymbol)
}
