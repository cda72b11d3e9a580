package stdlib

import (
	"fmt"
	"math"
	"strings"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/num"
)

// Logistics family: sd-mecha 1.1.5 sd_mecha/extensions/builtin/merge_methods/logistics.py and
// model_configs/convert_singleton_to_any.py. These methods decide which keys exist and where a
// tensor comes from; the compiler resolves most of that statically (their KeyRule) and usually
// routes around them. Their kernels exist so that a plan that does call them is still correct:
// they copy the chosen input, dtype included.

// nullDefault is the default of sd-mecha's `Parameter(str) = None` parameters.
func nullDefault() *ops.Value {
	v := ops.Null()
	return &v
}

// fallback: fallback(a, default) -> a[key] if a has the key, else default[key].
var fallback = define(&ops.Def{
	Name:          "fallback",
	Params:        []ops.Param{symbolIn("a"), symbolIn("default")},
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.Routing,
	Keys:          ops.KeysFallback,
	Formula:       "key in a ? a[key] : default[key]",
	Doc: "Takes each key from a, or from default where a lacks it -- statically (a key missing " +
		"from a's inputs, excluded by pick_component) or at run time (an input dropped for " +
		"non-finite values). What the | operator builds. The kernel receives a null first " +
		"argument when a has no value for the key.",
	Kernel: func(c *ops.Call) error {
		for _, v := range c.Args {
			if v.Kind == ops.KindTensor && v.T != nil {
				return copyInto("fallback", c.Out, v)
			}
		}
		return fmt.Errorf("fallback: neither a nor default has key %s", c.Key)
	},
})

// componentParam is `component: Parameter(str, "param")`.
var componentParam = ops.Param{Name: "component", Type: ops.StringHyper, Spaces: ops.ParamSpace}

// pickComponent: pick_component(a, component: str) -> a restricted to one component.
var pickComponent = define(&ops.Def{
	Name:          "pick_component",
	Params:        []ops.Param{symbolIn("a"), componentParam},
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.Routing,
	Keys:          ops.KeysPickComponent,
	Formula:       "key in config(a)[component] ? a[key] : (no key)",
	Doc: "Keeps the keys of a that belong to the named component of a's model config (clip_l, " +
		"vae, diffuser, ...); the others are absent unless a fallback above supplies them. An " +
		"unknown component is an error.",
	Kernel: func(c *ops.Call) error { return copyInto("pick_component", c.Out, c.Args[0]) },
})

// omitComponent: omit_component(a, component: str) -> a without one component.
var omitComponent = define(&ops.Def{
	Name:          "omit_component",
	Params:        []ops.Param{symbolIn("a"), componentParam},
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.Routing,
	Keys:          ops.KeysOmitComponent,
	Formula:       "key in config(a)[component] ? (no key) : a[key]",
	Doc:           "The inverse of pick_component: drops the keys of the named component.",
	Kernel:        func(c *ops.Call) error { return copyInto("omit_component", c.Out, c.Args[0]) },
})

// castDef: cast(a, device: str = None, dtype: str = None) -> a.to(device, dtype).
//
//	out = narrow(a, dtype): sd-mecha: float16/bfloat16 through float32; exact: one rounding
var castDef = define(&ops.Def{
	Name: "cast",
	Params: []ops.Param{
		symbolIn("a"),
		{Name: "device", Type: ops.StringHyper, Default: nullDefault(), Spaces: ops.ParamSpace, Optional: true, Check: checkDevice},
		{Name: "dtype", Type: ops.StringHyper, Default: nullDefault(), Spaces: ops.ParamSpace, Optional: true, Check: checkCastDType},
	},
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.Elementwise,
	Keys:          ops.KeysIntersect,
	Formula:       "round(a, dtype)",
	Doc: "Converts a to another dtype (torch names: float64, float32, float16, bfloat16, int64, " +
		"int32, int16, int8, uint8, bool); null keeps a's dtype. Values are rounded to the new " +
		"type and stay there for the rest of the merge. In sd-mecha numerics float16 and bfloat16 " +
		"round through float32 as torch does from float64; exact numerics round once. device " +
		"must be null or \"cpu\": mechac computes on the CPU.",
	Kernel: func(c *ops.Call) error {
		if err := checkDevice(c.Args[1]); err != nil {
			return err
		}
		ts, err := tensors("cast", len(c.Out.Data), c.Args[0])
		if err != nil {
			return err
		}
		a := ts[0]
		d := a.DType
		switch dt := c.Args[2]; dt.Kind {
		case ops.KindNull:
		case ops.KindString:
			if d, err = CastDType(dt.S); err != nil {
				return err
			}
		default:
			return fmt.Errorf("cast: dtype must be a string or null, got %s", dt)
		}
		viaF32 := c.Numerics == ops.SDMecha
		for i := range c.Out.Data {
			c.Out.Data[i] = num.Narrow(a.At(i), d, viaF32)
		}
		c.Out.DType = d
		return nil
	},
})

