package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"runtime/trace"
	"syscall"

	"github.com/mechac/mechac/compiler"
	"github.com/mechac/mechac/stdlib"
	"github.com/mechac/mechac/vm"
	"github.com/mechac/mechac/vm/bytecode"
	"github.com/mechac/mechac/vm/safetensors"
)

// writerHook lets tests wrap the output's temporary file (to simulate a full disk).
var writerHook func(*os.File) safetensors.TempFile

func cmdRun(e *env, args []string) error {
	fs := newFlags(e, "run", "RECIPE -o OUT [flags]")
	var co compileOptions
	co.register(fs, true)
	out := fs.StringP("output", "o", "", "output `FILE` (.safetensors)")
	jobs := fs.IntP("jobs", "j", 0, "`N` worker threads (default: number of CPUs)")
	quiet := fs.BoolP("quiet", "q", false, "print nothing but errors")
	maxMem := fs.String("max-memory", "", "keep the merge's memory under `SIZE` (e.g. 2GiB): keys are admitted by their planned peak")
	// Hidden: a CPU profile of the run, for performance work (go tool pprof).
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to `FILE`")
	_ = fs.MarkHidden("cpuprofile")
	// Hidden: an execution trace of the run (go tool trace): where the workers wait.
	traceFile := fs.String("trace", "", "write an execution trace to `FILE`")
	_ = fs.MarkHidden("trace")
	chunkElems := fs.Int("chunk-elems", 0, "chunk length in elements (0: the default; negative: whole tensors), for measurements")
	_ = fs.MarkHidden("chunk-elems")
	if err := parseFlags(fs, args); err != nil {
		if err == errHelp {
			return nil
		}
		return err
	}
	if fs.NArg() != 1 {
		return usagef("run: want exactly one recipe, got %d arguments", fs.NArg())
	}
	if *out == "" {
		return usagef("run: missing -o OUT")
	}
	if *jobs < 0 {
		return usagef("run: -j must be at least 1")
	}
	recipe := fs.Arg(0)
	var limit int64
	if *maxMem != "" {
		var err error
		if limit, err = parseSize(*maxMem); err != nil {
			return usagef("run: --max-memory: %v", err)
		}
	}
	if err := checkOutputPath(*out); err != nil {
		return err
	}
	if limit == 0 {
		prepareHeap(compileHeapBytes)
	}
	f, src, err := loadRecipe(recipe)
	if err != nil {
		return err
	}
	opts, err := co.options(string(src))
	if err != nil {
		return err
	}
	finder := newModelFinder(co.modelsDirs, recipe)
	finder.keepOpen()
	defer finder.close()
	opts.Models = finder
	res, err := compiler.Compile(f, opts)
	printNotes(e, res, *quiet)
	if err != nil {
		return err
	}
	prog := res.Program
	for _, in := range prog.Inputs {
		if same, _ := samePath(in.Path, *out); same {
			return usagef("output %s is also an input of the recipe (%s); choose another output path", *out, in.Recipe)
		}
	}
	// The VM's decisions for this run (chunks, staging, admission), found once.
	an, err := vm.Analyze(prog, vm.Options{Registry: stdlib.Default(), ChunkElems: *chunkElems})
	if err != nil {
		return err
	}
	workers := *jobs
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	// A budget below mechac's own overhead is a usage error, reported before the machine's
	// memory is looked at.
	lag := collectorLag(prog, an)
	budget := keyBudget(limit, workers, an, lag)
	if limit > 0 && budget <= 0 {
		return usagef("run: --max-memory %s is less than mechac's own overhead with %d workers, %s (mechac plan --max-memory details it; try fewer workers, -j)",
			*maxMem, workers, humanBytes(limit-budget))
	}
	// Under a budget, keys that would not fit it whole run staged where their method has a
	// staged form (vm.Options.StageAbove), as plan --max-memory counts them.
	an, lag, budget, stageAbove, err := stageOverBudget(prog, an, vm.Options{Registry: stdlib.Default(), ChunkElems: *chunkElems}, limit, workers, lag, budget)
	if err != nil {
		return err
	}
	if err := checkMemory(e, prog, an, *quiet); err != nil {
		return err
	}
	if limit > 0 && !*quiet {
		warnOverBudget(e, prog, an, limit, lag)
	}
	for _, tool := range []struct {
		path  string
		start func(io.Writer) error
		stop  func()
	}{{*cpuProfile, pprof.StartCPUProfile, pprof.StopCPUProfile}, {*traceFile, trace.Start, trace.Stop}} {
		if tool.path == "" {
			continue
		}
		f, err := os.Create(tool.path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := tool.start(f); err != nil {
			return err
		}
		defer tool.stop()
	}
	bar := newProgress(e, *quiet)
	ctx, stop := interruptContext(context.Background(), func() {
		if !*quiet {
			bar.message("interrupted: stopping after the keys in progress, writing nothing (interrupt again to quit at once)")
		}
	})
	defer stop()
	// (Both settings are the process's: restored for a caller that runs again, as the tests do.)
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	defer stdlib.KeepIdleBuffers(true)
	if limit == 0 {
		// The run's heap on huge pages, as much as the plan predicts the run holds (the
		// workers' arenas, outside the heap, included: the pages never touched cost nothing),
		// where that is more than compileHeapBytes. Not under a budget, where a partly used huge
		// page's resident 2 MiB would count.
		predicted, _ := predictPeak(an, workers, 0)
		prepareHeap(predicted)
	}
	if limit == 0 && debug.SetMemoryLimit(-1) == math.MaxInt64 {
		// No budget (and no GOMEMLIMIT): a soft limit, so that the collector keeps the
		// process at the peak `mechac plan` printed instead of letting the heap grow to twice
		// the live bytes (GOGC=100); exceeding it costs collections, never a failure.
		predicted, _ := predictPeak(an, workers, 0)
		debug.SetMemoryLimit(unlimitedGoLimit(predicted, workers, an, heapLive()))
	}
	if limit > 0 {
		// Registers are admitted within what is left after the runtime's own overhead and the
		// collector's headroom; the Go runtime collects harder as the heap nears its limit, set
		// below SIZE by that headroom and what the process holds outside the runtime. Staged
		// methods keep no idle buffers: the admission counts none.
		debug.SetMemoryLimit(goMemoryLimit(limit, workers, an, lag))
		stdlib.KeepIdleBuffers(false)
		limit = budget
	}
	stats, err := vm.Run(ctx, prog, vm.Options{
		Registry:   stdlib.Default(),
		MaxMemory:  limit,
		StageAbove: stageAbove,
		ChunkElems: *chunkElems,
		Output:     *out,
		Jobs:       *jobs,
		OpenInput:  finder.open,
		Progress:   bar.update,
		Writer:     safetensors.WriterOptions{WrapFile: writerHook},
		Warn: func(msg string) {
			if !*quiet {
				bar.message("warning: " + msg)
			}
		},
	})
	bar.finish()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: no output written")
		}
		return err
	}
	if !*quiet {
		fmt.Fprintf(e.stderr, "wrote %s: %d tensors, %s, in %.1fs (plan %s)\n",
			*out, stats.Keys, humanBytes(stats.BytesOut), stats.Elapsed.Seconds(), stats.PlanHash[:12])
		if len(stats.Omitted) > 0 {
			fmt.Fprintf(e.stderr, "warning: %d key(s) omitted because an input was non-finite and no fallback covered it (first: %s)\n",
				len(stats.Omitted), stats.Omitted[0])
		}
	}
	return nil
}

