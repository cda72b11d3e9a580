package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/mechac/mechac/compiler"
	"github.com/mechac/mechac/lang"
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
)

// newFlags makes a flag set that reports errors instead of exiting.
func newFlags(e *env, name, usage string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: mechac %s %s\n\nflags:\n", name, usage)
		fs.PrintDefaults()
	}
	fs.SortFlags = false
	return fs
}

// parseFlags parses and turns flag errors into usage errors. It returns errHelp for -h.
func parseFlags(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == pflag.ErrHelp {
			return errHelp
		}
		return usagef("%s: %v", fs.Name(), err)
	}
	return nil
}

var errHelp = &usageError{"help requested"}

// loadRecipe reads and parses a recipe file.
func loadRecipe(path string) (*lang.File, []byte, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, usagef("%v", err)
	}
	f, err := lang.Parse(path, src)
	if err != nil {
		return nil, src, err
	}
	return f, src, nil
}

// compileOptions are the flags shared by run, compile and check.
type compileOptions struct {
	modelsDirs  []string
	numerics    string
	outputDType string
	era         string
	set         []string
}

func (o *compileOptions) register(fs *pflag.FlagSet, withNumerics bool) {
	fs.StringArrayVar(&o.modelsDirs, "models-dir", nil, "`DIR` to look for relative model paths in (repeatable; then the recipe's folder)")
	fs.StringVar(&o.era, "era", "", "sd-mecha `ERA` whose semantics the recipe gets (an era, a version or a commit; default: from the dialect and the file name)")
	fs.StringArrayVar(&o.set, "set", nil, "bind a template parameter: `NAME=PATH` (repeatable)")
	if withNumerics {
		fs.StringVar(&o.numerics, "numerics", "exact", "`MODE`: exact (float64, one rounding) or sd-mecha (bit-compatible with sd-mecha 1.1.5)")
		fs.StringVar(&o.outputDType, "output-dtype", "f16", "output `DTYPE`: f16, bf16, f32 or f64")
	}
}

func (o *compileOptions) options(text string) (compiler.Options, error) {
	opts := compiler.Options{Registry: stdlib.Default(), RecipeText: text, OutputDType: ops.F16, Era: o.era}
	for _, kv := range o.set {
		name, path, ok := strings.Cut(kv, "=")
		if !ok || name == "" || path == "" {
			return opts, usagef("--set %q: want NAME=PATH", kv)
		}
		if opts.Bindings == nil {
			opts.Bindings = map[string]string{}
		}
		opts.Bindings[name] = path
	}
	if o.numerics != "" {
		n, err := ops.ParseNumerics(o.numerics)
		if err != nil {
			return opts, usagef("--numerics: %v", err)
		}
		opts.Numerics = n
	}
	if o.outputDType != "" {
		switch o.outputDType {
		case "f16", "F16", "float16":
			opts.OutputDType = ops.F16
		case "bf16", "BF16", "bfloat16":
			opts.OutputDType = ops.BF16
		case "f32", "F32", "float32":
			opts.OutputDType = ops.F32
		case "f64", "F64", "float64":
			opts.OutputDType = ops.F64
		default:
			return opts, usagef("--output-dtype: %q is not one of f16, bf16, f32, f64", o.outputDType)
		}
	}
	return opts, nil
}

// modelPaths lists the model paths a recipe names, in order, template parameters resolved
// through the bindings (unbound ones are left out).
func modelPaths(f *lang.File, bindings map[string]string) []string {
	var out []string
	for _, s := range f.Instrs() {
		p := s.Positional()
		if len(p) == 0 || p[0].Value.Kind != lang.String {
			continue
		}
		switch s.Command {
		case "model":
			out = append(out, p[0].Value.Str)
		case "parameter":
			if path, ok := bindings[p[0].Value.Str]; ok {
				out = append(out, path)
			}
		}
	}
	return out
}

func printNotes(e *env, res *compiler.Result, quiet bool) {
	if res == nil || quiet {
		return
	}
	for _, n := range res.Notes {
		fmt.Fprintf(e.stderr, "note: %s\n", n)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(e.stderr, "warning: %s\n", w)
	}
}

// recipeCommand is what every command that takes one recipe starts from.
type recipeCommand struct {
	path string
	file *lang.File
	src  []byte
	opts compiler.Options
}

// parseRecipeCommand parses the flags of a one-recipe command, reads and parses the recipe
// and builds the compile options. It returns nil, nil when help was asked for.
func parseRecipeCommand(fs *pflag.FlagSet, co *compileOptions, args []string) (*recipeCommand, error) {
	if err := parseFlags(fs, args); err != nil {
		if err == errHelp {
			return nil, nil
		}
		return nil, err
	}
	prepareHeap(compileHeapBytes)
	if fs.NArg() != 1 {
		return nil, usagef("%s: want exactly one recipe, got %d arguments", fs.Name(), fs.NArg())
	}
	rc := &recipeCommand{path: fs.Arg(0)}
	var err error
	if rc.file, rc.src, err = loadRecipe(rc.path); err != nil {
		return nil, err
	}
	if rc.opts, err = co.options(string(rc.src)); err != nil {
		return nil, err
	}
	return rc, nil
}
