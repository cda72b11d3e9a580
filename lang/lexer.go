package lang

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/mechac/mechac/lang/pos"
)

// Token types produced by the recipe lexer. Symbol names (for participle grammars) are
// the names without the Tok prefix: "Version", "Command", "Key", ...
const (
	TokVersion lexer.TokenType = iota + 1 // the X of a "version X" first line (dialect C)
	TokCommand                            // first token of an instruction line
	TokKey                                // keyword name; the value token follows
	TokRef                                // &N, text as written
	TokString                             // quoted string, text with its quotes, escapes taken
	TokFloat                              // number containing '.', 'e' or 'E'
	TokInt                                // any other number
	TokConst                              // null, true, false (dialect C)
	TokComment                            // '#' comment: a whole line, or after an instruction
	TokEOL                                // end of a non-blank line
)

var symbols = map[string]lexer.TokenType{
	"EOF":     lexer.EOF,
	"Version": TokVersion,
	"Command": TokCommand,
	"Key":     TokKey,
	"Ref":     TokRef,
	"String":  TokString,
	"Float":   TokFloat,
	"Int":     TokInt,
	"Const":   TokConst,
	"Comment": TokComment,
	"EOL":     TokEOL,
}

// NewLexer returns the participle lexer definition for .mecha files. It detects the
// dialect of each file it lexes and classifies every argument the way sd-mecha does, so a
// grammar only has to arrange token types. Lexing fails with a pos.ErrorList on the first
// file that has lexical errors.
func NewLexer() lexer.Definition { return lexerDef{} }

type lexerDef struct{}

func (lexerDef) Symbols() map[string]lexer.TokenType {
	m := make(map[string]lexer.TokenType, len(symbols))
	for k, v := range symbols {
		m[k] = v
	}
	return m
}

func (d lexerDef) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return d.LexBytes(filename, src)
}

func (lexerDef) LexBytes(filename string, src []byte) (lexer.Lexer, error) {
	s := scanFile(filename, src)
	if len(s.errs) > 0 {
		s.errs.Sort()
		return nil, s.errs
	}
	return &sliceLexer{toks: s.toks}, nil
}

func (d lexerDef) LexString(filename string, src string) (lexer.Lexer, error) {
	return d.LexBytes(filename, []byte(src))
}

// sliceLexer hands out tokens that were produced in advance, then EOF forever.
type sliceLexer struct {
	toks []lexer.Token
	i    int
	eof  lexer.Position
}

func (l *sliceLexer) Next() (lexer.Token, error) {
	if l.i >= len(l.toks) {
		p := l.eof
		if len(l.toks) > 0 {
			p = l.toks[len(l.toks)-1].Pos
		}
		return lexer.EOFToken(p), nil
	}
	t := l.toks[l.i]
	l.i++
	return t, nil
}

// scan is the result of lexing a whole file.
type scan struct {
	filename string
	dialect  Dialect
	version  string
	verPos   pos.Position
	lines    []*srcLine
	toks     []lexer.Token
	errs     pos.ErrorList
	bad      map[int]bool // line numbers whose instruction could not be lexed
	index    int          // reference index of the instruction being lexed
	first    int          // index into lines of the first non-blank line, -1 if none
}

func (s *scan) pos(line, col int) pos.Position {
	return pos.Position{File: s.filename, Line: line, Col: col}
}

func (s *scan) errorf(line, col int, format string, args ...any) {
	s.errs.Addf(s.pos(line, col), format, args...)
}

func (s *scan) tok(t lexer.TokenType, value string, l *srcLine, col int) {
	s.toks = append(s.toks, lexer.Token{Type: t, Value: value, Pos: lexer.Position{
		Filename: s.filename, Offset: l.offset + col - 1, Line: l.num, Column: col,
	}})
}

// detectDialect applies the rules of mecha-format §0: a first line "version 0.1.0" means
// dialect C; otherwise any line starting with "call " means A; otherwise B. Blank lines
// before the first line are tolerated (Strict reports them).
func detectDialect(lines []*srcLine) (d Dialect, first int, verToks []rawTok) {
	first = -1
	for i, l := range lines {
		if !l.blank() {
			first = i
			break
		}
	}
	if first < 0 {
		return DialectC, -1, nil
	}
	sc := tokenize(lines[first].body, lines[first].col0, DialectC)
	if len(sc.toks) > 0 && sc.toks[0].text == "version" && !sc.toks[0].unterminated {
		return DialectC, first, sc.toks
	}
	for _, l := range lines {
		if strings.HasPrefix(l.body, "call ") {
			return DialectA, first, nil
		}
	}
	return DialectB, first, nil
}

