package stdlib

// The float quickselect the TIES kernels used before their radix select (ties_kth.go): kept
// as the tests' reference for tiesKthAbsF32 and selectKthU32.

// selectKth returns the element that would sit at index k if m were sorted by
// tiesLessNaNLast (NaN last): the k-th smallest value, found by quickselect in linear expected
// time instead of a full sort. Only the value is needed, so the result is the same as sorting.
// m is reordered.
func selectKth(m []float32, k int) float32 {
	lo, hi := 0, len(m)-1
	less := func(a, b float32) bool { return tiesLessNaNLast(a, b) < 0 }
	for lo < hi {
		// Median of three as the pivot, moved to hi.
		mid := lo + (hi-lo)/2
		if less(m[mid], m[lo]) {
			m[mid], m[lo] = m[lo], m[mid]
		}
		if less(m[hi], m[lo]) {
			m[hi], m[lo] = m[lo], m[hi]
		}
		if less(m[mid], m[hi]) {
			m[mid], m[hi] = m[hi], m[mid]
		}
		pivot := m[hi]
		// Three-way partition: [lo, lt) < pivot, [lt, gt] == pivot, (gt, hi] > pivot.
		lt, i, gt := lo, lo, hi
		for i <= gt {
			switch {
			case less(m[i], pivot):
				m[lt], m[i] = m[i], m[lt]
				lt++
				i++
			case less(pivot, m[i]):
				m[i], m[gt] = m[gt], m[i]
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
