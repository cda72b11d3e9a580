package compiler

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"

	"github.com/mechac/mechac/compiler/ir"
	"github.com/mechac/mechac/lang/pos"
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/bytecode"
)

// result is what emitting a value for one key produced.
type result struct {
	missing bool
	isConst bool
	// val is the constant's value (for a per-key literal, the value at this key).
	val   ops.Value
	reg   int
	konst int
	// mayMiss: the value can turn out missing at run time (a non-finite input).
	mayMiss bool
	shape   []int
}

type generator struct {
	c       *compilation
	prog    *bytecode.Program
	consts  map[constKey]int
	methods map[string]int
	// methodOf and methodDefs: the method table by Def, and each entry's Def.
	methodOf   map[*ops.Def]int
	methodDefs []*ops.Def
	classes    map[string]int
	pending    map[*ops.Def]bool
	errs       pos.ErrorList

	// per key
	regBytes map[int]int64
	// regShapes is each register's shape, for ops.Def.ScratchFor.
	regShapes map[int][]int
	abort     bool // a 0.0.x engine gave the whole key to its passthrough value
	key       string
	root      string // the program key being generated (key differs under key-mapping methods)
	code      []bytecode.Instr
	nregs     int
	loads     []string
	memo      map[memoKey]result
	memoLog   []memoKey // the memo's keys in the order they were added

	// Scratch reused from key to key (cleared, never shared with the plan): a recipe has
	// thousands of keys and most of them repeat a program already filed, so building each
	// one in fresh maps and slices was most of compilation's garbage (GBs for 216 models).
	vals    []ops.Value  // emitCall's operand values (stack)
	tensors []ops.Tensor // emitCall's operand shapes as tensors (stack)
	shapes  [][]int      // emitCall's register operands' shapes (stack)
	// scratchShapes: callScratch's register operands' shapes.
	scratchShapes [][]int
	// keyU, keyName, keyID: keyIn's last lookup (keyName's id in universe keyU).
	keyU    *keyUniverse
	keyName string
	keyID   int
	frees   []bytecode.Instr
	sig     []byte
	ins     insertFreesScratch
	sched   scheduler
	present []presentOperand // emitCall's tensor operands, for missingOperand
	lin     map[*ir.Value]*linNode
	one     *big.Rat
	// products memoizes mulRat by operand pointers: the coefficients are shared read-only
	// Rats (linNode.cs), so every key of a chain multiplies the same pairs again.
	products map[[2]*big.Rat]*big.Rat
}

// presentOperand is a tensor operand of a call and what it emitted at the key.
type presentOperand struct {
	r result
	v *ir.Value
}

// memoKey: a value at a key (KeysMapped methods read their inputs at other keys).
type memoKey struct {
	v   *ir.Value
	key string
}

// generate emits one register program per output key and merges identical programs into
// key classes.
func (c *compilation) generate() (*bytecode.Program, error) {
	keys, err := c.outputKeys()
	if err != nil {
		return nil, err
	}
	g, ok := c.generateParts(keys)
	if !ok {
		g = c.newGenerator()
		for _, k := range keys {
			if len(g.errs) >= 10 {
				break
			}
			g.genKey(k)
		}
	}
	if len(g.errs) > 0 {
		return nil, g.errs
	}
	if len(g.prog.Keys) == 0 {
		return nil, pos.Errorf(c.fn.Root.Pos, "the merge produces no tensor: no key is present in every input it needs (are the models of the same kind?)")
	}
	if err := bytecode.Verify(g.prog); err != nil {
		return nil, fmt.Errorf("internal error: generated plan does not verify: %v", err)
	}
	return g.prog, nil
}

