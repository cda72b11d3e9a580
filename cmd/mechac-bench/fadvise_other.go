//go:build !(linux && (amd64 || arm64))

package main

import "errors"

const canDropCache = false

func dropCache(string) error {
	return errors.New("dropping a file from the page cache needs Linux on amd64 or arm64")
}
