package lang

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// FuzzParse checks that Parse and Strict never panic, and that whenever Parse succeeds,
// Format's output parses again and formats to the same text.
func FuzzParse(f *testing.F) {
	goldens, _ := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	for _, g := range goldens {
		ar, err := txtar.ParseFile(g)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range ar.Files {
			if file.Name == "in.mecha" {
				f.Add(strings.TrimSuffix(string(file.Data), "\n"))
			}
		}
	}
	if _, err := os.Stat(filepath.Join(sharedDir(f), "recipes")); err == nil {
		for _, path := range recipeFiles(f) {
			src, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(string(src))
		}
	}
	f.Add("version 0.1.0\ndict \\\"k\\ 1=2 e=\\\"\\\" x=\"a\\\\b\"")
	f.Add("model \"a\"\ncall \"w\" &0 &0 alpha=1e999")
	f.Fuzz(func(t *testing.T, src string) {
		file, err := Parse("fuzz", []byte(src))
		Strict("fuzz", []byte(src))
		if file == nil {
			t.Fatal("Parse returned a nil file")
		}
		if err != nil {
			return
		}
		out := Format(file)
		file2, err := Parse("fuzz", []byte(out))
		if err != nil {
			t.Fatalf("Format output does not parse: %v\ninput:  %q\noutput: %q", err, src, out)
		}
		if out2 := Format(file2); out2 != out {
			t.Fatalf("Format not idempotent\ninput: %q\nfirst:  %q\nsecond: %q", src, out, out2)
		}
		if file2.Dialect != file.Dialect || len(file2.Instrs()) != len(file.Instrs()) {
			t.Fatalf("reparse changed dialect or instruction count\ninput: %q\noutput: %q", src, out)
		}
	})
}
