package vm_test

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/stdlib"
	"github.com/mechac/mechac/vm"
)

// recordingStager is a Stager that checks the VM's side of the contract: pass 0 must show every
// chunk of every tensor argument once, in order; the later passes and the output pass must show
// the same values again. After the last pass it runs the method's whole-tensor kernel on what
// it saw, and Chunk hands out slices of that result, so the output must be the whole run's bytes.
type recordingStager struct {
	def    *ops.Def
	call   ops.StageCall
	passes int
	n      int
	args   [][]float64 // whole tensors, gathered in pass 0
	next   int         // the lo expected next
	out    []float64
	// unstage: Observe returns ErrUnstaged (the VM must run the key whole).
	unstage bool
}

func (s *recordingStager) Passes() int { return s.passes }

func (s *recordingStager) Observe(pass, lo int, args [][]float64) error {
	if s.unstage {
		return fmt.Errorf("test: %w", ops.ErrUnstaged)
	}
	if lo != s.next {
		return fmt.Errorf("pass %d: chunk at %d, want %d", pass, lo, s.next)
	}
	if len(args) != s.call.Tensors {
		return fmt.Errorf("pass %d: %d tensors, StageCall said %d", pass, len(args), s.call.Tensors)
	}
	if pass == 0 && s.args == nil {
		s.args = make([][]float64, len(args))
	}
	for i, a := range args {
		if pass == 0 {
			s.args[i] = append(s.args[i], a...)
		} else if !bitsEqual(a, s.args[i][lo:lo+len(a)]) {
			return fmt.Errorf("pass %d: tensor %d differs at chunk %d from pass 0", pass, i, lo)
		}
	}
	s.next = lo + len(args[0])
	return nil
}

func (s *recordingStager) EndPass(pass int) error {
	if s.next != s.n {
		return fmt.Errorf("pass %d covered %d of %d elements", pass, s.next, s.n)
	}
	s.next = 0
	if pass < s.passes-1 {
		return nil
	}
	c := &ops.Call{Numerics: s.call.Numerics, Kw: s.call.Kw, Out: &ops.Tensor{Shape: s.call.Shape, Data: make([]float64, s.n)}}
	for _, a := range s.args {
		c.Var = append(c.Var, ops.TensorValue(&ops.Tensor{Shape: s.call.Shape, Data: a}))
	}
	if err := s.def.Kernel(c); err != nil {
		return err
	}
	s.out = c.Out.Data
	return nil
}

func (s *recordingStager) Chunk(lo int, args [][]float64, out []float64) error {
	for i, a := range args {
		if !bitsEqual(a, s.args[i][lo:lo+len(a)]) {
			return fmt.Errorf("output pass: tensor %d differs at chunk %d from pass 0", i, lo)
		}
	}
	copy(out, s.out[lo:lo+len(out)])
	return nil
}

func bitsEqual(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
}

// stagedRegistry is the default registry with ties_sum given a recordingStager of that many
// passes (unstage: every Stager refuses).
func stagedRegistry(t *testing.T, passes int, unstage bool) *ops.Registry {
	t.Helper()
	r := ops.NewRegistry()
	for _, d := range stdlib.Default().Defs() {
		if d.Name == "ties_sum" && d.Era == "" {
			c := *d
			c.Stage = &ops.StageDef{
				New: func(call ops.StageCall) (ops.Stager, bool, error) {
					return &recordingStager{def: d, call: call, passes: passes, n: ops.NumElements(call.Shape), unstage: unstage}, true, nil
				},
				Scratch: func(r, n int) int64 { return int64(r+1) * int64(n) * 8 },
			}
			d = &c
		}
		if err := r.Register(d); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// TestStagedBitwise: a key program with a staged call (ties_sum between elementwise calls and a
// fallback) writes the whole run's bytes for every chunk length, -j, --max-memory, with one and
// with two statistics passes, when the Stager refuses (ErrUnstaged), and with non-finite inputs
// (the key goes back to whole tensors).
func TestStagedBitwise(t *testing.T) {
	dir := t.TempDir()
	keys := testKeys(t, 40)
	for k, s := range keys {
		if len(s) >= 2 {
			keys[k] = append([]int{29}, s[1:]...)
		}
	}
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names)
	writeModel(t, filepath.Join(dir, "a.safetensors"), ops.F16, keys, 1, map[string]bool{names[5]: true})
	writeModel(t, filepath.Join(dir, "b.safetensors"), ops.BF16, keys, 2, nil)
	writeModel(t, filepath.Join(dir, "c.safetensors"), ops.F32, keys, 3, map[string]bool{names[11]: true})
	recipe := "version 0.1.0\n" +
		`model "a.safetensors" model_config="sdxl-sgm" merge_space="weight"` + "\n" +
		`model "b.safetensors" model_config="sdxl-sgm" merge_space="weight"` + "\n" +
		`model "c.safetensors" model_config="sdxl-sgm" merge_space="weight"` + "\n" +
		"merge \"subtract\" &1 &0\nmerge \"subtract\" &2 &0\n" +
		"merge \"ties_sum\" &3 &4 k=0.3\nmerge \"add_difference\" &0 &5 alpha=0.8\nmerge \"fallback\" &6 &1\n"
	prog := compile(t, dir, recipe, "exact", ops.F16)
	noCache := false // the inputs read once (stage_cache.go) or chunk by chunk in every pass
	run := func(reg *ops.Registry, chunk, jobs int, mem int64) string {
		return runSum(t, prog, vm.Options{Registry: reg, Jobs: jobs, ChunkElems: chunk, MaxMemory: mem, NoStageCache: noCache},
			fmt.Sprintf("chunk %d -j %d", chunk, jobs))
	}
	want := run(stdlib.Default(), -1, 1, 0)
	for _, passes := range []int{1, 2} {
		reg := stagedRegistry(t, passes, false)
		an, err := vm.Analyze(prog, vm.Options{Registry: reg, ChunkElems: 50})
		if err != nil {
			t.Fatal(err)
		}
		peaks, chunked, chunk := an.Peaks, an.Chunked, an.ChunkElems
		for i, k := range prog.Keys {
			if !chunked[i] {
				t.Fatalf("key %s: not staged", k.Name)
			}
			if n := int64(ops.NumElements(k.Shape)); peaks[i] <= 3*n*8 || peaks[i] >= k.Peak+int64(chunk)*8*20 {
				t.Errorf("key %s: admitted with %d bytes (n %d, whole peak %d)", k.Name, peaks[i], n, k.Peak)
			}
		}
		for _, noCache = range []bool{false, true} {
			for _, c := range []struct {
				chunk, jobs int
				mem         int64
			}{{2, 1, 0}, {3, 2, 0}, {16, 1, 0}, {28, 2, 0}, {29, 1, 0}, {100, 2, 0}, {5, 2, 4096}, {0, 2, 0}} {
				if got := run(reg, c.chunk, c.jobs, c.mem); got != want {
					t.Errorf("%d passes, chunk %d -j %d --max-memory %d, no cache %v: sha256 %s, whole tensors %s",
						passes, c.chunk, c.jobs, c.mem, noCache, got, want)
				}
			}
		}
		noCache = false
	}
	if got := run(stagedRegistry(t, 1, true), 7, 2, 0); got != want {
		t.Errorf("Stager refusing: sha256 %s, whole tensors %s", got, want)
	}
}
