// Package synth writes small synthetic checkpoints of a model config, for tests and benchmarks
// of mechac without real (multi-gigabyte, licensed) models.
//
// A synthetic model has every key of the config with shapes scaled down like the golden pool
// (/work/shared/golden/_pool, made by gen_models.py): every dimension >= 16 is divided by the
// divisor and rounded half to even (Python's round), at least 1; smaller dimensions (conv
// kernels, the 4 latent channels, the leading 1 of [1, 77]) are kept; integer keys keep their
// real shape. Values are deterministic per (seed, key) and independent of the order in which
// keys are generated, so a file with fewer keys holds the same values for the keys it has.
//
// The values are not the pool's bit for bit (the pool uses numpy's PCG64 generator), only
// the same distribution: base ~ N(mean, std^2) with std = 1/sqrt(fan_in) for weights of two or
// more dimensions (fan_in = product of all but the first dimension), 0.1 for other 1-D tensors,
// 0.02 for biases and 0-dim tensors, mean 1 for 1-D norm weights; a fine-tune (FineTuneOf set)
// is base(FineTuneOf) + N(0, (DeltaRel*std)^2) drawn from Seed, so fine-tunes of one base share
// it and differ from it by about 5% per element.
//
// Sizes for the sdxl-sgm config (the 2515 keys of a real SDXL base checkpoint: optional keys
// included except the v-pred/edm markers, i.e. Exclude: SDXLBaseExcluded), float16, tensor
// data only (the JSON header adds about 0.3 MB at every divisor):
//
//	divisor  1  3,468,837,945 params  6,937,676,352 bytes (6.5 GiB, the real shapes)
//	divisor  2    867,806,841 params  1,735,614,144 bytes (1.6 GiB)
//	divisor  4    217,250,713 params    434,501,888 bytes (414 MiB)
//	divisor  8     54,462,377 params    108,925,216 bytes (104 MiB)
//	divisor 16     13,690,449 params     27,381,360 bytes (26 MiB)
//	divisor 32      3,460,077 params      6,920,616 bytes (6.6 MiB)
//	divisor 64        883,837 params      1,768,136 bytes (1.7 MiB, the golden pool's size)
//
// TestSDXLSizes recomputes the table. Parameter counts fall with the square of the divisor
// because almost all parameters sit in weights with two scaled dimensions.
package synth

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/vm/safetensors"
)

// Options selects what Generate writes. The zero value is a valid base model: seed 0,
// divisor 64, float16, all keys.
type Options struct {
	// Seed of the values (of the fine-tune delta when FineTuneOf is set).
	Seed int64
	// FineTuneOf, if set, makes the model a fine-tune of the base model with that seed.
	FineTuneOf *int64
	// DeltaRel is the fine-tune delta's std relative to the key's base std; 0 means 0.05.
	DeltaRel float64
	// Divisor scales the shapes (see the package comment); 0 means 64, 1 gives real shapes.
	Divisor int
	// MinDim is the smallest dimension that is scaled; 0 means 16.
	MinDim int
	// DType of the floating-point keys: a safetensors or torch name; "" means F16. Integer keys
	// (position_ids, counters) keep the config's integer dtype.
	DType string
	// SkipOptional drops the config's optional keys.
	SkipOptional bool
	// Exclude, if set, drops the keys for which it returns true (e.g. SDXLBaseExcluded).
	Exclude func(k *ops.KeySpec) bool
	// Metadata is added to the file's __metadata__ (besides what Generate records).
	Metadata map[string]string
	// Workers generating tensors in parallel; 0 means GOMAXPROCS. The output does not depend
	// on it.
	Workers int
}

var sdxlBaseExcluded = regexp.MustCompile(`^(edm_vpred\.|v_pred$|ztsnr$)`)

// SDXLBaseExcluded reports the optional keys a real SDXL base checkpoint does not have (the
// v-pred/edm markers, the scheduler buffers); the golden pool leaves them out.
func SDXLBaseExcluded(k *ops.KeySpec) bool {
	return k.Optional && (k.Component == "scheduler" || sdxlBaseExcluded.MatchString(k.Name))
}

