package compiler

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mechac/mechac/compiler/ir"
	"github.com/mechac/mechac/lang"
	"github.com/mechac/mechac/ops"
)

// Upgrade rewrites a dialect A or B recipe as a `version 0.1.0` recipe that means the same
// thing under today's rules (era 1.1.5) in mechac:
//
//   - every method is written under the definition its era resolved it to, so era-specific
//     math is named (`weighted_sum@0.0.x`, `ties_sum_with_dropout@fork-0.0.12`) instead of
//     being reinterpreted under today's meaning of the name (no polarity flips are needed:
//     the era definition carries its own);
//   - a hyper-parameter dict becomes a literal of per-key values in the model's config,
//     resolved with the era's dict rule (a key the dict has no value for is left out, which
//     makes the merge miss that key, as the era's KeyError did);
//   - the era's key rules become explicit: a merge whose input lacks a key returns its first
//     input in the same space (eras 0.0.19 on: a fallback chain after the merge); the result
//     is completed from the first model having each key (a fallback chain over the models in
//     the era's depth-first order); the keys the era copied instead of merging come from that
//     chain (passthrough_keys@E), the others from the merge (merged_keys@E).
//
// Differences that remain, and are written in the output's header: today's rule that an
// input with NaN/Inf counts as missing, and methods that have no era definition (they run
// with today's hyper-parameter typing).
func Upgrade(f *lang.File, reg *ops.Registry, eraFlag string) (*lang.File, error) {
	era, _, err := ChooseEra(f, reg, eraFlag)
	if err != nil {
		return nil, err
	}
	if era == nil || (f.Dialect == lang.DialectC && era.Engine.Scalars != ops.RoundAllScalars) {
		return nil, fmt.Errorf("%s is already a recipe of today's sd-mecha", f.Name)
	}

	fn, err := Lower(f, reg, era)
	if err != nil {
		return nil, err
	}
	errs := checkTypes(fn, era)
	errs = append(errs, checkSpaces(fn)...)
	if len(errs) == 0 {
		errs = append(errs, checkConfigs(fn, reg)...)
	}
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	u := &upgrader{reg: reg, era: era, out: &lang.File{Name: f.Name, Dialect: lang.DialectC, Version: "0.1.0"},
		index: map[*ir.Value]int{}, literals: map[string]int{}}
	u.comment(fmt.Sprintf("# upgraded by mechac fmt --upgrade from dialect %s, era %s (sd-mecha %s)", f.Dialect, era.ID, era.Version))
	u.comment("# differs only where an input has NaN/Inf (treated as missing today) or a method has no era definition")
	filter := "0.0.x"
	if era.ID == "0.0.4" {
		filter = "0.0.4"
	}
	for _, v := range fn.Lines {
		if err := u.value(v); err != nil {
			return nil, err
		}
	}
	if !era.Engine.UnionKeys {
		// A 1.0.x recipe: today's key rules already are its key rules. The fork's nan2num
		// output rule is a method on the result.
		if era.Engine.NanToNumOutput {
			name := "nan_to_num_output@" + era.ID
			if _, ok := reg.Lookup(name); !ok {
				return nil, fmt.Errorf("era %s replaces non-finite outputs, and this mechac has no %s to say so", era.ID, name)
			}
			u.merge(name, ref(u.index[fn.Root]))
		}
		return u.out, nil
	}
	// The chain of every model, in the era's depth-first order: "the first model having K".
	c := &compilation{fn: fn}
	models := c.modelsInDFSOrder()
	if len(models) == 0 {
		return nil, fmt.Errorf("%s: no model to complete the keys from", f.Name)
	}
	chain := u.index[models[len(models)-1]]
	for i := len(models) - 2; i >= 0; i-- {
		chain = u.merge("fallback", ref(u.index[models[i]]), ref(chain))
	}
	root := u.index[fn.Root]
	if fn.Root.Op == ir.OpModel {
		return u.out, nil
	}
	pass := u.merge("passthrough_keys@"+filter, ref(chain))
	merged := u.merge("merged_keys@"+filter, ref(u.merge("fallback", ref(root), ref(chain))))
	u.merge("fallback", ref(pass), ref(merged))
	return u.out, nil
}

