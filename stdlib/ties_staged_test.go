package stdlib

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/opstest"
)

// tiesKw is ties_sum's keyword arguments (KwOnly order).
func tiesKw(k float64, vote bool) []ops.Value { return []ops.Value{ops.Float(k), ops.Bool(vote)} }

// tiesWhole runs tiesSum.Kernel on whole tensors.
func tiesWhole(ms [][]float64, shape []int, kw []ops.Value) ([]float64, error) {
	return runVarKernel(tiesSum, ops.SDMecha, ms, shape, kw)
}

// runVarKernel runs d's whole-tensor kernel with the tensors ms as its varargs.
func runVarKernel(d *ops.Def, num ops.Numerics, ms [][]float64, shape []int, kw []ops.Value) ([]float64, error) {
	vars := make([]ops.Value, len(ms))
	for i, m := range ms {
		vars[i] = ops.TensorValue(&ops.Tensor{Shape: shape, Data: m, DType: ops.F64})
	}
	c := &ops.Call{Key: "k", Numerics: num, Var: vars, Kw: kw,
		Out: &ops.Tensor{Shape: shape, Data: make([]float64, ops.NumElements(shape)), DType: ops.F64}}
	err := opstest.Run(d, c) // (its scratch holds NaNs, as the VM's holds an earlier call's values)
	return c.Out.Data, err
}

// tiesChunking splits [0, n) into chunks: of length step (the last one shorter), or of random
// lengths in [1, 40] when step is 0.
func tiesChunking(rng *rand.Rand, n, step int) [][2]int {
	var cs [][2]int
	for lo := 0; lo < n; {
		l := step
		if l == 0 {
			l = 1 + rng.IntN(40)
		}
		hi := min(lo+l, n)
		cs = append(cs, [2]int{lo, hi})
		lo = hi
	}
	return cs
}

// tiesPickChunks picks a chunk length among steps (0: random lengths), the statistics passes'
// chunks of it, and for the output either the same chunks or random ones.
func tiesPickChunks(rng *rand.Rand, n int, steps []int) (obs, outs [][2]int, step int) {
	step = steps[rng.IntN(len(steps))]
	obs = tiesChunking(rng, n, step)
	outs = obs
	if rng.IntN(2) == 0 {
		outs = tiesChunking(rng, n, 0)
	}
	return obs, outs, step
}

// tiesRunStaged runs the staged form the way the VM does: every statistics pass over the
// chunks obs, then the output over the chunks outs (any chunking).
func tiesRunStaged(ms [][]float64, shape []int, kw []ops.Value, obs, outs [][2]int) ([]float64, int, error) {
	return runStager(tiesSum.Stage, ops.SDMecha, ms, shape, kw, obs, outs)
}

// runStager runs the Stager of st on the tensors ms as the VM does (statistics passes over
// obs, output over outs) and returns the output and the number of passes.
func runStager(st *ops.StageDef, num ops.Numerics, ms [][]float64, shape []int, kw []ops.Value, obs, outs [][2]int) ([]float64, int, error) {
	s, ok, err := st.New(ops.StageCall{Kw: kw, Tensors: len(ms), Shape: shape, Numerics: num})
	if err != nil || !ok {
		return nil, 0, fmt.Errorf("New: ok=%v err=%v", ok, err)
	}
	cut := func(c [2]int) [][]float64 {
		args := make([][]float64, len(ms))
		for i, m := range ms {
			args[i] = m[c[0]:c[1]]
		}
		return args
	}
	ko, viaKeys := s.(ops.KeyObserver)
	viaKeys = viaKeys && tiesTestViaKeys
	sel, _ := s.(ops.ArgSelector)
	for p := 0; p < s.Passes(); p++ {
		var pick []int
		if sel != nil {
			pick = sel.PassArgs(p)
		}
		for _, c := range obs {
			var err error
			if pick != nil {
				// The pass's arguments alone, as the VM gives them.
				var args [][]float64
				for _, i := range pick {
					args = append(args, ms[i][c[0]:c[1]])
				}
				err = s.Observe(p, c[0], args)
			} else if viaKeys {
				// As the VM does when it computes the keys from the stored bytes.
				args := cut(c)
				err = ko.ObserveKeys(p, c[0], c[1]-c[0], floatKeys(args))
			} else {
				err = s.Observe(p, c[0], cut(c))
			}
			if err != nil {
				return nil, 0, err
			}
		}
		if err := s.EndPass(p); err != nil {
			return nil, 0, err
		}
	}
	out := make([]float64, ops.NumElements(shape))
	ac, fromArgs := s.(ops.ArgChunker)
	fromArgs = fromArgs && tiesTestViaKeys
	for _, c := range outs {
		var err error
		if fromArgs {
			// As the VM does when it makes the arguments a piece at a time.
			err = ac.ChunkFrom(c[0], testArgs(cut(c)), out[c[0]:c[1]])
		} else {
			err = s.Chunk(c[0], cut(c), out[c[0]:c[1]])
		}
		if err != nil {
			return nil, 0, err
		}
	}
	return out, s.Passes(), nil
}

