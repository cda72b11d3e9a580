package lang

import (
	"strings"

	"github.com/mechac/mechac/lang/pos"
)

// Strict reports what sd-mecha would reject or read differently although Parse accepts
// it. It complements Parse and does not repeat Parse's errors; run both. Reports, each
// once per occurrence and in position order:
//
//   - a trailing newline in dialect C (sd-mecha reads an empty last line and fails),
//     reported on the empty line after it;
//   - blank lines (same failure);
//   - a version line that is not byte-exactly "version 0.1.0" (extra spaces, CR, tabs);
//   - tabs outside quotes: sd-mecha does not split at them, so they glue tokens together;
//   - a carriage return inside a line of dialect A/B (Python's readlines splits there);
//   - True/False in dialect C (sd-mecha tries float("True") and fails);
//   - end-of-line comments (sd-mecha reads '#' as a value and fails);
//   - a quoted positional string containing '=' (sd-mecha splits it into a keyword).
func Strict(filename string, src []byte) pos.ErrorList {
	var errs pos.ErrorList
	at := func(line, col int) pos.Position { return pos.Position{File: filename, Line: line, Col: col} }
	lines := splitLines(src)
	d, first, ver := detectDialect(lines)
	for i, l := range lines {
		if l.blank() {
			if len(src) > 0 {
				errs.Add(at(l.num, 1), "blank line: sd-mecha rejects empty lines")
			}
			continue
		}
		if d != DialectC {
			if j := strings.IndexByte(l.text, '\r'); j >= 0 && strings.TrimRight(l.text[j:], "\r") != "" {
				errs.Add(at(l.num, j+1), "carriage return inside the line: sd-mecha splits the line there")
			}
		}
		if i == first && ver != nil {
			if len(ver) == 2 && ver[1].text == "0.1.0" && l.raw != "version 0.1.0" {
				errs.Add(at(l.num, 1), versionProblem(l.raw))
			}
			continue
		}
		if d == DialectC && l.body[0] == '#' {
			continue
		}
		sc := tokenize(l.body, l.col0, d)
		toks := sc.toks
		cut := len(l.body) + l.col0
		if d == DialectC {
			if k := trailingComment(toks); k >= 0 {
				errs.Add(at(l.num, toks[k].col), "end-of-line comment: sd-mecha has only whole-line comments and fails on the '#'")
				cut = toks[k].col
				toks = toks[:k]
			}
		}
		for _, c := range sc.tabs {
			if c < cut {
				errs.Add(at(l.num, c), "tab outside quotes: sd-mecha does not split tokens at tabs and reads it as part of a value")
			}
		}
		for k, t := range toks {
			if k == 0 || t.unterminated {
				continue
			}
			if t.plain && strings.Contains(t.text, "=") {
				errs.Addf(at(l.num, t.col), "quoted string %s contains \"=\": sd-mecha reads it as keyword %s and fails", t.text,
					t.text[:strings.IndexByte(t.text, '=')])
				continue
			}
			if d != DialectC {
				continue
			}
			raw, col := t.text, t.col
			if i := strings.IndexByte(raw, '='); i >= 0 {
				raw = raw[i+1:]
				if i+1 < len(t.cols) {
					col = t.cols[i+1]
				}
			}
			if raw == "True" || raw == "False" {
				errs.Addf(at(l.num, col), "%s: sd-mecha cannot read it back (it tries float(%q)); write %s", raw, raw, strings.ToLower(raw))
			}
		}
	}
	// Dialect C splits the text at "\n", so a final newline makes an empty last line;
	// dialects A/B read with Python's readlines(), which does not.
	if d == DialectC && len(src) > 0 && src[len(src)-1] == '\n' {
		errs.Add(at(len(lines)+1, 1), "file ends with a newline: sd-mecha reads an empty last line and rejects the recipe")
	}
	errs.Sort()
	return errs
}

func versionProblem(raw string) string {
	const want = `version line is not exactly "version 0.1.0"`
	switch {
	case strings.HasSuffix(raw, "\r"):
		return want + " (it ends with a carriage return: CRLF line endings): sd-mecha rejects the recipe"
	case strings.ContainsRune(raw, '\t'):
		return want + " (it contains a tab): sd-mecha rejects the recipe"
	}
	return want + " (extra spaces): sd-mecha rejects the recipe"
}
