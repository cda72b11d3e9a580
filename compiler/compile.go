package compiler

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/mechac/mechac/compiler/ir"
	"github.com/mechac/mechac/lang"
	"github.com/mechac/mechac/lang/pos"
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/bytecode"
)

// Options configure a compilation.
type Options struct {
	Registry *ops.Registry
	Numerics ops.Numerics
	// OutputDType is the dtype of every output tensor (default F16, like sd-mecha).
	OutputDType ops.DType
	// Models supplies headers. Nil means "no model files": Compile then stops after the
	// static checks (names, arities, types, spaces) and returns no program.
	Models ModelSource
	// RecipeText is the recipe as read, stored in the plan (and the output's metadata).
	RecipeText string
	// KeepNonFinite disables sd-mecha 1.1.x's rule that an input tensor with NaN/Inf counts
	// as missing for its key.
	KeepNonFinite bool
	// Era names the sd-mecha era whose semantics the recipe gets (an era ID, a version or a
	// commit); "" chooses from the recipe's dialect and file name (ChooseEra).
	Era string
	// NoFold and NoFuse turn off the per-key rewrites of code generation: kernel-shortcut
	// folding and n-ary fusion of linear chains (SPEC.md §3.5); tests compare against them.
	NoFold, NoFuse bool
	// NoStream keeps n-ary calls over many models whole (codegen_stream.go): for tests
	// comparing the two forms.
	NoStream bool
	// Bindings bind template parameters (`parameter "name" ...`) to model paths.
	Bindings map[string]string
}

// Result is what a compilation produced.
type Result struct {
	Func *ir.Func
	// Era is the era the recipe was compiled in.
	Era     *ops.Era
	Program *bytecode.Program // nil without models
	// Warnings are things a user should know but that do not stop the merge.
	Warnings []string
	// Notes say what the compiler decided on its own (inferred configs).
	Notes []string
}

type inputRef struct {
	info  *ModelInfo
	value *ir.Value
}

type compilation struct {
	opts     Options
	era      *ops.Era
	fn       *ir.Func
	keys     *keyTable
	inputs   []inputRef
	warnings []string
	inferred []string
	dfs      []*ir.Value
}

func (c *compilation) warnf(format string, args ...any) {
	c.warnings = append(c.warnings, fmt.Sprintf(format, args...))
}

// Compile lowers, optimizes and checks a recipe; with a ModelSource it also computes key
// sets and shapes from the headers and generates the plan.
func Compile(f *lang.File, opts Options) (*Result, error) {
	if opts.Registry == nil {
		return nil, fmt.Errorf("compiler: no registry")
	}
	era, note, err := ChooseEra(f, opts.Registry, opts.Era)
	if err != nil {
		return nil, err
	}
	fn, err := Lower(f, opts.Registry, era)
	if err != nil {
		return nil, err
	}
	Optimize(fn)
	if err := ir.Verify(fn); err != nil {
		return nil, fmt.Errorf("internal error after optimization: %v", err)
	}
	c := &compilation{opts: opts, fn: fn, era: era}
	res := &Result{Func: fn, Era: era}
	if note != "" {
		res.Notes = append(res.Notes, note)
	}
	res.Warnings = append(res.Warnings, fn.Warnings...)
	unbound := bindTemplates(fn, opts.Bindings)
	if len(unbound) > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("template: unbound parameters %s (bind them with --set NAME=path.safetensors)", strings.Join(unbound, ", ")))
	}
	var errs pos.ErrorList
	errs = append(errs, checkTypes(fn, era)...)
	errs = append(errs, checkSpaces(fn)...)
	if len(errs) == 0 {
		errs = append(errs, checkConfigs(fn, opts.Registry)...)
	}
	if len(errs) > 0 {
		errs.Sort()
		return res, errs
	}
	if opts.Models == nil {
		return res, nil
	}
	if len(unbound) > 0 {
		return res, fmt.Errorf("cannot run a template: unbound parameters %s (bind them with --set NAME=path.safetensors)", strings.Join(unbound, ", "))
	}
	if errs := c.resolveModels(); len(errs) > 0 {
		errs.Sort()
		return res, &InputError{errs}
	}
	// Configs inferred from headers may now reach merges and component picks.
	if errs := checkConfigs(fn, opts.Registry); len(errs) > 0 {
		errs.Sort()
		return res, &InputError{errs}
	}
	c.computeKeySets()
	prog, err := c.generate()
	res.Warnings = append(res.Warnings, c.warnings...)
	res.Notes = append(res.Notes, c.inferred...)
	if err != nil {
		return res, &InputError{err}
	}
	res.Program = prog
	return res, nil
}

