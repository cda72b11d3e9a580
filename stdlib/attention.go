package stdlib

import (
	"fmt"
	"math"
	"regexp"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib/configs"
)

// Attention family: sd-mecha 1.1.5 merge_methods/balance_attention/ (interface.py, sdxl_sgm.py,
// algorithms.py).
//
// sd-mecha declares `balance_attention(a)` as an interface (is_interface=True) and registers
// one implementation, `balance_attention_sdxl_sgm`, for model config sdxl-sgm; a recipe naming
// the interface is dispatched on the model config of `a`. mechac has no interfaces: both names
// are registered with the same kernel, and any config other than sdxl-sgm is refused at compile
// time (sd-mecha finds no implementation for it).
//
// Key mapping (SdxlSgmAttentionBase.map_keys): the sdxl-sgm keys are grouped per attention layer
// by four regexes (CLIP-L self_attn, CLIP-G attn, VAE mid attn_1, UNet transformer attn1/attn2),
// each group excluding its output-projection bias; every other key is its own group. A group of
// one key is returned unchanged. The VAE regex's second capture holds the parameter name, so
// every VAE key is its own group: sd-mecha leaves the VAE attention unchanged.

var (
	attnCLIPL = regexp.MustCompile(`layers\.(\d+)\.self_attn\.(.+)`)
	attnCLIPG = regexp.MustCompile(`resblocks\.(\d+)\.attn\.(.+)`)
	attnVAE   = regexp.MustCompile(`\.([a-z]+)\.mid\.attn_1\.(.+)`)
	attnUNet  = regexp.MustCompile(`\.([a-z]+)_blocks?\.(\d+\.)(?:\d+\.)?transformer_blocks\.(\d+)\.attn([12])\.(.+)`)
)

// attnGroups maps every sdxl-sgm key to its group (config order), built once.
var attnGroups = sync.OnceValues(func() (map[string][]string, error) {
	cfg, err := configs.Load("sdxl-sgm")
	if err != nil {
		return nil, err
	}
	groups := map[string][]string{} // layer id -> keys
	var order []string
	out := make(map[string][]string, len(cfg.Keys))
	for _, spec := range cfg.Keys {
		key := spec.Name
		id := ""
		if m := attnCLIPL.FindStringSubmatch(key); m != nil && m[2] != "out_proj.bias" {
			id = "clip_l\x00" + m[1]
		} else if m := attnCLIPG.FindStringSubmatch(key); m != nil && m[2] != "out_proj.bias" {
			id = "clip_g\x00" + m[1]
		} else if m := attnVAE.FindStringSubmatch(key); m != nil && m[2] != "proj_out.bias" {
			id = "vae\x00" + m[1] + "\x00" + m[2]
		} else if m := attnUNet.FindStringSubmatch(key); m != nil && m[5] != "to_out.0.bias" {
			id = "unet\x00" + m[1] + "\x00" + m[2] + "\x00" + m[3] + "\x00" + m[4]
		}
		if id == "" {
			out[key] = []string{key}
			continue
		}
		if _, ok := groups[id]; !ok {
			order = append(order, id)
		}
		groups[id] = append(groups[id], key)
	}
	for _, id := range order {
		for _, k := range groups[id] {
			out[k] = groups[id]
		}
	}
	return out, nil
})

// attnRequest returns the keys the kernel reads for outKey: outKey first, then the rest of its
// group in config order (so OutShape finds the output's own shape first), and the group itself.
func attnRequest(outKey string) (read, group []string, ok bool) {
	groups, err := attnGroups()
	if err != nil {
		return nil, nil, false
	}
	group, ok = groups[outKey]
	if !ok {
		return nil, nil, false
	}
	read = append(read, outKey)
	for _, k := range group {
		if k != outKey {
			read = append(read, k)
		}
	}
	return read, group, true
}

