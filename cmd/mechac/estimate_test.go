package main

import (
	"strings"
	"testing"
	"time"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
	"github.com/mechac/mechac/vm"
	"github.com/mechac/mechac/vm/bytecode"
)

// TestEstimatePlanCostModel prices small hand-written plans with fixed rates, so the cost
// model itself (not the machine) is under test.
func TestEstimatePlanCostModel(t *testing.T) {
	rates := machineRates{
		readBPS:   1e9,
		decodeSec: map[ops.DType]float64{ops.F16: 1e-9},
		encodeSec: map[ops.DType]float64{ops.F16: 1e-9},
		elemSec:   1e-9,
		flops:     1e10,
	}
	reg := func(i int) bytecode.Operand { return bytecode.Operand{Kind: bytecode.OpReg, Index: i} }
	program := func(method string, shape []int) *bytecode.Program {
		return &bytecode.Program{
			OutputDType: "F16",
			Methods:     []string{method},
			Classes: []bytecode.Code{{NumRegs: 3, Instrs: []bytecode.Instr{
				{Op: bytecode.LOAD, A: 0},
				{Op: bytecode.LOAD, A: 1},
				{Op: bytecode.CALL, A: 2, B: 0, Operands: []bytecode.Operand{reg(0), reg(1)}, NArgs: 2},
				{Op: bytecode.STORE, A: 2},
			}}},
			Keys: []bytecode.Key{{Name: "k", Shape: shape, DType: "F16"}},
		}
	}
	const e = 1000 * 1000
	tests := []struct {
		name    string
		method  string
		shape   []int
		workers int
		compute float64 // seconds
	}{
		// 2 loads + 3 tensors streamed + 1 encode, 1 ns each per element.
		{"elementwise", "add_difference", []int{1000, 1000}, 1, 6 * e * 1e-9},
		{"elementwise on 2 workers", "add_difference", []int{1000, 1000}, 2, 3 * e * 1e-9},
		// A linear-algebra method without ops.Def.Flops adds laFlopsFactor * m * n * min(m, n)
		// flops (0.0.x's rotate).
		{"linear algebra", "rotate@0.0.x", []int{1000, 1000}, 1, 6*e*1e-9 + laFlopsFactor*1e9/1e10},
		// A vector is no matrix: no SVD cost.
		{"linear algebra on a vector", "rotate@0.0.x", []int{e}, 1, 6 * e * 1e-9},
		// 1.1.5's rotate declares its own (rotateFlops): 48 m n min(m, n) at alignment 1.
		{"rotate", "rotate", []int{1000, 1000}, 1, 6*e*1e-9 + 48*1e9/1e10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := stdlib.Default().Lookup(tc.method); !ok {
				t.Fatalf("no method %s", tc.method)
			}
			est := estimatePlan(program(tc.method, tc.shape), stdlib.Default(), nil, nil, rates, tc.workers, 2e9, 1e9)
			want := time.Duration(tc.compute * float64(time.Second))
			if d := est.compute - want; d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("compute = %v, want %v", est.compute, want)
			}
			if est.read != 2*time.Second || est.write != time.Second {
				t.Errorf("read, write = %v, %v; want 2s, 1s", est.read, est.write)
			}
			if want := max(est.read, est.compute) + est.write/2; est.total != want {
				t.Errorf("total = %v, want %v", est.total, want)
			}
		})
	}
}

