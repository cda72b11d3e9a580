package lang

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unterminated", "version 0.1.0\nmodel \"a", "f:2:7: unterminated quote"},
		{"unterminated after prefix", "version 0.1.0\nmodel \"a\" k=\"v", "f:2:13: unterminated quote"},
		{"unterminated A", "model \"a\ncall \"w\" &0 &0", "f:1:7: unterminated quote"},
		{"bad number", "version 0.1.0\nmodel \"a\"\nmerge \"m\" &0 1.2.3", `f:3:14: bad number "1.2.3"`},
		{"bad number keyword", "version 0.1.0\nmodel \"a\"\nmerge \"m\" &0 alpha=1.2.3", `f:3:20: bad number "1.2.3"`},
		{"too many =", "model \"a\"\nmerge \"m\" &0 k=v=w", `f:2:14: too many "=" in "k=v=w": dialect B allows one per argument`},
		{"too many = A", "model \"a\"\ncall \"m\" &0 k=1=2", `f:2:13: too many "=" in "k=1=2": dialect A allows one per argument`},
		{"ref out of range", "version 0.1.0\nmodel \"a\"\nmodel \"b\"\nmodel \"c\"\nmerge \"m\" &0 &5",
			"f:5:14: reference &5 out of range: only 3 values (&0..&2) are defined before this line"},
		{"ref self", "model \"a\"\nmerge \"m\" &1", "f:2:11: reference &1 out of range: only 1 value (&0) is defined before this line"},
		{"ref negative", "model \"a\"\nmerge \"m\" &-1", "f:2:11: reference &-1 out of range: references start at &0"},
		{"ref first line", "merge \"m\" &0", "f:1:11: reference &0 out of range: no value is defined before this line"},
		{"comments take no index", "version 0.1.0\n# c\nmodel \"a\"\n# c\nmerge \"m\" &1",
			"f:5:11: reference &1 out of range: only 1 value (&0) is defined before this line"},
		{"unknown command C", "version 0.1.0\nmodel \"a\"\ncall \"m\" &0",
			`f:3:1: unknown command "call" (dialect C has dict, literal, merge, model): "call" is dialect A, write "merge"`},
		{"parameter in C", "version 0.1.0\nparameter \"a\" \"BASE\"",
			`f:2:1: unknown command "parameter" (dialect C has dict, literal, merge, model)`},
		{"merge in A", "model \"a\"\ncall \"m\" &0\nmerge \"m\" &0",
			`f:3:1: unknown command "merge" (dialect A has call, dict, lora, model, parameter)`},
		{"lora in B", "model \"a\"\nlora \"b\"",
			`f:2:1: unknown command "lora" (dialect B has dict, merge, model, parameter)`},
		{"literal in B", "model \"a\"\nliteral 1",
			`f:2:1: unknown command "literal" (dialect B has dict, merge, model, parameter)`},
		{"empty C", "version 0.1.0", "f:1:1: empty recipe: no instructions"},
		{"empty C comments", "version 0.1.0\n# a\n\n# b\n", "f:1:1: empty recipe: no instructions"},
		{"empty file", "", "f:1:1: empty recipe: no instructions"},
		{"blank file", "\n \n", "f:1:1: empty recipe: no instructions"},
		{"other version", "version 1.0.0\nmodel \"a\"", `f:1:9: unsupported recipe version "1.0.0": mechac reads version 0.1.0`},
		{"bad version line", "version\nmodel \"a\"", `f:1:1: bad version line "version": want "version 0.1.0"`},
		{"comment in B", "# c\nmodel \"a\"", `f:1:1: comment line: dialect B has no comments (only dialect C, "version 0.1.0", has)`},
		{"quoted keyword B", "model k=\"v\"", `f:1:7: quoted keyword value in "\"k=v\"": dialect B cannot quote keyword values (its tokenizer moves the key inside the quotes)`},
		{"empty key", "version 0.1.0\ndict =1", `f:2:6: missing keyword name before "=" in "=1"`},
		{"empty value", "version 0.1.0\ndict k=", `f:2:6: missing value after "k="`},
		{"int overflow", "version 0.1.0\ndict k=123456789012345678901", `f:2:8: integer "123456789012345678901" does not fit in 64 bits (mechac limitation)`},
		{"tab", "version 0.1.0\nmodel \"a\"\nmerge \"m\"\t&0",
			`f:3:10: bad value "\t&0": want a number, a "string", a &reference or null/true/false (a tab does not separate arguments)`},
		{"true in A", "model \"a\"\ncall \"m\" &0 k=true", `f:2:15: bad value "true": dialect A has no null, true or false`},
		{"invalid utf8", "version 0.1.0\nmodel \"a\xffb\"", "f:2:9: invalid UTF-8 encoding"},
		{"lone backslash", "version 0.1.0\n\\", "f:2:1: empty instruction"},
		{"two errors sorted", "version 0.1.0\nmerge \"m\" &3 x\nmodel \"a",
			"f:2:11: reference &3 out of range: no value is defined before this line\n" +
				"f:2:14: bad value \"x\": want a number, a \"string\", a &reference or null/true/false\n" +
				"f:3:7: unterminated quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want %s", tt.src, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%q) error\n got %s\nwant %s", tt.src, err, tt.want)
			}
		})
	}
}

