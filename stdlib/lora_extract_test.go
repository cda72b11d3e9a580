package stdlib

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/opstest"
)

// lowRankDelta is a random delta of the given shape with a decaying spectrum (a rank-r signal
// plus small noise), so that truncations are well defined.
func lowRankDelta(seed uint64, shape []int, r int) *ops.Tensor {
	rng := rand.New(rand.NewPCG(seed, 1))
	rows, cols := svdMatrix2D(shape, false)
	d := make([]float64, rows*cols)
	for l := range r {
		w := math.Pow(0.6, float64(l))
		u := make([]float64, rows)
		for i := range u {
			u[i] = rng.NormFloat64()
		}
		for j := range cols {
			v := rng.NormFloat64() * w
			for i := range rows {
				d[i*cols+j] += u[i] * v
			}
		}
	}
	for i := range d {
		d[i] += 1e-3 * rng.NormFloat64()
	}
	return &ops.Tensor{Shape: append([]int{}, shape...), Data: d, DType: ops.F32}
}

// extractCall runs def's kernel for one output key as the VM would: the output shaped by
// OutShapeKey, pre-filled with the conformance sentinel, the inputs checked untouched.
func extractCall(t *testing.T, d *ops.Def, key string, delta *ops.Tensor, hypers ...ops.Value) *ops.Tensor {
	t.Helper()
	args := append([]ops.Value{{Kind: ops.KindTensorList, Ts: []*ops.Tensor{delta}}}, hypers...)
	shape, err := d.OutShapeKey(key, 0, args, nil, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", d.Name, key, err)
	}
	out := &ops.Tensor{Shape: shape, Data: make([]float64, ops.NumElements(shape)), DType: ops.F64}
	for i := range out.Data {
		out.Data[i] = math.Float64frombits(opstest.Sentinel)
	}
	c := &ops.Call{Key: key, Args: args, Out: out}
	if err := opstest.Run(d, c); err != nil {
		t.Fatalf("%s %s: %v", d.Name, key, err)
	}
	return c.Out
}

func findDef(t *testing.T, name string) *ops.Def {
	t.Helper()
	d, ok := Default().Lookup(name)
	if !ok {
		t.Fatalf("%s not registered", name)
	}
	return d
}

// maxAbsDiff is max |a-b| and max |b|.
func maxAbsDiff(a, b []float64) (float64, float64) {
	d, m := 0.0, 0.0
	for i := range a {
		d = max(d, math.Abs(a[i]-b[i]))
		m = max(m, math.Abs(b[i]))
	}
	return d, m
}

