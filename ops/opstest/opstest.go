// Package opstest is the conformance harness every merge method (ops.Def) must pass.
//
// Check verifies, in both numerics modes:
//   - the definition: Validate, a one-line Formula, a Doc, defaults whose kinds fit their
//     parameter types, symbols that tie something;
//   - the kernel contract on random data: inputs are not modified (shape, dtype, every bit),
//     every output element is written (Out is pre-filled with a signalling-NaN sentinel that no
//     arithmetic can produce), the output is written into the buffer the VM prepared (same
//     backing array, same shape), and the result is deterministic;
//   - defaults: a call that leaves trailing defaulted parameters out gives the same bits as one
//     passing Param.Default explicitly (TensorHyper defaults as the compiler passes them: a 0-dim
//     tensor, float32-rounded in sd-mecha numerics);
//   - for Elementwise methods: out[i] equals the kernel applied to element i of every tensor
//     argument alone (0-dim tensors), also with a 0-dim tensor input broadcast against the
//     others, and, when Spec.Ref is given, an independent per-element reference;
//   - hand-written Cases with bitwise expected values or expected errors.
package opstest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mechac/mechac/ops"
)

// Sentinel is the bit pattern Check pre-fills outputs with: a signalling NaN. Arithmetic never
// produces it (results are quiet NaNs), so an element still holding it was not written.
const Sentinel = 0x7FF0DEADBEEF0001

// Spec says how to exercise one method.
type Spec struct {
	// Hypers gives the values of non-tensor parameters (float, int, bool, str) by name for the
	// random checks. Parameters not listed use their default; required ones must be listed.
	Hypers map[string]ops.Value
	// Varargs is how many random tensors the random checks pass as varargs (default 3).
	Varargs int
	// Shape of the random tensor arguments (default [3, 5]).
	Shape []int
	// Ref is an independent per-element reference for Elementwise methods: x holds element i of
	// every tensor argument (TensorIn and TensorHyper, in the order Args, Var, Kw). It must
	// reproduce the kernel bit for bit (any NaN matches any NaN).
	Ref func(n ops.Numerics, x []float64) float64
	// Cases are hand-written calls.
	Cases []Case
	// Seed of the random data; 0 means 1.
	Seed uint64
}

// Case is one hand-written call of the method.
type Case struct {
	Name string
	// Numerics the case runs in; nil means both.
	Numerics []ops.Numerics
	// Arguments as the VM passes them. Trailing defaulted parameters may be left out.
	Args, Var, Kw []ops.Value
	// Shape of the output; nil means d.OutShape, or the broadcast of the tensor arguments.
	Shape []int
	// Want, when not nil, is the expected output, compared bit for bit (any NaN matches any NaN;
	// +0 and -0 differ).
	Want []float64
	// WantDType, when not nil, is the dtype the kernel must leave in Out.
	WantDType *ops.DType
	// WantErr, when not empty, is a substring of the error the kernel must return.
	WantErr string
}

// DType returns a pointer to d, for Case.WantDType.
func DType(d ops.DType) *ops.DType { return &d }

// T builds a tensor value of the given shape; with one value and a nil shape, a 0-dim tensor.
func T(shape []int, data ...float64) ops.Value {
	if shape == nil {
		shape = []int{}
	}
	if ops.NumElements(shape) != len(data) {
		panic(fmt.Sprintf("opstest.T: %d values for shape %v", len(data), shape))
	}
	return ops.TensorValue(&ops.Tensor{Shape: shape, Data: data, DType: ops.F64})
}

// Modes is both numerics modes.
var Modes = []ops.Numerics{ops.Exact, ops.SDMecha}

// Check runs every check of the package documentation on d and reports each failure on t.
func Check(t *testing.T, d *ops.Def, s Spec) {
	t.Helper()
	for _, err := range Errors(d, s) {
		t.Errorf("%s: %v", d.FullName(), err)
	}
}

// Errors runs the checks of Check and returns the failures.
func Errors(d *ops.Def, s Spec) []error {
	t := &report{}
	if !checkDef(t, d) {
		return t.errs
	}
	if s.Varargs == 0 {
		s.Varargs = 3
	}
	if s.Shape == nil {
		s.Shape = []int{3, 5}
	}
	if s.Seed == 0 {
		s.Seed = 1
	}
	for _, n := range Modes {
		t.prefix = n.String() + ": "
		g := &gen{r: rand.New(rand.NewPCG(s.Seed, uint64(n))), n: n, shape: s.Shape}
		for _, v := range variants(d) {
			c, ok := g.call(t, d, s, v)
			if !ok {
				return t.errs
			}
			name := fmt.Sprintf("random/%s", v)
			if err := Run(d, c); err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			checkDeterministic(t, name, d, c)
			if d.Traits&ops.Elementwise != 0 {
				checkElementwise(t, name, d, c, s.Ref)
			}
		}
		checkDefaults(t, d, g, s)
	}
	t.prefix = ""
	for _, tc := range s.Cases {
		modes := tc.Numerics
		if modes == nil {
			modes = Modes
		}
		for _, n := range modes {
			runCase(t, d, tc, n)
		}
	}
	return t.errs
}

