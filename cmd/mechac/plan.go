package main

import (
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/mechac/mechac/compiler"
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm"
	"github.com/mechac/mechac/vm/bytecode"
)

// parseSize reads a memory size: a number of bytes, or with a suffix K/M/G/T (powers of 1024;
// KiB/MiB/GiB/TiB and KB/MB/GB/TB are read the same way).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"TIB", 1 << 40}, {"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10},
		{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10},
		{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.m
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("bad size %q (e.g. 2GiB, 512M)", s)
	}
	return int64(f * float64(mult)), nil
}

// cmdPlan prints, before any tensor data is read, what a run will need: bytes to read and
// write, the largest key and its planned peak, and the predicted peak for the worker count,
// with "fits" / "does not fit" against --max-memory.
func cmdPlan(e *env, args []string) error {
	fs := newFlags(e, "plan", "RECIPE [flags]")
	var co compileOptions
	co.register(fs, true)
	jobs := fs.IntP("jobs", "j", 0, "`N` worker threads the run will use (default: number of CPUs)")
	maxMem := fs.String("max-memory", "", "memory `SIZE` the run may use (e.g. 2GiB; default: the memory available now)")
	noTime := fs.Bool("no-time", false, "do not measure this machine's speeds nor print a time estimate")
	memProfile := addMemProfileFlag(fs)
	rc, err := parseRecipeCommand(fs, &co, args)
	if rc == nil {
		return err
	}
	recipe, f, opts := rc.path, rc.file, rc.opts
	opts.Models = newModelFinder(co.modelsDirs, recipe)
	res, err := compiler.Compile(f, opts)
	printNotes(e, res, false)
	if err != nil {
		return err
	}
	if err := writeMemProfile(*memProfile); err != nil {
		return err
	}
	p := res.Program
	var limit int64
	if *maxMem != "" {
		if limit, err = parseSize(*maxMem); err != nil {
			return usagef("plan: --max-memory: %v", err)
		}
	}
	n := *jobs
	if n <= 0 {
		n = runtime.NumCPU()
	}
	// What the VM will admit each key with: elementwise keys run in chunks (SPEC 5.1, 5.2).
	an, err := vm.Analyze(p, vm.Options{Registry: opts.Registry})
	if err != nil {
		return err
	}
	// Under --max-memory, run also keeps the collector's headroom free (collectorLag),
	// refuses a budget below its own overhead (keyBudget), and stages the keys that would not
	// fit the budget whole (stageOverBudget).
	var lag, budget int64
	if *maxMem != "" {
		lag = collectorLag(p, an)
		budget = keyBudget(limit, n, an, lag)
		if an, lag, budget, _, err = stageOverBudget(p, an, vm.Options{Registry: opts.Registry}, limit, n, lag, budget); err != nil {
			return err
		}
	}
	peaks, chunked := an.Peaks, an.Chunked
	var in, out int64
	largest, nChunked := 0, 0
	for i, k := range p.Keys {
		dt, _ := ops.ParseDType(k.DType)
		out += int64(ops.NumElements(k.Shape) * dt.Size())
		if peaks[i] > peaks[largest] {
			largest = i
		}
		if chunked[i] {
			nChunked++
		}
	}
	for _, inp := range p.Inputs {
		in += inp.Size
	}
	predicted, idle := predictPeak(an, n, limit)
	// Without a budget the run also holds, from its start, the heap this compilation left
	// live (the program, the inputs' headers), as run counts it (unlimitedPeak).
	var live int64
	if *maxMem == "" {
		runtime.GC()
		live = heapLive()
	}
	w := e.stdout
	// The verdict comes first: against --max-memory, or else against the memory this machine
	// has available now.
	what := "--max-memory " + humanBytes(limit)
	if limit == 0 {
		if avail := availableMemory(); avail > 0 {
			limit, what = avail, "available memory "+humanBytes(avail)
		}
	}
	if limit > 0 && len(p.Keys) > 0 {
		need := peaks[largest] + runtimeOverhead(1) + lag
		switch {
		case need > limit:
			fmt.Fprintf(w, "DOES NOT FIT in %s: key %s alone needs %s%s\n", what, p.Keys[largest].Name, humanBytes(need),
				keyCause(p, opts.Registry, &p.Keys[largest], chunked[largest]))
		case *maxMem != "" && budget <= 0:
			fmt.Fprintf(w, "DOES NOT FIT in %s: mechac's own overhead with %d workers is %s (runtime %s, staged input caches %s, the collector's headroom %s); try fewer workers (-j)\n",
				what, n, humanBytes(limit-budget), humanBytes(runtimeOverhead(n)), humanBytes(int64(n)*an.IdleStageCache), humanBytes(lag))
		case predicted+runtimeOverhead(n)+lag+live > limit:
			fmt.Fprintf(w, "fits in %s, with fewer keys in flight than workers at times\n", what)
		default:
			fmt.Fprintf(w, "fits in %s (predicted peak %s)\n", what, humanBytes(predicted+runtimeOverhead(n)+lag+live))
		}
	}
	fmt.Fprintf(w, "recipe: %s: %d output keys in %d key classes, %d inputs\n", recipe, len(p.Keys), len(p.Classes), len(p.Inputs))
	fmt.Fprintf(w, "read:   at most %s (input files)\n", humanBytes(in))
	fmt.Fprintf(w, "write:  %s (%s)\n", humanBytes(out), p.OutputDType)
	fmt.Fprintf(w, "keys:   %d of %d run in chunks of %d elements (elementwise programs, staged whole-tensor methods), the rest on whole tensors\n",
		nChunked, len(p.Keys), an.ChunkElems)
	if len(p.Keys) > 0 {
		k := p.Keys[largest]
		how := "whole tensors"
		if chunked[largest] {
			how = "in chunks"
		}
		fmt.Fprintf(w, "largest key: %s %s, %s of float64 registers and kernel scratch at its peak (%s)\n", k.Name, ops.FormatShape(k.Shape), humanBytes(peaks[largest]), how)
	}
	idleNote := ""
	switch {
	case idle > 0:
		idleNote = fmt.Sprintf(" and %s of staged methods' idle buffers", humanBytes(idle))
	case *maxMem != "" && an.IdleStageCache > 0:
		idleNote = fmt.Sprintf(" and each worker's %s staged input cache", humanBytes(an.IdleStageCache))
	}
	if *maxMem == "" && an.ReadBatch > 0 {
		idleNote += fmt.Sprintf(" and each worker's %s for reading small keys together", humanBytes(an.ReadBatch))
	}
	if *maxMem == "" && an.MapBacklog > 0 {
		idleNote += fmt.Sprintf(" and up to %s of inputs read through mappings and not unmapped yet", humanBytes(an.MapBacklog))
	}
	if *maxMem == "" && an.MapProgress > 0 {
		idleNote += fmt.Sprintf(" and each worker's %s of mapped inputs of keys past the input cache", humanBytes(an.MapProgress))
	}
	lagNote := ""
	if lag > 0 {
		lagNote = fmt.Sprintf(" and %s kept free for the collector", humanBytes(lag))
	}
	if live > 0 {
		lagNote += fmt.Sprintf(" and %s of the program and the inputs' headers", humanBytes(live))
	}
	fmt.Fprintf(w, "peak:   %s with %d workers (the %d largest keys at once%s, plus ~%s of runtime overhead%s)\n",
		humanBytes(predicted), n, min(n, len(peaks)), idleNote, humanBytes(runtimeOverhead(n)), lagNote)
	if !*noTime {
		est := estimatePlan(p, opts.Registry, an.Staged, an.Fused, measureRates(p), n, in, out)
		fmt.Fprintf(w, "time:   %s\n", est)
	}
	return nil
}

