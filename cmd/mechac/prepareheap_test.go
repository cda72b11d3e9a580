package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestPrepareHeapCap checks that prepareHeap asks for at most a quarter of the memory
// available (the block stays committed), and for compileHeapBytes at most where that is
// unknown.
func TestPrepareHeapCap(t *testing.T) {
	defer func(f func(int64)) { vmPrepareHeap = f }(vmPrepareHeap)
	var got int64
	vmPrepareHeap = func(n int64) { got = n }
	dir := t.TempDir()
	for _, c := range []struct {
		meminfo string // "" for no such file
		ask     int64
		want    int64
	}{
		{"MemTotal: 33554432 kB\nMemAvailable: 16777216 kB\n", 1 << 30, 1 << 30},         // 16 GiB available
		{"MemTotal: 33554432 kB\nMemAvailable: 16777216 kB\n", 8 << 30, 4 << 30},         // capped at 4 GiB
		{"MemTotal: 1048576 kB\nMemAvailable: 409600 kB\n", compileHeapBytes, 100 << 20}, // 400 MiB available
		{"", 1 << 30, compileHeapBytes},
	} {
		path := filepath.Join(dir, "missing")
		if c.meminfo != "" {
			path = filepath.Join(dir, "meminfo")
			if err := os.WriteFile(path, []byte(c.meminfo), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Setenv("MECHAC_MEMINFO", path)
		prepareHeap(c.ask)
		if got != c.want {
			t.Errorf("meminfo %q: prepareHeap(%d) prepared %d, want %d", c.meminfo, c.ask, got, c.want)
		}
	}
}
