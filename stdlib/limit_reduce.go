package stdlib

import "math"

// NormDim0Torch writes torch 1.13's x.norm(dim=0) (linalg.vector_norm(x, 2, dim=0)) of a
// contiguous [rows, cols] tensor to out[:cols]: the norm kernel is binary_kernel_reduce with
// NormTwoOps, so every column is sqrt of acc = fma(x, x, acc) over its rows in order, from +0.0
// -- NormTorch per column. (Not in reduce.go; kept here for F.normalize(dim=0) of add_cosine_a.)
func NormDim0Torch(x []float64, rows, cols int, out []float64) {
	for j := 0; j < cols; j++ {
		acc := 0.0
		for i := 0; i < rows; i++ {
			v := x[i*cols+j]
			acc = math.FMA(v, v, acc)
		}
		out[j] = math.Sqrt(acc)
	}
}
