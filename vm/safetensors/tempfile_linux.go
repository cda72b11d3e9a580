//go:build linux

package safetensors

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// createTemp creates the output's temporary file in dir. Where the file system has unnamed
// files (O_TMPFILE: ext4, xfs, btrfs, tmpfs) and /proc/self/fd can name them again, the file
// has no name until Commit links it (nameTemp): a process killed before then, by a second
// interrupt or SIGKILL, leaves nothing behind, where a named temporary file stayed in the
// output's folder at the output's full size. Elsewhere it is a hidden ".BASE.tmp-*" file
// (os.CreateTemp), and named is true.
func createTemp(dir, base string) (f *os.File, named bool, err error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil {
		f = os.NewFile(uintptr(fd), filepath.Join(dir, "."+base+".tmp (unnamed)"))
		if _, err := os.Stat(procFD(f)); err == nil {
			return f, false, nil
		}
		f.Close() // no /proc: it could not be linked at Commit
	}
	f, err = os.CreateTemp(dir, "."+base+".tmp-*")
	return f, true, err
}

// nameTemp links createTemp's unnamed file into dir under a fresh hidden name, for Commit to
// rename over the output (linkat cannot replace a file).
func nameTemp(f *os.File, dir, base string) (string, error) {
	for range 100 {
		p := filepath.Join(dir, "."+base+".tmp-"+strconv.FormatUint(rand.Uint64(), 36))
		err := unix.Linkat(unix.AT_FDCWD, procFD(f), unix.AT_FDCWD, p, unix.AT_SYMLINK_FOLLOW)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, unix.EEXIST) {
			return "", &os.LinkError{Op: "link", Old: procFD(f), New: p, Err: err}
		}
	}
	return "", fmt.Errorf("no free temporary name in %s", dir)
}

func procFD(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }
