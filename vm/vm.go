// Package vm runs compiled plans: for every output key, the key's class program over a
// register file, with a worker pool, float64 kernels, pooled buffers, and a writer that puts
// each tensor at its precomputed offset of the output file.
//
// The VM imports neither the recipe language nor the compiler: a plan (package bytecode)
// and a method registry are all it needs.
package vm

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/num"
	"github.com/mechac/mechac/vm/bytecode"
	"github.com/mechac/mechac/vm/safetensors"
)

// Options configure a run.
type Options struct {
	Registry *ops.Registry
	// Output is the .safetensors path to write.
	Output string
	// Jobs is the number of worker goroutines (0 = number of CPUs).
	Jobs int
	// Metadata is added to the output's __metadata__ (mecha_recipe, plan hash and numerics
	// are always written).
	Metadata map[string]string
	// Progress, when set, is called after each key (from one goroutine at a time).
	Progress func(Progress)
	// Warn receives run-time warnings (a dropped non-finite input).
	Warn func(string)
	// Writer options (tests inject faults through it).
	Writer safetensors.WriterOptions
	// MaxMemory, when positive, bounds the register bytes of the keys in flight: a key is
	// admitted only while the planned peaks (Key.Peak) of the running keys fit; a key larger
	// than the whole budget runs alone. Buffers are then not pooled across keys, so freed
	// memory goes back to the runtime.
	MaxMemory int64
	// StageAbove, when positive, runs staged every key whose whole-tensor peak (Key.Peak) is
	// above it and whose class has a staged form (stage.go), also where StageDef.Accepts
	// declines the key (a staged form that reads its inputs many times over is slower on
	// small keys). run sets it to its --max-memory budget: a key that would not fit whole
	// runs in the staged form's far smaller memory instead of alone past the limit. Analyze
	// takes it too, so that a plan's figures are the run's.
	StageAbove int64
	// NoInPlace gives every CALL a fresh buffer, also for InPlace methods whose first operand
	// dies at the call (for tests comparing the two).
	NoInPlace bool
	// NoStageCache reads a staged key's inputs chunk by chunk in every pass instead of once
	// (stage_cache.go): for tests and comparisons; the bytes are the same.
	NoStageCache bool
	// StageCacheBytes, when positive, replaces the 64 MiB limit past which a staged key keeps
	// a window of its inputs instead of the whole tensors (stage_cache.go): for tests and
	// comparisons; the bytes are the same.
	StageCacheBytes int64
	// NoLoadFusion runs every LOAD on its own, also those a LoadFused method could read
	// (load_fused.go): for tests and comparisons; the bytes are the same.
	NoLoadFusion bool
	// NoRawKeys runs a staged key's statistics passes over the slice's float64 chunks also
	// where the keys could come from the stored bytes (stage_keys.go): for tests and
	// comparisons; the bytes are the same.
	NoRawKeys bool
	// NoAddFusion runs an add_difference of a staged method's output as a CALL of its own,
	// also where the Stager could add each piece as it makes it (stage_args.go's stagedAdd):
	// for tests and comparisons; the bytes are the same.
	NoAddFusion bool
	// NoLazyBase widens the base chunk of a staged key's output pass at its LOAD also where
	// the Stager could vote and add from the stored base alone (stage_lazy.go): for tests
	// and comparisons; the bytes are the same.
	NoLazyBase bool
	// NoReadBatch reads every key's inputs apart also where small staged keys could be read
	// together (read_batch.go): for tests and comparisons; the bytes are the same.
	NoReadBatch bool
	// NoMapInputs copies a staged key's cached inputs from the files also where it could read
	// them through mappings (input_map.go, which does so only without MaxMemory): for tests
	// and comparisons; the bytes are the same.
	NoMapInputs bool
	// ChunkElems is the chunk length, in elements, of chunked execution (chunk.go): 0 means
	// DefaultChunkElems, a negative value runs every key over whole tensors (for tests and
	// comparisons). Values below 2 are raised to 2.
	ChunkElems int
	// OpenInput, when set, opens the plan's inputs instead of safetensors.Open: a caller that
	// compiled the plan in the same process hands over the files whose headers it already
	// read (9 SDXL headers: the TIES benchmark's inputs are open ~6 ms sooner, of a ~1.3 s
	// run). The run owns, checks (size, header hash) and closes what it returns. It is called
	// from several goroutines.
	OpenInput func(path string) (*safetensors.File, error)
}

// budget admits keys by their planned peak bytes.
type budget struct {
	mu    sync.Mutex
	cond  *sync.Cond
	limit int64
	used  int64
}

