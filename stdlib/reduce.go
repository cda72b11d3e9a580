package stdlib

import (
	"math"
	"math/bits"
)

// Reductions in torch 1.13.1's CPU order (float64, one thread, AVX2 kernels: 4 lanes), so that
// sd-mecha numerics can reproduce sums, norms and cosine similarities bit for bit (golden
// README, "Numerics" rule 7). Exact-mode callers may use them too: the order is as good as any
// and keeps both modes on the same discrete decisions.
//
// The sums follow aten/src/ATen/native/cpu/SumKernel.cpp (cascade_sum):
//
//   - multi_row_sum(size rows of nrows values): nrows accumulators per level, 4 levels. Rows
//     are added into level 0 in groups of 2^level_power (level_power = max(4, ceil_log2(size)/4));
//     after each group level j-1 is added into level j and reset, for j = 1, 2, 3, stopping after
//     the first j whose bits (level_mask << j*level_power) of the row count are not all zero.
//     Leftover rows go into level 0; at the end levels 1..3 are added to level 0 in order.
//   - row_sum(size values): multi_row_sum with 4 accumulators over the size/4 rows of 4
//     consecutive values, the size%4 tail values added to accumulator 0, then accumulators
//     1, 2, 3 added to accumulator 0.
//   - vectorized_inner_sum (sum of a contiguous run, sum(dim=-1)): row_sum over the n/4
//     vectors of 4 lanes (lane-wise), then a scalar sum of the n%4 tail values from 0.0, then
//     lanes 0..3 added to it in order.
//   - vectorized_outer_sum (sum(dim=0) of a contiguous [R, C]): columns in blocks of 16 use
//     multi_row_sum over the R rows (one accumulator per column); every other column uses
//     row_sum over its R values.
//
// The output tensor of a torch reduction starts at +0.0 and receives the result with +=, so
// a sum is never -0.0; every function here returns +0.0 for an all-zero input as torch does.

const reduceLevels = 4

// ceilLog2 is c10::utils::CeilLog2: 1 for x <= 2, else ceil(log2(x)).
func ceilLog2(x int) int {
	if x <= 2 {
		return 1
	}
	return bits.Len64(uint64(x - 1))
}

// multiRowSum is ATen's multi_row_sum: size rows, row i holding the nrows values
// x[off + i*rowStride + k*colStride] (k < nrows), summed per k with the 4-level cascade.
// The nrows sums are written to out. nrows is at most 16.
func multiRowSum(x []float64, off, rowStride, colStride, nrows, size int, out []float64) {
	levelPower := max(4, ceilLog2(size)/reduceLevels)
	levelStep := 1 << levelPower
	wide := nrows == 16 && colStride == 1 // 16 contiguous columns: addRows16
	if size < levelStep {
		// No level is ever carried: the sums are level 0's, and adding the other levels'
		// zeros at the end changes none of them (a sum from +0.0 is never -0.0). Short rows
		// (cosine similarities along a last dimension of 3) call this millions of times, and
		// the four levels' zeroing and final adds were most of its cost.
		var a0 [16]float64
		if wide {
			addRows16(&a0, x, off, rowStride, size)
		} else {
			for i := range size {
				base := off + i*rowStride
				for k := 0; k < nrows; k++ {
					a0[k] += x[base+k*colStride]
				}
			}
		}
		copy(out[:nrows], a0[:nrows])
		return
	}
	var acc [reduceLevels][16]float64
	levelMask := levelStep - 1
	i := 0
	for i+levelStep <= size {
		if wide {
			addRows16(&acc[0], x, off+i*rowStride, rowStride, levelStep)
			i += levelStep
		}
		for j := 0; !wide && j < levelStep; j, i = j+1, i+1 {
			base := off + i*rowStride
			for k := 0; k < nrows; k++ {
				acc[0][k] += x[base+k*colStride]
			}
		}
		for j := 1; j < reduceLevels; j++ {
			for k := 0; k < nrows; k++ {
				acc[j][k] += acc[j-1][k]
				acc[j-1][k] = 0
			}
			if i&(levelMask<<(j*levelPower)) != 0 {
				break
			}
		}
	}
	if wide && i < size {
		addRows16(&acc[0], x, off+i*rowStride, rowStride, size-i)
		i = size
	}
	for ; i < size; i++ {
		base := off + i*rowStride
		for k := 0; k < nrows; k++ {
			acc[0][k] += x[base+k*colStride]
		}
	}
	for j := 1; j < reduceLevels; j++ {
		for k := 0; k < nrows; k++ {
			acc[0][k] += acc[j][k]
		}
	}
	copy(out[:nrows], acc[0][:nrows])
}

