package lang

import (
	"unicode"
	"unicode/utf8"
)

// srcLine is one physical line of a recipe.
type srcLine struct {
	num    int    // 1-based line number
	offset int    // byte offset of the line's first byte in the file
	raw    string // the line without its '\n' (a '\r' before it is still there)
	text   string // the line without '\n' and without one trailing '\r'
	crlf   bool   // the line ended in "\r\n"
	last   bool   // no '\n' follows this line
	// body is text with Python whitespace stripped from both ends, as sd-mecha's
	// line.strip() does; col0 is the 1-based byte column of body[0].
	body string
	col0 int
}

func (l *srcLine) blank() bool { return l.body == "" }

// splitLines cuts src at '\n' the way sd-mecha's dialect C reader does (text.split("\n")).
// A final '\n' does not start another line here: Parse accepts a trailing newline, and
// Strict reports it separately. One '\r' before each '\n' is set aside so CRLF files read
// like LF files.
func splitLines(src []byte) []*srcLine {
	var lines []*srcLine
	off := 0
	for n := 1; off < len(src) || n == 1; n++ {
		end := off
		for end < len(src) && src[end] != '\n' {
			end++
		}
		l := &srcLine{num: n, offset: off, raw: string(src[off:end]), last: end == len(src)}
		l.text = l.raw
		if !l.last && len(l.text) > 0 && l.text[len(l.text)-1] == '\r' {
			l.text = l.text[:len(l.text)-1]
			l.crlf = true
		}
		start, stop := pyStrip(l.text)
		l.body = l.text[start:stop]
		l.col0 = start + 1
		lines = append(lines, l)
		off = end + 1
		if end == len(src) {
			break
		}
	}
	return lines
}

// pyIsSpace reports whether Python's str.isspace() is true for r. Python's strip(), int()
// and float() all use this set; it is Go's unicode.IsSpace plus the ASCII information
// separators U+001C..U+001F.
func pyIsSpace(r rune) bool {
	if r >= 0x1c && r <= 0x1f {
		return true
	}
	return unicode.IsSpace(r)
}

// pyStrip returns the byte range of s left after Python's str.strip().
func pyStrip(s string) (start, end int) {
	start, end = 0, len(s)
	for start < end {
		r, n := utf8.DecodeRuneInString(s[start:end])
		if r == utf8.RuneError && n <= 1 || !pyIsSpace(r) {
			break
		}
		start += n
	}
	for end > start {
		r, n := utf8.DecodeLastRuneInString(s[start:end])
		if r == utf8.RuneError && n <= 1 || !pyIsSpace(r) {
			break
		}
		end -= n
	}
	return start, end
}

// rawTok is one token as sd-mecha's tokenizer produces it, before classification.
type rawTok struct {
	text string // escapes taken; in dialects A/B the quotes are part of it
	cols []int  // source column of each byte of text (synthesized quotes: their quote's column)
	col  int    // column of the token's first source character
	// plain is true when the token is exactly one quoted string whose opening quote is the
	// token's first source character (no prefix, no escape before it).
	plain bool
	// hash is true when the token's first source character is an unescaped '#'.
	hash bool
	// unterminated marks the last token of a line whose quote never closed; quoteCol is
	// the column of that opening quote.
	unterminated bool
	quoteCol     int
}

// lineScan is the result of tokenizing one line body.
type lineScan struct {
	toks []rawTok
	// tabs holds the columns of TAB characters outside quotes, which sd-mecha does not
	// treat as separators (used by Strict and for hints).
	tabs []int
}

// tokenize splits one stripped line body into raw tokens, reproducing sd-mecha's
// tokenizers byte for byte. Working on bytes rather than runes is equivalent because every
// special character (space, quote, backslash) is ASCII and never part of a UTF-8
// multi-byte sequence; an escaped multi-byte character is copied byte by byte either way.
func tokenize(body string, col0 int, d Dialect) lineScan {
	var (
		sc       lineScan
		cur      []byte
		curCols  []int
		prefix   []byte
		preCols  []int
		inq, esc bool
		start    = -1 // column of the current token's first source char, -1 if none
		plain    bool
		hash     bool
		quoteCol int
		escCol   int
	)
	reset := func() {
		cur, curCols, prefix, preCols = nil, nil, nil, nil
		start, plain, hash = -1, false, false
	}
	emit := func(text []byte, cols []int) {
		sc.toks = append(sc.toks, rawTok{text: string(text), cols: cols, col: start, plain: plain, hash: hash})
		reset()
	}
	for i := 0; i < len(body); i++ {
		ch, c := body[i], col0+i
		if d == DialectC {
			if esc {
				// Positions point at the backslash, where the escaped character's
				// spelling starts.
				esc = false
				cur, curCols = append(cur, ch), append(curCols, escCol)
				continue
			}
			if ch == '\\' {
				// The backslash itself is dropped; the next byte is taken literally.
				esc, escCol = true, c
				if start < 0 {
					start = c
				}
				continue
			}
		}
		switch {
		case ch == '"':
			inq = !inq
			if inq {
				quoteCol = c
				if start < 0 {
					start, plain = c, true
				}
				if d == DialectC {
					// Dialect C remembers what preceded the quote (`key=`) and puts it
					// back in front of the quoted part when the quote closes.
					prefix, preCols = cur, curCols
					cur, curCols = nil, nil
				}
				// Dialects A/B keep the characters typed before the quote in cur, so
				// they end up inside the quotes: key="v" is the string "key=v".
				continue
			}
			var text []byte
			var cols []int
			text = append(text, prefix...)
			cols = append(cols, preCols...)
			text = append(text, '"')
			cols = append(cols, quoteCol)
			text = append(text, cur...)
			cols = append(cols, curCols...)
			text = append(text, '"')
			cols = append(cols, c)
			emit(text, cols)
			continue
		case ch == ' ' && !inq:
			if len(cur) > 0 {
				emit(cur, curCols)
			}
			reset()
			continue
		}
		if ch == '\t' && !inq {
			sc.tabs = append(sc.tabs, c)
		}
		if start < 0 {
			start = c
			hash = ch == '#'
		}
		cur, curCols = append(cur, ch), append(curCols, c)
	}
	if inq {
		// Keep what was read so far: a trailing comment (dialect C) may contain the
		// quote, and error messages want the opening quote's column.
		var text []byte
		text = append(text, prefix...)
		text = append(text, '"')
		text = append(text, cur...)
		cols := append(append(append([]int(nil), preCols...), quoteCol), curCols...)
		sc.toks = append(sc.toks, rawTok{text: string(text), cols: cols, col: start, plain: plain, hash: hash,
			unterminated: true, quoteCol: quoteCol})
		return sc
	}
	if len(cur) > 0 {
		emit(cur, curCols)
	}
	return sc
}
