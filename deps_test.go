// Package mechac_test holds repository-wide tests, such as the import-direction rules of
// the architecture (like go/build's deps_test.go).
package mechac_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/mechac/mechac"

// allowed lists, for each package, the project packages it may import (non-test code).
// Of third-party modules, only the grammar library is restricted (to lang).
var allowed = map[string][]string{
	"lang/pos":                  {},
	"lang":                      {"lang/pos"},
	"ops":                       {},
	"ops/num":                   {"ops"},
	"ops/opstest":               {"ops", "ops/num"},
	"ops/rng":                   {},
	"compiler/ir":               {"ops", "lang/pos"},
	"vm/bytecode":               {"lang/pos"},
	"compiler":                  {"compiler/ir", "lang", "lang/pos", "ops", "vm/bytecode"},
	"vm/safetensors":            {"ops", "ops/num"},
	"vm":                        {"vm/bytecode", "ops", "ops/num", "lang/pos", "vm/safetensors"},
	"stdlib":                    {"ops", "ops/num", "ops/rng", "stdlib/configs", "stdlib/internal/fastblas", "stdlib/internal/openblas", "stdlib/internal/symeig"},
	"stdlib/internal/fastblas":  {},
	"stdlib/internal/symeig":    {},
	"stdlib/internal/openblas":  {}, // cgo, the mechac_openblas build's LAPACK
	"stdlib/configs":            {"ops"},
	"cmd/mechac/internal/synth": {"ops", "ops/num", "vm/safetensors"},
}

func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}:{{join .Imports \" \"}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
		if rel == "" || strings.HasPrefix(rel, "cmd/mechac") && rel != "cmd/mechac/internal/synth" {
			continue // the CLI may import everything
		}
		allow, ok := allowed[rel]
		if !ok {
			t.Errorf("package %s has no entry in the import-direction table", rel)
			continue
		}
		for _, imp := range strings.Fields(imports) {
			if strings.HasPrefix(imp, module+"/") {
				dep := strings.TrimPrefix(imp, module+"/")
				if !contains(allow, dep) {
					t.Errorf("%s imports %s, which the architecture does not allow", rel, dep)
				}
				continue
			}
			if strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
				if strings.HasPrefix(imp, "github.com/alecthomas/participle/v2") && rel != "lang" {
					t.Errorf("%s imports the grammar library %s; only lang may", rel, imp)
				}
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
