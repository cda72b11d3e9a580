package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mechac/mechac/compiler"
	"github.com/mechac/mechac/vm/bytecode"
	"github.com/mechac/mechac/vm/safetensors"
)

// cmdDiff compares what two recipes (compiled on the fly against the same model folders) or
// two mechac outputs compute. Recipes are compared per output key, by the key's program with
// every operand resolved: inputs by their fingerprint (size and header hash) and tensor name,
// methods by their definition, constants by value. It reports global changes (numerics, era,
// output dtype), swapped inputs, changed hyper-parameters and the affected keys, and exits 0
// when the two are equivalent, 1 when not.
func cmdDiff(e *env, args []string) error {
	fs := newFlags(e, "diff", "A B [flags]  (recipes, plans written by mechac compile, or .safetensors outputs of mechac)")
	var co compileOptions
	co.register(fs, true)
	hash := fs.Bool("hash-inputs", false, "fingerprint every input by the sha256 of its whole file, not only its header")
	if err := parseFlags(fs, args); err != nil {
		if err == errHelp {
			return nil
		}
		return err
	}
	prepareHeap(compileHeapBytes)
	if fs.NArg() != 2 {
		return usagef("diff: want two recipes or two outputs, got %d arguments", fs.NArg())
	}
	a, b := fs.Arg(0), fs.Arg(1)
	if strings.HasSuffix(a, ".safetensors") || strings.HasSuffix(b, ".safetensors") {
		return diffOutputs(e, a, b, &co)
	}
	pa, err := programOf(e, a, &co, *hash)
	if err != nil {
		return err
	}
	pb, err := programOf(e, b, &co, *hash)
	if err != nil {
		return err
	}
	report := diffPrograms(pa, pb)
	for _, line := range report {
		fmt.Fprintln(e.stdout, line)
	}
	if len(report) > 0 {
		return errDifferent
	}
	fmt.Fprintf(e.stdout, "equivalent: %d keys compute the same thing\n", len(pa.Keys))
	return nil
}

// errDifferent makes diff exit 1 without printing an error message.
var errDifferent = &silentError{code: exitFailure}

type silentError struct{ code int }

func (e *silentError) Error() string { return "" }

func compileFor(e *env, recipe string, co *compileOptions) (*bytecode.Program, error) {
	f, src, err := loadRecipe(recipe)
	if err != nil {
		return nil, err
	}
	opts, err := co.options(string(src))
	if err != nil {
		return nil, err
	}
	opts.Models = newModelFinder(co.modelsDirs, recipe)
	res, err := compiler.Compile(f, opts)
	if err != nil {
		return nil, err
	}
	return res.Program, nil
}

// programOf reads a plan file or compiles a recipe; with hash, every input without a
// content hash gets one.
func programOf(e *env, path string, co *compileOptions, hash bool) (*bytecode.Program, error) {
	var p *bytecode.Program
	var err error
	if isPlanFile(path) {
		p, err = readPlanFile(path)
	} else {
		p, err = compileFor(e, path, co)
	}
	if err != nil || !hash {
		return p, err
	}
	for _, in := range p.Inputs {
		if in.ContentHash == "" {
			return p, hashInputs(p)
		}
	}
	return p, nil
}

// planHashOf is a plan's hash: from an output's metadata, from a plan file (content hashes
// left out, as a run writes it), or by compiling a recipe.
func planHashOf(e *env, path string, co *compileOptions) (string, error) {
	if strings.HasSuffix(path, ".safetensors") {
		f, err := safetensors.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		h := f.Metadata["mechac_plan_hash"]
		if h == "" {
			return "", fmt.Errorf("%s has no mechac plan hash in its metadata (not written by mechac?)", path)
		}
		return h, nil
	}
	if isPlanFile(path) {
		p, err := readPlanFile(path)
		if err != nil {
			return "", err
		}
		return hashWithoutContent(p), nil
	}
	p, err := compileFor(e, path, co)
	if err != nil {
		return "", err
	}
	return p.Hash(), nil
}

func diffOutputs(e *env, a, b string, co *compileOptions) error {
	ha, err := planHashOf(e, a, co)
	if err != nil {
		return err
	}
	hb, err := planHashOf(e, b, co)
	if err != nil {
		return err
	}
	if ha == hb {
		fmt.Fprintf(e.stdout, "equivalent: same plan %s\n", ha[:12])
		return nil
	}
	fmt.Fprintf(e.stdout, "different plans: %s %s, %s %s (compare the recipes for details)\n", a, ha[:12], b, hb[:12])
	return errDifferent
}

// keyProgram renders a key's program with every operand resolved, so that two plans can be
// compared key by key whatever their input, method and constant numbering.
func keyProgram(p *bytecode.Program, k *bytecode.Key) string {
	var b strings.Builder
	for _, in := range p.Classes[k.Class].Instrs {
		switch in.Op {
		case bytecode.LOAD:
			inp := p.Inputs[in.B]
			fmt.Fprintf(&b, "LOAD r%d %d:%s:%s %q;", in.A, inp.Size, inp.HeaderHash, inp.ContentHash, k.Loads[in.C])
		case bytecode.CALL:
			fmt.Fprintf(&b, "CALL r%d %s", in.A, p.Methods[in.B])
			for _, o := range in.Operands {
				switch o.Kind {
				case bytecode.OpReg:
					fmt.Fprintf(&b, " r%d", o.Index)
				case bytecode.OpConst:
					c := p.Consts[o.Index]
					fmt.Fprintf(&b, " %s:%s", c.Kind, c.Text())
				default:
					b.WriteString(" none")
				}
			}
			fmt.Fprintf(&b, " %v %s %d;", in.Counts, in.Key, in.Alt)
		default:
			fmt.Fprintf(&b, "%s;", in.Text(p))
		}
	}
	fmt.Fprintf(&b, "shape=%v dtype=%s", k.Shape, k.DType)
	return b.String()
}

