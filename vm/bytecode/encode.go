package bytecode

import (
	"bufio"
	"encoding/gob"
	"fmt"
	"io"
)

// Encode writes the binary form: Magic, the format version as one byte, then the program
// in encoding/gob (deterministic for this struct: it has no maps).
func Encode(w io.Writer, p *Program) error {
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString(Magic); err != nil {
		return err
	}
	if err := bw.WriteByte(Version); err != nil {
		return err
	}
	if err := gob.NewEncoder(bw).Encode(p); err != nil {
		return err
	}
	return bw.Flush()
}

// Decode reads a binary plan, refusing other magic numbers and versions, and verifies it.
func Decode(r io.Reader) (*Program, error) {
	br := bufio.NewReader(r)
	head := make([]byte, len(Magic)+1)
	if _, err := io.ReadFull(br, head); err != nil {
		return nil, fmt.Errorf("not a mechac plan: %v", err)
	}
	if string(head[:len(Magic)]) != Magic {
		return nil, fmt.Errorf("not a mechac plan (bad magic)")
	}
	if v := int(head[len(Magic)]); v != Version {
		return nil, fmt.Errorf("plan format version %d, this mechac reads version %d", v, Version)
	}
	p := &Program{}
	if err := gob.NewDecoder(br).Decode(p); err != nil {
		return nil, fmt.Errorf("corrupt plan: %v", err)
	}
	if err := Verify(p); err != nil {
		return nil, err
	}
	return p, nil
}

// Verify checks the program's internal consistency: operand ranges, jump targets, every
// class ending in STORE, key bindings. The VM trusts a verified program.
func Verify(p *Program) error {
	for ci, c := range p.Classes {
		if len(c.Instrs) == 0 || c.Instrs[len(c.Instrs)-1].Op != STORE {
			return fmt.Errorf("class %d does not end in STORE", ci)
		}
		reg := func(r int) error {
			if r < 0 || r >= c.NumRegs {
				return fmt.Errorf("class %d: register r%d out of range (%d registers)", ci, r, c.NumRegs)
			}
			return nil
		}
		for pc, in := range c.Instrs {
			if in.Op >= numOpcodes {
				return fmt.Errorf("class %d pc %d: bad opcode %d", ci, pc, in.Op)
			}
			info := Ops[in.Op]
			if info.WritesA || info.ReadsA || in.Op == FREE {
				if err := reg(in.A); err != nil {
					return fmt.Errorf("pc %d: %v", pc, err)
				}
			}
			if info.ReadsB {
				if err := reg(in.B); err != nil {
					return fmt.Errorf("pc %d: %v", pc, err)
				}
			}
			if info.Jumps && (in.B <= pc || in.B >= len(c.Instrs)) {
				return fmt.Errorf("class %d pc %d: jump target %d is not a later instruction", ci, pc, in.B)
			}
			switch in.Op {
			case LOAD:
				if in.B < 0 || in.B >= len(p.Inputs) {
					return fmt.Errorf("class %d pc %d: input %d out of range", ci, pc, in.B)
				}
			case CALL:
				if in.B < 0 || in.B >= len(p.Methods) {
					return fmt.Errorf("class %d pc %d: method %d out of range", ci, pc, in.B)
				}
				nargs := len(in.Operands)
				if in.Counts != nil {
					total := 0
					for _, n := range in.Counts {
						switch {
						case n == -1:
							total++
						case n < 0:
							return fmt.Errorf("class %d pc %d: bad operand count %d", ci, pc, n)
						default:
							total += n
						}
					}
					if total != len(in.Operands) {
						return fmt.Errorf("class %d pc %d: operand counts sum to %d, %d operands", ci, pc, total, len(in.Operands))
					}
					nargs = len(in.Counts)
				}
				if in.NArgs < 0 || in.NVar < 0 || in.NArgs+in.NVar > nargs {
					return fmt.Errorf("class %d pc %d: bad operand split", ci, pc)
				}
				for _, o := range in.Operands {
					switch o.Kind {
					case OpReg:
						if err := reg(o.Index); err != nil {
							return fmt.Errorf("pc %d: %v", pc, err)
						}
					case OpConst:
						if o.Index < 0 || o.Index >= len(p.Consts) {
							return fmt.Errorf("class %d pc %d: constant %d out of range", ci, pc, o.Index)
						}
					}
				}
			}
		}
	}
	for _, k := range p.Keys {
		if k.Class < 0 || k.Class >= len(p.Classes) {
			return fmt.Errorf("key %q: class %d out of range", k.Name, k.Class)
		}
		for _, in := range p.Classes[k.Class].Instrs {
			if in.Op == LOAD && (in.C < 0 || in.C >= len(k.Loads)) {
				return fmt.Errorf("key %q: load slot %d out of range", k.Name, in.C)
			}
		}
	}
	return nil
}
