//go:build unix && !linux

package vm

// adviseHugePages is a no-op where madvise has no MADV_HUGEPAGE.
func adviseHugePages([]byte) {}