// checkDevice accepts null and "cpu": mechac computes on the CPU.
func checkDevice(dev ops.Value) error {
	if dev.Kind != ops.KindNull && !(dev.Kind == ops.KindString && dev.S == "cpu") {
		return fmt.Errorf("device %s is not supported (null or \"cpu\")", dev)
	}
	return nil
}

// checkCastDType accepts null and the dtype names of CastDType.
func checkCastDType(v ops.Value) error {
	if v.Kind == ops.KindString {
		_, err := CastDType(v.S)
		return err
	}
	return nil
}

// castNames are the dtype names sd-mecha 1.1.5's cast accepts on torch 1.13 (cast_dtype_map:
// the fixed list plus uint8, the one optional name torch 1.13 has) that mechac can represent.
var castNames = []string{"float64", "int64", "float32", "int32", "float16", "bfloat16", "int16", "int8", "bool", "uint8"}

// CastDType parses a dtype name as sd-mecha's cast does: torch names only ("float16", not
// "half" or "F16"), an error listing the valid names otherwise.
func CastDType(s string) (ops.DType, error) {
	for _, n := range castNames {
		if n == s {
			return ops.ParseDType(s)
		}
	}
	return 0, fmt.Errorf("unknown dtype %q (null, %s)", s, strings.Join(castNames, ", "))
}

// convertSingleton: convert_singleton(singleton) -> singleton["key"] under every key.
var convertSingleton = define(&ops.Def{
	Name:          "convert_singleton",
	Params:        []ops.Param{symbolIn("singleton")},
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.Routing,
	Keys:          ops.KeysBroadcast,
	Formula:       "singleton[\"key\"] for every key",
	Doc: "Makes a singleton-mecha literal ({\"key\": v}) available under every key of the config " +
		"its consumer uses: how sd-mecha broadcasts one value (a scalar alpha) to a whole model. " +
		"The argument must be of config singleton-mecha.",
	Kernel: func(c *ops.Call) error { return copyInto("convert_singleton", c.Out, c.Args[0]) },
})

// stackDef: stack(*values) -> torch.stack(values): shape (n, *shape).
var stackDef = define(&ops.Def{
	Name:          "stack",
	Varargs:       &ops.Param{Name: "values", Type: ops.TensorIn, Spaces: ops.AnySpace, Symbol: "S"},
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.Routing,
	Keys:          ops.KeysIntersect,
	Formula:       "[v_1, ..., v_n] along a new leading dimension",
	Doc: "Stacks the values (all of one shape) along a new first dimension, as torch.stack: " +
		"the output of a key of shape S has shape (n, *S). No arithmetic; the dtype is the " +
		"promotion of the inputs'.",
	OutShape: stackShape,
	Kernel: func(c *ops.Call) error {
		if _, err := stackShape(nil, c.Var, nil); err != nil {
			return err
		}
		out := c.Out.Data
		for _, v := range c.Var {
			out = out[copy(out, v.T.Data):]
		}
		return nil
	},
})

