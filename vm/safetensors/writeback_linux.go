//go:build linux

package safetensors

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing f's dirty pages to the disk now
// (sync_file_range with SYNC_FILE_RANGE_WRITE over the whole file) and returns without
// waiting for them. A hint: errors are ignored, and Commit's fsync still makes the file
// durable.
func startWriteback(f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
	})
}
