//go:build linux

package safetensors

import (
	"cmp"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapFile maps the size bytes of f read-only and shared at a mapAlign-aligned address: it
// reserves size + mapAlign bytes of address space, maps the file over the aligned part of it
// (MAP_FIXED) and returns the rest of the reservation. MADV_HUGEPAGE marks the mapping for
// huge pages, which the kernel needs (with THP set to "madvise", the usual setting) to map a
// file's 2 MiB folios whole and to read ahead in 2 MiB folios where a fault reads the disk.
func mapFile(f *os.File, size int64) ([]byte, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, errNoMapping
	}
	n := int(size)
	// MmapPtr and MunmapPtr: Mmap and Munmap keep a table of whole mappings, and this unmaps
	// parts of one.
	r, err := unix.MmapPtr(-1, 0, nil, uintptr(n+mapAlign), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, err
	}
	res := unsafe.Slice((*byte)(r), n+mapAlign)
	off := int((mapAlign - uintptr(r)%mapAlign) % mapAlign)
	// (Through SyscallConn: Fd would put the file in blocking mode.)
	rc, err := f.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) {
			_, err = unix.MmapPtr(int(fd), 0, unsafe.Pointer(&res[off]), uintptr(n), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_FIXED)
		})
		err = cmp.Or(cerr, err)
	}
	if err != nil {
		unmapFile(res)
		return nil, err
	}
	// The reservation's parts before and after the file's pages.
	unmapFile(res[:off])
	unmapFile(res[off+n:])
	data := res[off : off+n : off+n]
	_ = unix.Madvise(data, unix.MADV_HUGEPAGE)
	return data, nil
}

// releaseMapping unmaps a range of a file mapping's pages (MADV_DONTNEED: for a shared file
// mapping, the page-table entries go; the page cache keeps the pages).
func releaseMapping(b []byte) error { return unix.Madvise(b, unix.MADV_DONTNEED) }

// unmapFile removes the pages of b from the address space (a mapping from mapFile, or part
// of its reservation).
func unmapFile(b []byte) {
	if len(b) > 0 {
		_ = unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(b)), uintptr(len(b)))
	}
}

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