// predictPeak is the memory n workers' keys are predicted to take at once, besides the runtime
// overhead: the n largest keys' admission peaks, plus, without a limit, the idle buffers of
// the staged methods the program uses (StageDef.Idle) and each worker's buffer for small keys
// read together (vm.Analysis.ReadBatch; idle does not count it), or under --max-memory each worker's
// staged input cache, which it keeps between keys (counted with the fixed overhead, as run
// does). idle is the first of these.
func predictPeak(an *vm.Analysis, n int, limit int64) (predicted, idle int64) {
	sizes := slices.Clone(an.Peaks)
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] > sizes[j] })
	for i := 0; i < n && i < len(sizes); i++ {
		predicted += sizes[i]
	}
	if limit == 0 {
		seen := map[*ops.StageDef]bool{}
		for _, st := range an.Staged {
			if st != nil && st.Def.Idle != nil && !seen[st.Def] {
				seen[st.Def] = true
				idle += st.Def.Idle()
			}
		}
		// And each worker's buffer for small keys read together (vm.Analysis.ReadBatch), the
		// mapped inputs not unmapped yet (vm.Analysis.MapBacklog), and each worker's mapped
		// pages of a key past the cache (vm.Analysis.MapProgress).
		return predicted + idle + int64(n)*(an.ReadBatch+an.MapProgress) + an.MapBacklog, idle
	}
	return predicted + int64(n)*an.IdleStageCache, 0
}