type upgrader struct {
	reg      *ops.Registry
	era      *ops.Era
	out      *lang.File
	n        int
	index    map[*ir.Value]int // value -> index of the line standing for it
	literals map[string]int    // per-key literal cache
}

func ref(i int) *lang.Value { return &lang.Value{Kind: lang.Ref, Int: int64(i)} }

func str(s string) *lang.Value { return &lang.Value{Kind: lang.String, Str: s} }

func (u *upgrader) comment(text string) {
	u.out.Stmts = append(u.out.Stmts, &lang.Stmt{Comment: text, Index: -1})
}

// emit appends an instruction and returns its index.
func (u *upgrader) emit(cmd string, args ...*lang.Arg) int {
	u.out.Stmts = append(u.out.Stmts, &lang.Stmt{Command: cmd, Args: args, Index: u.n})
	u.n++
	return u.n - 1
}

func (u *upgrader) merge(method string, vals ...*lang.Value) int {
	args := []*lang.Arg{{Value: str(method)}}
	for _, v := range vals {
		args = append(args, &lang.Arg{Value: v})
	}
	return u.emit("merge", args...)
}

// constValue writes a constant as a recipe value.
func constValue(c ops.Value) *lang.Value {
	switch c.Kind {
	case ops.KindNull:
		return &lang.Value{Kind: lang.Null}
	case ops.KindBool:
		return &lang.Value{Kind: lang.Bool, Bool: c.B}
	case ops.KindInt:
		return &lang.Value{Kind: lang.Int, Int: c.I}
	case ops.KindString:
		return str(c.S)
	}
	return &lang.Value{Kind: lang.Float, Float: c.F}
}

func (u *upgrader) value(v *ir.Value) error {
	if _, done := u.index[v]; done {
		return nil
	}
	switch v.Op {
	case ir.OpModel:
		if v.Param != "" {
			return fmt.Errorf("template parameter %q: bind templates with --set; dialect C has no parameter line to upgrade it to", v.Param)
		}
		args := []*lang.Arg{{Value: str(v.Path)}}
		if v.Config != "" {
			args = append(args, &lang.Arg{Key: "model_config", Value: str(v.Config)})
		}
		args = append(args, &lang.Arg{Key: "merge_space", Value: str(v.Space.String())})
		u.index[v] = u.emit("model", args...)
	case ir.OpDict, ir.OpConst:
		// Written at their use, where the config they resolve against is known.
	case ir.OpLiteral:
		if v.Inner.Op != ir.OpDict {
			return fmt.Errorf("%s: cannot upgrade a literal of a single value", v.Pos)
		}
		var dargs []*lang.Arg
		for _, e := range v.Inner.Dict {
			if e.Value.Op != ir.OpConst {
				return fmt.Errorf("%s: cannot upgrade a literal of references", v.Pos)
			}
			dargs = append(dargs, &lang.Arg{Key: e.Key, Value: constValue(e.Value.Const)})
		}
		d := u.emit("dict", dargs...)
		args := []*lang.Arg{{Value: ref(d)}}
		if v.Config != "" {
			args = append(args, &lang.Arg{Key: "model_config", Value: str(v.Config)})
		}
		args = append(args, &lang.Arg{Key: "merge_space", Value: str(v.Space.String())})
		u.index[v] = u.emit("literal", args...)
	case ir.OpMerge:
		return u.mergeValue(v)
	default:
		return fmt.Errorf("%s: cannot upgrade a %s line", v.Pos, v.Op)
	}
	return nil
}