func TestParseErrorLimit(t *testing.T) {
	src := "version 0.1.0\nmodel \"a\"" + strings.Repeat("\nmerge \"m\" x", 20)
	_, err := Parse("f", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != maxErrors {
		t.Errorf("got %d errors, want %d", n, maxErrors)
	}
	if !strings.HasPrefix(err.Error(), "f:3:11: ") {
		t.Errorf("first error not first in position order: %s", err)
	}
}

func TestDialect(t *testing.T) {
	tests := []struct {
		src  string
		want Dialect
	}{
		{"version 0.1.0\nmodel \"a\"", DialectC},
		{"model \"a\"\ncall \"w\" &0 &0", DialectA},
		{"model \"a\"", DialectB},
		{"model \"a\" \"sdxl\" \"base\"\nmerge \"w\" &0 &0", DialectB},
		{"\n\nversion 0.1.0\nmodel \"a\"", DialectC},
		{"version 0.1.0\r\nmodel \"a\"\r\n", DialectC},
		{"  call \"w\"", DialectA},
	}
	for _, tt := range tests {
		f, _ := Parse("f", []byte(tt.src))
		if f.Dialect != tt.want {
			t.Errorf("Parse(%q).Dialect = %s, want %s", tt.src, f.Dialect, tt.want)
		}
	}
}

// Parse accepts CRLF, blank lines and a trailing newline; they change nothing.
func TestParseTolerant(t *testing.T) {
	clean := "version 0.1.0\n# c\nmodel \"a\" model_config=\"sdxl-sgm\"\nmerge \"weighted_sum\" &0 &0 alpha=0.5"
	variants := []string{
		clean + "\n",
		strings.ReplaceAll(clean, "\n", "\r\n"),
		strings.ReplaceAll(clean, "\n", "\r\n") + "\r\n",
		strings.ReplaceAll(clean, "\n", "\n\n  \t\n"),
		"\n" + clean + "\n\n",
		"version  0.1.0 \n\tmodel \"a\"  model_config=\"sdxl-sgm\" \n# c\nmerge \"weighted_sum\"  &0 &0   alpha=0.50",
	}
	want := mustFormat(t, clean)
	if want != clean {
		t.Fatalf("clean input not canonical:\n%s", want)
	}
	for _, v := range variants[:5] {
		if got := mustFormat(t, v); got != want {
			t.Errorf("Format(Parse(%q)) =\n%s\nwant\n%s", v, got, want)
		}
	}
	got := mustFormat(t, variants[5])
	if want := "version 0.1.0\nmodel \"a\" model_config=\"sdxl-sgm\"\n# c\nmerge \"weighted_sum\" &0 &0 alpha=0.5"; got != want {
		t.Errorf("Format =\n%s\nwant\n%s", got, want)
	}
}

func mustFormat(t *testing.T, src string) string {
	t.Helper()
	f, err := Parse("f", []byte(src))
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return Format(f)
}

func TestFormat(t *testing.T) {
	tests := []struct{ in, want string }{
		// positional arguments first, keywords in written order
		{"version 0.1.0\nmodel \"a\"\nmerge \"m\" b=1 &0 a=2.50 2", "version 0.1.0\nmodel \"a\"\nmerge \"m\" &0 2 b=1 a=2.5"},
		// numbers in canonical spelling
		{"version 0.1.0\ndict a=+3 b=007 c=1_000 d=.5 e=5. f=1E2 g=1e-6 h=1e16 i=-0.0 j=1e999 k=-1e999 l=100.0 m=1e-5",
			"version 0.1.0\ndict a=3 b=7 c=1000 d=0.5 e=5.0 f=100.0 g=1e-06 h=1e+16 i=-0.0 j=1e999 k=-1e999 l=100.0 m=1e-05"},
		{"version 0.1.0\ndict a=True b=False c=null r=\"x\"", "version 0.1.0\ndict a=true b=false c=null r=\"x\""},
		// references in canonical spelling
		{"version 0.1.0\nmodel \"a\"\nmerge \"m\" &+0 &0_0", "version 0.1.0\nmodel \"a\"\nmerge \"m\" &0 &0"},
		// strings re-escaped in C, raw in A/B
		{`version 0.1.0` + "\n" + `model \"a\\b\"`, "version 0.1.0\nmodel \"a\\\\b\""},
		{`model "a\b"`, `model "a\b"`},
		{`model abc"def"`, `model "abcdef"`},
		// comments kept; end-of-line comments move above their line
		{"version 0.1.0\n  # c  \nmodel \"a\" # why", "version 0.1.0\n# c\n# why\nmodel \"a\""},
		// escaped keyword names
		{"version 0.1.0\ndict \\\"k\\ 1=2", "version 0.1.0\ndict \\\"k\\ 1=2"},
		// a quoted positional string containing '=' stays positional
		{"version 0.1.0\nmodel \"a=b\"", "version 0.1.0\nmodel \"a=b\""},
	}
	for _, tt := range tests {
		got := mustFormat(t, tt.in)
		if got != tt.want {
			t.Errorf("Format(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
		if again := mustFormat(t, got); again != got {
			t.Errorf("Format not idempotent on %q: %q", got, again)
		}
	}
}

func TestFormatFloat(t *testing.T) {
	tests := []struct {
		x    float64
		want string
	}{
		{0.1, "0.1"},
		{0.5, "0.5"},
		{2, "2.0"},
		{100, "100.0"},
		{123456789, "123456789.0"},
		{0.0001, "0.0001"},
		{0.00001, "1e-05"},
		{1e-06, "1e-06"},
		{1.5e-07, "1.5e-07"},
		{1e-20, "1e-20"},
		{1e15, "1000000000000000.0"},
		{1e16, "1e+16"},
		{1.2345e17, "1.2345e+17"},
		{9999999999999998, "9999999999999998.0"},
		{0.6666666666666666, "0.6666666666666666"},
		{2.0 / 3, "0.6666666666666666"},
		{0.9807692307692307, "0.9807692307692307"},
		{-0.1, "-0.1"},
		{5e-324, "5e-324"},
		{1.7976931348623157e+308, "1.7976931348623157e+308"},
		{1e100, "1e+100"},
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{math.NaN(), "nan"},
		{-2.5, "-2.5"},
		{12.5, "12.5"},
		{0.001234, "0.001234"},
	}
	for _, tt := range tests {
		if got := FormatFloat(tt.x); got != tt.want {
			t.Errorf("FormatFloat(%v) = %q, want %q", tt.x, got, tt.want)
		}
		// Every finite output reads back as the same float.
		if !math.IsInf(tt.x, 0) && !math.IsNaN(tt.x) {
			back, ok := pyFloat(FormatFloat(tt.x))
			if !ok || back != tt.x || math.Signbit(back) != math.Signbit(tt.x) {
				t.Errorf("pyFloat(FormatFloat(%v)) = %v, %v", tt.x, back, ok)
			}
		}
	}
}

func TestStrict(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"clean C", "version 0.1.0\n# c\nmodel \"a\"", ""},
		{"clean B", "model \"a\" \"sdxl\" \"base\"\nmerge \"m\" &0 &0 alpha=1.0", ""},
		{"trailing newline", "version 0.1.0\nmodel \"a\"\n",
			"f:3:1: file ends with a newline: sd-mecha reads an empty last line and rejects the recipe"},
		{"trailing newline B is fine", "model \"a\"\n", ""},
		{"trailing blank line B", "model \"a\"\n\n", "f:2:1: blank line: sd-mecha rejects empty lines"},
		{"blank line", "version 0.1.0\n\nmodel \"a\"", "f:2:1: blank line: sd-mecha rejects empty lines"},
		{"blank spaces line", "model \"a\"\n  \t\nmodel \"b\"", "f:2:1: blank line: sd-mecha rejects empty lines"},
		{"crlf C", "version 0.1.0\r\nmodel \"a\"",
			`f:1:1: version line is not exactly "version 0.1.0" (it ends with a carriage return: CRLF line endings): sd-mecha rejects the recipe`},
		{"crlf B is fine", "model \"a\"\r\nmodel \"b\"", ""},
		{"version spaces", "version  0.1.0\nmodel \"a\"",
			`f:1:1: version line is not exactly "version 0.1.0" (extra spaces): sd-mecha rejects the recipe`},
		{"version tab", "version 0.1.0\t\nmodel \"a\"",
			`f:1:1: version line is not exactly "version 0.1.0" (it contains a tab): sd-mecha rejects the recipe`},
		{"tab", "model \"a\"\t\"b\"",
			"f:1:10: tab outside quotes: sd-mecha does not split tokens at tabs and reads it as part of a value"},
		{"tab in quotes is fine", "model \"a\tb\"", ""},
		{"edge tabs are stripped", "\tmodel \"a\"\t", ""},
		{"True", "version 0.1.0\nmerge \"m\" True k=False",
			"f:2:11: True: sd-mecha cannot read it back (it tries float(\"True\")); write true\n" +
				"f:2:18: False: sd-mecha cannot read it back (it tries float(\"False\")); write false"},
		{"eol comment", "version 0.1.0\nmodel \"a\" # x\tmore",
			"f:2:11: end-of-line comment: sd-mecha has only whole-line comments and fails on the '#'"},
		{"quoted =", "version 0.1.0\nmodel \"a=b.safetensors\"",
			`f:2:7: quoted string "a=b.safetensors" contains "=": sd-mecha reads it as keyword "a and fails`},
		{"quoted = B", "model \"a=b\"",
			`f:1:7: quoted string "a=b" contains "=": sd-mecha reads it as keyword "a and fails`},
		{"cr inside B line", "model \"a\"\r\"b\"", "f:1:10: carriage return inside the line: sd-mecha splits the line there"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse("f", []byte(tt.src)); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := ""
			if errs := Strict("f", []byte(tt.src)); len(errs) > 0 {
				got = errs.Error()
			}
			if got != tt.want {
				t.Errorf("Strict(%q)\n got %s\nwant %s", tt.src, got, tt.want)
			}
		})
	}
}

