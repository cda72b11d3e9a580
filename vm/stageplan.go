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
