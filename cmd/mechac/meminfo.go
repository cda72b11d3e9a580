package main

import (
	"os"
	"strconv"
	"strings"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/bytecode"
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

// keyCause names what makes key k big when it runs on whole tensors: the whole-tensor method
// of its program with the most declared scratch (" (whole tensors: M)"), or "" when it runs in
// chunks or calls none. A user reading "alone needs 210 GiB" learns which call to change.
func keyCause(p *bytecode.Program, reg *ops.Registry, k *bytecode.Key, chunked bool) string {
	if chunked {
		return ""
	}
	n := ops.NumElements(k.Shape)
	best, most := "", int64(-1)
	for _, in := range p.Classes[k.Class].Instrs {
		if in.Op != bytecode.CALL {
			continue
		}
		d, ok := reg.Lookup(p.Methods[in.B])
		if !ok || d.Traits&ops.WholeTensor == 0 {
			continue
		}
		r := 0
		for _, o := range in.Operands {
			if o.Kind == bytecode.OpReg {
				r++
			}
		}
		var b int64
		if d.Scratch != nil {
			b = d.Scratch(r, n)
		}
		if b > most {
			best, most = d.FullName(), b
		}
	}
	if best == "" {
		return ""
	}
	return " (whole tensors: " + best + ")"
}
