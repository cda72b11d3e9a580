package safetensors

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"sync"
	"sync/atomic"
)

// Fine-tunes of one model differ in their metadata far more often than in their tensor tables:
// the 216 models of a merge like x215a, saved by one tool, have the same 2515 names, dtypes,
// shapes and offsets, and headers that differ only in a metadata value of the same length
// (a seed, a name), so parsedHeaders (whole headers) finds no copy. A header whose metadata
// object comes first, followed by a table seen already with the same header length and file
// size, takes that table's parse (its tensors and their order, shared: they are not written
// after parse) and parses only its metadata. The parse is a function of the table's bytes,
// the data section's start (the header length) and the file's size, which the key holds (a
// table naming __metadata__ again fails the whole parse, so none is kept).

// tableKey identifies a tensor table: the SHA-256 of its bytes, the header length and the
// file size.
type tableKey struct {
	hash      [32]byte
	headerLen int64
	size      int64
}

// parsedTable is a table's parse.
type parsedTable struct {
	tensors map[string]*TensorInfo
	names   []string
}

// parsedTables keeps the tables this process parsed (at most maxParsedTables: past them a
// table is parsed each time).
var parsedTables struct {
	sync.Mutex
	m map[tableKey]*parsedTable
}

const maxParsedTables = 1024

// tableHits counts the headers that took a table parsed before (for the tests).
var tableHits atomic.Int64

// splitMetadataFirst returns the metadata object and the rest of raw (the tensor table,
// after the comma) when raw opens with the metadata entry; ok is false otherwise.
func splitMetadataFirst(raw []byte) (meta, table []byte, ok bool) {
	p := fastParser{b: raw}
	if !p.eat('{') {
		return nil, nil, false
	}
	key, ok := p.strBytes()
	if !ok || string(key) != metadataKey || !p.eat(':') {
		return nil, nil, false
	}
	p.ws()
	start := p.i
	if p.i >= len(p.b) || p.b[p.i] != '{' || !p.skipValue() {
		return nil, nil, false
	}
	meta = raw[start:p.i]
	if !p.eat(',') {
		return nil, nil, false
	}
	return meta, raw[p.i:], true
}

// parseWithTable fills h from raw, taking the tensors of a table parsed before when there is
// one (the metadata then parsed alone), else parsing raw whole and keeping its table's parse.
func (h *Header) parseWithTable(raw []byte) error {
	meta, table, ok := splitMetadataFirst(raw)
	if !ok {
		headerParses.Add(1)
		return h.parse(raw)
	}
	key := tableKey{hash: sha256.Sum256(table), headerLen: h.HeaderLen, size: h.Size}
	parsedTables.Lock()
	t := parsedTables.m[key]
	parsedTables.Unlock()
	if t != nil {
		m, err := decodeMetadata(json.NewDecoder(bytes.NewReader(meta)))
		if err == nil {
			tableHits.Add(1)
			h.Metadata, h.Tensors, h.names = m, t.tensors, t.names
			return nil
		}
		// A metadata object the whole parse rejects: it says why.
	}
	headerParses.Add(1)
	if err := h.parse(raw); err != nil {
		return err
	}
	parsedTables.Lock()
	if parsedTables.m == nil {
		parsedTables.m = map[tableKey]*parsedTable{}
	}
	if len(parsedTables.m) < maxParsedTables {
		parsedTables.m[key] = &parsedTable{tensors: h.Tensors, names: h.names}
	}
	parsedTables.Unlock()
	return nil
}