// The round trip extract -> convert_'<cfg>'_to_base gives truncate_rank's result (same
// randomized range or the same exact SVD) to rounding, for linear and conv keys, SD1 and SDXL,
// kohya and lycoris; a rank above min(out, rest) is clamped and reproduces the delta.
func TestExtractLoRARoundTrip(t *testing.T) {
	for _, tc := range []struct {
		cfg, key string
		shape    []int
		rank     int64
		approx   bool
		seed     ops.Value
	}{
		{"sdxl-kohya_kohya_lora", "first_stage_model.decoder.conv_in.weight", []int{512, 4, 3, 3}, 8, true, ops.Null()},
		{"sdxl-kohya_kohya_lora", "first_stage_model.decoder.conv_in.weight", []int{512, 4, 3, 3}, 8, false, ops.Null()},
		{"sdxl-kohya_lycoris_lora", "unet.input_blocks.0.0.weight", []int{320, 4, 3, 3}, 4, true, ops.Int(7)},
		{"sdxl-kohya_but_diffusers_kohya_lora", "te1.text_model.encoder.layers.0.self_attn.q_proj.weight", []int{768, 768}, 16, true, ops.Int(1)},
		{"sd1-kohya_kohya_lora", "vae.encoder.mid_block.attentions.0.to_q.weight", []int{512, 512}, 8, false, ops.Null()},
		{"sd1-kohya_lycoris_lora", "unet.time_embedding.linear_1.weight", []int{1280, 320}, 6, true, ops.Null()},
		{"sd1-kohya_lycoris_lora", "unet.conv_in.weight", []int{320, 4, 3, 3}, 3, false, ops.Null()},
		{"sdxl-kohya_kohya_lora", "first_stage_model.post_quant_conv.weight", []int{4, 4, 1, 1}, 8, true, ops.Null()}, // clamped to 4
	} {
		l := findLoraConfig(tc.cfg)
		base := strings.TrimSuffix(strings.TrimSuffix(tc.cfg, "_kohya_lora"), "_lycoris_lora")
		flavour := "kohya"
		if strings.HasSuffix(tc.cfg, "_lycoris_lora") {
			flavour = "lycoris"
		}
		impl := findDef(t, "extract_lora_'"+tc.cfg+"'")
		iface := findDef(t, "extract_"+flavour+"_lora")
		stem := l.prefix + "_" + loraStem(ops.KeySpec{Name: tc.key, DType: ops.F32, Shape: tc.shape})
		delta := lowRankDelta(uint64(tc.rank), tc.shape, 12)
		hypers := []ops.Value{ops.Int(tc.rank), ops.Bool(tc.approx), ops.Int(2), tc.seed}
		for _, d := range []*ops.Def{impl, iface} {
			for _, s := range []string{"lora_up.weight", "lora_down.weight", "alpha"} {
				in, ok := d.MapKeys(stem + "." + s)
				if !ok || !reflect.DeepEqual(in, [][]string{{tc.key}}) {
					t.Errorf("%s MapKeys(%s.%s) = %v %v", d.Name, stem, s, in, ok)
				}
			}
			if cfg, err := d.OutConfig([]string{base}); err != nil || cfg != tc.cfg {
				t.Errorf("%s OutConfig(%s) = %q %v", d.Name, base, cfg, err)
			}
		}
		up := extractCall(t, impl, stem+".lora_up.weight", delta, hypers...)
		down := extractCall(t, impl, stem+".lora_down.weight", delta, hypers...)
		alpha := extractCall(t, impl, stem+".alpha", delta, hypers...)
		k := min(int(tc.rank), tc.shape[0], ops.NumElements(tc.shape[1:]))
		wantUp, wantDown := []int{tc.shape[0], k}, append([]int{k}, tc.shape[1:]...)
		if len(tc.shape) == 4 {
			wantUp = append(wantUp, 1, 1)
		}
		if !reflect.DeepEqual(up.Shape, wantUp) || !reflect.DeepEqual(down.Shape, wantDown) || len(alpha.Shape) != 0 || alpha.Data[0] != float64(k) {
			t.Errorf("%s %s: up %v down %v alpha %v%v", tc.cfg, tc.key, up.Shape, down.Shape, alpha.Shape, alpha.Data)
		}
		// The interface writes the same bytes.
		up2 := extractCall(t, iface, stem+".lora_up.weight", delta, hypers...)
		down2 := extractCall(t, iface, stem+".lora_down.weight", delta, hypers...)
		if !reflect.DeepEqual(up2.Data, up.Data) || !reflect.DeepEqual(down2.Data, down.Data) {
			t.Errorf("%s: interface and implementation differ", tc.cfg)
		}
		// Convert back (LoRA with alpha) and compare with truncate_rank.
		alt := altIndex(t, loraAlt{alpha: true})
		ts := []*ops.Tensor{up, down, alpha}
		shape, err := l.outShape(tc.key, alt, ts)
		if err != nil {
			t.Fatal(err)
		}
		back := &ops.Tensor{Shape: shape, Data: make([]float64, ops.NumElements(shape))}
		if err := loraKernel(l, tc.key, alt, ts, back); err != nil {
			t.Fatal(err)
		}
		tr := &ops.Call{Args: []ops.Value{ops.TensorValue(delta), ops.Int(tc.rank), ops.Bool(tc.approx), ops.Int(2), tc.seed}}
		if err := opstest.Run(truncateRank, tr); err != nil {
			t.Fatal(err)
		}
		// The randomized path is truncate_rank's own SVD: equal to rounding. The exact path stops
		// at a residual of 1e-12 s_0 (topSingular) where truncate_rank runs a full SVD.
		tol := 1e-12
		if !tc.approx {
			tol = 1e-9
		}
		diff, scale := maxAbsDiff(back.Data, tr.Out.Data)
		if diff > tol*scale {
			t.Errorf("%s %s rank %d approx %v: round trip differs from truncate_rank by %g (max %g)", tc.cfg, tc.key, tc.rank, tc.approx, diff, scale)
		}
		if k == min(tc.shape[0], ops.NumElements(tc.shape[1:])) {
			if diff, scale := maxAbsDiff(back.Data, delta.Data); diff > 1e-12*scale {
				t.Errorf("%s: full-rank extraction differs from the delta by %g", tc.key, diff)
			}
		}
	}
	// Every factorization was taken by its two factors and dropped.
	if n := len(extractCache.m); n != 0 {
		t.Errorf("%d factorizations left in the cache", n)
	}
}

