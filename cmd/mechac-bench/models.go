package main

import (
	"bufio"
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/mechac/mechac/vm/safetensors"
)

// ensureModels makes sure dir holds base.safetensors and m0..m(n-1).safetensors as
// `mechac synth --divisor scale` writes them, running it when a file is missing, incomplete or
// was written with other options. It returns the size of the base model.
func ensureModels(mechac, dir string, scale, n int, logf func(string, ...any), stderr io.Writer) (int64, error) {
	names := []string{"base.safetensors"}
	for i := range n {
		names = append(names, fineTune(i))
	}
	check := func() (int64, error) {
		var size int64
		for i, name := range names {
			seed, baseSeed := "0", ""
			if i > 0 {
				seed, baseSeed = strconv.Itoa(i), "0" // synth: m_i has seed i+1, a fine-tune of seed 0
			}
			s, err := checkSynth(filepath.Join(dir, name), scale, seed, baseSeed)
			if err != nil {
				return 0, err
			}
			if i == 0 {
				size = s
			} else if d := s - size; d < -4096 || d > 4096 { // headers differ by a few bytes of metadata
				return 0, fmt.Errorf("%s has %d bytes, base.safetensors %d", name, s, size)
			}
		}
		return size, nil
	}
	size, err := check()
	if err == nil {
		logf("reusing the %d models in %s", len(names), dir)
		return size, nil
	}
	logf("generating %d models in %s (%v)", len(names), dir, err)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	cmd := exec.Command(mechac, "synth", "-o", dir, "--config", "sdxl-sgm", "--count", strconv.Itoa(n), "--divisor", strconv.Itoa(scale), "--quiet")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("mechac synth: %v", err)
	}
	return check()
}

// checkSynth checks that path is a complete model written by mechac synth with the given
// divisor and seeds, and returns its size.
func checkSynth(path string, divisor int, seed, baseSeed string) (int64, error) {
	f, err := safetensors.Open(path) // validates the header against the file size
	if err != nil {
		return 0, err
	}
	defer f.Close()
	md := f.Metadata
	want := map[string]string{
		"generator": "mechac synth (config sdxl-sgm)",
		"divisor":   strconv.Itoa(divisor),
		"dtype":     "F16",
		"seed":      seed,
		"base_seed": baseSeed,
	}
	for k, v := range want {
		if md[k] != v {
			return 0, fmt.Errorf("%s: metadata %s is %q, want %q", path, k, md[k], v)
		}
	}
	var end int64
	for _, t := range f.Tensors {
		end = max(end, t.End)
	}
	if end != f.Size {
		return 0, fmt.Errorf("%s: %d bytes, the header describes %d", path, f.Size, end)
	}
	return f.Size, nil
}

// Machine describes where the benchmark ran.
type Machine struct {
	CPUModel      string `json:"cpu_model"`
	CPUs          int    `json:"cpus"`
	MemTotalBytes int64  `json:"mem_total_bytes"`
	OS            string `json:"os"`
	Arch          string `json:"arch"`
	GoVersion     string `json:"go_version"`
}

func machineInfo() Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, GoVersion: runtime.Version(), CPUModel: "unknown CPU"}
	scan := func(path string, fn func(k, v string)) {
		f, err := os.Open(path)
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
				fn(strings.TrimSpace(k), strings.TrimSpace(v))
			}
		}
	}
	scan("/proc/cpuinfo", func(k, v string) {
		if k == "model name" {
			m.CPUModel = v
		}
	})
	scan("/proc/meminfo", func(k, v string) {
		if k == "MemTotal" {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
			m.MemTotalBytes = kb * 1024
		}
	})
	return m
}

// vcsRevision is the commit a Go binary was built from, as recorded by go build ("" if none).
func vcsRevision(path string) string {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return ""
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+modified"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return ""
	}
	return "(" + rev + modified + ")"
}
