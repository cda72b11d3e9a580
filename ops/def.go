package ops

import (
	"errors"
	"fmt"
	"strings"
)

// Space is a merge space: what kind of quantity a tensor is.
type Space uint8

// The three built-in merge spaces, in sd-mecha's preference order.
const (
	WeightSpace Space = 1 << iota // a full checkpoint value
	DeltaSpace                    // a difference of weights (task vector)
	ParamSpace                    // hyper-parameters, masks, scalars
)

// AnySpace is every space.
const AnySpace = WeightSpace | DeltaSpace | ParamSpace

var spaceNames = []struct {
	s    Space
	name string
}{{WeightSpace, "weight"}, {DeltaSpace, "delta"}, {ParamSpace, "param"}}

// ParseSpace reads "weight", "delta" or "param" (and the 0.0.x names "base"/"model"/"lora").
func ParseSpace(s string) (Space, error) {
	for _, n := range spaceNames {
		if n.name == s {
			return n.s, nil
		}
	}
	switch strings.ToLower(s) {
	case "base", "model":
		return WeightSpace, nil
	case "lora":
		return DeltaSpace, nil
	}
	return 0, fmt.Errorf("unknown merge space %q (weight, delta or param)", s)
}

// String prints one space name, or a set as {weight|delta}.
func (s Space) String() string {
	var parts []string
	for _, n := range spaceNames {
		if s&n.s != 0 {
			parts = append(parts, n.name)
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "{" + strings.Join(parts, "|") + "}"
}

// First returns the first space of the set in preference order (weight, delta, param).
func (s Space) First() Space {
	for _, n := range spaceNames {
		if s&n.s != 0 {
			return n.s
		}
	}
	return 0
}

// ParamType says what a parameter accepts.
type ParamType uint8

// Parameter types. They mirror sd-mecha's annotations, because they decide the numerics:
// a TensorHyper (sd-mecha `Tensor`-typed scalar such as alpha) is a float32 0-dim tensor in
// sd-mecha-compatible numerics, while Float/Int/Bool parameters stay exact Python numbers.
const (
	TensorIn    ParamType = iota // a model / state dict: one tensor per key
	TensorHyper                  // a number or a param-space tensor (sd-mecha `Tensor` hyper)
	FloatHyper                   // a Python float
	IntHyper                     // a Python int
	BoolHyper                    // a Python bool (sd-mecha passes int(value))
	StringHyper                  // a string
)

var paramTypeNames = [...]string{"Tensor", "Tensor|float", "float", "int", "bool", "str"}

func (t ParamType) String() string { return paramTypeNames[t] }

// IsTensor reports whether the parameter is fed per key from the graph.
func (t ParamType) IsTensor() bool { return t == TensorIn }

// Param is one parameter of a method's signature.
type Param struct {
	Name string
	Type ParamType
	// Default is the value used when the argument is not given; nil means required.
	Default *Value
	// Spaces the argument may be in (TensorIn and TensorHyper). Zero means AnySpace.
	Spaces Space
	// Symbol, when set, ties this parameter's space to every other parameter (and the
	// return) carrying the same symbol: sd-mecha's "same space as the others".
	Symbol string
	// Optional means the default is None (null) and the argument may stay absent.
	Optional bool
	// Check, when set, validates a constant argument at compile time, so that a bad value
	// (an unknown dtype name, say) is reported at its recipe position instead of once per key.
	Check func(Value) error
}

// Traits describe how a kernel touches its data; the scheduler and the docs use them.
type Traits uint8

// Trait bits.
const (
	Elementwise   Traits = 1 << iota // out[i] depends only on in[*][i]
	WholeTensor                      // needs the whole tensor (norms, sorts, FFT)
	LinearAlgebra                    // SVD, QR, eigen-decompositions
	Random                           // draws random numbers (seeded per key)
	Routing                          // moves tensors between keys/configs without arithmetic
)

func (t Traits) String() string {
	var parts []string
	for i, n := range []string{"elementwise", "whole-tensor", "linear-algebra", "random", "routing"} {
		if t&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, ",")
}

// KeyRule says which keys a method's output has, given its inputs' keys.
type KeyRule uint8

// Key rules.
const (
	// KeysIntersect: the output has key K iff every tensor input (varargs included) has K.
	KeysIntersect KeyRule = iota
	// KeysFallback: the output has K iff the first or the second input has it; the first wins,
	// also at run time when the first input's value is dropped (non-finite input).
	KeysFallback
	// KeysPickComponent: the first input's keys that belong to the component named by the
	// string parameter "component" of the first input's model config.
	KeysPickComponent
	// KeysOmitComponent: the first input's keys outside that component.
	KeysOmitComponent
	// KeysBroadcast: a singleton literal ({"key": v}) made available under every key of the
	// config its consumer uses (sd-mecha's convert_singleton).
	KeysBroadcast
	// KeysMapped: the method maps keys between model configs (conversions, block weights,
	// LoRA): the output has the keys of OutConfig for which MapKeys names input keys that
	// every tensor input has. Each tensor argument reaches the kernel as a KindTensorList
	// holding the tensors of the keys MapKeys named for it, in that order.
	KeysMapped
	// KeysFilter: the first input's keys for which Def.KeepKey is true (an era's engine rule
	// written as a method, e.g. the keys sd-mecha 0.0.4 copied instead of merging).
	KeysFilter
)

// Call is one kernel invocation for one output key.
type Call struct {
	// Key is the key this call computes: the output key, or, for a call under a key-mapping
	// method (which evaluates its inputs at other keys), the key it is evaluated at.
	Key string
	// Alt is the alternative the compiler chose, for a method with MapKeysAlt.
	Alt      int
	Numerics Numerics
	// OutputDType is the dtype the plan writes its output in (for the rare method that must
	// know it, e.g. an era's output rule written as a method).
	OutputDType DType
	Args        []Value // positional-or-keyword parameters, in signature order
	Var         []Value // varargs, in order
	Kw          []Value // keyword-only parameters, in signature order
	// Out is prepared by the VM: Shape is the broadcast shape of the tensor arguments,
	// Data a buffer of that length (contents undefined), DType the promoted dtype.
	Out *Tensor
	// Scratch, when set, returns n float64s of scratch for this call, contents undefined,
	// valid until the kernel returns (ScratchOf). The VM hands out its worker's buffer, kept
	// from call to call: a whole-tensor kernel's scratch of r x n values was zeroed afresh by
	// make at every key (the 0.0.x DARE/DELLA stack: 8% of a 216-model merge's CPU time).
	// One buffer per call: a kernel that runs another kernel on the same Call must not hold
	// its own scratch across it.
	Scratch func(n int) []float64
}

// ScratchOf returns n float64s of scratch for call c: c.Scratch's where it is set, else a
// fresh buffer. The contents are undefined: the kernel writes each element before reading it
// (opstest hands out buffers of NaNs to hold it to that).
func ScratchOf(c *Call, n int) []float64 {
	if c.Scratch != nil {
		return c.Scratch(n)
	}
	return make([]float64, n)
}

// CallScratch is the kernel scratch of one call with output shape out, tensor operands of
// shapes in (one per register operand; a nil entry where the caller does not know it) and
// constant numbers by name: ScratchIn where set (0 if an operand's shape is unknown), else
// ScratchFor of out, else Scratch of len(in) inputs of out's element count, else 0. The
// compiler's key plans, the VM's staged admission and `mechac plan` all price calls by it.
func (d *Def) CallScratch(out []int, in [][]int, numbers map[string]float64) int64 {
	switch {
	case d.ScratchIn != nil:
		for _, s := range in {
			if s == nil {
				return 0
			}
		}
		return d.ScratchIn(out, in, numbers)
	case d.ScratchFor != nil:
		return d.ScratchFor(out, numbers)
	case d.Scratch != nil:
		return d.Scratch(len(in), NumElements(out))
	}
	return 0
}

// ErrMissing, wrapped in a kernel's error, means "this key has no value here" (sd-mecha's
// StateDictKeyError raised inside a method, e.g. omit_non_finite): the VM makes the result
// missing, as for a missing input, instead of failing the run.
var ErrMissing = errors.New("missing")

// Kernel computes Call.Out. It must not modify its inputs and must write every element.
type Kernel func(c *Call) error

// Def is the definition of one merge method in one era.
type Def struct {
	Name string
	// Era is "" for today's definition (sd-mecha 1.1.5); older math gets its own Def.
	Era    string
	Params []Param
	// Varargs, when non-nil, is the *models parameter.
	Varargs *Param
	KwOnly  []Param
	// Returns is the output space; a Symbol ties it to the parameters with that symbol.
	Returns       Space
	ReturnsSymbol string
	Traits        Traits
	Keys          KeyRule
	// Formula is one line of math shown by `mechac explain` and SPEC.md.
	Formula string
	// Doc says what the method is for and any quirks it reproduces.
	Doc    string
	Kernel Kernel
	// KeepKey, for KeysFilter methods: whether the output has the key.
	KeepKey func(key string) bool
	// Fold, when set, evaluates the method at compile time when every argument is a constant
	// (get_dtype of a scalar literal is the string "float32").
	Fold func(args, vars, kw []Value) (Value, error)
	// Scratch, when set, is the most bytes of scratch memory the kernel allocates in one call
	// with r tensor inputs of n elements each (its own buffers, not its inputs or output); nil
	// means negligible. The compiler adds it to the live registers at the call when it plans a
	// key's peak memory (bytecode Key.Peak), which --max-memory admission uses.
	Scratch func(r, n int) int64
	// ScratchFor, when set, is Scratch for a call on a key of the given shape, from the call's
	// constant numbers by name (positional and keyword; a missing name means its default):
	// for methods whose scratch depends on the key's shape or on their arguments, as the SVD
	// family's on whether the view is tall or wide and on rotate's alignment. It takes
	// precedence over Scratch.
	ScratchFor func(shape []int, hyper map[string]float64) int64
	// ScratchIn, when set, is Scratch for a key-mapping method whose output is not of its
	// inputs' shape (an extracted LoRA factor, an alpha): from the output's shape, the shapes
	// of the call's tensor operands, in order, and its constant numbers as for ScratchFor. It
	// takes precedence over ScratchFor and Scratch where the operands' shapes are known (the
	// compiler's key plans).
	ScratchIn func(out []int, in [][]int, hyper map[string]float64) int64
	// Passes, when set, is about how many times one call goes over its tensor inputs, from its
	// numeric keyword arguments by name (those the plan has as constants; a missing name means
	// its default): `mechac plan`'s time estimate prices the call with it. nil: the estimate's
	// default for the method's traits (SPEC 5.2).
	Passes func(kw map[string]float64) float64
	// Flops, when set, is the work of one call of a linear-algebra method on a key of the
	// given shape, in flops of the plan's measured matrix speed, from its numeric
	// hyper-parameters by name (positional and keyword, those the plan has as constants; a
	// missing name means its default), with a note when the figure rests on an assumption
	// about the data (empty: none): `mechac plan` prints each note once. nil: the estimate's
	// default, 24 m n min(m, n) for the key's m x n view (SPEC 5.2).
	Flops func(shape []int, hyper map[string]float64) (flops float64, note string)
	// Stage, when set, lets the VM run the method over chunks in passes (ops/stage.go).
	Stage *StageDef
	// Stream, when set, lets code generation emit a call over many models as a chain of
	// steps, one model each (ops/fused.go, SPEC §3.5).
	Stream *StreamDef
	// InPlace: the kernel computes out[i] from element i of its tensor arguments only, reading
	// them before writing out[i], so Out may be the buffer of its first tensor argument when
	// that register dies at the call (the VM then skips a fresh buffer: one write stream less).
	InPlace bool
	// LoadFused, when set, is the kernel of a call over two tensors of len(out) elements whose
	// first is read straight from a model file: raw holds its elements as stored (dtype dt),
	// b is the second. It must write the bits that widening raw to float64 (num.DecodeInto)
	// and running the kernel would, and report whether every widened element was finite. In
	// chunked execution the VM uses it for a CALL whose first operand a LOAD makes right
	// before it for this call alone (SPEC §5.1), so the model's float64 chunk is never
	// written and read back. subtract sets it: every delta of a model is made this way.
	LoadFused func(out []float64, raw []byte, dt DType, b []float64) (finite bool)
	// LoadFusedSecond is LoadFused for a call whose second tensor argument is the one read
	// straight from a model file: the next model of a running sum (n_average's steps), whose
	// first argument is the sum so far. Given the run's numerics and the call's keyword values
	// (its constant operands after the two tensors), it returns the kernel
	// out = f(a, widen(raw)) under LoadFused's contract (out may be a), or nil when it has none
	// for them. The VM asks once per CALL of a class program (SPEC §5.1).
	LoadFusedSecond func(numerics Numerics, kw []Value) func(out, a []float64, raw []byte, dt DType) (finite bool)
	// AddScaled: for a call (a, b, w) with a and b tensors of the output's length and w a
	// constant scalar other than 0, the kernel's out[i] is math.FMA(b[i], w, a[i]) under every
	// numerics (add_difference). The VM may then let a staged method whose output is b add it
	// to a while each piece is in the CPU cache (ops.ArgChunkAdder, SPEC §5.4).
	AddScaled bool
	// RawKeys, when set, writes the magnitude keys, float32bits(float32(|x|)), of the kernel's
	// result over two tensors of len(dst) elements read straight from model files (a and b as
	// stored, both of dtype dt), and reports whether every widened element of both was
	// finite: the keys of what widening both (num.DecodeInto) and running the kernel would
	// give. A staged key's statistics passes use it when the Stager reads only keys
	// (KeyObserver) and each of its tensor arguments is such a call over two LOADs (SPEC
	// §5.4): the float64 chunks of the call and of its operands are never made. subtract sets
	// it (num.SubAbsKeys).
	RawKeys func(dst []uint32, a, b []byte, dt DType) (finite bool)
	// Difference: the kernel over two tensors is a - b elementwise, one float64 subtraction
	// (subtract). A staged call's Stager may then get such an argument as its two operands
	// (DeltaSource) and widen and subtract in its own loop.
	Difference bool
	// MayMiss: the kernel may find that the key has no value (it returns an error wrapping
	// ErrMissing), so a fallback above it needs a run-time branch.
	MayMiss bool
	// Pending, when set, says why the method has no kernel yet: its signature is known, so
	// recipes using it parse, bind and check, but no plan can run it.
	Pending string
	// OutShape computes the output shape; nil means the broadcast of the tensor arguments.
	// For KeysMapped methods it is required; the key is given too.
	OutShape func(args, vars, kw []Value) ([]int, error)
	// OutConfig, for KeysMapped: the output's model config given the configs of the tensor
	// inputs ("" where unknown).
	OutConfig func(in []string) (string, error)
	// MapKeys, for KeysMapped: the input keys each tensor parameter reads to produce outKey
	// (one list per tensor parameter, in signature order); ok=false: no such output key.
	MapKeys func(outKey string) (in [][]string, ok bool)
	// MapKeysAlt, for KeysMapped methods whose input keys have alternatives (sd-mecha's clauses
	// joined by |, e.g. a LoRA key with or without alpha): the alternatives for outKey in
	// preference order, each as MapKeys returns it. The compiler uses the first one whose keys
	// every tensor input has (sd-mecha 1.1.5 graph_finalization.py visit_merge) and passes its
	// index in Call.Alt. When set, MapKeys is not used.
	MapKeysAlt func(outKey string) (alts [][][]string, ok bool)
	// OutShapeKey, when set, is used instead of OutShape: it also gets the key the call
	// computes (Call.Key) and, for MapKeysAlt methods, the chosen alternative (Call.Alt).
	OutShapeKey func(key string, alt int, args, vars, kw []Value) ([]int, error)
}

// FullName is name or name@era.
func (d *Def) FullName() string {
	if d.Era == "" {
		return d.Name
	}
	return d.Name + "@" + d.Era
}

// Signature prints the method's signature in Python style, e.g.
// weighted_sum(a: Tensor, b: Tensor, alpha: Tensor|float = 0.5).
func (d *Def) Signature() string {
	var parts []string
	p := func(prefix string, q Param) string {
		s := prefix + q.Name + ": " + q.Type.String()
		if q.Default != nil {
			s += " = " + q.Default.String()
		}
		return s
	}
	for _, q := range d.Params {
		parts = append(parts, p("", q))
	}
	if d.Varargs != nil {
		parts = append(parts, p("*", *d.Varargs))
	} else if len(d.KwOnly) > 0 {
		parts = append(parts, "*")
	}
	for _, q := range d.KwOnly {
		parts = append(parts, p("", q))
	}
	return d.Name + "(" + strings.Join(parts, ", ") + ")"
}

// Validate checks that the definition is well formed: names, defaults, a kernel.
func (d *Def) Validate() error {
	if d.Name == "" {
		return fmt.Errorf("method without a name")
	}
	if d.Kernel == nil && d.Pending == "" {
		return fmt.Errorf("%s: no kernel (and no Pending reason)", d.FullName())
	}
	seen := map[string]bool{}
	all := append(append([]Param{}, d.Params...), d.KwOnly...)
	if d.Varargs != nil {
		all = append(all, *d.Varargs)
	}
	defaulted := false
	for i, q := range all {
		if q.Name == "" || seen[q.Name] {
			return fmt.Errorf("%s: parameter %d has an empty or repeated name %q", d.FullName(), i, q.Name)
		}
		seen[q.Name] = true
		if i < len(d.Params) {
			if q.Default != nil {
				defaulted = true
			} else if defaulted {
				return fmt.Errorf("%s: required parameter %q after a defaulted one", d.FullName(), q.Name)
			}
		}
		if q.Type == TensorIn && q.Default != nil && q.Default.Kind != KindNull {
			return fmt.Errorf("%s: tensor parameter %q cannot have a constant default", d.FullName(), q.Name)
		}
	}
	return nil
}

// ParamNames returns the names of d's positional and keyword-only parameters, in order (for
// bytecode.CallNumbers).
func (d *Def) ParamNames() (params, kwOnly []string) {
	for _, p := range d.Params {
		params = append(params, p.Name)
	}
	for _, p := range d.KwOnly {
		kwOnly = append(kwOnly, p.Name)
	}
	return params, kwOnly
}
