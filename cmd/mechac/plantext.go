package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/mechac/mechac/vm/bytecode"
)

// The plan text form (SPEC.md §4.2) read back, so that `mechac diff` compares saved plans as
// it compares recipes. The reader inverts bytecode.Fprint: print(read(print(p))) == print(p).
// What the text does not hold stays empty: the recipe text (only its hash is printed) and
// where the recipe named each input. A CALL names constants by value; when two constants
// print the same (int 1 and float 1) the first is taken, which prints the same.

// planMagic starts every plan text.
const planMagic = "mechac plan "

// isPlanFile reports whether path holds a plan text (by its first bytes, whatever its name).
func isPlanFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, len(planMagic))
	n, _ := io.ReadFull(f, head)
	return string(head[:n]) == planMagic
}

// readPlanFile reads and verifies a plan text file.
func readPlanFile(path string) (*bytecode.Program, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p, err := readPlan(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return p, nil
}

// readPlan parses the plan text form and checks the result with bytecode.Verify.
func readPlan(text []byte) (*bytecode.Program, error) {
	r := &planReader{p: &bytecode.Program{}, consts: map[string]int{}}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	for sc.Scan() {
		r.line++
		if err := r.readLine(sc.Text()); err != nil {
			return nil, fmt.Errorf("line %d: %v", r.line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if r.line == 0 {
		return nil, fmt.Errorf("empty plan")
	}
	if err := bytecode.Verify(r.p); err != nil {
		return nil, fmt.Errorf("plan does not verify: %v", err)
	}
	return r.p, nil
}

type planReader struct {
	p    *bytecode.Program
	line int
	// consts maps an operand's printed form to the first constant printing so.
	consts map[string]int
	class  *bytecode.Code
}

func (r *planReader) readLine(l string) error {
	if strings.HasPrefix(l, "  ") {
		if r.class == nil {
			return fmt.Errorf("instruction outside a class")
		}
		pc, rest, ok := strings.Cut(strings.TrimLeft(l, " "), " ")
		if !ok || pc != strconv.Itoa(len(r.class.Instrs)) {
			return fmt.Errorf("instruction %q: want pc %d", l, len(r.class.Instrs))
		}
		in, err := r.instr(rest)
		if err != nil {
			return err
		}
		r.class.Instrs = append(r.class.Instrs, in)
		return nil
	}
	word, rest, _ := strings.Cut(l, " ")
	p := r.p
	switch word {
	case "mechac":
		v, ok := strings.CutPrefix(rest, "plan ")
		if !ok || r.line != 1 {
			return fmt.Errorf("not a mechac plan")
		}
		n, err := strconv.Atoi(v)
		if err != nil || n != bytecode.Version {
			return fmt.Errorf("plan version %q, this mechac reads %d", v, bytecode.Version)
		}
		p.Version = n
	case "numerics":
		p.Numerics = rest
	case "output-dtype":
		p.OutputDType = rest
	case "era":
		p.Era = rest
	case "omit-non-finite":
		p.OmitNonFinite = rest == "true"
	case "nan-to-num-output":
		p.NanToNumOutput = rest == "true"
	case "recipe":
		h, ok := strings.CutPrefix(rest, "sha256:")
		if !ok {
			return fmt.Errorf("recipe: want sha256:<hex>")
		}
		p.RecipeHash = h
	case "input":
		return r.input(rest)
	case "method":
		i, name, _ := strings.Cut(rest, " ")
		if i != strconv.Itoa(len(p.Methods)) || name == "" {
			return fmt.Errorf("method %q out of order", rest)
		}
		p.Methods = append(p.Methods, name)
	case "const":
		return r.constant(rest)
	case "class":
		var i, regs, keys int
		if _, err := fmt.Sscanf(rest, "%d regs=%d keys=%d", &i, &regs, &keys); err != nil || i != len(p.Classes) {
			return fmt.Errorf("class %q", rest)
		}
		p.Classes = append(p.Classes, bytecode.Code{NumRegs: regs})
		r.class = &p.Classes[len(p.Classes)-1]
	case "key":
		r.class = nil
		return r.key(rest)
	default:
		return fmt.Errorf("unknown line %q", l)
	}
	return nil
}

// input: <i> "<path>" size=<n> header=sha256:<hex>[ content=sha256:<hex>]
func (r *planReader) input(rest string) error {
	i, rest, _ := strings.Cut(rest, " ")
	if i != strconv.Itoa(len(r.p.Inputs)) {
		return fmt.Errorf("input %s out of order", i)
	}
	path, rest, err := unquotePrefix(rest)
	if err != nil {
		return fmt.Errorf("input path: %v", err)
	}
	in := bytecode.Input{Path: path}
	for _, f := range strings.Fields(rest) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "size":
			in.Size, err = strconv.ParseInt(v, 10, 64)
		case "header":
			in.HeaderHash = strings.TrimPrefix(v, "sha256:")
		case "content":
			in.ContentHash = strings.TrimPrefix(v, "sha256:")
		default:
			err = fmt.Errorf("unknown field %q", f)
		}
		if err != nil {
			return fmt.Errorf("input %s: %v", i, err)
		}
	}
	r.p.Inputs = append(r.p.Inputs, in)
	return nil
}

var constKinds = map[string]bytecode.ConstKind{
	"null": bytecode.ConstNull, "bool": bytecode.ConstBool, "int": bytecode.ConstInt,
	"float": bytecode.ConstFloat, "str": bytecode.ConstString, "scalar": bytecode.ConstScalar,
}

// constant: <i> <kind>[32] <value>
func (r *planReader) constant(rest string) error {
	i, rest, _ := strings.Cut(rest, " ")
	if i != strconv.Itoa(len(r.p.Consts)) {
		return fmt.Errorf("const %s out of order", i)
	}
	kind, val, _ := strings.Cut(rest, " ")
	var c bytecode.Const
	if k, ok := strings.CutSuffix(kind, "32"); ok {
		kind, c.F32 = k, true
	}
	k, ok := constKinds[kind]
	if !ok {
		return fmt.Errorf("const %s: unknown kind %q", i, kind)
	}
	c.Kind = k
	var err error
	switch k {
	case bytecode.ConstNull:
		if val != "null" {
			err = fmt.Errorf("want null")
		}
	case bytecode.ConstBool:
		c.B, err = strconv.ParseBool(val)
	case bytecode.ConstInt:
		c.I, err = strconv.ParseInt(val, 10, 64)
	case bytecode.ConstFloat, bytecode.ConstScalar:
		c.F, err = strconv.ParseFloat(val, 64)
	case bytecode.ConstString:
		var tail string
		c.S, tail, err = unquotePrefix(val)
		if err == nil && tail != "" {
			err = fmt.Errorf("text after the string")
		}
	}
	if err != nil {
		return fmt.Errorf("const %s: %v", i, err)
	}
	idx := len(r.p.Consts)
	r.p.Consts = append(r.p.Consts, c)
	printed := c.Text()
	if k == bytecode.ConstScalar {
		printed = "scalar(" + printed + ")"
	}
	if _, dup := r.consts[printed]; !dup {
		r.consts[printed] = idx
	}
	return nil
}

// key: "<name>" class=<i> shape=[d,...] dtype=<DT> peak=<n>[ loads=["<t>",...]]
func (r *planReader) key(rest string) error {
	name, rest, err := unquotePrefix(rest)
	if err != nil {
		return fmt.Errorf("key name: %v", err)
	}
	k := bytecode.Key{Name: name}
	loads := false
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
		f, v, _ := strings.Cut(rest, "=")
		switch f {
		case "class", "peak", "dtype":
			v, rest, _ = strings.Cut(v, " ")
			switch f {
			case "class":
				k.Class, err = strconv.Atoi(v)
			case "peak":
				k.Peak, err = strconv.ParseInt(v, 10, 64)
			case "dtype":
				k.DType = v
			}
		case "shape":
			v, rest, _ = strings.Cut(v, " ")
			k.Shape, err = parseShape(v)
		case "loads":
			loads = true
			k.Loads, rest, err = parseStringList(v)
		default:
			err = fmt.Errorf("unknown field %q", f)
		}
		if err != nil {
			return fmt.Errorf("key %q: %v", name, err)
		}
	}
	if !loads && k.Class >= 0 && k.Class < len(r.p.Classes) {
		// Loads are printed only when one differs from the key: every slot reads the key.
		n := 0
		for _, in := range r.p.Classes[k.Class].Instrs {
			if in.Op == bytecode.LOAD {
				n = max(n, in.C+1)
			}
		}
		for range n {
			k.Loads = append(k.Loads, name)
		}
	}
	r.p.Keys = append(r.p.Keys, k)
	return nil
}

func parseShape(s string) ([]int, error) {
	body, ok := strings.CutPrefix(s, "[")
	if body, ok = strings.CutSuffix(body, "]"); !ok {
		return nil, fmt.Errorf("shape %q", s)
	}
	out := []int{}
	if body == "" {
		return out, nil
	}
	for _, d := range strings.Split(body, ",") {
		n, err := strconv.Atoi(d)
		if err != nil {
			return nil, fmt.Errorf("shape %q", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseStringList reads ["a","b"] at the start of s and returns the rest.
func parseStringList(s string) ([]string, string, error) {
	s, ok := strings.CutPrefix(s, "[")
	if !ok {
		return nil, "", fmt.Errorf("want [")
	}
	var out []string
	for {
		if rest, ok := strings.CutPrefix(s, "]"); ok {
			return out, rest, nil
		}
		q, rest, err := unquotePrefix(s)
		if err != nil {
			return nil, "", err
		}
		out = append(out, q)
		s = strings.TrimPrefix(rest, ",")
	}
}

// unquotePrefix reads a Go-quoted string at the start of s and returns the rest after it.
func unquotePrefix(s string) (string, string, error) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", "", err
	}
	u, err := strconv.Unquote(q)
	return u, strings.TrimPrefix(s[len(q):], " "), err
}

// instr parses one disassembled instruction (bytecode.Instr.Text).
func (r *planReader) instr(s string) (bytecode.Instr, error) {
	op, rest, _ := strings.Cut(s, " ")
	var in bytecode.Instr
	var err error
	switch op {
	case "NOP":
		in.Op = bytecode.NOP
	case "LOAD":
		in.Op = bytecode.LOAD
		_, err = fmt.Sscanf(rest, "r%d, in%d[%d]", &in.A, &in.B, &in.C)
	case "JPRESENT":
		in.Op = bytecode.JPRESENT
		_, err = fmt.Sscanf(rest, "r%d, %d", &in.A, &in.B)
	case "JUMP":
		in.Op = bytecode.JUMP
		_, err = fmt.Sscanf(rest, "%d", &in.B)
	case "MOVE":
		in.Op = bytecode.MOVE
		_, err = fmt.Sscanf(rest, "r%d, r%d", &in.A, &in.B)
	case "MISS", "FREE", "STORE":
		in.Op = map[string]bytecode.Opcode{"MISS": bytecode.MISS, "FREE": bytecode.FREE, "STORE": bytecode.STORE}[op]
		_, err = fmt.Sscanf(rest, "r%d", &in.A)
	case "CALL":
		in.Op = bytecode.CALL
		err = r.call(&in, rest)
	default:
		err = fmt.Errorf("unknown opcode %q", op)
	}
	if err != nil {
		return in, fmt.Errorf("%s: %v", s, err)
	}
	return in, nil
}

// call parses `rA, name(args)[ @"key"][ alt=N]`, args being `pos, ..., *[var, ...],
// kw[kw, ...]`, each an operand or a {list} of operands.
func (r *planReader) call(in *bytecode.Instr, s string) error {
	var rest string
	if _, err := fmt.Sscanf(s, "r%d,", &in.A); err != nil {
		return err
	}
	_, s, _ = strings.Cut(s, ", ")
	open := strings.IndexByte(s, '(')
	if open < 0 {
		return fmt.Errorf("no argument list")
	}
	name := s[:open]
	in.B = -1
	for i, m := range r.p.Methods {
		if m == name {
			in.B = i
			break
		}
	}
	if in.B < 0 {
		return fmt.Errorf("method %q is not in the method table", name)
	}
	body, rest, err := splitBalanced(s[open:])
	if err != nil {
		return err
	}
	var groups [][]string // positional, varargs, keyword-only
	groups = append(groups, nil, nil, nil)
	for _, item := range splitTop(body) {
		switch {
		case strings.HasPrefix(item, "*[") && strings.HasSuffix(item, "]"):
			groups[1] = splitTop(item[2 : len(item)-1])
		case strings.HasPrefix(item, "kw[") && strings.HasSuffix(item, "]"):
			groups[2] = splitTop(item[3 : len(item)-1])
		default:
			groups[0] = append(groups[0], item)
		}
	}
	in.NArgs, in.NVar = len(groups[0]), len(groups[1])
	var counts []int
	hasList := false
	for _, g := range groups {
		for _, a := range g {
			if strings.HasPrefix(a, "{") && strings.HasSuffix(a, "}") {
				hasList = true
				elems := splitTop(a[1 : len(a)-1])
				counts = append(counts, len(elems))
				for _, e := range elems {
					o, err := r.operand(e)
					if err != nil {
						return err
					}
					in.Operands = append(in.Operands, o)
				}
				continue
			}
			counts = append(counts, -1)
			o, err := r.operand(a)
			if err != nil {
				return err
			}
			in.Operands = append(in.Operands, o)
		}
	}
	if hasList {
		in.Counts = counts
	}
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
		switch {
		case strings.HasPrefix(rest, "@"):
			in.Key, rest, err = unquotePrefix(rest[1:])
		case strings.HasPrefix(rest, "alt="):
			var v string
			v, rest, _ = strings.Cut(rest[4:], " ")
			in.Alt, err = strconv.Atoi(v)
		default:
			err = fmt.Errorf("unexpected %q", rest)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *planReader) operand(s string) (bytecode.Operand, error) {
	switch {
	case s == "none":
		return bytecode.Operand{Kind: bytecode.OpAbsent}, nil
	case strings.HasPrefix(s, "r"):
		if n, err := strconv.Atoi(s[1:]); err == nil {
			return bytecode.Operand{Kind: bytecode.OpReg, Index: n}, nil
		}
	}
	if i, ok := r.consts[s]; ok {
		return bytecode.Operand{Kind: bytecode.OpConst, Index: i}, nil
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(s, "c")); err == nil && strings.HasPrefix(s, "c") {
		return bytecode.Operand{Kind: bytecode.OpConst, Index: n}, nil
	}
	return bytecode.Operand{}, fmt.Errorf("operand %q is no register and no constant of the plan", s)
}

// splitBalanced takes "(...)rest" and returns the inside of the parentheses and rest,
// skipping quoted strings.
func splitBalanced(s string) (string, string, error) {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			q, err := strconv.QuotedPrefix(s[i:])
			if err != nil {
				return "", "", err
			}
			i += len(q) - 1
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
			if depth == 0 {
				return s[1:i], s[i+1:], nil
			}
		}
	}
	return "", "", fmt.Errorf("unbalanced argument list")
}

// splitTop splits s at the ", " separators outside brackets and strings.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			if q, err := strconv.QuotedPrefix(s[i:]); err == nil {
				i += len(q) - 1
			}
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		case ',':
			if depth == 0 && i+1 < len(s) && s[i+1] == ' ' {
				out = append(out, s[start:i])
				start = i + 2
				i++
			}
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// hashInputs sets every input's ContentHash: the sha256 of the whole file, streamed.
func hashInputs(p *bytecode.Program) error {
	for i := range p.Inputs {
		f, err := os.Open(p.Inputs[i].Path)
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, bufio.NewReaderSize(f, 1<<20))
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %v", p.Inputs[i].Path, err)
		}
		p.Inputs[i].ContentHash = hex.EncodeToString(h.Sum(nil))
	}
	return nil
}

// hashWithoutContent is the plan hash a run of the same plan writes into its output's
// metadata: runs do not hash whole inputs, so content hashes are left out.
func hashWithoutContent(p *bytecode.Program) string { return withoutContent(p).Hash() }
