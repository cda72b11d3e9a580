package fastblas

import "testing"

func BenchmarkPackA(b *testing.B) {
	const mb, kb = 96, 256
	src := make([]float64, 4096*4096)
	for i := range src {
		src[i] = float64(i)
	}
	dst := make([]float64, mb*kb)
	for _, trans := range []bool{false, true} {
		name := "N"
		if trans {
			name = "T"
		}
		b.Run(name, func(b *testing.B) {
			a := matrix{src, 4096, trans}
			b.SetBytes(8 * mb * kb)
			for b.Loop() {
				packA(dst, a, 128, mb, 64, kb)
			}
		})
	}
}
