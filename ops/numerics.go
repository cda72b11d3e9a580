package ops

import "fmt"

// Numerics selects how floating point is done, recorded in the plan and the output.
type Numerics uint8

const (
	// Exact: hyper-parameters are exact float64; results are rounded once to the output dtype.
	Exact Numerics = iota
	// SDMecha reproduces sd-mecha 1.1.5 with merge dtype float64 bit for bit: Tensor-typed
	// hyper-parameters are float32, float16/bfloat16 outputs are rounded through float32, and
	// formulas follow torch's operation order (lerp's two branches, fused multiply-adds).
	SDMecha
)

func (n Numerics) String() string {
	if n == SDMecha {
		return "sd-mecha"
	}
	return "exact"
}

// ParseNumerics reads "exact" or "sd-mecha".
func ParseNumerics(s string) (Numerics, error) {
	switch s {
	case "exact":
		return Exact, nil
	case "sd-mecha", "sdmecha", "compat":
		return SDMecha, nil
	}
	return 0, fmt.Errorf("unknown numerics %q (exact or sd-mecha)", s)
}
