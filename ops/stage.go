package ops

import "errors"

// Staged execution of whole-tensor methods (SPEC §5.4).
//
// A whole-tensor method whose dependence on the whole tensor is a few statistics of its inputs
// (TIES: one magnitude threshold per delta) can run over chunks in passes: statistics passes
// see every chunk of every tensor argument, in element order, and then the output pass computes
// each output chunk from the argument chunks alone, as an elementwise kernel does. The VM then
// holds chunks instead of whole tensors for the whole key program (the inputs are read once per
// pass; from the page cache after the first), plus what the Stager keeps between passes.

// Stager runs one call of a staged method over one key. The VM calls, for p = 0 .. Passes()-1
// (Passes asked again after each pass),
// Observe(p, lo, chunks) for the chunks [lo, lo+len) of the tensor arguments, in increasing lo,
// covering [0, n) exactly once, then EndPass(p); then Chunk for every output chunk, in
// increasing lo. All calls come from one goroutine. A Stager serves one key and is dropped.
type Stager interface {
	// Passes is the number of statistics passes before the output pass: 0 for a Stager whose
	// output chunks need only their own elements and offset (dropout's masks, drawn by
	// position). The VM asks again after each EndPass: a Stager may add passes (a guess that
	// failed), never remove them.
	Passes() int
	// Observe receives the chunk at element offset lo of every tensor argument, in the
	// method's argument order (positional tensors, then the varargs). It must not keep or modify
	// the slices.
	Observe(pass, lo int, args [][]float64) error
	// EndPass is called once after the last chunk of a statistics pass.
	EndPass(pass int) error
	// Chunk writes out, the output chunk at element offset lo, from the argument chunks.
	Chunk(lo int, args [][]float64, out []float64) error
}

// ArgSelector is a Stager whose statistics passes may each need only some of its tensor
// arguments: for a pass, PassArgs returns the indices (in argument order) of those it needs,
// or nil for all of them. The VM then runs only the part of the slice they depend on, and
// Observe receives their chunks alone, in that order. A Stager that must see one argument
// whole before the next (the DELLA ranks of a delta) takes a pass per argument this way, and
// reads each input once for it.
type ArgSelector interface {
	PassArgs(pass int) []int
}

// KeyObserver is a Stager whose statistics passes read only the magnitude keys of its tensor
// arguments, float32bits(float32(|x|)) of every element x (ties_sum's thresholds are float32
// magnitudes). When the VM can compute the keys of every argument from the stored bytes
// (Def.RawKeys) it calls ObserveKeys in place of Observe, with the same chunks in the same
// order, and src gives the keys of the chunk [lo, lo+n) of each argument, wherever the Stager
// wants them. The Stager must treat them as Observe treats the keys it
// computes itself, so that either call gives the same thresholds.
type KeyObserver interface {
	ObserveKeys(pass, lo, n int, src KeySource) error
}

// KeySource gives the magnitude keys of one statistics chunk [lo, lo+n) of a staged call's
// tensor arguments (KeyObserver).
type KeySource interface {
	// Keys writes the keys of argument i's chunk into dst (n of them).
	Keys(i int, dst []uint32) error
}

// RawKeySource is a KeySource whose arguments may be differences of two stored tensors of one
// dtype (calls of a Def.Difference method over two LOADs): a Stager may then make a chunk's
// keys from the operands' bytes in its own loop, fused with what it does with them. They must
// be the keys Keys gives (float32bits(|float32(a) - float32(b)|): the float64 difference's
// key, SPEC §5.4), and a chunk holding a key that is not finite the Stager must take from
// Keys, which reports such an input where the plan omits non-finite inputs.
type RawKeySource interface {
	KeySource
	// KeyOperands returns argument i's two operands over the chunk as stored (dtype dt); ok
	// is false when argument i is not such a difference.
	KeyOperands(i int) (a, b []byte, dt DType, ok bool)
}

// WholeKeySource is a RawKeySource that also gives an argument's two operands over the whole
// tensor, not only the chunk: a Stager may then read a few places of every argument at the
// first chunk (ties_sum's sparse sample) instead of every element of every chunk. The keys and
// the rules are RawKeySource's.
type WholeKeySource interface {
	RawKeySource
	// WholeKeyOperands is KeyOperands over every element of the tensor.
	WholeKeyOperands(i int) (a, b []byte, dt DType, ok bool)
}

// ArgChunker is a Stager whose output chunk can take its tensor arguments a piece at a time:
// the VM may call ChunkFrom in place of Chunk (same lo, same out), and src.Arg gives argument
// i's values at chunk offsets [off, off+len(dst)), any pieces in any order, so that the VM
// need not make every argument's whole chunk first (SPEC §5.4). The output must be Chunk's.
type ArgChunker interface {
	ChunkFrom(lo int, src ArgSource, out []float64) error
}

// ArgChunkAdder is an ArgChunker that can also finish its output chunk as a following
// add_difference(base, out, w) would (Def.AddScaled): ChunkFromAdd writes
// math.FMA(o, w, base[i]) where ChunkFrom would write o, each piece as soon as it is made,
// while it is in the CPU cache, instead of in a pass of its own over the chunk. The values
// must be those two calls' bit for bit.
type ArgChunkAdder interface {
	ChunkFromAdd(lo int, src ArgSource, out, base []float64, w float64) error
}

