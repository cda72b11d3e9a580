package lang

import (
	"fmt"
	"strings"
	"sync"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/mechac/mechac/lang/pos"
)

// The participle grammar. The lexer has already split lines, classified every argument
// and checked its value, so the grammar is only the line structure:
//
//	File    = [ Version EOL ] { Line } .
//	Line    = ( Comment | Command { Arg } [ Comment ] ) EOL .
//	Arg     = [ Key ] ( Ref | String | Float | Int | Const ) .
type gFile struct {
	Version *gVersion `parser:"@@?"`
	Lines   []*gLine  `parser:"@@*"`
}

type gVersion struct {
	Pos   lexer.Position
	Value string `parser:"@Version EOL"`
}

type gLine struct {
	Pos      lexer.Position
	Comment  *string `parser:"( @Comment"`
	Command  *string `parser:"| @Command"`
	Args     []*gArg `parser:"  @@*"`
	Trailing *string `parser:"  @Comment? ) EOL"`
}

type gArg struct {
	Pos   lexer.Position
	Key   *string `parser:"@Key?"`
	Value *gValue `parser:"@@"`
}

type gValue struct {
	Pos    lexer.Position
	Ref    *string `parser:"  @Ref"`
	String *string `parser:"| @String"`
	Float  *string `parser:"| @Float"`
	Int    *string `parser:"| @Int"`
	Const  *string `parser:"| @Const"`
}

func (v *gValue) raw() string {
	for _, p := range []*string{v.Ref, v.String, v.Float, v.Int, v.Const} {
		if p != nil {
			return *p
		}
	}
	return ""
}

var grammar = sync.OnceValue(func() *participle.Parser[gFile] {
	return participle.MustBuild[gFile](participle.Lexer(NewLexer()))
})

// maxErrors bounds the errors Parse reports, as go/parser does: after ten the rest are
// usually consequences or repetitions.
const maxErrors = 10

// commands lists the instruction names each dialect knows.
var commands = map[Dialect][]string{
	DialectC: {"dict", "literal", "merge", "model"},
	DialectA: {"call", "dict", "lora", "model", "parameter"},
	DialectB: {"dict", "merge", "model", "parameter"},
}

func knownCommand(d Dialect, name string) bool {
	for _, c := range commands[d] {
		if c == name {
			return true
		}
	}
	return false
}

// Parse reads a recipe in any dialect. It accepts everything sd-mecha accepts, with the
// same meaning, and also tolerates a trailing newline, CRLF line endings, blank lines,
// end-of-line comments (dialect C), True/False (dialect C) and quoted positional strings
// containing '=' (see Strict for the list). On errors it returns the file as far as it
// could be read together with a sorted pos.ErrorList of at most ten errors.
func Parse(filename string, src []byte) (*File, error) {
	s := scanFile(filename, src)
	f := &File{Name: filename, Dialect: s.dialect, Version: s.version, VersionPos: s.verPos}
	errs := s.errs
	plex, err := lexer.Upgrade(&sliceLexer{toks: s.toks})
	var g *gFile
	if err == nil {
		g, err = grammar().ParseFromLexer(plex)
	}
	if err != nil {
		// The lexer only emits well-formed lines, so this is a bug in mechac.
		p := pos.Position{File: filename, Line: 1, Col: 1}
		if pe, ok := err.(participle.Error); ok {
			p = toPos(filename, pe.Position())
		}
		errs.Addf(p, "internal error: %v", err)
		return f, finish(errs)
	}
	index := 0
	for _, gl := range g.Lines {
		st := &Stmt{Pos: toPos(filename, gl.Pos), Index: -1}
		f.Stmts = append(f.Stmts, st)
		if gl.Comment != nil {
			st.Comment = *gl.Comment
			continue
		}
		st.Command = *gl.Command
		st.Index = index
		index++
		if gl.Trailing != nil {
			st.LineComment = *gl.Trailing
		}
		if st.Command != "" && st.Command != "#" && !knownCommand(s.dialect, st.Command) {
			errs.Add(st.Pos, unknownCommand(s.dialect, st.Command))
		}
		for _, ga := range gl.Args {
			a := &Arg{Pos: toPos(filename, ga.Pos)}
			if ga.Key != nil {
				a.Key = *ga.Key
			}
			v, msg := decodeValue(s.dialect, ga.Value.raw())
			if msg != "" { // the lexer checked every value already
				errs.Addf(a.Pos, "internal error: %s", msg)
			}
			v.Pos = toPos(filename, ga.Value.Pos)
			a.Value = &v
			st.Args = append(st.Args, a)
		}
	}
	if index == 0 && s.first >= 0 {
		p := s.verPos
		if !p.IsValid() {
			p = pos.Position{File: filename, Line: 1, Col: 1}
		}
		errs.Add(p, "empty recipe: no instructions")
	}
	return f, finish(errs)
}

func finish(errs pos.ErrorList) error {
	errs.Sort()
	if len(errs) > maxErrors {
		errs = errs[:maxErrors]
	}
	return errs.Err()
}

func toPos(filename string, p lexer.Position) pos.Position {
	return pos.Position{File: filename, Line: p.Line, Col: p.Column}
}

func unknownCommand(d Dialect, name string) string {
	msg := fmt.Sprintf("unknown command %q (dialect %s has %s)", name, d, strings.Join(commands[d], ", "))
	switch {
	case d == DialectC && name == "call":
		msg += `: "call" is dialect A, write "merge"`
	}
	return msg
}

func refRange(v Value, defined int) string {
	switch {
	case v.Int < 0:
		return fmt.Sprintf("reference %s out of range: references start at &0", v.Raw)
	case defined == 0:
		return fmt.Sprintf("reference %s out of range: no value is defined before this line", v.Raw)
	case defined == 1:
		return fmt.Sprintf("reference %s out of range: only 1 value (&0) is defined before this line", v.Raw)
	}
	return fmt.Sprintf("reference %s out of range: only %d values (&0..&%d) are defined before this line",
		v.Raw, defined, defined-1)
}
