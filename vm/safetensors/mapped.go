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
// has read (ReleaseMapped), which unmaps them and leaves them in the page cache.
//
// A file truncated while it is mapped makes a read past its new end fault (SIGBUS); the Go
// runtime turns that into a panic in a goroutine that asked for it (debug.SetPanicOnFault),
// whose recover can ask MappedFault whose address it was.

// mapAlign is the alignment of a mapping's start: a PMD page's size on amd64 and arm64 with
// 4 KiB pages, so that a 2 MiB folio at a 2 MiB file offset can be mapped whole.
const mapAlign = 2 << 20

// fileMapping is a File's mapping, made on first use.
type fileMapping struct {
	once sync.Once
	data []byte // the whole file, mapAlign-aligned; nil when it could not be mapped
	err  error
}

// MapTensor returns the stored bytes of tensor name in a mapping of the whole file, made on
// the first call (see the comment above). The slice is valid until Close. An error means the
// file cannot be mapped here (the caller reads it instead).
func (f *File) MapTensor(name string) ([]byte, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	f.mapping.once.Do(func() { f.mapping.data, f.mapping.err = mapFile(f.f, f.Size) })
	if f.mapping.err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, f.mapping.err)
	}
	if int64(len(f.mapping.data)) < t.End {
		return nil, fmt.Errorf("%s: tensor %q ends at %d, past the mapping's %d bytes", f.Path, name, t.End, len(f.mapping.data))
	}
	return f.mapping.data[t.Begin:t.End:t.End], nil
}

// mapped returns the file's mapping, or nil when there is none yet.
func (f *File) mapped() []byte {
	// (Unsynchronized reads of data are safe only after once.Do returned in this goroutine or
	// one that handed data over; callers use it for addresses they were given by MapTensor.)
	return f.mapping.data
}

// ReleaseMapped unmaps the pages of the file's mapping over file offsets [lo, hi), widened to
// whole 2 MiB pages (the kernel would otherwise split a huge mapping to keep its other part):
// they leave the process's resident memory and stay in the page cache. A later MapTensor
// slice over them reads the same bytes (the pages are mapped again on access), so releasing
// a range another goroutine still reads costs it faults, never wrong bytes. It returns the
// bytes it released (0 without a mapping).
func (f *File) ReleaseMapped(lo, hi int64) int64 {
	data := f.mapped()
	if data == nil {
		return 0
	}
	lo, hi = max(0, lo&^(mapAlign-1)), min(int64(len(data)), (hi+mapAlign-1)&^(mapAlign-1))
	if lo >= hi {
		return 0
	}
	if releaseMapping(data[lo:hi]) != nil {
		return 0
	}
	return hi - lo
}

// MappedFault reports whether addr, the address of a memory fault, lies in the file's
// mapping: the file was truncated (or its storage failed) while it was mapped.
func (f *File) MappedFault(addr uintptr) bool {
	data := f.mapped()
	return data != nil && addr-uintptrOf(data) < uintptr(len(data))
}

// MapPageSize is the granularity ReleaseMapped works in (the mapping's huge-page size).
func MapPageSize() int64 { return mapAlign }

// closeMapping unmaps the file's mapping at Close.
func (f *File) closeMapping() {
	if data := f.mapped(); data != nil {
		unmapFile(data)
		f.mapping.data = nil
	}
}

// errNoMapping: the file cannot be mapped on this system (or is empty).
var errNoMapping = errors.New("no file mapping here")
