package stdlib

import "github.com/mechac/mechac/ops"

// Constructors for hyper-parameters with a constant default (sd-mecha puts every defaulted
// parameter in param space).

func floatDefault(name string, v float64) ops.Param {
	d := ops.Float(v)
	return ops.Param{Name: name, Type: ops.FloatHyper, Default: &d, Spaces: ops.ParamSpace}
}

func boolDefault(name string, v bool) ops.Param {
	d := ops.Bool(v)
	return ops.Param{Name: name, Type: ops.BoolHyper, Default: &d, Spaces: ops.ParamSpace}
}

func intDefault(name string, v int64) ops.Param {
	d := ops.Int(v)
	return ops.Param{Name: name, Type: ops.IntHyper, Default: &d, Spaces: ops.ParamSpace}
}