// The nearest Kronecker product round trip: extract_lokr -> convert (full w1, w2, no alpha) is
// truncate_kronecker's exact result.
func TestExtractLoKrRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		cfg, key string
		shape    []int
		ratio    float64
		w1, w2   []int
	}{
		{"sdxl-kohya_lycoris_lora", "unet.input_blocks.0.0.weight", []int{320, 4, 3, 3}, 0.5, nil, nil},
		{"sd1-kohya_kohya_lora", "vae.encoder.mid_block.attentions.0.to_q.weight", []int{512, 512}, 0.5, []int{16, 32}, []int{32, 16}},
		{"sdxl-kohya_kohya_lora", "te1.text_model.encoder.layers.0.self_attn.q_proj.weight", []int{768, 768}, 0.25, nil, nil},
		{"sd1-kohya_lycoris_lora", "unet.time_embedding.linear_1.weight", []int{1280, 320}, 0.8, nil, nil},
	} {
		l := findLoraConfig(tc.cfg)
		flavour := "kohya"
		if strings.HasSuffix(tc.cfg, "_lycoris_lora") {
			flavour = "lycoris"
		}
		impl := findDef(t, "extract_lokr_'"+tc.cfg+"'")
		iface := findDef(t, "extract_"+flavour+"_lokr")
		stem := l.prefix + "_" + loraStem(ops.KeySpec{Name: tc.key, DType: ops.F32, Shape: tc.shape})
		for _, s := range []string{"lokr_w1", "lokr_w2"} {
			if _, ok := iface.MapKeys(stem + "." + s); !ok {
				t.Errorf("%s: no %s", iface.Name, s)
			}
		}
		for _, s := range []string{"alpha", "lokr_w1_a", "lora_up.weight"} {
			if _, ok := impl.MapKeys(stem + "." + s); ok {
				t.Errorf("%s writes %s", impl.Name, s)
			}
		}
		delta := lowRankDelta(3, tc.shape, 4)
		w1 := extractCall(t, impl, stem+".lokr_w1", delta, ops.Float(tc.ratio))
		w2 := extractCall(t, impl, stem+".lokr_w2", delta, ops.Float(tc.ratio))
		m1, m2, n1, n2 := kronDims(tc.shape, tc.ratio)
		if !reflect.DeepEqual(w1.Shape, []int{m1, n1}) || !reflect.DeepEqual(w2.Shape, append([]int{m2, n2}, tc.shape[2:]...)) {
			t.Errorf("%s: w1 %v w2 %v", tc.key, w1.Shape, w2.Shape)
		}
		if tc.w1 != nil && (!reflect.DeepEqual(w1.Shape, tc.w1) || !reflect.DeepEqual(w2.Shape, tc.w2)) {
			t.Errorf("%s: w1 %v w2 %v, want %v %v", tc.key, w1.Shape, w2.Shape, tc.w1, tc.w2)
		}
		alt := altIndex(t, loraAlt{lokr: true, w2: "full"})
		ts := []*ops.Tensor{w1, w2}
		shape, err := l.outShape(tc.key, alt, ts)
		if err != nil {
			t.Fatal(err)
		}
		back := &ops.Tensor{Shape: shape, Data: make([]float64, ops.NumElements(shape))}
		if err := loraKernel(l, tc.key, alt, ts, back); err != nil {
			t.Fatal(err)
		}
		tr := &ops.Call{Args: []ops.Value{ops.TensorValue(delta), ops.Float(tc.ratio), ops.Bool(false), ops.Int(2), ops.Null()}}
		if err := opstest.Run(truncateKronecker, tr); err != nil {
			t.Fatal(err)
		}
		// topSingular's residual 1e-12 s_0 against truncate_kronecker's full SVD.
		if diff, scale := maxAbsDiff(back.Data, tr.Out.Data); diff > 1e-9*scale {
			t.Errorf("%s ratio %v: round trip differs from truncate_kronecker by %g (max %g)", tc.key, tc.ratio, diff, scale)
		}
	}
}

