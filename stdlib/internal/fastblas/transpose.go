package fastblas

// TransposeTile is Transpose's tile edge: a 32 x 32 float64 tile (8 KiB) of the source and one
// of the destination fit the L1 cache together. Other tiled loops over a matrix and its
// transpose (stdlib's symmetric/skew split) use it too.
const TransposeTile = 32

// Transpose writes the transpose of src (rows x cols, row stride stride) into dst (cols x rows,
// packed rows), a tile at a time, so that both sides are read and written a cache line at a
// time (BLAS extensions call this domatcopy). Element by element, each write to a column of a
// 2560² matrix went to another page; gonum's DenseCopyOf of a transposed view copies one
// strided column at a time.
func Transpose(dst, src []float64, rows, cols, stride int) {
	const t = TransposeTile
	for i0 := 0; i0 < rows; i0 += t {
		i1 := min(i0+t, rows)
		for j0 := 0; j0 < cols; j0 += t {
			j1 := min(j0+t, cols)
			for i := i0; i < i1; i++ {
				for j, x := range src[i*stride+j0 : i*stride+j1] {
					dst[(j0+j)*rows+i] = x
				}
			}
		}
	}
}
