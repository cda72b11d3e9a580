// Package bytecode defines mechac's compiled plan: per-key-class register programs, the
// opcode table, a stable text form (what `mechac compile` prints and `mechac diff` reads)
// and a versioned binary encoding.
//
// A Program is independent of the recipe language: the VM runs it without the parser or the
// compiler. Everything the VM needs is here: input files with fingerprints, the methods (by
// registry name), constants, the code of each key class, and the key table that binds each
// output key to a class and to the tensor names its loads read.
package bytecode

import (
	"fmt"
)

// Version is the plan format version. Bump it when the text or binary form changes meaning.
const Version = 1

// Magic starts every binary plan.
const Magic = "MECHAPLN"

// Opcode is one VM instruction kind.
type Opcode uint8

// The opcodes. Registers hold a tensor or "missing"; a missing value propagates through CALL
// (sd-mecha's rule that a key exists only where every input has it) and is caught by JPRESENT
// (fallback).
const (
	NOP      Opcode = iota
	LOAD            // A = dst, B = input, C = load slot: read the slot's tensor of input B, widen to float64; missing if non-finite and the plan omits non-finite inputs
	CALL            // A = dst, B = method, Operands = arguments: run the kernel; missing if a tensor operand is missing
	JPRESENT        // A = reg, B = target pc: jump when register A holds a value
	JUMP            // B = target pc
	MOVE            // A = dst, B = src: dst refers to src's value
	MISS            // A = dst: dst is missing
	FREE            // A = reg: drop the register's value (its buffer returns to the pool when unreferenced)
	STORE           // A = reg: the key's output value; a missing value omits the key
	numOpcodes
)

// OpInfo is the static description of an opcode: data, not code, so the disassembler, the
// verifier and SPEC.md agree.
type OpInfo struct {
	Name string
	// Operands used: which of A, B, C are meaningful; whether Operands is used.
	A, B, C, Args bool
	// Reads/Writes say whether A is read or written.
	WritesA, ReadsA, ReadsB, Jumps bool
	Doc                            string
}

// Ops is the opcode table.
var Ops = [numOpcodes]OpInfo{
	NOP:      {Name: "NOP", Doc: "do nothing"},
	LOAD:     {Name: "LOAD", A: true, B: true, C: true, WritesA: true, Doc: "rA = input[B].tensor(key.loads[C]) widened to float64"},
	CALL:     {Name: "CALL", A: true, B: true, Args: true, WritesA: true, Doc: "rA = methods[B](operands...)"},
	JPRESENT: {Name: "JPRESENT", A: true, B: true, ReadsA: true, Jumps: true, Doc: "if rA is present goto B"},
	JUMP:     {Name: "JUMP", B: true, Jumps: true, Doc: "goto B"},
	MOVE:     {Name: "MOVE", A: true, B: true, WritesA: true, ReadsB: true, Doc: "rA = rB (shared, reference counted)"},
	MISS:     {Name: "MISS", A: true, WritesA: true, Doc: "rA = missing"},
	FREE:     {Name: "FREE", A: true, Doc: "release rA"},
	STORE:    {Name: "STORE", A: true, ReadsA: true, Doc: "output = rA"},
}

func (o Opcode) String() string {
	if o < numOpcodes {
		return Ops[o].Name
	}
	return fmt.Sprintf("OP%d", o)
}

// OperandKind says where a CALL operand comes from.
type OperandKind uint8

const (
	OpReg    OperandKind = iota // a register
	OpConst                     // a constant from Program.Consts
	OpAbsent                    // an optional argument left out (None)
)

// Operand is one CALL argument.
type Operand struct {
	Kind  OperandKind
	Index int
}

// Instr is one instruction.
type Instr struct {
	Op       Opcode
	A, B, C  int
	Operands []Operand
	// NArgs and NVar split the arguments into the method's positional-or-keyword parameters,
	// its varargs, and (the rest) its keyword-only parameters.
	NArgs, NVar int
	// Counts, when set, gives for each argument how many consecutive Operands it takes as a
	// list of tensors (the keys a KeysMapped method reads); -1 marks a plain argument taking
	// one operand. Nil: every argument is plain.
	Counts []int
	// Key, for CALL: the key the method computes when it is not the program's key (a call
	// under a key-mapping method); empty means the program's key.
	Key string
	// Alt, for CALL of a method with alternative input keys (Def.MapKeysAlt): the one chosen.
	Alt int
}

// NumArgs is the number of arguments of a CALL: one per operand, or with Counts one per count
// (a plain argument or a tensor list).
func (in *Instr) NumArgs() int {
	if in.Counts != nil {
		return len(in.Counts)
	}
	return len(in.Operands)
}

// Arg returns the operands of argument i of a CALL, which start at operand index at (the
// previous arguments' operands, in order), and whether they form a tensor list (Counts[i] >=
// 0). The arguments are the method's positional ones (the first NArgs), its varargs (NVar),
// then its keyword-only ones. A verified program's counts fit its operands.
func (in *Instr) Arg(i, at int) (operands []Operand, list bool) {
	if in.Counts == nil || in.Counts[i] < 0 {
		return in.Operands[at : at+1], false
	}
	return in.Operands[at : at+in.Counts[i]], true
}

// Code is the program of one key class.
type Code struct {
	NumRegs int
	Instrs  []Instr
}

// ConstKind says what a constant is.
type ConstKind uint8

const (
	ConstNull ConstKind = iota
	ConstBool
	ConstInt
	ConstFloat
	ConstString
	// ConstScalar is a 0-dim tensor (a number bound to a Tensor-typed hyper-parameter).
	ConstScalar
)

var constKindNames = [...]string{"null", "bool", "int", "float", "str", "scalar"}

func (k ConstKind) String() string { return constKindNames[k] }

// Const is a constant operand.
type Const struct {
	Kind ConstKind
	// F32 marks a scalar that is a float32 tensor in sd-mecha's computation (its value is
	// already rounded): kernels doing "python number (op) tensor" arithmetic do it in float32.
	F32 bool
	B   bool
	I   int64
	F   float64
	S   string
}

// Input is one model file the plan reads.
type Input struct {
	Path string
	// Size and HeaderHash fingerprint the file (sha256 of its header, hex).
	Size       int64
	HeaderHash string
	// ContentHash, when set (`--hash-inputs`), is the sha256 (hex) of the whole file.
	ContentHash string
	// Recipe is the path as the recipe wrote it; Pos is where.
	Recipe string
	Pos    string
}

// Key is one output tensor.
type Key struct {
	Name  string
	Class int
	// Loads[i] is the tensor name that LOAD slot i reads (the key itself or an alias).
	Loads []string
	Shape []int
	DType string
	// Peak is the most bytes the key's program holds at once (an upper bound): float64
	// registers, plus the declared scratch (ops.Def.Scratch) of a call while it runs. The VM
	// admits keys by it under --max-memory.
	Peak int64
}

// Program is a compiled plan.
type Program struct {
	Version     int
	Numerics    string
	OutputDType string
	// OmitNonFinite makes LOAD report a tensor with NaN/Inf as missing (sd-mecha 1.1.x).
	OmitNonFinite bool
	// NanToNumOutput replaces non-finite output values by 0 / ±max of the output dtype after
	// the output cast (the AstolfoMix fork's 3e3aea3).
	NanToNumOutput bool
	// Era is the sd-mecha era whose semantics the plan implements.
	Era        string
	RecipeHash string
	// Recipe is the recipe text, written to the output's metadata.
	Recipe  string
	Inputs  []Input
	Methods []string
	Consts  []Const
	Classes []Code
	Keys    []Key
}
