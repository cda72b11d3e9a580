package fastblas

import "testing"

// TestTranspose: every element lands at its transposed place, for shapes on and off the tile
// edge and a source with a row stride wider than its columns.
func TestTranspose(t *testing.T) {
	for _, sh := range [][3]int{{1, 1, 1}, {3, 70, 70}, {33, 32, 40}, {64, 31, 31}, {100, 65, 80}} {
		rows, cols, stride := sh[0], sh[1], sh[2]
		src := make([]float64, rows*stride)
		for i := range src {
			src[i] = float64(i) + 0.5
		}
		dst := make([]float64, rows*cols)
		Transpose(dst, src, rows, cols, stride)
		for i := range rows {
			for j := range cols {
				if got, want := dst[j*rows+i], src[i*stride+j]; got != want {
					t.Fatalf("%dx%d stride %d: (%d,%d) = %v, want %v", rows, cols, stride, j, i, got, want)
				}
			}
		}
	}
}
