package bytecode

import (
	"bytes"
	"strings"
	"testing"
)

// sample is a small but complete plan: two inputs, two methods, every constant kind, a
// fallback-style branch, varargs and keyword operands, two classes, an aliased load.
func sample() *Program {
	return &Program{
		Version:       Version,
		Numerics:      "sd-mecha",
		OutputDType:   "F16",
		OmitNonFinite: true,
		RecipeHash:    strings.Repeat("ab", 32),
		Recipe:        "version 0.1.0\nmodel \"a\"",
		Inputs: []Input{
			{Path: "/m/a.safetensors", Size: 1234, HeaderHash: strings.Repeat("01", 32), Recipe: "a.safetensors", Pos: "r.mecha:2:1"},
			{Path: "/m/b.safetensors", Size: 99, HeaderHash: strings.Repeat("ff", 32), Recipe: `models\b.safetensors`, Pos: "r.mecha:3:1"},
		},
		Methods: []string{"weighted_sum", "n_average"},
		Consts: []Const{
			{Kind: ConstNull},
			{Kind: ConstBool, B: true},
			{Kind: ConstInt, I: -7},
			{Kind: ConstFloat, F: 0.1},
			{Kind: ConstString, S: "vae \"x\""},
			{Kind: ConstScalar, F: float64(float32(0.1))},
		},
		Classes: []Code{
			{NumRegs: 3, Instrs: []Instr{
				{Op: LOAD, A: 0, B: 0, C: 0},
				{Op: JPRESENT, A: 0, B: 4},
				{Op: LOAD, A: 1, B: 1, C: 1},
				{Op: MOVE, A: 0, B: 1},
				{Op: NOP},
				{Op: CALL, A: 2, B: 0, NArgs: 2, Operands: []Operand{{OpReg, 0}, {OpConst, 5}, {OpAbsent, 0}}},
				{Op: FREE, A: 0},
				{Op: STORE, A: 2},
			}},
			{NumRegs: 3, Instrs: []Instr{
				{Op: LOAD, A: 0, B: 0, C: 0},
				{Op: LOAD, A: 1, B: 1, C: 0},
				{Op: CALL, A: 2, B: 1, NArgs: 0, NVar: 2, Operands: []Operand{{OpReg, 0}, {OpReg, 1}, {OpConst, 1}}},
				{Op: MISS, A: 0},
				{Op: JUMP, B: 5},
				{Op: STORE, A: 2},
			}},
		},
		Keys: []Key{
			{Name: "k.bias", Class: 0, Loads: []string{"k.bias", "alias.bias"}, Shape: []int{8}, DType: "F16"},
			{Name: "k.weight", Class: 1, Loads: []string{"k.weight"}, Shape: []int{8, 8, 1, 1}, DType: "F16"},
			{Name: "k.scalar", Class: 1, Loads: []string{"k.scalar"}, Shape: []int{}, DType: "F16"},
		},
	}
}

func TestSampleVerifies(t *testing.T) {
	if err := Verify(sample()); err != nil {
		t.Fatal(err)
	}
}

// TestEncodeDecodeRoundTrip: Decode(Encode(p)) prints the same text and hash, and encoding
// is deterministic.
func TestEncodeDecodeRoundTrip(t *testing.T) {
	p := sample()
	var b1, b2 bytes.Buffer
	if err := Encode(&b1, p); err != nil {
		t.Fatal(err)
	}
	if err := Encode(&b2, p); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
		t.Error("Encode is not deterministic")
	}
	if !bytes.HasPrefix(b1.Bytes(), []byte(Magic)) || b1.Bytes()[len(Magic)] != Version {
		t.Errorf("encoding starts %q, want magic and version %d", b1.Bytes()[:len(Magic)+1], Version)
	}
	q, err := Decode(bytes.NewReader(b1.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := q.Text(), p.Text(); got != want {
		t.Errorf("text differs after round trip:\n--- got ---\n%s--- want ---\n%s", got, want)
	}
	if q.Hash() != p.Hash() {
		t.Error("hash differs after round trip")
	}
	if q.Recipe != p.Recipe || q.Inputs[1].Recipe != p.Inputs[1].Recipe || q.Inputs[0].Pos != p.Inputs[0].Pos {
		t.Error("fields not in the text form were lost")
	}
	var b3 bytes.Buffer
	if err := Encode(&b3, q); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1.Bytes(), b3.Bytes()) {
		t.Error("re-encoding the decoded plan gives other bytes")
	}
}

