package compiler

import (
	"fmt"
	"strings"

	"github.com/mechac/mechac/compiler/ir"
	"github.com/mechac/mechac/lang/pos"
	"github.com/mechac/mechac/ops"
)

type boundArg struct {
	key string // "" = positional
	pos pos.Position
	val *ir.Value
}

// bind maps the arguments of a merge line onto the method's signature the way Python's
// inspect.Signature.bind does for sd-mecha: positional values fill the positional-or-keyword
// parameters in order, the rest go to *varargs; keywords name a positional-or-keyword or a
// keyword-only parameter; a repeated keyword keeps the last value; defaults fill the rest.
func (l *lowerer) bind(v *ir.Value, args []boundArg, at pos.Position) bool {
	d := v.Def
	v.Args = make([]*ir.Value, len(d.Params))
	v.Kw = make([]*ir.Value, len(d.KwOnly))
	argPos := make([]pos.Position, len(d.Params))
	ok := true
	npos := 0
	for _, a := range args {
		if a.key != "" {
			continue
		}
		if npos < len(d.Params) {
			v.Args[npos] = a.val
			argPos[npos] = a.pos
		} else if d.Varargs != nil {
			v.Var = append(v.Var, a.val)
		} else {
			l.errorf(a.pos, "too many arguments: %s takes %d positional argument%s, got %d",
				d.Signature(), len(d.Params), plural(len(d.Params)), countPositional(args))
			return false
		}
		npos++
	}
	for _, a := range args {
		if a.key == "" {
			continue
		}
		found := false
		for i, p := range d.Params {
			if p.Name == a.key {
				found = true
				if i < npos {
					l.errorf(a.pos, "argument %q of %s given twice (positionally and as a keyword)", a.key, d.Name)
					ok = false
				}
				v.Args[i] = a.val
			}
		}
		for i, p := range d.KwOnly {
			if p.Name == a.key {
				found = true
				v.Kw[i] = a.val
			}
		}
		if !found {
			var names []string
			for _, p := range d.Params {
				names = append(names, p.Name)
			}
			for _, p := range d.KwOnly {
				names = append(names, p.Name)
			}
			msg := fmt.Sprintf("unknown keyword %q for %s", a.key, d.Signature())
			if d.Varargs != nil && a.key == d.Varargs.Name {
				msg = fmt.Sprintf("%q is the varargs parameter of %s: give its values positionally", a.key, d.Signature())
			} else if sug := ops.Nearest(a.key, names); sug != "" {
				msg += fmt.Sprintf("; did you mean %q?", sug)
			}
			l.errorf(a.pos, "%s", msg)
			ok = false
		}
	}
	if !ok {
		return false
	}
	v.Given = make([]bool, len(v.Args)+len(v.Kw))
	fill := func(slot **ir.Value, p ops.Param, given *bool) bool {
		if *slot != nil {
			*given = true
			return true
		}
		switch {
		case p.Default != nil:
			*slot = l.add(&ir.Value{Op: ir.OpConst, Const: *p.Default, Pos: v.Pos})
		case p.Optional:
			*slot = l.add(&ir.Value{Op: ir.OpConst, Const: ops.Null(), Pos: v.Pos})
		default:
			l.errorf(at, "missing argument %q of %s", p.Name, d.Signature())
			return false
		}
		return true
	}
	for i, p := range d.Params {
		if !fill(&v.Args[i], p, &v.Given[i]) {
			ok = false
		}
	}
	for i, p := range d.KwOnly {
		if !fill(&v.Kw[i], p, &v.Given[len(v.Args)+i]) {
			ok = false
		}
	}
	if ok && d.Varargs != nil && len(v.Var) == 0 && len(d.Params) == 0 {
		l.errorf(at, "%s needs at least one model", d.Signature())
		ok = false
	}
	return ok
}

func countPositional(args []boundArg) int {
	n := 0
	for _, a := range args {
		if a.key == "" {
			n++
		}
	}
	return n
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// describe names a value for messages: "&3 (merge weighted_sum, line 5)" style.
func describe(v *ir.Value) string {
	switch v.Op {
	case ir.OpModel:
		return fmt.Sprintf("model %q", v.Path)
	case ir.OpConst:
		return v.Const.String()
	case ir.OpMerge:
		return fmt.Sprintf("%s (line %d)", v.Def.Name, v.Pos.Line)
	}
	return fmt.Sprintf("%s (line %d)", v.Op, v.Pos.Line)
}

var _ = strings.TrimSpace