// interruptContext is a context that an interrupt (Ctrl-C, SIGINT) or a SIGTERM cancels:
// the run then stops after the keys in progress and removes its temporary output (a kill
// with the default SIGTERM action left a hidden temporary file of the output's size). After
// the first signal the default action comes back (onSignal runs once), so that a second one
// ends the process at once: a key in a long kernel (a Stiefel iteration) can take minutes.
func interruptContext(parent context.Context, onSignal func()) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-sig:
			signal.Reset(os.Interrupt, syscall.SIGTERM)
			if onSignal != nil {
				onSignal()
			}
			cancel()
		case <-ctx.Done(): // the run ended (or the parent was canceled)
			signal.Stop(sig)
		}
	}()
	return ctx, cancel
}

// checkOutputPath refuses an output whose folder does not exist, before any work is done.
func checkOutputPath(out string) error {
	dir := filepath.Dir(out)
	st, err := os.Stat(dir)
	if err != nil {
		return usagef("output folder %s does not exist", dir)
	}
	if !st.IsDir() {
		return usagef("output folder %s is not a folder", dir)
	}
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		return usagef("output %s is a folder", out)
	}
	return nil
}

// samePath reports whether two paths name the same file (or would, once created).
func samePath(a, b string) (bool, error) {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb), nil
	}
	aa, err := filepath.Abs(a)
	if err != nil {
		return false, err
	}
	bb, err := filepath.Abs(b)
	if err != nil {
		return false, err
	}
	return aa == bb, nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// checkMemory refuses, before any tensor is read, a merge whose largest key alone needs more
