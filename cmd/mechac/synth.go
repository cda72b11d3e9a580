package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/mechac/mechac/cmd/mechac/internal/synth"
	"github.com/mechac/mechac/stdlib"
)

// cmdSynth writes a base model and N fine-tunes of it with the keys of a model config and
// scaled-down shapes, so examples and tests run without downloading checkpoints.
func cmdSynth(e *env, args []string) error {
	fs := newFlags(e, "synth", "-o DIR [flags]")
	out := fs.StringP("output", "o", "", "`DIR` to write base.safetensors and m0..mN-1.safetensors into (created)")
	config := fs.String("config", "sdxl-sgm", "model `CONFIG` whose keys to write")
	count := fs.Int("count", 3, "`N` fine-tunes of the base")
	divisor := fs.Int("divisor", 64, "divide every dimension >= 16 by `D` (4 gives 217M parameters for sdxl-sgm; 1 gives real shapes)")
	dtype := fs.String("dtype", "F16", "`DTYPE` of the floating-point tensors")
	seed := fs.Int64("seed", 0, "`SEED` of the base model")
	all := fs.Bool("all-keys", false, "also write the optional keys a real base checkpoint lacks (v-pred markers, scheduler buffers)")
	quiet := fs.BoolP("quiet", "q", false, "print nothing")
	if err := parseFlags(fs, args); err != nil {
		if err == errHelp {
			return nil
		}
		return err
	}
	if *out == "" || fs.NArg() != 0 {
		return usagef("synth: want -o DIR and no other arguments")
	}
	if *count < 0 || *divisor < 1 {
		return usagef("synth: --count must be >= 0 and --divisor >= 1")
	}
	cfg, ok := stdlib.Default().Config(*config)
	if !ok {
		return usagef("synth: unknown model config %q", *config)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	opts := synth.Options{Seed: *seed, Divisor: *divisor, DType: *dtype}
	if !*all && *config == "sdxl-sgm" {
		opts.Exclude = synth.SDXLBaseExcluded
	}
	write := func(name string, o synth.Options) error {
		p := filepath.Join(*out, name)
		if err := synth.Generate(cfg, o, p); err != nil {
			return err
		}
		if !*quiet {
			fmt.Fprintf(e.stderr, "wrote %s\n", p)
		}
		return nil
	}
	if err := write("base.safetensors", opts); err != nil {
		return err
	}
	for i := 0; i < *count; i++ {
		o := opts
		base := *seed
		o.FineTuneOf = &base
		o.Seed = *seed + int64(i) + 1
		if err := write(fmt.Sprintf("m%d.safetensors", i), o); err != nil {
			return err
		}
	}
	return nil
}
