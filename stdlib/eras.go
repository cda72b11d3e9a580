package stdlib

import (
	"bufio"
	"embed"
	"fmt"
	"math"
	"strings"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/num"
)

// The eras of sd-mecha history that recipes in the wild were written in, with the engine rules
// that decide their numbers (../shared/golden-eras/README.md section 5 is the research behind
// each line). Methods whose math changed carry Def.Era = one of the Chain names below.

//go:embed eras/*.tsv
var eraData embed.FS

// passthrough004 is 0.0.4's (60d0764) list of never-merged keys: the VAE, the UNet's time and
// label embeddings, CLIP position ids, and any [1000] buffer.
func passthrough004(key string, shape []int) bool {
	return strings.HasPrefix(key, "first_stage_model.") ||
		strings.HasPrefix(key, "model.diffusion_model.time_embed.") ||
		strings.HasPrefix(key, "model.diffusion_model.label_emb.") ||
		strings.HasSuffix(key, "embeddings.position_ids") ||
		(len(shape) == 1 && shape[0] == 1000)
}

// keep004: 0.0.4 writes only passthrough keys and the UNet / text encoder keys.
func keep004(key string) bool {
	for _, p := range []string{"model.diffusion_model.", "cond_stage_model.", "conditioner.embedders."} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// passthrough00x is the arch yaml `passthrough` list of 0.0.5 .. 0.0.29: the VAE, CLIP position
// ids and the v-prediction markers.
func passthrough00x(key string, _ []int) bool {
	for _, p := range []string{
		"first_stage_model", "conditioner.embedders.0.transformer.text_model.embeddings.position_ids",
		"cond_stage_model.transformer.text_model.embeddings.position_ids", "edm_vpred", "v_pred", "ztsnr",
	} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// hyperTable is one of 60d0764's hyper-name -> key-fragment tables.
type hyperTable struct {
	names map[string]string
}

func loadHyperTable(name string) *hyperTable {
	f, err := eraData.Open("eras/" + name)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	t := &hyperTable{names: map[string]string{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "\t")
		if !ok {
			panic(fmt.Sprintf("eras/%s: bad line %q", name, line))
		}
		t.names[k] = v
	}
	return t
}

var (
	hypersSDXL004 = loadHyperTable("hypers-60d0764-sdxl.tsv")
	hypersSD15004 = loadHyperTable("hypers-60d0764-sd15.tsv")
)

// hyper004 is get_hyper of 60d0764: the SDXL table if any name starts with g14_txt_ or
// sdxl_unet_, else SD1.5's; every name (mapped through the table, unknown names standing for
// themselves) that is a substring of the key contributes its weight; the result is their mean,
// else the last *_default's weight, else 0.0. Substring matching is the era's real behaviour:
// CLIP-G's "attn.out_proj." also hits CLIP-L's "self_attn.out_proj." keys (x43 gives those the
// mean of the two entries).
func hyper004(names []string, values []ops.Value, key string) (ops.Value, bool) {
	table := hypersSD15004
	for _, n := range names {
		if strings.HasPrefix(n, "g14_txt_") || strings.HasPrefix(n, "sdxl_unet_") {
			table = hypersSDXL004
			break
		}
	}
	sum, count := 0.0, 0
	def := 0.0
	for i, n := range names {
		frag, ok := table.names[n]
		if !ok {
			frag = n
		}
		w, _ := values[i].Float64()
		if frag != "" && strings.Contains(key, frag) {
			sum += w
			count++
		} else if strings.HasSuffix(n, "_default") {
			def = w
		}
	}
	if count > 0 {
		return ops.Float(sum / float64(count)), true
	}
	return ops.Float(def), true
}

// componentPrefixes00x maps the 0.0.x component names of `{arch}_{component}_default` dict
// entries to key prefixes.
var componentPrefixes00x = map[string][]string{
	"sdxl_txt":  {"conditioner.embedders.0.transformer.text_model."},
	"sdxl_txt2": {"conditioner.embedders.1.model."},
	"sdxl_unet": {"model.diffusion_model."},
	"sd1_txt":   {"cond_stage_model.transformer.text_model."},
	"sd1_unet":  {"model.diffusion_model."},
}

// hyper00x resolves the per-component `{arch}_{component}_default` entries of dialect B
// dicts: a key takes its component's value; a key of no listed component has none (a KeyError
// in those eras, which hands the key to its passthrough value). Block-wise entries
// (`sdxl_unet_block_in00`, ...) are refused at compile time by validate00x.
func hyper00x(names []string, values []ops.Value, key string) (ops.Value, bool) {
	// The arch yaml's block patterns of 0.0.x cover every UNet key but the label embedding:
	// such a key has no block, so the dict has no value for it (KeyError).
	if strings.HasPrefix(key, "model.diffusion_model.label_emb.") {
		return ops.Value{}, false
	}
	for i, n := range names {
		comp := strings.TrimSuffix(n, "_default")
		for _, p := range componentPrefixes00x[comp] {
			if strings.HasPrefix(key, p) {
				return values[i], true
			}
		}
	}
	// feefbf4: a key of a known component without its own entry gets 0.
	for comp, prefixes := range componentPrefixes00x {
		_ = comp
		for _, p := range prefixes {
			if strings.HasPrefix(key, p) {
				return ops.Int(0), true
			}
		}
	}
	return ops.Value{}, false
}

func validate00x(names []string) error {
	for _, n := range names {
		if _, ok := componentPrefixes00x[strings.TrimSuffix(n, "_default")]; !ok || !strings.HasSuffix(n, "_default") {
			return fmt.Errorf("dict entry %q: only per-component `<arch>_<component>_default` entries of dialect B dicts are supported yet", n)
		}
	}
	return nil
}

// engine009 is the merge engine of sd-mecha 0.0.5 .. 0.0.18.
var engine009 = ops.Engine{
	UnionKeys: true, Missing: ops.MissingPassthrough, Passthrough: passthrough00x,
	Hyper: hyper00x, ValidateHyper: validate00x, Scalars: ops.RoundNone, IgnoreUnknownKeywords: true,
}

var eras = []*ops.Era{
	{
		ID: "0.0.4", Version: "0.0.4", Dialect: "A",
		Commits: []string{"8259d55", "0d1b193", "60d0764"},
		Chain:   []string{"0.0.4", "0.0.x"},
		Engine: ops.Engine{
			UnionKeys: true, Missing: ops.MissingPassthrough,
			Passthrough: passthrough004, KeepKey: keep004, Hyper: hyper004,
			Scalars: ops.RoundNone,
		},
		Doc: "Feb 2024 `call` dialect: union of keys, VAE/time/label embeddings/position ids/[1000] buffers copied from the first model, substring-matched hyper dicts, weighted_sum = (1-a)x + ay",
	},
	{
		// 0.0.5 is the 0.0.9 era but for rotate, whose keywords were renamed in 0.0.6 (165704a):
		// alpha/beta meant alignment/interpolation. Its chain falls back to 0.0.9's definitions.
		ID: "0.0.5", Version: "0.0.5", Dialect: "B",
		Commits: []string{"953313a", "e0305da"},
		Chain:   []string{"0.0.5", "0.0.9", "0.0.x"},
		Engine:  engine009,
		Doc:     "`merge` dialect, 0.0.5 (Feb 2024): as 0.0.9, but rotate's keywords are alpha (alignment) and beta (interpolation)",
	},
	{
		ID: "0.0.9", Version: "0.0.9", Dialect: "B",
		Commits: []string{"be45b2c", "feefbf4"},
		Chain:   []string{"0.0.9", "0.0.x"},
		Engine:  engine009,
		Doc:     "`merge` dialect, 0.0.6-0.0.18: union of keys restricted to the arch, VAE/position ids copied, a key an input lacks takes the passthrough value",
	},
	{
		ID: "0.0.29", Version: "0.0.29", Dialect: "B",
		Chain: []string{"0.0.29", "0.0.x"},
		Engine: ops.Engine{
			UnionKeys: true, Missing: ops.MissingFirstChild, Passthrough: passthrough00x,
			Hyper: hyper00x, ValidateHyper: validate00x, Scalars: ops.RoundNone, IgnoreUnknownKeywords: true,
		},
		Doc: "`merge` dialect, 0.0.19-0.0.29: as 0.0.9, but a merge whose input lacks a key returns its first input in the same merge space",
	},
	forkEra00x("fork-0.0.12", "fork-0.0.12", []string{"4edc67c"}, ops.MissingPassthrough,
		"the AstolfoMix fork, May 2024: ties_sum_with_dropout with the global torch generator re-seeded per key, float32 keep probabilities, always rescaled"),
	forkEra00x("fork-0.0.13", "fork-0.0.13..18", []string{"29bac1a", "01823a9"}, ops.MissingPassthrough,
		"the fork, May-June 2024: no_rescale, apply_stock, apply_median added to ties_sum_with_dropout"),
	forkEra00x("fork-0.0.19", "fork-0.0.19", []string{"3360d18"}, ops.MissingFirstChild,
		"the fork on upstream 0.0.19, July 2024: a merge whose input lacks a key returns its first input"),
	forkEra00x("fork-0.0.26", "fork-0.0.26", []string{"6e545a3"}, ops.MissingFirstChild,
		"the fork's DELLA branch, Oct 2024: a generator per key call, float64 keep probabilities, della_eps ranks, rescale exponent"),
	forkEra00x("fork-0.0.26-hotfix", "fork-0.0.26 (hotfix)", []string{"1458190"}, ops.MissingFirstChild,
		"the fork's Feb 2025 hotfix: keep probabilities clamped to [1e-20, 1] after nan_to_num"),
	forkEra10x("fork-1.0.4", "fork-1.0.4", []string{"f758dc0", "5818193"}, false,
		"the fork on sd-mecha 1.0.4, June-July 2025: isotropic methods; ties_sum_with_dropout keep probabilities clamped to [1e-20, 1]"),
	forkEra10x("fork-1.0.9", "fork-1.0.9", []string{"a4da898"}, false,
		"the fork on 1.0.9, July 2025: DELLA offsets nan_to_num'ed, keep probabilities clamped to [0, 1]"),
	forkEra10x("fork-1.0.9-nan2num", "fork-1.0.9 (nan2num)", []string{"3e3aea3"}, true,
		"the fork's 3e3aea3: as fork-1.0.9, and every output key with a non-finite value goes through nan_to_num after the output cast"),
	{
		ID: "1.0", Version: "1.0.x", Dialect: "C",
		Commits: []string{"d61c178", "2a7daa2", "212b630", "8150c2a"},
		Chain:   []string{"1.0"},
		Engine:  ops.Engine{Scalars: ops.RoundAllScalars},
		Doc:     "`version 0.1.0`, sd-mecha 0.1.0rc1-1.0.14: every recipe number is a float32 tensor first; no non-finite input rule",
	},
	{
		ID: "1.1.5", Version: "1.1.5", Dialect: "C",
		Commits: []string{"bab40d9", "91bcabb", "b8d4d88"},
		Engine:  ops.Engine{Scalars: ops.RoundTensorHypers, OmitNonFinite: true},
		Doc:     "today's sd-mecha: Tensor hypers are float32, non-finite inputs count as missing",
	},
}

// forkEra00x is an era of the AstolfoMix author's 0.0.x fork (dialect B).
func forkEra00x(id, version string, commits []string, missing ops.MissingRule, doc string) *ops.Era {
	return &ops.Era{
		ID: id, Version: version, Dialect: "B", Commits: commits,
		Chain: []string{id, "fork-0.0.x", "0.0.x"},
		Engine: ops.Engine{
			UnionKeys: true, Missing: missing, Passthrough: passthrough00x,
			Hyper: hyper00x, ValidateHyper: validate00x, Scalars: ops.RoundNone, IgnoreUnknownKeywords: true,
		},
		Doc: doc,
	}
}

// forkEra10x is an era of the fork on sd-mecha 1.0.x (dialect C).
func forkEra10x(id, version string, commits []string, nanToNum bool, doc string) *ops.Era {
	return &ops.Era{
		ID: id, Version: version, Dialect: "C", Commits: commits,
		Chain:  []string{id, "fork-1.0.x", "1.0"},
		Engine: ops.Engine{Scalars: ops.RoundAllScalars, NanToNumOutput: nanToNum},
		Doc:    doc,
	}
}

// weightedSum00x: 0.0.x's weighted_sum(a, b, *, alpha=0.5) = (1 - alpha)*a + alpha*b with a
// Python-float alpha: two products and a sum, each rounded (no lerp, no fused multiply-add).
var weightedSum00x = define(&ops.Def{
	Name: "weighted_sum", Era: "0.0.x",
	Params:  []ops.Param{symbolIn00x("a"), symbolIn00x("b")},
	KwOnly:  []ops.Param{floatDefault("alpha", 0.5)},
	Returns: ops.WeightSpace | ops.DeltaSpace, ReturnsSymbol: "S",
	Traits: ops.Elementwise, Keys: ops.KeysIntersect,
	Formula: "(1 - alpha)*a + alpha*b",
	Doc:     "sd-mecha 0.0.x weighted sum: alpha a Python float, computed as two rounded products and a rounded sum.",
	Kernel: func(c *ops.Call) error {
		ts, err := tensors("weighted_sum", len(c.Out.Data), c.Args[0], c.Args[1])
		if err != nil {
			return err
		}
		alpha, _ := c.Kw[0].Float64()
		a, b, out := ts[0], ts[1], c.Out.Data
		for i := range out {
			// The float64 conversions forbid fusing into a multiply-add: torch rounded each op.
			out[i] = float64((1-alpha)*a.At(i)) + float64(alpha*b.At(i))
		}
		return nil
	},
})

// addDifference00x is 0.0.x's add_difference(a, b, *, alpha=def) = a + alpha*b in era (a
// rounded product, a rounded sum). The formula never changed; the default did: 0.5 from 8259d55
// until 6abe8ac (in 0.0.18) made it 1.0, which the fork took in at 3360d18.
func addDifference00x(era string, def float64, commits string) *ops.Def {
	return define(&ops.Def{
		Name: "add_difference", Era: era,
		Params:  []ops.Param{symbolIn00x("a"), {Name: "b", Type: ops.TensorIn, Spaces: ops.DeltaSpace}},
		KwOnly:  []ops.Param{floatDefault("alpha", def)},
		Returns: ops.WeightSpace | ops.DeltaSpace, ReturnsSymbol: "S",
		Traits: ops.Elementwise, Keys: ops.KeysIntersect,
		Formula: "a + alpha*b",
		Doc: fmt.Sprintf("sd-mecha add_difference of %s: alpha a Python float (default %v), a rounded "+
			"product and a rounded sum.", commits, def),
		Kernel: func(c *ops.Call) error {
			ts, err := tensors("add_difference", len(c.Out.Data), c.Args[0], c.Args[1])
			if err != nil {
				return err
			}
			alpha, _ := c.Kw[0].Float64()
			a, b, out := ts[0], ts[1], c.Out.Data
			for i := range out {
				out[i] = a.At(i) + float64(alpha*b.At(i))
			}
			return nil
		},
	})
}

var (
	// The 0.0.29 era and the fork's eras from 3360d18 (upstream 0.0.19) on.
	_ = addDifference00x("0.0.x", 1, "6abe8ac (0.0.18) .. 0.0.29 and the fork from 3360d18")
	// 8259d55 .. 0.0.16 and the fork up to 01823a9 (upstream 0.0.13). The 0.0.9 era also
	// answers for 0.0.5 (its chain); upstream 0.0.18 (6abe8ac, e05c186), in the 0.0.6 .. 0.0.18
	// span of the 0.0.9 era, already had 1.0 and is not reproduced there.
	_ = addDifference00x("0.0.4", 0.5, "8259d55 .. 60d0764")
	_ = addDifference00x("0.0.9", 0.5, "953313a .. 0.0.16 (not 0.0.18)")
	_ = addDifference00x("fork-0.0.12", 0.5, "the fork's 4edc67c")
	_ = addDifference00x("fork-0.0.13", 0.5, "the fork's 29bac1a .. 01823a9")
)

// symbolIn00x is 0.0.x's SameMergeSpace: model or delta, the same for every such parameter.
func symbolIn00x(name string) ops.Param {
	return ops.Param{Name: name, Type: ops.TensorIn, Spaces: ops.WeightSpace | ops.DeltaSpace, Symbol: "S"}
}

// RegisterEras adds the era table to r.
func RegisterEras(r *ops.Registry) error {
	for _, e := range eras {
		if err := r.AddEra(e); err != nil {
			return err
		}
	}
	return nil
}

// The 0.0.x engines' key rules as methods, so that an upgraded recipe (mechac fmt --upgrade)
// can say in dialect C what the old engine did implicitly: passthrough_keys@E(a) keeps the
// keys era E copied from the first model, merged_keys@E(a) the keys it merged.
func keyFilter(name, era, doc string, keep func(string) bool) *ops.Def {
	return define(&ops.Def{
		Name: name, Era: era,
		Params:  []ops.Param{symbolIn("a")},
		Returns: ops.AnySpace, ReturnsSymbol: "S",
		Traits: ops.Routing, Keys: ops.KeysFilter, KeepKey: keep,
		Formula: doc,
		Doc:     "An engine rule of sd-mecha " + era + " written as a method: " + doc + ".",
		Kernel: func(c *ops.Call) error {
			return copyInto(name, c.Out, c.Args[0])
		},
	})
}

var (
	_ = keyFilter("passthrough_keys", "0.0.4", "the keys 0.0.4 copied instead of merging (VAE, time/label embeddings, position ids, [1000] buffers)",
		func(k string) bool { return passthrough004(k, nil) })
	_ = keyFilter("merged_keys", "0.0.4", "the keys 0.0.4 merged (UNet and text encoders, passthrough keys excluded)",
		func(k string) bool { return !passthrough004(k, nil) && keep004(k) })
	_ = keyFilter("passthrough_keys", "0.0.x", "the keys 0.0.5-0.0.29 copied instead of merging (VAE, position ids, v-pred markers)",
		func(k string) bool { return passthrough00x(k, nil) })
	_ = keyFilter("merged_keys", "0.0.x", "the keys 0.0.5-0.0.29 merged (all but the passthrough keys)",
		func(k string) bool { return !passthrough00x(k, nil) })
)

// nanToNumOutput3e3aea3 is the fork's 3e3aea3 output rule written as a method, so that an
// upgraded recipe can say it: after the output cast, NaN becomes 0 and ±inf (also from
// overflow in the cast) becomes ±the largest finite value of the output dtype. Applied to the
// recipe's result it gives the bytes the VM's nan-to-num-output rule gives.
var nanToNumOutput3e3aea3 = define(&ops.Def{
	Name: "nan_to_num_output", Era: "fork-1.0.9-nan2num",
	Params:  []ops.Param{symbolIn("a")},
	Returns: ops.AnySpace, ReturnsSymbol: "S",
	Traits: ops.Elementwise, Keys: ops.KeysIntersect,
	Formula: "isnan(a) ? 0 : isinf(cast(a)) ? ±max(output dtype) : a",
	Doc:     "The AstolfoMix fork's 3e3aea3 engine rule for outputs, as a method.",
	Kernel: func(c *ops.Call) error {
		ts, err := tensors("nan_to_num_output", len(c.Out.Data), c.Args[0])
		if err != nil {
			return err
		}
		limit := map[ops.DType]float64{ops.F16: 65504, ops.BF16: 3.3895313892515355e38, ops.F32: math.MaxFloat32, ops.F64: math.MaxFloat64}[c.OutputDType]
		via := c.Numerics == ops.SDMecha
		for i := range c.Out.Data {
			x := ts[0].At(i)
			switch {
			case math.IsNaN(x):
				x = 0
			case limit != 0 && math.IsInf(num.Narrow(x, c.OutputDType, via), 0):
				x = math.Copysign(limit, x)
			}
			c.Out.Data[i] = x
		}
		return nil
	},
})