// newGenerator is a generator with empty tables, for all of the keys or a part of them.
func (c *compilation) newGenerator() *generator {
	g := &generator{
		c: c,
		prog: &bytecode.Program{
			Version:        bytecode.Version,
			Numerics:       c.opts.Numerics.String(),
			OutputDType:    c.opts.OutputDType.String(),
			OmitNonFinite:  c.omitNonFinite(),
			NanToNumOutput: c.era != nil && c.era.Engine.NanToNumOutput,
			RecipeHash:     RecipeHash(c.opts.RecipeText),
			Era:            eraID(c.era),
			Recipe:         c.opts.RecipeText,
		},
		consts:  map[constKey]int{},
		methods: map[string]int{},
		classes: map[string]int{},
		pending: map[*ops.Def]bool{},
	}
	for _, in := range c.inputs {
		g.prog.Inputs = append(g.prog.Inputs, bytecode.Input{
			Path: in.info.Path, Size: in.info.Size, HeaderHash: in.info.HeaderHash,
			Recipe: in.value.Path, Pos: in.value.Pos.String(),
		})
	}
	return g
}

func (g *generator) genKey(key string) {
	g.key, g.root, g.code, g.nregs, g.loads = key, key, g.code[:0], 0, g.loads[:0]
	g.resetKey()
	if g.c.unionKeys() {
		g.genKeyUnion(key)
		return
	}
	g.finishKey(key, g.emit(g.c.fn.Root))
}

// resetKey empties the per-key tables, keeping their storage for the next key.
func (g *generator) resetKey() {
	if g.regShapes == nil {
		g.regShapes = map[int][]int{}
	}
	if g.regBytes == nil {
		g.regBytes = map[int]int64{}
		g.memo = map[memoKey]result{}
	}
	clear(g.regBytes)
	clear(g.regShapes)
	clear(g.memo)
	g.memoLog = g.memoLog[:0]
}

// finishKey stores r as the key's output and files the program under its key class.
func (g *generator) finishKey(key string, r result) {
	if r.missing {
		return // statically absent (e.g. a key only some inputs have)
	}
	if r.isConst {
		g.errs.Addf(g.c.fn.Root.Pos, "key %q: the result is a constant", key)
		return
	}
	g.code = append(g.code, bytecode.Instr{Op: bytecode.STORE, A: r.reg})
	g.frees = g.ins.insertFrees(g.frees[:0], g.sched.schedule(g.code, r.reg), r.reg)
	code := bytecode.Code{NumRegs: g.nregs, Instrs: g.frees}
	g.sig = appendClassSignature(g.sig[:0], code)
	cls, ok := g.classes[string(g.sig)]
	if !ok {
		cls = len(g.prog.Classes)
		g.classes[string(g.sig)] = cls
		code.Instrs = slices.Clone(code.Instrs) // g.frees is the next key's scratch
		g.prog.Classes = append(g.prog.Classes, code)
	}
	g.prog.Keys = append(g.prog.Keys, bytecode.Key{
		Name: key, Class: cls, Loads: slices.Clone(g.loads), Shape: r.shape, DType: g.prog.OutputDType,
		Peak: peakBytes(code, g.regBytes, g.callScratch),
	})
}

// peakBytes simulates a key's program and returns the most bytes live at once: LOAD and CALL
// make a buffer of their register's size, MOVE shares one, FREE drops a reference, and a CALL
// also holds its kernel's scratch (scratch(in), nil for none) while it runs, on top of its
// inputs and output. Both sides of a branch are counted, so the figure is an upper bound.
func peakBytes(code bytecode.Code, size map[int]int64, scratch func(bytecode.Instr) int64) int64 {
	type buf struct {
		bytes int64
		refs  int
	}
	// bufs[regs[r]-1] is register r's buffer (regs[r] == 0: none). Slices, not a map of
	// pointers: this runs for every key of a plan.
	bufs := make([]buf, 0, len(code.Instrs))
	regs := make([]int, code.NumRegs)
	reg := func(r int) *int {
		for r >= len(regs) {
			regs = append(regs, 0)
		}
		return &regs[r]
	}
	var live, peak int64
	drop := func(r int) {
		if p := reg(r); *p != 0 {
			b := &bufs[*p-1]
			b.refs--
			if b.refs == 0 {
				live -= b.bytes
			}
			*p = 0
		}
	}
	for _, in := range code.Instrs {
		switch in.Op {
		case bytecode.LOAD, bytecode.CALL:
			drop(in.A)
			bufs = append(bufs, buf{bytes: size[in.A], refs: 1})
			*reg(in.A) = len(bufs)
			live += size[in.A]
		case bytecode.MOVE:
			drop(in.A)
			if b := *reg(in.B); b != 0 {
				bufs[b-1].refs++
				*reg(in.A) = b
			}
		case bytecode.FREE, bytecode.MISS:
			drop(in.A)
		}
		peak = max(peak, live)
		if in.Op == bytecode.CALL && scratch != nil {
			peak = max(peak, live+scratch(in))
		}
	}
	return peak
}

