package safetensors

import (
	"errors"
	"os"
	"syscall"
)

// preallocate reserves size bytes for f with fallocate(2), so that a full disk fails here,
// before any merge work, instead of halfway through the output. File systems without
// fallocate support are left to the caller's Truncate (a sparse file: no early ENOSPC there).
func preallocate(f *os.File, size int64) error {
	if size == 0 {
		return nil
	}
	for {
		err := syscall.Fallocate(int(f.Fd()), 0, 0, size)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EINVAL) {
			return nil
		}
		return err
	}
}
