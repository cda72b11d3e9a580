//go:build !amd64

package num

// hasF16C and hasAVX512VL: no vector paths here (the tests read them).
var hasF16C, hasAVX512VL = false, false

func decodeF16Fast(dst []float64, src []byte) int { return 0 }

func encodeF16Fast(dst []byte, src []float64, viaF32 bool) int { return 0 }
