// Package pos holds source positions and position-carrying errors for .mecha recipes.
//
// Every diagnostic mechac prints about a recipe reads "file:line:col: message", the form
// Go's own tools use, so editors can jump to it.
package pos

import (
	"fmt"
	"sort"
	"strings"
)

// Position is a place in a recipe file. Line and Col are 1-based; Col counts bytes.
// The zero Position means "unknown".
type Position struct {
	File string
	Line int
	Col  int
}

// IsValid reports whether the position names a line.
func (p Position) IsValid() bool { return p.Line > 0 }

// String formats the position as file:line:col, leaving out the parts that are unknown.
func (p Position) String() string {
	s := p.File
	if p.IsValid() {
		if s != "" {
			s += ":"
		}
		s += fmt.Sprintf("%d", p.Line)
		if p.Col > 0 {
			s += fmt.Sprintf(":%d", p.Col)
		}
	}
	if s == "" {
		s = "-"
	}
	return s
}

// Error is one diagnostic at a position.
type Error struct {
	Pos Position
	Msg string
}

func (e *Error) Error() string {
	if e.Pos.File == "" && !e.Pos.IsValid() {
		return e.Msg
	}
	return e.Pos.String() + ": " + e.Msg
}

// Errorf makes an *Error at p.
func Errorf(p Position, format string, args ...any) *Error {
	return &Error{Pos: p, Msg: fmt.Sprintf(format, args...)}
}

// ErrorList is a list of *Error, sortable by position. Its zero value is empty and ready.
type ErrorList []*Error

// Add appends an error at p.
func (l *ErrorList) Add(p Position, msg string) { *l = append(*l, &Error{Pos: p, Msg: msg}) }

// Addf appends a formatted error at p.
func (l *ErrorList) Addf(p Position, format string, args ...any) {
	l.Add(p, fmt.Sprintf(format, args...))
}

// Len, Less and Swap make ErrorList a sort.Interface ordered by file, line, column.
func (l ErrorList) Len() int      { return len(l) }
func (l ErrorList) Swap(i, j int) { l[i], l[j] = l[j], l[i] }
func (l ErrorList) Less(i, j int) bool {
	a, b := l[i].Pos, l[j].Pos
	if a.File != b.File {
		return a.File < b.File
	}
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	return a.Col < b.Col
}

// Sort sorts the list by position (stable, so equal positions keep their order).
func (l ErrorList) Sort() { sort.Stable(l) }

// Err returns nil for an empty list, else the list itself as an error.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Error prints every error on its own line.
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}
