// Command mechac-bench times mechac on synthetic SDXL-shaped models against the machine's I/O
// bound: how long it takes to read every input once and to write an output of the merge's size.
//
//	go run ./cmd/mechac-bench [--scale 4] [--models 8] [--dir DIR] [--mechac PATH] [-j N]
//	                          [--cache both|cold|warm] [--repeat R] [--recipes average,ties,della] [--json]
//
// It builds mechac (or uses --mechac), writes the synthetic models with `mechac synth` unless
// DIR already holds them, writes the recipes, and runs `mechac run` on each as a child process:
//
//   - average: n_average(m0, ..., mN-1), the uniform average of the N fine-tunes;
//   - ties: fallback(add_difference(base, ties_sum(subtract(m0, base), ..., k=0.2)), base);
//   - della (only when --recipes names it): add_difference(base, ties_sum_with_dropout(
//     subtract(m0, base), ...)) with DELLA's ranked dropout, TIES at k=1 and the geometric
//     median, as the real recipes' author calls it (the workload of ../shared/recipes).
//
// For every run it reports the wall time, the user+system CPU time and the peak RSS of the
// child (from wait4's rusage), and the bound measured right after it in the same process: the
// time to read the recipe's input files once, sequentially, plus the time to write and fsync a
// file of the output's size in the same folder. With --cache cold the inputs are evicted from
// the page cache (posix_fadvise POSIX_FADV_DONTNEED, per file, no privileges needed) before
// mechac runs and before the bound's read; with --cache warm they are read once, untimed, first,
// and at a sitting's first warm run each is first dropped from the cache and read back
// sequentially, so that sittings find the cache alike (primeInputs).
// A summary then sets each recipe's median wall time against the fastest bound of the sitting
// (its fastest read plus the fastest write rate of any run): the fsync of the bound's write
// swings 4x on a shared host, and each run's own ratio with it.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
)

type options struct {
	mechac  string
	dir     string
	scale   int
	models  int
	jobs    int
	cache   string
	repeat  int
	recipes []string
	json    bool
}

// Bound is the I/O bound of one run: reading the inputs once plus writing the output once.
type Bound struct {
	ReadSeconds  float64 `json:"read_seconds"`
	ReadBytes    int64   `json:"read_bytes"`
	WriteSeconds float64 `json:"write_seconds"`
	WriteBytes   int64   `json:"write_bytes"`
	Seconds      float64 `json:"seconds"` // read + write
}

// Result is one timed mechac run.
type Result struct {
	Recipe       string  `json:"recipe"`
	Desc         string  `json:"description"`
	Cache        string  `json:"cache"`
	Repeat       int     `json:"repeat"`
	Inputs       int     `json:"inputs"`
	WallSeconds  float64 `json:"wall_seconds"`
	UserSeconds  float64 `json:"user_seconds"`
	SysSeconds   float64 `json:"sys_seconds"`
	CPUSeconds   float64 `json:"cpu_seconds"`
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
	OutputBytes  int64   `json:"output_bytes"`
	Bound        Bound   `json:"bound"`
	Ratio        float64 `json:"wall_over_bound"`
}