func scanFile(filename string, src []byte) *scan {
	s := &scan{filename: filename, bad: map[int]bool{}}
	s.lines = splitLines(src)
	for _, l := range s.lines {
		if !utf8.ValidString(l.raw) {
			i := 0
			for i < len(l.raw) {
				r, n := utf8.DecodeRuneInString(l.raw[i:])
				if r == utf8.RuneError && n <= 1 {
					break
				}
				i += n
			}
			s.errorf(l.num, i+1, "invalid UTF-8 encoding")
			s.bad[l.num] = true
		}
	}
	d, first, ver := detectDialect(s.lines)
	s.dialect, s.first = d, first
	if first < 0 {
		s.errorf(1, 1, "empty recipe: no instructions")
		return s
	}
	start := first
	if ver != nil {
		l := s.lines[first]
		s.verPos = s.pos(l.num, l.col0)
		switch {
		case len(ver) == 2 && ver[1].text == "0.1.0" && !ver[1].unterminated:
		case len(ver) == 2 && !ver[1].unterminated:
			s.errorf(l.num, ver[1].col, "unsupported recipe version %q: mechac reads version 0.1.0", ver[1].text)
		default:
			s.errorf(l.num, l.col0, "bad version line %q: want \"version 0.1.0\"", l.body)
		}
		if len(ver) >= 2 {
			s.version = ver[1].text
			s.tok(TokVersion, s.version, l, ver[1].col)
		} else {
			s.tok(TokVersion, "", l, l.col0)
		}
		s.tok(TokEOL, "", l, len(l.text)+1)
		start++
	}
	for _, l := range s.lines[start:] {
		if !l.blank() {
			s.scanLine(l)
		}
	}
	return s
}

// trailingComment finds a dialect C end-of-line comment: a token after the command that
// starts with an unescaped '#'. sd-mecha has no such comments (it fails on the '#'
// token), so accepting them changes the meaning of no recipe that sd-mecha accepts, with
// one exception handled here: a '#' token that contains '=' is a valid sd-mecha keyword
// argument (`#k=1`) and stays one. It returns the index of the comment token or -1.
func trailingComment(toks []rawTok) int {
	for i := 1; i < len(toks); i++ {
		t := toks[i]
		if t.hash && (t.unterminated || !strings.Contains(t.text, "=")) {
			return i
		}
	}
	return -1
}

func (s *scan) scanLine(l *srcLine) {
	d := s.dialect
	if d == DialectC && l.body[0] == '#' {
		// sd-mecha skips these lines entirely: they take no reference index.
		s.tok(TokComment, l.body, l, l.col0)
		s.tok(TokEOL, "", l, len(l.text)+1)
		return
	}
	if d != DialectC && l.body[0] == '#' {
		s.errorf(l.num, l.col0, "comment line: dialect %s has no comments (only dialect C, \"version 0.1.0\", has)", d)
		s.bad[l.num] = true
		s.tok(TokCommand, "#", l, l.col0)
		s.tok(TokEOL, "", l, len(l.text)+1)
		s.index++
		return
	}
	sc := tokenize(l.body, l.col0, d)
	if len(sc.toks) == 0 {
		// Only possible in dialect C: a line holding nothing but a lone backslash,
		// which the tokenizer drops.
		s.errorf(l.num, l.col0, "empty instruction")
		s.bad[l.num] = true
		s.tok(TokCommand, "", l, l.col0)
		s.tok(TokEOL, "", l, len(l.text)+1)
		s.index++
		return
	}
	toks, comment := sc.toks, ""
	commentCol := 0
	if d == DialectC {
		if i := trailingComment(toks); i >= 0 {
			commentCol = toks[i].col
			comment = l.body[commentCol-l.col0:]
			toks = toks[:i]
		}
	}
	mark := len(s.toks)
	nerr := len(s.errs)
	for _, t := range toks {
		if t.unterminated {
			s.errorf(l.num, t.quoteCol, "unterminated quote")
		}
	}
	if nerr == len(s.errs) {
		s.tok(TokCommand, toks[0].text, l, toks[0].col)
		for _, t := range toks[1:] {
			s.arg(l, t)
		}
		if comment != "" {
			s.tok(TokComment, comment, l, commentCol)
		}
	}
	if nerr != len(s.errs) || s.bad[l.num] {
		// Keep the line as an instruction without arguments so later reference indices
		// stay right and the grammar still sees a well-formed line.
		s.bad[l.num] = true
		s.toks = s.toks[:mark]
		s.tok(TokCommand, toks[0].text, l, toks[0].col)
	}
	s.tok(TokEOL, "", l, len(l.text)+1)
	s.index++
}

