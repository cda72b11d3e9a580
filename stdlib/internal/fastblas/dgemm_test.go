package fastblas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// gemmCase is one Dgemm call; the operands are random, with extra padding columns (strides
// larger than the width) and optional special values.
type gemmCase struct {
	tA, tB      blas.Transpose
	m, n, k     int
	alpha, beta float64
	pad         int
	special     bool // sprinkle NaN, +-Inf and -0 in A, B and C
}

// operands builds the row-major A, B, C of c with their strides.
func (c gemmCase) operands(seed uint64) (a []float64, lda int, b []float64, ldb int, cm []float64, ldc int) {
	rng := rand.New(rand.NewPCG(seed, 7))
	fill := func(rows, cols, pad int) ([]float64, int) {
		ld := max(1, cols+pad)
		d := make([]float64, max(1, (rows-1)*ld+cols))
		for i := range d {
			d[i] = rng.NormFloat64()
			if c.special && rng.IntN(40) == 0 {
				d[i] = []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 0}[rng.IntN(5)]
			}
		}
		return d, ld
	}
	ar, ac := c.m, c.k
	if c.tA != blas.NoTrans {
		ar, ac = ac, ar
	}
	br, bc := c.k, c.n
	if c.tB != blas.NoTrans {
		br, bc = bc, br
	}
	a, lda = fill(ar, ac, c.pad)
	b, ldb = fill(br, bc, c.pad)
	cm, ldc = fill(c.m, c.n, c.pad)
	return
}

func (c gemmCase) String() string {
	return fmt.Sprintf("%c%c/%dx%dx%d/a=%g/b=%g/pad=%d/special=%v", c.tA, c.tB, c.m, c.n, c.k, c.alpha, c.beta, c.pad, c.special)
}

func gemmCases() []gemmCase {
	var cs []gemmCase
	ts := []blas.Transpose{blas.NoTrans, blas.Trans}
	shapes := [][3]int{
		{1, 1, 1}, {0, 3, 4}, {3, 0, 4}, {3, 4, 0}, {5, 7, 3}, {6, 8, 1}, {6, 8, 256}, {7, 9, 257},
		{13, 17, 300}, {97, 15, 33}, {12, 130, 515}, {200, 190, 70}, {1, 300, 40}, {300, 1, 40},
	}
	scalars := [][2]float64{{1, 0}, {1, 1}, {-0.5, 2}, {0, 0.5}, {2.5, -1}}
	for i, sh := range shapes {
		for _, tA := range ts {
			for _, tB := range ts {
				s := scalars[(i+int(tA)+int(tB))%len(scalars)]
				cs = append(cs, gemmCase{tA, tB, sh[0], sh[1], sh[2], s[0], s[1], i % 3, i%4 == 1})
			}
		}
	}
	for _, s := range scalars {
		cs = append(cs, gemmCase{blas.NoTrans, blas.NoTrans, 29, 31, 270, s[0], s[1], 2, true})
	}
	return cs
}

// runBoth runs the case with the assembly kernel and with the pure-Go one (and, for the
// former, with one and with several goroutines) and returns the outputs.
func runDgemm(c gemmCase, asm bool, procs int) []float64 {
	return runDgemm512(c, asm, true, procs)
}

// runDgemm512 is runDgemm, with the AVX-512 kernel off when !with512.
func runDgemm512(c gemmCase, asm, with512 bool, procs int) []float64 {
	a, lda, b, ldb, cm, ldc := c.operands(uint64(c.m*1000 + c.n*10 + c.k))
	defer func(old bool, p int) { setAsm(old); runtime.GOMAXPROCS(p) }(useAsm, runtime.GOMAXPROCS(procs))
	setAsm(asm)
	if !with512 {
		use512 = false
	}
	Implementation{}.Dgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, cm, ldc)
	return cm
}

func sameBits(x, y []float64) int {
	for i := range x {
		if math.Float64bits(x[i]) != math.Float64bits(y[i]) {
			return i
		}
	}
	return -1
}

