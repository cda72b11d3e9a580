package opstest

import (
	"math"
	"strings"
	"testing"

	"github.com/mechac/mechac/ops"
)

func half() *ops.Value { v := ops.Float(0.5); return &v }

// mk builds an elementwise two-input method around a per-call kernel body.
func mk(k ops.Kernel) *ops.Def {
	return &ops.Def{
		Name: "probe",
		Params: []ops.Param{
			{Name: "a", Type: ops.TensorIn, Symbol: "S"},
			{Name: "b", Type: ops.TensorIn, Symbol: "S"},
			{Name: "alpha", Type: ops.TensorHyper, Default: half(), Spaces: ops.ParamSpace},
		},
		Returns: ops.AnySpace, ReturnsSymbol: "S",
		Traits: ops.Elementwise, Formula: "a + alpha*b", Doc: "probe", Kernel: k,
	}
}

// alpha reads the alpha argument, applying the default when it is absent.
func alpha(c *ops.Call) *ops.Tensor {
	if len(c.Args) < 3 {
		return ops.Scalar(0.5)
	}
	return c.Args[2].T
}

func good(c *ops.Call) error {
	a, b, w := c.Args[0].T, c.Args[1].T, alpha(c)
	for i := range c.Out.Data {
		c.Out.Data[i] = a.At(i) + w.At(i)*b.At(i)
	}
	return nil
}

func ref(_ ops.Numerics, x []float64) float64 {
	w := 0.5
	if len(x) > 2 {
		w = x[2]
	}
	return x[0] + w*x[1]
}

func TestGoodPasses(t *testing.T) {
	Check(t, mk(good), Spec{Ref: ref})
}

func TestDetects(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		k          ops.Kernel
		spec       Spec
	}{
		{"modifies input", "modified element", func(c *ops.Call) error {
			err := good(c)
			c.Args[0].T.Data[0] = 42
			return err
		}, Spec{}},
		{"skips an element", "not written", func(c *ops.Call) error {
			err := good(c)
			if len(c.Out.Data) > 1 {
				c.Out.Data[len(c.Out.Data)-1] = math.Float64frombits(Sentinel)
			}
			return err
		}, Spec{}},
		{"replaces the buffer", "replaced the output buffer", func(c *ops.Call) error {
			c.Out.Data = make([]float64, len(c.Out.Data))
			return good(c)
		}, Spec{}},
		{"not elementwise", "not elementwise", func(c *ops.Call) error {
			err := good(c)
			for i := range c.Out.Data {
				c.Out.Data[i] += float64(len(c.Out.Data))
			}
			return err
		}, Spec{}},
		{"wrong default", "with explicit defaults", func(c *ops.Call) error {
			w := alpha(c)
			if len(c.Args) < 3 {
				w = ops.Scalar(0.25) // disagrees with Param.Default
			}
			a, b := c.Args[0].T, c.Args[1].T
			for i := range c.Out.Data {
				c.Out.Data[i] = a.At(i) + w.At(i)*b.At(i)
			}
			return nil
		}, Spec{}},
		{"differs from the reference", "reference", func(c *ops.Call) error {
			a, b, w := c.Args[0].T, c.Args[1].T, alpha(c)
			for i := range c.Out.Data {
				c.Out.Data[i] = math.FMA(w.At(i), b.At(i), a.At(i))
			}
			return nil
		}, Spec{Ref: ref}},
		{"case value", "want 3", good, Spec{Cases: []Case{{Name: "c", Args: []ops.Value{T(nil, 1), T(nil, 1), T(nil, 1)}, Want: []float64{3}}}}},
	} {
		errs := Errors(mk(tc.k), tc.spec)
		found := false
		for _, err := range errs {
			found = found || strings.Contains(err.Error(), tc.want)
		}
		if !found {
			t.Errorf("%s: no error containing %q in %v", tc.name, tc.want, errs)
		}
	}
}

func TestDefinitionChecks(t *testing.T) {
	d := mk(good)
	d.Formula = "two\nlines"
	d.ReturnsSymbol = "T"
	bad := ops.String("x")
	d.Params[2].Default = &bad
	errs := Errors(d, Spec{})
	msg := ""
	for _, err := range errs {
		msg += err.Error() + "\n"
	}
	for _, want := range []string{"Formula", "return symbol", "string default"} {
		if !strings.Contains(msg, want) {
			t.Errorf("no error about %s in:\n%s", want, msg)
		}
	}
}
