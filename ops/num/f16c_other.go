//go:build !amd64

package num

var hasF16C = false

func decodeF16Fast(dst []float64, src []byte) int { return 0 }

func encodeF16Fast(dst []byte, src []float64, viaF32 bool) int { return 0 }
