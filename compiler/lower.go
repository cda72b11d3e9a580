package compiler

import (
	"fmt"
	"strings"

	"github.com/mechac/mechac/compiler/ir"
	"github.com/mechac/mechac/lang"
	"github.com/mechac/mechac/lang/pos"
	"github.com/mechac/mechac/ops"
)

// Lower translates a parsed recipe into IR, resolving method names in era (nil: today's
// sd-mecha). Every error carries the position of the offending line or argument; all errors
// found are returned together.
func Lower(f *lang.File, reg *ops.Registry, era *ops.Era) (*ir.Func, error) {
	l := &lowerer{reg: reg, fn: &ir.Func{}, era: era, dialect: f.Dialect}
	instrs := f.Instrs()
	values := make([]*ir.Value, len(instrs))
	for i, s := range instrs {
		v := l.stmt(s, values[:i])
		if v == nil {
			// Keep going so later lines report their own errors; a placeholder stands in.
			v = l.add(&ir.Value{Op: ir.OpConst, Const: ops.Null(), Pos: s.Pos})
		}
		values[i] = v
	}
	if len(l.errs) > 0 {
		l.errs.Sort()
		return nil, l.errs
	}
	if len(values) == 0 {
		return nil, pos.Errorf(pos.Position{File: f.Name, Line: 1, Col: 1}, "recipe has no instructions")
	}
	l.fn.Root = values[len(values)-1]
	l.fn.Warnings = l.warnings
	l.fn.Lines = values
	return l.fn, nil
}

type lowerer struct {
	reg      *ops.Registry
	fn       *ir.Func
	era      *ops.Era
	dialect  lang.Dialect
	errs     pos.ErrorList
	warnings []string
}

// bindMerge binds args to def and adds the merge (at pos; method is where the method name was
// written, for binding errors), or returns nil after reporting why it cannot bind.
func (l *lowerer) bindMerge(at pos.Position, def *ops.Def, args []boundArg, method pos.Position) *ir.Value {
	v := &ir.Value{Op: ir.OpMerge, Pos: at, Def: def}
	if !l.bind(v, args, method) {
		return nil
	}
	return l.add(v)
}

func (l *lowerer) add(v *ir.Value) *ir.Value {
	v.ID = len(l.fn.Values)
	l.fn.Values = append(l.fn.Values, v)
	return v
}

func (l *lowerer) errorf(p pos.Position, format string, args ...any) {
	if len(l.errs) < 20 {
		l.errs.Addf(p, format, args...)
	}
}

// value turns an argument into an IR value: a reference resolves to the earlier value, a
// literal becomes a constant.
func (l *lowerer) value(a *lang.Value, defined []*ir.Value) *ir.Value {
	switch a.Kind {
	case lang.Ref:
		if a.Int < 0 || int(a.Int) >= len(defined) {
			l.errorf(a.Pos, "reference &%d out of range: %d values are defined before this line", a.Int, len(defined))
			return nil
		}
		return defined[a.Int]
	case lang.Null:
		return l.add(&ir.Value{Op: ir.OpConst, Const: ops.Null(), Pos: a.Pos})
	case lang.Bool:
		return l.add(&ir.Value{Op: ir.OpConst, Const: ops.Bool(a.Bool), Pos: a.Pos})
	case lang.Int:
		return l.add(&ir.Value{Op: ir.OpConst, Const: ops.Int(a.Int), Pos: a.Pos})
	case lang.Float:
		return l.add(&ir.Value{Op: ir.OpConst, Const: ops.Float(a.Float), Pos: a.Pos})
	case lang.String:
		return l.add(&ir.Value{Op: ir.OpConst, Const: ops.String(a.Str), Pos: a.Pos})
	}
	l.errorf(a.Pos, "unexpected value %q", a.Raw)
	return nil
}

func (l *lowerer) stmt(s *lang.Stmt, defined []*ir.Value) *ir.Value {
	if l.dialect != lang.DialectC {
		return l.stmtAB(s, defined)
	}
	switch s.Command {
	case "model":
		return l.model(s)
	case "dict":
		return l.dict(s, defined)
	case "literal":
		return l.literal(s, defined)
	case "merge":
		return l.merge(s, defined)
	}
	l.errorf(s.Pos, "unknown command %q", s.Command)
	return nil
}

// stringArg extracts a string-or-null argument such as model_config=.
func (l *lowerer) stringArg(a *lang.Arg, what string) (string, bool) {
	switch a.Value.Kind {
	case lang.String:
		return a.Value.Str, true
	case lang.Null:
		return "", true
	}
	l.errorf(a.Value.Pos, "%s must be a string or null, not %s %s", what, a.Value.Kind, a.Value.Raw)
	return "", false
}