// callScratch is the scratch of a CALL of the key being generated (ops.Def.CallScratch): from
// its output's shape, its register operands' shapes and its constant numbers.
//
// It runs for every CALL of every key (finishKey's peakBytes), so it takes the Def from the
// method table's side and builds the constant numbers only for a Def whose scratch reads them.
func (g *generator) callScratch(in bytecode.Instr) int64 {
	d := g.methodDefs[in.B]
	if d.ScratchIn == nil && d.ScratchFor == nil && d.Scratch == nil {
		return 0
	}
	shapes := g.scratchShapes[:0]
	for _, o := range in.Operands {
		if o.Kind == bytecode.OpReg {
			shapes = append(shapes, g.regShapes[o.Index])
		}
	}
	g.scratchShapes = shapes[:0]
	var numbers map[string]float64
	if d.ScratchIn != nil || d.ScratchFor != nil {
		numbers = callNumbers(g.prog.Consts, d, in)
	}
	return d.CallScratch(g.regShapes[in.A], shapes, numbers)
}

// callNumbers is bytecode.CallNumbers with d's parameter names.
func callNumbers(consts []bytecode.Const, d *ops.Def, in bytecode.Instr) map[string]float64 {
	params, kwOnly := d.ParamNames()
	return bytecode.CallNumbers(consts, in, params, kwOnly)
}

func (g *generator) newReg() int {
	g.nregs++
	return g.nregs - 1
}

// sized records a register's buffer size (float64 elements of shape) for the memory plan.
func (g *generator) sized(reg int, shape []int) {
	g.regBytes[reg] = int64(ops.NumElements(shape)) * 8
	g.regShapes[reg] = shape
}

// constKey identifies a plan constant: its fields, the float by its bits (so that -0 and 0,
// and NaNs of different payloads, stay apart).
type constKey struct {
	kind   bytecode.ConstKind
	b, f32 bool
	i      int64
	f      uint64
	s      string
}

func (g *generator) constant(c bytecode.Const) int {
	k := constKey{kind: c.Kind, b: c.B, f32: c.F32, i: c.I, f: math.Float64bits(c.F), s: c.S}
	if i, ok := g.consts[k]; ok {
		return i
	}
	i := len(g.prog.Consts)
	g.prog.Consts = append(g.prog.Consts, c)
	g.consts[k] = i
	return i
}

// method is d's index in the plan's method table, added at its first use. The Defs are
// kept beside the names (methodDefs) for callScratch.
func (g *generator) method(d *ops.Def) int {
	if i, ok := g.methodOf[d]; ok {
		return i
	}
	name := d.FullName()
	i, ok := g.methods[name]
	if !ok {
		i = len(g.prog.Methods)
		g.prog.Methods = append(g.prog.Methods, name)
		g.methodDefs = append(g.methodDefs, d)
		g.methods[name] = i
	}
	if g.methodOf == nil {
		g.methodOf = map[*ops.Def]int{}
	}
	g.methodOf[d] = i
	return i
}