// tiesSameBits reports the first index where a and b differ bitwise.
func tiesFirstDiff(a, b []float64) int {
	for j := range a {
		if math.Float64bits(a[j]) != math.Float64bits(b[j]) {
			return j
		}
	}
	return -1
}

// testArgs is the ops.ArgSource of whole argument chunks.
type testArgs [][]float64

func (a testArgs) Arg(i, off int, dst []float64) error {
	if off < 0 || off+len(dst) > len(a[i]) {
		return fmt.Errorf("argument %d: [%d, %d) of %d", i, off, off+len(dst), len(a[i]))
	}
	copy(dst, a[i][off:])
	return nil
}

// tiesTestViaKeys makes runStager hand a KeyObserver its keys (ObserveKeys) instead of the
// chunks, and an ArgChunker its arguments by ChunkFrom (the keys- modes).
var tiesTestViaKeys bool

// tiesStageModes sets the package knobs for one pass mode and returns their restore.
// Modes: one-pass, two-pass (from a full histogram: tiesHist, tiesBucket), two-pass-fine
// (every bucket counted in the fine histogram), and with a sample pass (tiesSample, tiesRange):
// sampled-one-pass, sampled-two-pass, sampled-narrow (a bracket of about one bucket, which
// misses now and then), and the brackets that miss every time: missed-one-pass,
// missed-two-pass (two more passes), missed-two-pass-fine. A keys- prefix gives the keys
// through ObserveKeys, which turns the one-pass sample plan into the two-pass one.
func tiesStageMode(t *testing.T, mode string) {
	budget, capc, smin, sig := tiesStageKeyBudget, tiesStageCandCap, tiesSampleMin, tiesSampleSigmas
	t.Cleanup(func() {
		tiesStageKeyBudget, tiesStageCandCap, tiesSampleMin, tiesSampleSigmas = budget, capc, smin, sig
		tiesTestViaKeys = false
	})
	mode, tiesTestViaKeys = strings.CutPrefix(mode, "keys-")
	if strings.HasPrefix(mode, "sampled-") || strings.HasPrefix(mode, "missed-") {
		tiesSampleMin = 1
	}
	if strings.HasPrefix(mode, "missed-") {
		tiesSampleSigmas = -1
	}
	switch {
	case mode == "sampled-narrow":
		tiesStageKeyBudget, tiesSampleSigmas = 0, 0.3
	case strings.HasSuffix(mode, "one-pass"):
		tiesStageKeyBudget = 1 << 62
	case strings.HasSuffix(mode, "two-pass"):
		tiesStageKeyBudget = 0
	case strings.HasSuffix(mode, "two-pass-fine"):
		tiesStageKeyBudget, tiesStageCandCap = 0, 0
	}
}