// collectorLag is the memory a run under --max-memory keeps free besides the runtime overhead
// so that the garbage collector can keep up: one float64 tensor of the largest key that runs
// on whole tensors. A whole-tensor kernel allocates and drops buffers of its key's size, and a
// buffer dropped is resident until the next collection ends; the heap also grows while a
// collection runs. With live bytes admitted up to the budget minus the overhead alone, and
// Go's limit at the budget, a scale-4 SDXL rotate under 250 MiB peaked at 252-276 MiB RSS (the
// token embedding, 12352 x 320, 30 MiB per tensor, with a smaller key); with the headroom
// kept out of both the key budget and Go's limit, at 229 MiB (BENCHMARKS.md, session 10).
// Keys that run in chunks allocate nothing of their key's size.
func collectorLag(p *bytecode.Program, an *vm.Analysis) int64 {
	var lag int64
	for i, k := range p.Keys {
		if !an.Chunked[i] {
			lag = max(lag, int64(8*ops.NumElements(k.Shape)))
		}
	}
	return lag
}

// keyBudget is what run --max-memory SIZE (limit) admits keys within: SIZE less the runtime
// overhead of the workers, each worker's staged input cache and the collector's headroom lag
// (collectorLag; SPEC 5.2). Zero or less: SIZE is below mechac's own overhead, which run
// refuses.
func keyBudget(limit int64, workers int, an *vm.Analysis, lag int64) int64 {
	return limit - runtimeOverhead(workers) - int64(workers)*an.IdleStageCache - lag
}

// stageOverBudget is the analysis of a run under --max-memory (limit > 0) whose keys that would
// not fit the budget whole run staged (vm.Options.StageAbove = budget: a DELLA, median or TIES
// key below its method's own staging threshold still fits in chunks), with the collector's
// headroom and the budget found again from it, and the StageAbove to run with. Staging more
// keys can grow the workers' input caches; where the budget left would not cover mechac's own
// overhead any more, the first analysis stands (stageAbove 0). Without a budget it returns its
// arguments as they are.
func stageOverBudget(p *bytecode.Program, an *vm.Analysis, opts vm.Options, limit int64, workers int, lag, budget int64) (*vm.Analysis, int64, int64, int64, error) {
	// Only a key whose whole peak is above the budget can change (vm's stagedOver): with
	// none (x215a under 2 GiB, say) the analysis would be this one again.
	if limit <= 0 || budget <= 0 || !slices.ContainsFunc(p.Keys, func(k bytecode.Key) bool { return k.Peak > budget }) {
		return an, lag, budget, 0, nil
	}
	opts.StageAbove = budget
	staged, err := vm.Analyze(p, opts)
	if err != nil {
		return nil, 0, 0, 0, err
	}
	sLag := collectorLag(p, staged)
	sBudget := keyBudget(limit, workers, staged, sLag)
	if sBudget <= 0 {
		return an, lag, budget, 0, nil
	}
	return staged, sLag, sBudget, budget, nil
}

