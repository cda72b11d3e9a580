package lang

import (
	"math"
	"strconv"
	"strings"
)

// Format prints f in canonical form: the text sd-mecha itself would write for the same
// lines. The version line (dialect C) comes first; then one line per Stmt, in order,
// with a single space between tokens, positional arguments first and keyword arguments
// after them in the order written; no trailing newline. Values print as sd-mecha prints
// them: floats as Python repr (FormatFloat), ints in decimal, true/false, null, &N, and
// strings quoted, with '\' and '"' escaped in dialect C and raw in dialects A/B.
//
// Comments are kept; an end-of-line comment moves onto its own line above its
// instruction, since sd-mecha only has whole-line comments. Blank lines are dropped.
// An infinite float prints as 1e999 / -1e999 rather than Python's "inf", which sd-mecha
// could not read back.
//
// Format is idempotent on parsed files: Format(Parse(Format(f))) == Format(f).
func Format(f *File) string {
	var b strings.Builder
	first := true
	line := func() {
		if !first {
			b.WriteByte('\n')
		}
		first = false
	}
	if f.Dialect == DialectC {
		line()
		v := f.Version
		if v == "" {
			v = "0.1.0"
		}
		b.WriteString("version " + v)
	}
	for _, s := range f.Stmts {
		if s.IsComment() {
			line()
			b.WriteString(trimComment(s.Comment))
			continue
		}
		if s.LineComment != "" {
			line()
			b.WriteString(trimComment(s.LineComment))
		}
		line()
		b.WriteString(s.Command)
		for _, a := range s.Positional() {
			b.WriteByte(' ')
			b.WriteString(formatValue(f.Dialect, a.Value))
		}
		for _, a := range s.Keywords() {
			b.WriteByte(' ')
			b.WriteString(formatKey(f.Dialect, a.Key))
			b.WriteByte('=')
			b.WriteString(formatValue(f.Dialect, a.Value))
		}
	}
	return b.String()
}

// trimComment drops the whitespace sd-mecha's strip() would remove anyway.
func trimComment(c string) string {
	start, end := pyStrip(c)
	return c[start:end]
}

// formatKey escapes the characters of a dialect C keyword name that the tokenizer would
// otherwise treat specially. Keys of dialects A/B never contain them.
func formatKey(d Dialect, k string) string {
	if d != DialectC || !strings.ContainsAny(k, "\\\" ") {
		return k
	}
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		if c := k[i]; c == '\\' || c == '"' || c == ' ' {
			b.WriteByte('\\')
		}
		b.WriteByte(k[i])
	}
	return b.String()
}

// FormatValue prints one value as it appears in a recipe of dialect d.
func FormatValue(d Dialect, v *Value) string { return formatValue(d, v) }

func formatValue(d Dialect, v *Value) string {
	switch v.Kind {
	case Null:
		return "null"
	case Bool:
		if v.Bool {
			return "true"
		}
		return "false"
	case Int:
		return strconv.FormatInt(v.Int, 10)
	case Float:
		switch {
		case math.IsInf(v.Float, 1):
			return "1e999"
		case math.IsInf(v.Float, -1):
			return "-1e999"
		}
		return FormatFloat(v.Float)
	case Ref:
		return "&" + strconv.FormatInt(v.Int, 10)
	case String:
		if d != DialectC {
			return `"` + v.Str + `"`
		}
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v.Str) + `"`
	}
	return v.Raw
}
