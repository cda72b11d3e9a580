package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechac/mechac/stdlib"
	"github.com/mechac/mechac/vm/safetensors"
)

// sharedDir is the project's shared folder, beside the repository (../shared), where the
// goldens produced by sd-mecha itself live.
func sharedDir(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			s := filepath.Join(filepath.Dir(d), "shared")
			if _, err := os.Stat(s); err != nil {
				t.Skipf("shared folder %s not found", s)
			}
			return s
		}
		if filepath.Dir(d) == d {
			t.Skip("repository root not found")
		}
	}
}

type goldenCase struct {
	Recipe       string   `json:"recipe"`
	Models       string   `json:"models"`
	Methods      []string `json:"methods"`
	Tolerance    string   `json:"tolerance"`
	ToleranceF64 string   `json:"tolerance_f64"`
	Expected     string   `json:"expected"`
	ExpectedF64  string   `json:"expected_f64"`
	Keys         int      `json:"keys"`
}

// illPosed lists golden keys whose expected values are decided by rounding noise in
// sd-mecha's own LAPACK calls, measured and explained in SPEC.md (rotate): centring the 12
// rows of clip_l's 12x48 mlp.fc2.weight leaves rank 11, so one direction of qr(B^T) and of
// svd(A^T B_r^T) is fixed only by roundoff; a 2e-15 change of one input moves the result by
// 26%. These keys must exist with the right shape and dtype; their values are not compared.
var illPosed = map[string]func(key string) bool{
	"rotate_integer":    isCLIPLFC2,
	"rotate_fractional": isCLIPLFC2,
}

func isCLIPLFC2(key string) bool {
	return strings.HasPrefix(key, "conditioner.embedders.0.") && strings.HasSuffix(key, ".mlp.fc2.weight")
}

// TestGolden runs every case of ../shared/golden whose methods mechac has, in both numerics
// modes, against sd-mecha 1.1.5's own outputs.
func TestGolden(t *testing.T) {
	root := filepath.Join(sharedDir(t), "golden")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	reg := stdlib.Default()
	ran := 0
	for _, ent := range entries {
		if !ent.IsDir() || strings.HasPrefix(ent.Name(), "_") {
			continue
		}
		dir := filepath.Join(root, ent.Name())
		raw, err := os.ReadFile(filepath.Join(dir, "case.json"))
		if err != nil {
			continue
		}
		var c goldenCase
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		var missing []string
		for _, m := range c.Methods {
			if d, ok := reg.Lookup(m); !ok || d.Pending != "" {
				missing = append(missing, m)
			}
		}
		t.Run(ent.Name(), func(t *testing.T) {
			if len(missing) > 0 {
				t.Skipf("methods not implemented yet: %s", strings.Join(missing, ", "))
			}
			ran++
			models := filepath.Join(dir, c.Models)
			recipe := filepath.Join(dir, c.Recipe)
			tmp := t.TempDir()
			out := filepath.Join(tmp, "compat.safetensors")
			runOK(t, "run", recipe, "-o", out, "--models-dir", models, "--numerics", "sd-mecha", "-q")
			skip := illPosed[ent.Name()]
			compareFilesExcept(t, out, filepath.Join(dir, c.Expected), c.Tolerance, skip)
			out64 := filepath.Join(tmp, "exact.safetensors")
			runOK(t, "run", recipe, "-o", out64, "--models-dir", models, "--numerics", "exact", "--output-dtype", "f64", "-q")
			compareFilesExcept(t, out64, filepath.Join(dir, c.ExpectedF64), c.ToleranceF64+castSlack(t, recipe), skip)
		})
	}
	if ran == 0 {
		t.Log("no golden case ran")
	}
}

