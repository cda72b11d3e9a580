package vm

import (
	"testing"

	"github.com/mechac/mechac/vm/safetensors"
)

// keyDone counts the pages of finished keys' ranges, a page shared with the input's previous
// range once, in file order or not: never less than the pages they map.
func TestMapperDoneBytes(t *testing.T) {
	defer func(n int64) { mapSweepBytes = n }(mapSweepBytes)
	mapSweepBytes = 1 << 62 // no sweep
	const p = 2 << 20
	r := func(in int, lo, hi int64) mappedRange { return mappedRange{in, lo, hi} }
	for _, c := range []struct {
		keys [][]mappedRange
		want int64
	}{
		{[][]mappedRange{{r(0, 10, 20)}}, p},
		{[][]mappedRange{{r(0, 10, 20)}, {r(0, 20, 30)}, {r(0, p-1, p+1)}}, 2 * p},
		{[][]mappedRange{{r(0, p+1, p+2)}, {r(0, 1, p+1)}}, 2 * p},                   // backwards
		{[][]mappedRange{{r(0, 0, 1), r(1, 0, 1)}, {r(0, 1, 2), r(1, 1, 2)}}, 2 * p}, // two inputs
		{[][]mappedRange{{r(0, 0, 1)}, {r(0, 5*p, 5*p+1)}, {r(0, 1, 2)}}, 3 * p},     // apart: counted again
		{[][]mappedRange{{r(0, 3*p-1, 3*p+1)}}, 2 * p},
	} {
		mp := newInputMapper(make([]*safetensors.File, 2))
		w := &worker{}
		for _, k := range c.keys {
			w.mappedRanges = append(w.mappedRanges, k...)
			mp.keyDone(w)
		}
		if mp.doneBytes != c.want {
			t.Errorf("%v: %d bytes counted, want %d", c.keys, mp.doneBytes, c.want)
		}
	}
}
