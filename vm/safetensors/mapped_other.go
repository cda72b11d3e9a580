//go:build !linux

package safetensors

import (
	"os"
	"unsafe"
)

// Nothing is mapped here: the VM reads the files instead. (Other systems can map files, but
// the alignment and release this package relies on are Linux's.)

func reserveAligned(int) ([]byte, error) { return nil, errNoMapping }

func mapFileAt(*os.File, []byte) ([]byte, error) { return nil, errNoMapping }

func releaseMapping([]byte) error { return errNoMapping }

func unmapFile([]byte) {}

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