// goLimitSlack is how far below --max-memory (besides collectorLag and the input caches) run
// sets the Go runtime's memory limit: the limit counts the runtime's own mappings only, and
// the process's resident memory also holds the binary's pages (~8 MiB of file-backed text and
// data).
const goLimitSlack = 16 << 20

// goMemoryLimit is the Go runtime's memory limit under run --max-memory SIZE (limit): SIZE less
// goLimitSlack, the collector's headroom lag, and each worker's staged input cache, which is
// an anonymous mapping outside the Go heap (vm's newArena), so the limit does not count it:
// with the caches left in the limit, garbage could fill the heap to their size on top of them
// (x215a on d8 models under --max-memory 2GiB: 2.02 GiB peak RSS with two 64 MiB caches).
func goMemoryLimit(limit int64, workers int, an *vm.Analysis, lag int64) int64 {
	return limit - goLimitSlack - lag - int64(workers)*an.IdleStageCache
}

// unlimitedPeak is the peak memory of a run without --max-memory whose keys are predicted to
// take predicted at once (predictPeak): that, the runtime overhead, and the heap already live
// when the merge starts (live: the program, the inputs' headers; 216 SDXL models' take tens of
// MiB, more than the runtime overhead allows for).
func unlimitedPeak(predicted int64, workers int, live int64) int64 {
	return predicted + runtimeOverhead(workers) + live
}

// unlimitedGoLimit is the Go runtime's memory limit of a run without --max-memory: its
// unlimitedPeak less what the process holds outside the limit's accounting, the binary's
// pages (goLimitSlack), each worker's staged input cache (an anonymous mapping, as under
// goMemoryLimit) and mapped inputs (vm.Analysis.MapProgress, MapBacklog), so that garbage
// does not fill the heap to those on top of them. Its floor, the live heap and the runtime
// overhead, keeps the collector from running back to back where the caches are most of the
// prediction.
//
// The limit was 17/16 of the peak without those subtractions: x215a on d16 models peaked at
// 1.53 GiB against 1.40 GiB printed (the heap alone reached the limit, 1.43 GiB, with ~0.9 GB
// live); now both agree (BENCHMARKS.md, session 19).
func unlimitedGoLimit(predicted int64, workers int, an *vm.Analysis, live int64) int64 {
	l := unlimitedPeak(predicted, workers, live) - goLimitSlack - int64(workers)*(an.IdleStageCache+an.MapProgress) - an.MapBacklog
	return max(l, live+runtimeOverhead(workers))
}

// runtimeOverhead is the memory a run uses besides registers: the Go runtime and binary
// (~32 MiB) and each worker's read scratch (1 MiB) and output encode buffer.
func runtimeOverhead(workers int) int64 {
	return 32<<20 + int64(workers)*(2<<20)
}

// keyCause names what makes key k big when it runs on whole tensors: the whole-tensor method
// of its program with the most declared scratch (" (whole tensors: M)"), or "" when it runs in
// chunks or calls none. A user reading "alone needs 210 GiB" learns which call to change.
func keyCause(p *bytecode.Program, reg *ops.Registry, k *bytecode.Key, chunked bool) string {
	if chunked {
		return ""
	}
	best, most := "", int64(-1)
	for _, in := range p.Classes[k.Class].Instrs {
		if in.Op != bytecode.CALL {
			continue
		}
		d, ok := reg.Lookup(p.Methods[in.B])
		if !ok || d.Traits&(ops.WholeTensor|ops.LinearAlgebra) == 0 {
			continue
		}
		// The plan has no operand shapes: a ScratchIn method counts 0 and is named only
		// when no other call of the key declares scratch.
		var shapes [][]int
		for _, o := range in.Operands {
			if o.Kind == bytecode.OpReg {
				shapes = append(shapes, nil)
			}
		}
		b := d.CallScratch(k.Shape, shapes, callNumbers(p.Consts, d, in))
		if b > most {
			best, most = d.FullName(), b
		}
	}
	if best == "" {
		return ""
	}
	return " (whole tensors: " + best + ")"
}
