package ops

import (
	"fmt"
	"strconv"
	"strings"
)

// The contracts between the compiler, which rewrites calls (SPEC.md §3.5), and stdlib, which
// implements the methods: the fused linear-combination op (its name and the text of its
// coefficients), and the streamed form of a method over many models (StreamDef).

// LinearCombination is the method's name, for the compiler.
const LinearCombination = "linear_combination"

// StreamDef is the streamed form of a method whose call over many models is sequential in them
// (Def.Stream; n_average, linear_combination): code generation may emit a call whose arguments
// are the models, as varargs, as a chain of steps instead,
//
//	r = Step(m_1, m_2, StepKw[0]...); r = Step(r, m_3, StepKw[1]...); ...; [r = Finish(r, FinishKw...)]
//
// so that the key program holds the running result and one model at a time. Each step must do
// what the kernel does with its next model, in the kernel's order and rounding, so the chain
// gives the call's bits; the compiler streams only models (float64 in the VM) for that reason.
type StreamDef struct {
	// Step is the method of one step. It takes the running result and the next model as its
	// two positional parameters, or, for a method with varargs and no positional parameters,
	// as its two varargs; then its keyword-only parameters.
	Step string
	// StepKw returns the keyword arguments (in Step's KwOnly order) of the n-1 steps of a call
	// over n models whose own keyword arguments are kw (constants, in KwOnly order): element k-1
	// is the step that takes model k+1. ok = false leaves the call whole.
	StepKw func(n int, kw []Value) (steps [][]Value, ok bool)
	// Finish is, by numerics, the method applied to the result of the last step, with the
	// keyword arguments FinishKw(n); no entry: the last step's result is the call's (sd-mecha's
	// n_average is a running mean, exact numerics' a running sum divided at the end).
	Finish   map[Numerics]string
	FinishKw func(n int) []Value
}

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