// Whatever signs the SVD returns, the factors are the same: the exact path bit for bit (a
// sign flip is exact), and the largest-magnitude entry of every up column / of w1 is positive.
func TestExtractSigns(t *testing.T) {
	const key = "lora_unet_conv_in"
	shape := []int{320, 4, 3, 3}
	delta := lowRankDelta(5, shape, 6)
	lora := findDef(t, "extract_lora_'sd1-kohya_kohya_lora'")
	lokr := findDef(t, "extract_lokr_'sd1-kohya_kohya_lora'")
	run := func() []*ops.Tensor {
		h := []ops.Value{ops.Int(4), ops.Bool(false)}
		return []*ops.Tensor{
			extractCall(t, lora, key+".lora_up.weight", delta, h...),
			extractCall(t, lora, key+".lora_down.weight", delta, h...),
			extractCall(t, lokr, key+".lokr_w1", delta),
			extractCall(t, lokr, key+".lokr_w2", delta),
		}
	}
	plain := run()
	flipSignsForTest = true
	flipped := run()
	flipSignsForTest = false
	for i := range plain {
		if !reflect.DeepEqual(plain[i].Data, flipped[i].Data) {
			t.Errorf("factor %d depends on the SVD's signs", i)
		}
	}
	up := plain[0]
	k := up.Shape[1]
	for j := range k {
		best := 0.0
		for i := range up.Shape[0] {
			if x := up.Data[i*k+j]; math.Abs(x) > math.Abs(best) {
				best = x
			}
		}
		if best <= 0 {
			t.Errorf("up column %d: largest entry %v", j, best)
		}
	}
}

// Clear errors: a rank below 1 (at compile time through Param.Check, and in the kernel), a
// delta of rank < 2, a model config without an implementation.
func TestExtractErrors(t *testing.T) {
	d := findDef(t, "extract_kohya_lora")
	if err := d.Params[1].Check(ops.Int(0)); err == nil {
		t.Error("rank 0 accepted")
	}
	if err := d.Params[1].Check(ops.Int(1)); err != nil {
		t.Error(err)
	}
	arg := ops.Value{Kind: ops.KindTensorList, Ts: []*ops.Tensor{{Shape: []int{4, 4}, Data: make([]float64, 16)}}}
	if _, err := d.OutShapeKey("lora_x.lora_up.weight", 0, []ops.Value{arg, ops.Int(-1)}, nil, nil); err == nil || !strings.Contains(err.Error(), "at least 1") {
		t.Errorf("rank -1: %v", err)
	}
	vec := ops.Value{Kind: ops.KindTensorList, Ts: []*ops.Tensor{{Shape: []int{4}, Data: make([]float64, 4)}}}
	if _, err := d.OutShapeKey("lora_x.lora_up.weight", 0, []ops.Value{vec}, nil, nil); err == nil || !strings.Contains(err.Error(), "2 dims") {
		t.Errorf("1-D delta: %v", err)
	}
	if _, err := d.OutShapeKey("lora_x.lora_mid.weight", 0, []ops.Value{arg}, nil, nil); err == nil {
		t.Error("lora_mid shape given")
	}
	if _, err := d.OutConfig([]string{"sdxl-sgm"}); err == nil || !strings.Contains(err.Error(), "convert") {
		t.Errorf("sdxl-sgm input: %v", err)
	}
	impl := findDef(t, "extract_lokr_'sdxl-kohya_lycoris_lora'")
	if _, err := impl.OutConfig([]string{"sd1-kohya"}); err == nil {
		t.Error("sd1-kohya accepted by an sdxl-kohya implementation")
	}
	// A zero delta extracts zero factors (no NaN).
	zero := &ops.Tensor{Shape: []int{8, 6}, Data: make([]float64, 48)}
	for _, approx := range []bool{true, false} {
		for _, s := range []string{"lora_up.weight", "lora_down.weight"} {
			out := extractCall(t, d, "lora_x."+s, zero, ops.Int(2), ops.Bool(approx))
			for _, x := range out.Data {
				if x != 0 {
					t.Fatalf("zero delta, %s approx %v: %v", s, approx, out.Data)
				}
			}
		}
	}
}

