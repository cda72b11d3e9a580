package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/mechac/mechac/compiler"
)

// cmdExplain prints, for every line of a recipe, what mechac will compute: the era, the
// resolved method definition, every parameter's final value (defaults included, positional
// ones named), its merge space, and the formula. It needs no model files.
func cmdExplain(e *env, args []string) error {
	fs := newFlags(e, "explain", "RECIPE [flags]")
	var co compileOptions
	co.register(fs, true)
	rc, err := parseRecipeCommand(fs, &co, args)
	if rc == nil {
		return err
	}
	recipe, f, opts := rc.path, rc.file, rc.opts
	ex, err := compiler.Explain(f, opts)
	if err != nil {
		return err
	}
	w := e.stdout
	fmt.Fprintf(w, "%s: dialect %s", recipe, ex.Dialect)
	if ex.Era != nil {
		fmt.Fprintf(w, ", era %s (sd-mecha %s): %s", ex.Era.ID, ex.Era.Version, ex.Era.Doc)
	}
	fmt.Fprintf(w, "\nnumerics %s\n", opts.Numerics)
	if ex.EraNote != "" {
		fmt.Fprintf(w, "note: %s\n", ex.EraNote)
	}
	for _, le := range ex.Lines {
		fmt.Fprintf(w, "\n&%d  line %d  %s\n", le.Index, le.Pos.Line, le.Describe())
		if le.Method == "" {
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, p := range le.Params {
			val := p.Value
			if p.Default {
				val += "  (default)"
			}
			if p.Effective != "" {
				val += fmt.Sprintf("  (sd-mecha numerics: %s)", p.Effective)
			}
			space := p.Space
			if space == "" {
				space = "-"
			}
			fmt.Fprintf(tw, "    %s\t= %s\t%s\n", p.Name, val, space)
		}
		tw.Flush()
		if le.Formula != "" {
			fmt.Fprintf(w, "    formula: %s\n", strings.TrimSpace(le.Formula))
		}
		if le.Note != "" {
			fmt.Fprintf(w, "    note: %s\n", le.Note)
		}
	}
	return nil
}
