//go:build linux

package safetensors

import "golang.org/x/sys/unix"

// unnamedFilesWork reports whether dir's file system makes O_TMPFILE files.
func unnamedFilesWork(dir string) bool {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}
