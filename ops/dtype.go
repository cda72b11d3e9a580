package ops

import "fmt"

// DType is a tensor element type as named in safetensors headers.
type DType uint8

// The element types mechac reads. Every one is widened to float64 on load.
const (
	F64 DType = iota
	F32
	F16
	BF16
	I64
	I32
	I16
	I8
	U8
	BOOL
)

var dtypeInfo = [...]struct {
	name  string // safetensors header name
	torch string // torch dtype name, as sd-mecha's cast() spells it
	size  int
	float bool
}{
	F64:  {"F64", "float64", 8, true},
	F32:  {"F32", "float32", 4, true},
	F16:  {"F16", "float16", 2, true},
	BF16: {"BF16", "bfloat16", 2, true},
	I64:  {"I64", "int64", 8, false},
	I32:  {"I32", "int32", 4, false},
	I16:  {"I16", "int16", 2, false},
	I8:   {"I8", "int8", 1, false},
	U8:   {"U8", "uint8", 1, false},
	BOOL: {"BOOL", "bool", 1, false},
}

// String returns the safetensors name (F16, BF16, ...).
func (d DType) String() string {
	if int(d) < len(dtypeInfo) {
		return dtypeInfo[d].name
	}
	return fmt.Sprintf("DType(%d)", d)
}

// TorchName returns the torch spelling (float16, bfloat16, ...).
func (d DType) TorchName() string { return dtypeInfo[d].torch }

// Size is the number of bytes of one element.
func (d DType) Size() int { return dtypeInfo[d].size }

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool { return dtypeInfo[d].float }

// ParseDType accepts a safetensors name ("F16") or a torch name ("float16", "half").
func ParseDType(s string) (DType, error) {
	for i, in := range dtypeInfo {
		if s == in.name || s == in.torch {
			return DType(i), nil
		}
	}
	switch s {
	case "half", "f16":
		return F16, nil
	case "float", "f32":
		return F32, nil
	case "double", "f64":
		return F64, nil
	case "bf16":
		return BF16, nil
	case "long":
		return I64, nil
	case "int":
		return I32, nil
	}
	return 0, fmt.Errorf("unsupported dtype %q", s)
}
