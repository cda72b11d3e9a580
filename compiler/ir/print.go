package ir

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Fprint writes the IR in its text form, one value per line:
//
//	v3 = merge weighted_sum(a=v0, b=v1, alpha=0.5*) : weight sdxl-sgm   # line 4
//
// Defaults are marked with '*'. The form is deterministic.
func Fprint(w io.Writer, f *Func) error {
	for _, v := range f.Values {
		if _, err := fmt.Fprintln(w, v.String()); err != nil {
			return err
		}
	}
	if f.Root != nil {
		_, err := fmt.Fprintf(w, "root v%d\n", f.Root.ID)
		return err
	}
	return nil
}

// Ref prints a reference to v: vN for a node, the literal for a constant.
func Ref(v *Value) string {
	if v == nil {
		return "none"
	}
	if v.Op == OpConst {
		return v.Const.String()
	}
	return fmt.Sprintf("v%d", v.ID)
}

func (v *Value) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "v%d = ", v.ID)
	switch v.Op {
	case OpModel:
		fmt.Fprintf(&b, "model %s", strconv.Quote(v.Path))
	case OpConst:
		fmt.Fprintf(&b, "const %s", v.Const.String())
	case OpDict:
		b.WriteString("dict")
		for _, e := range v.Dict {
			fmt.Fprintf(&b, " %s=%s", e.Key, Ref(e.Value))
		}
	case OpLiteral:
		fmt.Fprintf(&b, "literal %s", Ref(v.Inner))
	case OpMerge:
		fmt.Fprintf(&b, "merge %s(", v.Def.FullName())
		var parts []string
		given := func(i int) string {
			if i < len(v.Given) && !v.Given[i] {
				return "*"
			}
			return ""
		}
		for i, a := range v.Args {
			parts = append(parts, v.Def.Params[i].Name+"="+Ref(a)+given(i))
		}
		if len(v.Var) > 0 {
			var vs []string
			for _, a := range v.Var {
				vs = append(vs, Ref(a))
			}
			parts = append(parts, "*"+v.Def.Varargs.Name+"=["+strings.Join(vs, ", ")+"]")
		}
		for i, a := range v.Kw {
			parts = append(parts, v.Def.KwOnly[i].Name+"="+Ref(a)+given(len(v.Args)+i))
		}
		b.WriteString(strings.Join(parts, ", "))
		b.WriteString(")")
	}
	if v.Op != OpConst {
		sp := "?"
		if v.Space != 0 {
			sp = v.Space.String()
		}
		cfg := v.Config
		if cfg == "" {
			cfg = "?"
		}
		fmt.Fprintf(&b, " : %s %s", sp, cfg)
	}
	if v.Pos.IsValid() {
		fmt.Fprintf(&b, "  # %s", v.Pos)
	}
	return b.String()
}