// tiesModePasses is the number of statistics passes of a mode (sampled-narrow: 2 or 4).
func tiesModePasses(mode string) []int {
	mode, viaKeys := strings.CutPrefix(mode, "keys-")
	switch {
	case viaKeys && mode == "sampled-one-pass":
		return []int{2, 4}
	case viaKeys && mode == "missed-one-pass":
		return []int{4}
	case mode == "sampled-narrow", mode == "sampled-two-pass":
		// A bracket misses now and then on a few dozen keys: the tests' deltas are far from
		// the random data the margin is made for.
		return []int{2, 4}
	case strings.HasSuffix(mode, "one-pass"):
		return []int{1}
	case strings.HasPrefix(mode, "missed-"):
		return []int{4}
	}
	return []int{2}
}

var tiesAllModes = []string{"one-pass", "two-pass", "two-pass-fine", "sampled-one-pass", "sampled-two-pass",
	"sampled-narrow", "missed-one-pass", "missed-two-pass", "missed-two-pass-fine",
	"keys-one-pass", "keys-sampled-one-pass", "keys-sampled-two-pass", "keys-missed-one-pass"}

// The staged form gives tiesSum.Kernel's bits (and the stacked computation's) for every pass
// mode, chunking, model count (both sides of 16), k, vote and non-finite values.
func TestTiesStagedMatchesWhole(t *testing.T) {
	modes := tiesAllModes
	rng := rand.New(rand.NewPCG(21, 22))
	for _, n := range []int{1, 2, 3, 4, 5, 15, 16, 17, 33, 100, 257, 1100} {
		for _, r := range []int{1, 2, 3, 8, 15, 16, 17, 40} {
			for _, k := range []float64{0.2, 1, 0, 0.5, 1e-9} {
				for _, vote := range []bool{false, true} {
					bad := rng.IntN(3) == 0
					ms := tiesTestData(rng, r, n, bad)
					shape := []int{n}
					if n%16 == 0 {
						shape = []int{n / 16, 16}
					}
					kw := tiesKw(k, vote)
					want, err := tiesWhole(ms, shape, kw)
					if err != nil {
						t.Fatal(err)
					}
					if ref, _ := tiesSumStacked(ms, n, k, vote); tiesFirstDiff(want, ref) >= 0 {
						t.Fatalf("n=%d r=%d k=%v vote=%v: kernel differs from the stacked path at %d", n, r, k, vote, tiesFirstDiff(want, ref))
					}
					mode := modes[rng.IntN(len(modes))]
					obs, outs, step := tiesPickChunks(rng, n, []int{1, 7, 15, 16, 17, 4096, 0})
					t.Run(mode, func(t *testing.T) {
						tiesStageMode(t, mode)
						got, passes, err := tiesRunStaged(ms, shape, kw, obs, outs)
						if err != nil {
							t.Fatalf("n=%d r=%d k=%v vote=%v step=%d: %v", n, r, k, vote, step, err)
						}
						if want := tiesModePasses(mode); !slices.Contains(want, passes) {
							t.Fatalf("%d passes, want %v", passes, want)
						}
						if j := tiesFirstDiff(got, want); j >= 0 {
							t.Fatalf("n=%d r=%d k=%v vote=%v bad=%v step=%d: [%d] = %v, whole %v",
								n, r, k, vote, bad, step, j, got[j], want[j])
						}
					})
				}
			}
		}
	}
}

// Every chunk length in one run, on a tensor spanning several voter tiles.
func TestTiesStagedChunkLengths(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	const r, n = 5, 3*tiesVoteTile + 37
	ms := tiesTestData(rng, r, n, true)
	for _, vote := range []bool{false, true} {
		kw := tiesKw(0.2, vote)
		want, err := tiesWhole(ms, []int{n}, kw)
		if err != nil {
			t.Fatal(err)
		}
		for _, step := range []int{1, 7, 15, 16, 17, 511, 512, 4096, n} {
			for _, mode := range tiesAllModes {
				t.Run(fmt.Sprint(vote, step, mode), func(t *testing.T) {
					tiesStageMode(t, mode)
					cs := tiesChunking(rng, n, step)
					got, _, err := tiesRunStaged(ms, []int{n}, kw, cs, cs)
					if err != nil {
						t.Fatal(err)
					}
					if j := tiesFirstDiff(got, want); j >= 0 {
						t.Fatalf("[%d] = %v, whole %v", j, got[j], want[j])
					}
				})
			}
		}
	}
}

