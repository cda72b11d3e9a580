package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/num"
	"github.com/mechac/mechac/stdlib"
	"github.com/mechac/mechac/vm"
	"github.com/mechac/mechac/vm/bytecode"
)

// The time estimate of `mechac plan`: a cost model over the plan's instructions, priced with
// rates measured on this machine when the command runs (about a quarter of a second, no merge
// data touched):
//
//   - read speed: up to four 16 MiB spans of the largest inputs are read (into a buffer faulted
//     in first, after an untimed read of another span) and timed. Files in the page cache read
//     at memory speed, and the run will find
//     them there too, so the sample measures what the run will see (unless the inputs are much
//     larger than RAM);
//   - decode / encode speed: num.DecodeInto and num.EncodeInto on 4 Mi elements of each dtype;
//   - elementwise speed: a lerp over 4 Mi float64 elements (memory-bound, like the kernels);
//   - matrix speed: a 384 x 384 float64 product through gonum (the BLAS the SVD methods use),
//     the best of 25 after a warm-up.
//
// Costs: LOAD decodes the key's elements; a CALL of an elementwise method streams its tensor
// operands and output (one that runs fused with its first operand's LOAD, vm.Analysis.Fused, only
// its other operand); a method that declares ops.Def.Passes (the TIES family, the geometric
// median: 2 passes per Weiszfeld iteration) is priced at that many times it, another
// whole-tensor method (sorts, FFTs) at wholeTensorFactor times it, a random one at randomFactor; a linear-algebra method at
// laFlopsFactor * m * n * min(m, n) flops of the key's matrix (rows x the rest). A key whose
// call the VM runs in stages (ties_sum, SPEC 5.4) adds, per statistics pass (ops.StageDef.Passes
// for the key's size), its slice again (the LOADs' reads from the page cache and decodes, the
// CALLs) and a stream over the call's tensor arguments. The result is a
// rough figure (within a factor of about two on the benchmarks in BENCHMARKS.md), printed as
// such: it tells a 3-minute merge from a 3-hour one before a byte of a tensor is read.
const (
	// keyPassFactor prices a statistics pass over keys from the stored bytes, per element of
	// each argument, in float16 decodes: the key kernel reads two bytes of each operand and
	// writes nothing (a decode writes eight), and the sample pass computes a fraction of the
	// keys. Calibrated on the scale-4 TIES benchmark: its two passes took ~0.5 CPU-s of 3.3
	// (perf samples), where the factor 2 this had priced them at 4.0.
	keyPassFactor     = 0.25
	wholeTensorFactor = 8
	randomFactor      = 6
	laFlopsFactor     = 24
	sampleSpan        = 16 << 20
)

// machineRates are the measured speeds.
type machineRates struct {
	readBPS    float64 // input bytes per second
	readSample int64   // bytes read to measure it
	decodeSec  map[ops.DType]float64
	encodeSec  map[ops.DType]float64
	elemSec    float64 // seconds per element-operand of an elementwise kernel
	flops      float64
}

func measureRates(p *bytecode.Program) machineRates {
	r := machineRates{decodeSec: map[ops.DType]float64{}, encodeSec: map[ops.DType]float64{}}
	r.readBPS, r.readSample = measureRead(p.Inputs)

	const n = 4 << 20
	src := make([]byte, n*8)
	for i := range src {
		src[i] = byte(rand.Uint32() & 0x3b) // small finite halves/floats
	}
	dst := make([]float64, n)
	a, b := make([]float64, n), make([]float64, n)
	for i := range a { // touch every page first: page faults are not what a run pays per key
		a[i], b[i], dst[i] = float64(i), float64(n-i), 0
	}
	// Each rate is the best of five timings: the run's hot loops are warm, and a busy machine
	// (other processes, a VM's neighbours) slows one timing more often than all. With the best
	// of two, consecutive plans of x215a on d16 models said 34 s to 1 min 19; with five, 38-55 s
	// (the run takes 54-61 s).
	bestOf := func(times int, f func()) float64 {
		d := time.Duration(1<<63 - 1)
		for range times {
			t := time.Now()
			f()
			d = min(d, time.Since(t))
		}
		return d.Seconds()
	}
	best := func(f func()) float64 { return bestOf(5, f) }
	for _, d := range []ops.DType{ops.F16, ops.BF16, ops.F32, ops.F64} {
		r.decodeSec[d] = best(func() { num.DecodeInto(dst, src[:n*d.Size()], d) }) / n
		r.encodeSec[d] = best(func() { num.EncodeInto(src[:n*d.Size()], dst, d, false) }) / n
	}
	r.elemSec = best(func() {
		for i := range dst {
			dst[i] = stdlib.Lerp(a[i], b[i], 0.25)
		}
	}) / (3 * n)

	const m = 384
	x, y := mat.NewDense(m, m, nil), mat.NewDense(m, m, nil)
	for i := 0; i < m; i++ {
		for j := 0; j < m; j++ {
			x.Set(i, j, rand.Float64())
			y.Set(i, j, rand.Float64())
		}
	}
	var z mat.Dense
	z.Mul(x, y) // warm-up: the BLAS's workers, its packing buffers and z are made on first use
	// The best of 25: one product takes ~1 ms, and on a shared machine two timings were often
	// both slowed (consecutive plans of one recipe priced its rotate at 1 h and at 2 h 10; with
	// the best of ten, 50-54 min over six plans, against 68 min measured).
	r.flops = 2 * m * m * m / max(bestOf(25, func() { z.Mul(x, y) }), 1e-9)
	return r
}

