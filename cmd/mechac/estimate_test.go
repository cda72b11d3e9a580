package main

import (
	"testing"
	"time"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
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
		// A linear-algebra method adds laFlopsFactor * m * n * min(m, n) flops.
		{"linear algebra", "rotate", []int{1000, 1000}, 1, 6*e*1e-9 + laFlopsFactor*1e9/1e10},
		// A vector is no matrix: no SVD cost.
		{"linear algebra on a vector", "rotate", []int{e}, 1, 6 * e * 1e-9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := stdlib.Default().Lookup(tc.method); !ok {
				t.Fatalf("no method %s", tc.method)
			}
			est := estimatePlan(program(tc.method, tc.shape), stdlib.Default(), rates, tc.workers, 2e9, 1e9)
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

// TestEstimatePasses: a method declaring ops.Def.Passes is priced from its constant keyword
// arguments (geometric_median: 8 + 8*maxiter elementwise-pass equivalents).
func TestEstimatePasses(t *testing.T) {
	rates := machineRates{decodeSec: map[ops.DType]float64{}, encodeSec: map[ops.DType]float64{}, elemSec: 1e-9, flops: 1e10}
	reg := func(i int) bytecode.Operand { return bytecode.Operand{Kind: bytecode.OpReg, Index: i} }
	cst := func(i int) bytecode.Operand { return bytecode.Operand{Kind: bytecode.OpConst, Index: i} }
	for _, tc := range []struct {
		name     string
		operands []bytecode.Operand
		passes   float64
	}{
		{"maxiter 10", []bytecode.Operand{reg(0), reg(1), cst(0), cst(1), cst(0)}, 8 + 8*10},
		{"maxiter 0", []bytecode.Operand{reg(0), reg(1), cst(0), cst(2), cst(0)}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &bytecode.Program{
				OutputDType: "F64",
				Methods:     []string{"geometric_median"},
				Consts: []bytecode.Const{
					{Kind: bytecode.ConstFloat, F: 1e-6},
					{Kind: bytecode.ConstInt, I: 10},
					{Kind: bytecode.ConstInt, I: 0},
				},
				Classes: []bytecode.Code{{NumRegs: 3, Instrs: []bytecode.Instr{
					{Op: bytecode.CALL, A: 2, B: 0, Operands: tc.operands, NVar: 2},
					{Op: bytecode.STORE, A: 2},
				}}},
				Keys: []bytecode.Key{{Name: "k", Shape: []int{1000}, DType: "F64"}},
			}
			est := estimatePlan(p, stdlib.Default(), rates, 1, 0, 0)
			want := time.Duration(3 * 1000 * 1e-9 * tc.passes * float64(time.Second)) // 2 inputs + output
			if d := est.compute - want; d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("compute = %v, want %v", est.compute, want)
			}
		})
	}
}
