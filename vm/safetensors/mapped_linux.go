//go:build linux

package safetensors

import (
	"cmp"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// reserveAligned reserves n bytes of addresses at a mapAlign-aligned start (PROT_NONE, no
// memory committed): it reserves n + mapAlign and returns the parts before and after the
// aligned range. MmapPtr and MunmapPtr: Mmap and Munmap keep a table of whole mappings, and
// this unmaps parts of one.
func reserveAligned(n int) ([]byte, error) {
	r, err := unix.MmapPtr(-1, 0, nil, uintptr(n+mapAlign), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, err
	}
	res := unsafe.Slice((*byte)(r), n+mapAlign)
	off := int((mapAlign - uintptr(r)%mapAlign) % mapAlign)
	unmapFile(res[:off])
	unmapFile(res[off+n:])
	return res[off : off+n : off+n], nil
}

// mapFileAt maps the len(slot) bytes of f read-only and shared over slot, a reserved range
// at a mapAlign-aligned address. MADV_HUGEPAGE marks the mapping for huge pages, which the
// kernel needs (with THP set to "madvise", the usual setting) to map a file's 2 MiB folios
// whole and to read ahead in 2 MiB folios where a fault reads the disk.
func mapFileAt(f *os.File, slot []byte) ([]byte, error) {
	if len(slot) == 0 {
		return nil, errNoMapping
	}
	// (Through SyscallConn: Fd would put the file in blocking mode.)
	rc, err := f.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) {
			_, err = unix.MmapPtr(int(fd), 0, unsafe.Pointer(unsafe.SliceData(slot)), uintptr(len(slot)), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_FIXED)
		})
		err = cmp.Or(cerr, err)
	}
	if err != nil {
		return nil, err
	}
	_ = unix.Madvise(slot, unix.MADV_HUGEPAGE)
	return slot, nil
}

// releaseMapping unmaps the pages of a range of mappings (MADV_DONTNEED: for a shared file
// mapping, the page-table entries go and the page cache keeps the pages; the reserved parts
// have none).
func releaseMapping(b []byte) error { return unix.Madvise(b, unix.MADV_DONTNEED) }

// unmapFile removes the pages of b from the address space.
func unmapFile(b []byte) {
	if len(b) > 0 {
		_ = unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(b)), uintptr(len(b)))
	}
}

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