// The interfaces dispatch on the input's config, so their key map is the union over the three
// bases: it must never send one output key to two base keys.
func TestExtractKeyMapsAgree(t *testing.T) {
	for _, algo := range []string{"lora", "lokr"} {
		for _, f := range loraFlavours {
			union := extractKeys(algo, f.prefix, "")
			n := 0
			for _, b := range loraBases {
				for k, v := range extractKeys(algo, f.prefix, b) {
					if union[k] != v {
						t.Errorf("%s %s: %s -> %s in %s, %s in the union", algo, f.id, k, v, b, union[k])
					}
					n++
				}
			}
			if n == 0 || len(union) == 0 {
				t.Errorf("%s %s: empty key map", algo, f.id)
			}
		}
	}
	n := 0
	for _, d := range extractDefs {
		if d.Pending != "" || d.Kernel == nil || d.MapKeys == nil || d.OutShapeKey == nil {
			t.Errorf("%s is not runnable", d.Name)
		}
		n++
	}
	if n != 16 {
		t.Errorf("%d extract methods, want 16 (4 interfaces, 12 implementations)", n)
	}
}

// BenchmarkExtract times the two factors of one SDXL-sized key (go test ./stdlib -run X -bench
// Extract -benchtime 1x): the first call factors, the second takes the shared result.
func BenchmarkExtract(b *testing.B) {
	for _, bc := range []struct {
		name, key string
		shape     []int
		def       string
		hypers    []ops.Value
	}{
		{"lora-approx-1280x1280", "lora_x.lora_up.weight", []int{1280, 1280}, "extract_kohya_lora", nil},
		{"lora-approx-640x640x3x3", "lora_x.lora_up.weight", []int{640, 640, 3, 3}, "extract_kohya_lora", nil},
		{"lora-exact-1280x1280", "lora_x.lora_up.weight", []int{1280, 1280}, "extract_kohya_lora", []ops.Value{ops.Int(8), ops.Bool(false)}},
		{"lokr-1280x1280", "lora_x.lokr_w1", []int{1280, 1280}, "extract_kohya_lokr", nil},
		{"lokr-640x640x3x3", "lora_x.lokr_w1", []int{640, 640, 3, 3}, "extract_kohya_lokr", nil},
		{"lokr-320x1280", "lora_x.lokr_w1", []int{320, 1280}, "extract_kohya_lokr", nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d, _ := Default().Lookup(bc.def)
			delta := lowRankDelta(1, bc.shape, 4)
			args := append([]ops.Value{{Kind: ops.KindTensorList, Ts: []*ops.Tensor{delta}}}, bc.hypers...)
			shape, err := d.OutShapeKey(bc.key, 0, args, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			other := strings.NewReplacer("lora_up", "lora_down", "lokr_w1", "lokr_w2").Replace(bc.key)
			shape2, err := d.OutShapeKey(other, 0, args, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			out := &ops.Tensor{Shape: shape, Data: make([]float64, ops.NumElements(shape))}
			out2 := &ops.Tensor{Shape: shape2, Data: make([]float64, ops.NumElements(shape2))}
			for b.Loop() {
				if err := d.Kernel(&ops.Call{Key: bc.key, Args: args, Out: out}); err != nil {
					b.Fatal(err)
				}
				if err := d.Kernel(&ops.Call{Key: other, Args: args, Out: out2}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
