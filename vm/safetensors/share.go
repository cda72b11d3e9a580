package safetensors

import (
	"encoding/binary"
	"hash/maphash"
	"slices"
)

// Sharing tensor tables between open files. A merge of many fine-tunes of one base opens files
// whose tensor tables are identical (the same names, dtypes, shapes and byte offsets; only the
// metadata differs): each parsed table is ~300 KiB for SDXL, 40 MiB for 128 models, all of it
// live for the whole run. A TableCache lets the files opened through it share one table.

// TableCache maps a tensor layout to the first header that had it. Not safe for concurrent use.
type TableCache struct {
	seed   maphash.Seed
	tables map[uint64][]*Header
}

// NewTableCache returns an empty cache.
func NewTableCache() *TableCache {
	return &TableCache{seed: maphash.MakeSeed(), tables: map[uint64][]*Header{}}
}

// Share makes h use the tensor table of a header seen before with exactly the same layout (and
// reports whether it did), or remembers h's. The shared table is read-only, as every table is
// once parsed.
func (c *TableCache) Share(h *Header) bool {
	var mh maphash.Hash
	mh.SetSeed(c.seed)
	var b [8]byte
	for _, n := range h.names {
		t := h.Tensors[n]
		mh.WriteString(n)
		mh.WriteByte(byte(t.DType))
		for _, d := range t.Shape {
			mh.Write(binary.LittleEndian.AppendUint64(b[:0], uint64(d)))
		}
		mh.Write(binary.LittleEndian.AppendUint64(b[:0], uint64(t.Begin)))
		mh.Write(binary.LittleEndian.AppendUint64(b[:0], uint64(t.End)))
	}
	key := mh.Sum64()
	for _, prev := range c.tables[key] {
		if sameLayout(prev, h) {
			h.Tensors, h.names = prev.Tensors, prev.names
			return true
		}
	}
	c.tables[key] = append(c.tables[key], h)
	return false
}

// sameLayout reports whether two headers list the same tensors at the same offsets.
func sameLayout(a, b *Header) bool {
	if len(a.names) != len(b.names) || !slices.Equal(a.names, b.names) {
		return false
	}
	for _, n := range a.names {
		x, y := a.Tensors[n], b.Tensors[n]
		if x.DType != y.DType || x.Begin != y.Begin || x.End != y.End || !slices.Equal(x.Shape, y.Shape) {
			return false
		}
	}
	return true
}