// configAndSpace reads model_config / merge_space given positionally (after the first
// positional argument, as sd-mecha 1.1.x allows) or as keywords.
func (l *lowerer) configAndSpace(s *lang.Stmt, v *ir.Value, defSpace ops.Space) bool {
	ok := true
	posArgs := s.Positional()[1:]
	names := []string{"model_config", "merge_space"}
	vals := map[string]*lang.Arg{}
	if len(posArgs) > 2 {
		l.errorf(posArgs[2].Pos, "%s takes at most 3 positional arguments (value, model_config, merge_space)", s.Command)
		ok = false
	}
	for i, a := range posArgs {
		if i < 2 {
			vals[names[i]] = a
		}
	}
	for _, a := range s.Keywords() {
		switch a.Key {
		case "model_config", "merge_space":
			if _, dup := vals[a.Key]; dup && vals[a.Key].Key == "" {
				l.errorf(a.Pos, "%s given twice (positionally and as a keyword)", a.Key)
				ok = false
			}
			vals[a.Key] = a
		default:
			msg := fmt.Sprintf("unknown keyword %q for %s (model_config, merge_space)", a.Key, s.Command)
			if sug := ops.Nearest(a.Key, names); sug != "" {
				msg += fmt.Sprintf("; did you mean %q?", sug)
			}
			l.errorf(a.Pos, "%s", msg)
			ok = false
		}
	}
	v.Space = defSpace
	if a := vals["model_config"]; a != nil {
		if id, good := l.stringArg(a, "model_config"); good && id != "" {
			if _, known := l.reg.Config(id); !known {
				msg := fmt.Sprintf("unknown model config %q", id)
				if sug := ops.Nearest(id, l.reg.ConfigIDs()); sug != "" {
					msg += fmt.Sprintf("; did you mean %q?", sug)
				}
				l.errorf(a.Value.Pos, "%s", msg)
				ok = false
			}
			v.Config = id
		} else if !good {
			ok = false
		}
	}
	if a := vals["merge_space"]; a != nil {
		if name, good := l.stringArg(a, "merge_space"); good && name != "" {
			sp, err := ops.ParseSpace(name)
			if err != nil {
				l.errorf(a.Value.Pos, "%v", err)
				ok = false
			}
			v.Space = sp
		} else if !good {
			ok = false
		}
	}
	return ok
}

func (l *lowerer) model(s *lang.Stmt) *ir.Value {
	p := s.Positional()
	if len(p) == 0 || p[0].Value.Kind != lang.String {
		l.errorf(s.Pos, "model needs a path string as its first argument")
		return nil
	}
	v := &ir.Value{Op: ir.OpModel, Pos: s.Pos, Path: p[0].Value.Str}
	if strings.TrimSpace(v.Path) == "" {
		l.errorf(p[0].Pos, "empty model path")
		return nil
	}
	if !l.configAndSpace(s, v, ops.WeightSpace) {
		return nil
	}
	return l.add(v)
}

func (l *lowerer) dict(s *lang.Stmt, defined []*ir.Value) *ir.Value {
	v := &ir.Value{Op: ir.OpDict, Pos: s.Pos, Space: ops.ParamSpace}
	ok := true
	for _, a := range s.Args {
		if a.Key == "" {
			l.errorf(a.Pos, "dict takes only key=value arguments")
			ok = false
			continue
		}
		val := l.value(a.Value, defined)
		if val == nil {
			ok = false
			continue
		}
		// A repeated key: the last one wins, as in Python's dict(**kwargs) of sd-mecha's parser.
		replaced := false
		for i := range v.Dict {
			if v.Dict[i].Key == a.Key {
				v.Dict[i].Value, replaced = val, true
			}
		}
		if !replaced {
			v.Dict = append(v.Dict, ir.DictEntry{Key: a.Key, Value: val})
		}
	}
	if !ok {
		return nil
	}
	return l.add(v)
}

func (l *lowerer) literal(s *lang.Stmt, defined []*ir.Value) *ir.Value {
	p := s.Positional()
	if len(p) == 0 {
		l.errorf(s.Pos, "literal needs a value")
		return nil
	}
	inner := l.value(p[0].Value, defined)
	if inner == nil {
		return nil
	}
	if inner.Op != ir.OpDict && inner.Op != ir.OpConst {
		l.errorf(p[0].Pos, "literal value must be a dict or a constant, not a %s", inner.Op)
		return nil
	}
	v := &ir.Value{Op: ir.OpLiteral, Pos: s.Pos, Inner: inner}
	if !l.configAndSpace(s, v, ops.ParamSpace) {
		return nil
	}
	return l.add(v)
}

func (l *lowerer) merge(s *lang.Stmt, defined []*ir.Value) *ir.Value {
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

// method resolves the method a merge/call line names (its first positional argument) in the
// recipe's era, reporting an unknown name with the nearest registered one.
func (l *lowerer) method(s *lang.Stmt, p []*lang.Arg) *ops.Def {
	if len(p) == 0 || p[0].Value.Kind != lang.String {
		l.errorf(s.Pos, "%s needs a method name string as its first argument", s.Command)
		return nil
	}
	name := p[0].Value.Str
	def, ok := l.reg.LookupIn(name, l.era)
	if !ok {
		msg := fmt.Sprintf("unknown merge method %q", name)
		if sug := l.reg.Suggest(name); sug != "" {
			msg += fmt.Sprintf("; did you mean %q?", sug)
		}
		l.errorf(p[0].Value.Pos, "%s", msg)
		return nil
	}
	return def
}