func runOK(t *testing.T, args ...string) {
	t.Helper()
	var stdout, stderr strings.Builder
	code := mainEnv(&env{stdout: &stdout, stderr: &stderr}, args)
	if code != 0 {
		t.Fatalf("mechac %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
}

// castSlack handles the one discrete decision exact numerics cannot share with sd-mecha: an
// explicit cast to float16/bfloat16 inside the recipe rounds a value that differs from
// sd-mecha's in the last bits (exact hyper-parameters instead of float32 ones), so an element
// sitting on a rounding boundary of the cast's dtype may land one ulp of that dtype away.
// Such elements are accepted within one ulp of the cast dtype, counted and logged; the
// tolerance string gets a ",cast-ulp:<dtype>" suffix.
func castSlack(t *testing.T, recipe string) string {
	src, err := os.ReadFile(recipe)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, `merge "cast"`) {
			for _, dt := range []string{"bfloat16", "float16"} {
				if strings.Contains(line, `"`+dt+`"`) {
					return ",cast-ulp:" + dt
				}
			}
		}
	}
	return ""
}

// compareFiles checks key sets, dtypes, shapes, then values under the case's tolerance:
// "bitwise", "ulp:N" (fp16 ulps), or "rel:X" (|got-want| <= X*max(|want|, rms(want))).
func compareFiles(t *testing.T, gotPath, wantPath, tol string) {
	t.Helper()
	compareFilesExcept(t, gotPath, wantPath, tol, nil)
}