func TestDecodeRefuses(t *testing.T) {
	var good bytes.Buffer
	if err := Encode(&good, sample()); err != nil {
		t.Fatal(err)
	}
	enc := good.Bytes()
	with := func(f func(b []byte) []byte) []byte {
		b := append([]byte(nil), enc...)
		return f(b)
	}
	var bad bytes.Buffer
	p := sample()
	p.Keys[0].Class = 9
	if err := Encode(&bad, p); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a mechac plan"},
		{"short", []byte("MECHA"), "not a mechac plan"},
		{"bad magic", with(func(b []byte) []byte { b[0] = 'X'; return b }), "bad magic"},
		{"wrong version", with(func(b []byte) []byte { b[len(Magic)] = Version + 1; return b }), "plan format version 2, this mechac reads version 1"},
		{"version zero", with(func(b []byte) []byte { b[len(Magic)] = 0; return b }), "plan format version 0"},
		{"truncated", enc[:len(enc)/2], "corrupt plan"},
		{"no body", enc[:len(Magic)+1], "corrupt plan"},
		{"does not verify", bad.Bytes(), `key "k.bias": class 9 out of range`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Decode(bytes.NewReader(tt.data))
			if err == nil {
				t.Fatalf("Decode succeeded (%d keys), want error %q", len(p.Keys), tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(p *Program)
		want   string
	}{
		{"empty class", func(p *Program) { p.Classes[1].Instrs = nil }, "class 1 does not end in STORE"},
		{"no STORE at end", func(p *Program) { p.Classes[0].Instrs[7] = Instr{Op: NOP} }, "class 0 does not end in STORE"},
		{"bad opcode", func(p *Program) { p.Classes[0].Instrs[4].Op = 200 }, "bad opcode 200"},
		{"LOAD dst", func(p *Program) { p.Classes[0].Instrs[0].A = 3 }, "register r3 out of range (3 registers)"},
		{"negative reg", func(p *Program) { p.Classes[0].Instrs[0].A = -1 }, "register r-1 out of range"},
		{"CALL dst", func(p *Program) { p.Classes[0].Instrs[5].A = 5 }, "register r5 out of range"},
		{"CALL reg operand", func(p *Program) { p.Classes[1].Instrs[2].Operands[1].Index = 3 }, "register r3 out of range"},
		{"MOVE src", func(p *Program) { p.Classes[0].Instrs[3].B = 7 }, "register r7 out of range"},
		{"JPRESENT reg", func(p *Program) { p.Classes[0].Instrs[1].A = 4 }, "register r4 out of range"},
		{"FREE reg", func(p *Program) { p.Classes[0].Instrs[6].A = 3 }, "register r3 out of range"},
		{"STORE reg", func(p *Program) { p.Classes[0].Instrs[7].A = 3 }, "register r3 out of range"},
		{"MISS reg", func(p *Program) { p.Classes[1].Instrs[3].A = 9 }, "register r9 out of range"},
		{"jump backwards", func(p *Program) { p.Classes[0].Instrs[1].B = 0 }, "jump target 0 is not a later instruction"},
		{"jump to itself", func(p *Program) { p.Classes[1].Instrs[4].B = 4 }, "jump target 4 is not a later instruction"},
		{"jump past end", func(p *Program) { p.Classes[0].Instrs[1].B = 8 }, "jump target 8 is not a later instruction"},
		{"input", func(p *Program) { p.Classes[0].Instrs[2].B = 2 }, "input 2 out of range"},
		{"method", func(p *Program) { p.Classes[0].Instrs[5].B = 2 }, "method 2 out of range"},
		{"constant", func(p *Program) { p.Classes[0].Instrs[5].Operands[1].Index = 6 }, "constant 6 out of range"},
		{"negative constant", func(p *Program) { p.Classes[0].Instrs[5].Operands[1].Index = -1 }, "constant -1 out of range"},
		{"operand split", func(p *Program) { p.Classes[1].Instrs[2].NVar = 4 }, "bad operand split"},
		{"negative split", func(p *Program) { p.Classes[1].Instrs[2].NArgs = -1 }, "bad operand split"},
		{"key class", func(p *Program) { p.Keys[2].Class = -1 }, `key "k.scalar": class -1 out of range`},
		{"load slot", func(p *Program) { p.Keys[1].Loads = nil }, `key "k.weight": load slot 0 out of range`},
		{"alias slot", func(p *Program) { p.Keys[0].Loads = p.Keys[0].Loads[:1] }, `key "k.bias": load slot 1 out of range`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := sample()
			tt.break_(p)
			err := Verify(p)
			if err == nil {
				t.Fatalf("Verify accepted the plan, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Verify = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestTextForm pins a few lines of the text form that SPEC.md documents.
func TestTextForm(t *testing.T) {
	text := sample().Text()
	for _, want := range []string{
		"mechac plan 1\nnumerics sd-mecha\noutput-dtype F16\nomit-non-finite true\n",
		`input 1 "/m/b.safetensors" size=99 header=sha256:` + strings.Repeat("ff", 32) + "\n",
		"const 4 str \"vae \\\"x\\\"\"\n",
		"const 5 scalar 0.10000000149011612\n",
		"class 0 regs=3 keys=1\n",
		"class 1 regs=3 keys=2\n",
		"    1 JPRESENT r0, 4\n",
		"    5 CALL r2, weighted_sum(r0, scalar(0.10000000149011612), kw[none])\n",
		"    2 CALL r2, n_average(*[r0, r1], kw[true])\n",
		"    4 JUMP 5\n",
		`key "k.bias" class=0 shape=[8] dtype=F16 peak=0 loads=["k.bias","alias.bias"]` + "\n",
		`key "k.weight" class=1 shape=[8,8,1,1] dtype=F16 peak=0` + "\n",
		`key "k.scalar" class=1 shape=[] dtype=F16 peak=0` + "\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text form lacks %q:\n%s", want, text)
		}
	}
}
