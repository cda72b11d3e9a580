package lang

import (
	"math"
	"strconv"
	"strings"
	"unicode"
)

// pyNormalize does what CPython does to the argument of int() and float() before
// parsing: every Unicode whitespace becomes a space, every Unicode decimal digit (category
// Nd, e.g. '٣') becomes its ASCII digit, and the result is trimmed of spaces. Other
// non-ASCII characters are kept and later fail the syntax check.
func pyNormalize(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if !ascii {
		var b strings.Builder
		for _, r := range s {
			switch {
			case pyIsSpace(r):
				b.WriteByte(' ')
			case r >= 0x80 && unicode.IsDigit(r):
				b.WriteByte(byte('0' + digitValue(r)))
			default:
				b.WriteRune(r)
			}
		}
		s = b.String()
	}
	return strings.TrimFunc(s, func(r rune) bool { return r < 0x80 && pyIsSpace(r) })
}

// digitValue returns the value of a Unicode decimal digit. Unicode allocates decimal
// digits in contiguous runs of ten starting at zero, so the value is the distance from the
// start of the run, modulo ten (some runs, like the mathematical digits, follow each other).
func digitValue(r rune) int {
	z := r
	for unicode.IsDigit(z - 1) {
		z--
	}
	return int(r-z) % 10
}

// digitPart checks Python's digitpart: digit (["_"] digit)*, and returns the digits
// without underscores.
func digitPart(s string) (string, bool) {
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' {
		return "", false
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			b = append(b, c)
		case c == '_' && s[i+1] != '_':
		default:
			return "", false
		}
	}
	return string(b), true
}

// pyInt parses s as Python's int(s) with base 10 does: optional surrounding whitespace,
// optional sign, decimal digits with single underscores between them, leading zeros
// allowed. ok is false for a syntax error; rangeErr is true for a valid int outside int64.
func pyInt(s string) (n int64, ok, rangeErr bool) {
	s = pyNormalize(s)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	digits, ok := digitPart(s)
	if !ok {
		return 0, false, false
	}
	if neg {
		digits = "-" + digits
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, true, true
	}
	return n, true, false
}

// pyFloat parses s as Python's float(s) does for the decimal forms:
// [sign] (digitpart ["." [digitpart]] | "." digitpart) [("e"|"E") [sign] digitpart],
// with optional surrounding whitespace. Overflow gives ±Inf, as in Python. The words
// inf/nan/infinity are not handled: sd-mecha only calls float() on tokens containing '.',
// 'e' or 'E', and none of those words do, so they can never reach it.
func pyFloat(s string) (float64, bool) {
	s = pyNormalize(s)
	var b strings.Builder
	if s != "" && (s[0] == '+' || s[0] == '-') {
		b.WriteByte(s[0])
		s = s[1:]
	}
	mant, exp := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, exp = s[:i], s[i+1:]
	}
	intPart, frac, hasDot := mant, "", false
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		intPart, frac, hasDot = mant[:i], mant[i+1:], true
	}
	if intPart == "" && frac == "" {
		return 0, false
	}
	if intPart != "" {
		d, ok := digitPart(intPart)
		if !ok {
			return 0, false
		}
		b.WriteString(d)
	} else {
		b.WriteByte('0')
	}
	if hasDot && frac != "" {
		d, ok := digitPart(frac)
		if !ok {
			return 0, false
		}
		b.WriteByte('.')
		b.WriteString(d)
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		b.WriteByte('e')
		if exp != "" && (exp[0] == '+' || exp[0] == '-') {
			b.WriteByte(exp[0])
			exp = exp[1:]
		}
		d, ok := digitPart(exp)
		if !ok {
			return 0, false
		}
		b.WriteString(d)
	}
	x, err := strconv.ParseFloat(b.String(), 64)
	if err != nil && !math.IsInf(x, 0) {
		return 0, false
	}
	return x, true
}

// FormatFloat formats x the way Python's repr(float) does, which is how sd-mecha writes
// floats: the shortest digit string that reads back as x, in fixed notation when the
// decimal exponent is in [-4, 16) (with ".0" added to integral values, e.g. "2.0",
// "123456789.0", "0.0001"), else in exponent notation with a sign and at least two exponent
// digits ("1e-05", "1e+16", "1.5e-07"). Infinities and NaN print as "inf", "-inf", "nan".
func FormatFloat(x float64) string {
	switch {
	case math.IsNaN(x):
		return "nan"
	case math.IsInf(x, 1):
		return "inf"
	case math.IsInf(x, -1):
		return "-inf"
	case x == 0:
		if math.Signbit(x) {
			return "-0.0"
		}
		return "0.0"
	}
	s := strconv.FormatFloat(x, 'e', -1, 64) // [-]d[.ddd]e±XX
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	e := strings.IndexByte(s, 'e')
	digits := strings.Replace(s[:e], ".", "", 1)
	exp, _ := strconv.Atoi(s[e+1:])
	if exp >= -4 && exp < 16 {
		if exp < 0 {
			return sign + "0." + strings.Repeat("0", -exp-1) + digits
		}
		if len(digits) <= exp+1 {
			return sign + digits + strings.Repeat("0", exp+1-len(digits)) + ".0"
		}
		return sign + digits[:exp+1] + "." + digits[exp+1:]
	}
	m := digits[:1]
	if len(digits) > 1 {
		m += "." + digits[1:]
	}
	es := "+"
	if exp < 0 {
		es, exp = "-", -exp
	}
	ed := strconv.Itoa(exp)
	if len(ed) < 2 {
		ed = "0" + ed
	}
	return sign + m + "e" + es + ed
}
