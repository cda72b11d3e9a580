// Package stdlib is mechac's library of merge methods (sd-mecha 1.1.5's built-in methods as
// ops.Def values) and the entry point to the default registry (methods + model configs).
//
// Methods are grouped in one file per family (linear.go, logistics.go, ...), mirroring
// sd-mecha's merge_methods/*.py. Adding a method is one new definition in a family file:
//
//	var myMethod = define(&ops.Def{Name: "my_method", ...})
//
// define collects it and Register adds it; nothing else needs to change.
//
// Kernels may assume a complete, normalised argument list: define wraps every kernel so that
// trailing parameters the caller left out get their Param.Default, and TensorHyper constants
// become 0-dim tensors (rounded to float32 in sd-mecha numerics, as sd-mecha's cast_node_value
// does). A kernel therefore reads c.Args[i].T for every TensorIn and TensorHyper parameter.
package stdlib

import (
	"fmt"
	"sync"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib/configs"
)

// defs is every method of the library, in definition order.
var defs []*ops.Def

// define registers d with the library (see the package documentation) and returns it, so a
// family file can keep a handle for its tests.
func define(d *ops.Def) *ops.Def {
	d.Kernel = normalising(d, d.Kernel)
	defs = append(defs, d)
	return d
}

// Register adds every merge method of the library to r.
func Register(r *ops.Registry) error {
	for _, d := range defs {
		if err := r.Register(d); err != nil {
			return err
		}
	}
	return nil
}

var (
	defaultOnce sync.Once
	defaultReg  *ops.Registry
)

// KeepIdleBuffers says whether staged methods may keep buffers idle between keys (the default:
// ties_sum's key buffers, StageDef.Idle, which `mechac plan` adds to its prediction). A run
// under a memory budget (run --max-memory) turns it off: its admission counts no idle
// scratch (SPEC §5.2).
func KeepIdleBuffers(keep bool) { tiesNoIdle.Store(!keep) }

// Default returns the registry holding every method of this library and every embedded model
// config. It is built once and shared: callers must not register anything into it (build their
// own with ops.NewRegistry, Register and configs.Register instead).
func Default() *ops.Registry {
	defaultOnce.Do(func() {
		r := ops.NewRegistry()
		if err := Register(r); err != nil {
			panic(err) // a programming error in a definition, caught by the tests
		}
		if err := RegisterEras(r); err != nil {
			panic(err)
		}
		if err := configs.Register(r); err != nil {
			panic(err) // corrupt embedded data, caught by the tests
		}
		mustRegisterLoRAConfigs(r)
		defaultReg = r
	})
	return defaultReg
}

// normalising wraps k so that it always sees every positional and keyword-only parameter,
// defaults filled in and TensorHyper constants turned into 0-dim tensors. The common case (the
// VM passing complete tensor arguments) costs one scan of the argument list and no allocation.
func normalising(d *ops.Def, k ops.Kernel) ops.Kernel {
	if k == nil {
		return nil // Validate reports it
	}
	return func(c *ops.Call) error {
		args, changedA, err := complete(d, d.Params, c.Args, c.Numerics)
		if err != nil {
			return err
		}
		kw, changedK, err := complete(d, d.KwOnly, c.Kw, c.Numerics)
		if err != nil {
			return err
		}
		if !changedA && !changedK {
			return k(c)
		}
		cc := *c // the caller's Call stays untouched; Out is shared
		cc.Args, cc.Kw = args, kw
		return k(&cc)
	}
}

// complete returns vals extended with the defaults of the missing trailing params, TensorHyper
// constants converted to tensors. It copies only when something changes.
func complete(d *ops.Def, params []ops.Param, vals []ops.Value, n ops.Numerics) ([]ops.Value, bool, error) {
	if len(vals) > len(params) {
		return nil, false, fmt.Errorf("%s: %d arguments for %d parameters", d.FullName(), len(vals), len(params))
	}
	changed := len(vals) < len(params)
	if !changed {
		for i, v := range vals {
			if params[i].Type == ops.TensorHyper && v.IsNumber() {
				changed = true
				break
			}
		}
		if !changed {
			return vals, false, nil
		}
	}
	out := make([]ops.Value, len(params))
	copy(out, vals)
	for i := range params {
		q := &params[i]
		if i >= len(vals) {
			if q.Default == nil {
				return nil, false, fmt.Errorf("%s: missing argument %q", d.FullName(), q.Name)
			}
			out[i] = *q.Default
		}
		if q.Type == ops.TensorHyper && out[i].IsNumber() {
			out[i] = ops.TensorValue(HyperTensor(out[i], n))
		}
	}
	return out, true, nil
}

// HyperTensor converts a number constant given to a TensorHyper parameter into the 0-dim tensor
// the kernel sees: float32-rounded in sd-mecha numerics (sd-mecha 1.1.5 merging.py
// cast_node_value: torch.tensor(value, dtype=torch.float32)), exact in exact numerics.
func HyperTensor(v ops.Value, n ops.Numerics) *ops.Tensor {
	x, _ := v.Float64()
	if n == ops.SDMecha {
		return &ops.Tensor{Data: []float64{float64(float32(x))}, DType: ops.F32}
	}
	return ops.Scalar(x)
}
