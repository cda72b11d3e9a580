package stdlib

import (
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/mechac/mechac/ops"
)

// LoRA / LyCORIS: sd-mecha 1.1.5 extensions/builtin/lycoris.py. For each of the base configs
// sdxl-kohya, sdxl-kohya_but_diffusers and sd1-kohya, two generated configs:
// <base>_kohya_lora (key prefix "lora") and <base>_lycoris_lora (prefix "lycoris"). Every base
// key that is not a bias, has a float dtype and at least 2 declared dims gets, per algorithm
// (LoRA then LoKr), the keys <prefix>_<key without ".weight", dots as "_">.<suffix>, all
// optional, of the base key's dtype, shape [] for alpha and unknown otherwise.
//
// convert_'<lora config>'_to_base turns such a file into a delta of the base config: for each
// base key, the first of sd-mecha's alternatives (its clauses, in its order) whose keys the
// file has:
//   - LoRA: up, down, optional Tucker mid, optional alpha: up.view(out, -1) @ down.view(r, -1)
//     (with mid: einsum("i j ..., i p, j r -> p r ...", mid, up2d^T, down2d)), times alpha / r
//     (r = down.shape[0]) when alpha is present, reshaped to the base key's declared shape;
//   - LoKr: w1 (or w1_a @ w1_b), w2 (or w2_a @ w2_b.flatten(1), or the Tucker rebuild of t2,
//     w2_a, w2_b), optional alpha: kron(w1 unsqueezed to w2's dims, w2) times alpha / dim when
//     alpha is present and finite and a factorized part gives dim (w1_b.shape[0], else
//     w2_b.shape[0]), reshaped to the declared shape.
//
// The declared shape is the base config's (real model) shape: sd-mecha's quirk, reproduced (on
// the mini golden models only the keys whose mini shape is the real one convert).
//
// The compiler picks the alternative (Def.MapKeysAlt) and passes its index in Call.Alt; the
// output shape depends on the key (Def.OutShapeKey). Extraction, the other direction, is in
// lora_extract.go.

// loraAlgo is one LyCORIS algorithm of sd-mecha (registry order: LoRA, LoKr).
type loraAlgo struct {
	name     string
	suffixes []string
}

var loraAlgos = []loraAlgo{
	{"lora", []string{"lora_up.weight", "lora_mid.weight", "lora_down.weight", "alpha"}},
	{"lokr", []string{"lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b", "lokr_t2", "alpha"}},
}

// loraFlavour is kohya ("lora" prefix) or lycoris.
type loraFlavour struct{ id, prefix string }

var loraFlavours = []loraFlavour{{"lycoris", "lycoris"}, {"kohya", "lora"}}

var loraBases = []string{"sdxl-kohya", "sdxl-kohya_but_diffusers", "sd1-kohya"}

// loraStem is the key stem of a base key, or "" when the key gets no LoRA keys.
func loraStem(k ops.KeySpec) string {
	if strings.HasSuffix(k.Name, "bias") || !k.DType.IsFloat() || (k.Shape != nil && len(k.Shape) < 2) {
		return ""
	}
	parts := strings.Split(k.Name, ".")
	if parts[len(parts)-1] == "weight" {
		parts = parts[:len(parts)-1]
	}
	return strings.Join(parts, "_")
}

// loraConfig is one generated config and what its conversion needs.
type loraConfig struct {
	id     string
	prefix string
	base   *ops.ModelConfig
}

// loraConfigs returns the six generated configs' descriptions, built once.
var loraConfigs = sync.OnceValue(func() []*loraConfig {
	var out []*loraConfig
	for _, f := range loraFlavours {
		for _, b := range loraBases {
			out = append(out, &loraConfig{id: b + "_" + f.id + "_lora", prefix: f.prefix, base: loadConfig(b)})
		}
	}
	return out
})

func findLoraConfig(id string) *loraConfig {
	for _, c := range loraConfigs() {
		if c.id == id {
			return c
		}
	}
	panic("no LoRA config " + id)
}