// addRows16Go is addRows16's portable loop (and the reference of its assembly).
func addRows16Go(acc *[16]float64, x []float64, off, rowStride, rows int) {
	for i := range rows {
		row := x[off+i*rowStride : off+i*rowStride+16]
		for k, v := range row {
			acc[k] += v
		}
	}
}

// rowSum is ATen's scalar row_sum of the size values x[off + i*stride].
func rowSum(x []float64, off, stride, size int) float64 {
	var p [4]float64
	ilp := size / 4
	multiRowSum(x, off, 4*stride, stride, 4, ilp, p[:])
	for i := ilp * 4; i < size; i++ {
		p[0] += x[off+i*stride]
	}
	for k := 1; k < 4; k++ {
		p[0] += p[k]
	}
	return p[0]
}

// SumTorch returns torch 1.13's x.sum() of a contiguous float64 run (vectorized_inner_sum
// with 4-lane vectors; for n < 4 torch's scalar path gives the same plain sum from +0.0).
func SumTorch(x []float64) float64 {
	n := len(x)
	vecSize := n / 4
	if n < 16 {
		// No 16-lane row: four lanes of the vectors, the scalar tail from +0.0, then the
		// lanes, as below (the other lanes' zeros, added there, change nothing: a sum from
		// +0.0 is never -0.0). Rows of a last dimension of 3 reach this millions of times.
		var l0, l1, l2, l3 float64
		for v := range vecSize {
			l0 += x[4*v]
			l1 += x[4*v+1]
			l2 += x[4*v+2]
			l3 += x[4*v+3]
		}
		acc := 0.0
		for _, v := range x[vecSize*4:] {
			acc += v
		}
		acc += l0
		acc += l1
		acc += l2
		acc += l3
		return acc
	}
	// row_sum over vectors: its multi_row_sum has 4 vectors per row, i.e. 16 lanes, and the
	// lanes are independent, so it is a 16-wide scalar multi_row_sum.
	var lanes [16]float64
	ilp := vecSize / 4
	if ilp > 0 { // (none: every lane stays +0.0, as multiRowSum would leave it)
		multiRowSum(x, 0, 16, 1, 16, ilp, lanes[:])
	}
	for v := ilp * 4; v < vecSize; v++ {
		for l := 0; l < 4; l++ {
			lanes[l] += x[4*v+l]
		}
	}
	for k := 1; k < 4; k++ {
		for l := 0; l < 4; l++ {
			lanes[l] += lanes[4*k+l]
		}
	}
	acc := 0.0
	for i := vecSize * 4; i < n; i++ {
		acc += x[i]
	}
	for l := 0; l < 4; l++ {
		acc += lanes[l]
	}
	return acc
}

// SumDim0Torch writes torch 1.13's x.sum(dim=0) of a contiguous [rows, cols] tensor to
// out[:cols] (vectorized_outer_sum for cols >= 4, scalar_outer_sum otherwise; both give
// row_sum per column outside the 16-column blocks). A [R, d1, d2, ...] tensor is [R, d1*d2*...].
// mean(dim=0) is this sum divided by rows.
func SumDim0Torch(x []float64, rows, cols int, out []float64) {
	if cols == 1 {
		// TensorIterator drops the size-1 dimension: a contiguous inner reduction.
		out[0] = SumTorch(x[:rows])
		return
	}
	j := 0
	if cols >= 4 {
		for ; j+16 <= cols; j += 16 {
			multiRowSum(x, j, cols, 1, 16, rows, out[j:j+16])
		}
	}
	for ; j < cols; j++ {
		out[j] = rowSum(x, j, cols, rows)
	}
}

