package ir

import "fmt"

// Verify checks the IR's invariants: IDs match positions (so no value appears twice),
// operands are defined earlier, each kind of value carries only its own fields, merge values
// have one argument per parameter, dict keys are unique, the root is a value of the function.
// It checks what lowering and the passes guarantee, not what the recipe's author may get
// wrong (types and spaces are the checker's, reported at their recipe position).
func Verify(f *Func) error {
	index := map[*Value]int{}
	for i, v := range f.Values {
		if v == nil {
			return fmt.Errorf("nil value at position %d", i)
		}
		if v.ID != i {
			return fmt.Errorf("v%d at position %d", v.ID, i)
		}
		if err := fieldsOf(v); err != nil {
			return err
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
			if len(v.Given) > len(v.Args)+len(v.Kw) {
				return fmt.Errorf("v%d: %d given marks for %d arguments", v.ID, len(v.Given), len(v.Args)+len(v.Kw))
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
			keys := map[string]bool{}
			for _, e := range v.Dict {
				if keys[e.Key] {
					return fmt.Errorf("v%d: dict key %s twice", v.ID, e.Key)
				}
				keys[e.Key] = true
				if e.Value == nil {
					return fmt.Errorf("v%d: dict key %s without a value", v.ID, e.Key)
				}
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

// fieldsOf checks that v uses only the fields of its kind (a pass that turns a merge into a
// constant must clear its arguments, or DCE would keep them alive).
func fieldsOf(v *Value) error {
	if v.Op > OpMerge {
		return fmt.Errorf("v%d: unknown op %d", v.ID, v.Op)
	}
	if v.Op != OpMerge && (v.Def != nil || v.Args != nil || v.Var != nil || v.Kw != nil) {
		return fmt.Errorf("v%d: %s with merge arguments", v.ID, v.Op)
	}
	if v.Op != OpDict && v.Op != OpLiteral && v.Dict != nil {
		return fmt.Errorf("v%d: %s with dict entries", v.ID, v.Op)
	}
	if v.Op != OpLiteral && v.Inner != nil {
		return fmt.Errorf("v%d: %s with a wrapped value", v.ID, v.Op)
	}
	return nil
}

// VerifyLive checks, on top of Verify, that every value is used by the root (no dangling
// nodes): what dead-code elimination guarantees.
func VerifyLive(f *Func) error {
	if err := Verify(f); err != nil {
		return err
	}
	live := map[*Value]bool{}
	for i := len(f.Values) - 1; i >= 0; i-- {
		v := f.Values[i]
		if v != f.Root && !live[v] {
			return fmt.Errorf("v%d is not used by the root", v.ID)
		}
		for _, o := range v.Operands() {
			live[o] = true
		}
		for _, e := range v.Dict {
			live[e.Value] = true
		}
		live[v.Inner] = true
	}
	return nil
}
