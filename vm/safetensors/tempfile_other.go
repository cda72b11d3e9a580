//go:build !linux

package safetensors

import (
	"errors"
	"os"
)

// createTemp creates the output's temporary file in dir: a hidden ".BASE.tmp-*" file (no
// unnamed files here).
func createTemp(dir, base string) (f *os.File, named bool, err error) {
	f, err = os.CreateTemp(dir, "."+base+".tmp-*")
	return f, true, err
}

// nameTemp is not needed where createTemp always names its file.
func nameTemp(*os.File, string, string) (string, error) {
	return "", errors.New("unnamed temporary files are not supported here")
}
