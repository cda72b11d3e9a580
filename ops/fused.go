package ops

import (
	"fmt"
	"strconv"
	"strings"
)

// The contract of the fused linear-combination op between the compiler, which emits it
// (SPEC.md §3.5), and stdlib, which implements it: its name and the text of its coefficients.

// LinearCombination is the method's name, for the compiler.
const LinearCombination = "linear_combination"

// NAverageStep and NAverageDiv are the steps the compiler streams a many-model n_average into
// (stdlib/linear.go, SPEC §3.5).
const (
	NAverageStep = "n_average_step"
	NAverageDiv  = "n_average_div"
)

// FormatCoefficients writes coefficients as linear_combination reads them: comma-separated,
// each the shortest decimal that reads back to the same float64.
func FormatCoefficients(cs []float64) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = strconv.FormatFloat(c, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

// ParseCoefficients reads FormatCoefficients' text.
func ParseCoefficients(s string) ([]float64, error) {
	if s == "" {
		return nil, fmt.Errorf("no coefficients")
	}
	parts := strings.Split(s, ",")
	out := make([]float64, len(parts))
	for i, p := range parts {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return nil, fmt.Errorf("coefficient %d: %q is not a number", i+1, p)
		}
		out[i] = f
	}
	return out, nil
}
