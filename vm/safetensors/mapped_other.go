//go:build !linux

package safetensors

import (
	"os"
	"unsafe"
)

// mapFile maps nothing here: the VM reads the file instead. (Other systems can map files,
// but the alignment and release this package relies on are Linux's.)
func mapFile(*os.File, int64) ([]byte, error) { return nil, errNoMapping }

func releaseMapping([]byte) error { return errNoMapping }

func unmapFile([]byte) {}

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
