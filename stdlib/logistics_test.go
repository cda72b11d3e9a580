package stdlib

import (
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/num"
	"github.com/mechac/mechac/ops/opstest"
)

func typed(d ops.DType, shape []int, x ...float64) ops.Value {
	v := opstest.T(shape, x...)
	v.T.DType = d
	return v
}

func TestFallback(t *testing.T) {
	opstest.Check(t, fallback, opstest.Spec{Cases: []opstest.Case{
		{Name: "a wins", Args: []ops.Value{t1(1, 2), t1(3, 4)}, Want: []float64{1, 2}},
		{Name: "a missing", Args: []ops.Value{ops.Null(), typed(ops.F16, []int{2}, 3, 4)}, Want: []float64{3, 4}, WantDType: opstest.DType(ops.F16)},
		{Name: "both missing", Args: []ops.Value{ops.Null(), ops.Null()}, Shape: []int{1}, WantErr: "neither"},
	}})
}

func TestPickOmitComponent(t *testing.T) {
	for _, d := range []*ops.Def{pickComponent, omitComponent} {
		opstest.Check(t, d, opstest.Spec{
			Hypers: map[string]ops.Value{"component": ops.String("clip_l")},
			Cases: []opstest.Case{
				{Name: "copies", Args: []ops.Value{typed(ops.F32, []int{2}, 1, nan), ops.String("vae")}, Want: []float64{1, nan}, WantDType: opstest.DType(ops.F32)},
			},
		})
	}
}

func TestConvertSingleton(t *testing.T) {
	opstest.Check(t, convertSingleton, opstest.Spec{Cases: []opstest.Case{
		// The singleton's one value under a key of any shape.
		{Name: "broadcast", Args: []ops.Value{typed(ops.F32, nil, f32(0.3))}, Shape: []int{2, 2},
			Want: []float64{f32(0.3), f32(0.3), f32(0.3), f32(0.3)}, WantDType: opstest.DType(ops.F32)},
	}})
}

func TestCast(t *testing.T) {
	// Halfway between the float16 values 1 and 1+2^-10, plus 2^-40: rounded once it goes up;
	// through float32 the 2^-40 is lost first and the tie rounds to even, down to 1.
	tie := 1 + 0x1p-11 + 0x1p-40
	for _, dtype := range []string{"float16", "bfloat16", "float32", "int8"} {
		dt, _ := ops.ParseDType(dtype)
		opstest.Check(t, castDef, opstest.Spec{
			Hypers: map[string]ops.Value{"dtype": ops.String(dtype)},
			Ref: func(n ops.Numerics, x []float64) float64 {
				switch dt {
				case ops.F16:
					if n == ops.SDMecha {
						return num.F16ToF64(num.F16FromF32(float32(x[0])))
					}
					return num.F16ToF64(num.F16FromF64(x[0]))
				case ops.BF16:
					if n == ops.SDMecha {
						return num.BF16ToF64(num.BF16FromF32(float32(x[0])))
					}
					return num.BF16ToF64(num.BF16FromF64(x[0]))
				case ops.F32:
					return f32(x[0])
				}
				return float64(int8(x[0])) // random data is within [-2, 2]
			},
		})
	}
	opstest.Check(t, castDef, opstest.Spec{Cases: []opstest.Case{
		{Name: "f16 via f32", Numerics: sd, Args: []ops.Value{t1(tie, 65520), ops.Null(), ops.String("float16")},
			Want: []float64{1, inf}, WantDType: opstest.DType(ops.F16)},
		{Name: "f16 once", Numerics: ex, Args: []ops.Value{t1(tie, 65519), ops.String("cpu"), ops.String("float16")},
			Want: []float64{1 + 0x1p-10, 65504}, WantDType: opstest.DType(ops.F16)},
		{Name: "no dtype keeps", Args: []ops.Value{typed(ops.BF16, []int{1}, 1.5)}, Want: []float64{1.5}, WantDType: opstest.DType(ops.BF16)},
		{Name: "int64 truncates", Args: []ops.Value{t1(-2.7, 2.7), ops.Null(), ops.String("int64")}, Want: []float64{-2, 2}, WantDType: opstest.DType(ops.I64)},
		{Name: "bool", Args: []ops.Value{t1(0, -0.5, nan), ops.Null(), ops.String("bool")}, Want: []float64{0, 1, 1}, WantDType: opstest.DType(ops.BOOL)},
		{Name: "device", Args: []ops.Value{t1(1), ops.String("cuda"), ops.Null()}, WantErr: "device"},
		{Name: "torch names only", Args: []ops.Value{t1(1), ops.Null(), ops.String("half")}, WantErr: "unknown dtype"},
		{Name: "dtype type", Args: []ops.Value{t1(1), ops.Null(), ops.Int(3)}, WantErr: "string or null"},
	}})
}
