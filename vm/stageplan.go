package vm

import (
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/bytecode"
	"github.com/mechac/mechac/vm/safetensors"
)

// StagedCall is the CALL of a key class that the VM runs in stages (stage.go, SPEC §5.4), as a
// plan sees it before a run: `mechac plan`'s time estimate prices its statistics passes.
type StagedCall struct {
	// PC is the staged CALL's index in the class program.
	PC int
	// Slice is the pcs each statistics pass runs over every chunk (the backward slice of the
	// call: LOADs, CALLs, MOVEs and FREEs), in program order.
	Slice []int
	// Tensors is the number of the call's tensor (register) operands.
	Tensors int
	// Def is the method's staged form.
	Def *ops.StageDef
	// RawKeys: every tensor argument is a RawKeys call over two LOADs, so a Stager that reads
	// only keys takes them from the stored bytes without the slice when the key's inputs are
	// cached and alike (stage_keys.go; a plan assumes they are).
	RawKeys bool

	m *machine
}

// Takes reports whether key k of the class runs staged (StageDef.Accepts, or
// Options.StageAbove; keys it does not take run over whole tensors).
func (s *StagedCall) Takes(k *bytecode.Key) bool { return s.m.stagedKey(k) != nil }

// Analysis is what a run of a plan under some options will decide before it reads a file: the
// VM's own decisions (newMachine), found once for `mechac plan`'s figures and `run`'s checks.
type Analysis struct {
	// Peaks is, per key, the register memory --max-memory admits it with (admitPeak: the
	// chunked peak for a key that runs in chunks, with its Stager's scratch and input cache,
	// else Key.Peak); Chunked whether it runs in chunks; ChunkElems the run's chunk length.
	Peaks      []int64
	Chunked    []bool
	ChunkElems int
	// Staged is, per key class, the call the VM runs in stages, or nil (stageClass, with
	// chunked execution enabled). A key of a staged class may still run over whole tensors
	// when its Stager declines it or a chunk cannot be computed; a plan cannot know that.
	Staged []*StagedCall
	// Fused is, per key class, which instructions are CALLs a chunked run computes fused with
	// the LOAD of their first operand (load_fused.go); nil for a class without any.
	Fused [][]bool
	// IdleStageCache is the memory each worker may keep between keys for staged keys' input
	// caches (a worker's arena grows to the largest cache it has held): a bound on the largest
	// staged key's cache, its LOADs' n elements at 8 bytes each (the plan has no input dtypes),
	// at most stageCacheBytes (past it a key runs without the cache, or with a window of one
	// chunk of each input where it takes keys from the stored bytes); 0 when no key runs
	// staged. A run under --max-memory counts it with the fixed overhead: the budget admits
	// each key with its own cache bytes, and the arena outlives the key (a fresh one per key
	// costs its page faults, more than the merge's own system time).
	IdleStageCache int64
	// MapBacklog is the memory a run without --max-memory may hold in pages of inputs that
	// finished keys read through mappings and no sweep has unmapped yet (input_map.go):
	// mapSweepBytes (at most the input files' size) where staged keys cache their inputs and
	// the system maps them, else 0.
	// The keys in flight's own mapped pages are at most their cache's bytes, which their
	// peaks count.
	MapBacklog int64
	// MapProgress is the memory each worker may hold in mapped pages while it runs a staged
	// key past the cache's limit through mappings (input_map.go: swept every mapProgressBytes
	// as the passes go; the key's peak counts a window only), where the plan has such keys
	// (as a plan sees them: float16 inputs) and the system maps; else 0.
	MapProgress int64
	// ReadBatch is the memory each worker may keep for reading small staged keys' inputs
	// together in a run without --max-memory (read_batch.go): BatchBufBytes where two keys
	// or more batch, else 0.
	ReadBatch int64
}

// Analyze returns the Analysis of p under opts.
func Analyze(p *bytecode.Program, opts Options) (*Analysis, error) {
	m, err := newMachine(p, opts)
	if err != nil {
		return nil, err
	}
	a := &Analysis{Peaks: make([]int64, len(p.Keys)), Chunked: make([]bool, len(p.Keys)), ChunkElems: m.chunkElems,
		Staged: make([]*StagedCall, len(p.Classes)), Fused: make([][]bool, len(p.Classes))}
	batching, mapProgress := 0, false
	for i := range p.Keys {
		k := &p.Keys[i]
		a.Peaks[i], a.Chunked[i] = m.admitPeak(k), m.chunked(k)
		if !opts.NoReadBatch && m.chunkElems > 0 && m.batchElems(k) > 0 {
			if batching++; batching == 2 {
				a.ReadBatch = BatchBufBytes
			}
		}
		if st := m.stagedKey(k); a.Chunked[i] && !opts.NoStageCache && st != nil {
			if _, window := m.stageCacheSizeOf(k, st); window && m.mapsWindow(k) {
				mapProgress = true
			}
			n, loads := int64(ops.NumElements(k.Shape)), int64(len(m.loads[k.Class]))
			need := min(8*loads*n, m.stageCacheMax)
			if m.windowed(st) {
				// Past the limit, a window of one chunk of each input (stage_cache.go).
				need = max(need, 8*loads*min(n, int64(m.chunkElems)))
			}
			a.IdleStageCache = max(a.IdleStageCache, need)
		}
	}
	if mapProgress && !opts.NoMapInputs && mapsInputs {
		// (A sweep comes after mapProgressBytes of chunks, which the last chunk of each input
		// can pass by two pages each.)
		a.MapProgress = mapProgressBytes
	}
	if a.IdleStageCache > 0 && !opts.NoMapInputs && mapsInputs {
		var files int64 // (no more than the files hold, in whole pages)
		for _, in := range p.Inputs {
			files += (in.Size + safetensors.MapPageSize() - 1) / safetensors.MapPageSize() * safetensors.MapPageSize()
		}
		a.MapBacklog = min(mapSweepBytes, files)
	}
	if m.chunkElems <= 0 {
		return a, nil
	}
	for i, st := range m.staged {
		if st != nil {
			a.Staged[i] = &StagedCall{PC: st.pc, Slice: st.slice, Tensors: st.r, Def: st.def,
				RawKeys: st.rawKeys != nil && !opts.NoRawKeys && !opts.NoStageCache, m: m}
		}
	}
	for i, pair := range m.fused {
		for pc, f := range pair {
			if f > 0 && f-1 < pc { // a CALL, paired with an earlier LOAD
				if a.Fused[i] == nil {
					a.Fused[i] = make([]bool, len(pair))
				}
				a.Fused[i][pc] = true
			}
		}
	}
	return a, nil
}
