package ir

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mechac/mechac/lang/pos"
	"github.com/mechac/mechac/ops"
)

// sampleFunc builds by hand: two models, a constant, a merge with a default and a
// keyword-only argument, a varargs merge, a dict and a literal.
func sampleFunc() *Func {
	half := ops.Float(0.5)
	def := &ops.Def{Name: "mix", Era: "1.1",
		Params: []ops.Param{{Name: "a", Type: ops.TensorIn}, {Name: "b", Type: ops.TensorIn}, {Name: "alpha", Type: ops.TensorHyper, Default: &half}},
		KwOnly: []ops.Param{{Name: "seed", Type: ops.IntHyper, Optional: true}},
	}
	avg := &ops.Def{Name: "avg", Varargs: &ops.Param{Name: "models", Type: ops.TensorIn}}
	p := func(line, col int) pos.Position { return pos.Position{File: "r.mecha", Line: line, Col: col} }
	f := &Func{}
	add := func(v *Value) *Value { v.ID = len(f.Values); f.Values = append(f.Values, v); return v }
	a := add(&Value{Op: OpModel, Path: `dir\a.safetensors`, Config: "sdxl-sgm", Space: ops.WeightSpace, Pos: p(2, 1)})
	b := add(&Value{Op: OpModel, Path: "b.safetensors", Pos: p(3, 1)})
	c := add(&Value{Op: OpConst, Const: ops.Float(0.5)})
	seed := add(&Value{Op: OpConst, Const: ops.Int(7), Pos: p(4, 30)})
	m := add(&Value{Op: OpMerge, Def: def, Args: []*Value{a, b, c}, Kw: []*Value{seed}, Given: []bool{true, true, false, true},
		Space: ops.WeightSpace, Config: "sdxl-sgm", Pos: p(4, 1)})
	d := add(&Value{Op: OpDict, Dict: []DictEntry{{Key: "key", Value: c}}, Space: ops.ParamSpace, Pos: p(5, 1)})
	add(&Value{Op: OpLiteral, Inner: d, Config: "singleton-mecha", Space: ops.ParamSpace, Pos: p(6, 1)})
	f.Root = add(&Value{Op: OpMerge, Def: avg, Var: []*Value{a, m, b}, Pos: p(7, 1)})
	return f
}

func TestFprint(t *testing.T) {
	var buf bytes.Buffer
	if err := Fprint(&buf, sampleFunc()); err != nil {
		t.Fatal(err)
	}
	want := `v0 = model "dir\\a.safetensors" : weight sdxl-sgm  # r.mecha:2:1
v1 = model "b.safetensors" : ? ?  # r.mecha:3:1
v2 = const 0.5
v3 = const 7  # r.mecha:4:30
v4 = merge mix@1.1(a=v0, b=v1, alpha=0.5*, seed=7) : weight sdxl-sgm  # r.mecha:4:1
v5 = dict key=0.5 : param ?  # r.mecha:5:1
v6 = literal v5 : param singleton-mecha  # r.mecha:6:1
v7 = merge avg(*models=[v0, v4, v1]) : ? ?  # r.mecha:7:1
root v7
`
	if got := buf.String(); got != want {
		t.Errorf("Fprint:\n--- got ---\n%s--- want ---\n%s", got, want)
	}
	if err := Verify(sampleFunc()); err != nil {
		t.Errorf("Verify(sample) = %v", err)
	}
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(f *Func)
		want   string
	}{
		{"id", func(f *Func) { f.Values[2].ID = 9 }, "v9 at position 2"},
		{"later operand", func(f *Func) { f.Values[4].Args[0] = f.Values[6] }, "v4 uses v6, which is not defined before it"},
		{"foreign operand", func(f *Func) { f.Values[4].Args[1] = &Value{ID: 1, Op: OpConst} }, "v4 uses v1, which is not defined before it"},
		{"self operand", func(f *Func) { f.Values[7].Var[0] = f.Values[7] }, "v7 uses v7, which is not defined before it"},
		{"no method", func(f *Func) { f.Values[4].Def = nil }, "v4: merge without a method"},
		{"arity", func(f *Func) { f.Values[4].Args = f.Values[4].Args[:2] }, "v4: 2 args / 1 keyword args"},
		{"kw arity", func(f *Func) { f.Values[4].Kw = nil }, "v4: 3 args / 0 keyword args"},
		{"varargs to fixed", func(f *Func) { f.Values[4].Var = []*Value{f.Values[0]} }, "v4: varargs given to mix"},
		{"dict entry", func(f *Func) { f.Values[5].Dict[0].Value = f.Values[6] }, "v5 uses v6, which is not defined before it"},
		{"literal empty", func(f *Func) { f.Values[6].Inner = nil }, "v6: literal without a value"},
		{"literal later", func(f *Func) { f.Values[6].Inner = f.Values[7] }, "v6 uses v7, which is not defined before it"},
		{"root", func(f *Func) { f.Root = &Value{ID: 3} }, "root v3 is not in the function"},
		{"nil", func(f *Func) { f.Values[3] = nil }, "nil value at position 3"},
		{"twice", func(f *Func) { f.Values[3] = f.Values[2] }, "v2 at position 3"},
		{"const with args", func(f *Func) { f.Values[2].Args = []*Value{f.Values[0]} }, "v2: const with merge arguments"},
		{"model with dict", func(f *Func) { f.Values[0].Dict = []DictEntry{{Key: "k"}} }, "v0: model with dict entries"},
		{"dict with inner", func(f *Func) { f.Values[5].Inner = f.Values[2] }, "v5: dict with a wrapped value"},
		{"dict key twice", func(f *Func) { f.Values[5].Dict = append(f.Values[5].Dict, f.Values[5].Dict[0]) }, "v5: dict key key twice"},
		{"dict nil value", func(f *Func) { f.Values[5].Dict[0].Value = nil }, "v5: dict key key without a value"},
		{"given", func(f *Func) { f.Values[4].Given = append(f.Values[4].Given, true) }, "v4: 5 given marks for 4 arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := sampleFunc()
			tt.break_(f)
			err := Verify(f)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Verify = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestVerifyLive: the sample has an unused literal (v6), a dangling node DCE would remove.
func TestVerifyLive(t *testing.T) {
	f := sampleFunc()
	if err := VerifyLive(f); err == nil || !strings.Contains(err.Error(), "v6 is not used by the root") {
		t.Errorf("VerifyLive(sample) = %v, want v6 unused", err)
	}
	f.Values = append(f.Values[:5], f.Values[7])
	f.Renumber()
	if err := VerifyLive(f); err != nil {
		t.Errorf("VerifyLive(without the literal) = %v", err)
	}
}
