package stdlib

import (
	"math"
	"math/big"
	"sync"
)

// crLog is the natural logarithm correctly rounded to nearest, as glibc's log (which CPython's
// math.log calls) gives it on the inputs kron_dims_from_ratio meets. Go's math.Log is within one
// ulp but not always correctly rounded (log(4/3) is one ulp high), and kron_dims_from_ratio
// breaks exact mathematical ties (a factor pair and its mirror image have equal |s| and equal
// balance) by the last bit of these logarithms, so the factor sizes depend on it.
//
// Computed in 160-bit binary floating point: x = f 2^e with f in [sqrt(1/2), sqrt(2)),
// log x = e log 2 + 2 atanh((f-1)/(f+1)), then rounded once to float64.
func crLog(x float64) float64 {
	if !(x > 0) || math.IsInf(x, 1) {
		return math.Log(x)
	}
	f, e := math.Frexp(x)
	if f < math.Sqrt2/2 {
		f *= 2
		e--
	}
	ff := newBig().SetFloat64(f)
	one := newBig().SetInt64(1)
	z := newBig().Quo(newBig().Sub(ff, one), newBig().Add(ff, one))
	r := atanh2(z)
	if e != 0 {
		r.Add(r, newBig().Mul(newBig().SetInt64(int64(e)), bigLn2()))
	}
	out, _ := r.Float64()
	return out
}

const crLogPrec = 160

func newBig() *big.Float { return new(big.Float).SetPrec(crLogPrec) }

// atanh2 returns 2 atanh(z) = 2 (z + z^3/3 + z^5/5 + ...) for |z| <= 1/3.
func atanh2(z *big.Float) *big.Float {
	sum := newBig().Set(z)
	z2 := newBig().Mul(z, z)
	pow := newBig().Set(z)
	eps := newBig().SetMantExp(newBig().SetInt64(1), -crLogPrec-8)
	for k := int64(3); ; k += 2 {
		pow.Mul(pow, z2)
		term := newBig().Quo(pow, newBig().SetInt64(k))
		sum.Add(sum, term)
		if term.Sign() == 0 || newBig().Abs(term).Cmp(eps) < 0 {
			break
		}
	}
	return sum.Mul(sum, newBig().SetInt64(2))
}

var (
	ln2Once sync.Once
	ln2Big  *big.Float
)

// bigLn2 is log 2 = 2 atanh(1/3) at crLogPrec bits.
func bigLn2() *big.Float {
	ln2Once.Do(func() {
		third := newBig().Quo(newBig().SetInt64(1), newBig().SetInt64(3))
		ln2Big = atanh2(third)
	})
	return ln2Big
}