// attnKind is the sub-model of an sdxl-sgm key (sd-mecha's is_clip_l / is_clip_g / is_vae /
// is_unet prefix tests).
func attnKind(key string) string {
	switch {
	case hasPrefix(key, "conditioner.embedders.0"):
		return "clip_l"
	case hasPrefix(key, "conditioner.embedders.1"):
		return "clip_g"
	case hasPrefix(key, "first_stage_model"):
		return "vae"
	case hasPrefix(key, "model.diffusion_model"):
		return "unet"
	}
	return ""
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// attnHeadRows is sd-mecha's hard-coded head height: q/k/v/o are unflattened into heads of 64
// rows whatever the model's real head width.
const attnHeadRows = 64

// attnCheckShapes checks, from shapes alone, that a group fits sd-mecha's unpacking and head
// split (so that a model whose attention is not a multiple of 64 wide is refused at compile
// time with the reason, where sd-mecha fails with a torch shape error).
func attnCheckShapes(group []string, shapes map[string][]int) error {
	if len(group) == 1 {
		return nil
	}
	rows := func(k string, fused int) error {
		s := shapes[k]
		if len(s) != 2 {
			return fmt.Errorf("%s has shape %v, want a matrix", k, s)
		}
		if s[0]%(attnHeadRows*fused) != 0 {
			return fmt.Errorf("%s has %d rows: sd-mecha splits attention projections into heads of %d rows "+
				"(hard-coded), so it needs a multiple of %d", k, s[0], attnHeadRows, attnHeadRows*fused)
		}
		return nil
	}
	vec := func(k string, n int) error {
		if s := shapes[k]; len(s) != 1 || s[0] != n {
			return fmt.Errorf("%s has shape %v, want [%d]", k, s, n)
		}
		return nil
	}
	switch attnKind(group[0]) {
	case "clip_l", "vae":
		if len(group) != 7 {
			return fmt.Errorf("attention group of %d keys, sd-mecha unpacks 7", len(group))
		}
		kb, k, o, qb, q, vb, v := group[0], group[1], group[2], group[3], group[4], group[5], group[6]
		for _, w := range []string{k, q, v} {
			if err := rows(w, 1); err != nil {
				return err
			}
		}
		for _, p := range [][2]string{{k, kb}, {q, qb}, {v, vb}} {
			if err := vec(p[1], shapes[p[0]][0]); err != nil {
				return err
			}
		}
		return attnCheckOut(o, shapes[o], shapes[q][0], shapes[v][0])
	case "clip_g":
		if len(group) != 3 {
			return fmt.Errorf("attention group of %d keys, sd-mecha unpacks 3", len(group))
		}
		b, w, o := group[0], group[1], group[2]
		if err := rows(w, 3); err != nil {
			return err
		}
		if err := vec(b, shapes[w][0]); err != nil {
			return err
		}
		return attnCheckOut(o, shapes[o], shapes[w][0]/3, shapes[w][0]/3)
	case "unet":
		if len(group) != 4 {
			return fmt.Errorf("attention group of %d keys, sd-mecha unpacks 4", len(group))
		}
		k, o, q, v := group[0], group[1], group[2], group[3]
		for _, w := range []string{k, q, v} {
			if err := rows(w, 1); err != nil {
				return err
			}
		}
		if shapes[q][0] != shapes[k][0] {
			return fmt.Errorf("%s and %s have %d and %d rows", q, k, shapes[q][0], shapes[k][0])
		}
		return attnCheckOut(o, shapes[o], shapes[q][0], shapes[v][0])
	}
	return fmt.Errorf("%s: not an attention key sd-mecha knows", group[0])
}

func attnCheckOut(o string, s []int, qRows, vRows int) error {
	if len(s) != 2 || s[1] != vRows {
		return fmt.Errorf("%s has shape %v, want [*, %d] (its columns are the value rows)", o, s, vRows)
	}
	if qRows != vRows {
		return fmt.Errorf("query and value projections have %d and %d rows", qRows, vRows)
	}
	return nil
}

// mat2 is a row-major matrix view of a tensor: its first dimension by the product of the rest.
func mat2(t *ops.Tensor) *mat.Dense {
	r := 1
	if len(t.Shape) > 0 {
		r = t.Shape[0]
	}
	c := len(t.Data) / max(r, 1)
	return mat.NewDense(r, c, append([]float64(nil), t.Data...))
}

// withBias appends b as a last column of w (algorithms.py bundle_weight_bias).
func withBias(w *mat.Dense, b []float64) *mat.Dense {
	r, c := w.Dims()
	out := mat.NewDense(r, c+1, nil)
	for i := range r {
		for j := range c {
			out.Set(i, j, w.At(i, j))
		}
		if b != nil {
			out.Set(i, c, b[i])
		}
	}
	return out
}

// balanceHeadEnergy is algorithms.py balance_head_energy for every head of 64 rows of q and k
// (q and k are [H*64, d_q] and [H*64, d_k]); it returns S q and S⁻¹ k, head by head, with
//
//	A = q qᵀ + eps I, B = k kᵀ + eps I, A = V diag(λ) Vᵀ, λ ← max(λ, eps),
//	A½ = V diag(√λ) Vᵀ, A⁻½ = V diag(1/√λ) Vᵀ, C = A½ B A½ = W diag(μ) Wᵀ,
//	C½ = W diag(√max(μ, eps)) Wᵀ, S = A⁻½ C½ A⁻½.
func balanceHeadEnergy(q, k *mat.Dense) (*mat.Dense, *mat.Dense, error) {
	const eps = 1e-6
	rows, dq := q.Dims()
	_, dk := k.Dims()
	qo := mat.NewDense(rows, dq, nil)
	ko := mat.NewDense(rows, dk, nil)
	for h := 0; h < rows; h += attnHeadRows {
		qh := q.Slice(h, h+attnHeadRows, 0, dq)
		kh := k.Slice(h, h+attnHeadRows, 0, dk)
		// sd-mecha writes `a.diagonal()[:] += eps` on the [H, 64, 64] batch: torch's diagonal()
		// of a 3-D tensor spans dims 0 and 1, so it adds eps to row h of head h (h < 64), not to
		// the diagonals. eigh reads the lower triangle; b enters the product whole.
		a := gram(qh, eps, h/attnHeadRows)
		b := gram(kh, eps, h/attnHeadRows)
		var ea mat.EigenSym
		if !ea.Factorize(lowerSym(a), true) {
			return nil, nil, fmt.Errorf("eigh did not converge")
		}
		lam := ea.Values(nil)
		var va mat.Dense
		ea.VectorsTo(&va)
		half := make([]float64, len(lam))
		neg := make([]float64, len(lam))
		for i, l := range lam {
			l = math.Max(l, eps)
			half[i] = math.Pow(l, 0.5)
			neg[i] = math.Pow(l, -0.5)
		}
		aHalf := spectral(&va, half)
		aNeg := spectral(&va, neg)
		var cm mat.Dense
		cm.Mul(aHalf, b)
		cm.Mul(&cm, aHalf)
		// c is not symmetric (b's eps row); eigh reads its lower triangle.
		cs := lowerSym(&cm)
		var ec mat.EigenSym
		if !ec.Factorize(cs, true) {
			return nil, nil, fmt.Errorf("eigh did not converge")
		}
		mu := ec.Values(nil)
		var vc mat.Dense
		ec.VectorsTo(&vc)
		for i, m := range mu {
			mu[i] = math.Pow(math.Max(m, eps), 0.5)
		}
		cHalf := spectral(&vc, mu)
		var s mat.Dense
		s.Mul(aNeg, cHalf)
		s.Mul(&s, aNeg)
		qo.Slice(h, h+attnHeadRows, 0, dq).(*mat.Dense).Mul(&s, qh)
		var lu mat.LU
		lu.Factorize(&s)
		if err := lu.SolveTo(ko.Slice(h, h+attnHeadRows, 0, dk).(*mat.Dense), false, kh); err != nil {
			return nil, nil, fmt.Errorf("solve: %v", err)
		}
	}
	return qo, ko, nil
}

// gram is m mᵀ with eps added to row `row` (none when row >= the size): sd-mecha's
// batched-diagonal quirk, see balanceHeadEnergy.
func gram(m mat.Matrix, eps float64, row int) *mat.Dense {
	r, _ := m.Dims()
	var full mat.Dense
	full.Mul(m, m.T())
	if row < r {
		for j := range r {
			full.Set(row, j, full.At(row, j)+eps)
		}
	}
	return &full
}

// lowerSym is the symmetric matrix of m's lower triangle (what LAPACK's syevd reads for
// torch.linalg.eigh, UPLO='L').
func lowerSym(m *mat.Dense) *mat.SymDense {
	n, _ := m.Dims()
	s := mat.NewSymDense(n, nil)
	for i := range n {
		for j := 0; j <= i; j++ {
			s.SetSym(i, j, m.At(i, j))
		}
	}
	return s
}

// spectral is V diag(d) Vᵀ.
func spectral(v *mat.Dense, d []float64) *mat.Dense {
	n, _ := v.Dims()
	vd := mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			vd.Set(i, j, v.At(i, j)*d[j])
		}
	}
	var out mat.Dense
	out.Mul(vd, v.T())
	return &out
}

