package stdlib

import (
	"math"

	"github.com/mechac/mechac/ops"
)

// slerp as 0.0.x had it. Today's slerp blends the norms (and falls back) with lerp and types
// alpha as a Tensor hyper; 0.0.x used its weighted sum ws with a Python-float alpha, and
// before 0.0.10 (a53faef, "fix slerp") it rotated the unnormalised tensors.

// slerpKernel00x computes 0.0.x's slerp of a and b: an = a/|a|, bn = b/|b|, dot = Σ an·bn
// clamped to [-1, 1], ω = acos(dot); out = (u·sin((1-α)ω) + v·sin(αω))/sin ω · ws(|a|, |b|, α)
// with (u, v) = (an, bn) when normalised, else (a, b). early: the pre-0.0.10 shortcut
// 1 - |dot| < 1e-10 -> ws(a, b, α); otherwise (0.0.12 on) a NaN in out gives ws(a, b, α).
func slerpKernel00x(normalised, early bool) ops.Kernel {
	return func(c *ops.Call) error {
		out := c.Out.Data
		ts, err := tensors("slerp", len(out), c.Args[0], c.Args[1])
		if err != nil {
			return err
		}
		kw, err := kwFloats00x("slerp", c)
		if err != nil {
			return err
		}
		a, b, alpha := ts[0], ts[1], kw[0]
		ws := func() {
			for i := range out {
				out[i] = ws00x(a.At(i), b.At(i), alpha)
			}
		}
		na, nb := NormTorch(a.Data), NormTorch(b.Data)
		for i := range out {
			out[i] = (a.At(i) / na) * (b.At(i) / nb)
		}
		dot := math.Min(math.Max(SumTorch(out), -1), 1) // clip(-1, 1); NaN stays NaN
		if early && 1-math.Abs(dot) < 1e-10 {
			ws()
			return nil
		}
		omega := acosCR(dot)
		s1, s2, sinOmega := sinCR(float64((1-alpha)*omega)), sinCR(float64(alpha*omega)), sinCR(omega)
		norm := ws00x(na, nb, alpha)
		for i := range out {
			u, v := a.At(i), b.At(i)
			if normalised {
				u, v = u/na, v/nb
			}
			out[i] = float64((float64(u*s1)+float64(v*s2))/sinOmega) * norm
		}
		if !early && hasNaN(out) {
			ws()
		}
		return nil
	}
}

func slerp00x(era, commits string, normalised, early bool, formula string) *ops.Def {
	return define00x(&ops.Def{
		Name: "slerp", Era: era,
		Params:  []ops.Param{symbolIn00x("a"), symbolIn00x("b")},
		KwOnly:  []ops.Param{floatDefault("alpha", 0.5)},
		Traits:  ops.WholeTensor,
		Formula: formula,
		Doc: "slerp of " + commits + ": alpha a keyword-only Python float (default 0.5), the norms " +
			"blended with the 0.0.x weighted sum; norms and the dot product as today's slerp.",
		Kernel: slerpKernel00x(normalised, early),
	})
}

var (
	// 8259d55 .. feefbf4 (the 0.0.4, 0.0.5 and 0.0.9 eras; 0.0.10 and 0.0.11, in the 0.0.9
	// era's span, already rotated the normalised tensors and are not reproduced).
	_ = slerp00x("0.0.4", "8259d55 .. 60d0764", false, true,
		"1-|dot| < 1e-10 ? ws(a, b, alpha) : (a·sin((1-alpha)ω) + b·sin(alpha·ω))/sin ω · ws(|a|, |b|, alpha), ω = acos(Σ â·b̂)")
	_ = slerp00x("0.0.9", "953313a .. feefbf4", false, true,
		"1-|dot| < 1e-10 ? ws(a, b, alpha) : (a·sin((1-alpha)ω) + b·sin(alpha·ω))/sin ω · ws(|a|, |b|, alpha), ω = acos(Σ â·b̂)")
	// 56a18da (0.0.12) .. 0.0.29 and every fork commit.
	_ = slerp00x("0.0.x", "0.0.12 .. 0.0.29 and the fork's 4edc67c .. 1458190", true, false,
		"(â·sin((1-alpha)ω) + b̂·sin(alpha·ω))/sin ω · ws(|a|, |b|, alpha), ω = acos(Σ â·b̂); NaN -> ws(a, b, alpha)")
)
