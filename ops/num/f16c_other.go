//go:build !amd64

package num

// hasF16C, hasAVX512 and hasAVX512VL: no vector paths here (the tests read and set them).
var hasF16C, hasAVX512, hasAVX512VL = false, false, false

func decodeF16Fast(dst []float64, src []byte) int { return 0 }

func encodeF16Fast(dst []byte, src []float64, viaF32 bool) int { return 0 }