// SumLastDimTorch writes torch 1.13's x.sum(dim=-1) of a contiguous [rows, cols] tensor to
// out[:rows]: every row is SumTorch of its cols values.
func SumLastDimTorch(x []float64, rows, cols int, out []float64) {
	for r := 0; r < rows; r++ {
		out[r] = SumTorch(x[r*cols : (r+1)*cols])
	}
}

// NormTorch returns torch 1.13's 2-norm of a whole tensor (x.norm(), linalg.norm(x)):
// sqrt of acc = fma(x_i, x_i, acc) from +0.0 in element order.
func NormTorch(x []float64) float64 {
	acc := 0.0
	for _, v := range x {
		acc = math.FMA(v, v, acc)
	}
	return math.Sqrt(acc)
}

// DistTorch returns torch 1.13's torch.dist(a, b) = norm(a - b): the differences rounded,
// then NormTorch's sequential fma. a and b have the same length.
func DistTorch(a, b []float64) float64 {
	acc := 0.0
	for i, v := range a {
		d := v - b[i]
		acc = math.FMA(d, d, acc)
	}
	return math.Sqrt(acc)
}

// DistsTorch writes DistTorch(p(i), b) to dists[i] for every i.
func DistsTorch(p func(i int) []float64, b []float64, dists []float64) {
	clear(dists)
	DistChains(p, b, dists)
	for i, x := range dists {
		dists[i] = math.Sqrt(x)
	}
}

// DistChains continues, for every i, DistTorch's chain acc[i] = fma(d, d, acc[i]) over
// d = p(i)[j] - b[j] in element order: a distance's sum of squares, which a caller may carry
// from one run of elements to the next (the staged geometric median does, chunk by chunk).
// Each chain is latency-bound one at a time, so many run at once, each with the same
// operations in the same order, so the same bits: 16, 8, 4 or the last 1-3 points a call to
// an AVX2 kernel, a point a lane (distChainsVec), else eight scalar chains interleaved (then
// four, two, one for the rest).
func DistChains(p func(i int) []float64, b []float64, acc []float64) {
	// Sixteen, eight, four, then the last one to three points at a time with AVX2 where it
	// runs (the elements past a multiple of four in Go), else in Go.
	i := 0
	for _, w := range [...]int{16, 8, 4, len(acc) % 4} {
		for w > 0 && i+w <= len(acc) {
			done := distChainsVec(p, i, w, b, acc)
			if done == 0 {
				break
			}
			if done < len(b) {
				distChainsGo(func(l int) []float64 { return p(i + l)[done:] }, b[done:], acc[i:i+w])
			}
			i += w
		}
	}
	distChainsGo(func(l int) []float64 { return p(i + l) }, b, acc[i:])
}

