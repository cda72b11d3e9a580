package bytecode

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Fprint writes the plan's stable text form (documented in SPEC.md, "Plan text form"). The
// text is a function of the plan alone: the same recipe, inputs and options print the same
// bytes, so plans can be hashed and diffed.
func Fprint(w io.Writer, p *Program) error {
	b := &bytes.Buffer{}
	fmt.Fprintf(b, "mechac plan %d\n", p.Version)
	fmt.Fprintf(b, "numerics %s\n", p.Numerics)
	fmt.Fprintf(b, "output-dtype %s\n", p.OutputDType)
	if p.Era != "" {
		fmt.Fprintf(b, "era %s\n", p.Era)
	}
	fmt.Fprintf(b, "omit-non-finite %t\n", p.OmitNonFinite)
	if p.NanToNumOutput {
		fmt.Fprintf(b, "nan-to-num-output true\n")
	}
	fmt.Fprintf(b, "recipe sha256:%s\n", p.RecipeHash)
	for i, in := range p.Inputs {
		fmt.Fprintf(b, "input %d %s size=%d header=sha256:%s", i, strconv.Quote(in.Path), in.Size, in.HeaderHash)
		if in.ContentHash != "" {
			fmt.Fprintf(b, " content=sha256:%s", in.ContentHash)
		}
		b.WriteByte('\n')
	}
	for i, m := range p.Methods {
		fmt.Fprintf(b, "method %d %s\n", i, m)
	}
	for i, c := range p.Consts {
		kind := c.Kind.String()
		if c.F32 {
			kind += "32"
		}
		fmt.Fprintf(b, "const %d %s %s\n", i, kind, c.Text())
	}
	counts := make([]int, len(p.Classes))
	for _, k := range p.Keys {
		if k.Class >= 0 && k.Class < len(counts) {
			counts[k.Class]++
		}
	}
	for i, c := range p.Classes {
		fmt.Fprintf(b, "class %d regs=%d keys=%d\n", i, c.NumRegs, counts[i])
		for pc, in := range c.Instrs {
			fmt.Fprintf(b, "  %3d %s\n", pc, in.Text(p))
		}
	}
	for _, k := range p.Keys {
		fmt.Fprintf(b, "key %s class=%d shape=%s dtype=%s peak=%d", strconv.Quote(k.Name), k.Class, shapeText(k.Shape), k.DType, k.Peak)
		same := true
		for _, l := range k.Loads {
			if l != k.Name {
				same = false
			}
		}
		if !same {
			q := make([]string, len(k.Loads))
			for i, l := range k.Loads {
				q[i] = strconv.Quote(l)
			}
			fmt.Fprintf(b, " loads=[%s]", strings.Join(q, ","))
		}
		b.WriteByte('\n')
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Text prints the plan's text form as a string.
func (p *Program) Text() string {
	var b strings.Builder
	Fprint(&b, p)
	return b.String()
}

// Hash is the sha256 (hex) of the plan's text form.
func (p *Program) Hash() string {
	h := sha256.Sum256([]byte(p.Text()))
	return hex.EncodeToString(h[:])
}

// Text prints a constant.
func (c Const) Text() string {
	switch c.Kind {
	case ConstNull:
		return "null"
	case ConstBool:
		return strconv.FormatBool(c.B)
	case ConstInt:
		return strconv.FormatInt(c.I, 10)
	case ConstFloat, ConstScalar:
		return strconv.FormatFloat(c.F, 'g', -1, 64)
	case ConstString:
		return strconv.Quote(c.S)
	}
	return "?"
}

// Text disassembles one instruction; p supplies method and constant names.
func (in Instr) Text(p *Program) string {
	info := Ops[NOP]
	if int(in.Op) < len(Ops) {
		info = Ops[in.Op]
	}
	switch in.Op {
	case LOAD:
		return fmt.Sprintf("LOAD r%d, in%d[%d]", in.A, in.B, in.C)
	case CALL:
		name := fmt.Sprintf("m%d", in.B)
		if p != nil && in.B < len(p.Methods) {
			name = p.Methods[in.B]
		}
		ops := make([]string, len(in.Operands))
		for i, o := range in.Operands {
			ops[i] = o.text(p)
		}
		args := ops
		if in.Counts != nil {
			// A list argument prints as {a, b, c}.
			args = nil
			k := 0
			for _, n := range in.Counts {
				if n < 0 {
					if k < len(ops) {
						args = append(args, ops[k])
					}
					k++
					continue
				}
				if k+n > len(ops) {
					break
				}
				args = append(args, "{"+strings.Join(ops[k:k+n], ", ")+"}")
				k += n
			}
		}
		var parts []string
		if in.NArgs <= len(args) {
			parts = append(parts, strings.Join(args[:in.NArgs], ", "))
			rest := args[in.NArgs:]
			if in.NVar > 0 && in.NVar <= len(rest) {
				parts = append(parts, "*["+strings.Join(rest[:in.NVar], ", ")+"]")
				rest = rest[in.NVar:]
			}
			if len(rest) > 0 {
				parts = append(parts, "kw["+strings.Join(rest, ", ")+"]")
			}
		}
		var nonEmpty []string
		for _, s := range parts {
			if s != "" {
				nonEmpty = append(nonEmpty, s)
			}
		}
		extra := ""
		if in.Key != "" {
			extra += fmt.Sprintf(" @%s", strconv.Quote(in.Key))
		}
		if in.Alt != 0 {
			extra += fmt.Sprintf(" alt=%d", in.Alt)
		}
		return fmt.Sprintf("CALL r%d, %s(%s)%s", in.A, name, strings.Join(nonEmpty, ", "), extra)
	case JPRESENT:
		return fmt.Sprintf("JPRESENT r%d, %d", in.A, in.B)
	case JUMP:
		return fmt.Sprintf("JUMP %d", in.B)
	case MOVE:
		return fmt.Sprintf("MOVE r%d, r%d", in.A, in.B)
	case MISS, FREE, STORE:
		return fmt.Sprintf("%s r%d", info.Name, in.A)
	}
	return info.Name
}

func (o Operand) text(p *Program) string {
	switch o.Kind {
	case OpReg:
		return fmt.Sprintf("r%d", o.Index)
	case OpConst:
		if p != nil && o.Index < len(p.Consts) {
			c := p.Consts[o.Index]
			if c.Kind == ConstScalar {
				return "scalar(" + c.Text() + ")"
			}
			return c.Text()
		}
		return fmt.Sprintf("c%d", o.Index)
	}
	return "none"
}

func shapeText(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}
