package compiler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechac/mechac/compiler/ir"
	"github.com/mechac/mechac/lang"
	"github.com/mechac/mechac/stdlib"
	"github.com/rogpeppe/go-internal/txtar"
)

// realRecipes returns every recipe the repository and ../shared hold: the examples, the
// compiler goldens, the sd-mecha examples and the AstolfoMix recipes (when present).
func realRecipes(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, pat := range []string{
		filepath.Join("..", "examples", "*.mecha"),
		filepath.Join("..", "..", "shared", "recipes", "*", "*.mecha"),
	} {
		files, _ := filepath.Glob(pat)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out[f] = b
		}
	}
	archives, _ := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	for _, a := range archives {
		ar, err := txtar.ParseFile(a)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range ar.Files {
			if strings.HasSuffix(f.Name, ".mecha") {
				out[a+"/"+f.Name] = f.Data
			}
		}
	}
	return out
}

// TestPassesVerifyRecipes runs the pass table over every real recipe, in its era, with
// ir.Verify after every pass and ir.VerifyLive (no dangling node) after the last.
func TestPassesVerifyRecipes(t *testing.T) {
	reg := stdlib.Default()
	recipes := realRecipes(t)
	if len(recipes) < 5 {
		t.Fatalf("only %d recipes found", len(recipes))
	}
	for name, src := range recipes {
		f, err := lang.Parse(filepath.Base(name), src)
		if err != nil {
			continue // the parser's tests own bad recipes
		}
		era, _, err := ChooseEra(f, reg, "")
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		fn, err := Lower(f, reg, era)
		if err != nil {
			continue // a recipe error (some goldens are error cases)
		}
		if err := ir.Verify(fn); err != nil {
			t.Errorf("%s: after lowering: %v", name, err)
			continue
		}
		for _, p := range passes {
			p.fn(fn)
			if err := ir.Verify(fn); err != nil {
				t.Errorf("%s: after %s: %v", name, p.name, err)
				break
			}
		}
		if err := ir.VerifyLive(fn); err != nil {
			t.Errorf("%s: after the pass table: %v", name, err)
		}
	}
}