// measureRead times reads of up to four 16 MiB spans from the middle of the largest inputs.
func measureRead(inputs []bytecode.Input) (float64, int64) {
	idx := make([]int, len(inputs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return inputs[idx[a]].Size > inputs[idx[b]].Size })
	buf := make([]byte, sampleSpan)
	for i := 0; i < len(buf); i += 4096 { // fault the buffer in first: the run's buffers are resident
		buf[i] = 1
	}
	// An untimed read first, of another span: a process's first large read into a buffer took
	// ~35 ms more than the next ones here (16 MiB from the page cache: 40 ms, then 1.5-3 ms),
	// which put a warm 9-model merge's reading at 2.1-2.9 s instead of ~0.5 s. A span of its
	// own, so that a cold input is still timed cold.
	if len(idx) > 0 {
		if f, err := os.Open(inputs[idx[0]].Path); err == nil {
			span := min(int64(sampleSpan), inputs[idx[0]].Size)
			_, _ = f.ReadAt(buf[:span], (inputs[idx[0]].Size-span)/4)
			f.Close()
		}
	}
	var total int64
	var dur time.Duration
	for _, i := range idx[:min(4, len(idx))] {
		f, err := os.Open(inputs[i].Path)
		if err != nil {
			continue
		}
		span := min(int64(sampleSpan), inputs[i].Size)
		t := time.Now()
		k, _ := f.ReadAt(buf[:span], (inputs[i].Size-span)/2)
		dur += time.Since(t)
		total += int64(k)
		f.Close()
	}
	if total == 0 || dur <= 0 {
		return 0, 0
	}
	return float64(total) / dur.Seconds(), total
}

// planEstimate is the estimated run time of a plan, split into its parts.
type planEstimate struct {
	read, compute, write time.Duration
	workers              int
	total                time.Duration
	notes                []string // the methods' assumptions (ops.Def.Flops), sorted
}

// estimatePlan prices p; staged is, per key class, its call the VM runs in stages
// (vm.Analysis.Staged; nil: none), fused its CALLs the VM runs fused with a LOAD
// (vm.Analysis.Fused; nil: none).
func estimatePlan(p *bytecode.Program, reg *ops.Registry, staged []*vm.StagedCall, fused [][]bool, r machineRates, workers int, readBytes, writeBytes int64) planEstimate {
	defs := make([]*ops.Def, len(p.Methods))
	for i, name := range p.Methods {
		defs[i], _ = reg.Lookup(name)
	}
	outDT, _ := ops.ParseDType(p.OutputDType)
	var compute float64
	notes := map[string]bool{}
	for _, k := range p.Keys {
		e := float64(ops.NumElements(k.Shape))
		code := &p.Classes[k.Class]
		var st *vm.StagedCall
		if k.Class < len(staged) {
			st = staged[k.Class]
		}
		if st != nil && !st.Takes(&k) {
			st = nil // the key runs whole
		}
		for pc, in := range code.Instrs {
			if st != nil && pc == st.PC && st.Def.Cost > 0 {
				// The staged form's own price (StageDef.Cost), not the whole kernel's.
				compute += float64(st.Tensors+1) * e * r.elemSec * st.Def.Cost
				continue
			}
			compute += instrCost(p, defs, r, k, in, fusedAt(fused, k.Class, pc), notes)
		}
		if st != nil {
			compute += stagedCost(p, defs, r, k, code, st, fused)
		}
		compute += e * r.encodeSec[outDT]
	}
	est := planEstimate{workers: max(workers, 1)}
	for n := range notes {
		est.notes = append(est.notes, n)
	}
	sort.Strings(est.notes)
	est.compute = time.Duration(compute / float64(est.workers) * float64(time.Second))
	if r.readBPS > 0 {
		est.read = time.Duration(float64(readBytes) / r.readBPS * float64(time.Second))
		est.write = time.Duration(float64(writeBytes) / r.readBPS * float64(time.Second))
	}
	// Reads overlap compute; the output is written as keys finish, mostly overlapped too, but
	// its final flush is not.
	est.total = max(est.read, est.compute) + est.write/2
	return est
}

// inDT is the dtype decode costs assume: the inputs' dtype is per tensor, and half precision is
// the common case.
const inDT = ops.F16

