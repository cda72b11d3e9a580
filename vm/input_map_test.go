package vm

import (
	"slices"
	"testing"

	"github.com/mechac/mechac/vm/safetensors"
)

func TestMergeSubtractRanges(t *testing.T) {
	const p = 100 // a page of 100 bytes
	r := func(in int, lo, hi int64) mappedRange { return mappedRange{in, lo, hi} }
	merge := []struct {
		in, want []mappedRange
	}{
		{nil, []mappedRange{}},
		// widened to pages, merged where they touch or overlap, by input then offset
		{[]mappedRange{r(1, 250, 260), r(0, 10, 20), r(0, 120, 130), r(0, 200, 201), r(1, 0, 1)},
			[]mappedRange{r(0, 0, 300), r(1, 0, 100), r(1, 200, 300)}},
		{[]mappedRange{r(0, 0, 100), r(0, 100, 200)}, []mappedRange{r(0, 0, 200)}},
		{[]mappedRange{r(0, 0, 99), r(0, 101, 200), r(0, 350, 360)}, []mappedRange{r(0, 0, 200), r(0, 300, 400)}},
	}
	for _, c := range merge {
		if got := mergeRanges(c.in, p); !slices.Equal(got, c.want) {
			t.Errorf("mergeRanges(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	sub := []struct {
		r    mappedRange
		busy []mappedRange
		want []mappedRange
	}{
		{r(0, 0, 500), nil, []mappedRange{r(0, 0, 500)}},
		{r(0, 0, 500), []mappedRange{r(1, 0, 500)}, []mappedRange{r(0, 0, 500)}}, // another input
		{r(0, 0, 500), []mappedRange{r(0, 150, 160)}, []mappedRange{r(0, 0, 100), r(0, 200, 500)}},
		{r(0, 0, 500), []mappedRange{r(0, 0, 1), r(0, 499, 500)}, []mappedRange{r(0, 100, 400)}},
		{r(0, 0, 500), []mappedRange{r(0, 150, 160), r(0, 310, 320)}, []mappedRange{r(0, 0, 100), r(0, 200, 300), r(0, 400, 500)}},
		{r(0, 100, 300), []mappedRange{r(0, 0, 1000)}, []mappedRange{}},
		{r(0, 100, 300), []mappedRange{r(0, 300, 400), r(0, 0, 100)}, []mappedRange{r(0, 100, 300)}}, // touching only
	}
	for _, c := range sub {
		got := subtractRanges(c.r, c.busy, p)
		if got == nil {
			got = []mappedRange{}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("subtractRanges(%v, %v) = %v, want %v", c.r, c.busy, got, c.want)
		}
	}
}

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
			mp.running[w] = append(mp.running[w], k...)
			mp.keyDone(w)
		}
		if mp.doneBytes != c.want {
			t.Errorf("%v: %d bytes counted, want %d", c.keys, mp.doneBytes, c.want)
		}
	}
}