// InputError is an error found in the model files (missing file, bad header, keys, shapes)
// rather than in the recipe text. The CLI exits with status 1 for these, 2 for recipe errors.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// RecipeHash is the sha256 (hex) of the recipe text.
func RecipeHash(text string) string {
	h := sha256.Sum256([]byte(text))
	return hex.EncodeToString(h[:])
}

// bindTemplates gives template parameters their paths and returns the unbound names, sorted.
func bindTemplates(fn *ir.Func, bindings map[string]string) []string {
	var unbound []string
	seen := map[string]bool{}
	for _, v := range fn.Values {
		if v.Op != ir.OpModel || v.Param == "" {
			continue
		}
		if p, ok := bindings[v.Param]; ok {
			v.Path = p
		} else if !seen[v.Param] {
			unbound = append(unbound, v.Param)
		}
		seen[v.Param] = true
	}
	sort.Strings(unbound)
	return unbound
}

// commitInName finds an sd-mecha commit at the end of a recipe's file name, the way the
// AstolfoMix files name theirs: x215a-AstolfoMix-24101101-6e545a3.mecha.
// (or the sd-mecha example files' weighted_sum@953313a.mecha).
var commitInName = regexp.MustCompile(`[-@]([0-9a-f]{7,40})$`)

// ChooseEra decides which era's semantics a recipe gets: the --era flag if given; else a
// commit named at the end of the file name; else the dialect's default (A: 0.0.4, B: the
// last 0.0.x release, C: today's sd-mecha 1.1.5). Every choice other than the plain default
// of dialect C comes with a note, so nothing is guessed silently.
func ChooseEra(f *lang.File, reg *ops.Registry, flag string) (*ops.Era, string, error) {
	want := map[lang.Dialect]string{lang.DialectA: "A", lang.DialectB: "B", lang.DialectC: "C"}[f.Dialect]
	if flag != "" {
		e, ok := reg.Era(flag)
		if !ok {
			var ids []string
			for _, e := range reg.Eras() {
				ids = append(ids, e.ID)
			}
			return nil, "", fmt.Errorf("unknown era %q (eras: %s; a commit hash of one of them also works)", flag, strings.Join(ids, ", "))
		}
		if e.Dialect != want {
			return nil, "", fmt.Errorf("era %s wrote dialect %s recipes, but %s is dialect %s", e.ID, e.Dialect, f.Name, want)
		}
		return e, fmt.Sprintf("era %s (sd-mecha %s), from --era", e.ID, e.Version), nil
	}
	stem := strings.TrimSuffix(filepath.Base(f.Name), filepath.Ext(f.Name))
	if m := commitInName.FindStringSubmatch(stem); m != nil {
		if e, ok := reg.Era(m[1]); ok && e.Dialect == want {
			return e, fmt.Sprintf("era %s (sd-mecha %s), from commit %s in the file name", e.ID, e.Version, m[1]), nil
		}
	}
	def := map[string]string{"A": "0.0.4", "B": "0.0.29", "C": "1.1.5"}[want]
	e, ok := reg.Era(def)
	if !ok {
		return nil, "", nil // a registry without eras (tests): today's rules
	}
	if want == "C" {
		return e, "", nil
	}
	return e, fmt.Sprintf("era %s assumed for a dialect %s recipe (no known sd-mecha commit in the file name; choose with --era)", e.ID, want), nil
}