// balanceAttention computes the whole group and returns the tensor of key.
func balanceAttention(key string, group []string, ts map[string]*ops.Tensor) ([]float64, error) {
	split := func(m *mat.Dense, withB bool) (w, b []float64) {
		r, c := m.Dims()
		if withB {
			c--
			b = make([]float64, r)
		}
		w = make([]float64, r*c)
		for i := range r {
			for j := range c {
				w[i*c+j] = m.At(i, j)
			}
			if withB {
				b[i] = m.At(i, c)
			}
		}
		return w, b
	}
	// o enters as oᵀ with a zero bias column; it leaves transposed back, that column dropped.
	oIn := func(k string) *mat.Dense {
		o := mat2(ts[k])
		var ot mat.Dense
		ot.CloneFrom(o.T())
		return withBias(&ot, nil)
	}
	oOut := func(m *mat.Dense) []float64 {
		r, c := m.Dims()
		c--
		w := make([]float64, r*c)
		for i := range r {
			for j := range c {
				w[j*r+i] = m.At(i, j)
			}
		}
		return w
	}
	res := map[string][]float64{}
	switch attnKind(group[0]) {
	case "clip_l", "vae":
		kb, k, o, qb, q, vb, v := group[0], group[1], group[2], group[3], group[4], group[5], group[6]
		qm, km, err := balanceHeadEnergy(withBias(mat2(ts[q]), ts[qb].Data), withBias(mat2(ts[k]), ts[kb].Data))
		if err != nil {
			return nil, err
		}
		vm, om, err := balanceHeadEnergy(withBias(mat2(ts[v]), ts[vb].Data), oIn(o))
		if err != nil {
			return nil, err
		}
		res[k], res[kb] = split(km, true)
		res[q], res[qb] = split(qm, true)
		res[v], res[vb] = split(vm, true)
		res[o] = oOut(om)
	case "clip_g":
		b, w, o := group[0], group[1], group[2]
		wm := mat2(ts[w])
		rows, cols := wm.Dims()
		dim := rows / 3
		part := func(i int) *mat.Dense {
			var p mat.Dense
			p.CloneFrom(wm.Slice(i*dim, (i+1)*dim, 0, cols))
			return withBias(&p, ts[b].Data[i*dim:(i+1)*dim])
		}
		qm, km, err := balanceHeadEnergy(part(0), part(1))
		if err != nil {
			return nil, err
		}
		vm, om, err := balanceHeadEnergy(part(2), oIn(o))
		if err != nil {
			return nil, err
		}
		var ws, bs []float64
		for _, m := range []*mat.Dense{qm, km, vm} {
			x, y := split(m, true)
			ws, bs = append(ws, x...), append(bs, y...)
		}
		res[w], res[b], res[o] = ws, bs, oOut(om)
	case "unet":
		k, o, q, v := group[0], group[1], group[2], group[3]
		qm, km, err := balanceHeadEnergy(mat2(ts[q]), mat2(ts[k]))
		if err != nil {
			return nil, err
		}
		vm, om, err := balanceHeadEnergy(mat2(ts[v]), oIn(o))
		if err != nil {
			return nil, err
		}
		res[k], _ = split(km, false)
		res[q], _ = split(qm, false)
		res[v], _ = split(vm, false)
		res[o] = oOut(om)
	default:
		return nil, fmt.Errorf("%s: not an attention key", key)
	}
	out, ok := res[key]
	if !ok {
		return nil, fmt.Errorf("%s: not produced by its attention group", key)
	}
	return out, nil
}