// sharedDir is <root>/../shared, where root is the directory holding go.mod.
func sharedDir(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("go.mod not found above the test directory")
		}
		dir = parent
	}
	return filepath.Join(dir, "..", "shared")
}

func recipeFiles(t testing.TB) []string {
	root := filepath.Join(sharedDir(t), "recipes")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("shared recipes not available: %v", err)
	}
	var files []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".mecha") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// Every real recipe parses, formats idempotently, is in the dialect its first line says,
// and (being sd-mecha output) formats to itself byte for byte and passes Strict.
func TestRecipes(t *testing.T) {
	files := recipeFiles(t)
	if len(files) == 0 {
		t.Skip("no .mecha files under the shared recipes folder")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Parse(path, src)
			if err != nil {
				t.Fatal(err)
			}
			text := string(src)
			want := DialectB
			switch {
			case strings.HasPrefix(text, "version 0.1.0\n"):
				want = DialectC
			case strings.HasPrefix(text, "call ") || strings.Contains(text, "\ncall "):
				want = DialectA
			}
			if f.Dialect != want {
				t.Errorf("dialect %s, want %s", f.Dialect, want)
			}
			out := Format(f)
			f2, err := Parse(path, []byte(out))
			if err != nil {
				t.Fatalf("formatted output does not parse: %v", err)
			}
			if again := Format(f2); again != out {
				t.Errorf("Format not idempotent")
			}
			if out != text {
				t.Errorf("not canonical: Format output differs from the file")
			}
			if errs := Strict(path, src); len(errs) > 0 {
				t.Errorf("Strict: %v", errs)
			}
			if len(f.Instrs()) == 0 || f.Instrs()[len(f.Instrs())-1].Index != len(f.Instrs())-1 {
				t.Errorf("instruction indices wrong")
			}
		})
	}
}
