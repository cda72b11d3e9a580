package vm

import (
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/bytecode"
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
}

// StagedCalls returns, for each key class of p, the call the VM will run in stages under opts,
// or nil: the same decision as a run's (stageClass, and chunked execution enabled). A key of a
// staged class may still run over whole tensors when its Stager declines it or a chunk cannot
// be computed; a plan cannot know that.
func StagedCalls(p *bytecode.Program, opts Options) ([]*StagedCall, error) {
	m, err := newMachine(p, opts)
	if err != nil {
		return nil, err
	}
	out := make([]*StagedCall, len(p.Classes))
	if m.chunkElems <= 0 {
		return out, nil
	}
	for i, st := range m.staged {
		if st != nil {
			out[i] = &StagedCall{PC: st.pc, Slice: st.slice, Tensors: st.r, Def: st.def}
		}
	}
	return out, nil
}

// FusedCalls returns, for each key class of p, which of its instructions are CALLs that a
// chunked run under opts computes fused with the LOAD of their first operand (load_fused.go):
// `mechac plan`'s time estimate prices them as one pass over the model's bytes. Nil for a class
// without any.
func FusedCalls(p *bytecode.Program, opts Options) ([][]bool, error) {
	m, err := newMachine(p, opts)
	if err != nil {
		return nil, err
	}
	out := make([][]bool, len(p.Classes))
	if m.chunkElems <= 0 {
		return out, nil
	}
	for i, pair := range m.fused {
		for pc, f := range pair {
			if f > 0 && f-1 < pc { // a CALL, paired with an earlier LOAD
				if out[i] == nil {
					out[i] = make([]bool, len(pair))
				}
				out[i][pc] = true
			}
		}
	}
	return out, nil
}
