package compiler

import (
	"fmt"

	"github.com/mechac/mechac/compiler/ir"
	"github.com/mechac/mechac/lang/pos"
	"github.com/mechac/mechac/ops"
)

// checkTypes verifies that every argument fits its parameter's type: tensors where the method
// reads a model, numbers where it wants a number, strings where it wants a name. It runs
// after constant folding, so a convert_singleton of a scalar already is that scalar.
func checkTypes(f *ir.Func, era *ops.Era) pos.ErrorList {
	dictHypers := era != nil && era.Engine.Hyper != nil
	var errs pos.ErrorList
	for _, v := range f.Values {
		if v.Op == ir.OpLiteral && v.Config == "" && v.Inner.Op == ir.OpConst {
			v.Config = "singleton-mecha"
		}
		if v.Op != ir.OpMerge {
			continue
		}
		for i, a := range v.Operands() {
			p := v.ParamFor(i)
			if a == nil {
				continue
			}
			node := a.Op == ir.OpModel || a.Op == ir.OpMerge || a.Op == ir.OpLiteral
			if a.Op == ir.OpDict && dictHypers && p.Type != ops.TensorIn && p.Type != ops.StringHyper {
				// Per-block values, resolved per key by the era's rule.
				if era.Engine.ValidateHyper != nil {
					var names []string
					for _, e := range a.Dict {
						names = append(names, e.Key)
					}
					if err := era.Engine.ValidateHyper(names); err != nil {
						errs.Addf(a.Pos, "%v", err)
					}
				}
				continue
			}
			bad := ""
			switch p.Type {
			case ops.TensorIn:
				if a.Op == ir.OpConst && a.Const.Kind == ops.KindNull && p.Optional {
					break
				}
				if !node {
					bad = "a model or a merge result (&N)"
				}
			case ops.TensorHyper:
				if !node && !a.Const.IsNumber() && !(a.Const.Kind == ops.KindNull && p.Optional) {
					bad = "a number or a param-space value"
				}
			case ops.FloatHyper, ops.IntHyper, ops.BoolHyper:
				if perKeyNumbers(a) {
					break // a literal of per-key numbers: a constant at each key
				}
				if a.Op != ir.OpConst || !(a.Const.IsNumber() || (a.Const.Kind == ops.KindNull && p.Optional)) {
					bad = "a number"
				}
			case ops.StringHyper:
				if a.Op != ir.OpConst || !(a.Const.Kind == ops.KindString || (a.Const.Kind == ops.KindNull && p.Optional)) {
					bad = "a string"
				}
			}
			if bad == "" && a.Op == ir.OpConst && p.Check != nil {
				if err := p.Check(a.Const); err != nil {
					at := a.Pos
					if !at.IsValid() {
						at = v.Pos
					}
					errs.Addf(at, "argument %q of %s: %v", p.Name, v.Def.Name, err)
				}
			}
			if a.Op == ir.OpDict {
				bad += " (a dict of per-key values is not supported here yet)"
			}
			if bad != "" {
				at := a.Pos
				if !at.IsValid() {
					at = v.Pos
				}
				errs.Addf(at, "argument %q of %s must be %s, not %s", p.Name, v.Def.Name, bad, describe(a))
			}
		}
	}
	return errs
}

