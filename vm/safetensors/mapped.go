package safetensors

import (
	"errors"
	"fmt"
	"sync"
)

// Reading tensors through a mapping of the whole file. A staged key reads each input tensor
// several times (a sample, a statistics pass, the output pass); the VM copies it once from the
// page cache into a worker buffer (pread) and runs every pass over the copy. Where the page
// cache holds the file in 2 MiB folios (ext4, XFS and others on recent kernels, for a file
// read or written sequentially), a mapping whose addresses are 2 MiB-aligned with the file's
// offsets lets the kernel map each folio with one page-table entry: a fault per 2 MiB, and the
// passes read the page cache's own pages with no copy. On the scale-4 TIES benchmark the nine
// inputs' copies cost ~0.27 s of system time a run against ~0.06 s of faults mapped so (a
// microbenchmark reading every byte of the nine files: 0.39 against 0.24 s of CPU time).
//
// A mapping is read-only and shared (the file's pages themselves). Its pages count in the
// process's resident memory while they are mapped, so the user of a mapping releases what it
// has read (Mappings.Release), which unmaps them and leaves them in the page cache.
//
// A file truncated while it is mapped makes a read past its new end fault (SIGBUS); the Go
// runtime turns that into a panic in a goroutine that asked for it (debug.SetPanicOnFault),
// whose recover can ask Mappings.Fault whose address it was.

// mapAlign is the alignment of a mapping's start: a PMD page's size on amd64 and arm64 with
// 4 KiB pages, so that a 2 MiB folio at a 2 MiB file offset can be mapped whole.
const mapAlign = 2 << 20

// Mappings maps a set of files, each on first use, into one range of addresses reserved for
// all of them: each file at a mapAlign-aligned place of its own. One range lets one system
// call unmap the pages of every file (Release): each unmapping call interrupts the other
// threads of the process to flush their TLBs, which cost ~1.6% of the scale-4 TIES run's CPU
// time with a call per file and sweep.
type Mappings struct {
	files []*File
	once  sync.Once // reserves region
	err   error
	// region is the reserved range; slot[i] is file i's part of it, which data[i] maps
	// once mapped[i] has run.
	region []byte
	slot   [][]byte
	mapped []sync.Once
	data   [][]byte
	errs   []error
}

// NewMappings returns the (not yet made) mappings of files.
func NewMappings(files []*File) *Mappings {
	n := len(files)
	return &Mappings{files: files, slot: make([][]byte, n), mapped: make([]sync.Once, n), data: make([][]byte, n), errs: make([]error, n)}
}

// Tensor returns the stored bytes of tensor name of file i (of the files given to
// NewMappings) in its mapping, made on the first call for the file. The slice is valid until
// Close. An error means the file cannot be mapped here (the caller reads it instead).
func (m *Mappings) Tensor(i int, name string) ([]byte, error) {
	f := m.files[i]
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	m.once.Do(m.reserve)
	if m.err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, m.err)
	}
	m.mapped[i].Do(func() { m.data[i], m.errs[i] = mapFileAt(f.f, m.slot[i]) })
	if m.errs[i] != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, m.errs[i])
	}
	if int64(len(m.data[i])) < t.End {
		return nil, fmt.Errorf("%s: tensor %q ends at %d, past the mapping's %d bytes", f.Path, name, t.End, len(m.data[i]))
	}
	return m.data[i][t.Begin:t.End:t.End], nil
}

// reserve reserves the range of addresses for every file's mapping.
func (m *Mappings) reserve() {
	var total int64
	for _, f := range m.files {
		total += (f.Size + mapAlign - 1) / mapAlign * mapAlign
	}
	if total <= 0 || int64(int(total)) != total {
		m.err = errNoMapping
		return
	}
	m.region, m.err = reserveAligned(int(total))
	if m.err != nil {
		return
	}
	var at int64
	for i, f := range m.files {
		m.slot[i] = m.region[at : at+f.Size : at+f.Size]
		at += (f.Size + mapAlign - 1) / mapAlign * mapAlign
	}
}

// Release unmaps the pages of every file's mapping, with one system call: they leave the
// process's resident memory and stay in the page cache. A Tensor slice over them reads the
// same bytes afterwards (its pages are mapped again on access), so releasing pages another
// goroutine reads costs it faults, never wrong bytes. It reports whether there was anything
// to release.
func (m *Mappings) Release() bool {
	// (nil before the first Tensor call reserved it; a caller that holds a slice Tensor gave
	// it, or its address, sees the reservation.)
	return m.region != nil && releaseMapping(m.region) == nil
}

// Fault returns the path of the file whose mapping holds addr, the address of a memory
// fault: the file was truncated (or its storage failed) while it was mapped.
func (m *Mappings) Fault(addr uintptr) (string, bool) {
	for i, s := range m.slot {
		if s != nil && addr-uintptrOf(s) < uintptr(len(s)) {
			return m.files[i].Path, true
		}
	}
	return "", false
}

// MapPageSize is the granularity of the mappings in resident memory: a huge page.
func MapPageSize() int64 { return mapAlign }

// Close unmaps every file's mapping and the reserved range (Tensor's slices are invalid
// after it).
func (m *Mappings) Close() {
	if m.region != nil {
		unmapFile(m.region)
		m.region = nil
	}
}

// errNoMapping: the file cannot be mapped on this system (or is empty).
var errNoMapping = errors.New("no file mapping here")