// distChainsGo is DistChains in Go: eight scalar chains interleaved (then four, two, one).
func distChainsGo(p func(i int) []float64, b []float64, acc []float64) {
	i := 0
	for ; i+8 <= len(acc); i += 8 {
		var a [8][]float64
		for l := range a {
			a[l] = p(i + l)[:len(b)]
		}
		var s [8]float64
		copy(s[:], acc[i:i+8])
		for j, v := range b {
			d0, d1, d2, d3 := a[0][j]-v, a[1][j]-v, a[2][j]-v, a[3][j]-v
			d4, d5, d6, d7 := a[4][j]-v, a[5][j]-v, a[6][j]-v, a[7][j]-v
			s[0] = math.FMA(d0, d0, s[0])
			s[1] = math.FMA(d1, d1, s[1])
			s[2] = math.FMA(d2, d2, s[2])
			s[3] = math.FMA(d3, d3, s[3])
			s[4] = math.FMA(d4, d4, s[4])
			s[5] = math.FMA(d5, d5, s[5])
			s[6] = math.FMA(d6, d6, s[6])
			s[7] = math.FMA(d7, d7, s[7])
		}
		copy(acc[i:i+8], s[:])
	}
	for ; i+4 <= len(acc); i += 4 {
		a0, a1, a2, a3 := p(i)[:len(b)], p(i + 1)[:len(b)], p(i + 2)[:len(b)], p(i + 3)[:len(b)]
		s0, s1, s2, s3 := acc[i], acc[i+1], acc[i+2], acc[i+3]
		for j, v := range b {
			d0, d1, d2, d3 := a0[j]-v, a1[j]-v, a2[j]-v, a3[j]-v
			s0 = math.FMA(d0, d0, s0)
			s1 = math.FMA(d1, d1, s1)
			s2 = math.FMA(d2, d2, s2)
			s3 = math.FMA(d3, d3, s3)
		}
		acc[i], acc[i+1], acc[i+2], acc[i+3] = s0, s1, s2, s3
	}
	for ; i+2 <= len(acc); i += 2 {
		a0, a1 := p(i)[:len(b)], p(i + 1)[:len(b)]
		s0, s1 := acc[i], acc[i+1]
		for j, v := range b {
			d0, d1 := a0[j]-v, a1[j]-v
			s0 = math.FMA(d0, d0, s0)
			s1 = math.FMA(d1, d1, s1)
		}
		acc[i], acc[i+1] = s0, s1
	}
	for ; i < len(acc); i++ {
		a, s := p(i)[:len(b)], acc[i]
		for j, v := range b {
			d := a[j] - v
			s = math.FMA(d, d, s)
		}
		acc[i] = s
	}
}

// clampMin is torch's clamp_min: NaN stays NaN.
func clampMin(x, lo float64) float64 {
	if x < lo {
		return lo
	}
	return x
}

// CosineSimilarityLastDimTorch writes torch 1.13's
// F.cosine_similarity(x, y, dim=-1, eps) of two contiguous [rows, cols] tensors to out[:rows]:
// w = sum(x*x, -1) (cascade), xn = x / sqrt(max(w, eps*eps)), the same for y, then
// sum(xn*yn, -1) -- normalise first, then the dot product. scratch, when it has room for
// 2*cols values, avoids an allocation.
func CosineSimilarityLastDimTorch(x, y []float64, rows, cols int, eps float64, out, scratch []float64) {
	if len(scratch) < 2*cols {
		scratch = make([]float64, 2*cols)
	}
	sq, prod := scratch[:cols], scratch[cols:2*cols]
	e2 := eps * eps
	for r := 0; r < rows; r++ {
		xr, yr := x[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols]
		out[r] = cosineRowTorch(xr, yr, rowNormTorch(xr, e2, sq), rowNormTorch(yr, e2, sq), prod)
	}
}

// rowNormTorch is CosineSimilarityLastDimTorch's norm of one row: sqrt(max(SumTorch(x*x),
// e2)), eps² as e2; sq is scratch of len(x).
func rowNormTorch(x []float64, e2 float64, sq []float64) float64 {
	vecMul(sq, x, x)
	return math.Sqrt(clampMin(SumTorch(sq[:len(x)]), e2))
}

// cosineRowTorch is CosineSimilarityLastDimTorch of one pair of rows with their norms nx, ny:
// SumTorch((x/nx)*(y/ny)); prod is scratch of len(x).
func cosineRowTorch(x, y []float64, nx, ny float64, prod []float64) float64 {
	vecNormProd(prod, x, y, nx, ny)
	return SumTorch(prod[:len(x)])
}