// report collects failures.
type report struct {
	prefix string
	errs   []error
}

func (r *report) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf(r.prefix+format, args...))
}

// checkDef checks the definition itself.
func checkDef(t *report, d *ops.Def) bool {
	if err := d.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
		return false
	}
	ok := true
	if d.Formula == "" || strings.ContainsAny(d.Formula, "\n\r") {
		t.Errorf("%s: Formula must be one non-empty line, got %q", d.Name, d.Formula)
		ok = false
	}
	if d.Doc == "" {
		t.Errorf("%s: no Doc", d.Name)
		ok = false
	}
	_ = d.Signature()
	symbols := map[string]int{}
	all := append(append([]ops.Param{}, d.Params...), d.KwOnly...)
	if d.Varargs != nil {
		all = append(all, *d.Varargs)
	}
	for _, q := range all {
		if q.Symbol != "" {
			symbols[q.Symbol]++
		}
		if err := checkDefault(q); err != nil {
			t.Errorf("%s: %v", d.Name, err)
			ok = false
		}
	}
	if d.ReturnsSymbol != "" && symbols[d.ReturnsSymbol] == 0 {
		t.Errorf("%s: return symbol %q ties no parameter", d.Name, d.ReturnsSymbol)
		ok = false
	}
	if d.ReturnsSymbol == "" && d.Returns == 0 {
		t.Errorf("%s: no return space", d.Name)
		ok = false
	}
	return ok
}

// checkDefault checks that a parameter's default fits its type.
func checkDefault(q ops.Param) error {
	if q.Optional && (q.Default == nil || q.Default.Kind != ops.KindNull) {
		return fmt.Errorf("optional parameter %q must default to null", q.Name)
	}
	if q.Default == nil || q.Default.Kind == ops.KindNull {
		return nil
	}
	v := *q.Default
	good := false
	switch q.Type {
	case ops.TensorHyper, ops.FloatHyper:
		good = v.IsNumber()
	case ops.IntHyper:
		good = v.Kind == ops.KindInt || v.Kind == ops.KindBool
	case ops.BoolHyper:
		good = v.Kind == ops.KindBool || v.Kind == ops.KindInt
	case ops.StringHyper:
		good = v.Kind == ops.KindString
	}
	if !good {
		return fmt.Errorf("parameter %q of type %s has a %s default", q.Name, q.Type, v.Kind)
	}
	return nil
}

// Run prepares c.Out (if nil: the broadcast shape, sentinel-filled, dtype F64), runs the kernel
// and checks the kernel contract: inputs untouched, every element written into the prepared
// buffer.
func Run(d *ops.Def, c *ops.Call) error {
	if c.Out == nil {
		shape, err := outShape(d, c.Args, c.Var, c.Kw)
		if err != nil {
			return err
		}
		c.Out = newOut(shape)
	}
	before := snapshot(c)
	outShapeBefore := append([]int{}, c.Out.Shape...)
	buf := c.Out.Data
	if c.Scratch == nil {
		// Scratch of undefined contents, as the VM's: the sentinel NaN, so that a kernel
		// that reads an element before writing it gives a wrong result.
		c.Scratch = func(n int) []float64 {
			s := make([]float64, n)
			for i := range s {
				s[i] = math.Float64frombits(Sentinel)
			}
			return s
		}
		defer func() { c.Scratch = nil }()
	}
	if err := d.Kernel(c); err != nil {
		return err
	}
	if err := before.same(c); err != nil {
		return err
	}
	if len(c.Out.Data) != len(buf) || (len(buf) > 0 && &c.Out.Data[0] != &buf[0]) {
		return fmt.Errorf("kernel replaced the output buffer instead of writing into it")
	}
	if !ops.SameShape(c.Out.Shape, outShapeBefore) {
		return fmt.Errorf("kernel changed the output shape %v to %v", outShapeBefore, c.Out.Shape)
	}
	for i, x := range c.Out.Data {
		if math.Float64bits(x) == Sentinel {
			return fmt.Errorf("output element %d of %d not written", i, len(c.Out.Data))
		}
	}
	return nil
}

