package compiler

import (
	"github.com/mechac/mechac/compiler/ir"
	"github.com/mechac/mechac/ops"
)

// foldConstants turns a broadcast of a singleton literal into the constant it holds.
// sd-mecha 1.1.x writes every scalar hyper-parameter as
//
//	dict key=0.25
//	literal &2 model_config="singleton-mecha" merge_space="param"
//	merge "convert_singleton" &3
//
// which means "0.25 under every key": the constant 0.25.
func foldConstants(f *ir.Func) {
	for _, v := range f.Values {
		if c, ok := singletonConstant(v); ok {
			pos := v.Pos
			*v = ir.Value{ID: v.ID, Op: ir.OpConst, Const: c, Pos: pos}
			continue
		}
		if c, ok := foldCall(v); ok {
			pos := v.Pos
			*v = ir.Value{ID: v.ID, Op: ir.OpConst, Const: c, Pos: pos}
		}
	}
}

// foldCall evaluates a method with a Fold rule whose arguments are all constants.
func foldCall(v *ir.Value) (ops.Value, bool) {
	if v.Op != ir.OpMerge || v.Def.Fold == nil {
		return ops.Value{}, false
	}
	var args, vars, kw []ops.Value
	for i, a := range v.Operands() {
		val := ops.Null()
		if a != nil {
			if a.Op != ir.OpConst {
				return ops.Value{}, false
			}
			val = a.Const
		}
		switch {
		case i < len(v.Args):
			args = append(args, val)
		case i < len(v.Args)+len(v.Var):
			vars = append(vars, val)
		default:
			kw = append(kw, val)
		}
	}
	c, err := v.Def.Fold(args, vars, kw)
	if err != nil {
		return ops.Value{}, false // the kernel reports it at run time, with the key
	}
	return c, true
}

func singletonConstant(v *ir.Value) (ops.Value, bool) {
	if v.Op != ir.OpMerge || v.Def.Keys != ops.KeysBroadcast || len(v.Args) != 1 {
		return ops.Value{}, false
	}
	lit := v.Args[0]
	if lit == nil {
		return ops.Value{}, false
	}
	switch lit.Op {
	case ir.OpConst:
		return lit.Const, true
	case ir.OpLiteral:
		if lit.Config != "" && lit.Config != "singleton-mecha" {
			return ops.Value{}, false
		}
		in := lit.Inner
		if in.Op == ir.OpConst {
			return in.Const, true
		}
		if in.Op == ir.OpDict && len(in.Dict) == 1 && in.Dict[0].Key == "key" && in.Dict[0].Value.Op == ir.OpConst {
			return in.Dict[0].Value.Const, true
		}
	}
	return ops.Value{}, false
}