// constFor turns a constant bound to parameter p into a plan constant. A number bound to a
// Tensor-typed hyper-parameter becomes a 0-dim tensor; in sd-mecha numerics it is rounded to
// float32 first, as sd-mecha's torch.tensor(value, dtype=float32) does.
func (g *generator) constFor(v ops.Value, p ops.Param) bytecode.Const {
	switch v.Kind {
	case ops.KindNull:
		return bytecode.Const{Kind: bytecode.ConstNull}
	case ops.KindString:
		return bytecode.Const{Kind: bytecode.ConstString, S: v.S}
	}
	rounding := ops.RoundTensorHypers
	if g.c.era != nil {
		rounding = g.c.era.Engine.Scalars
	}
	sdmecha := g.c.opts.Numerics == ops.SDMecha
	if p.Type == ops.TensorHyper || p.Type == ops.TensorIn {
		f, _ := v.Float64()
		if sdmecha && rounding != ops.RoundNone {
			return bytecode.Const{Kind: bytecode.ConstScalar, F: float64(float32(f)), F32: true}
		}
		return bytecode.Const{Kind: bytecode.ConstScalar, F: f}
	}
	if sdmecha && rounding == ops.RoundAllScalars {
		// sd-mecha 1.0.x made every number a float32 tensor before coercing it to the
		// parameter's Python type: 1e-06 arrives as 9.999999974752427e-07, seeds above 2^24
		// lose their low bits.
		f, _ := v.Float64()
		f = float64(float32(f))
		switch p.Type {
		case ops.IntHyper, ops.BoolHyper:
			return bytecode.Const{Kind: bytecode.ConstInt, I: int64(f)}
		}
		return bytecode.Const{Kind: bytecode.ConstFloat, F: f}
	}
	switch v.Kind {
	case ops.KindBool:
		return bytecode.Const{Kind: bytecode.ConstBool, B: v.B}
	case ops.KindInt:
		return bytecode.Const{Kind: bytecode.ConstInt, I: v.I}
	}
	return bytecode.Const{Kind: bytecode.ConstFloat, F: v.F}
}

func (g *generator) emit(v *ir.Value) result {
	k := memoKey{v, g.key}
	if r, ok := g.memo[k]; ok {
		return r
	}
	r := g.emitNew(v)
	g.memo[k] = r
	g.memoLog = append(g.memoLog, k)
	return r
}

// emitAt emits v at another key (for KeysMapped methods) and comes back.
func (g *generator) emitAt(v *ir.Value, key string) result {
	saved := g.key
	g.key = key
	r := g.emit(v)
	g.key = saved
	return r
}

func (g *generator) emitNew(v *ir.Value) result {
	t := g.c.keys
	if v.Op != ir.OpConst && !g.keyIn(t.sets[v]) {
		return result{missing: true}
	}
	switch v.Op {
	case ir.OpConst:
		return result{isConst: true, val: v.Const}
	case ir.OpModel:
		return g.emitLoad(v)
	case ir.OpLiteral, ir.OpDict:
		return g.emitLiteral(v)
	}
	switch v.Def.Keys {
	case ops.KeysFallback:
		return g.emitFallback(v)
	case ops.KeysPickComponent, ops.KeysOmitComponent, ops.KeysFilter:
		return g.emit(v.Args[0])
	case ops.KeysBroadcast:
		g.errs.Addf(v.Pos, "%s of a non-constant value is not supported yet", v.Def.Name)
		return result{missing: true}
	case ops.KeysMapped:
		return g.emitMapped(v)
	}
	return g.emitCall(v)
}

