// Package ir is mechac's intermediate representation: a value-numbered DAG in which every
// value is a model file, a constant, a dict, a literal, or a merge-method application with
// its arguments bound to the method's signature. The recipe is already SSA (each line defines
// one value, `&N` refers back), so lowering is almost one to one; the IR adds what the text
// leaves implicit: bound parameter names, defaults, merge spaces and model configs.
package ir

import (
	"github.com/mechac/mechac/lang/pos"
	"github.com/mechac/mechac/ops"
)

// Op is a value's kind.
type Op uint8

const (
	OpModel   Op = iota // a model file
	OpConst             // a constant (number, string, bool, null)
	OpDict              // a dict of constants or values
	OpLiteral           // a literal state dict (a dict or constant with a model config)
	OpMerge             // a merge method applied to bound arguments
)

var opNames = [...]string{"model", "const", "dict", "literal", "merge"}

func (o Op) String() string { return opNames[o] }

// DictEntry is one key=value of a dict.
type DictEntry struct {
	Key   string
	Value *Value
}

// Value is one IR value.
type Value struct {
	ID  int
	Op  Op
	Pos pos.Position

	// OpModel: the path as written, the config the recipe names ("" = infer).
	Path string
	// Param names a template placeholder (`parameter "name" ...`): a model whose path is bound
	// at run time; Path is empty until then.
	Param string
	// Config is the model config identifier: named by the recipe, inferred, or propagated.
	Config string
	// Space is the merge space (a single space once checked).
	Space ops.Space

	// OpConst.
	Const ops.Value

	// OpDict, and OpLiteral whose content is a dict.
	Dict []DictEntry
	// OpLiteral: the wrapped dict or constant.
	Inner *Value

	// OpMerge.
	Def  *ops.Def
	Args []*Value // one per Def.Params; nil for an absent optional argument
	Var  []*Value // varargs
	Kw   []*Value // one per Def.KwOnly
	// Given marks which Args/Kw were written in the recipe (the rest are defaults), in the
	// order Args then Kw; explain uses it.
	Given []bool
}

// Operands returns every argument value in order (Args, Var, Kw), nils included.
func (v *Value) Operands() []*Value {
	n := len(v.Args) + len(v.Var) + len(v.Kw)
	if n == 0 {
		return nil
	}
	out := make([]*Value, 0, n) // one allocation: code generation calls this per key
	out = append(out, v.Args...)
	out = append(out, v.Var...)
	out = append(out, v.Kw...)
	return out
}

// ParamFor returns the parameter that operand i (as in Operands) binds to.
func (v *Value) ParamFor(i int) ops.Param {
	if i < len(v.Args) {
		return v.Def.Params[i]
	}
	i -= len(v.Args)
	if i < len(v.Var) {
		return *v.Def.Varargs
	}
	return v.Def.KwOnly[i-len(v.Var)]
}

// Func is a whole recipe in IR.
type Func struct {
	Values []*Value // in definition order; operands always come earlier
	Root   *Value
	// Warnings from lowering (e.g. keywords an era ignored).
	Warnings []string
	// Lines[n] is the value of the recipe's n-th instruction (what &n names), as lowered;
	// passes rewrite Values, not Lines.
	Lines []*Value
}

// Renumber assigns IDs in slice order (after passes removed or reordered values).
func (f *Func) Renumber() {
	for i, v := range f.Values {
		v.ID = i
	}
}
