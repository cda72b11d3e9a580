package rng

// The torch generator's AVX2 kernels (torch_amd64.s): the state's regeneration and the bulk
// float64 draws, eight 32-bit words at a time. On the 216-model x215a recipe the DELLA masks'
// uniforms (two words each) were ~14% of the CPU time in scalar Go.

//go:noescape
func float64sAVX2(dst *float64, words *uint32, m int)

//go:noescape
func float32sAVX2(dst *float64, words *uint32, m int)

//go:noescape
func twistLowAVX2(s *[mtN]uint32)

//go:noescape
func twistHighAVX2(s *[mtN]uint32)

func cpuid(leaf, sub uint32) (a, b, c, d uint32)

func xgetbv0() uint32

// hasAVX2 reports AVX2 and the OS's saving of the YMM registers (the package imports the
// standard library only, so it asks the CPU itself).
var hasAVX2 = func() bool {
	if max, _, _, _ := cpuid(0, 0); max < 7 {
		return false
	}
	_, _, c1, _ := cpuid(1, 0)
	const osxsave, avx = 1 << 27, 1 << 28
	if c1&osxsave == 0 || c1&avx == 0 || xgetbv0()&6 != 6 {
		return false
	}
	_, b7, _, _ := cpuid(7, 0)
	return b7&(1<<5) != 0
}()

// vectorTwist regenerates the state as nextState's loops do, the blocks of eight by AVX2 and
// the rest word by word in the same order; false without AVX2.
func vectorTwist(s *[mtN]uint32) bool {
	if !hasAVX2 || noVector {
		return false
	}
	twistLowAVX2(s) // i in [0, 224)
	for i := 224; i < mtN-mtM; i++ {
		s[i] = s[i+mtM] ^ mix(s[i], s[i+1])
	}
	twistHighAVX2(s) // i in [227, 619)
	for i := 619; i < mtN-1; i++ {
		s[i] = s[i+mtM-mtN] ^ mix(s[i], s[i+1])
	}
	s[mtN-1] = s[mtM-1] ^ mix(s[mtN-1], s[0])
	return true
}

// vectorFloat64s writes the first len(dst) &^ 3 draws from the words (two each) and returns
// how many it wrote.
func vectorFloat64s(dst []float64, words []uint32) int {
	m := len(dst) &^ 3
	if !hasAVX2 || noVector || m == 0 || len(words) < 2*m {
		return 0
	}
	float64sAVX2(&dst[0], &words[0], m)
	return m
}

// vectorFloat32s writes the first len(dst) &^ 7 draws from the words (one each) and returns
// how many it wrote.
func vectorFloat32s(dst []float64, words []uint32) int {
	m := len(dst) &^ 7
	if !hasAVX2 || noVector || m == 0 || len(words) < m {
		return 0
	}
	float32sAVX2(&dst[0], &words[0], m)
	return m
}

// hasVectorKernels reports whether the AVX2 kernels run here (for the tests).
func hasVectorKernels() bool { return hasAVX2 }
