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
		}
	}
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