func (o *Options) defaults() error {
	if o.DeltaRel == 0 {
		o.DeltaRel = 0.05
	}
	if o.Divisor == 0 {
		o.Divisor = 64
	}
	if o.Divisor < 0 {
		return fmt.Errorf("synth: divisor %d must be positive", o.Divisor)
	}
	if o.MinDim == 0 {
		o.MinDim = 16
	}
	if o.DType == "" {
		o.DType = "F16"
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return nil
}

// Key is one tensor Generate writes.
type Key struct {
	Spec  *ops.KeySpec
	DType ops.DType
	Shape []int
}

// Plan returns the keys Generate writes for cfg, in config order, with their scaled shapes and
// dtypes. Keys without a declared shape are an error.
func Plan(cfg *ops.ModelConfig, opts Options) ([]Key, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	dt, err := ops.ParseDType(opts.DType)
	if err != nil {
		return nil, fmt.Errorf("synth: %v", err)
	}
	if !dt.IsFloat() {
		return nil, fmt.Errorf("synth: dtype %v is not a floating-point type", dt)
	}
	var keys []Key
	for i := range cfg.Keys {
		k := &cfg.Keys[i]
		if (opts.SkipOptional && k.Optional) || (opts.Exclude != nil && opts.Exclude(k)) {
			continue
		}
		if k.Shape == nil {
			return nil, fmt.Errorf("synth: config %s: key %s has no declared shape", cfg.ID, k.Name)
		}
		if !k.DType.IsFloat() {
			keys = append(keys, Key{Spec: k, DType: k.DType, Shape: append([]int{}, k.Shape...)})
			continue
		}
		keys = append(keys, Key{Spec: k, DType: dt, Shape: ScaleShape(k.Shape, opts.Divisor, opts.MinDim)})
	}
	return keys, nil
}

// ScaleShape divides every dimension >= minDim by divisor, rounding half to even, at least 1.
func ScaleShape(shape []int, divisor, minDim int) []int {
	out := make([]int, len(shape))
	for i, d := range shape {
		if divisor <= 1 || d < minDim {
			out[i] = d
			continue
		}
		out[i] = max(1, int(math.RoundToEven(float64(d)/float64(divisor))))
	}
	return out
}

// Generate writes a synthetic model of cfg to path (atomically, see package
// vm/safetensors). Its metadata records the generator's options.
func Generate(cfg *ops.ModelConfig, opts Options, path string) error {
	if err := opts.defaults(); err != nil {
		return err
	}
	keys, err := Plan(cfg, opts)
	if err != nil {
		return err
	}
	decl := make([]safetensors.OutTensor, len(keys))
	for i, k := range keys {
		decl[i] = safetensors.OutTensor{Name: k.Spec.Name, DType: k.DType, Shape: k.Shape}
	}
	meta := map[string]string{
		"generator": "mechac synth (config " + cfg.ID + ")",
		"seed":      strconv.FormatInt(opts.Seed, 10),
		"divisor":   strconv.Itoa(opts.Divisor),
		"dtype":     opts.DType,
	}
	if opts.FineTuneOf != nil {
		meta["base_seed"] = strconv.FormatInt(*opts.FineTuneOf, 10)
		meta["delta_rel"] = strconv.FormatFloat(opts.DeltaRel, 'g', -1, 64)
	}
	for k, v := range opts.Metadata {
		meta[k] = v
	}
	w, err := safetensors.Create(path, decl, meta, safetensors.WriterOptions{})
	if err != nil {
		return err
	}
	defer w.Abort() // no-op after a successful Commit

	// Workers take keys from a channel; each tensor is generated and written on its own, so
	// memory stays at about one tensor per worker.
	next := make(chan Key)
	errs := make(chan error, opts.Workers)
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Go(func() {
			for k := range next {
				v := Values(k.Spec.Name, k.Shape, k.DType, opts)
				if err := w.WriteFloat64(k.Spec.Name, v); err != nil {
					errs <- err
					for range next { // drain so the sender finishes
					}
					return
				}
			}
		})
	}
	for _, k := range keys {
		next <- k
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return w.Commit()
}

// Values returns the values of one key as Generate computes them (before rounding to the
// file's dtype). Integer keys get 0, 1, ..., n-1 (position_ids), or 1 when they have a single
// element (counters such as model_ema.num_updates, flags), as in the golden pool.
func Values(name string, shape []int, dt ops.DType, opts Options) []float64 {
	_ = opts.defaults()
	n := ops.NumElements(shape)
	v := make([]float64, n)
	if !dt.IsFloat() {
		for i := range v {
			v[i] = float64(i)
		}
		if n == 1 {
			v[0] = 1
		}
		return v
	}
	std, mean := baseStd(name, shape), baseMean(name, shape)
	base := opts.Seed
	if opts.FineTuneOf != nil {
		base = *opts.FineTuneOf
	}
	r := keyRand(base, name)
	for i := range v {
		v[i] = mean + std*r.NormFloat64()
	}
	if opts.FineTuneOf != nil {
		d := keyRand(opts.Seed, name)
		s := opts.DeltaRel * std
		for i := range v {
			v[i] += s * d.NormFloat64()
		}
	}
	return v
}

// keyRand is a PCG generator seeded from (seed, key name): independent streams per key, and the
// same stream for the same key in any file with that seed.
func keyRand(seed int64, key string) *rand.Rand {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(seed))
	h.Write(b[:])
	h.Write([]byte(key))
	return rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
}

func baseStd(name string, shape []int) float64 {
	switch {
	case strings.HasSuffix(name, "bias") || len(shape) == 0:
		return 0.02
	case len(shape) == 1:
		return 0.1
	}
	fanIn := ops.NumElements(shape[1:])
	return 1 / math.Sqrt(float64(max(fanIn, 1)))
}

// layerNorm matches the names of normalization weights in SD checkpoints: ...norm....weight,
// CLIP's ln_1/ln_2/ln_final (OpenCLIP naming) and layer_norm1/2.
var layerNorm = regexp.MustCompile(`(norm[^.]*|ln_\d|ln_final|layer_norm\d?)\.weight$`)

func baseMean(name string, shape []int) float64 {
	if len(shape) == 1 && layerNorm.MatchString(name) {
		return 1
	}
	return 0
}
