package stdlib

import (
	"math"
	"sync"
)

// Fast paths of the TIES core, each giving the bits of the plain version it replaces (tests in
// ties_kth_test.go compare them).

// absKey is the float32 magnitude of v as its bit pattern. Magnitudes are non-negative, so
// their bit patterns order like their values, with every NaN (sign cleared) above +inf: the
// order of tiesLessNaNLast, on integers.
func absKey(v float64) uint32 {
	return math.Float32bits(float32(math.Abs(v)))
}

// keyPool recycles the candidate buffers of tiesKthAbsF32 (a bucket is a few percent of a
// tensor; keys of up to millions of elements are selected per run).
var keyPool = sync.Pool{New: func() any { return new([]uint32) }}

// tiesKthAbsF32 is torch.kthvalue(x.abs().float(), k)[0]: the k-th smallest (1-based) float32
// magnitude, NaN ranked last. k must be in [1, len(x)]. It is a radix select on the magnitudes'
// bit patterns (absKey): a histogram of the top 11 bits finds the bucket holding the k-th
// value, and a quickselect among that bucket's keys finds it, two linear passes instead of a
// quickselect over floats with a NaN-aware comparison. The value is the same; when it is a
// NaN, it is a NaN (all of them compare alike).
func tiesKthAbsF32(x []float64, k int) float64 {
	// The keys a block at a time (tiesAbsKeys: AVX2), made again in the second pass rather
	// than kept (4 bytes per element more). The block comes from keyPool: an array on the
	// stack would be zeroed at every call, and most calls are of keys of a few thousand
	// elements (x215a: 540 000 calls).
	const block = 4096
	kp := keyPool.Get().(*[]uint32)
	defer keyPool.Put(kp)
	if cap(*kp) < block {
		*kp = make([]uint32, block)
	}
	kb := (*kp)[:block]
	if k == 1 {
		// The smallest key, in one pass: k = 1 is TIES with top-k fraction 1 (keep all), as
		// the 216-model x215a recipe runs it, where the select took 9 of its 160 CPU-s (and
		// with scalar keys 2.5% of its CPU time on d8 models).
		u := uint32(math.MaxUint32)
		for lo := 0; lo < len(x); lo += block {
			keys := kb[:min(block, len(x)-lo)]
			tiesAbsKeys(keys, x[lo:lo+len(keys)])
			for _, w := range keys {
				u = min(u, w)
			}
		}
		return float64(math.Float32frombits(u))
	}
	// Otherwise the keys are counted in four histograms (neighbours share buckets, and one
	// histogram makes each count wait for the last), then the chosen bucket's keys compacted
	// out of each block (tiesCompactRange: AVX2). Scalar, the two passes took 17% of the
	// 1.1.5 DARE-TIES benchmark's CPU time.
	var hs [4 << tiesCoarseBits]uint32
	for lo := 0; lo < len(x); lo += block {
		keys := kb[:min(block, len(x)-lo)]
		tiesAbsKeys(keys, x[lo:lo+len(keys)])
		tiesHistogram4(hs[:], keys)
	}
	const nb = 1 << tiesCoarseBits
	rank := k - 1
	b := 0
	for {
		c := int(hs[b]) + int(hs[nb+b]) + int(hs[2*nb+b]) + int(hs[3*nb+b])
		if rank < c || b == nb-1 {
			break
		}
		rank -= c
		b++
	}
	bp := keyPool.Get().(*[]uint32)
	cand := (*bp)[:0]
	for lo := 0; lo < len(x); lo += block {
		keys := kb[:min(block, len(x)-lo)]
		tiesAbsKeys(keys, x[lo:lo+len(keys)])
		m := tiesCompact(keys, uint32(b), tiesFineShift)
		cand = append(cand, keys[:m]...)
	}
	u := selectKthU32(cand, rank)
	*bp = cand
	keyPool.Put(bp)
	return float64(math.Float32frombits(u))
}

// selectKthU32 returns the element that would sit at index k if m were sorted ascending
// (quickselect, median-of-three pivot, three-way partition). m is reordered.
func selectKthU32(m []uint32, k int) uint32 {
	lo, hi := 0, len(m)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if m[mid] < m[lo] {
			m[mid], m[lo] = m[lo], m[mid]
		}
		if m[hi] < m[lo] {
			m[hi], m[lo] = m[lo], m[hi]
		}
		if m[mid] < m[hi] {
			m[mid], m[hi] = m[hi], m[mid]
		}
		pivot := m[hi]
		lt, i, gt := lo, lo, hi
		for i <= gt {
			switch v := m[i]; {
			case v < pivot:
				m[lt], m[i] = v, m[lt]
				lt++
				i++
			case v > pivot:
				m[i], m[gt] = m[gt], v
				gt--
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt - 1
		case k > gt:
			lo = gt + 1
		default:
			return pivot
		}
	}
	return m[k]
}

// tiesTopKThreshold is filterTopK's threshold: the float32 kthvalue of the magnitudes at
// k' = max(int((1-k)*numel), 1).
func tiesTopKThreshold(a []float64, k float64) (float64, error) {
	kk, err := tiesTopKIndex(len(a), k)
	if err != nil {
		return 0, err
	}
	return tiesKthAbsF32(a, kk), nil
}

// tiesSumDirect is ties_sum's result (the disjoint mean of tiesDeltasIn, summed by SumDim0Torch,
// through tiesNanToZero) computed without stacking the R filtered deltas and their votes
// (2·R·n float64): the thresholds first, then tiesVoter over the whole tensor. For 16 models
// or more it reports false and does nothing (ties_sum's Scratch declares the stacked path
// there).
func tiesSumDirect(ms [][]float64, k float64, voteSgn bool, out []float64) (bool, error) {
	r, n := len(ms), len(out)
	if r == 0 || r >= 16 || n == 0 {
		return false, nil
	}
	th := make([]float64, r)
	for i, m := range ms {
		t, err := tiesTopKThreshold(m[:n], k)
		if err != nil {
			return true, err
		}
		th[i] = t
	}
	v := newTiesVoter(th, n, voteSgn)
	v.run(ms, 0, out)
	putTiesVoter(v)
	return true, nil
}
