package lang

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2/lexer"
)

// Tokenizer quirks of mecha-format §2.3 (dialects A/B) and §2.4 (dialect C).
func TestTokenize(t *testing.T) {
	tests := []struct {
		d    Dialect
		line string
		want []string
	}{
		// A/B: characters before an opening quote go inside the token.
		{DialectB, `model key="v"`, []string{"model", `"key=v"`}},
		{DialectB, `model abc"def"`, []string{"model", `"abcdef"`}},
		// A/B: no escapes.
		{DialectA, `model "raw\x.safetensors"`, []string{"model", `"raw\x.safetensors"`}},
		{DialectB, `a\ b`, []string{"a\\", "b"}},
		// Only U+0020 separates; runs of spaces collapse; TAB is ordinary.
		{DialectB, "a   b", []string{"a", "b"}},
		{DialectB, "a\tb", []string{"a\tb"}},
		{DialectB, `"a"` + "\t" + `"b"`, []string{`"a"`, "\"\tb\""}},
		{DialectB, `model ""`, []string{"model", `""`}},
		{DialectB, `"a b"c`, []string{`"a b"`, "c"}},
		// C: backslash takes the next character literally, everywhere.
		{DialectC, `a\nb`, []string{"anb"}},
		{DialectC, `a\\b`, []string{`a\b`}},
		{DialectC, `"a\"b"`, []string{`"a"b"`}},
		{DialectC, `\"a b\"`, []string{`"a`, `b"`}},
		{DialectC, `a\ b c`, []string{"a b", "c"}},
		{DialectC, `a \`, []string{"a"}},
		{DialectC, `"x\\y"`, []string{`"x\y"`}},
		// C: prefix"..." keeps the prefix in front of the quoted part.
		{DialectC, `k="v=1 2"`, []string{`k="v=1 2"`}},
		{DialectC, `abc"vae"`, []string{`abc"vae"`}},
		// C: characters after a closing quote start a new token.
		{DialectC, `"a"b`, []string{`"a"`, "b"}},
		{DialectC, `a"b"c`, []string{`a"b"`, "c"}},
		// C: TAB is still not a separator.
		{DialectC, "merge \"weighted_sum\"\t&0", []string{"merge", `"weighted_sum"`, "\t&0"}},
		{DialectC, "x \"a\tb\"", []string{"x", "\"a\tb\""}},
	}
	for _, tt := range tests {
		sc := tokenize(tt.line, 1, tt.d)
		var got []string
		for _, tk := range sc.toks {
			got = append(got, tk.text)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s tokenize(%q) = %q, want %q", tt.d, tt.line, got, tt.want)
		}
	}
}

func TestTokenizeColumns(t *testing.T) {
	// Token columns are the byte column of the first source character (escape or
	// prefix included); an unterminated quote reports the quote's column.
	sc := tokenize(`ab "c d" \"e k="v" é"x`, 3, DialectC)
	var cols []int
	for _, tk := range sc.toks {
		cols = append(cols, tk.col)
	}
	if want := []int{3, 6, 12, 16, 22}; !reflect.DeepEqual(cols, want) {
		t.Errorf("columns = %v, want %v", cols, want)
	}
	last := sc.toks[len(sc.toks)-1]
	if !last.unterminated || last.quoteCol != 24 {
		t.Errorf("last token = %+v, want unterminated quote at column 24", last)
	}
	if !sc.toks[1].plain || sc.toks[2].plain || sc.toks[3].plain {
		t.Errorf("plain flags wrong: %+v", sc.toks)
	}
}

// Value decoding of mecha-format §2.6.
func TestDecodeValue(t *testing.T) {
	type res struct {
		kind ValueKind
		val  any
	}
	tests := []struct {
		d    Dialect
		raw  string
		want res
		err  string
	}{
		{DialectC, "null", res{Null, nil}, ""},
		{DialectC, "true", res{Bool, true}, ""},
		{DialectC, "false", res{Bool, false}, ""},
		{DialectC, "True", res{Bool, true}, ""}, // tolerated, Strict reports
		{DialectC, "NULL", res{}, `bad value "NULL"`},
		{DialectB, "true", res{}, `bad value "true": dialect B has no null, true or false`},
		{DialectA, "null", res{}, `bad value "null": dialect A has no null, true or false`},
		{DialectC, "&0", res{Ref, int64(0)}, ""},
		{DialectC, "&+1", res{Ref, int64(1)}, ""},
		{DialectC, "&0_1", res{Ref, int64(1)}, ""},
		{DialectC, "&-1", res{Ref, int64(-1)}, ""}, // range is checked by the lexer
		{DialectC, "&x", res{}, `bad reference "&x"`},
		{DialectC, "&1.0", res{}, `bad reference "&1.0"`},
		{DialectC, `"a b"`, res{String, "a b"}, ""},
		{DialectC, `""`, res{String, ""}, ""},
		{DialectC, `"`, res{String, ""}, ""},
		{DialectC, "1.0", res{Float, 1.0}, ""},
		{DialectC, ".5", res{Float, 0.5}, ""},
		{DialectC, "5.", res{Float, 5.0}, ""},
		{DialectC, "1e-06", res{Float, 1e-06}, ""},
		{DialectC, "1E2", res{Float, 100.0}, ""},
		{DialectC, "-0.1", res{Float, -0.1}, ""},
		{DialectC, "+2.5", res{Float, 2.5}, ""},
		{DialectC, "1_0.5", res{Float, 10.5}, ""},
		{DialectC, "1e5", res{Float, 1e5}, ""},
		{DialectC, "1e+05", res{Float, 1e5}, ""},
		{DialectC, "1e999", res{Float, math.Inf(1)}, ""},
		{DialectC, "-1e999", res{Float, math.Inf(-1)}, ""},
		{DialectC, "1e-999", res{Float, 0.0}, ""},
		{DialectC, "1.5e1_0", res{Float, 1.5e10}, ""},
		{DialectB, "1.0", res{Float, 1.0}, ""},
		{DialectC, "inf", res{}, `bad number "inf": sd-mecha cannot read infinities or NaN`},
		{DialectC, "-inf", res{}, `bad number "-inf": sd-mecha cannot read infinities or NaN`},
		{DialectC, "nan", res{}, `bad number "nan": sd-mecha cannot read infinities or NaN`},
		{DialectC, "Infinity", res{}, `bad number "Infinity": sd-mecha cannot read infinities or NaN`},
		{DialectC, "1.2.3", res{}, `bad number "1.2.3"`},
		{DialectC, "1e", res{}, `bad number "1e"`},
		{DialectC, "e5", res{}, `bad value "e5"`},
		{DialectC, ".", res{}, `bad number "."`},
		{DialectC, "1._5", res{}, `bad number "1._5"`},
		{DialectC, "1_.5", res{}, `bad number "1_.5"`},
		{DialectC, "0x1p3", res{}, `bad number "0x1p3"`},
		{DialectC, "1.5j", res{}, `bad number "1.5j"`},
		{DialectC, "0x10", res{}, `bad number "0x10"`},
		{DialectC, "1__0", res{}, `bad number "1__0"`},
		{DialectC, "_1", res{}, `bad value "_1"`},
		{DialectC, "+3", res{Int, int64(3)}, ""},
		{DialectC, "-1", res{Int, int64(-1)}, ""},
		{DialectC, "1_000", res{Int, int64(1000)}, ""},
		{DialectC, "007", res{Int, int64(7)}, ""},
		{DialectC, "-0", res{Int, int64(0)}, ""},
		{DialectC, "9223372036854775807", res{Int, int64(math.MaxInt64)}, ""},
		{DialectC, "-9223372036854775808", res{Int, int64(math.MinInt64)}, ""},
		{DialectC, "9223372036854775808", res{}, `integer "9223372036854775808" does not fit in 64 bits (mechac limitation)`},
		{DialectC, "#", res{}, `bad value "#"`},
		{DialectC, `abc"vae"`, res{}, `bad value "abc\"vae\""`},
		// Python's int()/float() strip whitespace and read any Unicode decimal digit.
		{DialectC, "\t1", res{Int, int64(1)}, ""},
		{DialectC, "1\v", res{Int, int64(1)}, ""},
		{DialectC, "1\t2", res{}, `bad number "1\t2"`},
		{DialectC, "١٢", res{Int, int64(12)}, ""},
		{DialectC, "٣.٥", res{Float, 3.5}, ""},
		{DialectC, "𝟗", res{Int, int64(9)}, ""},
		{DialectC, "\u00a02.5", res{Float, 2.5}, ""},
	}
	for _, tt := range tests {
		v, msg := decodeValue(tt.d, tt.raw)
		if tt.err != "" {
			if !strings.HasPrefix(msg, tt.err) {
				t.Errorf("%s decodeValue(%q) error = %q, want prefix %q", tt.d, tt.raw, msg, tt.err)
			}
			continue
		}
		if msg != "" {
			t.Errorf("%s decodeValue(%q) error %q", tt.d, tt.raw, msg)
			continue
		}
		var got any
		switch v.Kind {
		case Bool:
			got = v.Bool
		case Int, Ref:
			got = v.Int
		case Float:
			got = v.Float
		case String:
			got = v.Str
		}
		if v.Kind != tt.want.kind || got != tt.want.val {
			t.Errorf("%s decodeValue(%q) = %s %v, want %s %v", tt.d, tt.raw, v.Kind, got, tt.want.kind, tt.want.val)
		}
		if v.Kind == Float && tt.raw == "-0.0" && !math.Signbit(v.Float) {
			t.Errorf("-0.0 lost its sign")
		}
	}
}

// The lexer works as a participle lexer.Definition on its own.
func TestLexerDefinition(t *testing.T) {
	def := NewLexer()
	syms := def.Symbols()
	for _, name := range []string{"EOF", "Version", "Command", "Key", "Ref", "String", "Float", "Int", "Const", "Comment", "EOL"} {
		if _, ok := syms[name]; !ok {
			t.Errorf("symbol %s missing", name)
		}
	}
	lx, err := def.Lex("x.mecha", strings.NewReader("version 0.1.0\nmerge \"m\" &0"))
	if err == nil || err.Error() != "x.mecha:2:11: reference &0 out of range: no value is defined before this line" {
		t.Fatalf("Lex error = %v", err)
	}
	lx, err = def.Lex("x.mecha", strings.NewReader("version 0.1.0\nmodel \"a\" k=1.5 n=2 c=null\n# c\nmerge \"m\" &0"))
	if err != nil {
		t.Fatal(err)
	}
	toks, err := lexer.ConsumeAll(lx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	byType := lexer.SymbolsByRune(def)
	for _, tk := range toks {
		got = append(got, byType[tk.Type]+":"+tk.Value+"@"+tk.Pos.String())
	}
	want := []string{
		"Version:0.1.0@x.mecha:1:9", "EOL:@x.mecha:1:14",
		"Command:model@x.mecha:2:1", `String:"a"@x.mecha:2:7`, "Key:k@x.mecha:2:11", "Float:1.5@x.mecha:2:13",
		"Key:n@x.mecha:2:17", "Int:2@x.mecha:2:19", "Key:c@x.mecha:2:21", "Const:null@x.mecha:2:23", "EOL:@x.mecha:2:27",
		"Comment:# c@x.mecha:3:1", "EOL:@x.mecha:3:4",
		"Command:merge@x.mecha:4:1", `String:"m"@x.mecha:4:7`, "Ref:&0@x.mecha:4:11", "EOL:@x.mecha:4:13",
		"EOF:@x.mecha:4:13",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tokens:\n got %q\nwant %q", got, want)
	}
	if toks[3].Pos.Offset != 20 {
		t.Errorf("offset of \"a\" = %d, want 20", toks[3].Pos.Offset)
	}
}
