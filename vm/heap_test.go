//go:build linux

package vm

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// freshPrepareHeapTest is the common start of the PrepareHeap measurements: it skips them
// under the race detector and where huge pages are not advised, and reports whether this is
// the fresh process that measures (inFreshProcess).
func freshPrepareHeapTest(t *testing.T) bool {
	t.Helper()
	if raceEnabled {
		t.Skip("the race detector faults in its shadow memory for the collections' work: the faults counted are not the block's")
	}
	needAdvised(t)
	return inFreshProcess(t)
}

// TestPrepareHeapUntouched checks that PrepareHeap does not touch its block when the heap's
// free pages next to its end were used before: the runtime would clear a large allocation
// that starts there, faulting in the rest of it (it once cost a run 0.6 s).
func TestPrepareHeapUntouched(t *testing.T) {
	if !freshPrepareHeapTest(t) {
		return
	}
	useAndDrop(32 << 20)
	before := minorFaults()
	PrepareHeap(128 << 20)
	if n := minorFaults() - before; n > 2048 {
		t.Errorf("PrepareHeap(128 MiB) took %d page faults, want its block untouched", n)
	}
}

// TestPrepareHeapFirst checks PrepareHeap before any collection, as `mechac run` calls it
// first: it skips returning the free pages then (there are none a collection freed), and its
// block must still be untouched, as must an allocation from it.
func TestPrepareHeapFirst(t *testing.T) {
	if !freshPrepareHeapTest(t) {
		return
	}
	if n := gcCycles(); n != 0 {
		t.Fatalf("%d collections before the test: this process is not fresh", n)
	}
	before := minorFaults()
	PrepareHeap(128 << 20)
	if n := minorFaults() - before; n > 2048 {
		t.Errorf("PrepareHeap(128 MiB) first took %d page faults, want its block untouched", n)
	}
	b := make([]byte, 64<<20)
	defer runtime.KeepAlive(b)
	if n := residentPages(t, b); n > len(b)/os.Getpagesize()/8 {
		t.Errorf("%d of the %d pages of an allocation after PrepareHeap are resident before any use, want it untouched", n, len(b)/os.Getpagesize())
	}
}

// TestPrepareHeap checks that an allocation made after PrepareHeap lands in memory advised for
// huge pages: the VmFlags of its mapping in /proc/self/smaps hold "hg" (VM_HUGEPAGE).
func TestPrepareHeap(t *testing.T) {
	needAdvised(t)
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

// TestPrepareHeapTwice checks that a PrepareHeap after the heap has been used leaves its
// pages untouched for the allocations that follow: the runtime clears a large allocation on
// pages it used before (they would then be faulted in 4 KiB at a time, by its clearing, and
// resident), unless they were returned to the OS.
func TestPrepareHeapTwice(t *testing.T) {
	needAdvised(t)
	if !inFreshProcess(t) {
		return
	}
	// The heap the tests before this one leave, in which the mutation below fails: a block
	// prepared after some use, and an allocation from it.
	useAndDrop(32 << 20)
	PrepareHeap(128 << 20)
	heapPrepared.Store(0)
	runtime.KeepAlive(make([]byte, 16<<20))
	heapPrepared.Store(0)
	PrepareHeap(256 << 20)
	useAndDrop(128 << 20)
	heapPrepared.Store(0) // a second block, though smaller
	PrepareHeap(64 << 20)
	b := make([]byte, 64<<20)
	if n := residentPages(t, b); n > len(b)/os.Getpagesize()/8 {
		t.Errorf("%d of the %d pages of an allocation after PrepareHeap are resident before any use, want it untouched", n, len(b)/os.Getpagesize())
	}
	runtime.KeepAlive(b)
}

// needAdvised skips a test where PrepareHeap does nothing, and forgets earlier calls.
func needAdvised(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" || !thpAdvised() {
		t.Skip("transparent huge pages are not \"madvise\" here: PrepareHeap does nothing")
	}
	heapPrepared.Store(0)
}

// useAndDrop touches n bytes of heap in 512 KiB blocks, drops them and collects them: free
// pages the runtime handed out before.
func useAndDrop(n int) {
	var keep [][]byte
	for range n / (512 << 10) {
		b := make([]byte, 512<<10)
		b[0] = 1
		keep = append(keep, b)
	}
	runtime.KeepAlive(keep)
	keep = nil
	runtime.GC()
}

// minorFaults is the process's minor page faults so far.
func minorFaults() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Minflt
}

// residentPages counts the pages of b in memory (mincore).
func residentPages(t *testing.T, b []byte) int {
	vec := make([]byte, (len(b)+os.Getpagesize()-1)/os.Getpagesize())
	_, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		t.Fatal(errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// TestPrepareHeapOnce checks that a call for no more than an earlier one does nothing: no
// collection.
func TestPrepareHeapOnce(t *testing.T) {
	needAdvised(t)
	var ms runtime.MemStats
	count := func() uint32 { runtime.ReadMemStats(&ms); return ms.NumForcedGC }
	before := count()
	PrepareHeap(64 << 20)
	if got := count() - before; got != 2 {
		t.Errorf("PrepareHeap(64 MiB) forced %d collections, want 2", got)
	}
	before = count()
	PrepareHeap(32 << 20)
	PrepareHeap(64 << 20)
	if got := count() - before; got != 0 {
		t.Errorf("PrepareHeap after a larger one forced %d collections, want 0", got)
	}
}

// inFreshProcess runs the calling test in a new process of the test binary, up to three times,
// and fails it with the last run's output only when none passed; it reports true in that
// process, which runs the test's body. On a machine busy with other processes (go test ./...
// runs packages side by side) one run in ten or so measured the whole block faulted in, in
// the test binary's process as in a fresh one, some collection or scavenging of the runtime
// overlapping PrepareHeap; the mutations these tests catch fail every run. A fresh process
// each time, so that a failed run leaves no heap state to the next.
func inFreshProcess(t *testing.T) bool {
	t.Helper()
	if os.Getenv("MECHAC_HEAP_TEST") == t.Name() {
		return true
	}
	var out []byte
	for range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "MECHAC_HEAP_TEST="+t.Name())
		var err error
		out, err = cmd.CombinedOutput()
		if err == nil && strings.Contains(string(out), "--- PASS: "+t.Name()) {
			return false
		}
	}
	t.Errorf("failed in three fresh processes; the last one:\n%s", out)
	return false
}
