package ops

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind says what a Value holds.
type Kind uint8

// Value kinds. KindTensor holds a per-key tensor; the others are hyper-parameter constants.
const (
	KindNull Kind = iota
	KindBool
	KindInt
	KindFloat
	KindString
	KindTensor
	// KindTensorList holds several tensors (a KeysMapped method's argument).
	KindTensorList
)

var kindNames = [...]string{"null", "bool", "int", "float", "string", "tensor", "tensor list"}

func (k Kind) String() string { return kindNames[k] }

// Value is one argument of a Call: a tensor, or a constant as written in the recipe.
type Value struct {
	Kind Kind
	B    bool
	I    int64
	F    float64
	S    string
	T    *Tensor
	Ts   []*Tensor
}

// Constructors for constant values.
func Null() Value                 { return Value{Kind: KindNull} }
func Bool(b bool) Value           { return Value{Kind: KindBool, B: b} }
func Int(i int64) Value           { return Value{Kind: KindInt, I: i} }
func Float(f float64) Value       { return Value{Kind: KindFloat, F: f} }
func String(s string) Value       { return Value{Kind: KindString, S: s} }
func TensorValue(t *Tensor) Value { return Value{Kind: KindTensor, T: t} }

// IsNumber reports whether v is a bool, int or float constant.
func (v Value) IsNumber() bool { return v.Kind == KindBool || v.Kind == KindInt || v.Kind == KindFloat }

// Float64 converts a number constant (or a one-element tensor) as Python's float() would.
func (v Value) Float64() (float64, bool) {
	switch v.Kind {
	case KindBool:
		if v.B {
			return 1, true
		}
		return 0, true
	case KindInt:
		return float64(v.I), true
	case KindFloat:
		return v.F, true
	case KindTensor:
		if v.T != nil && v.T.IsScalar() {
			return v.T.Data[0], true
		}
	}
	return 0, false
}

// Int64 converts a number constant as Python's int() would (floats truncate toward zero).
func (v Value) Int64() (int64, bool) {
	switch v.Kind {
	case KindBool:
		if v.B {
			return 1, true
		}
		return 0, true
	case KindInt:
		return v.I, true
	case KindFloat, KindTensor:
		f, ok := v.Float64()
		if !ok || f != f || f > 9.2e18 || f < -9.2e18 {
			return 0, false
		}
		return int64(f), true
	}
	return 0, false
}

// Truth converts a number constant to a bool the way sd-mecha's bool parameters see it:
// int(value) != 0.
func (v Value) Truth() (bool, bool) {
	i, ok := v.Int64()
	return i != 0, ok
}

// String prints constants in recipe syntax (floats as Python repr would for common values).
func (v Value) String() string {
	switch v.Kind {
	case KindNull:
		return "null"
	case KindBool:
		return strconv.FormatBool(v.B)
	case KindInt:
		return strconv.FormatInt(v.I, 10)
	case KindFloat:
		// Integral floats keep ".0", as Python prints them, so a signature reads alpha = 1.0.
		s := strconv.FormatFloat(v.F, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEn") {
			s += ".0"
		}
		return s
	case KindString:
		return strconv.Quote(v.S)
	case KindTensor:
		if v.T == nil {
			return "tensor(nil)"
		}
		return fmt.Sprintf("tensor%s", FormatShape(v.T.Shape))
	}
	return "?"
}
