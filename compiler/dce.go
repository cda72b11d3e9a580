package compiler

import "github.com/mechac/mechac/compiler/ir"

// eliminateDeadCode keeps only the values the root depends on (recipes may define unused
// lines; CSE and folding orphan others) and renumbers them.
func eliminateDeadCode(f *ir.Func) {
	live := map[*ir.Value]bool{}
	var mark func(v *ir.Value)
	mark = func(v *ir.Value) {
		if v == nil || live[v] {
			return
		}
		live[v] = true
		for _, o := range v.Operands() {
			mark(o)
		}
		for _, e := range v.Dict {
			mark(e.Value)
		}
		mark(v.Inner)
	}
	mark(f.Root)
	kept := f.Values[:0]
	for _, v := range f.Values {
		if live[v] {
			kept = append(kept, v)
		}
	}
	for i := len(kept); i < len(f.Values); i++ {
		f.Values[i] = nil
	}
	f.Values = kept
	f.Renumber()
}