// TestEstimateFlops: a linear-algebra method declaring ops.Def.Flops is priced from its
// positional constant numbers (rotate's alignment), in its own view of the key (a 3x3
// convolution is (out*in) x 9), and its note reaches the estimate once.
func TestEstimateFlops(t *testing.T) {
	rates := machineRates{
		readBPS:   1e9,
		decodeSec: map[ops.DType]float64{ops.F16: 0},
		encodeSec: map[ops.DType]float64{ops.F16: 0},
		elemSec:   0,
		flops:     1e10,
	}
	reg := func(i int) bytecode.Operand { return bytecode.Operand{Kind: bytecode.OpReg, Index: i} }
	cnst := func(i int) bytecode.Operand { return bytecode.Operand{Kind: bytecode.OpConst, Index: i} }
	program := func(alignment float64, shapes ...[]int) *bytecode.Program {
		p := &bytecode.Program{
			OutputDType: "F16",
			Methods:     []string{"rotate"},
			Consts:      []bytecode.Const{{Kind: bytecode.ConstFloat, F: alignment}},
			Classes: []bytecode.Code{{NumRegs: 3, Instrs: []bytecode.Instr{
				{Op: bytecode.LOAD, A: 0},
				{Op: bytecode.LOAD, A: 1},
				{Op: bytecode.CALL, A: 2, B: 0, Operands: []bytecode.Operand{reg(0), reg(1), cnst(0)}, NArgs: 3},
				{Op: bytecode.STORE, A: 2},
			}}},
		}
		for i, sh := range shapes {
			p.Keys = append(p.Keys, bytecode.Key{Name: string(rune('a' + i)), Shape: sh, DType: "F16"})
		}
		return p
	}
	const note = "wide keys priced at the 3-4 Stiefel steps"
	tests := []struct {
		name      string
		alignment float64
		shapes    [][]int
		flops     float64
		note      bool
	}{
		{"alignment 1", 1, [][]int{{1000, 1000}}, 48 * 1e9, false},
		{"alignment 2 (integral)", 2, [][]int{{1000, 1000}}, 48 * 1e9, false},
		{"fractional, square: the matrix power", 0.5, [][]int{{1000, 1000}}, 48*1e9 + 36*1e9, false},
		{"fractional, wide: the Stiefel iteration on s = 1000 + min(2000, 1000)", 0.5, [][]int{{1000, 3000}}, 48*3e9 + 150*8e9, true},
		{"fractional, 3x3 convolution viewed as 100 x 9", 0.5, [][]int{{10, 10, 3, 3}}, 48*100*9*9 + 36*729, false},
		{"alignment 0 (alpha 0): a copy", 0, [][]int{{1000, 1000}}, 0, false},
		{"two wide keys, one note", 0.25, [][]int{{1000, 3000}, {1000, 3000}}, 2 * (48*3e9 + 150*8e9), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			est := estimatePlan(program(tc.alignment, tc.shapes...), stdlib.Default(), nil, nil, rates, 1, 0, 0)
			want := time.Duration(tc.flops / 1e10 * float64(time.Second))
			if d := est.compute - want; d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("compute = %v, want %v", est.compute, want)
			}
			got := 0
			for _, n := range est.notes {
				if strings.Contains(n, note) {
					got++
				}
			}
			if wantN := map[bool]int{false: 0, true: 1}[tc.note]; got != wantN || len(est.notes) != wantN {
				t.Errorf("notes %q, want %d of the Stiefel note", est.notes, wantN)
			}
			if tc.note && !strings.Contains(est.String(), note) {
				t.Errorf("the estimate's text lacks the note: %s", est)
			}
		})
	}
}

// TestEstimatePasses: a method declaring ops.Def.Passes is priced from its constant keyword
// arguments (geometric_median: 8 + 2.5*min(maxiter, 10) elementwise-pass equivalents).
func TestEstimatePasses(t *testing.T) {
	rates := machineRates{decodeSec: map[ops.DType]float64{}, encodeSec: map[ops.DType]float64{}, elemSec: 1e-9, flops: 1e10}
	reg := func(i int) bytecode.Operand { return bytecode.Operand{Kind: bytecode.OpReg, Index: i} }
	cst := func(i int) bytecode.Operand { return bytecode.Operand{Kind: bytecode.OpConst, Index: i} }
	for _, tc := range []struct {
		name     string
		operands []bytecode.Operand
		passes   float64
	}{
		{"maxiter 10", []bytecode.Operand{reg(0), reg(1), cst(0), cst(1), cst(0)}, 8 + 2.5*10},
		{"maxiter 0", []bytecode.Operand{reg(0), reg(1), cst(0), cst(2), cst(0)}, 8},
		{"maxiter 100: priced at 10", []bytecode.Operand{reg(0), reg(1), cst(0), cst(3), cst(0)}, 8 + 2.5*10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &bytecode.Program{
				OutputDType: "F64",
				Methods:     []string{"geometric_median"},
				Consts: []bytecode.Const{
					{Kind: bytecode.ConstFloat, F: 1e-6},
					{Kind: bytecode.ConstInt, I: 10},
					{Kind: bytecode.ConstInt, I: 0},
					{Kind: bytecode.ConstInt, I: 100},
				},
				Classes: []bytecode.Code{{NumRegs: 3, Instrs: []bytecode.Instr{
					{Op: bytecode.CALL, A: 2, B: 0, Operands: tc.operands, NVar: 2},
					{Op: bytecode.STORE, A: 2},
				}}},
				Keys: []bytecode.Key{{Name: "k", Shape: []int{1000}, DType: "F64"}},
			}
			est := estimatePlan(p, stdlib.Default(), nil, nil, rates, 1, 0, 0)
			want := time.Duration(3 * 1000 * 1e-9 * tc.passes * float64(time.Second)) // 2 inputs + output
			if d := est.compute - want; d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("compute = %v, want %v", est.compute, want)
			}
		})
	}
}