// Calls the whole kernel rejects or special-cases are not staged; chunks of unequal lengths
// (a broadcast argument) give ErrUnstaged; chunks out of order are an error.
func TestTiesStagedRefuses(t *testing.T) {
	for _, tc := range []struct {
		kw      []ops.Value
		r       int
		shape   []int
		staged  bool
		comment string
	}{
		{tiesKw(0.2, false), 2, []int{10}, true, "ordinary"},
		{tiesKw(2, false), 2, []int{10}, true, "k = 2: k' = 1"},
		{tiesKw(-1, false), 2, []int{10}, false, "k out of range"},
		{tiesKw(math.NaN(), false), 2, []int{10}, false, "k NaN"},
		{tiesKw(0.2, false), 0, []int{10}, false, "no deltas"},
		{tiesKw(0.2, false), 2, []int{0}, false, "no elements"},
		{nil, 2, []int{10}, true, "defaults"},
	} {
		_, ok, err := tiesSum.Stage.New(ops.StageCall{Kw: tc.kw, Tensors: tc.r, Shape: tc.shape})
		if err != nil || ok != tc.staged {
			t.Errorf("%s: ok=%v err=%v, want ok=%v", tc.comment, ok, err, tc.staged)
		}
	}
	s, _, _ := tiesSum.Stage.New(ops.StageCall{Kw: tiesKw(0.2, false), Tensors: 2, Shape: []int{10}})
	if err := s.Observe(0, 0, [][]float64{make([]float64, 4), make([]float64, 1)}); !errors.Is(err, ops.ErrUnstaged) {
		t.Errorf("unequal chunks: %v, want ErrUnstaged", err)
	}
	s, _, _ = tiesSum.Stage.New(ops.StageCall{Kw: tiesKw(0.2, false), Tensors: 2, Shape: []int{10}})
	if err := s.Observe(0, 4, [][]float64{make([]float64, 4), make([]float64, 4)}); err == nil {
		t.Error("a chunk at 4 first: no error")
	}
	if err := s.Chunk(0, [][]float64{make([]float64, 4), make([]float64, 4)}, make([]float64, 4)); err == nil {
		t.Error("an output chunk before the passes: no error")
	}
}

// Scratch declares at least what a Stager allocates, in both pass modes.
func TestTiesStagedScratch(t *testing.T) {
	const r, n = 8, 100000
	rng := rand.New(rand.NewPCG(25, 26))
	ms := tiesTestData(rng, r, n, false)
	cs := tiesChunking(rng, n, 4096)
	for _, mode := range []string{"one-pass", "two-pass"} {
		t.Run(mode, func(t *testing.T) {
			tiesStageMode(t, mode)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			if _, _, err := tiesRunStaged(ms, []int{n}, tiesKw(0.2, false), cs, cs); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			// tiesRunStaged's own output and argument slices are not the Stager's.
			used := int64(after.TotalAlloc-before.TotalAlloc) - 8*n - int64(2*len(cs))*24*r
			declared := tiesSum.Stage.Scratch(r, n)
			t.Logf("allocated %d, declared %d", used, declared)
			if used > declared {
				t.Errorf("allocated %d bytes, declares %d", used, declared)
			}
		})
	}
}