// Report is everything --json prints.
type Report struct {
	Machine    Machine   `json:"machine"`
	Mechac     string    `json:"mechac"`
	MechacVCS  string    `json:"mechac_revision,omitempty"`
	Dir        string    `json:"dir"`
	Scale      int       `json:"scale"`
	Models     int       `json:"models"`
	Jobs       int       `json:"jobs"`
	InputBytes int64     `json:"input_bytes_per_model"`
	Results    []Result  `json:"results"`
	Summary    []Summary `json:"summary"`
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "mechac-bench: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	var o options
	fs := pflag.NewFlagSet("mechac-bench", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.StringVar(&o.mechac, "mechac", "", "mechac binary `PATH` (default: go build ./cmd/mechac into a temporary folder)")
	fs.IntVar(&o.scale, "scale", 4, "divide every large dimension of the SDXL shapes by `D` (mechac synth --divisor; 4 = 217M parameters, 415 MiB per model)")
	fs.IntVar(&o.models, "models", 8, "`N` fine-tunes to merge")
	fs.StringVar(&o.dir, "dir", "", "`DIR` for the synthetic models, reused when already there (default: the user cache folder)")
	fs.IntVarP(&o.jobs, "jobs", "j", 0, "passed to mechac run -j (0: mechac's default, the number of CPUs)")
	fs.StringVar(&o.cache, "cache", "both", "page cache state of the inputs: cold, warm or both")
	fs.IntVar(&o.repeat, "repeat", 1, "time every recipe and cache state `R` times")
	fs.StringSliceVar(&o.recipes, "recipes", []string{"average", "ties"}, "recipes to time")
	fs.BoolVar(&o.json, "json", false, "print the results as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.scale < 1 || o.models < 1 || o.repeat < 1 || o.jobs < 0 {
		return errors.New("--scale, --models and --repeat must be at least 1, -j at least 0")
	}
	var caches []string
	switch o.cache {
	case "both":
		caches = []string{"cold", "warm"}
	case "cold", "warm":
		caches = []string{o.cache}
	default:
		return fmt.Errorf("--cache %q: want cold, warm or both", o.cache)
	}
	if slices.Contains(caches, "cold") && !canDropCache {
		return errors.New("--cache cold needs posix_fadvise (Linux on amd64/arm64); use --cache warm")
	}
	var todo []benchRecipe
	for _, r := range recipes(o.models) {
		if slices.Contains(o.recipes, r.Name) {
			todo = append(todo, r)
		}
	}
	if len(todo) != len(o.recipes) {
		var known []string
		for _, r := range recipes(o.models) {
			known = append(known, r.Name)
		}
		return fmt.Errorf("--recipes %q: known recipes are %s", o.recipes, strings.Join(known, ", "))
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "mechac-bench: "+format+"\n", a...) }

	mechac := o.mechac
	if mechac == "" {
		tmp, err := os.MkdirTemp("", "mechac-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		mechac = filepath.Join(tmp, "mechac")
		logf("building mechac into %s", mechac)
		cmd := exec.Command("go", "build", "-o", mechac, "github.com/mechac/mechac/cmd/mechac")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // the static binary users get (README)
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build mechac (run from inside the repository, or pass --mechac): %v", err)
		}
	} else if abs, err := filepath.Abs(mechac); err == nil {
		mechac = abs
	}
	if o.dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return fmt.Errorf("no user cache folder (%v); pass --dir", err)
		}
		o.dir = filepath.Join(cache, "mechac-bench", fmt.Sprintf("sdxl-sgm-d%d-f16", o.scale))
	}
	modelBytes, err := ensureModels(mechac, o.dir, o.scale, o.models, logf, stderr)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp(o.dir, ".bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	rep := Report{
		Machine: machineInfo(), Mechac: mechac, MechacVCS: vcsRevision(mechac), Dir: o.dir,
		Scale: o.scale, Models: o.models, Jobs: o.jobs, InputBytes: modelBytes,
	}
	for _, r := range todo {
		recipePath := filepath.Join(work, r.Name+".mecha")
		if err := os.WriteFile(recipePath, []byte(r.Text), 0o644); err != nil {
			return err
		}
		inputs := recipeInputs(r.Text, o.dir)
		for _, cache := range caches {
			for rep_ := 1; rep_ <= o.repeat; rep_++ {
				logf("%s (%s), %s page cache, run %d of %d", r.Name, r.Desc, cache, rep_, o.repeat)
				res, err := measure(mechac, recipePath, work, o, inputs, cache)
				if err != nil {
					return fmt.Errorf("%s: %v", r.Name, err)
				}
				res.Recipe, res.Desc, res.Repeat = r.Name, r.Desc, rep_
				logf("  wall %.1fs, CPU %.1fs, peak RSS %.0f MiB; bound %.1fs (read %.1fs, write %.1fs)",
					res.WallSeconds, res.CPUSeconds, mib(res.PeakRSSBytes), res.Bound.Seconds, res.Bound.ReadSeconds, res.Bound.WriteSeconds)
				rep.Results = append(rep.Results, *res)
			}
		}
	}
	rep.Summary = summarize(rep.Results)
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printTable(stdout, &rep)
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// recipeInputs lists the files of a recipe's model lines, in dir.
func recipeInputs(text, dir string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, `model "`); ok {
			name, _, _ := strings.Cut(rest, `"`)
			out = append(out, filepath.Join(dir, name))
		}
	}
	return out
}