// checkSpaces assigns every value its merge space and checks each argument against its
// parameter: allowed spaces, and "same space" symbols (sd-mecha's S). The root must be in
// weight space, as sd-mecha's merge() requires by default.
func checkSpaces(f *ir.Func) pos.ErrorList {
	var errs pos.ErrorList
	for _, v := range f.Values {
		switch v.Op {
		case ir.OpConst, ir.OpDict:
			v.Space = ops.ParamSpace
			continue
		case ir.OpModel, ir.OpLiteral:
			if v.Space == 0 {
				v.Space = ops.WeightSpace
			}
			continue
		}
		d := v.Def
		symbol := map[string]ops.Space{}
		symbolArg := map[string]string{}
		ok := true
		for i, a := range v.Operands() {
			p := v.ParamFor(i)
			if a == nil || (p.Type != ops.TensorIn && p.Type != ops.TensorHyper) {
				continue
			}
			if a.Op == ir.OpConst && a.Const.Kind == ops.KindNull {
				continue
			}
			allowed := p.Spaces
			if allowed == 0 {
				allowed = ops.AnySpace
			}
			if a.Space&allowed == 0 {
				errs.Addf(v.Pos, "argument %q of %s must be in %s space, but %s is in %s space",
					p.Name, d.Name, allowed, describe(a), a.Space)
				ok = false
				continue
			}
			if p.Symbol != "" {
				if s, seen := symbol[p.Symbol]; seen && s != a.Space {
					errs.Addf(v.Pos, "arguments %q and %q of %s must be in the same merge space, but %s is in %s space and %s in %s space",
						symbolArg[p.Symbol], p.Name, d.Name, symbolArg[p.Symbol], s, p.Name, a.Space)
					ok = false
					continue
				}
				symbol[p.Symbol] = a.Space
				symbolArg[p.Symbol] = p.Name
			}
		}
		if !ok {
			v.Space = d.Returns.First()
			continue
		}
		if d.ReturnsSymbol != "" {
			if s, seen := symbol[d.ReturnsSymbol]; seen {
				v.Space = s
				continue
			}
		}
		v.Space = d.Returns.First()
		if v.Space == 0 {
			v.Space = ops.WeightSpace
		}
	}
	if len(errs) == 0 && f.Root != nil && f.Root.Space != ops.WeightSpace {
		errs.Addf(f.Root.Pos, "the recipe's result (%s) is in %s space; a merged model must be in weight space (add it to a base with add_difference?)",
			describe(f.Root), f.Root.Space)
	}
	return errs
}

// checkConfigs propagates model configs from models (named or inferred) through merges and
// checks that the inputs of a merge agree, and that pick/omit_component name a component of
// their input's config. Unknown configs (no model_config and no header yet) are skipped.
func checkConfigs(f *ir.Func, reg *ops.Registry) pos.ErrorList {
	var errs pos.ErrorList
	for _, v := range f.Values {
		if v.Op != ir.OpMerge {
			continue
		}
		if v.Def.Keys == ops.KeysBroadcast {
			v.Config = ""
			continue
		}
		if v.Def.Keys == ops.KeysMapped {
			var in []string
			for i, a := range v.Operands() {
				if a != nil && v.ParamFor(i).Type == ops.TensorIn {
					in = append(in, a.Config)
				}
			}
			if v.Def.OutConfig != nil {
				out, err := v.Def.OutConfig(in)
				if err != nil {
					errs.Addf(v.Pos, "%s: %v", v.Def.Name, err)
				}
				v.Config = out
			}
			continue
		}
		cfg, from := "", ""
		for i, a := range v.Operands() {
			p := v.ParamFor(i)
			if a == nil || a.Config == "" || a.Op == ir.OpConst || (p.Type != ops.TensorIn && p.Type != ops.TensorHyper) {
				continue
			}
			if a.Op == ir.OpLiteral && a.Config == "singleton-mecha" {
				continue
			}
			if cfg == "" {
				cfg, from = a.Config, describe(a)
			} else if a.Config != cfg {
				errs.Addf(v.Pos, "inputs of %s have different model configs: %s is %s, %s is %s",
					v.Def.Name, from, cfg, describe(a), a.Config)
			}
		}
		v.Config = cfg
		if (v.Def.Keys == ops.KeysPickComponent || v.Def.Keys == ops.KeysOmitComponent) && cfg != "" {
			comp := componentArg(v)
			c, _ := reg.Config(cfg)
			if c != nil && !c.Has(comp) {
				msg := fmt.Sprintf("%s has no component %q (it has %v)", cfg, comp, c.Components)
				if sug := ops.Nearest(comp, c.Components); sug != "" {
					msg += fmt.Sprintf("; did you mean %q?", sug)
				}
				errs.Addf(v.Pos, "%s", msg)
			}
		}
	}
	return errs
}

// componentArg returns the "component" argument of pick/omit_component.
func componentArg(v *ir.Value) string {
	for i, p := range v.Def.Params {
		if p.Name == "component" && v.Args[i] != nil && v.Args[i].Op == ir.OpConst {
			return v.Args[i].Const.S
		}
	}
	return ""
}

// perKeyNumbers reports a literal whose dict maps keys to numbers: at each key it is a
// constant, so it may feed a float/int/bool hyper-parameter.
func perKeyNumbers(a *ir.Value) bool {
	if a.Op != ir.OpLiteral || a.Inner == nil || a.Inner.Op != ir.OpDict || a.Config == "" || a.Config == "singleton-mecha" {
		return false
	}
	for _, e := range a.Inner.Dict {
		if e.Value.Op != ir.OpConst || !e.Value.Const.IsNumber() {
			return false
		}
	}
	return true
}