// compareFilesExcept is compareFiles whose value comparison skips the keys skip accepts
// (their presence, dtype and shape are still checked).
func compareFilesExcept(t *testing.T, gotPath, wantPath, tol string, skip func(string) bool) {
	t.Helper()
	got, err := safetensors.Open(gotPath)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	want, err := safetensors.Open(wantPath)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	var problems []string
	add := func(format string, args ...any) {
		if len(problems) < 12 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	for name := range want.Tensors {
		if _, ok := got.Tensors[name]; !ok {
			add("missing key %s", name)
		}
	}
	for name := range got.Tensors {
		if _, ok := want.Tensors[name]; !ok {
			add("extra key %s", name)
		}
	}
	castULP := ""
	if i := strings.Index(tol, ",cast-ulp:"); i >= 0 {
		castULP, tol = tol[i+len(",cast-ulp:"):], tol[:i]
	}
	kind, param := tol, 0.0
	if i := strings.IndexByte(tol, ':'); i >= 0 {
		kind = tol[:i]
		fmt.Sscanf(tol[i+1:], "%g", &param)
	}
	for name, wi := range want.Tensors {
		gi, ok := got.Tensors[name]
		if !ok {
			continue
		}
		if gi.DType != wi.DType || fmt.Sprint(gi.Shape) != fmt.Sprint(wi.Shape) {
			add("%s: got %s %v, want %s %v", name, gi.DType, gi.Shape, wi.DType, wi.Shape)
			continue
		}
		if skip != nil && skip(name) {
			t.Logf("%s: values not compared (ill-posed in sd-mecha itself, see illPosed)", name)
			continue
		}
		switch kind {
		case "bitwise64":
			gb := make([]byte, gi.End-gi.Begin)
			wb := make([]byte, wi.End-wi.Begin)
			if err := got.ReadRaw(name, gb); err != nil {
				t.Fatal(err)
			}
			if err := want.ReadRaw(name, wb); err != nil {
				t.Fatal(err)
			}
			if string(gb) != string(wb) {
				add("%s: bytes differ", name)
			}
		case "bitwise", "ulp":
			gb := make([]byte, gi.End-gi.Begin)
			wb := make([]byte, wi.End-wi.Begin)
			if err := got.ReadRaw(name, gb); err != nil {
				t.Fatal(err)
			}
			if err := want.ReadRaw(name, wb); err != nil {
				t.Fatal(err)
			}
			maxULP := int(param)
			bad := 0
			for i := 0; i+1 < len(wb); i += 2 {
				g := uint16(gb[i]) | uint16(gb[i+1])<<8
				w := uint16(wb[i]) | uint16(wb[i+1])<<8
				if g == w {
					continue
				}
				if kind == "ulp" && f16ULPDistance(g, w) <= maxULP {
					continue
				}
				if bad == 0 {
					add("%s: element %d: got %#04x want %#04x", name, i/2, g, w)
				}
				bad++
			}
			if bad > 1 {
				add("%s: %d elements differ", name, bad)
			}
		case "rel":
			n := 1
			for _, d := range wi.Shape {
				n *= d
			}
			g := make([]float64, n)
			w := make([]float64, n)
			if err := got.ReadFloat64(name, g); err != nil {
				t.Fatal(err)
			}
			if err := want.ReadFloat64(name, w); err != nil {
				t.Fatal(err)
			}
			rms := 0.0
			for _, x := range w {
				if !math.IsNaN(x) && !math.IsInf(x, 0) {
					rms += x * x
				}
			}
			rms = math.Sqrt(rms / float64(max(n, 1)))
			for i := range w {
				if math.IsNaN(w[i]) || math.IsInf(w[i], 0) {
					if !(math.IsNaN(w[i]) && math.IsNaN(g[i])) && g[i] != w[i] {
						add("%s[%d]: got %v want %v", name, i, g[i], w[i])
						break
					}
					continue
				}
				if math.Abs(g[i]-w[i]) > param*math.Max(math.Abs(w[i]), rms) {
					if castULP != "" && math.Abs(g[i]-w[i]) <= ulpOf(w[i], castULP) {
						t.Logf("%s[%d]: got %.17g want %.17g: one %s ulp apart (a cast rounding boundary)", name, i, g[i], w[i], castULP)
						continue
					}
					add("%s[%d]: got %.17g want %.17g", name, i, g[i], w[i])
					break
				}
			}
		default:
			t.Fatalf("unknown tolerance %q", tol)
		}
	}
	if len(problems) > 0 {
		t.Errorf("%s vs %s (%s):\n  %s", filepath.Base(gotPath), wantPath, tol, strings.Join(problems, "\n  "))
	}
}

// f16ULPDistance is the distance between two half floats' ordered bit patterns (+0 and -0
// are 0 apart; NaN matches only NaN).
func f16ULPDistance(a, b uint16) int {
	nan := func(h uint16) bool { return h&0x7c00 == 0x7c00 && h&0x3ff != 0 }
	if nan(a) || nan(b) {
		if nan(a) && nan(b) {
			return 0
		}
		return math.MaxInt32
	}
	ord := func(h uint16) int {
		if h&0x8000 != 0 {
			return -int(h & 0x7fff)
		}
		return int(h)
	}
	d := ord(a) - ord(b)
	if d < 0 {
		d = -d
	}
	return d
}

// ulpOf is the spacing of dtype's values at x (float16: 11 significant bits, bfloat16: 8).
func ulpOf(x float64, dtype string) float64 {
	bits := 11
	if dtype == "bfloat16" {
		bits = 8
	}
	_, e := math.Frexp(x)
	return math.Ldexp(1, e-bits)
}

// TestSharedRecipesCheck: every `version 0.1.0` recipe of ../shared/recipes passes
// `mechac check` without its model files, and `mechac fmt` prints it unchanged (the real
// files are sd-mecha's own canonical output).
func TestSharedRecipesCheck(t *testing.T) {
	root := filepath.Join(sharedDir(t), "recipes")
	files, err := filepath.Glob(filepath.Join(root, "*", "*.mecha"))
	if err != nil || len(files) == 0 {
		t.Skipf("no recipes under %s", root)
	}
	checked := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(src), "version 0.1.0\n") {
			continue // dialects A and B come with their own issue
		}
		checked++
		t.Run(filepath.Base(f), func(t *testing.T) {
			var stdout, stderr strings.Builder
			if code := mainEnv(&env{stdout: &stdout, stderr: &stderr}, []string{"check", f}); code != 0 {
				t.Fatalf("check: exit %d\n%s", code, stderr.String())
			}
			if !strings.Contains(stdout.String(), "keys and shapes not checked") {
				t.Errorf("check should say that keys were not checked without model files:\n%s", stdout.String())
			}
			stdout.Reset()
			if code := mainEnv(&env{stdout: &stdout, stderr: &stderr}, []string{"fmt", f}); code != 0 {
				t.Fatalf("fmt: exit %d\n%s", code, stderr.String())
			}
			if got := strings.TrimSuffix(stdout.String(), "\n"); got != string(src) {
				t.Errorf("fmt changed the recipe:\n%s", got)
			}
		})
	}
	if checked == 0 {
		t.Fatal("no version 0.1.0 recipe found")
	}
}
