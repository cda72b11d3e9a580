//go:build linux && (amd64 || arm64)

package main

import (
	"os"
	"syscall"
)

// fadvDontNeed is POSIX_FADV_DONTNEED on Linux.
const fadvDontNeed = 4

// canDropCache reports whether dropCache can evict a file's pages from the page cache.
const canDropCache = true

// dropCache asks the kernel to drop a file's clean pages from the page cache
// (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)), so that the next read comes from the disk.
// It affects only this file; it needs no privileges. Go's syscall package has no Fadvise
// wrapper, so this is the raw system call (fadvise64 on amd64 and arm64).
func dropCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil { // dirty pages are not dropped; there should be none
		return err
	}
	_, _, errno := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontNeed, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