func newOut(shape []int) *ops.Tensor {
	data := make([]float64, ops.NumElements(shape))
	for i := range data {
		data[i] = math.Float64frombits(Sentinel)
	}
	return &ops.Tensor{Shape: append([]int{}, shape...), Data: data, DType: ops.F64}
}

func outShape(d *ops.Def, args, vars, kw []ops.Value) ([]int, error) {
	if d.OutShape != nil {
		return d.OutShape(args, vars, kw)
	}
	var shapes [][]int
	for _, vs := range [][]ops.Value{args, vars, kw} {
		for _, v := range vs {
			if v.Kind == ops.KindTensor && v.T != nil {
				shapes = append(shapes, v.T.Shape)
			}
		}
	}
	return ops.BroadcastShape(shapes...)
}

// snap is a deep copy of a call's inputs.
type snap struct{ args, vars, kw []ops.Value }

func snapshot(c *ops.Call) snap {
	return snap{cloneValues(c.Args), cloneValues(c.Var), cloneValues(c.Kw)}
}

func cloneValues(vs []ops.Value) []ops.Value {
	out := make([]ops.Value, len(vs))
	for i, v := range vs {
		out[i] = v
		if v.T != nil {
			t := *v.T
			t.Shape = append([]int{}, v.T.Shape...)
			t.Data = append([]float64{}, v.T.Data...)
			out[i].T = &t
		}
	}
	return out
}

func (s snap) same(c *ops.Call) error {
	for _, p := range []struct {
		what     string
		old, cur []ops.Value
	}{{"argument", s.args, c.Args}, {"vararg", s.vars, c.Var}, {"keyword argument", s.kw, c.Kw}} {
		if len(p.old) != len(p.cur) {
			return fmt.Errorf("kernel changed the number of %ss", p.what)
		}
		for i := range p.old {
			o, n := p.old[i], p.cur[i]
			if o.Kind != n.Kind || o.B != n.B || o.I != n.I || math.Float64bits(o.F) != math.Float64bits(n.F) || o.S != n.S {
				return fmt.Errorf("kernel modified %s %d", p.what, i)
			}
			if o.T == nil {
				continue
			}
			if n.T == nil || o.T.DType != n.T.DType || !ops.SameShape(o.T.Shape, n.T.Shape) || len(o.T.Data) != len(n.T.Data) {
				return fmt.Errorf("kernel modified the shape or dtype of %s %d", p.what, i)
			}
			for j := range o.T.Data {
				if math.Float64bits(o.T.Data[j]) != math.Float64bits(n.T.Data[j]) {
					return fmt.Errorf("kernel modified element %d of %s %d", j, p.what, i)
				}
			}
		}
	}
	return nil
}

// sameBits compares outputs: bit for bit, except that any NaN matches any NaN.
func sameBits(x, y float64) bool {
	if x != x && y != y {
		return true
	}
	return math.Float64bits(x) == math.Float64bits(y)
}

// variant is one way of filling the tensor arguments of a random call.
type variant uint8

const (
	hyperRandom    variant = iota // TensorHyper: a random 0-dim value in [-0.3, 1.3]
	hyperZero                     // TensorHyper: 0 (sd-mecha's isclose(alpha, 0) shortcuts)
	hyperOne                      // TensorHyper: 1
	hyperHalf                     // TensorHyper: 0.5 (lerp's branch point)
	hyperTensor                   // TensorHyper: a full random tensor (block weights)
	broadcastFirst                // the first tensor input is 0-dim (a scalar result downstream)
)

func (v variant) String() string {
	return [...]string{"alpha-random", "alpha-0", "alpha-1", "alpha-0.5", "alpha-tensor", "broadcast"}[v]
}

// variants lists the variants that mean something for d.
func variants(d *ops.Def) []variant {
	vs := []variant{hyperRandom}
	hasHyper := false
	for _, q := range append(append([]ops.Param{}, d.Params...), d.KwOnly...) {
		hasHyper = hasHyper || q.Type == ops.TensorHyper
	}
	if hasHyper {
		vs = append(vs, hyperZero, hyperOne, hyperHalf, hyperTensor)
	}
	if d.Traits&ops.Elementwise != 0 {
		vs = append(vs, broadcastFirst)
	}
	return vs
}

type gen struct {
	r     *rand.Rand
	n     ops.Numerics
	shape []int
}

