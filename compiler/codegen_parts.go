package compiler

import (
	"runtime"
	"slices"
	"sync"

	"github.com/mechac/mechac/vm/bytecode"
)

// Code generation in parts. Keys are independent: a key's program reads the recipe's IR and
// the key tables (both complete before generation, and only read by it) and writes only the
// generator's own tables. So the keys are cut into consecutive parts, each generated on a
// goroutine by a generator of its own, and the parts are then folded into the first in key
// order. Folding renumbers what each part numbered by first use (its methods, constants and
// key classes): taken part after part, an entry new to the fold is appended where the whole
// run, meeting the same entries in the same key order, would have appended it, so the plan
// is the one generation in one piece makes, byte for byte (TestGenerateParts).
//
// On the scale-4 SDXL TIES benchmark (2515 keys, 2 CPUs) generation took 40-50 ms of the
// run's serial start, on one core while the other waited.

// generateMinKeys is the fewest keys a part gets: below it, a goroutine and a generator's
// tables cost more than the part's keys. A variable for the tests.
var generateMinKeys = 512

// generateMaxParts bounds the parts whatever the number of CPUs (0: GOMAXPROCS). A variable
// for the tests.
var generateMaxParts = 0

// generateParts generates the keys in parts, when there are enough keys and CPUs for two
// parts, and returns the folded generator. It reports false when it did not, or when a part
// met an error: then generation in one piece must run, whose errors are the ones to report
// (the first ten, in key order, each Def's pending error once).
func (c *compilation) generateParts(keys []string) (*generator, bool) {
	n := len(keys) / generateMinKeys
	if generateMaxParts > 0 {
		n = min(n, generateMaxParts)
	} else {
		n = min(n, runtime.GOMAXPROCS(0))
	}
	if n < 2 {
		return nil, false
	}
	if c.unionKeys() {
		c.modelsInDFSOrder() // its lazily built list, before the parts share c
	}
	parts := make([]*generator, n)
	var wg sync.WaitGroup
	for i := range parts {
		g := c.newGenerator()
		parts[i] = g
		wg.Go(func() {
			for _, k := range keys[i*len(keys)/n : (i+1)*len(keys)/n] {
				g.genKey(k)
				if len(g.errs) > 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	for _, g := range parts {
		if len(g.errs) > 0 {
			return nil, false
		}
	}
	for _, p := range parts[1:] {
		parts[0].fold(p)
	}
	return parts[0], true
}

// fold appends the keys of p, a generator of the keys after g's, renumbering p's methods,
// constants and classes into g's tables.
func (g *generator) fold(p *generator) {
	methods := make([]int, len(p.methodDefs))
	for i, d := range p.methodDefs {
		methods[i] = g.method(d)
	}
	consts := make([]int, len(p.prog.Consts))
	for i, k := range p.prog.Consts {
		consts[i] = g.constant(k)
	}
	classes := make([]int, len(p.prog.Classes))
	for i, code := range p.prog.Classes {
		code = renumbered(code, methods, consts)
		g.sig = appendClassSignature(g.sig[:0], code)
		cls, ok := g.classes[string(g.sig)]
		if !ok {
			cls = len(g.prog.Classes)
			g.classes[string(g.sig)] = cls
			g.prog.Classes = append(g.prog.Classes, code)
		}
		classes[i] = cls
	}
	for _, k := range p.prog.Keys {
		k.Class = classes[k.Class]
		g.prog.Keys = append(g.prog.Keys, k)
	}
}

// renumbered is a copy of code whose CALLs name methods[m] for method m and whose constant
// operands name consts[c] for constant c.
func renumbered(code bytecode.Code, methods, consts []int) bytecode.Code {
	code.Instrs = slices.Clone(code.Instrs)
	for i := range code.Instrs {
		in := &code.Instrs[i]
		if in.Op != bytecode.CALL {
			continue
		}
		in.B = methods[in.B]
		in.Operands = slices.Clone(in.Operands)
		for j := range in.Operands {
			if in.Operands[j].Kind == bytecode.OpConst {
				in.Operands[j].Index = consts[in.Operands[j].Index]
			}
		}
	}
	return code
}
