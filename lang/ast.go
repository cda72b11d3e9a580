package lang

import "github.com/mechac/mechac/lang/pos"

// Dialect is one of the three generations of the .mecha format.
type Dialect uint8

const (
	// DialectC is `version 0.1.0` (sd-mecha 0.1.0rc1 .. 1.1.5, Feb 2025 on).
	DialectC Dialect = iota
	// DialectA is the Feb 2024 `call` dialect: `model "p"`, `call "m" &i k=v`.
	DialectA
	// DialectB is the Feb 2024 - Feb 2025 dialect: `model "p" "sdxl" "base"`, `merge "m" ...`.
	DialectB
)

func (d Dialect) String() string { return [...]string{"C", "A", "B"}[d] }

// File is a parsed recipe: what the text says, nothing resolved.
type File struct {
	Name    string
	Dialect Dialect
	// Version is the text after "version " on the first line (dialect C), else "".
	Version    string
	VersionPos pos.Position
	// Stmts holds every line in order: instructions and (dialect C) comment lines.
	Stmts []*Stmt
}

// Instrs returns the instructions (no comments); Instrs()[n] is what `&n` refers to.
func (f *File) Instrs() []*Stmt {
	var out []*Stmt
	for _, s := range f.Stmts {
		if !s.IsComment() {
			out = append(out, s)
		}
	}
	return out
}

// Stmt is one line: a comment, or a command with arguments.
type Stmt struct {
	Pos pos.Position
	// Comment is the full text of a comment line, starting with '#'; empty for instructions.
	Comment string
	// Command is model, merge, dict, literal (C); call, model, dict, parameter (A);
	// merge, model, dict, parameter (B).
	Command string
	Args    []*Arg
	// LineComment is an end-of-line comment ("# ..." after the arguments, dialect C
	// only). sd-mecha has no such comments; Format moves it onto its own line above.
	LineComment string
	// Index is the value index that `&Index` refers to; -1 for comments.
	Index int
}

// IsComment reports whether the line is a comment.
func (s *Stmt) IsComment() bool { return s.Comment != "" }

// Positional returns the positional arguments in order.
func (s *Stmt) Positional() []*Arg {
	var out []*Arg
	for _, a := range s.Args {
		if a.Key == "" {
			out = append(out, a)
		}
	}
	return out
}

// Keywords returns the keyword arguments in the order written (a repeated key: last wins
// when binding, as in sd-mecha, but both stay here so Format can keep the text).
func (s *Stmt) Keywords() []*Arg {
	var out []*Arg
	for _, a := range s.Args {
		if a.Key != "" {
			out = append(out, a)
		}
	}
	return out
}

// Arg is one argument: positional (Key == "") or keyword.
type Arg struct {
	Pos   pos.Position
	Key   string
	Value *Value
}

// ValueKind says what a Value literal is.
type ValueKind uint8

const (
	Null ValueKind = iota
	Bool
	Int
	Float
	String
	Ref
)

func (k ValueKind) String() string {
	return [...]string{"null", "bool", "int", "float", "string", "reference"}[k]
}

// Value is a literal or a reference as written.
type Value struct {
	Pos  pos.Position
	Kind ValueKind
	Bool bool
	// Int holds Int values and, for Ref, the referenced index.
	Int   int64
	Float float64
	Str   string
	// Raw is the token as the tokenizer produced it (escapes already taken).
	Raw string
}