func newBudget(limit int64) *budget {
	b := &budget{limit: limit}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *budget) acquire(n int64) int64 {
	if b == nil {
		return 0
	}
	n = min(n, b.limit)
	b.mu.Lock()
	for b.used+n > b.limit {
		b.cond.Wait()
	}
	b.used += n
	b.mu.Unlock()
	return n
}

func (b *budget) release(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
	b.cond.Broadcast()
}

// Progress reports how far a run is.
type Progress struct {
	KeysDone, KeysTotal   int
	BytesDone, BytesTotal int64
	Elapsed               time.Duration
}

// Stats summarize a finished run.
type Stats struct {
	Keys        int
	Omitted     []string
	BytesRead   int64
	BytesOut    int64
	Elapsed     time.Duration
	PlanHash    string
	NonFiniteIn []string
}

// KeyError is a failure while computing one output key.
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return fmt.Sprintf("key %q: %v", e.Key, e.Err) }
func (e *KeyError) Unwrap() error { return e.Err }

type machine struct {
	// batchRuns is, at the position of the first key of each batch of small staged keys in
	// order, its length (read_batch.go); nil: no batches.
	batchRuns []int32
	// order is the keys' indices in the order the workers take them (read_batch.go); nil:
	// the plan's.
	order    []int32
	outDType ops.DType
	prog     *bytecode.Program
	methods  []*ops.Def
	consts   []ops.Value
	inputs   []*safetensors.File
	numerics ops.Numerics
	warn     func(string)

	// out is the output, set by Run's goroutine before it closes outReady; outErr is the
	// error that left it nil (writer).
	out      *safetensors.Writer
	outErr   error
	outReady chan struct{}

	// chunkElems is the chunk length (0: no chunked execution); chunkable and chunkPeaks are
	// per class.
	chunkElems int
	chunkable  []bool
	chunkPeaks []int64
	// staged is, per class, its staged form (stage.go), or nil.
	staged []*stagedClass
	// noInPlace: Options.NoInPlace.
	noInPlace bool
	// noRawKeys: Options.NoRawKeys.
	noRawKeys bool
	// mapper, without a memory budget, maps staged keys' inputs (input_map.go); nil: none.
	mapper *inputMapper
	// noStageCache: Options.NoStageCache.
	noStageCache bool
	// stageAbove: Options.StageAbove.
	stageAbove int64
	// stageCacheMax is the most raw input bytes a staged key caches whole (stage_cache.go).
	stageCacheMax int64
	// fused pairs, per class, the LOADs run by a later CALL with that CALL (load_fused.go).
	fused [][]int
	// second is, per class and pc, the LoadFusedSecond kernel of a CALL paired with the LOAD
	// of its second operand (nil elsewhere).
	second [][]secondKernel
	// donors is, per class and pc, donorFor of the CALL there (-1 elsewhere): the same for
	// every key and chunk of the class, so found once.
	donors [][]int
	// loads is, per staged class, its distinctLoads.
	loads [][]*bytecode.Instr

	bytesRead atomic.Int64
	warnMu    sync.Mutex
	nonFinite []string
}

