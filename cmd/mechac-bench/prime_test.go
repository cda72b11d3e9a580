package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestPrimeInputs: each input is dropped from the page cache and read once per process, at
// its first warm run; a file that cannot be read is an error and stays unprimed.
func TestPrimeInputs(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, make([]byte, 1<<16), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	drops := map[string]int{}
	defer func(f func(string) error) { primeDrop = f }(primeDrop)
	primeDrop = func(p string) error { drops[p]++; return dropCache(p) }
	for range 2 {
		if err := primeInputs([]string{a, b}); err != nil {
			t.Fatal(err)
		}
	}
	want := 0
	if canDropCache {
		want = 1
	}
	for _, p := range []string{a, b} {
		if drops[p] != want || !primed[p] {
			t.Errorf("%s: dropped %d times, primed %v; want %d, true", p, drops[p], primed[p], want)
		}
	}
	missing := filepath.Join(dir, "missing")
	if err := primeInputs([]string{missing}); err == nil || primed[missing] {
		t.Errorf("a missing input: %v, primed %v", err, primed[missing])
	}
}