// Sums that overflow to infinity (the tiles recompute such a column plainly) and deltas all
// below, at and above every threshold kind (zeros, subnormals, huge values).
func TestTiesStagedExtremes(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	vals := []float64{math.MaxFloat64, -math.MaxFloat64, 1e308, -1e308, 5e-324, -5e-324, 0,
		math.Copysign(0, -1), 1, -1, math.Inf(1), math.NaN()}
	for trial := range 200 {
		r, n := 1+rng.IntN(20), 1+rng.IntN(100)
		ms := make([][]float64, r)
		for i := range ms {
			ms[i] = make([]float64, n)
			for j := range ms[i] {
				ms[i][j] = vals[rng.IntN(len(vals)-2*(trial%2))] // odd trials: all finite
			}
		}
		k := []float64{0.2, 1, 0, 0.5, 1e-9}[rng.IntN(5)]
		kw := tiesKw(k, rng.IntN(2) == 0)
		want, err := tiesWhole(ms, []int{n}, kw)
		if err != nil {
			t.Fatal(err)
		}
		cs := tiesChunking(rng, n, 0)
		got, _, err := tiesRunStaged(ms, []int{n}, kw, cs, cs)
		if err != nil {
			t.Fatal(err)
		}
		if j := tiesFirstDiff(got, want); j >= 0 {
			t.Fatalf("trial %d r=%d n=%d %v: [%d] = %v, whole %v", trial, r, n, kw, j, got[j], want[j])
		}
		if ref, _ := tiesSumStacked(ms, n, kw[0].F, kw[1].B); tiesFirstDiff(want, ref) >= 0 {
			t.Fatalf("trial %d: kernel differs from the stacked path", trial)
		}
	}
}

// Key buffers: a size class holds n and at most tiesKeysCap(n) keys (what Scratch declares);
// a returned buffer serves a later key of its class or a smaller one (the smallest fitting
// buffer, up to tiesKeyReuse times the class); the idle list keeps its bounds, the
// least recently returned buffer dropped first, and keeps nothing under a memory limit.
func TestTiesKeyBuffers(t *testing.T) {
	for n := range 5000 {
		if c := tiesKeyClass(n); c < n || c > tiesKeysCap(n) || (n >= 8 && bits.OnesCount(uint(c)) > 3) {
			t.Fatalf("class of %d: %d (cap %d)", n, c, tiesKeysCap(n))
		}
	}
	for _, n := range []int{1 << 20, 3276800, 1<<30 + 1} {
		if c := tiesKeyClass(n); c < n || c > tiesKeysCap(n) {
			t.Fatalf("class of %d: %d", n, c)
		}
	}
	idle := tiesKeyIdleBytes
	t.Cleanup(func() {
		tiesKeyIdleBytes = idle
		tiesKeyFree.bufs, tiesKeyFree.bytes = nil, 0
	})
	tiesKeyFree.bufs, tiesKeyFree.bytes = nil, 0
	tiesKeyIdleBytes = 4 * 10000
	a := tiesGetKeys(1000)
	tiesPutKeys(a)
	if b := tiesGetKeys(900); &b[0] != &a[0] || len(b) != 900 {
		t.Fatal("a key of the same class got a new buffer")
	}
	if b := tiesGetKeys(900); &b[0] == &a[0] {
		t.Fatal("a buffer handed out twice")
	}
	// A buffer of a larger class serves n keys up to tiesKeyReuse times their class, the
	// smallest such first; no larger one.
	tiesKeyFree.bufs, tiesKeyFree.bytes = nil, 0
	big := tiesGetKeys(1100)   // class 1280
	small := tiesGetKeys(1000) // class 1024
	huge := tiesGetKeys(2000)  // class 2048
	tiesPutKeys(small)
	tiesPutKeys(huge) // (the newest idle buffer)
	// 200 keys: class 224, up to 896.
	if b := tiesGetKeys(200); &b[0] == &small[0] || &b[0] == &huge[0] {
		t.Fatalf("200 keys (class %d) took an idle buffer of %d", tiesKeyClass(200), cap(b))
	}
	if b := tiesGetKeys(700); &b[0] != &small[0] || len(b) != 700 { // class 768: both fit
		t.Fatalf("700 keys took a buffer of %d, want the smaller idle one of %d", cap(b), cap(small))
	}
	if b := tiesGetKeys(700); &b[0] != &huge[0] {
		t.Fatalf("700 keys took a buffer of %d, want the idle one of %d", cap(b), cap(huge))
	}
	tiesPutKeys(big)
	if b := tiesGetKeys(300); &b[0] != &big[0] { // class 320, up to 1280
		t.Fatalf("300 keys (class %d) did not take the idle buffer of %d", tiesKeyClass(300), cap(big))
	}
	for _, bound := range []int64{1 << 20, 4 * 2000} { // the count bound, then the bytes' bound
		tiesKeyIdleBytes = bound
		var bufs [][]uint32
		for i := range 2 * tiesKeyIdleBufs {
			bufs = append(bufs, tiesGetKeys(100+i*15%1500)) // each below the bytes bound
		}
		for _, b := range bufs {
			tiesPutKeys(b)
			var sum int64
			for _, f := range tiesKeyFree.bufs {
				sum += 4 * int64(cap(f))
			}
			if len(tiesKeyFree.bufs) > tiesKeyIdleBufs || sum != tiesKeyFree.bytes || sum > tiesKeyIdleBytes {
				t.Fatalf("%d idle buffers of %d bytes (counted %d)", len(tiesKeyFree.bufs), sum, tiesKeyFree.bytes)
			}
		}
		if last := tiesKeyFree.bufs[len(tiesKeyFree.bufs)-1]; &last[0] != &bufs[len(bufs)-1][0] {
			t.Fatal("the last returned buffer was dropped")
		}
	}
	tiesKeyFree.bufs, tiesKeyFree.bytes = nil, 0
	tiesKeyIdleBytes = 1 << 20
	KeepIdleBuffers(false)
	tiesPutKeys(make([]uint32, 10))
	KeepIdleBuffers(true)
	if len(tiesKeyFree.bufs) != 0 {
		t.Fatal("an idle buffer kept under a memory budget")
	}
	tiesKeyIdleBytes = 0
	tiesPutKeys(make([]uint32, 10))
	if len(tiesKeyFree.bufs) != 0 {
		t.Fatalf("%d idle buffers over a bound of 0 bytes", len(tiesKeyFree.bufs))
	}
}

