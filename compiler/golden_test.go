package compiler

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/mechac/mechac/compiler/ir"
	"github.com/mechac/mechac/lang"
	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
	"github.com/mechac/mechac/vm/bytecode"
)

// memModels is an in-memory ModelSource built from a models.txt description:
//
//	# comment
//	FILE KEY DTYPE SHAPE
//
// e.g. `a.safetensors first_stage_model.quant_conv.bias F16 [8]`. Size and header hash are
// derived from the lines, so plans are deterministic.
type memModels map[string]*ModelInfo

func (m memModels) Model(path string) (*ModelInfo, error) {
	info, ok := m[path]
	if !ok {
		return nil, fmt.Errorf("model file %q not found", path)
	}
	return info, nil
}

func parseShape(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return nil, fmt.Errorf("bad shape %q", s)
	}
	s = strings.TrimSpace(s[1 : len(s)-1])
	shape := []int{}
	if s == "" {
		return shape, nil
	}
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("bad shape %q: %v", s, err)
		}
		shape = append(shape, n)
	}
	return shape, nil
}

func parseModels(text string) (memModels, error) {
	m := memModels{}
	lines := map[string][]string{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			return nil, fmt.Errorf("models.txt:%d: want FILE KEY DTYPE SHAPE, got %q", i+1, line)
		}
		dt, err := ops.ParseDType(f[2])
		if err != nil {
			return nil, fmt.Errorf("models.txt:%d: %v", i+1, err)
		}
		shape, err := parseShape(f[3])
		if err != nil {
			return nil, fmt.Errorf("models.txt:%d: %v", i+1, err)
		}
		info := m[f[0]]
		if info == nil {
			info = &ModelInfo{Path: f[0], Tensors: map[string]TensorInfo{}}
			m[f[0]] = info
		}
		info.Tensors[f[1]] = TensorInfo{DType: dt, Shape: shape}
		info.Size += int64(ops.NumElements(shape) * dt.Size())
		lines[f[0]] = append(lines[f[0]], line)
	}
	for path, info := range m {
		ls := lines[path]
		sort.Strings(ls)
		h := sha256.Sum256([]byte(strings.Join(ls, "\n")))
		info.HeaderHash = hex.EncodeToString(h[:8])
	}
	return m, nil
}

// goldenOptions reads `key value` lines of the archive's comment: numerics, output-dtype.
func goldenOptions(t *testing.T, comment string) Options {
	t.Helper()
	opts := Options{Registry: stdlib.Default(), OutputDType: ops.F16}
	for _, line := range strings.Split(comment, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		switch f[0] {
		case "numerics":
			n, err := ops.ParseNumerics(f[1])
			if err != nil {
				t.Fatal(err)
			}
			opts.Numerics = n
		case "output-dtype":
			d, err := ops.ParseDType(f[1])
			if err != nil {
				t.Fatal(err)
			}
			opts.OutputDType = d
		}
	}
	return opts
}

// TestGolden compiles every compiler/testdata/*.txtar: recipe.mecha against the headers of
// models.txt, and compares the optimized IR (ir.txt) and the plan (plan.txt). With
// MECHAC_UPDATE=1 the expected files are rewritten.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden archives in testdata")
	}
	update := os.Getenv("MECHAC_UPDATE") == "1"
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			get := func(n string) (string, int) {
				for i, f := range ar.Files {
					if f.Name == n {
						return string(f.Data), i
					}
				}
				return "", -1
			}
			recipe, ri := get("recipe.mecha")
			if ri < 0 {
				t.Fatal("no recipe.mecha")
			}
			modelsText, mi := get("models.txt")
			if mi < 0 {
				t.Fatal("no models.txt")
			}
			models, err := parseModels(modelsText)
			if err != nil {
				t.Fatal(err)
			}
			// The archive format keeps a final newline; recipes are compiled as written,
			// without it (sd-mecha writes none).
			recipe = strings.TrimSuffix(recipe, "\n")
			f, err := lang.Parse("recipe.mecha", []byte(recipe))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			opts := goldenOptions(t, string(ar.Comment))
			opts.Models = models
			opts.RecipeText = recipe
			res, err := Compile(f, opts)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			var irText bytes.Buffer
			if err := ir.Fprint(&irText, res.Func); err != nil {
				t.Fatal(err)
			}
			var planText bytes.Buffer
			if err := bytecode.Fprint(&planText, res.Program); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{"ir.txt": irText.String(), "plan.txt": planText.String()}
			changed := false
			for _, n := range []string{"ir.txt", "plan.txt"} {
				want, i := get(n)
				if update {
					if i < 0 {
						ar.Files = append(ar.Files, txtar.File{Name: n})
						i = len(ar.Files) - 1
					}
					if want != got[n] {
						ar.Files[i].Data = []byte(got[n])
						changed = true
					}
					continue
				}
				if i < 0 {
					t.Errorf("%s missing from the archive (run with MECHAC_UPDATE=1)", n)
					continue
				}
				if want != got[n] {
					t.Errorf("%s differs:\n--- got ---\n%s--- want ---\n%s", n, got[n], want)
				}
			}
			if changed {
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("updated %s", file)
			}
		})
	}
}