// LazyBaseAdder is an ArgChunkAdder whose ChunkFromAdd may also take a nil base, when src is
// a LazyBaseSource and the add's operand is every argument's base: base[i] is then that base,
// widened from DeltaBase's bytes or taken from BaseValues. The VM then widens the base's
// chunk only where the Stager asks for it (SPEC §5.4).
type LazyBaseAdder interface {
	ArgChunkAdder
	// AddsLazyBase reports whether ChunkFromAdd takes a nil base.
	AddsLazyBase() bool
}

// ArgSource gives pieces of one output chunk's tensor arguments (ArgChunker).
type ArgSource interface {
	// Arg writes argument i's values at chunk offsets [off, off+len(dst)) into dst.
	Arg(i, off int, dst []float64) error
}

// DeltaSource is an ArgSource whose arguments may be differences of a model read straight
// from its file and a float64 base: argument i = widen(raw) - base, elementwise (an exact
// widening, num.DecodeInto, then one IEEE subtraction). A Stager may read them so and fuse the
// widening into its own loop, but a piece holding a value that is not finite it must ask of
// Arg (which reports such an input where the plan omits non-finite inputs).
type DeltaSource interface {
	ArgSource
	// Delta returns argument i's operands over the chunk: raw, the model's elements as stored
	// (dtype dt), and base, the float64 values subtracted, both of the chunk's length; ok is
	// false when argument i is not such a difference (ask Arg).
	Delta(i int) (raw []byte, dt DType, base []float64, ok bool)
}

// RawDeltaSource is a DeltaSource that also offers a difference's base as stored, when the
// base was read from a file in the model's dtype: Delta's base is then the exact widening of
// these bytes, and a Stager may widen them in its own precision (float16 to float32) instead
// of narrowing Delta's float64 base.
type RawDeltaSource interface {
	DeltaSource
	// DeltaBase returns argument i's base as stored over the chunk (Delta's dtype); ok is
	// false when Delta's is not ok or the base is not such a read.
	DeltaBase(i int) (raw []byte, ok bool)
}

// LazyBaseSource is a RawDeltaSource whose Delta may give a nil base where DeltaBase's is
// there: the float64 base is not made until BaseValues(i) asks for it, with Arg's errors (a
// non-finite element where the plan omits non-finite inputs). A Stager that uses DeltaBase's
// bytes alone must ask BaseValues for any piece where a base value is not finite, so that
// such an input is reported as it would be.
type LazyBaseSource interface {
	RawDeltaSource
	BaseValues(i int) ([]float64, error)
}

// StageCall describes the call a Stager is made for: its keyword arguments (constants, in
// KwOnly order), the number of tensor arguments, the output shape and numerics.
type StageCall struct {
	Kw       []Value
	Tensors  int
	Shape    []int
	Numerics Numerics
}

// StageDef is the staged form of a whole-tensor method (Def.Stage).
type StageDef struct {
	// New returns the Stager for one key, or ok = false when this call cannot be staged (the
	// VM then runs the whole-tensor kernel); an error is the call's error.
	New func(c StageCall) (s Stager, ok bool, err error)
	// Scratch is the most bytes a Stager for r tensor arguments of n elements keeps between
	// passes (bytecode Key.Peak counts it in place of Def.Scratch for a staged key).
	Scratch func(r, n int) int64
	// Passes, when set, is the number of statistics passes (Stager.Passes) a Stager for r
	// tensor arguments of n elements will make, as far as it is known before the data: `mechac
	// plan`'s time estimate prices each pass's re-run of the call's slice with it. nil means 1.
	Passes func(r, n int) int
	// KeyPasses, when set, is Passes for a Stager whose keys come from the stored bytes
	// (KeyObserver, ObserveKeys): each such pass computes the keys of every argument from
	// the inputs' bytes instead of re-running the slice. nil: the Stager reads no keys.
	KeyPasses func(r, n int) int
	// Cost, when positive, prices the staged call's own work in `mechac plan`'s estimate:
	// that many elementwise passes over its tensor arguments and output (the threshold
	// selection and the output pass), in place of Def.Passes, the whole kernel's.
	Cost float64
	// Accepts, when set, says whether a key's call (its keyword arguments, tensor count, shape
	// and numerics, as New gets them) runs staged at all: the VM runs the others over whole
	// tensors, and admits them as such. A staged form that reads its inputs many times over
	// (a pass per argument) takes only the keys the whole kernel would need too much memory
	// for; a method staged in different ways by its arguments tells them apart here.
	Accepts func(c StageCall) bool
	// Idle is the most bytes the method's Stagers keep between keys, process-wide, when no
	// memory limit is set (buffers recycled from key to key; none are kept under run
	// --max-memory): `mechac plan` adds it to its predicted peak. nil means none.
	Idle func() int64
}

// ErrUnstaged, returned (possibly wrapped) by a Stager method, makes the VM abandon staged
// execution of the key and run the whole-tensor kernel instead: for inputs the staged form does
// not reproduce bit for bit (the key's bytes are the whole kernel's either way).
var ErrUnstaged = errors.New("ops: call needs whole-tensor execution")
