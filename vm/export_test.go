package vm

import "github.com/mechac/mechac/vm/bytecode"

// FusedLoadCount is the number of LOADs a run of p under opts fuses with the CALL after them
// (load_fused.go), for the tests of package vm_test.
func FusedLoadCount(p *bytecode.Program, opts Options) (int, error) {
	m, err := newMachine(p, opts)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, marks := range m.fused {
		for pc, f := range marks {
			if f > pc+1 {
				n++ // a LOAD, paired with a later CALL
			}
		}
	}
	return n, nil
}

// RawKeyChunks counts the statistics chunks whose keys came from the stored bytes.
var RawKeyChunks = &rawKeyChunks

// WholeKeyCalls counts the whole operands given to a Stager (ops.WholeKeySource).
var WholeKeyCalls = &wholeKeyCalls

// WindowReads counts the chunks read into a stage cache window.
var WindowReads = &windowReads

// DirectChunks counts the output chunks whose staged arguments were made a piece at a time.
var DirectChunks = &directChunks

// AddedChunks counts the output chunks whose staged CALL also did the add_difference after it.
var AddedChunks = &addedChunks

// SelectedPasses counts the statistics passes run for some arguments alone.
var SelectedPasses = &selectedPasses

// HybridKeys counts the keys run staged, then whole.
var HybridKeys = &hybridKeys

// StagedKeys counts the keys whose statistics passes ran to the end.
var StagedKeys = &stagedKeys

// LazyLoads and LazyWidened count the output-pass base chunks left unwidened and those
// widened later (stage_lazy.go).
var LazyLoads, LazyWidened = &lazyLoads, &lazyWidened

// BatchReads and BatchKeys count the reads of batches of small keys and the keys they served
// (read_batch.go).
var BatchReads, BatchKeys = &batchReads, &batchKeys

// MappedTensors and MapSweeps count the input tensors read through mappings and the sweeps
// that unmapped them (input_map.go).
var MappedTensors, MapSweeps = &mappedTensors, &mapSweeps

// SetMapSweepBytes sets mapSweepBytes and returns the value it had.
func SetMapSweepBytes(n int64) int64 {
	old := mapSweepBytes
	mapSweepBytes = n
	return old
}

// SetMapProgressBytes sets mapProgressBytes and returns the value it had.
func SetMapProgressBytes(n int64) int64 {
	old := mapProgressBytes
	mapProgressBytes = n
	return old
}
