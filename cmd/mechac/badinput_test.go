package main

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/safetensors"
)

// Two keys of sdxl-sgm with tiny shapes; enough for a model the compiler accepts with
// model_config="sdxl-sgm".
const (
	keyA = "first_stage_model.quant_conv.bias"
	keyB = "first_stage_model.quant_conv.weight"
)

// writeModel writes a tiny model with the given shapes per key, values base+i.
func writeModel(t *testing.T, path string, dtype ops.DType, shapes map[string][]int, base float64) {
	t.Helper()
	var outs []safetensors.OutTensor
	for k, s := range shapes {
		outs = append(outs, safetensors.OutTensor{Name: k, DType: dtype, Shape: s})
	}
	w, err := safetensors.Create(path, outs, nil, safetensors.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, s := range shapes {
		data := make([]float64, ops.NumElements(s))
		for i := range data {
			data[i] = base + float64(i)
		}
		if err := w.WriteFloat64(k, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// corruptHeader rewrites a file's header JSON (keeping the file otherwise).
func writeRaw(t *testing.T, path, header string, data []byte) {
	t.Helper()
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	b = append(b, data...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

const goodHeader = `{"` + keyA + `":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`

// TestBadInput: every kind of bad input gets one clear message naming the recipe position
// or the tensor key, the right exit status, and no output file (nor a temporary one).
func TestBadInput(t *testing.T) {
	small := map[string][]int{keyA: {4}, keyB: {4, 4, 1, 1}}
	recipe2 := func(body string) string {
		return "version 0.1.0\n" +
			`model "a.safetensors" model_config="sdxl-sgm" merge_space="weight"` + "\n" +
			`model "b.safetensors" model_config="sdxl-sgm" merge_space="weight"` + "\n" + body
	}
	tests := []struct {
		name   string
		recipe string
		setup  func(t *testing.T, dir string)
		args   []string // extra args; OUT is replaced by the output path
		out    string   // output path relative to dir (default out.safetensors)
		status int
		want   []string // substrings of stderr
		hook   func(*os.File) safetensors.TempFile
	}{
		{name: "unknown method", recipe: recipe2(`merge "weighted_summ" &0 &1`),
			status: 2, want: []string{"recipe.mecha:4:7:", `unknown merge method "weighted_summ"`, `did you mean "weighted_sum"`}},
		{name: "wrong number of arguments", recipe: recipe2(`merge "subtract" &0 &1 &0`),
			status: 2, want: []string{"recipe.mecha:4:", "too many arguments", "subtract("}},
		{name: "missing argument", recipe: recipe2(`merge "subtract" &0`),
			status: 2, want: []string{"recipe.mecha:4:", `missing argument "b"`}},
		{name: "unknown keyword", recipe: recipe2(`merge "weighted_sum" &0 &1 alfa=0.5`),
			status: 2, want: []string{"recipe.mecha:4:", `unknown keyword "alfa"`, `did you mean "alpha"`}},
		{name: "reference out of range", recipe: recipe2(`merge "weighted_sum" &0 &7`),
			status: 2, want: []string{"recipe.mecha:4:", "&7", "out of range"}},
		{name: "unterminated quote", recipe: recipe2(`merge "weighted_sum &0 &1`),
			status: 2, want: []string{"recipe.mecha:4:7:", "unterminated"}},
		{name: "bad number", recipe: recipe2(`merge "weighted_sum" &0 &1 alpha=0.5.1`),
			status: 2, want: []string{"recipe.mecha:4:", "0.5.1"}},
		{name: "space mismatch", recipe: recipe2(`merge "add_difference" &0 &1`),
			status: 2, want: []string{"recipe.mecha:4:", "delta space"}},
		{name: "missing model file", recipe: recipe2(`merge "weighted_sum" &0 &1`),
			setup:  func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "b.safetensors")) },
			status: 1, want: []string{"recipe.mecha:3:1:", `model file "b.safetensors" not found`}},
		{name: "truncated header", recipe: recipe2(`merge "weighted_sum" &0 &1`),
			setup: func(t *testing.T, dir string) {
				os.WriteFile(filepath.Join(dir, "b.safetensors"), []byte{1, 2, 3}, 0o644)
			},
			status: 1, want: []string{"recipe.mecha:3:1:", "b.safetensors", "truncated"}},
		{name: "corrupt header", recipe: recipe2(`merge "weighted_sum" &0 &1`),
			setup: func(t *testing.T, dir string) {
				writeRaw(t, filepath.Join(dir, "b.safetensors"), `{"x": [1,2`, make([]byte, 16))
			},
			status: 1, want: []string{"recipe.mecha:3:1:", "b.safetensors"}},
		{name: "overlapping offsets", recipe: recipe2(`merge "weighted_sum" &0 &1`),
			setup: func(t *testing.T, dir string) {
				writeRaw(t, filepath.Join(dir, "b.safetensors"),
					`{"`+keyA+`":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"`+keyB+`":{"dtype":"F16","shape":[4,4,1,1],"data_offsets":[4,36]}}`,
					make([]byte, 36))
			},
			status: 1, want: []string{"b.safetensors", "overlap", keyB}},
		{name: "unsupported dtype", recipe: recipe2(`merge "weighted_sum" &0 &1`),
			setup: func(t *testing.T, dir string) {
				writeRaw(t, filepath.Join(dir, "b.safetensors"),
					`{"`+keyA+`":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}`, make([]byte, 4))
			},
			status: 1, want: []string{"b.safetensors", keyA, "F8_E4M3"}},
		{name: "shape mismatch between inputs", recipe: recipe2(`merge "weighted_sum" &0 &1`),
			setup: func(t *testing.T, dir string) {
				writeModel(t, filepath.Join(dir, "b.safetensors"), ops.F16, map[string][]int{keyA: {4}, keyB: {4, 2, 1, 1}}, 1)
			},
			status: 1, want: []string{"recipe.mecha:4:", keyB, "[4, 4, 1, 1]", "[4, 2, 1, 1]"}},
		{name: "output equal to an input", recipe: recipe2(`merge "weighted_sum" &0 &1`),
			out: "a.safetensors", status: 2, want: []string{"a.safetensors", "is also an input"}},
		{name: "output folder missing", recipe: recipe2(`merge "weighted_sum" &0 &1`),
			out: "nowhere/out.safetensors", status: 2, want: []string{"nowhere", "does not exist"}},
		{name: "disk full", recipe: recipe2(`merge "weighted_sum" &0 &1`),
			hook:   func(f *os.File) safetensors.TempFile { return &fullDisk{File: f} },
			status: 1, want: []string{"disk full"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeModel(t, filepath.Join(dir, "a.safetensors"), ops.F16, small, 0)
			writeModel(t, filepath.Join(dir, "b.safetensors"), ops.F16, small, 1)
			if err := os.WriteFile(filepath.Join(dir, "recipe.mecha"), []byte(tc.recipe), 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			out := tc.out
			if out == "" {
				out = "out.safetensors"
			}
			before := listDir(t, dir)
			writerHook = tc.hook
			defer func() { writerHook = nil }()
			var stdout, stderr strings.Builder
			wd, _ := os.Getwd()
			if err := os.Chdir(dir); err != nil {
				t.Fatal(err)
			}
			code := mainEnv(&env{stdout: &stdout, stderr: &stderr}, []string{"run", "recipe.mecha", "-o", out, "-q"})
			os.Chdir(wd)
			if code != tc.status {
				t.Errorf("exit status %d, want %d\nstderr: %s", code, tc.status, stderr.String())
			}
			msg := stderr.String()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("stderr lacks %q:\n%s", w, msg)
				}
			}
			if strings.Contains(msg, "panic") || strings.Contains(msg, "goroutine") {
				t.Errorf("stderr looks like a crash:\n%s", msg)
			}
			if got := listDir(t, dir); got != before {
				t.Errorf("files changed: before %s, after %s", before, got)
			}
		})
	}
}

func listDir(t *testing.T, dir string) string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return strings.Join(names, ",")
}

// fullDisk fails every data write with ENOSPC, as a full disk would.
type fullDisk struct {
	*os.File
	n int
}

func (f *fullDisk) WriteAt(p []byte, off int64) (int, error) {
	f.n++
	if f.n > 1 { // let the header through, fail on tensor data
		return 0, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	return f.File.WriteAt(p, off)
}
