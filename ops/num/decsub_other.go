//go:build !amd64

package num

import "github.com/mechac/mechac/ops"

func decodeSubFast(dst []float64, src []byte, d ops.DType, b []float64) int { return 0 }

func decodeAddFast(dst []float64, src []byte, d ops.DType, b []float64) int { return 0 }

func decodeFMAFast(dst []float64, src []byte, d ops.DType, b []float64, c float64) int { return 0 }

// hasAVX2 is false: no vector kernels here (the tests ask it where they expect them to run).
var hasAVX2 = false