// measure runs mechac once on the recipe and then measures the bound for the same inputs and
// output size.
func measure(mechac, recipe, work string, o options, inputs []string, cache string) (*Result, error) {
	prepare := func() error {
		if cache == "cold" {
			for _, p := range inputs {
				if err := dropCache(p); err != nil {
					return fmt.Errorf("evicting %s from the page cache: %v", p, err)
				}
			}
			return nil
		}
		if err := primeInputs(inputs); err != nil {
			return err
		}
		_, err := readAll(inputs) // untimed warm-up
		return err
	}
	if err := prepare(); err != nil {
		return nil, err
	}
	out := filepath.Join(work, "out.safetensors")
	args := []string{"run", recipe, "-o", out, "--models-dir", o.dir, "--quiet"}
	if o.jobs > 0 {
		args = append(args, "-j", fmt.Sprint(o.jobs))
	}
	cmd := exec.Command(mechac, args...)
	var errBuf strings.Builder
	cmd.Stderr = &errBuf
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("mechac %s: %v\n%s", strings.Join(args, " "), err, errBuf.String())
	}
	st, err := os.Stat(out)
	if err != nil {
		return nil, err
	}
	if err := os.Remove(out); err != nil {
		return nil, err
	}
	ps := cmd.ProcessState
	res := &Result{
		Cache: cache, Inputs: len(inputs),
		WallSeconds: wall.Seconds(),
		UserSeconds: ps.UserTime().Seconds(), SysSeconds: ps.SystemTime().Seconds(),
		PeakRSSBytes: maxRSS(ps), OutputBytes: st.Size(),
	}
	res.CPUSeconds = res.UserSeconds + res.SysSeconds

	if cache == "cold" {
		if err := prepare(); err != nil {
			return nil, err
		}
	} // warm: mechac has just read every input
	start = time.Now()
	n, err := readAll(inputs)
	if err != nil {
		return nil, err
	}
	res.Bound.ReadSeconds, res.Bound.ReadBytes = time.Since(start).Seconds(), n
	d, err := writeFile(filepath.Join(work, "bound.bin"), st.Size())
	if err != nil {
		return nil, err
	}
	res.Bound.WriteSeconds, res.Bound.WriteBytes = d.Seconds(), st.Size()
	res.Bound.Seconds = res.Bound.ReadSeconds + res.Bound.WriteSeconds
	if res.Bound.Seconds > 0 {
		res.Ratio = res.WallSeconds / res.Bound.Seconds
	}
	return res, nil
}

const ioChunk = 8 << 20

// primed holds the inputs primeInputs has read into the page cache in this process.
var primed = map[string]bool{}

// primeDrop is dropCache (a variable for the tests).
var primeDrop = dropCache

// primeInputs drops each input not primed yet from the page cache and reads it back
// sequentially, so that the warm runs of a sitting find the cache as a sequential read leaves
// it, whatever brought the files in before (their generation, an older run, another tool).
// How the page cache holds a file changes how fast it is copied out: a 415 MiB model cached
// since its generation was read in 0.038-0.059 s, after a cold mechac run 0.030-0.033 s,
// dropped and read back sequentially 0.018-0.022 s (Linux 6.18: larger folios), and the
// bound's read of the nine TIES inputs fell from 0.40-0.44 to 0.17 s (BENCHMARKS, session
// 21). Where a file cannot be dropped it is only read.
func primeInputs(paths []string) error {
	for _, p := range paths {
		if primed[p] {
			continue
		}
		if canDropCache {
			if err := primeDrop(p); err != nil {
				return fmt.Errorf("evicting %s from the page cache: %v", p, err)
			}
		}
		if _, err := readAll([]string{p}); err != nil {
			return err
		}
		primed[p] = true
	}
	return nil
}

// readAll reads every file once, sequentially, in 8 MiB reads, and returns the bytes read.
func readAll(paths []string) (int64, error) {
	buf := make([]byte, ioChunk)
	var total int64
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return total, err
		}
		for {
			n, err := f.Read(buf)
			total += int64(n)
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				return total, err
			}
		}
		f.Close()
	}
	return total, nil
}

// writeFile writes size bytes (not zeros, so that no layer can skip them) in 8 MiB writes,
// fsyncs the file as mechac does its output, removes it, and returns the time up to the fsync.
func writeFile(path string, size int64) (time.Duration, error) {
	buf := make([]byte, ioChunk)
	x := uint64(0x9E3779B97F4A7C15)
	for i := range buf {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		buf[i] = byte(x)
	}
	start := time.Now()
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer os.Remove(path)
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return 0, err
		}
		left -= n
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, err
	}
	d := time.Since(start)
	return d, f.Close()
}