// diffPrograms lists the differences between two plans, most general first.
func diffPrograms(a, b *bytecode.Program) []string {
	var out []string
	if !contentHashed(a) || !contentHashed(b) {
		// Content hashes compare only when both sides have them (--hash-inputs).
		a, b = withoutContent(a), withoutContent(b)
	}
	global := func(what, x, y string) {
		if x != y {
			out = append(out, fmt.Sprintf("%s: %s -> %s", what, x, y))
		}
	}
	global("numerics", a.Numerics, b.Numerics)
	global("era", a.Era, b.Era)
	global("output dtype", a.OutputDType, b.OutputDType)
	global("non-finite inputs omitted", fmt.Sprint(a.OmitNonFinite), fmt.Sprint(b.OmitNonFinite))
	// Inputs: matched by order of first use; a different file at the same place is a swap.
	for i := 0; i < max(len(a.Inputs), len(b.Inputs)); i++ {
		switch {
		case i >= len(a.Inputs):
			out = append(out, fmt.Sprintf("input %d added: %s", i, b.Inputs[i].Path))
		case i >= len(b.Inputs):
			out = append(out, fmt.Sprintf("input %d removed: %s", i, a.Inputs[i].Path))
		case a.Inputs[i].HeaderHash != b.Inputs[i].HeaderHash || a.Inputs[i].Size != b.Inputs[i].Size:
			out = append(out, fmt.Sprintf("input %d swapped: %s (%s) -> %s (%s)", i,
				a.Inputs[i].Path, a.Inputs[i].HeaderHash[:min(12, len(a.Inputs[i].HeaderHash))],
				b.Inputs[i].Path, b.Inputs[i].HeaderHash[:min(12, len(b.Inputs[i].HeaderHash))]))
		case a.Inputs[i].ContentHash != b.Inputs[i].ContentHash:
			// Same header (same architecture and dtypes, often), different tensor data.
			out = append(out, fmt.Sprintf("input %d swapped: %s (content %s) -> %s (content %s), same header", i,
				a.Inputs[i].Path, a.Inputs[i].ContentHash[:min(12, len(a.Inputs[i].ContentHash))],
				b.Inputs[i].Path, b.Inputs[i].ContentHash[:min(12, len(b.Inputs[i].ContentHash))]))
		}
	}
	ca, cb := constSet(a), constSet(b)
	for _, c := range ca {
		if !contains(cb, c) {
			out = append(out, "hyper-parameter value no longer used: "+c)
		}
	}
	for _, c := range cb {
		if !contains(ca, c) {
			out = append(out, "hyper-parameter value newly used: "+c)
		}
	}
	ka, kb := map[string]*bytecode.Key{}, map[string]*bytecode.Key{}
	for i := range a.Keys {
		ka[a.Keys[i].Name] = &a.Keys[i]
	}
	for i := range b.Keys {
		kb[b.Keys[i].Name] = &b.Keys[i]
	}
	var only, changed []string
	onlyB := 0
	for name, k := range ka {
		other, ok := kb[name]
		if !ok {
			only = append(only, name)
			continue
		}
		if keyProgram(a, k) != keyProgram(b, other) {
			changed = append(changed, name)
		}
	}
	for name := range kb {
		if _, ok := ka[name]; !ok {
			onlyB++
		}
	}
	sort.Strings(only)
	sort.Strings(changed)
	if len(only) > 0 {
		out = append(out, fmt.Sprintf("%d keys only in the first (e.g. %s)", len(only), only[0]))
	}
	if onlyB > 0 {
		out = append(out, fmt.Sprintf("%d keys only in the second", onlyB))
	}
	if len(changed) > 0 {
		ex := changed
		if len(ex) > 3 {
			ex = ex[:3]
		}
		out = append(out, fmt.Sprintf("%d of %d common keys compute something else (e.g. %s)", len(changed), len(ka)-len(only), strings.Join(ex, ", ")))
	}
	return out
}

func constSet(p *bytecode.Program) []string {
	var out []string
	for _, c := range p.Consts {
		out = append(out, c.Kind.String()+" "+c.Text())
	}
	sort.Strings(out)
	return out
}

// contentHashed: every input of p has a content hash.
func contentHashed(p *bytecode.Program) bool {
	for _, in := range p.Inputs {
		if in.ContentHash == "" {
			return false
		}
	}
	return true
}

// withoutContent is p with its inputs' content hashes cleared (p is not changed).
func withoutContent(p *bytecode.Program) *bytecode.Program {
	q := *p
	q.Inputs = make([]bytecode.Input, len(p.Inputs))
	copy(q.Inputs, p.Inputs)
	for i := range q.Inputs {
		q.Inputs[i].ContentHash = ""
	}
	return &q
}
