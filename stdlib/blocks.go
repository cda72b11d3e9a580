package stdlib

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/mechac/mechac/ops"
)

// Block-weight converters: a literal of per-block values (config sdxl-supermerger_blocks or
// sd1-supermerger_blocks: BASE, IN00.., M00, OUT00.., VAE) becomes a per-key value of the full
// model config, each key taking its block's value (sd-mecha 1.1.5
// model_configs/convert_{sdxl,sd1}_blocks.py, which follows supermerger's assignment).

var (
	reInputBlock  = regexp.MustCompile(`\.input_blocks\.(\d+)\.`)
	reMiddleBlock = regexp.MustCompile(`\.middle_block\.(\d+)\.`)
	reOutputBlock = regexp.MustCompile(`\.output_blocks\.(\d+)\.`)
)

// unetBlock names the block of a UNet key: INnn, M00, OUTnn, or last for keys after the
// output blocks (and UNet keys outside every block); time/label embeddings are BASE.
func unetBlock(key, last string, labelIsBase bool) string {
	switch {
	case strings.Contains(key, ".time_embed"), labelIsBase && strings.Contains(key, ".label_emb"):
		return "BASE"
	case strings.Contains(key, ".out."):
		return last
	}
	if m := reInputBlock.FindStringSubmatch(key); m != nil {
		return fmt.Sprintf("IN%02s", pad2(m[1]))
	}
	if reMiddleBlock.MatchString(key) {
		return "M00"
	}
	if m := reOutputBlock.FindStringSubmatch(key); m != nil {
		return fmt.Sprintf("OUT%02s", pad2(m[1]))
	}
	return last
}

func pad2(digits string) string {
	digits = strings.TrimLeft(digits, "0")
	if len(digits) < 2 {
		digits = strings.Repeat("0", 2-len(digits)) + digits
	}
	return digits
}

// SDXLBlockOf is the supermerger block of an sdxl-sgm key.
func SDXLBlockOf(key string) string {
	switch {
	case strings.HasPrefix(key, "model.diffusion_model."):
		return unetBlock(key, "OUT08", true)
	case strings.HasPrefix(key, "first_stage_model."):
		return "VAE"
	}
	return "BASE"
}

// SD1BlockOf is the supermerger block of an sd1-ldm key (SD1 has no VAE block: the VAE and
// the EMA keys take BASE).
func SD1BlockOf(key string) string {
	if strings.HasPrefix(key, "model.diffusion_model.") {
		return unetBlock(key, "OUT11", false)
	}
	return "BASE"
}

// blockConverter defines convert_<arch>_blocks_to_<impl>.
func blockConverter(name, from, to string, blockOf func(string) string) *ops.Def {
	return define(&ops.Def{
		Name:          name,
		Params:        []ops.Param{symbolIn("blocks")},
		Returns:       ops.AnySpace,
		ReturnsSymbol: "S",
		Traits:        ops.Routing,
		Keys:          ops.KeysMapped,
		Formula:       fmt.Sprintf("out[key] = blocks[block of key] (%s -> %s)", from, to),
		Doc: fmt.Sprintf("Per-block weights (config %s) to per-key values of %s: every key takes the value of "+
			"its supermerger block.", from, to),
		OutConfig: func(in []string) (string, error) {
			if len(in) == 1 && in[0] != "" && in[0] != from {
				return "", fmt.Errorf("its input must be a %s literal, not %s", from, in[0])
			}
			return to, nil
		},
		MapKeys: func(out string) ([][]string, bool) {
			return [][]string{{blockOf(out)}}, true
		},
		OutShape: func(args, _, _ []ops.Value) ([]int, error) {
			if len(args) != 1 || len(args[0].Ts) != 1 {
				return nil, fmt.Errorf("want one block value")
			}
			return args[0].Ts[0].Shape, nil
		},
		Kernel: func(c *ops.Call) error {
			src := c.Args[0]
			if src.Kind != ops.KindTensorList || len(src.Ts) != 1 {
				return fmt.Errorf("%s: want one block value", name)
			}
			return copyInto(name, c.Out, ops.TensorValue(src.Ts[0]))
		},
	})
}

var (
	convertSDXLBlocks = blockConverter("convert_sdxl_blocks_to_sgm", "sdxl-supermerger_blocks", "sdxl-sgm", SDXLBlockOf)
	convertSD1Blocks  = blockConverter("convert_sd1_blocks_to_ldm", "sd1-supermerger_blocks", "sd1-ldm", SD1BlockOf)
)