// TestEstimateStaged: a key whose ties_sum call runs in stages (vm.Analysis.Staged) costs, per
// statistics pass, its slice again (3 LOADs: decode + read from the page cache; 2 subtracts)
// and a stream over the 2 deltas; ties_sum's Stager takes 1 pass when the keys fit its budget
// (4*r*n <= 16 MiB), 2 above it; the call itself costs StageDef.Cost passes, not the whole
// kernel's.
func TestEstimateStaged(t *testing.T) {
	rates := machineRates{
		readBPS:   2e9, // 1 ns per F16 element read
		decodeSec: map[ops.DType]float64{ops.F16: 1e-9},
		encodeSec: map[ops.DType]float64{ops.F16: 1e-9},
		elemSec:   1e-9,
		flops:     1e10,
	}
	reg := func(i int) bytecode.Operand { return bytecode.Operand{Kind: bytecode.OpReg, Index: i} }
	cst := func(i int) bytecode.Operand { return bytecode.Operand{Kind: bytecode.OpConst, Index: i} }
	program := func(n int) *bytecode.Program {
		return &bytecode.Program{
			OutputDType: "F16",
			Methods:     []string{"subtract", "ties_sum"},
			Consts:      []bytecode.Const{{Kind: bytecode.ConstFloat, F: 0.2}, {Kind: bytecode.ConstBool}},
			Classes: []bytecode.Code{{NumRegs: 6, Instrs: []bytecode.Instr{
				{Op: bytecode.LOAD, A: 0},
				{Op: bytecode.LOAD, A: 1, C: 1},
				{Op: bytecode.CALL, A: 2, B: 0, Operands: []bytecode.Operand{reg(1), reg(0)}, NArgs: 2},
				{Op: bytecode.FREE, A: 1},
				{Op: bytecode.LOAD, A: 3, C: 2},
				{Op: bytecode.CALL, A: 4, B: 0, Operands: []bytecode.Operand{reg(3), reg(0)}, NArgs: 2},
				{Op: bytecode.FREE, A: 3},
				{Op: bytecode.CALL, A: 5, B: 1, Operands: []bytecode.Operand{reg(2), reg(4), cst(0), cst(1)}, NVar: 2},
				{Op: bytecode.STORE, A: 5},
			}}},
			Keys: []bytecode.Key{{Name: "k", Shape: []int{n}, DType: "F16", Loads: []string{"k", "k", "k"}}},
		}
	}
	// Per element: 3 loads * (1 ns decode + 1 ns read) + 2 subtracts * 3 tensors * 1 ns + the
	// statistics over 2 deltas * 1 ns.
	const perPass = (3*2 + 2*3 + 2) * 1e-9
	for _, tc := range []struct {
		name   string
		n      int
		passes int
	}{
		{"one pass", 1 << 20, 1},      // 4*2*n = 8 MiB
		{"two passes", 4 << 20, 2},    // 32 MiB
		{"at the budget", 2 << 20, 1}, // 16 MiB
		{"above the budget", 2<<20 + 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := program(tc.n)
			// Keys through the slice (the keys from the stored bytes: below).
			an, err := vm.Analyze(p, vm.Options{Registry: stdlib.Default(), NoRawKeys: true})
			if err != nil {
				t.Fatal(err)
			}
			staged := an.Staged
			if staged[0] == nil {
				t.Fatal("ties_sum not staged")
			}
			whole := estimatePlan(p, stdlib.Default(), nil, nil, rates, 1, 0, 0)
			est := estimatePlan(p, stdlib.Default(), staged, nil, rates, 1, 0, 0)
			// The call itself: StageDef.Cost passes over its 3 tensors instead of the whole
			// kernel's 8 (tiesPasses without a median).
			call := 3 * (staged[0].Def.Cost - 8) * 1e-9
			if staged[0].Def.Cost <= 0 {
				t.Fatal("ties_sum's staged form declares no Cost")
			}
			want := time.Duration((float64(tc.passes)*perPass + call) * float64(tc.n) * float64(time.Second))
			if d := est.compute - whole.compute - want; d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("staged - unstaged compute = %v, want %v (%d passes)", est.compute-whole.compute, want, tc.passes)
			}
		})
	}
	// Keys from the stored bytes (vm.StagedCall.RawKeys): per statistics pass (KeyPasses: the
	// sample and the range pass from 2^14 elements) a key kernel priced at keyPassFactor float16
	// decodes per element of each of the 2 deltas, and no slice.
	t.Run("keys from the stored bytes", func(t *testing.T) {
		for _, n := range []int{1 << 12, 1 << 20} {
			p := program(n)
			an, err := vm.Analyze(p, vm.Options{Registry: stdlib.Default()})
			if err != nil {
				t.Fatal(err)
			}
			st := an.Staged[0]
			if st == nil || !st.RawKeys {
				t.Fatalf("n=%d: staged call %+v, want keys from the stored bytes", n, st)
			}
			passes := st.Def.KeyPasses(2, n)
			if want := map[int]int{1 << 12: 1, 1 << 20: 2}[n]; passes != want {
				t.Fatalf("n=%d: %d passes, want %d", n, passes, want)
			}
			whole := estimatePlan(p, stdlib.Default(), nil, nil, rates, 1, 0, 0)
			est := estimatePlan(p, stdlib.Default(), an.Staged, nil, rates, 1, 0, 0)
			call := 3 * (st.Def.Cost - 8) * 1e-9
			want := time.Duration((float64(passes)*keyPassFactor*2*1e-9 + call) * float64(n) * float64(time.Second))
			if d := est.compute - whole.compute - want; d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("n=%d: staged - unstaged compute = %v, want %v", n, est.compute-whole.compute, want)
			}
		}
	})
	// The subtracts run fused with their model's LOAD (vm.Analysis.Fused): each streams only the
	// base, 2 ns per element less, in the program and again in the statistics pass.
	t.Run("fused", func(t *testing.T) {
		p := program(1 << 20)
		an, err := vm.Analyze(p, vm.Options{Registry: stdlib.Default(), NoRawKeys: true})
		if err != nil {
			t.Fatal(err)
		}
		staged, fused := an.Staged, an.Fused
		if len(fused) != 1 || fused[0] == nil || !fused[0][2] || !fused[0][5] || fused[0][7] || fused[0][0] {
			t.Fatalf("Analysis.Fused = %v, want the CALLs at 2 and 5", fused)
		}
		apart := estimatePlan(p, stdlib.Default(), staged, nil, rates, 1, 0, 0)
		est := estimatePlan(p, stdlib.Default(), staged, fused, rates, 1, 0, 0)
		want := time.Duration(2 * 2e-9 * 2 * float64(1<<20) * float64(time.Second))
		if d := apart.compute - est.compute - want; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("apart - fused compute = %v, want %v", apart.compute-est.compute, want)
		}
		if an, err := vm.Analyze(p, vm.Options{Registry: stdlib.Default(), ChunkElems: -1}); err != nil || an.Fused[0] != nil {
			t.Errorf("Analyze with ChunkElems -1: %v; want no fused call", err)
		}
	})
	// Unstaged when the VM would not stage it: chunked execution off.
	p := program(1 << 20)
	an, err := vm.Analyze(p, vm.Options{Registry: stdlib.Default(), ChunkElems: -1})
	if err != nil || an.Staged[0] != nil {
		t.Errorf("Analyze with ChunkElems -1: %v; want no staged call", err)
	}
}
