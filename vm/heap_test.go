package vm

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

// TestPrepareHeap checks that an allocation made after PrepareHeap lands in memory advised for
// huge pages: the VmFlags of its mapping in /proc/self/smaps hold "hg" (VM_HUGEPAGE).
func TestPrepareHeap(t *testing.T) {
	if runtime.GOOS != "linux" || !thpAdvised() {
		t.Skip("transparent huge pages are not \"madvise\" here: PrepareHeap does nothing")
	}
	PrepareHeap(256 << 20)
	// Larger than any free run the test binary's heap had before: it comes from the block (it
	// may start in the free pages just below it, hence its middle).
	b := make([]byte, 16<<20)
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b))) + uintptr(len(b)/2)
	flags, err := vmFlagsAt(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(" "+flags+" ", " hg ") {
		t.Errorf("allocation at %#x after PrepareHeap: mapping flags %q, want hg (MADV_HUGEPAGE)", p, flags)
	}
	runtime.KeepAlive(b)
}

// vmFlagsAt returns the VmFlags line of the mapping holding address p in /proc/self/smaps.
func vmFlagsAt(p uintptr) (string, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x", &lo, &hi); n == 2 && strings.Contains(line, " ") && !strings.HasSuffix(strings.Fields(line)[0], ":") {
			in = lo <= p && p < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmFlags:")), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no mapping holds %#x", p)
}