// emitFallback: the first input if it has the key, else the default. When the first input
// can go missing at run time (a non-finite input tensor), both are compiled with a branch.
func (g *generator) emitFallback(v *ir.Value) result {
	ra := g.emit(v.Args[0])
	if ra.missing {
		return g.emit(v.Args[1])
	}
	if !ra.mayMiss {
		return ra
	}
	jp := len(g.code)
	nloads := len(g.loads)
	g.code = append(g.code, bytecode.Instr{Op: bytecode.JPRESENT, A: ra.reg})
	// Values computed only in the branch must not be reused after it: the branch may be
	// skipped. The memo table only gains entries, so forgetting those the branch added
	// restores it (copying the table instead was half of compiling TIES of 128 models).
	mark := len(g.memoLog)
	rd := g.emit(v.Args[1])
	for _, k := range g.memoLog[mark:] {
		delete(g.memo, k)
	}
	g.memoLog = g.memoLog[:mark]
	if rd.missing {
		// The default never has the key: the fallback is just its first input, present or not.
		g.code, g.loads = g.code[:jp], g.loads[:nloads]
		return ra
	}
	if !ops.SameShape(ra.shape, rd.shape) {
		g.errs.Addf(v.Pos, "fallback: key %q has shape %s in %s but %s in the default %s",
			g.key, ops.FormatShape(ra.shape), describe(v.Args[0]), ops.FormatShape(rd.shape), describe(v.Args[1]))
	}
	// The result gets its own register: the first input's register keeps meaning "the first
	// input" (missing when it is) for every other use of it in this key.
	dst := g.newReg()
	g.code = append(g.code, bytecode.Instr{Op: bytecode.MOVE, A: dst, B: rd.reg})
	jend := len(g.code)
	g.code = append(g.code, bytecode.Instr{Op: bytecode.JUMP})
	g.code[jp].B = len(g.code)
	g.code = append(g.code, bytecode.Instr{Op: bytecode.MOVE, A: dst, B: ra.reg})
	g.code[jend].B = len(g.code)
	g.code = append(g.code, bytecode.Instr{Op: bytecode.NOP})
	return result{reg: dst, mayMiss: rd.mayMiss, shape: ra.shape}
}

func (g *generator) emitCall(v *ir.Value) result {
	d := v.Def
	if d.Pending != "" {
		if _, reported := g.pending[d]; !reported {
			g.pending[d] = true
			g.errs.Addf(v.Pos, "%s cannot run yet: %s", d.Name, d.Pending)
		}
		return result{missing: true}
	}
	if r, ok := g.foldKey(v); ok {
		return r
	}
	if r, ok := g.fuseLinear(v); ok {
		return r
	}
	ops_ := v.Operands()
	operands := make([]bytecode.Operand, len(ops_))
	// The operands' values and shapes go on stacks shared by the nested calls (each call's
	// entries are on top while it runs, and popped when it returns): fresh slices a call
	// were most of the garbage of compiling a 216-model recipe (216 operands, 2515 keys).
	// Only a 0.0.x engine's missing rule reads the present operands.
	union := g.c.unionKeys()
	base, vbase, sbase, tbase := len(g.present), len(g.vals), len(g.shapes), len(g.tensors)
	nArgs, nVar := 0, 0
	mayMiss := false
	anyMissing := false
	for i, a := range ops_ {
		p := v.ParamFor(i)
		var val ops.Value
		if a == nil {
			operands[i] = bytecode.Operand{Kind: bytecode.OpAbsent}
			val = ops.Null()
		} else if hv, ok, isDict := g.dictHyper(a); isDict {
			if !ok {
				anyMissing = true
				continue
			}
			c := g.constFor(hv, p)
			operands[i] = bytecode.Operand{Kind: bytecode.OpConst, Index: g.constant(c)}
			val = hv
			if c.Kind == bytecode.ConstScalar {
				val = ops.TensorValue(ops.Scalar(c.F))
			}
		} else {
			r := g.emit(a)
			if p.Type == ops.TensorIn && union {
				g.present = append(g.present, presentOperand{r, a})
			}
			switch {
			case r.missing:
				anyMissing = true
				continue
			case r.isConst:
				c := g.constFor(r.val, p)
				operands[i] = bytecode.Operand{Kind: bytecode.OpConst, Index: g.constant(c)}
				val = r.val
				if c.Kind == bytecode.ConstScalar {
					val = ops.TensorValue(ops.Scalar(c.F))
				}
			default:
				operands[i] = bytecode.Operand{Kind: bytecode.OpReg, Index: r.reg}
				g.shapes = append(g.shapes, r.shape)
				// A pointer into the stack stays valid (and unchanged) while this call
				// runs: a nested call that grows the stack copies it, never writes here.
				g.tensors = append(g.tensors, ops.Tensor{Shape: r.shape})
				val = ops.TensorValue(&g.tensors[len(g.tensors)-1])
				mayMiss = mayMiss || r.mayMiss
			}
		}
		if anyMissing {
			continue
		}
		// Operands come in order: the Args, then the Var, then the keywords.
		switch {
		case i < len(v.Args):
			nArgs++
		case i < len(v.Args)+len(v.Var):
			nVar++
		}
		g.vals = append(g.vals, val)
	}
	defer func() {
		g.present, g.vals, g.shapes, g.tensors = g.present[:base], g.vals[:vbase], g.shapes[:sbase], g.tensors[:tbase]
	}()
	if anyMissing {
		r, _ := g.missingOperand(v, g.present[base:])
		return r
	}
	// Full slice expressions: a method's shape rule that appends gets its own copy.
	a, b := vbase+nArgs, vbase+nArgs+nVar
	argVals, varVals, kwVals := g.vals[vbase:a:a], g.vals[a:b:b], g.vals[b:len(g.vals):len(g.vals)]
	shapes := g.shapes[sbase:len(g.shapes):len(g.shapes)]
	var shape []int
	var err error
	if d.OutShapeKey != nil {
		shape, err = d.OutShapeKey(g.key, 0, argVals, varVals, kwVals)
	} else if d.OutShape != nil {
		shape, err = d.OutShape(argVals, varVals, kwVals)
	} else {
		shape, err = ops.BroadcastShape(shapes...)
	}
	if err != nil {
		g.errs.Addf(v.Pos, "%s: key %q: %v (inputs: %s)", d.Name, g.key, err, inputsText(v, g))
		return result{missing: true}
	}
	if len(v.Var) >= streamMin && !d.MayMiss {
		regs := make([]int, 0, len(v.Var))
		for _, o := range operands[len(v.Args) : len(v.Args)+len(v.Var)] {
			regs = append(regs, o.Index)
		}
		if r, ok := g.streamCall(v, regs, shapes, kwVals, mayMiss); ok {
			return r
		}
	}
	reg := g.newReg()
	g.sized(reg, shape)
	g.code = append(g.code, bytecode.Instr{
		Op: bytecode.CALL, A: reg, B: g.method(d), Operands: operands,
		NArgs: len(v.Args), NVar: len(v.Var), Key: g.callKey(),
	})
	return result{reg: reg, mayMiss: mayMiss || d.MayMiss, shape: shape}
}