func (g *gen) tensor(shape []int, lo, hi float64) *ops.Tensor {
	t := &ops.Tensor{Shape: append([]int{}, shape...), Data: make([]float64, ops.NumElements(shape)), DType: ops.F64}
	for i := range t.Data {
		t.Data[i] = lo + (hi-lo)*g.r.Float64()
	}
	return t
}

// hyper converts a TensorHyper value as the compiler does: float32 in sd-mecha numerics.
func (g *gen) hyper(t *ops.Tensor) *ops.Tensor {
	if g.n == ops.SDMecha {
		for i, x := range t.Data {
			t.Data[i] = float64(float32(x))
		}
		t.DType = ops.F32
	}
	return t
}

func (g *gen) hyperValue(v variant) ops.Value {
	switch v {
	case hyperZero:
		return ops.TensorValue(g.hyper(ops.Scalar(0)))
	case hyperOne:
		return ops.TensorValue(g.hyper(ops.Scalar(1)))
	case hyperHalf:
		return ops.TensorValue(g.hyper(ops.Scalar(0.5)))
	case hyperTensor:
		return ops.TensorValue(g.hyper(g.tensor(g.shape, -0.3, 1.3)))
	}
	return ops.TensorValue(g.hyper(g.tensor([]int{}, -0.3, 1.3)))
}

// param returns a random or given value for one parameter.
func (g *gen) param(t *report, d *ops.Def, s Spec, q ops.Param, v variant) (ops.Value, bool) {
	switch q.Type {
	case ops.TensorIn:
		return ops.TensorValue(g.tensor(g.shape, -2, 2)), true
	case ops.TensorHyper:
		return g.hyperValue(v), true
	}
	if x, ok := s.Hypers[q.Name]; ok {
		return x, true
	}
	if q.Default != nil {
		return *q.Default, true
	}
	t.Errorf("%s: Spec.Hypers lacks a value for the required parameter %q", d.Name, q.Name)
	return ops.Value{}, false
}

// call builds a random call of d.
func (g *gen) call(t *report, d *ops.Def, s Spec, v variant) (*ops.Call, bool) {
	c := &ops.Call{Key: "opstest.key", Numerics: g.n}
	for _, q := range d.Params {
		x, ok := g.param(t, d, s, q, v)
		if !ok {
			return nil, false
		}
		c.Args = append(c.Args, x)
	}
	if d.Varargs != nil {
		for range s.Varargs {
			x, ok := g.param(t, d, s, *d.Varargs, v)
			if !ok {
				return nil, false
			}
			c.Var = append(c.Var, x)
		}
	}
	for _, q := range d.KwOnly {
		x, ok := g.param(t, d, s, q, v)
		if !ok {
			return nil, false
		}
		c.Kw = append(c.Kw, x)
	}
	if v == broadcastFirst {
		for _, vs := range [][]ops.Value{c.Args, c.Var, c.Kw} {
			done := false
			for i := range vs {
				if vs[i].Kind == ops.KindTensor && len(vs[i].T.Shape) > 0 {
					vs[i] = ops.TensorValue(g.tensor([]int{}, -2, 2))
					done = true
					break
				}
			}
			if done {
				break
			}
		}
	}
	return c, true
}

// fresh returns a copy of c with new (sentinel-filled) Out and cloned inputs.
func fresh(c *ops.Call) *ops.Call {
	cc := *c
	cc.Args, cc.Var, cc.Kw = cloneValues(c.Args), cloneValues(c.Var), cloneValues(c.Kw)
	cc.Out = nil
	return &cc
}

func checkDeterministic(t *report, name string, d *ops.Def, c *ops.Call) {
	again := fresh(c)
	if err := Run(d, again); err != nil {
		t.Errorf("%s (second run): %v", name, err)
		return
	}
	for i := range c.Out.Data {
		if !sameBits(c.Out.Data[i], again.Out.Data[i]) {
			t.Errorf("%s: not deterministic at element %d: %v then %v", name, i, c.Out.Data[i], again.Out.Data[i])
			return
		}
	}
}

// element returns c with every tensor argument replaced by its element i as a 0-dim tensor.
func element(c *ops.Call, i int) (*ops.Call, []float64) {
	cc := *c
	var xs []float64
	pick := func(vs []ops.Value) []ops.Value {
		out := make([]ops.Value, len(vs))
		for j, v := range vs {
			out[j] = v
			if v.Kind == ops.KindTensor && v.T != nil {
				x := v.T.At(i)
				xs = append(xs, x)
				out[j] = ops.TensorValue(&ops.Tensor{Shape: []int{}, Data: []float64{x}, DType: v.T.DType})
			}
		}
		return out
	}
	cc.Args, cc.Var, cc.Kw = pick(c.Args), pick(c.Var), pick(c.Kw)
	cc.Out = nil
	return &cc, xs
}

