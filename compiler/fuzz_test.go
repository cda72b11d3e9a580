package compiler

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/mechac/mechac/lang"
	"github.com/mechac/mechac/stdlib"
)

// FuzzCompile: any text that parses compiles (without model files) to a result or an error,
// never a panic; errors from the static checks carry positions.
func FuzzCompile(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	for _, name := range files {
		a, err := txtar.ParseFile(name)
		if err != nil {
			continue
		}
		for _, file := range a.Files {
			if file.Name == "recipe.mecha" {
				f.Add(string(file.Data))
			}
		}
	}
	for _, p := range []string{"../examples/*.mecha", "../lang/testdata/*.mecha"} {
		matches, _ := filepath.Glob(p)
		for _, m := range matches {
			if b, err := os.ReadFile(m); err == nil {
				f.Add(string(b))
			}
		}
	}
	f.Add("version 0.1.0\nmodel \"a\"\nmerge \"weighted_sum\" &0 &0 alpha=&0")
	f.Add("model \"a\"\ncall \"weighted_sum\" &0 &0 alpha=0.5")
	f.Add("model \"a\" \"sdxl\" \"base\"\ndict sdxl_unet_default=1\nmerge \"weighted_sum\" &0 &0 alpha=&1")
	reg := stdlib.Default()
	f.Fuzz(func(t *testing.T, src string) {
		file, err := lang.Parse("fuzz.mecha", []byte(src))
		if err != nil {
			return
		}
		_, _ = Compile(file, Options{Registry: reg, RecipeText: src})
		_, _ = Explain(file, Options{Registry: reg, RecipeText: src})
	})
}
