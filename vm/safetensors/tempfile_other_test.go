//go:build !linux

package safetensors

func unnamedFilesWork(string) bool { return false }
