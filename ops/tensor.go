package ops

import (
	"fmt"
	"strings"
)

// Tensor is a dense C-order float64 tensor. A 0-dim tensor has an empty Shape and one element.
//
// DType is the element type the value has in sd-mecha's model of the computation: F64 for
// everything computed in the merge, a narrower type after an explicit cast. The data are always
// float64; a narrower DType only means every element is exactly representable in it.
type Tensor struct {
	Shape []int
	Data  []float64
	DType DType
}

// NumElements returns the product of the shape (1 for a 0-dim tensor).
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Len returns the number of elements.
func (t *Tensor) Len() int { return len(t.Data) }

// IsScalar reports whether t holds exactly one element (sd-mecha's "single element" tests).
func (t *Tensor) IsScalar() bool { return len(t.Data) == 1 }

// At returns element i, broadcasting a one-element tensor.
func (t *Tensor) At(i int) float64 {
	if len(t.Data) == 1 {
		return t.Data[0]
	}
	return t.Data[i]
}

// Scalar returns a 0-dim float64 tensor holding v.
func Scalar(v float64) *Tensor { return &Tensor{Data: []float64{v}, DType: F64} }

// SameShape reports whether a and b are equal shapes.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// BroadcastShape returns the shape of an elementwise result of inputs with the given shapes:
// one-element inputs broadcast, every other input must have the same shape.
func BroadcastShape(shapes ...[]int) ([]int, error) {
	var out []int
	have := false
	for _, s := range shapes {
		if NumElements(s) == 1 && (have || len(s) == 0) {
			continue
		}
		if !have {
			out, have = s, true
			continue
		}
		if !SameShape(out, s) {
			if NumElements(out) == 1 {
				out = s
				continue
			}
			return nil, fmt.Errorf("shapes %s and %s do not match", FormatShape(out), FormatShape(s))
		}
	}
	if !have {
		return []int{}, nil
	}
	return out, nil
}

// FormatShape prints a shape as [a, b, c].
func FormatShape(s []int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d", d)
	}
	b.WriteByte(']')
	return b.String()
}
