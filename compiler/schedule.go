package compiler

import (
	"sort"

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
	def := map[int]int{} // register -> index of the instruction writing it
	for pc, in := range code {
		switch in.Op {
		case bytecode.LOAD, bytecode.CALL:
			if _, twice := def[in.A]; twice {
				return code
			}
			def[in.A] = pc
		case bytecode.STORE:
		default:
			return code
		}
	}
	root, ok := def[stored]
	if !ok {
		return code
	}
	// need[pc]: registers needed to evaluate instruction pc's subtree (Sethi-Ullman number,
	// generalized to n operands: operands sorted by need descending, max(need_i + i)). Shared
	// subexpressions are counted in every user: a heuristic, exact for trees.
	need := make([]int, len(code))
	var needOf func(pc int) int
	needOf = func(pc int) int {
		if need[pc] > 0 {
			return need[pc]
		}
		ns := []int{}
		for _, r := range readRegs(code[pc]) {
			ns = append(ns, needOf(def[r]))
		}
		sort.Sort(sort.Reverse(sort.IntSlice(ns)))
		n := 1
		for i, x := range ns {
			n = max(n, x+i)
		}
		need[pc] = n
		return n
	}
	out := make([]bytecode.Instr, 0, len(code))
	done := make([]bool, len(code))
	var emit func(pc int)
	emit = func(pc int) {
		if done[pc] {
			return
		}
		done[pc] = true
		regs := readRegs(code[pc])
		order := make([]int, 0, len(regs))
		seen := map[int]bool{}
		for _, r := range regs {
			if !seen[r] {
				seen[r] = true
				order = append(order, def[r])
			}
		}
		sort.SliceStable(order, func(i, j int) bool { return needOf(order[i]) > needOf(order[j]) })
		for _, o := range order {
			emit(o)
		}
		out = append(out, code[pc])
	}
	emit(root)
	for pc, in := range code {
		if in.Op == bytecode.STORE {
			out = append(out, in)
		} else if !done[pc] {
			return code // an instruction the result does not depend on: leave the program alone
		}
	}
	if len(out) != len(code) {
		return code
	}
	return out
}
