package compiler

import (
	"iter"
	"math/bits"
)

// keyUniverse numbers the key names one compilation meets, so that a key set is a bitset:
// a recipe of 216 models has ~430 key sets of 2515 keys each, and as maps of strings they
// were a third of the compiler's live heap (~35 MB); as bitsets they are 315 bytes each.
type keyUniverse struct {
	ids   map[string]int
	names []string
}

func newKeyUniverse() *keyUniverse { return &keyUniverse{ids: map[string]int{}} }

// id is k's number, given on first sight.
func (u *keyUniverse) id(k string) int {
	if i, ok := u.ids[k]; ok {
		return i
	}
	i := len(u.names)
	u.ids[k] = i
	u.names = append(u.names, k)
	return i
}

// keySet is a set of canonical key names, or every key (a constant broadcast). The zero
// value is the empty set.
type keySet struct {
	all  bool
	u    *keyUniverse
	bits []uint64 // bit i: key u.names[i]
}

func (u *keyUniverse) newSet() keySet { return keySet{u: u} }

// has reports whether k is in s.
func (s keySet) has(k string) bool {
	if s.all {
		return true
	}
	if s.u == nil {
		return false
	}
	i, ok := s.u.ids[k]
	return ok && s.hasID(i)
}

// keyIn is s.has(g.key) with the key's id looked up once per key and universe: the code
// generator asks it of several sets for every value of every key, and each lookup hashed the
// key's name (a tenth of the generation's time with the other name lookups).
func (g *generator) keyIn(s keySet) bool {
	if s.all || s.u == nil {
		return s.all
	}
	if s.u != g.keyU || g.key != g.keyName {
		i, ok := s.u.ids[g.key]
		if !ok {
			return false // (not cached: a set may add the key to the universe later)
		}
		g.keyU, g.keyName, g.keyID = s.u, g.key, i
	}
	return s.hasID(g.keyID)
}

func (s keySet) hasID(i int) bool {
	w := i >> 6
	return w < len(s.bits) && s.bits[w]&(1<<(uint(i)&63)) != 0
}

// add puts k in s (not for the set of all keys).
func (s *keySet) add(k string) {
	i := s.u.id(k)
	w := i >> 6
	if w >= len(s.bits) {
		s.bits = append(s.bits, make([]uint64, w+1-len(s.bits))...)
	}
	s.bits[w] |= 1 << (uint(i) & 63)
}

// unionWith adds o's keys to s (neither is the set of all keys).
func (s *keySet) unionWith(o keySet) {
	if len(o.bits) > len(s.bits) {
		s.bits = append(s.bits, make([]uint64, len(o.bits)-len(s.bits))...)
	}
	for i, w := range o.bits {
		s.bits[i] |= w
	}
}

// intersectWith removes from s the keys o lacks (o is not the set of all keys).
func (s *keySet) intersectWith(o keySet) {
	for i := range s.bits {
		if i < len(o.bits) {
			s.bits[i] &= o.bits[i]
		} else {
			s.bits[i] = 0
		}
	}
}

// clone is a copy of s that can change without changing s.
func (s keySet) clone() keySet {
	s.bits = append([]uint64(nil), s.bits...)
	return s
}

// keys yields the names in s in the order they were first seen (not sorted).
func (s keySet) keys() iter.Seq[string] {
	return func(yield func(string) bool) {
		for w, word := range s.bits {
			for word != 0 {
				b := bits.TrailingZeros64(word)
				word &= word - 1
				if !yield(s.u.names[w<<6+b]) {
					return
				}
			}
		}
	}
}

// len is the number of keys in s (not for the set of all keys).
func (s keySet) len() int {
	n := 0
	for _, w := range s.bits {
		n += bits.OnesCount64(w)
	}
	return n
}