// ModelConfig generates the config (sd-mecha's LycorisModelConfig.create_config).
func (l *loraConfig) ModelConfig() *ops.ModelConfig {
	c := &ops.ModelConfig{ID: l.id, Components: append([]string{}, l.base.Components...)}
	seen := map[string]bool{}
	for _, k := range l.base.Keys {
		stem := loraStem(k)
		if stem == "" {
			continue
		}
		for _, a := range loraAlgos {
			for _, s := range a.suffixes {
				name := l.prefix + "_" + stem + "." + s
				if seen[name] {
					continue
				}
				seen[name] = true
				var shape []int
				if s == "alpha" {
					shape = []int{}
				}
				c.Keys = append(c.Keys, ops.KeySpec{Name: name, Component: k.Component, Shape: shape, DType: k.DType, Optional: true})
			}
		}
	}
	return c
}

// RegisterLoRAConfigs adds the six generated LoRA/LyCORIS configs to r, each built when first
// needed (ops.Registry.AddConfigLazy): ~12 MiB of key tables that a merge of full models never
// reads.
func RegisterLoRAConfigs(r *ops.Registry) error {
	for _, f := range loraFlavours {
		for _, b := range loraBases {
			id := b + "_" + f.id + "_lora"
			err := r.AddConfigLazy(id, func() (*ops.ModelConfig, error) {
				for _, l := range loraConfigs() {
					if l.id == id {
						return l.ModelConfig(), nil
					}
				}
				return nil, fmt.Errorf("no LoRA config %s", id)
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// mustRegisterLoRAConfigs is RegisterLoRAConfigs for Default.
func mustRegisterLoRAConfigs(r *ops.Registry) {
	if err := RegisterLoRAConfigs(r); err != nil {
		panic(err)
	}
}

// loraAlt is one alternative: which inputs, in the order MapKeysAlt lists their keys.
type loraAlt struct {
	lokr bool
	// LoRA: up, down always; mid, alpha optional.
	mid, alpha bool
	// LoKr: w1 full or factorized (w1_a, w1_b); w2 "full", "fact" (w2_a, w2_b) or "tucker"
	// (w2_a, w2_b, t2).
	w1Fact bool
	w2     string
}

// loraAlts are sd-mecha's clauses for one base key, in its preference order: LoRA
// (mid+alpha, mid, alpha, plain), then LoKr (w1 full, factorized) x (w2 tucker, full,
// factorized) x (alpha, none).
var loraAlts = func() []loraAlt {
	var out []loraAlt
	for _, mid := range []bool{true, false} {
		for _, alpha := range []bool{true, false} {
			out = append(out, loraAlt{mid: mid, alpha: alpha})
		}
	}
	for _, w1Fact := range []bool{false, true} {
		for _, w2 := range []string{"tucker", "full", "fact"} {
			for _, alpha := range []bool{true, false} {
				out = append(out, loraAlt{lokr: true, w1Fact: w1Fact, w2: w2, alpha: alpha})
			}
		}
	}
	return out
}()

// suffixes lists the alternative's input keys' suffixes, in the kernel's order.
func (a loraAlt) suffixes() []string {
	var s []string
	if !a.lokr {
		s = []string{"lora_up.weight", "lora_down.weight"}
		if a.mid {
			s = append(s, "lora_mid.weight")
		}
	} else {
		if a.w1Fact {
			s = append(s, "lokr_w1_a", "lokr_w1_b")
		} else {
			s = append(s, "lokr_w1")
		}
		switch a.w2 {
		case "full":
			s = append(s, "lokr_w2")
		case "fact":
			s = append(s, "lokr_w2_a", "lokr_w2_b")
		case "tucker":
			s = append(s, "lokr_w2_a", "lokr_w2_b", "lokr_t2")
		}
	}
	if a.alpha {
		s = append(s, "alpha")
	}
	return s
}

// mapKeysAlt returns, for a base key, the input keys of every alternative (one list per
// alternative, for the one tensor parameter).
func (l *loraConfig) mapKeysAlt(out string) ([][][]string, bool) {
	spec, ok := l.base.Key(out)
	if !ok || spec.Name != out {
		return nil, false
	}
	stem := loraStem(*spec)
	if stem == "" {
		return nil, false
	}
	alts := make([][][]string, len(loraAlts))
	for i, a := range loraAlts {
		var keys []string
		for _, s := range a.suffixes() {
			keys = append(keys, l.prefix+"_"+stem+"."+s)
		}
		alts[i] = [][]string{keys}
	}
	return alts, true
}

// declaredShape is the base key's declared shape.
func (l *loraConfig) declaredShape(key string) ([]int, error) {
	spec, ok := l.base.Key(key)
	if !ok {
		return nil, fmt.Errorf("no key %s in %s", key, l.base.ID)
	}
	return spec.Shape, nil
}

// outShape is the delta's shape for key: the declared shape, which must hold the composed
// tensor's elements (torch's reshape).
func (l *loraConfig) outShape(key string, alt int, ts []*ops.Tensor) ([]int, error) {
	if alt < 0 || alt >= len(loraAlts) {
		return nil, fmt.Errorf("no alternative %d", alt)
	}
	natural, err := loraAlts[alt].shape(ts)
	if err != nil {
		return nil, err
	}
	want, err := l.declaredShape(key)
	if err != nil {
		return nil, err
	}
	if ops.NumElements(want) != ops.NumElements(natural) {
		return nil, fmt.Errorf("shape %s is invalid for input of size %d (key %s: the composed delta is %s)",
			ops.FormatShape(want), ops.NumElements(natural), key, ops.FormatShape(natural))
	}
	return append([]int{}, want...), nil
}

// --- composition ---

// lmat is a 2-D view of a tensor.
type lmat struct {
	r, c int
	d    []float64
}

// view2D is t.view(t.shape[0], -1).
func view2D(t *ops.Tensor) (lmat, error) {
	if len(t.Shape) == 0 {
		return lmat{}, fmt.Errorf("a 0-dim factor")
	}
	r := t.Shape[0]
	if r == 0 {
		return lmat{r: 0, c: 0, d: t.Data}, nil
	}
	return lmat{r: r, c: len(t.Data) / r, d: t.Data}, nil
}

// matmul is a @ b with each element summed over k in order (an exact sum for fp16 factors).
func matmul(a, b lmat) (lmat, error) {
	if a.c != b.r {
		return lmat{}, fmt.Errorf("mat1 and mat2 shapes cannot be multiplied (%dx%d and %dx%d)", a.r, a.c, b.r, b.c)
	}
	out := lmat{r: a.r, c: b.c, d: make([]float64, a.r*b.c)}
	for i := range a.r {
		for j := range b.c {
			s := 0.0
			for k := range a.c {
				s = math.FMA(a.d[i*a.c+k], b.d[k*b.c+j], s)
			}
			out.d[i*b.c+j] = s
		}
	}
	return out, nil
}

// tucker is einsum("i j ..., i p, j r -> p r ...", t, wa, wb), contracted as torch does: first
// over i, then over j. Returns the data and the shape [p, r, ...].
func tucker(t *ops.Tensor, wa, wb lmat) ([]float64, []int, error) {
	if len(t.Shape) < 2 || t.Shape[0] != wa.r || t.Shape[1] != wb.r {
		return nil, nil, fmt.Errorf("einsum operands do not match: %s, %dx%d, %dx%d", ops.FormatShape(t.Shape), wa.r, wa.c, wb.r, wb.c)
	}
	I, J, P, R := t.Shape[0], t.Shape[1], wa.c, wb.c
	rest := ops.NumElements(t.Shape[2:])
	// tmp[j, e, p] = sum_i t[i, j, e] wa[i, p]
	tmp := make([]float64, J*rest*P)
	for j := range J {
		for e := range rest {
			for p := range P {
				s := 0.0
				for i := range I {
					s = math.FMA(t.Data[(i*J+j)*rest+e], wa.d[i*P+p], s)
				}
				tmp[(j*rest+e)*P+p] = s
			}
		}
	}
	out := make([]float64, P*R*rest)
	for p := range P {
		for r := range R {
			for e := range rest {
				s := 0.0
				for j := range J {
					s = math.FMA(tmp[(j*rest+e)*P+p], wb.d[j*R+r], s)
				}
				out[(p*R+r)*rest+e] = s
			}
		}
	}
	return out, append([]int{P, R}, t.Shape[2:]...), nil
}

// kron is torch.kron of same-rank tensors (the lower-rank one padded with unit dims: w1 at the
// end, as sd-mecha's unsqueeze(-1) loop, w2 at the front, as torch.kron).
func kron(a, b *ops.Tensor) *ops.Tensor {
	as, bs := append([]int{}, a.Shape...), append([]int{}, b.Shape...)
	for len(as) < len(bs) {
		as = append(as, 1)
	}
	for len(bs) < len(as) {
		bs = append([]int{1}, bs...)
	}
	n := len(as)
	shape := make([]int, n)
	for i := range n {
		shape[i] = as[i] * bs[i]
	}
	out := &ops.Tensor{Shape: shape, Data: make([]float64, ops.NumElements(shape))}
	ai, bi := make([]int, n), make([]int, n)
	for o := range out.Data {
		// decompose o into the output index, then into a and b indices.
		rem := o
		for d := n - 1; d >= 0; d-- {
			x := rem % shape[d]
			rem /= shape[d]
			ai[d], bi[d] = x/bs[d], x%bs[d]
		}
		ao, bo := 0, 0
		for d := range n {
			ao = ao*as[d] + ai[d]
			bo = bo*bs[d] + bi[d]
		}
		out.Data[o] = a.Data[ao] * b.Data[bo]
	}
	return out
}

// compose computes the delta of one alternative (before the reshape to the declared shape).
func (a loraAlt) compose(ts []*ops.Tensor) (*ops.Tensor, error) {
	if len(ts) != len(a.suffixes()) {
		return nil, fmt.Errorf("%d inputs for %d keys", len(ts), len(a.suffixes()))
	}
	var alpha *ops.Tensor
	if a.alpha {
		alpha = ts[len(ts)-1]
		if len(alpha.Data) != 1 {
			return nil, fmt.Errorf("alpha has %d elements", len(alpha.Data))
		}
	}
	var delta *ops.Tensor
	scale, scaled := 0.0, false
	if !a.lokr {
		up, err := view2D(ts[0])
		if err != nil {
			return nil, err
		}
		down, err := view2D(ts[1])
		if err != nil {
			return nil, err
		}
		if a.mid {
			wa := lmat{r: up.c, c: up.r, d: make([]float64, len(up.d))} // up2d^T
			for i := range up.r {
				for j := range up.c {
					wa.d[j*up.r+i] = up.d[i*up.c+j]
				}
			}
			d, shape, err := tucker(ts[2], wa, down)
			if err != nil {
				return nil, err
			}
			delta = &ops.Tensor{Shape: shape, Data: d}
		} else {
			m, err := matmul(up, down)
			if err != nil {
				return nil, err
			}
			delta = &ops.Tensor{Shape: []int{m.r, m.c}, Data: m.d}
		}
		if alpha != nil {
			scale, scaled = alpha.Data[0]/float64(ts[1].Shape[0]), true
		}
	} else {
		i := 0
		var w1 *ops.Tensor
		dim := -1
		if a.w1Fact {
			wa, err := view2D(ts[0])
			if err != nil {
				return nil, err
			}
			wb, err := view2D(ts[1])
			if err != nil {
				return nil, err
			}
			if len(ts[0].Shape) != 2 || len(ts[1].Shape) != 2 {
				return nil, fmt.Errorf("lokr_w1_a and lokr_w1_b must be 2-D")
			}
			m, err := matmul(wa, wb)
			if err != nil {
				return nil, err
			}
			w1, dim, i = &ops.Tensor{Shape: []int{m.r, m.c}, Data: m.d}, ts[1].Shape[0], 2
		} else {
			w1, i = ts[0], 1
		}
		var w2 *ops.Tensor
		switch a.w2 {
		case "full":
			w2 = ts[i]
		case "fact":
			wa, err := view2D(ts[i])
			if err != nil {
				return nil, err
			}
			if len(ts[i].Shape) != 2 {
				return nil, fmt.Errorf("lokr_w2_a must be 2-D")
			}
			wbT := ts[i+1]
			wb := lmat{r: 1, c: len(wbT.Data), d: wbT.Data} // a 1-D w2_b stays 1-D: a matrix-vector product
			if len(wbT.Shape) > 1 {
				if wb, err = view2D(wbT); err != nil {
					return nil, err
				}
			}
			if len(wbT.Shape) <= 1 {
				m, err := matmul(wa, lmat{r: len(wbT.Data), c: 1, d: wbT.Data})
				if err != nil {
					return nil, err
				}
				w2 = &ops.Tensor{Shape: []int{m.r}, Data: m.d}
			} else {
				m, err := matmul(wa, wb)
				if err != nil {
					return nil, err
				}
				w2 = &ops.Tensor{Shape: []int{m.r, m.c}, Data: m.d}
			}
			if dim < 0 && len(wbT.Shape) > 0 {
				dim = wbT.Shape[0]
			}
		case "tucker":
			wa, err := view2D(ts[i])
			if err != nil {
				return nil, err
			}
			wb, err := view2D(ts[i+1])
			if err != nil {
				return nil, err
			}
			d, shape, err := tucker(ts[i+2], wa, wb)
			if err != nil {
				return nil, err
			}
			w2 = &ops.Tensor{Shape: shape, Data: d}
			if dim < 0 {
				dim = ts[i+1].Shape[0]
			}
		}
		delta = kron(w1, w2)
		if alpha != nil && dim >= 0 && !math.IsInf(alpha.Data[0], 0) && !math.IsNaN(alpha.Data[0]) {
			scale, scaled = alpha.Data[0]/float64(dim), true
		}
	}
	if scaled {
		for j, x := range delta.Data {
			delta.Data[j] = x * scale
		}
	}
	return delta, nil
}

// shape is the composed delta's shape, from the input shapes alone.
func (a loraAlt) shape(ts []*ops.Tensor) ([]int, error) {
	probe := make([]*ops.Tensor, len(ts))
	for i, t := range ts {
		probe[i] = &ops.Tensor{Shape: t.Shape, Data: make([]float64, ops.NumElements(t.Shape))}
	}
	d, err := a.compose(probe)
	if err != nil {
		return nil, err
	}
	return d.Shape, nil
}

// callAlt is the alternative the compiler chose for this call.
func callAlt(c *ops.Call) int { return c.Alt }

// loraToBase defines convert_'<lora config>'_to_base.
func loraToBase(id string) *ops.Def {
	name := fmt.Sprintf("convert_'%s'_to_base", id)
	l := func() *loraConfig { return findLoraConfig(id) }
	base := strings.TrimSuffix(strings.TrimSuffix(id, "_kohya_lora"), "_lycoris_lora")
	return define(&ops.Def{
		Name:    name,
		Params:  []ops.Param{{Name: "lora", Type: ops.TensorIn, Spaces: ops.WeightSpace}},
		Returns: ops.DeltaSpace,
		Traits:  ops.Routing,
		Keys:    ops.KeysMapped,
		Formula: "delta[key] = reshape(up @ down * alpha/rank | tucker(mid, up, down) | kron(w1, w2) * alpha/dim, declared shape)",
		Doc: fmt.Sprintf("Turns a %s file (LoRA: up/down, optional Tucker lora_mid and alpha; LoKr: full or "+
			"factorized w1/w2, Tucker t2, alpha) into a delta of %s, each key reshaped to the config's "+
			"declared shape.", id, base),
		OutConfig: func(in []string) (string, error) {
			if len(in) == 1 && in[0] != "" && in[0] != id {
				return "", fmt.Errorf("its input must be a %s model, not %s", id, in[0])
			}
			return base, nil
		},
		MapKeysAlt: func(out string) ([][][]string, bool) { return l().mapKeysAlt(out) },
		OutShapeKey: func(key string, alt int, args, _, _ []ops.Value) ([]int, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("want the LoRA tensors of one key")
			}
			return l().outShape(key, alt, args[0].Ts)
		},
		Kernel: func(c *ops.Call) error {
			if len(c.Args) != 1 || c.Args[0].Kind != ops.KindTensorList {
				return fmt.Errorf("%s: want the LoRA tensors of one key", name)
			}
			return loraKernel(l(), c.Key, callAlt(c), c.Args[0].Ts, c.Out)
		},
	})
}

// loraKernel composes the delta of alternative alt for base key key into out.
func loraKernel(l *loraConfig, key string, alt int, ts []*ops.Tensor, out *ops.Tensor) error {
	if alt < 0 || alt >= len(loraAlts) {
		return fmt.Errorf("key %s: no alternative chosen", key)
	}
	d, err := loraAlts[alt].compose(ts)
	if err != nil {
		return fmt.Errorf("key %s: %v", key, err)
	}
	if len(d.Data) != len(out.Data) {
		return fmt.Errorf("key %s: delta has %d elements, the output %d", key, len(d.Data), len(out.Data))
	}
	copy(out.Data, d.Data)
	out.DType = ops.F64
	return nil
}

// loraToBaseDefs are the six conversions, kohya configs after lycoris ones.
var loraToBaseDefs = func() []*ops.Def {
	var out []*ops.Def
	for _, f := range loraFlavours {
		for _, b := range loraBases {
			out = append(out, loraToBase(b+"_"+f.id+"_lora"))
		}
	}
	return out
}()
