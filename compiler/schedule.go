package compiler

import (
	"cmp"
	"slices"

	"github.com/mechac/mechac/vm/bytecode"
)

// Scheduling: the order of a key program's instructions, chosen to lower the number of
// registers live at once (and so the key's peak memory) without changing any result.
//
// Code generation emits a key's program depth-first in operand order, loading each model at
// its first use. For a call whose operands are subtrees of different sizes that order can hold
// more registers than needed: in f(x, g(y, z)) loading x first keeps three tensors live at
// once, evaluating g(y, z) first only two. schedule re-emits a straight-line program in
// Sethi-Ullman order: from the stored register down, each instruction's operands are produced
// in decreasing order of the registers their subtree needs (ties keep operand order), and a
// LOAD is emitted right before its first use. Every instruction is pure (kernels seed their own
// random generators per key and call), so the order changes memory, never bytes.
//
// Registers keep their numbers, so programs of keys with the same structure still share a key
// class. Programs with jumps (run-time fallbacks), MOVE or MISS, or with instructions the
// stored result does not depend on, are left as they are.

// schedule returns code (straight-line, without FREE) in Sethi-Ullman order, or code itself
// when it does not apply.
func schedule(code []bytecode.Instr, stored int) []bytecode.Instr {
	var s scheduler // fresh: the result is not overwritten later
	return s.schedule(code, stored)
}

// scheduler is schedule's working storage, reused from key to key: per-key maps and slices
// were a quarter of the garbage of compiling a 216-model recipe. What schedule returns is
// valid until its next call.
type scheduler struct {
	def  []int // register -> index of the instruction writing it, -1 for none
	need []int
	done []bool
	mark []int // register -> the emit call that last saw it (operands read twice)
	out  []bytecode.Instr
	regs []int
	gen  int
}

func (s *scheduler) schedule(code []bytecode.Instr, stored int) []bytecode.Instr {
	nregs, regs := regCount(code, s.regs)
	s.regs = regs
	nregs = max(nregs, stored+1)
	def := slices.Grow(s.def[:0], nregs)[:nregs]
	s.def = def
	for i := range def {
		def[i] = -1
	}
	for pc, in := range code {
		switch in.Op {
		case bytecode.LOAD, bytecode.CALL:
			if def[in.A] >= 0 {
				return code
			}
			def[in.A] = pc
		case bytecode.STORE:
		default:
			return code
		}
	}
	if stored < 0 || def[stored] < 0 {
		return code
	}
	root := def[stored]
	// defOf is the writer of r; 0 for a register nothing writes (as a map lookup gave).
	defOf := func(r int) int { return max(def[r], 0) }
	// need[pc]: registers needed to evaluate instruction pc's subtree (Sethi-Ullman number,
	// generalized to n operands: operands sorted by need descending, max(need_i + i)). Shared
	// subexpressions are counted in every user: a heuristic, exact for trees.
	need := slices.Grow(s.need[:0], len(code))[:len(code)]
	clear(need)
	s.need = need
	var needOf func(pc int) int
	needOf = func(pc int) int {
		if need[pc] > 0 {
			return need[pc]
		}
		ns := appendReadRegs(nil, code[pc])
		for i, r := range ns {
			ns[i] = needOf(defOf(r))
		}
		// ascending; the i-th largest is ns[len(ns)-1-i]
		slices.Sort(ns)
		n := 1
		for j, x := range ns {
			n = max(n, x+len(ns)-1-j)
		}
		need[pc] = n
		return n
	}
	out := s.out[:0]
	done := slices.Grow(s.done[:0], len(code))[:len(code)]
	clear(done)
	s.done = done
	mark := slices.Grow(s.mark[:0], nregs)[:nregs]
	clear(mark)
	s.mark = mark
	var emit func(pc int)
	emit = func(pc int) {
		if done[pc] {
			return
		}
		done[pc] = true
		s.gen++
		gen := s.gen
		s.regs = appendReadRegs(s.regs[:0], code[pc])
		order := make([]int, 0, len(s.regs))
		for _, r := range s.regs {
			if mark[r] != gen {
				mark[r] = gen
				order = append(order, defOf(r))
			}
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(needOf(b), needOf(a)) })
		for _, o := range order {
			emit(o)
		}
		out = append(out, code[pc])
	}
	emit(root)
	s.out = out
	for pc, in := range code {
		if in.Op == bytecode.STORE {
			out = append(out, in)
		} else if !done[pc] {
			return code // an instruction the result does not depend on: leave the program alone
		}
	}
	s.out = out
	if len(out) != len(code) {
		return code
	}
	return out
}
