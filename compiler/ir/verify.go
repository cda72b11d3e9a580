package ir

import "fmt"

// Verify checks the IR's invariants: IDs match positions, operands are defined earlier,
// merge values have one argument per parameter, the root is a value of the function.
func Verify(f *Func) error {
	index := map[*Value]int{}
	for i, v := range f.Values {
		if v.ID != i {
			return fmt.Errorf("v%d at position %d", v.ID, i)
		}
		check := func(o *Value) error {
			if o == nil {
				return nil
			}
			j, ok := index[o]
			if !ok {
				return fmt.Errorf("v%d uses v%d, which is not defined before it", v.ID, o.ID)
			}
			if j >= i {
				return fmt.Errorf("v%d uses later value v%d", v.ID, o.ID)
			}
			return nil
		}
		switch v.Op {
		case OpMerge:
			if v.Def == nil {
				return fmt.Errorf("v%d: merge without a method", v.ID)
			}
			if len(v.Args) != len(v.Def.Params) || len(v.Kw) != len(v.Def.KwOnly) {
				return fmt.Errorf("v%d: %d args / %d keyword args for %s", v.ID, len(v.Args), len(v.Kw), v.Def.Signature())
			}
			if len(v.Var) > 0 && v.Def.Varargs == nil {
				return fmt.Errorf("v%d: varargs given to %s", v.ID, v.Def.Name)
			}
			for _, o := range v.Operands() {
				if err := check(o); err != nil {
					return err
				}
			}
		case OpDict:
			for _, e := range v.Dict {
				if err := check(e.Value); err != nil {
					return err
				}
			}
		case OpLiteral:
			if v.Inner == nil {
				return fmt.Errorf("v%d: literal without a value", v.ID)
			}
			if err := check(v.Inner); err != nil {
				return err
			}
		}
		index[v] = i
	}
	if f.Root != nil {
		if _, ok := index[f.Root]; !ok {
			return fmt.Errorf("root v%d is not in the function", f.Root.ID)
		}
	}
	return nil
}