func balanceAttentionDef(name, doc string) *ops.Def {
	return define(&ops.Def{
		Name:          name,
		Params:        []ops.Param{symbolIn("a")},
		Returns:       ops.AnySpace,
		ReturnsSymbol: "S",
		Traits:        ops.LinearAlgebra | ops.WholeTensor,
		Keys:          ops.KeysMapped,
		Formula: "per 64-row head: S = A^-1/2 (A^1/2 B A^1/2)^1/2 A^-1/2 (A = q q^T + eps, B = k k^T + eps); " +
			"q' = S q, k' = S^-1 k; same for (v, o^T)",
		Doc: doc,
		OutConfig: func(in []string) (string, error) {
			if len(in) == 1 && in[0] != "" && in[0] != "sdxl-sgm" {
				return "", fmt.Errorf("sd-mecha 1.1.5 implements balance_attention for model config sdxl-sgm "+
					"only (balance_attention_sdxl_sgm), not %s", in[0])
			}
			return "sdxl-sgm", nil
		},
		MapKeys: func(out string) ([][]string, bool) {
			read, _, ok := attnRequest(out)
			if !ok {
				return nil, false
			}
			return [][]string{read}, true
		},
		OutShape: func(args, _, _ []ops.Value) ([]int, error) {
			if len(args) != 1 || len(args[0].Ts) == 0 {
				return nil, fmt.Errorf("want the tensors of one attention group")
			}
			return args[0].Ts[0].Shape, nil
		},
		Kernel: func(c *ops.Call) error {
			read, group, ok := attnRequest(c.Key)
			a := c.Args[0]
			if !ok || a.Kind != ops.KindTensorList || len(a.Ts) != len(read) {
				return fmt.Errorf("%s: key %q: want the %d tensors of its attention group", name, c.Key, len(read))
			}
			if len(group) == 1 {
				return copyInto(name, c.Out, ops.TensorValue(a.Ts[0]))
			}
			ts := make(map[string]*ops.Tensor, len(read))
			shapes := make(map[string][]int, len(read))
			for i, k := range read {
				ts[k] = a.Ts[i]
				shapes[k] = a.Ts[i].Shape
			}
			if err := attnCheckShapes(group, shapes); err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
			data, err := balanceAttention(c.Key, group, ts)
			if err != nil {
				return fmt.Errorf("%s: %s: %v", name, c.Key, err)
			}
			if len(data) != len(c.Out.Data) {
				return fmt.Errorf("%s: %s: %d values for %d", name, c.Key, len(data), len(c.Out.Data))
			}
			copy(c.Out.Data, data)
			c.Out.DType = a.Ts[0].DType
			return nil
		},
	})
}

var (
	balanceAttentionIface = balanceAttentionDef("balance_attention",
		"sd-mecha's interface (is_interface=True) dispatched on the config of a; its only implementation "+
			"is balance_attention_sdxl_sgm, so a must be sdxl-sgm. Rescales each attention head so that "+
			"q and k (and v and o) carry the same energy without changing q^T k (v o): heads of 64 rows "+
			"(hard-coded), q/k/v with their bias as an extra column, o transposed with a zero column. "+
			"Groups per layer: CLIP-L self_attn, CLIP-G attn (fused in_proj), UNet attn1/attn2; the output "+
			"projection bias and every other key pass through. The VAE mid attention keys are each their "+
			"own group in sd-mecha (its regex captures the parameter name), so they pass through unchanged.")
	balanceAttentionSDXL = balanceAttentionDef("balance_attention_sdxl_sgm",
		"The sdxl-sgm implementation of balance_attention (same kernel; see balance_attention).")
)