// CosineSimilarityDim0Torch writes F.cosine_similarity(x, y, dim=0, eps) of two contiguous
// [rows, cols] tensors to out[:cols], with the reductions of SumDim0Torch (same operation
// order as the last-dim version; golden README: not separately probed upstream).
func CosineSimilarityDim0Torch(x, y []float64, rows, cols int, eps float64, out []float64) {
	n := rows * cols
	buf := make([]float64, n+2*cols)
	sq, nx, ny := buf[:n], buf[n:n+cols], buf[n+cols:]
	e2 := eps * eps
	for i, v := range x[:n] {
		sq[i] = v * v
	}
	SumDim0Torch(sq, rows, cols, nx)
	for i, v := range y[:n] {
		sq[i] = v * v
	}
	SumDim0Torch(sq, rows, cols, ny)
	for j := range nx {
		nx[j] = math.Sqrt(clampMin(nx[j], e2))
		ny[j] = math.Sqrt(clampMin(ny[j], e2))
	}
	for i := range sq {
		j := i % cols
		sq[i] = (x[i] / nx[j]) * (y[i] / ny[j])
	}
	SumDim0Torch(sq, rows, cols, out)
}

// sumDim0Chunk is SumDim0TorchChunked's chunk width: a multiple of 16, so that every chunk
// starts on a 16-column block boundary of the whole matrix. At 256 the chunk of 215 rows
// (x215a's geometric median) is 430 KiB and stays in L2 between its fill and its sum: at 4096
// (6.9 MiB) the sum (addRows16AVX) took 11.1 s of the d16 x215a run, at 256 4.2 s.
const sumDim0Chunk = 256

// SumDim0TorchChunked is SumDim0Torch of a contiguous [rows, cols] matrix that is never built
// whole: fill(dst, c0, c1) writes its columns [c0, c1) to dst as a contiguous [rows, c1-c0]
// matrix, chunk after chunk. The result is bit for bit SumDim0Torch's: a column's sum depends
// only on its own values and on whether the column lies in a full 16-column block of the
// whole matrix (multiRowSum over the rows) or after the last one (rowSum), and chunks start on
// block boundaries, so every column is summed by the same function over the same values in
// the same order. scratch, when it holds rows*min(cols, sumDim0Chunk) values, is used; the buffer
// used is returned for the next call.
func SumDim0TorchChunked(rows, cols int, fill func(dst []float64, c0, c1 int), out, scratch []float64) []float64 {
	return SumDim0TorchChunkedThen(rows, cols, fill, out, scratch, nil)
}

// SumDim0TorchChunkedThen is SumDim0TorchChunked that calls then(c0, c1), when not nil, once
// out[c0:c1] holds its chunk's sums: a caller may finish those columns while they are in the
// cache (the geometric median's distances).
func SumDim0TorchChunkedThen(rows, cols int, fill func(dst []float64, c0, c1 int), out, scratch []float64,
	then func(c0, c1 int)) []float64 {
	if need := rows * min(cols, sumDim0Chunk); len(scratch) < need {
		scratch = make([]float64, need)
	}
	if cols == 1 {
		buf := scratch[:rows]
		fill(buf, 0, 1)
		SumDim0Torch(buf, rows, 1, out)
		if then != nil {
			then(0, 1)
		}
		return scratch
	}
	blockEnd := 0 // the columns SumDim0Torch sums in 16-column blocks
	if cols >= 4 {
		blockEnd = cols - cols%16
	}
	for c0 := 0; c0 < cols; c0 += sumDim0Chunk {
		c1 := min(c0+sumDim0Chunk, cols)
		w := c1 - c0
		buf := scratch[:rows*w]
		fill(buf, c0, c1)
		j := 0
		for ; j+16 <= w && c0+j+16 <= blockEnd; j += 16 {
			multiRowSum(buf, j, w, 1, 16, rows, out[c0+j:c0+j+16])
		}
		for ; j < w; j++ {
			out[c0+j] = rowSum(buf, j, w, rows)
		}
		if then != nil {
			then(c0, c1)
		}
	}
	return scratch
}

