package compiler

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

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
}

// Result is what a compilation produced.
type Result struct {
	Func    *ir.Func
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
	fn       *ir.Func
	keys     *keyTable
	inputs   []inputRef
	warnings []string
	inferred []string
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
	fn, err := Lower(f, opts.Registry)
	if err != nil {
		return nil, err
	}
	Optimize(fn)
	if err := ir.Verify(fn); err != nil {
		return nil, fmt.Errorf("internal error after optimization: %v", err)
	}
	c := &compilation{opts: opts, fn: fn}
	res := &Result{Func: fn}
	var errs pos.ErrorList
	errs = append(errs, checkTypes(fn)...)
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
	res.Warnings, res.Notes = c.warnings, c.inferred
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