func inputsText(v *ir.Value, g *generator) string {
	var parts []string
	for i, a := range v.Operands() {
		if a == nil || a.Op == ir.OpConst {
			continue
		}
		r := g.memo[memoKey{a, g.key}]
		parts = append(parts, fmt.Sprintf("%s=%s %s", v.ParamFor(i).Name, describe(a), ops.FormatShape(r.shape)))
	}
	return strings.Join(parts, ", ")
}

// omitNonFinite: does a non-finite input tensor count as missing (sd-mecha 1.1.x)?
func (c *compilation) omitNonFinite() bool {
	if c.opts.KeepNonFinite {
		return false
	}
	return c.era == nil || c.era.Engine.OmitNonFinite
}

// insertFrees adds a FREE after the last instruction that reads each register (except the
// stored one), so buffers return to the pool as early as the program order allows. Jump
// targets are remapped.
func insertFrees(code []bytecode.Instr, stored int) []bytecode.Instr {
	var s insertFreesScratch
	return s.insertFrees(nil, code, stored)
}

// insertFreesScratch is insertFrees' working storage, kept from one key to the next.
type insertFreesScratch struct {
	rs, last, newPC []int
	frees           []free
}

// free is a FREE of register r to insert after instruction pc.
type free struct{ pc, r int }