// SumDim0TorchScaledThen is SumDim0TorchChunkedThen of the rows of pts (rows x cols,
// row-major) each scaled by its weight, the fill vecScale(dst row i, pts row i, w[i]), with the
// same bits but without writing the scaled rows: in each chunk the columns of full 16-column
// blocks take their rows one by one into the cascade's four levels of accumulators
// (vecAccProd: the product rounded, then added as multiRowSum adds a row, at the same rows and
// with the same carries), stride-1 over each row; the columns after the last block are scaled
// and summed as there. A NaN weight takes SumDim0TorchChunkedThen itself (vecScale's operand
// order then differs). scratch is used, and returned, as there.
//
// On x215a (the 0.0.x geometric median of 215 points, d16 models) the scale was 13% of the
// CPU time: every scaled row was written to the chunk's buffer and read back down its columns.
func SumDim0TorchScaledThen(pts []float64, rows, cols int, w []float64, out, scratch []float64, then func(c0, c1 int)) []float64 {
	scaled := func(dst []float64, c0, c1 int) {
		cw := c1 - c0
		for i := range rows {
			vecScale(dst[i*cw:(i+1)*cw], pts[i*cols+c0:i*cols+c1], w[i])
		}
	}
	blockEnd := 0 // the columns SumDim0Torch sums in 16-column blocks
	if cols >= 4 {
		blockEnd = cols - cols%16
	}
	nanW := false
	for _, x := range w[:rows] {
		nanW = nanW || math.IsNaN(x)
	}
	if cols == 1 || blockEnd == 0 || nanW {
		return SumDim0TorchChunkedThen(rows, cols, scaled, out, scratch, then)
	}
	const width = sumDim0Chunk
	if need := max(reduceLevels*width, rows*16); len(scratch) < need {
		scratch = make([]float64, need)
	}
	levelPower := max(4, ceilLog2(rows)/reduceLevels) // multiRowSum's over rows rows
	levelStep := 1 << levelPower
	levelMask := levelStep - 1
	for c0 := 0; c0 < cols; c0 += sumDim0Chunk {
		c1 := min(c0+sumDim0Chunk, cols)
		if b1 := min(c1, blockEnd); b1 > c0 {
			bw := b1 - c0
			var acc [reduceLevels][]float64
			for l := range acc {
				acc[l] = scratch[l*width : l*width+bw]
				clear(acc[l])
			}
			row := func(i int) []float64 { return pts[i*cols+c0 : i*cols+b1] }
			i := 0
			if rows >= levelStep {
				for i+levelStep <= rows {
					for range levelStep {
						vecAccProd(acc[0], row(i), w[i])
						i++
					}
					for l := 1; l < reduceLevels; l++ {
						vecAdd(acc[l], acc[l], acc[l-1])
						clear(acc[l-1])
						if i&(levelMask<<(l*levelPower)) != 0 {
							break
						}
					}
				}
			}
			for ; i < rows; i++ {
				vecAccProd(acc[0], row(i), w[i])
			}
			if rows >= levelStep {
				// Level l first, as multiRowSum's compiled acc[0][k] += acc[l][k] adds them
				// (which of two NaNs the sum keeps; TestSumDim0TorchScaled checks it).
				for l := 1; l < reduceLevels; l++ {
					vecAdd(acc[0], acc[l], acc[0])
				}
			}
			copy(out[c0:b1], acc[0])
		}
		if c1 > blockEnd {
			// The columns after the last 16-column block (fewer than 16, at the end).
			t0 := max(c0, blockEnd)
			tw := c1 - t0
			buf := scratch[:rows*tw]
			scaled(buf, t0, c1)
			for j := range tw {
				out[t0+j] = rowSum(buf, j, tw, rows)
			}
		}
		if then != nil {
			then(c0, c1)
		}
	}
	return scratch
}
