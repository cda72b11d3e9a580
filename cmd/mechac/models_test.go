package main

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mechac/mechac/ops"
)

// Prefetch reads the headers Model would, in parallel: afterwards Model returns what a
// finder without Prefetch returns (one shared table for models listing the same tensors), and
// a path Prefetch could not open still gets its error from Model.
func TestModelFinderPrefetch(t *testing.T) {
	dir := t.TempDir()
	shapes := map[string][]int{"model.diffusion_model.x": {4, 3}, "model.diffusion_model.y": {5}}
	for i, name := range []string{"a", "b", "c", "d"} {
		writeModel(t, filepath.Join(dir, name+".safetensors"), ops.F16, shapes, float64(i))
	}
	writeModel(t, filepath.Join(dir, "e.safetensors"), ops.F32, map[string][]int{"other": {2}}, 0)
	paths := []string{"a.safetensors", "b.safetensors", "missing.safetensors", "c.safetensors", "a.safetensors", "d.safetensors", "e.safetensors"}
	recipe := filepath.Join(dir, "r.mecha")
	plain, pre := newModelFinder(nil, recipe), newModelFinder(nil, recipe)
	pre.Prefetch(paths)
	tables := map[string]bool{}
	for _, p := range paths {
		want, werr := plain.Model(p)
		got, gerr := pre.Model(p)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%s: error %v, want %v", p, gerr, werr)
		}
		if werr != nil {
			if !strings.Contains(gerr.Error(), "not found") {
				t.Fatalf("%s: error %v", p, gerr)
			}
			continue
		}
		if got.Path != want.Path || got.Size != want.Size || got.HeaderHash != want.HeaderHash || !reflect.DeepEqual(got.Tensors, want.Tensors) {
			t.Fatalf("%s: %+v, want %+v", p, got, want)
		}
		if p != "e.safetensors" {
			tables[fmt.Sprintf("%p", got.Tensors)] = true // the four models of one architecture share one
		}
	}
	if len(tables) != 1 {
		t.Errorf("%d tables for the models of one architecture, want 1", len(tables))
	}
}

// A finder that keeps its files hands each one out once, already parsed, with the layout
// shared among the models of one architecture; what it still holds, close closes.
func TestModelFinderKeepOpen(t *testing.T) {
	dir := t.TempDir()
	shapes := map[string][]int{"model.diffusion_model.x": {4, 3}, "model.diffusion_model.y": {5}}
	for i, name := range []string{"a", "b", "c"} {
		writeModel(t, filepath.Join(dir, name+".safetensors"), ops.F16, shapes, float64(i))
	}
	recipe := filepath.Join(dir, "r.mecha")
	m := newModelFinder(nil, recipe)
	m.keepOpen()
	m.Prefetch([]string{"a.safetensors", "b.safetensors"})
	for _, p := range []string{"a.safetensors", "./a.safetensors", "b.safetensors", "c.safetensors"} {
		if _, err := m.Model(p); err != nil {
			t.Fatal(err)
		}
	}
	if len(m.files) != 3 {
		t.Fatalf("%d files kept, want 3", len(m.files))
	}
	a, b, c := filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.safetensors"), filepath.Join(dir, "c.safetensors")
	kept := m.files[a]
	fa, err := m.open(a)
	if err != nil || fa != kept {
		t.Fatalf("open(a) = %p, %v; want the kept file %p", fa, err, kept)
	}
	defer fa.Close()
	fb, err := m.open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	if fmt.Sprintf("%p", fa.Tensors) != fmt.Sprintf("%p", fb.Tensors) {
		t.Error("the kept files of one architecture do not share their layout")
	}
	again, err := m.open(a) // taken: opened anew
	if err != nil || again == fa {
		t.Fatalf("second open(a) = %p, %v; want a new file", again, err)
	}
	again.Close()
	if err := fa.ReadRaw("model.diffusion_model.y", make([]byte, 10)); err != nil {
		t.Fatalf("reading a handed-out file: %v", err)
	}
	fc := m.files[c]
	m.close()
	if len(m.files) != 0 {
		t.Fatalf("%d files left after close", len(m.files))
	}
	if err := fc.ReadRaw("model.diffusion_model.y", make([]byte, 10)); err == nil {
		t.Error("a file close did not close can still be read")
	}
}
