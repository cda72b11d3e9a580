package lang

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/rogpeppe/go-internal/txtar"
)

// The golden tests live in testdata/*.txtar. Each archive holds one recipe in the file
// "in.mecha" (its final newline is not part of the recipe, since txtar always ends a file
// with one; write an empty line to test a trailing newline) and the expected outputs:
//
//	tokens  the lexer's token stream ("line:col Type value")
//	errors  Parse's error list, one per line
//	stmts   the parsed statements
//	format  Format's output (only when Parse succeeds)
//	strict  Strict's reports
//
// Run with MECHAC_UPDATE=1 to rewrite the expected sections from the current output.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files in testdata")
	}
	update := os.Getenv("MECHAC_UPDATE") == "1"
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var in []byte
			found := false
			for _, f := range ar.Files {
				if f.Name == "in.mecha" {
					in, found = []byte(strings.TrimSuffix(string(f.Data), "\n")), true
				}
			}
			if !found {
				t.Fatal("no in.mecha section")
			}
			got := goldenOutputs("in.mecha", in)
			if update {
				ar.Files = []txtar.File{{Name: "in.mecha", Data: append(in, '\n')}}
				for _, name := range goldenSections {
					if out, ok := got[name]; ok {
						ar.Files = append(ar.Files, txtar.File{Name: name, Data: []byte(out)})
					}
				}
				if err := os.WriteFile(file, txtar.Format(ar), 0o666); err != nil {
					t.Fatal(err)
				}
				return
			}
			want := map[string]string{}
			for _, f := range ar.Files {
				if f.Name != "in.mecha" {
					want[f.Name] = string(f.Data)
				}
			}
			for _, name := range goldenSections {
				g, gok := got[name]
				w, wok := want[name]
				if gok != wok {
					t.Errorf("section %s: present in output %v, in golden file %v (MECHAC_UPDATE=1 rewrites)", name, gok, wok)
					continue
				}
				if g != w {
					t.Errorf("section %s differs (MECHAC_UPDATE=1 rewrites)\n--- got\n%s--- want\n%s", name, g, w)
				}
			}
		})
	}
}

var goldenSections = []string{"tokens", "errors", "stmts", "format", "strict"}

func goldenOutputs(name string, src []byte) map[string]string {
	out := map[string]string{}
	_, toks, _ := Tokens(name, src)
	var b strings.Builder
	for _, tk := range toks {
		fmt.Fprintf(&b, "%d:%d %s %q\n", tk.Pos.Line, tk.Pos.Column, tokenName(tk.Type), tk.Value)
	}
	out["tokens"] = b.String()
	f, err := Parse(name, src)
	if err != nil {
		out["errors"] = err.Error() + "\n"
	}
	out["stmts"] = dumpStmts(f)
	if err == nil {
		out["format"] = Format(f) + "\n"
	}
	if errs := Strict(name, src); len(errs) > 0 {
		out["strict"] = errs.Error() + "\n"
	}
	return out
}

func tokenName(tt lexer.TokenType) string {
	for name, t := range NewLexer().Symbols() {
		if t == tt {
			return name
		}
	}
	return fmt.Sprint(int(tt))
}

func dumpStmts(f *File) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dialect %s", f.Dialect)
	if f.Dialect == DialectC {
		fmt.Fprintf(&b, " version %q at %s", f.Version, f.VersionPos)
	}
	b.WriteByte('\n')
	for _, s := range f.Stmts {
		if s.IsComment() {
			fmt.Fprintf(&b, "%s comment %q\n", s.Pos, s.Comment)
			continue
		}
		fmt.Fprintf(&b, "%s &%d %s", s.Pos, s.Index, s.Command)
		if s.LineComment != "" {
			fmt.Fprintf(&b, " (line comment %q)", s.LineComment)
		}
		b.WriteByte('\n')
		for _, a := range s.Args {
			v := a.Value
			fmt.Fprintf(&b, "\t%s ", a.Pos)
			if a.Key != "" {
				fmt.Fprintf(&b, "%q= %s ", a.Key, v.Pos)
			}
			fmt.Fprintf(&b, "%s %s\n", v.Kind, dumpValue(v))
		}
	}
	return b.String()
}

func dumpValue(v *Value) string {
	switch v.Kind {
	case Bool:
		return fmt.Sprint(v.Bool)
	case Int, Ref:
		return fmt.Sprint(v.Int)
	case Float:
		return FormatFloat(v.Float)
	case String:
		return fmt.Sprintf("%q", v.Str)
	}
	return ""
}