func printTable(w io.Writer, rep *Report) {
	m := rep.Machine
	fmt.Fprintf(w, "machine: %s, %d CPUs, %.1f GiB RAM, %s %s/%s\n", m.CPUModel, m.CPUs, float64(m.MemTotalBytes)/(1<<30), m.GoVersion, m.OS, m.Arch)
	fmt.Fprintf(w, "models:  sdxl-sgm / %d (%.0f MiB per model), base + %d fine-tunes in %s\n", rep.Scale, mib(rep.InputBytes), rep.Models, rep.Dir)
	jobs := "default"
	if rep.Jobs > 0 {
		jobs = fmt.Sprint(rep.Jobs)
	}
	fmt.Fprintf(w, "mechac:  %s %s, -j %s\n", rep.Mechac, rep.MechacVCS, jobs)
	fmt.Fprintln(w, "bound:   read the recipe's inputs once + write and fsync a file of the output's size")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "recipe\tcache\tinputs\twall s\tCPU s\tpeak RSS MiB\tread s\twrite s\tbound s\twall/bound\t")
	for _, r := range rep.Results {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%.1f\t%.0f\t%.2f\t%.2f\t%.2f\t%.1f\t\n",
			r.Recipe, r.Cache, r.Inputs, r.WallSeconds, r.CPUSeconds, mib(r.PeakRSSBytes),
			r.Bound.ReadSeconds, r.Bound.WriteSeconds, r.Bound.Seconds, r.Ratio)
	}
	tw.Flush()
	sums := rep.Summary
	if len(sums) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "fastest bound: each recipe's fastest read plus the sitting's fastest write (per byte) for its output;")
	fmt.Fprintln(w, "               the per-run bound above swings with the host's fsync")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "recipe\tcache\truns\tmedian wall s\tfastest bound s\tmedian wall/fastest bound\t")
	for _, s := range sums {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%.2f\t%.1f\t\n", s.Recipe, s.Cache, s.Runs, s.MedianWall, s.FastestBound, s.Ratio)
	}
	tw.Flush()
}

// Summary is one recipe's runs in one cache state against the fastest bound of the sitting.
type Summary struct {
	Recipe       string  `json:"recipe"`
	Cache        string  `json:"cache"`
	Runs         int     `json:"runs"`
	MedianWall   float64 `json:"median_wall_seconds"`
	FastestBound float64 `json:"fastest_bound_seconds"`
	Ratio        float64 `json:"median_wall_over_fastest_bound"`
}

// summarize compares each recipe's median wall time (per cache state) with the fastest bound
// the sitting measured for it: its own fastest read of the inputs, plus its output's size at
// the fastest write rate of any run (every run writes and fsyncs an output-sized file; their
// times swing 4x with the host, which moves each run's own ratio as much).
func summarize(results []Result) []Summary {
	bestWrite := 0.0 // bytes per second
	for _, r := range results {
		if r.Bound.WriteSeconds > 0 {
			bestWrite = max(bestWrite, float64(r.Bound.WriteBytes)/r.Bound.WriteSeconds)
		}
	}
	type key struct{ recipe, cache string }
	var order []key
	groups := map[key][]Result{}
	for _, r := range results {
		k := key{r.Recipe, r.Cache}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	var out []Summary
	for _, k := range order {
		rs := groups[k]
		walls := make([]float64, len(rs))
		read := rs[0].Bound.ReadSeconds
		for i, r := range rs {
			walls[i] = r.WallSeconds
			read = min(read, r.Bound.ReadSeconds)
		}
		slices.Sort(walls)
		med := walls[len(walls)/2]
		if len(walls)%2 == 0 {
			med = (walls[len(walls)/2-1] + walls[len(walls)/2]) / 2
		}
		s := Summary{Recipe: k.recipe, Cache: k.cache, Runs: len(rs), MedianWall: med, FastestBound: read}
		if bestWrite > 0 {
			s.FastestBound += float64(rs[0].OutputBytes) / bestWrite
		}
		if s.FastestBound > 0 {
			s.Ratio = med / s.FastestBound
		}
		out = append(out, s)
	}
	return out
}