// insertFrees is insertFrees appending to out, with s's storage.
func (s *insertFreesScratch) insertFrees(out, code []bytecode.Instr, stored int) []bytecode.Instr {
	// Slices indexed by register, not maps: this runs once per output key (2515 times a
	// recipe), and its garbage was a tenth of a 32-model compilation's.
	nregs, rs := regCount(code, s.rs)
	last := slices.Grow(s.last[:0], nregs)[:nregs]
	s.last = last
	for i := range last {
		last[i] = -1
	}
	for pc, in := range code {
		rs = appendReadRegs(rs[:0], in)
		for _, r := range rs {
			last[r] = pc
		}
	}
	// Registers written but never read (dead results) are freed right after they are written.
	for pc, in := range code {
		if bytecode.Ops[in.Op].WritesA && last[in.A] < 0 {
			last[in.A] = pc
		}
	}
	frees := s.frees[:0]
	for r, pc := range last {
		if pc >= 0 && r != stored {
			frees = append(frees, free{pc, r})
		}
	}
	slices.SortFunc(frees, func(x, y free) int {
		if x.pc != y.pc {
			return x.pc - y.pc
		}
		return x.r - y.r
	})
	newPC := slices.Grow(s.newPC[:0], len(code)+1)[:len(code)+1]
	s.newPC = newPC
	out = slices.Grow(out[:0], len(code)+len(frees))
	k := 0
	for pc, in := range code {
		newPC[pc] = len(out)
		out = append(out, in)
		for ; k < len(frees) && frees[k].pc == pc; k++ {
			out = append(out, bytecode.Instr{Op: bytecode.FREE, A: frees[k].r})
		}
	}
	newPC[len(code)] = len(out)
	for i := range out {
		if bytecode.Ops[out[i].Op].Jumps {
			out[i].B = newPC[out[i].B]
		}
	}
	s.rs, s.frees = rs, frees
	return out
}

func readRegs(in bytecode.Instr) []int { return appendReadRegs(nil, in) }

// regCount returns one more than the highest register code writes or reads (0 for none), for
// sizing per-register tables; rs is scratch for appendReadRegs, returned for reuse.
func regCount(code []bytecode.Instr, rs []int) (int, []int) {
	n := 0
	for _, in := range code {
		if bytecode.Ops[in.Op].WritesA {
			n = max(n, in.A+1)
		}
		rs = appendReadRegs(rs[:0], in)
		for _, r := range rs {
			n = max(n, r+1)
		}
	}
	return n, rs
}

// appendReadRegs appends the registers in reads to rs.
func appendReadRegs(rs []int, in bytecode.Instr) []int {
	info := bytecode.Ops[in.Op]
	if info.ReadsA {
		rs = append(rs, in.A)
	}
	if info.ReadsB {
		rs = append(rs, in.B)
	}
	if in.Op == bytecode.CALL {
		for _, o := range in.Operands {
			if o.Kind == bytecode.OpReg {
				rs = append(rs, o.Index)
			}
		}
	}
	return rs
}

// classSignature is the identity of a key program: keys whose programs have equal signatures
// share a key class. It is appended to b (a buffer reused from key to key): one signature per
// key (fmt, its first form, was a tenth of the compile time of a 216-model recipe).
func appendClassSignature(b []byte, c bytecode.Code) []byte {
	// Varints, and lengths before the variable-length parts, so that the bytes decode back to
	// one program only: a prefix code. (Decimal text, its first form, was 10% of generation.)
	b = slices.Grow(b, 8+len(c.Instrs)*16)
	num := func(x int) { b = binary.AppendVarint(b, int64(x)) }
	num(c.NumRegs)
	num(len(c.Instrs))
	for _, in := range c.Instrs {
		num(int(in.Op))
		num(in.A)
		num(in.B)
		num(in.C)
		num(in.NArgs)
		num(in.NVar)
		num(len(in.Counts))
		for _, n := range in.Counts {
			num(n)
		}
		num(len(in.Key))
		b = append(b, in.Key...)
		num(in.Alt)
		num(len(in.Operands))
		for _, o := range in.Operands {
			num(int(o.Kind))
			num(o.Index)
		}
	}
	return b
}

func eraID(e *ops.Era) string {
	if e == nil {
		return ""
	}
	return e.ID
}

// callKey is the Key of a CALL emitted now: empty at the program's key.
func (g *generator) callKey() string {
	if g.key == g.root {
		return ""
	}
	return g.key
}
