package safetensors

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strings"
)

// parseFast reads the headers that writers produce (string keys without escapes, entries of
// exactly dtype, shape and data_offsets with plain integers, any order, any JSON whitespace)
// without encoding/json's reflection, which cost about 8 µs an entry: 4 of the 10 seconds of
// compiling a 216-model recipe. The entries are validated by the same headerEntry.tensor and
// checkOverlap as parseSlow. Anything else (escapes in a key, other fields, floats, an error)
// returns false and leaves the header to parseSlow, which accepts or rejects it with its
// precise message, so both paths accept the same files with the same result (a fuzz target
// compares them).
func (h *Header) parseFast(raw []byte) bool {
	p := fastParser{b: raw}
	h.Tensors, h.Metadata = nil, nil
	ok := p.header(h)
	if !ok {
		h.Tensors, h.Metadata = nil, nil
	}
	return ok
}

type fastParser struct {
	b []byte
	i int
	// shape and offs are reused by every entry: headerEntry.tensor copies what it keeps, and
	// two fresh slices an entry were a tenth of the parse's allocations.
	shape, offs []json.RawMessage
	dtype       string
}

func (p *fastParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *fastParser) eat(c byte) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a string without escapes or control characters (else false), interned.
func (p *fastParser) str() (string, bool) {
	b, ok := p.strBytes()
	if !ok {
		return "", false
	}
	return internName(b), true
}

// strBytes is str's bytes in the header, for comparisons that need no string.
func (p *fastParser) strBytes() ([]byte, bool) {
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, false
	}
	start := p.i + 1
	for j := start; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			p.i = j + 1
			return p.b[start:j], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false // escapes and non-ASCII (UTF-8 validation): parseSlow
		}
	}
	return nil, false
}

// ints reads an array of plain integers (digits with an optional leading '-') as raw numbers,
// appended to out[:0] (never nil, so an empty array is told apart from a missing field).
func (p *fastParser) ints(out []json.RawMessage) ([]json.RawMessage, bool) {
	if !p.eat('[') {
		return nil, false
	}
	out = out[:0]
	if out == nil {
		out = make([]json.RawMessage, 0, 8)
	}
	if p.eat(']') {
		return out, true
	}
	for {
		p.ws()
		start := p.i
		if p.i < len(p.b) && p.b[p.i] == '-' {
			p.i++
		}
		digits := p.i
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
		}
		if p.i == digits || (p.b[digits] == '0' && p.i-digits > 1) { // no digits, or a leading zero
			return nil, false
		}
		out = append(out, json.RawMessage(p.b[start:p.i]))
		if p.eat(']') {
			return out, true
		}
		if !p.eat(',') {
			return nil, false
		}
	}
}

// skipValue moves past one JSON value (for __metadata__, decoded afterwards by
// decodeMetadata's rules), tracking strings and escapes; false on malformed input.
func (p *fastParser) skipValue() bool {
	p.ws()
	depth := 0
	for p.i < len(p.b) {
		switch c := p.b[p.i]; c {
		case '"':
			j := p.i + 1
			for j < len(p.b) && p.b[j] != '"' {
				if p.b[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(p.b) {
				return false
			}
			p.i = j + 1
		case '{', '[':
			depth++
			p.i++
		case '}', ']':
			depth--
			p.i++
		default:
			p.i++
		}
		if depth == 0 {
			return true
		}
		if depth < 0 {
			return false
		}
	}
	return false
}

func (p *fastParser) header(h *Header) bool {
	if len(p.b) == 0 || p.b[0] != '{' { // no leading whitespace, as parseSlow
		return false
	}
	p.i = 1
	// Sized from a count of the field every entry has (metadata naming it only makes the
	// guess larger): growing the map was a third of the parse's allocations.
	n := bytes.Count(p.b, []byte(`"data_offsets"`))
	h.Tensors = make(map[string]*TensorInfo, n)
	order := make([]*TensorInfo, 0, n) // in the header's order
	dataLen := h.Size - h.DataStart()
	seenMeta := false
	first := true
	for {
		if first && p.eat('}') {
			break
		}
		if !first && !p.eat(',') {
			if !p.eat('}') {
				return false
			}
			break
		}
		first = false
		key, ok := p.str()
		if !ok || !p.eat(':') {
			return false
		}
		if key == metadataKey {
			if seenMeta {
				return false
			}
			seenMeta = true
			p.ws()
			start := p.i
			if p.i >= len(p.b) || p.b[p.i] != '{' || !p.skipValue() {
				return false
			}
			dec := json.NewDecoder(bytes.NewReader(p.b[start:p.i]))
			m, err := decodeMetadata(dec)
			if err != nil {
				return false
			}
			h.Metadata = m
			continue
		}
		if _, dup := h.Tensors[key]; dup {
			return false
		}
		var e headerEntry
		if !p.eat('{') {
			return false
		}
		for n := 0; ; n++ {
			if n > 0 {
				if p.eat('}') {
					break
				}
				if !p.eat(',') {
					return false
				}
			}
			field, ok := p.strBytes()
			if !ok || !p.eat(':') {
				return false
			}
			switch {
			case string(field) == "dtype" && e.DType == nil:
				if p.dtype, ok = p.str(); !ok {
					return false
				}
				e.DType = &p.dtype
			case string(field) == "shape" && e.Shape == nil:
				if e.Shape, ok = p.ints(p.shape); !ok {
					return false
				}
				p.shape = e.Shape
			case string(field) == "data_offsets" && e.DataOffsets == nil:
				if e.DataOffsets, ok = p.ints(p.offs); !ok {
					return false
				}
				p.offs = e.DataOffsets
			default:
				return false
			}
		}
		t, err := e.tensor(key, h.DataStart(), dataLen)
		if err != nil {
			return false
		}
		t.Shape = internShape(t.Shape)
		h.Tensors[key] = t
		order = append(order, t)
	}
	p.ws()
	if p.i != len(p.b) {
		return false
	}
	if h.Metadata == nil {
		h.Metadata = map[string]string{}
	}
	return h.sortAndCheck(order)
}

// sortAndCheck is checkOverlap for the fast path: it orders the entries themselves (no map
// lookup a comparison; writers list them in offset order already, which the sort finds in one
// pass) and reports whether no two non-empty tensors overlap. checkOverlap's work was half
// of parsing an SDXL header.
func (h *Header) sortAndCheck(order []*TensorInfo) bool {
	slices.SortFunc(order, func(a, b *TensorInfo) int {
		if a.Begin != b.Begin {
			return cmp.Compare(a.Begin, b.Begin)
		}
		if a.End != b.End {
			return cmp.Compare(a.End, b.End)
		}
		return strings.Compare(a.Name, b.Name)
	})
	h.names = make([]string, len(order))
	var last *TensorInfo // the non-empty tensor reaching furthest so far
	for i, t := range order {
		h.names[i] = t.Name
		if t.Begin == t.End {
			continue
		}
		if last != nil && t.Begin < last.End {
			return false // parseSlow says which
		}
		if last == nil || t.End > last.End {
			last = t
		}
	}
	return true
}
