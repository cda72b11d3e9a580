package compiler

import (
	"fmt"
	"strings"

	"github.com/mechac/mechac/compiler/ir"
	"github.com/mechac/mechac/lang"
	"github.com/mechac/mechac/ops"
)

// archConfigs maps the 0.0.x architecture names of dialect B to today's model configs.
var archConfigs = map[string]string{"sdxl": "sdxl-sgm", "sd1": "sd1-ldm"}

// stmtAB lowers one line of the 2024 dialects:
//
//	A: model "p" | call "m" &i &j k=v | dict k=v | parameter "name" "MODEL"|"DELTA"
//	B: model "p" "arch" "type" | merge "m" &i k=v | dict k=v | parameter "name" "BASE"|"DELTA" ["arch"]
//
// Positional arguments of call/merge are models (a quoted path in B is a model too), keyword
// arguments are hyper-parameters: numbers or a &dict of per-block values.
func (l *lowerer) stmtAB(s *lang.Stmt, defined []*ir.Value) *ir.Value {
	switch s.Command {
	case "model":
		return l.modelAB(s)
	case "dict":
		return l.dict(s, defined)
	case "parameter":
		return l.parameterAB(s)
	case "call", "merge":
		return l.mergeAB(s, defined)
	case "lora":
		l.errorf(s.Pos, "the 2024 `lora` command is not supported (sd-mecha removed it at e0305da); convert the LoRA to a delta model first")
		return nil
	}
	l.errorf(s.Pos, "unknown command %q in dialect %s", s.Command, l.dialect)
	return nil
}

func (l *lowerer) modelAB(s *lang.Stmt) *ir.Value {
	p := s.Positional()
	if len(p) == 0 || p[0].Value.Kind != lang.String {
		l.errorf(s.Pos, "model needs a path string as its first argument")
		return nil
	}
	v := &ir.Value{Op: ir.OpModel, Pos: s.Pos, Path: p[0].Value.Str, Space: ops.WeightSpace}
	args := map[string]*lang.Arg{}
	names := []string{"model_arch", "model_type"}
	for i, a := range p[1:] {
		if i >= len(names) {
			l.errorf(a.Pos, "model takes at most 3 positional arguments (path, arch, type)")
			return nil
		}
		args[names[i]] = a
	}
	for _, a := range s.Keywords() {
		switch a.Key {
		case "model_arch", "model_type":
			args[a.Key] = a
		default:
			l.errorf(a.Pos, "unknown keyword %q for model (model_arch, model_type)", a.Key)
			return nil
		}
	}
	if l.dialect == lang.DialectA && len(args) > 0 {
		l.errorf(s.Pos, "a dialect A model line takes only a path")
		return nil
	}
	arch := "sd1" // sd-mecha 0.0.x's default when a B model line names none
	if a := args["model_arch"]; a != nil {
		if a.Value.Kind != lang.String {
			l.errorf(a.Value.Pos, "model architecture must be a string")
			return nil
		}
		arch = a.Value.Str
	}
	if l.dialect == lang.DialectB {
		cfg, ok := archConfigs[arch]
		if !ok {
			var known []string
			for k := range archConfigs {
				known = append(known, k)
			}
			msg := fmt.Sprintf("unknown model architecture %q", arch)
			if sug := ops.Nearest(arch, known); sug != "" {
				msg += fmt.Sprintf("; did you mean %q?", sug)
			}
			l.errorf(s.Pos, "%s", msg)
			return nil
		}
		v.Config = cfg
	}
	if a := args["model_type"]; a != nil {
		switch a.Value.Str {
		case "base":
		case "lora":
			l.errorf(a.Value.Pos, "LoRA models (model type \"lora\") are not supported yet")
			return nil
		default:
			l.errorf(a.Value.Pos, "unknown model type %q (base or lora)", a.Value.Str)
			return nil
		}
	}
	return l.add(v)
}

// parameterAB is a template placeholder: a model the user binds at run time (--set name=path).
func (l *lowerer) parameterAB(s *lang.Stmt) *ir.Value {
	p := s.Positional()
	if len(p) == 0 || p[0].Value.Kind != lang.String {
		l.errorf(s.Pos, "parameter needs a name string")
		return nil
	}
	v := &ir.Value{Op: ir.OpModel, Pos: s.Pos, Param: p[0].Value.Str, Space: ops.WeightSpace}
	if len(p) > 1 {
		switch strings.ToUpper(p[1].Value.Str) {
		case "MODEL", "BASE":
		case "DELTA":
			v.Space = ops.DeltaSpace
		default:
			l.errorf(p[1].Value.Pos, "unknown parameter kind %q (BASE, MODEL or DELTA)", p[1].Value.Str)
			return nil
		}
	}
	if len(p) > 2 {
		if cfg, ok := archConfigs[p[2].Value.Str]; ok {
			v.Config = cfg
		}
	} else if l.dialect == lang.DialectB {
		v.Config = archConfigs["sd1"]
	}
	return l.add(v)
}

func (l *lowerer) mergeAB(s *lang.Stmt, defined []*ir.Value) *ir.Value {
	p := s.Positional()
	def := l.method(s, p)
	if def == nil {
		return nil
	}
	var args []boundArg
	bad := false
	for _, a := range s.Args {
		if a == p[0] {
			continue
		}
		if a.Key == "" {
			var val *ir.Value
			switch a.Value.Kind {
			case lang.Ref:
				val = l.value(a.Value, defined)
			case lang.String:
				// sd-mecha 0.0.x turned a quoted positional into a model of that path.
				cfg := ""
				if l.dialect == lang.DialectB {
					cfg = archConfigs["sd1"]
				}
				val = l.add(&ir.Value{Op: ir.OpModel, Pos: a.Pos, Path: a.Value.Str, Space: ops.WeightSpace, Config: cfg})
			default:
				l.errorf(a.Pos, "positional arguments of %s must be models (&N), not %s", s.Command, a.Value.Raw)
			}
			if val == nil {
				bad = true
				continue
			}
			args = append(args, boundArg{pos: a.Pos, val: val})
			continue
		}
		if !hasParam(def, a.Key) {
			if l.era != nil && l.era.Engine.IgnoreUnknownKeywords {
				l.warnings = append(l.warnings, fmt.Sprintf("%s: keyword %q is not a parameter of %s in era %s; ignored, as sd-mecha %s did",
					a.Pos, a.Key, def.Signature(), l.era.ID, l.era.Version))
				continue
			}
		}
		val := l.value(a.Value, defined)
		if val == nil {
			bad = true
			continue
		}
		args = append(args, boundArg{key: a.Key, pos: a.Pos, val: val})
	}
	if bad {
		return nil
	}
	return l.bindMerge(s.Pos, def, args, p[0].Value.Pos)
}

func hasParam(d *ops.Def, name string) bool {
	for _, p := range d.Params {
		if p.Name == name {
			return true
		}
	}
	for _, p := range d.KwOnly {
		if p.Name == name {
			return true
		}
	}
	return false
}