func checkElementwise(t *report, name string, d *ops.Def, c *ops.Call, ref func(ops.Numerics, []float64) float64) {
	for i, got := range c.Out.Data {
		one, xs := element(c, i)
		if err := Run(d, one); err != nil {
			t.Errorf("%s: element %d alone: %v", name, i, err)
			return
		}
		if !sameBits(one.Out.Data[0], got) {
			t.Errorf("%s: element %d is %v in the tensor but %v alone (inputs %v): not elementwise", name, i, got, one.Out.Data[0], xs)
			return
		}
		if ref != nil {
			if want := ref(c.Numerics, xs); !sameBits(want, got) {
				t.Errorf("%s: element %d = %v (bits %#x), reference %v (bits %#x), inputs %v", name, i, got, math.Float64bits(got), want, math.Float64bits(want), xs)
				return
			}
		}
	}
}

// defaultValue is what the compiler passes for a parameter's default.
func defaultValue(q ops.Param, n ops.Numerics) ops.Value {
	v := *q.Default
	if q.Type == ops.TensorHyper && v.IsNumber() {
		x, _ := v.Float64()
		if n == ops.SDMecha {
			return ops.TensorValue(&ops.Tensor{Shape: []int{}, Data: []float64{float64(float32(x))}, DType: ops.F32})
		}
		return ops.TensorValue(ops.Scalar(x))
	}
	return v
}

// checkDefaults compares calls leaving out trailing defaulted parameters with calls passing the
// defaults explicitly.
func checkDefaults(t *report, d *ops.Def, g *gen, s Spec) {
	base, ok := g.call(t, d, s, hyperRandom)
	if !ok {
		return
	}
	try := func(what string, params []ops.Param, get func(*ops.Call) *[]ops.Value) {
		for k := len(params); k > 0 && params[k-1].Default != nil; k-- {
			full := fresh(base)
			vals := get(full)
			for j := k - 1; j < len(params); j++ {
				(*vals)[j] = defaultValue(params[j], g.n)
			}
			short := fresh(full)
			*get(short) = (*get(short))[:k-1]
			name := fmt.Sprintf("defaults/%s without %s", what, params[k-1].Name)
			if err := Run(d, full); err != nil {
				t.Errorf("%s (explicit defaults): %v", name, err)
				return
			}
			if err := Run(d, short); err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			if full.Out.DType != short.Out.DType {
				t.Errorf("%s: dtype %v, with explicit defaults %v", name, short.Out.DType, full.Out.DType)
			}
			for i := range full.Out.Data {
				if !sameBits(full.Out.Data[i], short.Out.Data[i]) {
					t.Errorf("%s: element %d = %v, with explicit defaults %v", name, i, short.Out.Data[i], full.Out.Data[i])
					return
				}
			}
		}
	}
	try("args", d.Params, func(c *ops.Call) *[]ops.Value { return &c.Args })
	try("kw", d.KwOnly, func(c *ops.Call) *[]ops.Value { return &c.Kw })
}

func runCase(t *report, d *ops.Def, tc Case, n ops.Numerics) {
	name := fmt.Sprintf("%s/%s", tc.Name, n)
	c := &ops.Call{Key: "opstest.key", Numerics: n, Args: tc.Args, Var: tc.Var, Kw: tc.Kw}
	c = fresh(c)
	if tc.Shape != nil {
		c.Out = newOut(tc.Shape)
	}
	err := Run(d, c)
	if tc.WantErr != "" {
		if err == nil || !strings.Contains(err.Error(), tc.WantErr) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.WantErr)
		}
		return
	}
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	if tc.WantDType != nil && c.Out.DType != *tc.WantDType {
		t.Errorf("%s: dtype %v, want %v", name, c.Out.DType, *tc.WantDType)
	}
	if tc.Want == nil {
		return
	}
	if len(tc.Want) != len(c.Out.Data) {
		t.Errorf("%s: %d elements, want %d", name, len(c.Out.Data), len(tc.Want))
		return
	}
	for i, w := range tc.Want {
		if got := c.Out.Data[i]; !sameBits(got, w) {
			t.Errorf("%s: element %d = %v (bits %#x), want %v (bits %#x)", name, i, got, math.Float64bits(got), w, math.Float64bits(w))
		}
	}
}