// TestDgemmDeterministic: assembly and pure-Go kernels (the AVX2 one alone, and with the
// AVX-512 one where the machine has it), one or two goroutines, give the same bits, NaN
// payloads and signed zeros included.
func TestDgemmDeterministic(t *testing.T) {
	if !asmAvailable {
		t.Log("no AVX2+FMA on this machine: checking the pure-Go kernel against itself only")
	}
	for _, c := range gemmCases() {
		ref := runDgemm(c, false, 1)
		for _, v := range []struct {
			asm, with512 bool
			procs        int
		}{{asmAvailable, true, 1}, {asmAvailable, true, 2}, {asmAvailable, false, 1}, {false, false, 3}} {
			got := runDgemm512(c, v.asm, v.with512, v.procs)
			if i := sameBits(ref, got); i >= 0 {
				t.Errorf("%v asm=%v avx512=%v procs=%d: element %d is %v, pure Go gives %v", c, v.asm, v.with512 && avx512Available, v.procs, i, got[i], ref[i])
			}
		}
	}
}

// TestDgemmVsReference: the results equal gonum's native Dgemm (finite operands) and a naive
// triple loop (all cases) up to rounding, with NaN and infinities where IEEE arithmetic puts
// them. gonum's native Dgemm differs there on purpose: it skips zero elements of A (0 * Inf
// gives no NaN) and multiplies A B even when alpha is 0; this Dgemm propagates as optimized
// BLAS (OpenBLAS, what torch uses) do and reads neither A nor B when alpha is 0.
func TestDgemmVsReference(t *testing.T) {
	for _, c := range gemmCases() {
		got := runDgemm(c, asmAvailable, 2)
		a, lda, b, ldb, want, ldc := c.operands(uint64(c.m*1000 + c.n*10 + c.k))
		naive := append([]float64(nil), want...)
		naiveGemm(c, a, lda, b, ldb, naive, ldc)
		check := func(ref string, want []float64) {
			for i := range want {
				g, w := got[i], want[i]
				bad := false
				switch {
				case math.IsNaN(w) || math.IsNaN(g):
					bad = math.IsNaN(w) != math.IsNaN(g)
				case math.IsInf(w, 0) || math.IsInf(g, 0):
					bad = g != w
				default:
					bad = math.Abs(g-w) > 1e-12*(1+math.Abs(w))*math.Sqrt(float64(c.k+1))
				}
				if bad {
					t.Errorf("%v: element %d is %v, %s gives %v", c, i, g, ref, w)
					return
				}
			}
		}
		check("a naive loop", naive)
		if !c.special {
			gonum.Implementation{}.Dgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, want, ldc)
			check("gonum", want)
		}
	}
}

// naiveGemm is the textbook C = alpha op(A) op(B) + beta C with BLAS's alpha == 0 and
// beta == 0 rules.
func naiveGemm(c gemmCase, a []float64, lda int, b []float64, ldb int, cm []float64, ldc int) {
	at := func(i, p int) float64 {
		if c.tA != blas.NoTrans {
			return a[p*lda+i]
		}
		return a[i*lda+p]
	}
	bt := func(p, j int) float64 {
		if c.tB != blas.NoTrans {
			return b[j*ldb+p]
		}
		return b[p*ldb+j]
	}
	for i := range c.m {
		for j := range c.n {
			v := 0.0
			if c.beta != 0 {
				v = c.beta * cm[i*ldc+j]
			}
			if c.alpha != 0 {
				s := 0.0
				for p := range c.k {
					s += at(i, p) * bt(p, j)
				}
				v += c.alpha * s
			}
			cm[i*ldc+j] = v
		}
	}
}