// fusedAt reports whether the instruction at pc of class c is a CALL run fused with a LOAD.
func fusedAt(fused [][]bool, c, pc int) bool {
	return c < len(fused) && fused[c] != nil && fused[c][pc]
}

// instrCost is the seconds one instruction of key k's program takes, over the whole key. A
// CALL fused with its first operand's LOAD (fused) streams only its other operand: the LOAD's
// decode is its pass over the model, and it writes the result instead of the widened model.
func instrCost(p *bytecode.Program, defs []*ops.Def, r machineRates, k bytecode.Key, in bytecode.Instr, fused bool, notes map[string]bool) float64 {
	e := float64(ops.NumElements(k.Shape))
	switch in.Op {
	case bytecode.LOAD:
		return e * r.decodeSec[inDT]
	case bytecode.CALL:
		if fused {
			return e * r.elemSec
		}
		tensors := 1.0 // the output
		for _, o := range in.Operands {
			if o.Kind == bytecode.OpReg {
				tensors++
			}
		}
		cost := tensors * e * r.elemSec
		d := defs[in.B]
		if d == nil {
			return cost
		}
		rows, cols := matrixDims(k.Shape)
		switch {
		case d.Passes != nil:
			cost *= d.Passes(callNumbers(p.Consts, d, in))
		case d.Traits&ops.LinearAlgebra != 0 && d.Flops != nil:
			f, note := d.Flops(k.Shape, callNumbers(p.Consts, d, in))
			cost += f / r.flops
			if note != "" && notes != nil {
				notes[note] = true
			}
		case d.Traits&ops.LinearAlgebra != 0 && rows > 1 && cols > 1:
			cost += laFlopsFactor * float64(rows) * float64(cols) * float64(min(rows, cols)) / r.flops
		case d.Traits&ops.WholeTensor != 0:
			cost *= wholeTensorFactor
		case d.Traits&ops.Random != 0:
			cost *= randomFactor
		}
		return cost
	}
	return 0
}

// stagedCost is what running key k's staged call in stages adds to the price of its program:
// every statistics pass runs the call's slice again over all the chunks (its LOADs read the
// inputs again, from the page cache, and decode them; its CALLs run again) and streams the
// call's tensor arguments through the Stager's statistics; where the keys come from the stored
// bytes (vm.StagedCall.RawKeys, a Stager with KeyPasses), a pass is a key kernel and the
// statistics over every argument instead. The method's own work (selection,
// vote) is the CALL's price in the program: StageDef.Cost passes over its tensors where the
// staged form declares it, else the whole kernel's.
func stagedCost(p *bytecode.Program, defs []*ops.Def, r machineRates, k bytecode.Key, code *bytecode.Code, st *vm.StagedCall, fused [][]bool) float64 {
	n := ops.NumElements(k.Shape)
	e := float64(n)
	if st.RawKeys && st.Def.KeyPasses != nil {
		// Keys from the stored bytes: per pass, a key kernel over every argument and the
		// statistics over the keys, keyPassFactor of a float16 decode's price per element.
		pass := keyPassFactor * float64(st.Tensors) * e * r.decodeSec[inDT]
		return float64(max(st.Def.KeyPasses(st.Tensors, n), 1)) * pass
	}
	pass := float64(st.Tensors) * e * r.elemSec // the statistics' stream over the arguments
	for _, pc := range st.Slice {
		in := code.Instrs[pc]
		pass += instrCost(p, defs, r, k, in, fusedAt(fused, k.Class, pc), nil)
		if in.Op == bytecode.LOAD && r.readBPS > 0 {
			pass += e * float64(inDT.Size()) / r.readBPS
		}
	}
	passes := 1
	if st.Def.Passes != nil {
		passes = max(st.Def.Passes(st.Tensors, n), 1)
	}
	return float64(passes) * pass
}

// callNumbers is bytecode.CallNumbers with d's parameter names.
func callNumbers(consts []bytecode.Const, d *ops.Def, in bytecode.Instr) map[string]float64 {
	params, kwOnly := d.ParamNames()
	return bytecode.CallNumbers(consts, in, params, kwOnly)
}

// matrixDims views a key's shape as the SVD methods do: rows x the product of the rest.
func matrixDims(shape []int) (int, int) {
	if len(shape) < 2 {
		return 1, ops.NumElements(shape)
	}
	return shape[0], ops.NumElements(shape) / shape[0]
}

func (e planEstimate) String() string {
	s := fmt.Sprintf("~%s (read %s, compute %s on %d workers, write %s; a rough estimate from rates measured now)",
		roundDuration(e.total), roundDuration(e.read), roundDuration(e.compute), e.workers, roundDuration(e.write))
	for _, n := range e.notes {
		s += "\n        " + n
	}
	return s
}

func roundDuration(d time.Duration) string {
	switch {
	case d >= time.Hour:
		return d.Round(time.Minute).String()
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}
