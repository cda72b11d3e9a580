package compiler

import (
	"fmt"
	"strings"

	"github.com/mechac/mechac/compiler/ir"
	"github.com/mechac/mechac/lang"
	"github.com/mechac/mechac/lang/pos"
	"github.com/mechac/mechac/ops"
)

// Explanation is what `mechac explain` prints: per recipe line, what mechac will compute.
type Explanation struct {
	Dialect lang.Dialect
	Era     *ops.Era
	EraNote string
	Lines   []LineExplanation
}

// LineExplanation describes one instruction.
type LineExplanation struct {
	Index int // &Index
	Pos   pos.Position
	Value *ir.Value
	// Method is the resolved definition's full name (name@era) for merges.
	Method  string
	Formula string
	Params  []ParamExplanation
	// Note says how code generation may rewrite the line (fusion in exact numerics).
	Note string
}

// ParamExplanation is one bound parameter: its final value, whether it was written or is the
// default, its space, and (in sd-mecha numerics) the value the kernel really receives.
type ParamExplanation struct {
	Name    string
	Value   string
	Default bool
	Space   string
	// Effective is set when sd-mecha numerics change the value (float32 rounding).
	Effective string
}

// Explain lowers and checks a recipe without optimizing it, so every line keeps its value.
func Explain(f *lang.File, opts Options) (*Explanation, error) {
	era, note, err := ChooseEra(f, opts.Registry, opts.Era)
	if err != nil {
		return nil, err
	}
	fn, err := Lower(f, opts.Registry, era)
	if err != nil {
		return nil, err
	}
	var errs pos.ErrorList
	errs = append(errs, checkTypes(fn, era)...)
	errs = append(errs, checkSpaces(fn)...)
	if len(errs) == 0 {
		errs = append(errs, checkConfigs(fn, opts.Registry)...)
	}
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	ex := &Explanation{Dialect: f.Dialect, Era: era, EraNote: note}
	index := map[*ir.Value]int{}
	for i, v := range fn.Lines {
		if _, seen := index[v]; !seen {
			index[v] = i
		}
	}
	ref := func(v *ir.Value) string {
		if v == nil {
			return "none"
		}
		if v.Op == ir.OpConst {
			if v.Const.Kind == ops.KindFloat {
				return lang.FormatFloat(v.Const.F)
			}
			return v.Const.String()
		}
		if i, ok := index[v]; ok {
			return fmt.Sprintf("&%d", i)
		}
		return ir.Ref(v)
	}
	for i, v := range fn.Lines {
		le := LineExplanation{Index: i, Pos: v.Pos, Value: v}
		if v.Op == ir.OpMerge {
			le.Method = v.Def.FullName()
			le.Formula = v.Def.Formula
			if linearDefs[le.Method] && opts.Numerics == ops.Exact && !opts.NoFuse {
				le.Note = FuseNote
			}
			for j, a := range v.Operands() {
				p := v.ParamFor(j)
				pe := ParamExplanation{Name: p.Name, Value: ref(a)}
				if j < len(v.Args) && j < len(v.Given) {
					pe.Default = !v.Given[j]
				} else if j >= len(v.Args)+len(v.Var) {
					k := len(v.Args) + (j - len(v.Args) - len(v.Var))
					if k < len(v.Given) {
						pe.Default = !v.Given[k]
					}
				}
				if a != nil && a.Space != 0 {
					pe.Space = a.Space.String()
				} else if a != nil && a.Op == ir.OpConst {
					pe.Space = ops.ParamSpace.String()
				}
				if a != nil && a.Op == ir.OpDict {
					pe.Value += " (per key, by era " + eraID(era) + "'s dict rule)"
				}
				if a != nil && a.Op == ir.OpConst && opts.Numerics == ops.SDMecha && a.Const.IsNumber() {
					if eff := effectiveScalar(a.Const, p, era); eff != "" && eff != pe.Value {
						pe.Effective = eff
					}
				}
				le.Params = append(le.Params, pe)
			}
		}
		ex.Lines = append(ex.Lines, le)
	}
	return ex, nil
}

// effectiveScalar is the value a kernel receives for a recipe number in sd-mecha numerics.
func effectiveScalar(v ops.Value, p ops.Param, era *ops.Era) string {
	rounding := ops.RoundTensorHypers
	if era != nil {
		rounding = era.Engine.Scalars
	}
	f, _ := v.Float64()
	switch {
	case rounding == ops.RoundNone:
		return ""
	case p.Type == ops.TensorHyper, p.Type == ops.TensorIn, rounding == ops.RoundAllScalars && p.Type == ops.FloatHyper:
		return lang.FormatFloat(float64(float32(f)))
	case rounding == ops.RoundAllScalars && (p.Type == ops.IntHyper || p.Type == ops.BoolHyper):
		return fmt.Sprint(int64(float32(f)))
	}
	return ""
}

// Describe prints one line's value in recipe terms (for explain's first column).
func (le LineExplanation) Describe() string {
	v := le.Value
	switch v.Op {
	case ir.OpModel:
		s := fmt.Sprintf("model %q", v.Path)
		if v.Param != "" {
			s = fmt.Sprintf("template parameter %q", v.Param)
		}
		cfg := v.Config
		if cfg == "" {
			cfg = "inferred from the file"
		}
		return fmt.Sprintf("%s  config=%s  space=%s", s, cfg, v.Space)
	case ir.OpDict:
		var parts []string
		for i, e := range v.Dict {
			if i == 6 {
				parts = append(parts, fmt.Sprintf("... (%d entries)", len(v.Dict)))
				break
			}
			parts = append(parts, e.Key+"="+ir.Ref(e.Value))
		}
		return "dict " + strings.Join(parts, " ")
	case ir.OpLiteral:
		return fmt.Sprintf("literal  config=%s  space=%s", v.Config, v.Space)
	case ir.OpConst:
		return "constant " + v.Const.String()
	}
	return fmt.Sprintf("merge %s  -> %s space", le.Method, v.Space)
}