// than the machine's memory and swap together (the run could only end killed, hours in
// perhaps, with nothing written), and warns when it needs more than the memory available
// now. A key is admitted by its planned peak (vm.Analysis.Peaks), as mechac plan reports it;
// --max-memory does not change what one key needs (a key above the budget runs alone).
func checkMemory(e *env, prog *bytecode.Program, an *vm.Analysis, quiet bool) error {
	mi := readMemInfo()
	if mi.total <= 0 || len(prog.Keys) == 0 {
		return nil
	}
	peaks, chunked := an.Peaks, an.Chunked
	largest := largestPeak(peaks)
	need := peaks[largest] + runtimeOverhead(1)
	name := prog.Keys[largest].Name
	switch {
	case need > mi.total+mi.swapTotal:
		return fmt.Errorf("run: key %s alone needs %s%s, more than this machine's memory and swap (%s): "+
			"the merge cannot run here (mechac plan shows what each key needs)",
			name, humanBytes(need), keyCause(prog, stdlib.Default(), &prog.Keys[largest], chunked[largest]),
			humanBytes(mi.total+mi.swapTotal))
	case mi.available > 0 && need > mi.available+mi.swapFree && !quiet:
		fmt.Fprintf(e.stderr, "warning: key %s alone needs %s, more than the memory available now (%s)\n",
			name, humanBytes(need), humanBytes(mi.available+mi.swapFree))
	}
	return nil
}

// warnOverBudget warns, before any tensor is read, when the largest key alone needs more than
// --max-memory (what mechac plan calls DOES NOT FIT): the run admits such a key alone, with no
// other key in flight, and the process's peak then goes past the limit. A user who set the
// limit learns it before the merge, not from the machine.
func warnOverBudget(e *env, prog *bytecode.Program, an *vm.Analysis, limit, lag int64) {
	if len(prog.Keys) == 0 {
		return
	}
	largest := largestPeak(an.Peaks)
	if need := an.Peaks[largest] + runtimeOverhead(1) + lag; need > limit {
		fmt.Fprintf(e.stderr, "warning: key %s alone needs %s%s, more than --max-memory %s: it runs with no other key in flight, and the peak goes past the limit (mechac plan --max-memory shows each key's need)\n",
			prog.Keys[largest].Name, humanBytes(need),
			keyCause(prog, stdlib.Default(), &prog.Keys[largest], an.Chunked[largest]), humanBytes(limit))
	}
}

// largestPeak is the index of the largest of peaks (the first of equals; 0 for none).
func largestPeak(peaks []int64) int {
	largest := 0
	for i, p := range peaks {
		if p > peaks[largest] {
			largest = i
		}
	}
	return largest
}

// heapLive is the Go heap's live bytes as of the last collection (runtime/metrics).
func heapLive() int64 {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(sample[0].Value.Uint64())
}
