package safetensors

import (
	"bytes"
	"encoding/json"
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

// str reads a string without escapes or control characters (else false).
func (p *fastParser) str() (string, bool) {
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", false
	}
	start := p.i + 1
	for j := start; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			p.i = j + 1
			return string(p.b[start:j]), true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return "", false // escapes and non-ASCII (UTF-8 validation): parseSlow
		}
	}
	return "", false
}

// ints reads an array of plain integers (digits with an optional leading '-') as raw numbers.
func (p *fastParser) ints() ([]json.RawMessage, bool) {
	if !p.eat('[') {
		return nil, false
	}
	out := []json.RawMessage{}
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
	h.Tensors = map[string]*TensorInfo{}
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
			field, ok := p.str()
			if !ok || !p.eat(':') {
				return false
			}
			switch {
			case field == "dtype" && e.DType == nil:
				d, ok := p.str()
				if !ok {
					return false
				}
				e.DType = &d
			case field == "shape" && e.Shape == nil:
				if e.Shape, ok = p.ints(); !ok {
					return false
				}
			case field == "data_offsets" && e.DataOffsets == nil:
				if e.DataOffsets, ok = p.ints(); !ok {
					return false
				}
			default:
				return false
			}
		}
		t, err := e.tensor(key, h.DataStart(), dataLen)
		if err != nil {
			return false
		}
		h.Tensors[key] = t
	}
	p.ws()
	if p.i != len(p.b) {
		return false
	}
	if h.Metadata == nil {
		h.Metadata = map[string]string{}
	}
	return h.checkOverlap() == nil
}
