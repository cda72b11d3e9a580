package main

import (
	"os"
	"strconv"
	"strings"
)

// memInfo is what /proc/meminfo says of the machine's memory, in bytes (0 where unknown).
type memInfo struct {
	total, available, swapTotal, swapFree int64
}

// readMemInfo reads /proc/meminfo, or the file MECHAC_MEMINFO names (the CLI tests use it to
// play a small machine). Where there is no such file every field is 0.
func readMemInfo() memInfo {
	path := "/proc/meminfo"
	if p := os.Getenv("MECHAC_MEMINFO"); p != "" {
		path = p
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return memInfo{}
	}
	var m memInfo
	fields := map[string]*int64{"MemTotal:": &m.total, "MemAvailable:": &m.available,
		"SwapTotal:": &m.swapTotal, "SwapFree:": &m.swapFree}
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, " ")
		dst := fields[name]
		if !ok || dst == nil {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err == nil {
			*dst = kb << 10
		}
	}
	return m
}

// availableMemory is MemAvailable (0 where it is unknown).
func availableMemory() int64 { return readMemInfo().available }
