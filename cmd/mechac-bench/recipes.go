package main

import (
	"fmt"
	"strconv"
	"strings"
)

// benchRecipe is one recipe the benchmark times.
type benchRecipe struct {
	Name string // short name, used in the table and for file names
	Desc string // what it computes
	Text string // the .mecha text (dialect C, version 0.1.0)
}

// modelLine is the dialect C line that loads a synthetic model. Paths are relative: mechac
// looks them up in --models-dir.
func modelLine(file string) string {
	return fmt.Sprintf("model %q model_config=\"sdxl-sgm\" merge_space=\"weight\"\n", file)
}

// canonical drops the final newline: the canonical form (mechac fmt, and what sd-mecha's own
// serializer writes and its parser accepts) has none.
func canonical(b *strings.Builder) string { return strings.TrimSuffix(b.String(), "\n") }

// fineTune is the file name `mechac synth` gives the i-th fine-tune.
func fineTune(i int) string { return fmt.Sprintf("m%d.safetensors", i) }

// averageRecipe is the uniform average of the n fine-tunes: n_average(m0, ..., m(n-1)).
func averageRecipe(n int) string {
	var b strings.Builder
	b.WriteString("version 0.1.0\n")
	refs := make([]string, n)
	for i := range n {
		b.WriteString(modelLine(fineTune(i)))
		refs[i] = "&" + strconv.Itoa(i)
	}
	fmt.Fprintf(&b, "merge \"n_average\" %s\n", strings.Join(refs, " "))
	return canonical(&b)
}

// tiesRecipe is base + TIES of the n deltas with a fallback to the base:
//
//	fallback(add_difference(base, ties_sum(subtract(m0, base), ..., k=k)), base)
func tiesRecipe(n int, k float64) string {
	var b strings.Builder
	b.WriteString("version 0.1.0\n")
	b.WriteString(modelLine("base.safetensors")) // &0
	next := 1
	deltas := make([]string, n)
	for i := range n {
		b.WriteString(modelLine(fineTune(i))) // &next
		fmt.Fprintf(&b, "merge \"subtract\" &%d &0\n", next)
		deltas[i] = "&" + strconv.Itoa(next+1)
		next += 2
	}
	fmt.Fprintf(&b, "merge \"ties_sum\" %s k=%s\n", strings.Join(deltas, " "), strconv.FormatFloat(k, 'g', -1, 64))
	ties := next
	fmt.Fprintf(&b, "merge \"add_difference\" &0 &%d\n", ties)
	fmt.Fprintf(&b, "merge \"fallback\" &%d &0\n", ties+1)
	return canonical(&b)
}

// dellaArgs are the DELLA call's arguments as the real recipes' author writes them in dialect C
// (../shared/recipes/astolfomix, x3a and later): drop probability 0.1 tilted by rank, TIES with
// k = 1 and a vote of signs, and the geometric median of the kept deltas (100 Weiszfeld
// iterations: ftol 1e-20 never stops them early).
const dellaArgs = "probability=0.1 della_eps=-0.1 rescale=0.0 k=1.0 vote_sgn=true apply_stock=false cos_eps=1e-06 apply_median=true eps=1e-06 maxiter=100 ftol=1e-20 seed=250829"

// dellaRecipe is the real recipes' DELLA merge on the n fine-tunes:
//
//	add_difference(base, ties_sum_with_dropout(subtract(m0, base), ..., dellaArgs))
func dellaRecipe(n int) string {
	var b strings.Builder
	b.WriteString("version 0.1.0\n")
	b.WriteString(modelLine("base.safetensors")) // &0
	deltas := make([]string, n)
	for i := range n {
		b.WriteString(modelLine(fineTune(i)))                 // &(2i+1)
		fmt.Fprintf(&b, "merge \"subtract\" &%d &0\n", 2*i+1) // &(2i+2)
		deltas[i] = "&" + strconv.Itoa(2*i+2)
	}
	fmt.Fprintf(&b, "merge \"ties_sum_with_dropout\" %s %s\n", strings.Join(deltas, " "), dellaArgs)
	fmt.Fprintf(&b, "merge \"add_difference\" &0 &%d\n", 2*n+1)
	return canonical(&b)
}

// recipes returns the benchmark's recipes for n fine-tunes, in the order they are run. della
// is not in --recipes' default: at scale 4 a run takes ~25 s where the others take ~1.
func recipes(n int) []benchRecipe {
	return []benchRecipe{
		{
			Name: "average",
			Desc: fmt.Sprintf("n_average of %d models", n),
			Text: averageRecipe(n),
		},
		{
			Name: "ties",
			Desc: fmt.Sprintf("fallback(add_difference(base, ties_sum(%d deltas, k=0.2)), base)", n),
			Text: tiesRecipe(n, 0.2),
		},
		{
			Name: "della",
			Desc: fmt.Sprintf("add_difference(base, ties_sum_with_dropout(%d deltas, DELLA, k=1, median))", n),
			Text: dellaRecipe(n),
		},
	}
}