// stackShape is (n, *shape) of n tensors of one shape.
func stackShape(_, vars, _ []ops.Value) ([]int, error) {
	if len(vars) == 0 {
		return nil, fmt.Errorf("stack: no values (torch.stack needs at least one)")
	}
	var shape []int
	for i, v := range vars {
		if v.Kind != ops.KindTensor || v.T == nil {
			return nil, fmt.Errorf("stack: value %d is %s, want a tensor", i+1, v.Kind)
		}
		if i == 0 {
			shape = v.T.Shape
		} else if !ops.SameShape(shape, v.T.Shape) {
			return nil, fmt.Errorf("stack: value %d has shape %s, value 1 %s (torch.stack needs equal shapes)",
				i+1, ops.FormatShape(v.T.Shape), ops.FormatShape(shape))
		}
	}
	return append([]int{len(vars)}, shape...), nil
}

// ErrMissing is ops.ErrMissing (see there): a kernel's "no value for this key".
var ErrMissing = ops.ErrMissing

// omitNonFinite: omit_non_finite(a) -> a, or no value when a has a NaN or an infinity.
var omitNonFinite = define(&ops.Def{
	Name:          "omit_non_finite",
	Params:        []ops.Param{symbolIn("a")},
	Returns:       ops.AnySpace,
	ReturnsSymbol: "S",
	Traits:        ops.Routing,
	Keys:          ops.KeysIntersect,
	MayMiss:       true,
	Formula:       "all(isfinite(a)) ? a : (no key)",
	Doc: "Passes a through, or makes the key missing when a has a NaN or an infinity (sd-mecha " +
		"raises NonFiniteStateDictKeyError), so that a fallback above supplies it or the key is " +
		"dropped. merge() applies it to every input itself (--keep-non-finite turns that off); " +
		"written in a recipe it checks an intermediate result, e.g. after a cast to float16 " +
		"that overflowed.",
	Kernel: func(c *ops.Call) error {
		ts, err := tensors("omit_non_finite", len(c.Out.Data), c.Args[0])
		if err != nil {
			return err
		}
		for _, x := range ts[0].Data {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("omit_non_finite: key %s has non-finite values: %w", c.Key, ErrMissing)
			}
		}
		return copyInto("omit_non_finite", c.Out, c.Args[0])
	},
})

// getDtype and getDevice: sd-mecha's get_dtype(a) / get_device(a) return the dtype name /
// device of a param-space value. Their use is `cast(x, dtype=get_dtype(1.0))`: on a recipe
// number (a float32 0-dim tensor in sd-mecha) they are the constants "float32" and "cpu",
// folded at compile time. A per-key tensor input would make a per-key string, which no
// parameter can take: that is refused.
var getDtype = define(&ops.Def{
	Name:    "get_dtype",
	Params:  []ops.Param{{Name: "a", Type: ops.TensorHyper, Spaces: ops.ParamSpace}},
	Returns: ops.ParamSpace,
	Traits:  ops.Routing,
	Keys:    ops.KeysIntersect,
	Formula: "dtype name of a (\"float32\" for a recipe number)",
	Fold:    func(args, _, _ []ops.Value) (ops.Value, error) { return ops.String("float32"), nil },
	Kernel: func(c *ops.Call) error {
		return fmt.Errorf("get_dtype of a per-key tensor is not supported: only of recipe numbers")
	},
})

var getDevice = define(&ops.Def{
	Name:    "get_device",
	Params:  []ops.Param{{Name: "a", Type: ops.TensorHyper, Spaces: ops.ParamSpace}},
	Returns: ops.ParamSpace,
	Traits:  ops.Routing,
	Keys:    ops.KeysIntersect,
	Formula: "device of a (\"cpu\")",
	Fold:    func(args, _, _ []ops.Value) (ops.Value, error) { return ops.String("cpu"), nil },
	Kernel: func(c *ops.Call) error {
		return fmt.Errorf("get_device of a per-key tensor is not supported: only of recipe numbers")
	},
})
