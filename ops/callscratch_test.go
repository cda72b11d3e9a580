package ops

import "testing"

// CallScratch prefers ScratchIn (0 when an operand's shape is unknown), then ScratchFor of the
// output's shape, then Scratch of the operand count and the output's elements.
func TestCallScratch(t *testing.T) {
	in := func(out []int, in [][]int, _ map[string]float64) int64 { return int64(1000 + len(out) + 10*len(in)) }
	for_ := func(shape []int, hp map[string]float64) int64 { return int64(2000 + NumElements(shape) + int(hp["k"])) }
	plain := func(r, n int) int64 { return int64(3000 + 100*r + n) }
	out, args, hp := []int{2, 3}, [][]int{{4}, {5}}, map[string]float64{"k": 7}
	tests := []struct {
		name string
		d    Def
		in   [][]int
		want int64
	}{
		{"none", Def{}, args, 0},
		{"Scratch", Def{Scratch: plain}, args, 3000 + 200 + 6},
		{"ScratchFor over Scratch", Def{Scratch: plain, ScratchFor: for_}, args, 2000 + 6 + 7},
		{"ScratchIn over both", Def{Scratch: plain, ScratchFor: for_, ScratchIn: in}, args, 1000 + 2 + 20},
		{"ScratchIn, a shape unknown", Def{ScratchFor: for_, ScratchIn: in}, [][]int{{4}, nil}, 0},
	}
	for _, tt := range tests {
		if got := tt.d.CallScratch(out, tt.in, hp); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