// arg classifies one argument token (mecha-format §2.5) and emits its tokens.
func (s *scan) arg(l *srcLine, t rawTok) {
	d := s.dialect
	text := t.text
	// sd-mecha treats any token containing '=' as a keyword, even a quoted positional
	// string ("a=b.safetensors"), which it then fails to decode. mechac reads a token that
	// is exactly one quoted string as that string; Strict reports the difference.
	if t.plain || !strings.Contains(text, "=") {
		s.value(l, text, t.col)
		return
	}
	i := strings.IndexByte(text, '=')
	key, val := text[:i], text[i+1:]
	switch {
	case d != DialectC && strings.Count(text, "=") > 1:
		s.errorf(l.num, t.col, "too many \"=\" in %q: dialect %s allows one per argument", text, d)
		return
	case d != DialectC && strings.HasPrefix(text, `"`):
		// The A/B tokenizer moves characters typed before a quote inside it, so
		// key="v" arrives as "key=v"; sd-mecha then fails to decode `v"`.
		s.errorf(l.num, t.col, "quoted keyword value in %q: dialect %s cannot quote keyword values "+
			"(its tokenizer moves the key inside the quotes)", text, d)
		return
	case key == "":
		s.errorf(l.num, t.col, "missing keyword name before \"=\" in %q", text)
		return
	case val == "":
		s.errorf(l.num, t.col, "missing value after %q", key+"=")
		return
	}
	s.tok(TokKey, key, l, t.col)
	s.value(l, val, t.cols[i+1])
}

func (s *scan) value(l *srcLine, raw string, col int) {
	v, msg := decodeValue(s.dialect, raw)
	if msg != "" {
		if strings.ContainsRune(raw, '\t') {
			msg += " (a tab does not separate arguments)"
		}
		s.errorf(l.num, col, "%s", msg)
		return
	}
	if v.Kind == Ref && (v.Int < 0 || v.Int >= int64(s.index)) {
		// Only backward references exist: &N names the N-th instruction before this one.
		s.errorf(l.num, col, "%s", refRange(v, s.index))
		return
	}
	var tt lexer.TokenType
	switch v.Kind {
	case Null, Bool:
		tt = TokConst
	case Int:
		tt = TokInt
	case Float:
		tt = TokFloat
	case String:
		tt = TokString
	case Ref:
		tt = TokRef
	}
	s.tok(tt, raw, l, col)
}

// decodeValue turns a value token into a Value in sd-mecha's order (mecha-format §2.6):
// constants (dialect C), &reference, quoted string, float if the text contains '.', 'e' or
// 'E', else int. It returns an error message instead when the token is not a value.
// Position fields are left for the caller.
func decodeValue(d Dialect, raw string) (Value, string) {
	v := Value{Raw: raw}
	if d == DialectC {
		switch raw {
		case "null":
			v.Kind = Null
			return v, ""
		case "true", "True":
			// "True"/"False" are what sd-mecha 0.1.0rc1..1.0.3 wrote for booleans and
			// then could not read back; mechac reads them (Strict reports them).
			v.Kind, v.Bool = Bool, true
			return v, ""
		case "false", "False":
			v.Kind = Bool
			return v, ""
		}
	}
	if rest, ok := strings.CutPrefix(raw, "&"); ok {
		n, ok, rangeErr := pyInt(rest)
		switch {
		case !ok:
			return v, fmt.Sprintf("bad reference %q", raw)
		case rangeErr:
			return v, fmt.Sprintf("reference %s out of range", raw)
		}
		v.Kind, v.Int = Ref, n
		return v, ""
	}
	if strings.HasPrefix(raw, `"`) && strings.HasSuffix(raw, `"`) {
		v.Kind = String
		if len(raw) >= 2 {
			v.Str = raw[1 : len(raw)-1]
		}
		return v, ""
	}
	if strings.ContainsAny(raw, ".eE") {
		x, ok := pyFloat(raw)
		if !ok {
			return v, badValue(d, raw)
		}
		v.Kind, v.Float = Float, x
		return v, ""
	}
	n, ok, rangeErr := pyInt(raw)
	switch {
	case !ok:
		return v, badValue(d, raw)
	case rangeErr:
		return v, fmt.Sprintf("integer %q does not fit in 64 bits (mechac limitation)", raw)
	}
	v.Kind, v.Int = Int, n
	return v, ""
}

// badValue words the error for a token that is neither a constant, a reference, a
// string nor a number.
func badValue(d Dialect, raw string) string {
	word := strings.ToLower(strings.TrimLeft(raw, "+-"))
	switch {
	case word == "inf" || word == "infinity" || word == "nan":
		return fmt.Sprintf("bad number %q: sd-mecha cannot read infinities or NaN", raw)
	case d != DialectC && (raw == "null" || raw == "true" || raw == "false"):
		return fmt.Sprintf("bad value %q: dialect %s has no null, true or false", raw, d)
	}
	t := strings.TrimLeft(raw, "+-")
	if t != "" && (t[0] >= '0' && t[0] <= '9' || t[0] == '.') {
		return fmt.Sprintf("bad number %q", raw)
	}
	want := `a number, a "string", a &reference or null/true/false`
	if d != DialectC {
		want = `a number, a "string" or a &reference`
	}
	return fmt.Sprintf("bad value %q: want %s", raw, want)
}

// Tokens lexes src and returns its dialect, the token stream a grammar would see and
// every lexical error. It is what NewLexer does, without stopping at errors.
func Tokens(filename string, src []byte) (Dialect, []lexer.Token, pos.ErrorList) {
	s := scanFile(filename, src)
	s.errs.Sort()
	return s.dialect, s.toks, s.errs
}