// tiesSelectInBucket gives the rank-th smallest key, as sorting does, on buckets above and
// below tiesSelectMin keys: uniform low bits, a few distinct values (ties across the
// sub-buckets' edges), all keys equal, every key in one sub-bucket; and the staged form on a
// tensor large enough to take the histogram path gives the whole kernel's bits.
func TestTiesSelectInBucket(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	const b = 0x3a1 << tiesFineShift
	for _, n := range []int{1, 100, tiesSelectMin - 1, tiesSelectMin, 5000, 30011} {
		for _, kind := range []string{"uniform", "few", "equal", "one-sub"} {
			keys := make([]uint32, n)
			for j := range keys {
				switch kind {
				case "uniform":
					keys[j] = b | rng.Uint32N(tiesFineBuckets)
				case "few":
					keys[j] = b | []uint32{0, 1023, 1024, 5000, 1<<20 - 1}[rng.IntN(5)]
				case "equal":
					keys[j] = b | 77
				case "one-sub":
					keys[j] = b | 3<<10 | rng.Uint32N(1024)
				}
			}
			sorted := slices.Clone(keys)
			slices.Sort(sorted)
			for _, rank := range []int{0, n / 3, n / 2, n - 1, rng.IntN(n)} {
				if got := tiesSelectInBucket(slices.Clone(keys), rank); got != sorted[rank] {
					t.Fatalf("%s n %d rank %d: %#x, want %#x", kind, n, rank, got, sorted[rank])
				}
			}
		}
	}
	const r, n = 3, 60000
	ms := tiesTestData(rng, r, n, false)
	for _, mode := range []string{"one-pass", "two-pass"} {
		t.Run(mode, func(t *testing.T) {
			tiesStageMode(t, mode)
			kw := tiesKw(0.2, false)
			want, err := tiesWhole(ms, []int{n}, kw)
			if err != nil {
				t.Fatal(err)
			}
			cs := tiesChunking(rng, n, 4096)
			got, _, err := tiesRunStaged(ms, []int{n}, kw, cs, cs)
			if err != nil {
				t.Fatal(err)
			}
			if j := tiesFirstDiff(got, want); j >= 0 {
				t.Fatalf("[%d] = %v, whole %v", j, got[j], want[j])
			}
		})
	}
}