// TestDgemmBetaZeroIgnoresC: beta == 0 must not read C (NaN there does not propagate), and
// alpha == 0 must not read A or B.
func TestDgemmBetaZeroIgnoresC(t *testing.T) {
	nan := math.NaN()
	a := []float64{nan, 1, 2, 3}
	b := []float64{1, 2, 3, 4}
	c := []float64{nan, nan, nan, nan}
	Implementation{}.Dgemm(blas.NoTrans, blas.NoTrans, 2, 2, 2, 0, a, 2, b, 2, 0, c, 2)
	for i, v := range c {
		if v != 0 || math.Signbit(v) {
			t.Errorf("alpha = beta = 0: c[%d] = %v, want +0", i, v)
		}
	}
	a[0] = 1
	c = []float64{nan, nan, nan, nan}
	Implementation{}.Dgemm(blas.NoTrans, blas.NoTrans, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2)
	if want := []float64{4, 6, 11, 16}; sameBits(c, want) >= 0 {
		t.Errorf("beta = 0: c = %v, want %v", c, want)
	}
}

// FuzzDgemmShapes: random shapes, transposes and strides: assembly and pure Go agree bitwise.
func FuzzDgemmShapes(f *testing.F) {
	f.Add(uint8(7), uint8(9), uint16(300), uint8(3), uint8(1))
	f.Add(uint8(1), uint8(65), uint16(1), uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, m, n uint8, k uint16, flags, pad uint8) {
		c := gemmCase{blas.NoTrans, blas.NoTrans, int(m % 70), int(n % 70), int(k % 600), 1.5, -0.25, int(pad % 4), flags&4 != 0}
		if flags&1 != 0 {
			c.tA = blas.Trans
		}
		if flags&2 != 0 {
			c.tB = blas.Trans
		}
		ref := runDgemm(c, false, 1)
		if got := runDgemm(c, asmAvailable, 2); sameBits(ref, got) >= 0 {
			t.Errorf("%v: assembly and pure Go differ", c)
		}
	})
}

func BenchmarkDgemm(b *testing.B) {
	for _, n := range []int{256, 1280, 2560} {
		rng := rand.New(rand.NewPCG(1, 2))
		x := make([]float64, n*n)
		for i := range x {
			x[i] = rng.NormFloat64()
		}
		y := append([]float64(nil), x...)
		z := make([]float64, n*n)
		impls := []struct {
			name string
			impl blas.Float64
		}{{"fast", Implementation{}}, {"gonum", gonum.Implementation{}}}
		for _, im := range impls {
			if im.name == "gonum" && n > 1280 {
				continue // minutes
			}
			b.Run(fmt.Sprintf("%s/%d", im.name, n), func(b *testing.B) {
				for range b.N {
					im.impl.Dgemm(blas.NoTrans, blas.NoTrans, n, n, n, 1, x, n, y, n, 0, z, n)
				}
				b.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}

// BenchmarkDgemmPanel: the shapes of a blocked Householder QR of a tall 10240 x 1280 matrix
// (gonum's Dlarfb, block size 32): W = C^T V and C -= V W^T.
func BenchmarkDgemmPanel(b *testing.B) {
	cases := []gemmCase{
		{tA: blas.Trans, tB: blas.NoTrans, m: 1280, n: 32, k: 10240, alpha: 1, beta: 1},
		{tA: blas.NoTrans, tB: blas.Trans, m: 10240, n: 1280, k: 32, alpha: -1, beta: 1},
	}
	for _, c := range cases {
		a, lda, bb, ldb, cm, ldc := c.operands(1)
		for _, im := range []struct {
			name string
			impl blas.Float64
		}{{"fast", Implementation{}}, {"gonum", gonum.Implementation{}}} {
			b.Run(fmt.Sprintf("%s/%c%c/%dx%dx%d", im.name, c.tA, c.tB, c.m, c.n, c.k), func(b *testing.B) {
				for range b.N {
					im.impl.Dgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, bb, ldb, c.beta, cm, ldc)
				}
				b.ReportMetric(2*float64(c.m)*float64(c.n)*float64(c.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}