// Run executes the plan and writes the output file. On any error nothing is left at the
// output path (the temporary file is removed).
func Run(ctx context.Context, p *bytecode.Program, opts Options) (*Stats, error) {
	start := time.Now()
	if err := bytecode.Verify(p); err != nil {
		return nil, fmt.Errorf("invalid plan: %v", err)
	}
	numerics, err := ops.ParseNumerics(p.Numerics)
	if err != nil {
		return nil, err
	}
	outDType, err := ops.ParseDType(p.OutputDType)
	if err != nil {
		return nil, fmt.Errorf("plan output dtype: %v", err)
	}
	m, err := newMachine(p, opts)
	if err != nil {
		return nil, err
	}
	m.numerics, m.outDType, m.warn = numerics, outDType, opts.Warn
	if m.warn == nil {
		m.warn = func(string) {}
	}
	defer func() {
		for _, f := range m.inputs {
			if f != nil {
				f.Close()
			}
		}
	}()
	// The plan's hash (for the output's metadata and the stats) prints and hashes the whole
	// plan, ~5 ms for 2515 keys: once, while the inputs open.
	planHash := make(chan string, 1)
	go func() { planHash <- p.Hash() }()
	hash := sync.OnceValue(func() string { return <-planHash })
	var inputPaths []string
	tables := safetensors.NewTableCache()
	files, errs := openInputs(p.Inputs, opts.OpenInput)
	m.inputs = files // closed by the deferred loop above, whatever happens next
	for i, in := range p.Inputs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		f := files[i]
		tables.Share(f.Header)
		inputPaths = append(inputPaths, in.Path)
		if f.Size != in.Size || (in.HeaderHash != "" && hex.EncodeToString(f.HeaderHash[:]) != in.HeaderHash) {
			return nil, fmt.Errorf("%s changed since the plan was compiled (size or header differs); compile again", in.Path)
		}
	}
	if opts.MaxMemory <= 0 && !opts.NoMapInputs && mapsInputs {
		m.mapper = newInputMapper(files)
		defer m.mapper.close() // (after the workers: Run waits for them before it returns)
	}
	tensors := make([]safetensors.OutTensor, len(p.Keys))
	var total int64
	for i, k := range p.Keys {
		dt, err := ops.ParseDType(k.DType)
		if err != nil {
			return nil, fmt.Errorf("key %q: %v", k.Name, err)
		}
		tensors[i] = safetensors.OutTensor{Name: k.Name, DType: dt, Shape: k.Shape}
		total += int64(ops.NumElements(k.Shape) * dt.Size())
	}
	meta := map[string]string{}
	for k, v := range opts.Metadata {
		meta[k] = v
	}
	meta["mecha_recipe"] = p.Recipe
	meta["mechac_numerics"] = p.Numerics
	wopts := opts.Writer
	wopts.Inputs = append(wopts.Inputs, inputPaths...)
	wopts.ViaF32 = numerics == ops.SDMecha

	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	if jobs > len(p.Keys) {
		jobs = max(1, len(p.Keys))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The output file is made while the workers start on their first keys: it waits for the
	// plan's hash (its metadata), and Create preallocates the file and writes its header, 3-7
	// ms on the TIES benchmark that the workers no longer wait for. A worker's first write
	// waits for it (m.writer); an error stops the run, and Run reports it.
	m.outReady = make(chan struct{})
	go func() {
		defer close(m.outReady)
		meta["mechac_plan_hash"] = hash()
		w, err := safetensors.Create(opts.Output, tensors, meta, wopts)
		if err != nil {
			m.outErr = err
			cancel()
			return
		}
		m.out = w
	}()
	defer func() {
		<-m.outReady
		if m.out != nil {
			m.out.Abort()
		}
	}()
	next := atomic.Int64{}
	var mem *budget
	if opts.MaxMemory > 0 {
		mem = newBudget(opts.MaxMemory)
	} else if !opts.NoReadBatch {
		m.planBatches() // (not under a budget, whose admission counts each key's cache alone)
	}
	var (
		errOnce  sync.Once
		firstErr error
		omitMu   sync.Mutex
		omitted  []string
		progMu   sync.Mutex
		done     int
		bytes    int64
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	var wg sync.WaitGroup
	for j := 0; j < jobs; j++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if m.mapper != nil {
				// A mapped input that shrinks faults; runGuarded makes that the key's error.
				debug.SetPanicOnFault(true)
			}
			wk := newWorker(m)
			defer wk.closeRaw()
			wk.pooling = mem == nil
			defer wk.endBatch()
			first, n := 0, 0
			for pos := 0; ; pos++ {
				if ctx.Err() != nil {
					return
				}
				if pos >= first+n { // the next keys: one, or a batch (read_batch.go)
					wk.endBatch()
					if first, n = m.claimKeys(&next); first >= len(p.Keys) {
						return
					}
					pos = first
					if n > 1 {
						wk.readBatch(first, n)
					}
				}
				wk.useBatch(pos - first)
				i := m.keyAt(pos)
				k := &p.Keys[i]
				var present bool
				err := errWhole
				if m.chunked(k) {
					held := mem.acquire(m.admitPeak(k))
					present, err = wk.runGuarded(k, wk.runChunked)
					mem.release(held)
				}
				if err == errWhole {
					held := mem.acquire(k.Peak)
					present, err = wk.runKey(k)
					mem.release(held)
				}
				if err != nil {
					fail(&KeyError{Key: k.Name, Err: err})
					return
				}
				if !present {
					out, err := m.writer()
					if err != nil {
						return // Run reports it
					}
					omitMu.Lock()
					omitted = append(omitted, k.Name)
					omitMu.Unlock()
					out.Omit(k.Name)
				}
				if opts.Progress != nil {
					progMu.Lock()
					done++
					bytes += int64(ops.NumElements(k.Shape) * tensors[i].DType.Size())
					opts.Progress(Progress{KeysDone: done, KeysTotal: len(p.Keys), BytesDone: bytes, BytesTotal: total, Elapsed: time.Since(start)})
					progMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	<-m.outReady
	if m.outErr != nil {
		return nil, m.outErr // (the workers stopped for it)
	}
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if err := m.out.Commit(); err != nil {
		return nil, err
	}
	slices.Sort(omitted)
	return &Stats{
		Keys: len(p.Keys) - len(omitted), Omitted: omitted, BytesRead: m.bytesRead.Load(),
		BytesOut: total, Elapsed: time.Since(start), PlanHash: hash(), NonFiniteIn: m.nonFinite,
	}, nil
}

func constValue(c bytecode.Const) ops.Value {
	switch c.Kind {
	case bytecode.ConstBool:
		return ops.Bool(c.B)
	case bytecode.ConstInt:
		return ops.Int(c.I)
	case bytecode.ConstFloat:
		return ops.Float(c.F)
	case bytecode.ConstString:
		return ops.String(c.S)
	case bytecode.ConstScalar:
		t := ops.Scalar(c.F)
		if c.F32 {
			t.DType = ops.F32 // sd-mecha's torch.tensor(v, dtype=float32)
		}
		return ops.TensorValue(t)
	}
	return ops.Null()
}

// slot is a register's value: a tensor shared by MOVE, reference counted so that its buffer
// returns to the pool only when no register holds it.
type slot struct {
	t    *ops.Tensor
	refs int
}

type worker struct {
	m       *machine
	regs    []*slot
	pool    map[int][][]float64
	pooling bool
	pooled  int64 // bytes held in pool
	// scratch is the kernels' scratch (ops.Call.Scratch, kernelScratch), kept from call to
	// call when pooling; scratchFn is kernelScratch as a func value, made once.
	scratch   []float64
	scratchFn func(n int) []float64
	// kernelMissed: the last CALL's kernel reported ErrMissing (not a missing operand).
	kernelMissed bool
	// chunking: the worker runs a key in chunks (alloc hands out whole-chunk buffers);
	// chunkFree holds the unused ones.
	chunking  bool
	chunkFree [][]float64
	// stager, during the output pass of a staged key, computes the CALL stagedIn's chunks;
	// partLo is the offset of the chunk being run.
	stager   ops.Stager
	stagedIn *bytecode.Instr
	// keySrc is the KeySource of the statistics chunk being observed (stage_keys.go);
	// rawReady, that the staged key's arguments can come from its cached inputs.
	keySrc   rawKeySource
	rawReady bool
	// hybrid, during the whole part of a hybrid staged key, is the staged call's output.
	hybrid *hybridRun
	// direct, during an output pass whose staged arguments are made a piece at a time, is the
	// Stager taking them, and argSrc their ArgSource (stage_args.go).
	direct ops.ArgChunker
	argSrc rawArgSource
	partLo int
	// addDone is the pc of a stagedAdd the staged CALL did in this part (directChunkAdd),
	// which then does not run, or -1.
	addDone int
	// lazy is the base chunk of the output pass not widened yet (stage_lazy.go).
	lazy lazyBase
	// batch holds, per key of the batch being run, its inputs read together (read_batch.go);
	// batchCur the current key's; batchBuf their memory.
	batch    [][]rawInput
	batchCur []rawInput
	batchBuf []byte
	// donor is the register whose buffer the CALL being run may write its result into
	// (donorFor), or -1.
	donor int
	// raw holds a staged key's input tensors, read once (stage_cache.go), when rawOn;
	// rawArena is their memory, reused from key to key.
	raw     []rawInput
	rawOn   bool
	rawNext int // where findRaw's search starts
	// rawWindow is set when raw holds one chunk of each input (windowLo, windowN), not
	// whole tensors.
	rawWindow bool
	// rawMapped: raw's inputs are read through mappings (input_map.go), not into rawArena.
	rawMapped bool
	// mappedRanges is the ranges of the input files the key read through mappings;
	// mapProgress is set for a key past the cache's limit read so, which sweeps as its passes
	// go (progLo: per input, the chunk counted last, plus one; progBytes: the bytes counted
	// since the last sweep).
	mappedRanges      []mappedRange
	mapProgress       bool
	progLo            []int
	progBytes         int64
	windowLo, windowN int
	rawArena          []byte
	// rawScratch holds the bytes of a fused LOAD's chunk when the key has no cache.
	rawScratch []byte
}

// poolBytes bounds what one worker keeps for reuse: enough for the buffers of the next keys
// of the usual sizes, not a copy of every size the run has met (2515 keys of SDXL have ~60
// sizes; keeping them all would hold gigabytes).
const poolBytes = 64 << 20

func newWorker(m *machine) *worker {
	w := &worker{m: m, pool: map[int][][]float64{}, donor: -1}
	w.scratchFn = w.kernelScratch
	return w
}

// kernelScratch is ops.Call.Scratch: n float64s of the worker's scratch buffer, its contents
// those of an earlier call. Kept between calls only when pooling (no memory budget): it is
// then at most the largest scratch a key of the plan asked for, which that key's planned peak
// counts; under a budget call drops it, as it would a buffer of its own.
func (w *worker) kernelScratch(n int) []float64 {
	if cap(w.scratch) < n {
		w.scratch = nil // the old one is garbage before the new one is made
		w.scratch = make([]float64, n)
	}
	return w.scratch[:n]
}

func (w *worker) alloc(n int) []float64 {
	if w.chunking && n <= w.m.chunkElems {
		// Every chunk buffer has the capacity of a whole chunk, so that the short last
		// chunks of keys (each of its own length) reuse them too.
		if l := len(w.chunkFree); l > 0 {
			b := w.chunkFree[l-1]
			w.chunkFree = w.chunkFree[:l-1]
			return b[:n]
		}
		return make([]float64, n, w.m.chunkElems)
	}
	if l := w.pool[n]; len(l) > 0 {
		b := l[len(l)-1]
		w.pool[n] = l[:len(l)-1]
		w.pooled -= int64(n) * 8
		return b
	}
	return make([]float64, n)
}

// recycle returns a buffer nobody refers to to the pool (when pooling). Chunk buffers have a
// free list of their own, always kept (also under MaxMemory): it never holds more buffers
// than a chunked program has live at once, and whole-tensor buffers of passing sizes must not
// crowd them out of the bounded pool.
func (w *worker) recycle(b []float64) {
	if w.m.chunkElems > 0 && cap(b) == w.m.chunkElems {
		w.chunkFree = append(w.chunkFree, b[:cap(b)])
		return
	}
	// No count per size, only poolBytes: a key of a 216-model recipe holds 216 buffers of one
	// size, and with eight kept per size the next key of that size allocated the rest afresh,
	// zeroed by the runtime or faulted in by the kernel (x215a: runtime.memclrNoHeapPointers
	// and clear_page_erms 10.8% of the CPU samples, 8.2% with the count gone).
	size := int64(len(b)) * 8
	if w.pooling && w.pooled+size <= poolBytes {
		w.pool[len(b)] = append(w.pool[len(b)], b)
		w.pooled += size
	}
}

func (w *worker) release(r int) {
	s := w.regs[r]
	w.regs[r] = nil
	if s == nil {
		return
	}
	s.refs--
	if s.refs == 0 && s.t != nil {
		if s == w.lazy.slot { // a base chunk never widened: no buffer
			w.lazy = lazyBase{}
		}
		// Keep a few buffers per size: enough for the next key of the same class.
		if s.t.Data != nil {
			w.recycle(s.t.Data)
		}
		s.t = nil
	}
}

// move makes register a hold b's value too (shared, reference counted).
func (w *worker) move(a, b int) {
	src := w.regs[b]
	if w.regs[a] != nil {
		w.release(a)
	}
	if src != nil {
		src.refs++
	}
	w.regs[a] = src
}

func (w *worker) set(r int, t *ops.Tensor) {
	if w.regs[r] != nil {
		w.release(r)
	}
	if t == nil {
		return
	}
	w.regs[r] = &slot{t: t, refs: 1}
}

// runKey runs one key's program over whole tensors and hands the result to the writer. It
// reports whether the key is present (false: every path ended missing, e.g. a non-finite input
// without fallback).
func (w *worker) runKey(k *bytecode.Key) (bool, error) {
	return w.exec(k, nil)
}

// exec runs the key's program. With part == nil the registers hold whole tensors; otherwise
// they hold the elements [part.lo, part.lo+part.n) of every tensor (see chunk.go), LOAD reads
// that range and STORE writes it.
func (w *worker) exec(k *bytecode.Key, part *span) (bool, error) {
	m := w.m
	code := &m.prog.Classes[k.Class]
	if cap(w.regs) < code.NumRegs {
		w.regs = make([]*slot, code.NumRegs)
	}
	w.regs = w.regs[:code.NumRegs]
	defer w.releaseAll()
	if part != nil {
		w.partLo = part.lo
	}
	pair := m.fused[k.Class]
	w.addDone = -1
	defer func() { w.lazy = lazyBase{} }()
	for pc := 0; pc < len(code.Instrs); pc++ {
		in := &code.Instrs[pc]
		if h := w.hybrid; h != nil && part == nil {
			// The whole part of a hybrid staged key (stage_hybrid.go).
			if h.st.skipWhole[pc] {
				continue
			}
			if pc == h.st.pc {
				w.set(in.A, h.out)
				h.out = nil // the register holds it now
				continue
			}
		}
		switch in.Op {
		case bytecode.NOP:
		case bytecode.LOAD:
			if part != nil && pair != nil && pair[pc] > 0 {
				continue // its CALL runs it (load_fused.go)
			}
			if part != nil && w.direct != nil && m.staged[k.Class].lazyBase == pc && w.loadLazy(in, k, part) {
				continue // widened where something reads it (stage_lazy.go)
			}
			var t *ops.Tensor
			var err error
			if part != nil {
				t, err = w.loadPart(in.B, k.Loads[in.C], part)
			} else {
				t, err = w.load(in.B, k.Loads[in.C])
			}
			if err != nil {
				return false, err
			}
			w.set(in.A, t)
		case bytecode.CALL:
			if pc == w.addDone {
				continue // the staged CALL did this add (directChunkAdd)
			}
			if w.direct != nil && part != nil {
				st := m.staged[k.Class]
				if st.skip[pc] {
					continue // the staged CALL makes this argument a piece at a time
				}
				if pc == st.pc {
					if a := st.add; a != nil {
						adder, ok := w.direct.(ops.ArgChunkAdder)
						b := w.regs[a.base]
						if ok && b != nil && b == w.lazy.slot && !addsLazyBase(adder) {
							if err := w.widenLazy(); err != nil {
								return false, err
							}
						}
						if ok && b != nil && b.t != nil && (len(b.t.Data) == part.n || b == w.lazy.slot) && len(b.t.Shape) == 1 {
							t, err := w.directChunkAdd(k, in, part, adder, b.t.Data, a)
							if err != nil {
								return false, err
							}
							w.set(code.Instrs[a.pc].A, t)
							w.addDone = a.pc
							continue
						}
					}
					t, err := w.directChunk(k, in, part)
					if err != nil {
						return false, err
					}
					w.set(in.A, t)
					continue
				}
			}
			if w.lazy.slot != nil && w.readsLazy(in) {
				if err := w.widenLazy(); err != nil {
					return false, err
				}
			}
			if part != nil && pair != nil && pair[pc] > 0 {
				done, err := w.deferredLoad(k, code, pair[pc]-1, pc, part)
				if err != nil {
					return false, err
				}
				if done {
					continue
				}
			}
			w.donor = m.donors[k.Class][pc]
			t, err := w.call(k, in)
			w.donor = -1
			if err != nil {
				return false, err
			}
			if part != nil && t == nil && w.kernelMissed {
				// A kernel found no value in this chunk; whether the key has one is a
				// whole-tensor question.
				return false, errWhole
			}
			w.set(in.A, t)
		case bytecode.JPRESENT:
			if w.regs[in.A] != nil {
				pc = in.B - 1
			}
		case bytecode.JUMP:
			pc = in.B - 1
		case bytecode.MOVE:
			w.move(in.A, in.B)
		case bytecode.MISS:
			w.set(in.A, nil)
		case bytecode.FREE:
			w.release(in.A)
		case bytecode.STORE:
			s := w.regs[in.A]
			if s == nil {
				return false, nil
			}
			if s == w.lazy.slot {
				if err := w.widenLazy(); err != nil {
					return false, err
				}
			}
			if part != nil {
				if len(s.t.Data) != part.n {
					return false, fmt.Errorf("chunk result has %d elements, want %d", len(s.t.Data), part.n)
				}
			} else if !ops.SameShape(s.t.Shape, k.Shape) {
				return false, fmt.Errorf("result has shape %s, the plan says %s", ops.FormatShape(s.t.Shape), ops.FormatShape(k.Shape))
			}
			if m.prog.NanToNumOutput {
				if err := m.nanToNum(s.t.Data, k.DType); err != nil {
					return false, err
				}
			}
			out, err := m.writer()
			if err != nil {
				return false, err
			}
			if part != nil {
				err = out.WriteFloat64Part(k.Name, part.lo, s.t.Data, part.last)
			} else {
				err = out.WriteFloat64(k.Name, s.t.Data)
			}
			if err != nil {
				return false, err
			}
			return true, nil
		default:
			return false, fmt.Errorf("bad opcode %v", in.Op)
		}
	}
	return false, errors.New("program ended without STORE")
}

// openInputs opens the plan's inputs on up to GOMAXPROCS goroutines: each Open reads, hashes
// and parses a header (~3 ms for an SDXL model's 2515 tensors), which one after the other was
// the first ~30 ms of a 9-model run and ~0.75 s of a 216-model one. files[i] and errs[i] are
// input i's; the caller reports the first error in the inputs' order.
func openInputs(inputs []bytecode.Input, open func(string) (*safetensors.File, error)) (files []*safetensors.File, errs []error) {
	if open == nil {
		open = safetensors.Open
	}
	files, errs = make([]*safetensors.File, len(inputs)), make([]error, len(inputs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(inputs)) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(inputs); i = int(next.Add(1)) - 1 {
				files[i], errs[i] = open(inputs[i].Path)
			}
		})
	}
	wg.Wait()
	return files, errs
}

// tensorInfo is input file number input and its tensor name, which the plan says it has.
func (m *machine) tensorInfo(input int, name string) (*safetensors.File, *safetensors.TensorInfo, error) {
	f := m.inputs[input]
	info, ok := f.Tensors[name]
	if !ok {
		return nil, nil, fmt.Errorf("%s has no tensor %q (did the file change?)", f.Path, name)
	}
	return f, info, nil
}

func (w *worker) load(input int, name string) (*ops.Tensor, error) {
	m := w.m
	f, info, err := m.tensorInfo(input, name)
	if err != nil {
		return nil, err
	}
	n := ops.NumElements(info.Shape)
	data := w.alloc(n)
	if err := f.ReadFloat64(name, data); err != nil {
		return nil, err
	}
	m.bytesRead.Add(info.End - info.Begin)
	if m.prog.OmitNonFinite {
		if !num.AllFinite(data) {
			msg := fmt.Sprintf("%s: tensor %q has non-finite values; treated as missing", f.Path, name)
			m.warnMu.Lock()
			m.nonFinite = append(m.nonFinite, msg)
			m.warnMu.Unlock()
			m.warn(msg)
			w.recycle(data)
			return nil, nil
		}
	}
	return &ops.Tensor{Shape: info.Shape, Data: data, DType: ops.F64}, nil
}

func (w *worker) call(k *bytecode.Key, in *bytecode.Instr) (*ops.Tensor, error) {
	m := w.m
	d := m.methods[in.B]
	c := &ops.Call{Key: k.Name, Numerics: m.numerics, Alt: in.Alt, OutputDType: m.outDType, Scratch: w.scratchFn}
	if !w.pooling {
		defer func() { w.scratch = nil }()
	}
	if in.Key != "" {
		c.Key = in.Key
	}
	var shapes [][]int
	dtype := ops.DType(255)
	operand := func(o bytecode.Operand) (ops.Value, bool) {
		switch o.Kind {
		case bytecode.OpReg:
			s := w.regs[o.Index]
			if s == nil {
				return ops.Value{}, false
			}
			shapes = append(shapes, s.t.Shape)
			dtype = promote(dtype, s.t.DType)
			return ops.TensorValue(s.t), true
		case bytecode.OpConst:
			return m.consts[o.Index], true
		}
		return ops.Null(), true
	}
	next := 0
	for i := range in.NumArgs() {
		opds, list := in.Arg(i, next)
		next += len(opds)
		var v ops.Value
		if !list {
			var ok bool
			if v, ok = operand(opds[0]); !ok {
				return nil, nil // a missing input: the key is missing here too
			}
		} else {
			v = ops.Value{Kind: ops.KindTensorList}
			for _, o := range opds {
				e, ok := operand(o)
				if !ok {
					return nil, nil
				}
				if e.Kind == ops.KindTensor {
					v.Ts = append(v.Ts, e.T)
				} else if f, isNum := e.Float64(); isNum {
					v.Ts = append(v.Ts, ops.Scalar(f))
				}
			}
		}
		switch {
		case i < in.NArgs:
			c.Args = append(c.Args, v)
		case i < in.NArgs+in.NVar:
			c.Var = append(c.Var, v)
		default:
			c.Kw = append(c.Kw, v)
		}
	}
	var shape []int
	var err error
	if d.OutShapeKey != nil {
		shape, err = d.OutShapeKey(c.Key, c.Alt, c.Args, c.Var, c.Kw)
	} else if d.OutShape != nil {
		shape, err = d.OutShape(c.Args, c.Var, c.Kw)
	} else {
		shape, err = ops.BroadcastShape(shapes...)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", d.Name, err)
	}
	if dtype == 255 {
		dtype = ops.F64
	}
	var donated *slot
	if w.donor >= 0 {
		if s := w.regs[w.donor]; s != nil && s.refs == 1 && s.t.DType == ops.F64 &&
			len(s.t.Data) == ops.NumElements(shape) && ops.SameShape(s.t.Shape, shape) {
			donated = s
		}
	}
	if donated != nil {
		c.Out = &ops.Tensor{Shape: shape, Data: donated.t.Data, DType: dtype}
	} else {
		c.Out = &ops.Tensor{Shape: shape, Data: w.alloc(ops.NumElements(shape)), DType: dtype}
	}
	w.kernelMissed = false
	kernel := d.Kernel
	if w.stager != nil && in == w.stagedIn {
		kernel = w.stagedChunk
	}
	if err := kernel(c); err != nil {
		if donated == nil {
			w.recycle(c.Out.Data)
		}
		if errors.Is(err, ops.ErrMissing) {
			w.kernelMissed = true
			return nil, nil // the method found no value for this key
		}
		if err == errWhole || errors.Is(err, ops.ErrUnstaged) {
			return nil, errWhole // the staged form cannot compute this key (stage.go)
		}
		return nil, fmt.Errorf("%s: %v", d.Name, err)
	}
	if donated != nil {
		// The buffer now belongs to the result; the dying register releases nothing.
		donated.t = nil
	}
	if c.Out.DType != ops.F64 && c.Out.DType.IsFloat() {
		via := m.numerics == ops.SDMecha
		for i, x := range c.Out.Data {
			c.Out.Data[i] = num.Narrow(x, c.Out.DType, via)
		}
	}
	return c.Out, nil
}

// nanToNum applies the fork's 3e3aea3 output rule: after the output cast, NaN becomes 0 and
// ±inf (also from overflow in the cast) becomes ±the largest finite value of the dtype.
func (m *machine) nanToNum(data []float64, dtype string) error {
	dt, err := ops.ParseDType(dtype)
	if err != nil {
		return err
	}
	limit := map[ops.DType]float64{ops.F16: 65504, ops.BF16: 3.3895313892515355e38, ops.F32: math.MaxFloat32, ops.F64: math.MaxFloat64}[dt]
	via := m.numerics == ops.SDMecha
	for i, x := range data {
		switch {
		case math.IsNaN(x):
			data[i] = 0
		case limit != 0 && math.IsInf(num.Narrow(x, dt, via), 0):
			data[i] = math.Copysign(limit, x)
		}
	}
	return nil
}

// promote is torch's type promotion among the float types the VM meets: float64 wins,
// float32 next, float16 with bfloat16 gives float32.
func promote(a, b ops.DType) ops.DType {
	if a == 255 {
		return b
	}
	if a == b {
		return a
	}
	rank := func(d ops.DType) int {
		switch d {
		case ops.F64:
			return 3
		case ops.F32:
			return 2
		case ops.F16, ops.BF16:
			return 1
		}
		return 0
	}
	if rank(a) == 1 && rank(b) == 1 {
		return ops.F32
	}
	if rank(a) >= rank(b) {
		return a
	}
	return b
}

// donorFor returns the register whose buffer the CALL at pc may write its result into: its
// first tensor operand, when the method is InPlace, the register is not another operand too, and
// a FREE of it follows the CALL (among the FREEs right after it: nothing reads it again); -1
// otherwise. call checks the rest (one reference, the result's shape, float64). newMachine
// finds it once per instruction (machine.donors).
func (m *machine) donorFor(code *bytecode.Code, pc int) int {
	in := &code.Instrs[pc]
	if in.Op != bytecode.CALL || m.noInPlace || !m.methods[in.B].InPlace {
		return -1
	}
	first := -1
	for _, o := range in.Operands {
		if o.Kind == bytecode.OpReg {
			first = o.Index
			break
		}
	}
	if first < 0 || first == in.A {
		return -1
	}
	seen := 0
	for _, o := range in.Operands {
		if o.Kind == bytecode.OpReg && o.Index == first {
			seen++
		}
	}
	if seen > 1 {
		return -1 // read again as another operand, which a multi-pass kernel would see changed
	}
	if freedAfter(code, pc, first) {
		return first
	}
	return -1
}

// writer is the output, once Run's goroutine has made it; the error is Create's.
func (m *machine) writer() (*safetensors.Writer, error) {
	if m.outReady != nil {
		<-m.outReady
	}
	if m.out == nil {
		if m.outErr == nil {
			return nil, errors.New("internal error: no output file") // a machine not of Run
		}
		return nil, m.outErr
	}
	return m.out, nil
}
