package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mechac/mechac/compiler"
	"github.com/mechac/mechac/vm/safetensors"
)

// modelFinder resolves the model paths a recipe writes and reads their headers.
//
// A relative path is looked up in each --models-dir in order, then beside the recipe.
// Recipes written on Windows use `\` separators (sd-mecha writes them escaped as `\\`); on
// other systems they are turned into `/` so the same recipe runs everywhere.
type modelFinder struct {
	dirs      []string
	recipeDir string
	// set binds template parameter names to paths (--set name=path).
	set map[string]string
	// mu guards cache and tensorSets: Prefetch fills them from several goroutines.
	mu    sync.Mutex
	cache map[string]*compiler.ModelInfo
	// tensorSets shares one read-only tensor table among models whose headers list the same
	// tensors (names, dtypes, shapes): the fine-tunes of one architecture usually do, and 216
	// SDXL tables of 2515 entries each were most of a compilation's memory (90 of 121 MB live).
	tensorSets map[[sha256.Size]byte]map[string]compiler.TensorInfo
	// keep, when set (keepOpen), keeps the files whose headers were read, by their resolved
	// path, for the run to take (open) instead of opening and parsing them again. Their
	// layouts are shared through tables, as the run shares its own.
	keep   bool
	files  map[string]*safetensors.File
	tables *safetensors.TableCache
}

func newModelFinder(dirs []string, recipePath string) *modelFinder {
	return &modelFinder{dirs: dirs, recipeDir: filepath.Dir(recipePath), cache: map[string]*compiler.ModelInfo{},
		tensorSets: map[[sha256.Size]byte]map[string]compiler.TensorInfo{}}
}

// keepOpen makes the finder keep the files it reads headers from, for open; close closes
// those not taken.
func (m *modelFinder) keepOpen() {
	m.keep, m.files, m.tables = true, map[string]*safetensors.File{}, safetensors.NewTableCache()
}

// open is vm.Options.OpenInput: the file the finder kept for the resolved path, now the
// caller's, or a new one.
func (m *modelFinder) open(path string) (*safetensors.File, error) {
	m.mu.Lock()
	f := m.files[path]
	delete(m.files, path)
	m.mu.Unlock()
	if f != nil {
		return f, nil
	}
	return safetensors.Open(path)
}

// close closes the kept files that open did not hand out.
func (m *modelFinder) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for p, f := range m.files {
		f.Close()
		delete(m.files, p)
	}
}

// candidates lists where a recipe path may be, in search order.
func (m *modelFinder) candidates(p string) []string {
	if runtime.GOOS != "windows" {
		p = strings.ReplaceAll(p, `\`, "/")
	}
	if filepath.IsAbs(p) {
		return []string{filepath.Clean(p)}
	}
	var out []string
	for _, d := range m.dirs {
		out = append(out, filepath.Join(d, p))
	}
	out = append(out, filepath.Join(m.recipeDir, p))
	return out
}

// find returns the first existing candidate.
func (m *modelFinder) find(p string) (string, error) {
	cands := m.candidates(p)
	for _, c := range cands {
		st, err := os.Stat(c)
		if err == nil && !st.IsDir() {
			return c, nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("model file \"%s\" not found (looked for %s)", p, strings.Join(cands, ", "))
}

// Model implements compiler.ModelSource.
func (m *modelFinder) Model(p string) (*compiler.ModelInfo, error) {
	m.mu.Lock()
	info, ok := m.cache[p]
	m.mu.Unlock()
	if ok {
		return info, nil
	}
	return m.load(p)
}

// Prefetch implements compiler.ModelPrefetcher: it reads the headers of the models not yet
// cached on up to GOMAXPROCS goroutines, so that the recipe's models are opened, parsed and
// hashed in parallel (9 SDXL headers took ~30 ms one after the other, 216 ~0.75 s). Errors are
// dropped: Model reports them, in the recipe's order.
func (m *modelFinder) Prefetch(paths []string) {
	var todo []string
	seen := map[string]bool{}
	m.mu.Lock()
	for _, p := range paths {
		if _, ok := m.cache[p]; !ok && !seen[p] {
			seen[p] = true
			todo = append(todo, p)
		}
	}
	m.mu.Unlock()
	workers := min(runtime.GOMAXPROCS(0), len(todo))
	if workers < 2 {
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(todo); i = int(next.Add(1)) - 1 {
				_, _ = m.load(todo[i])
			}
		})
	}
	wg.Wait()
}

// load reads the header of the model at recipe path p and caches what it found. Models whose
// headers list the same tensors share one table (tensorSets), whichever was read first.
func (m *modelFinder) load(p string) (*compiler.ModelInfo, error) {
	path, err := m.find(p)
	if err != nil {
		return nil, err
	}
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	kept := false
	defer func() {
		if !kept {
			f.Close()
		}
	}()
	info := &compiler.ModelInfo{
		Path:       path,
		Size:       f.Size,
		HeaderHash: hex.EncodeToString(f.HeaderHash[:]),
	}
	// By name: the header's data order is name order in most files (sorting the map's keys
	// was 0.7 ms a header, 3% of compiling the TIES benchmark).
	names := slices.Clone(f.Names())
	if !slices.IsSorted(names) {
		slices.Sort(names)
	}
	// The table's identity: names (length-prefixed, so unambiguous), dtypes and shapes.
	h := sha256.New()
	var buf []byte
	for _, name := range names {
		t := f.Tensors[name]
		buf = strconv.AppendInt(buf[:0], int64(len(name)), 10)
		buf = append(append(buf, ':'), name...)
		buf = strconv.AppendInt(append(buf, ' '), int64(t.DType), 10)
		for _, d := range t.Shape {
			buf = strconv.AppendInt(append(buf, ','), int64(d), 10)
		}
		h.Write(append(buf, ';'))
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	m.mu.Lock()
	defer m.mu.Unlock()
	if cached, ok := m.cache[p]; ok {
		return cached, nil // a Prefetch goroutine was first
	}
	if m.keep && m.files[path] == nil {
		m.tables.Share(f.Header)
		m.files[path], kept = f, true
	}
	if ts, ok := m.tensorSets[sum]; ok {
		info.Tensors = ts
	} else {
		info.Tensors = make(map[string]compiler.TensorInfo, len(names))
		for _, name := range names {
			t := f.Tensors[name]
			info.Tensors[name] = compiler.TensorInfo{DType: t.DType, Shape: t.Shape}
		}
		m.tensorSets[sum] = info.Tensors
	}
	m.cache[p] = info
	return info, nil
}

// allFound reports whether every model path of the list can be found, and the first missing.
func (m *modelFinder) allFound(paths []string) (bool, string) {
	for _, p := range paths {
		if _, err := m.find(p); err != nil {
			return false, p
		}
	}
	return true, ""
}

func dirOf(p string) string { return filepath.Dir(p) }
