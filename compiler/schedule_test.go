package compiler

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/mechac/mechac/vm/bytecode"
)

func schedLoad(r, input int) bytecode.Instr {
	return bytecode.Instr{Op: bytecode.LOAD, A: r, B: input}
}

func schedCall(r int, args ...int) bytecode.Instr {
	in := bytecode.Instr{Op: bytecode.CALL, A: r, NArgs: len(args)}
	for _, a := range args {
		in.Operands = append(in.Operands, bytecode.Operand{Kind: bytecode.OpReg, Index: a})
	}
	return in
}

func schedOrder(code []bytecode.Instr) []int {
	var rs []int
	for _, in := range code {
		if in.Op != bytecode.STORE {
			rs = append(rs, in.A)
		}
	}
	return rs
}

func TestSchedule(t *testing.T) {
	store := func(r int) bytecode.Instr { return bytecode.Instr{Op: bytecode.STORE, A: r} }
	tests := []struct {
		name   string
		code   []bytecode.Instr
		stored int
		want   []int // registers in the order they are written
		// peaks in registers (every register 1 byte) before and after
		before, after int64
	}{
		{
			// f(x, g(y, z)): g's subtree first.
			name: "deeper operand first",
			code: []bytecode.Instr{
				schedLoad(0, 0), schedLoad(1, 1), schedLoad(2, 2),
				schedCall(3, 1, 2), schedCall(4, 0, 3), store(4),
			},
			stored: 4, want: []int{1, 2, 3, 0, 4}, before: 4, after: 3,
		},
		{
			// n_average(a, b, c): all operands are loads; operand order kept.
			name: "flat call unchanged",
			code: []bytecode.Instr{
				schedLoad(0, 0), schedLoad(1, 1), schedLoad(2, 2), schedCall(3, 0, 1, 2), store(3),
			},
			stored: 3, want: []int{0, 1, 2, 3}, before: 4, after: 4,
		},
		{
			// A chain ws(ws(ws(a, b), c), d): already optimal, unchanged.
			name: "chain unchanged",
			code: []bytecode.Instr{
				schedLoad(0, 0), schedLoad(1, 1), schedCall(2, 0, 1),
				schedLoad(3, 2), schedCall(4, 2, 3), schedLoad(5, 3), schedCall(6, 4, 5), store(6),
			},
			stored: 6, want: []int{0, 1, 2, 3, 4, 5, 6}, before: 3, after: 3,
		},
		{
			// A load hoisted far from its use (a shared base loaded first) moves to its first use.
			name: "load moved to first use",
			code: []bytecode.Instr{
				schedLoad(0, 0), schedLoad(1, 1), schedLoad(2, 2), schedCall(3, 1, 2),
				schedLoad(4, 3), schedCall(5, 3, 4), schedCall(6, 5, 0), store(6),
			},
			stored: 6, want: []int{1, 2, 3, 4, 5, 0, 6}, before: 4, after: 3,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			size := map[int]int64{}
			for r := 0; r < 16; r++ {
				size[r] = 1
			}
			got := schedule(tc.code, tc.stored)
			if g := schedOrder(got); !slices.Equal(g, tc.want) {
				t.Errorf("order %v, want %v", g, tc.want)
			}
			b := peakBytes(bytecode.Code{NumRegs: 16, Instrs: insertFrees(tc.code, tc.stored)}, size, nil)
			a := peakBytes(bytecode.Code{NumRegs: 16, Instrs: insertFrees(got, tc.stored)}, size, nil)
			if b != tc.before || a != tc.after {
				t.Errorf("peak %d -> %d, want %d -> %d", b, a, tc.before, tc.after)
			}
		})
	}
}

// TestScheduleLeavesBranchesAlone: programs with jumps, MOVE or dead instructions are not
// reordered.
func TestScheduleLeavesBranchesAlone(t *testing.T) {
	for _, code := range [][]bytecode.Instr{
		{schedLoad(0, 0), {Op: bytecode.JPRESENT, A: 0, B: 3}, schedLoad(0, 1), {Op: bytecode.STORE, A: 0}},
		{schedLoad(0, 0), {Op: bytecode.MOVE, A: 1, B: 0}, {Op: bytecode.STORE, A: 1}},
		{schedLoad(0, 0), schedLoad(1, 1), {Op: bytecode.STORE, A: 0}},
	} {
		got := schedule(code, code[len(code)-1].A)
		if &got[0] != &code[0] {
			t.Errorf("program %v was reordered to %v", code, got)
		}
	}
}

// TestScheduleRandomDAGs: on random DAG programs the schedule is a permutation that defines
// every register before it is read and never raises the peak by more than the DAG sharing
// allows (for trees it never raises it).
func TestScheduleRandomDAGs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var reused scheduler
	var reusedFrees insertFreesScratch
	for trial := 0; trial < 500; trial++ {
		tree := trial%2 == 0
		var code []bytecode.Instr
		var avail []int
		nregs := 0
		for i := 0; i < 2+rng.IntN(4); i++ {
			code = append(code, schedLoad(nregs, i))
			avail = append(avail, nregs)
			nregs++
		}
		for len(avail) > 1 {
			k := 1 + rng.IntN(min(3, len(avail)))
			var args []int
			for j := 0; j < k; j++ {
				i := rng.IntN(len(avail))
				args = append(args, avail[i])
				if tree || rng.IntN(3) > 0 {
					avail = append(avail[:i], avail[i+1:]...)
				}
				if len(avail) == 0 {
					break
				}
			}
			code = append(code, schedCall(nregs, args...))
			avail = append(avail, nregs)
			nregs++
			if rng.IntN(4) == 0 {
				code = append(code, schedLoad(nregs, 10+nregs))
				avail = append(avail, nregs)
				nregs++
			}
		}
		stored := avail[0]
		code = append(code, bytecode.Instr{Op: bytecode.STORE, A: stored})
		got := schedule(code, stored)
		if len(got) != len(code) {
			t.Fatalf("trial %d: %d instructions, want %d", trial, len(got), len(code))
		}
		// Code generation reuses one scheduler and one FREE inserter for every key: what
		// the previous trials left in them must not change the result.
		if again := reused.schedule(code, stored); !reflect.DeepEqual(again, got) {
			t.Fatalf("trial %d: a reused scheduler gives %v, a fresh one %v", trial, again, got)
		}
		if again := reusedFrees.insertFrees(nil, got, stored); !reflect.DeepEqual(again, insertFrees(got, stored)) {
			t.Fatalf("trial %d: reused FREE insertion gives %v", trial, again)
		}
		defined := map[int]bool{}
		for _, in := range got {
			for _, r := range readRegs(in) {
				if !defined[r] {
					t.Fatalf("trial %d: r%d read before it is written in %v", trial, r, got)
				}
			}
			if bytecode.Ops[in.Op].WritesA {
				defined[in.A] = true
			}
		}
		if tree && &got[0] != &code[0] {
			size := map[int]int64{}
			for r := 0; r < nregs; r++ {
				size[r] = 1
			}
			b := peakBytes(bytecode.Code{NumRegs: nregs, Instrs: insertFrees(code, stored)}, size, nil)
			a := peakBytes(bytecode.Code{NumRegs: nregs, Instrs: insertFrees(got, stored)}, size, nil)
			if a > b {
				t.Errorf("trial %d: peak rose from %d to %d", trial, b, a)
			}
		}
	}
}
