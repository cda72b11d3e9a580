package stdlib

import "github.com/mechac/mechac/ops"

// top_k_tensor_sum as 0.0.x had it. The math is today's, but the hyper-parameters are
// keyword-only Python floats and width defaults to 0.5 (1.0 from sd-mecha 0.1.0 on): without
// this definition a 0.0.x recipe that leaves width out would take today's 1.0.

var topKTensorSum00x = define00x(&ops.Def{
	Name: "top_k_tensor_sum", Era: "0.0.x",
	Params:  []ops.Param{symbolIn00x("a"), symbolIn00x("b")},
	KwOnly:  []ops.Param{floatDefault("width", 0.5), floatDefault("offset", 0)},
	Traits:  ops.WholeTensor,
	Formula: "a_i, or sorted(a)[rank_b(i)] where kth(start) <= |that value| <= kth(end) (outside when wrapped)",
	Doc: "top_k_tensor_sum of 165704a (0.0.6) .. 0.0.29 and every fork 0.0.x commit: today's math " +
		"(closed magnitude band, (1-m)·a + m·redist with m 0 or 1), width and offset keyword-only " +
		"Python floats with defaults 0.5 and 0.0. Before be45b2c the method was copy_top_k.",
	Kernel: func(c *ops.Call) error {
		return topKTensorSum.Kernel(&ops.Call{Key: c.Key, Numerics: c.Numerics, Out: c.Out,
			Args: []ops.Value{c.Args[0], c.Args[1], c.Kw[0], c.Kw[1]}})
	},
})