func (u *upgrader) mergeValue(v *ir.Value) error {
	args := []*lang.Arg{{Value: str(v.Def.FullName())}}
	config := mergeConfig(v)
	arg := func(a *ir.Value, p ops.Param) (*lang.Value, error) {
		switch {
		case a == nil:
			return &lang.Value{Kind: lang.Null}, nil
		case a.Op == ir.OpConst:
			return constValue(u.typed(a.Const, p)), nil
		case a.Op == ir.OpDict:
			i, err := u.perKeyLiteral(a, config)
			return ref(i), err
		}
		i, ok := u.index[a]
		if !ok {
			return nil, fmt.Errorf("%s: argument %s is not upgraded", v.Pos, p.Name)
		}
		return ref(i), nil
	}
	for i, a := range v.Args {
		val, err := arg(a, v.Def.Params[i])
		if err != nil {
			return err
		}
		args = append(args, &lang.Arg{Value: val})
	}
	for _, a := range v.Var {
		val, err := arg(a, *v.Def.Varargs)
		if err != nil {
			return err
		}
		args = append(args, &lang.Arg{Value: val})
	}
	for i, a := range v.Kw {
		val, err := arg(a, v.Def.KwOnly[i])
		if err != nil {
			return err
		}
		args = append(args, &lang.Arg{Key: v.Def.KwOnly[i].Name, Value: val})
	}
	idx := u.emit("merge", args...)
	if u.era.Engine.Missing == ops.MissingFirstChild {
		// A merge whose input lacks a key returns its first input in the same space.
		var same []int
		for i, a := range v.Operands() {
			if a != nil && v.ParamFor(i).Type == ops.TensorIn && a.Op != ir.OpConst && a.Space == v.Space {
				same = append(same, u.index[a])
			}
		}
		if len(same) > 0 {
			chain := same[len(same)-1]
			for i := len(same) - 2; i >= 0; i-- {
				chain = u.merge("fallback", ref(same[i]), ref(chain))
			}
			idx = u.merge("fallback", ref(idx), ref(chain))
		}
	}
	u.index[v] = idx
	return nil
}

// typed writes a number as the era typed it: sd-mecha 1.0.x made every recipe number a
// float32 tensor before coercing it, so the upgraded recipe carries the rounded value.
func (u *upgrader) typed(c ops.Value, p ops.Param) ops.Value {
	if u.era.Engine.Scalars != ops.RoundAllScalars || !c.IsNumber() {
		return c
	}
	f, _ := c.Float64()
	f = float64(float32(f))
	switch p.Type {
	case ops.IntHyper, ops.BoolHyper:
		if c.Kind == ops.KindBool {
			return ops.Bool(f != 0)
		}
		return ops.Int(int64(f))
	}
	return ops.Float(f)
}

// mergeConfig is the model config a merge's per-key dicts resolve against.
func mergeConfig(v *ir.Value) string {
	for _, a := range v.Operands() {
		if a != nil && a.Config != "" {
			return a.Config
		}
	}
	return ""
}

// perKeyLiteral writes a dict hyper-parameter as `dict <key>=<value> ...` over every key of
// the config the era's rule gives a value for, and a literal of that config.
func (u *upgrader) perKeyLiteral(d *ir.Value, config string) (int, error) {
	var names []string
	var vals []ops.Value
	for _, e := range d.Dict {
		if e.Value.Op != ir.OpConst {
			return 0, fmt.Errorf("%s: dict entry %s is not a number", d.Pos, e.Key)
		}
		names = append(names, e.Key)
		vals = append(vals, e.Value.Const)
	}
	if config == "" {
		// 0.0.4 chose its table from the names: SDXL names mean an SDXL model.
		config = "sd1-ldm"
		for _, n := range names {
			if strings.HasPrefix(n, "g14_txt_") || strings.HasPrefix(n, "sdxl_") {
				config = "sdxl-sgm"
			}
		}
	}
	cacheKey := fmt.Sprintf("%d|%s", d.ID, config)
	if i, ok := u.literals[cacheKey]; ok {
		return i, nil
	}
	cfg, ok := u.reg.Config(config)
	if !ok || u.era.Engine.Hyper == nil {
		return 0, fmt.Errorf("%s: cannot resolve a dict without a model config", d.Pos)
	}
	var args []*lang.Arg
	keys := make([]string, 0, len(cfg.Keys))
	for _, k := range cfg.Keys {
		keys = append(keys, k.Name)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v, ok := u.era.Engine.Hyper(names, vals, k); ok {
			args = append(args, &lang.Arg{Key: k, Value: constValue(v)})
		}
	}
	di := u.emit("dict", args...)
	li := u.emit("literal", &lang.Arg{Value: ref(di)},
		&lang.Arg{Key: "model_config", Value: str(config)}, &lang.Arg{Key: "merge_space", Value: str("param")})
	u.literals[cacheKey] = li
	return li, nil
}
