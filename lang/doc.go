// Package lang reads, checks and prints .mecha recipe files, the text format of the
// sd-mecha model-merging library.
//
// # Dialects
//
// The format exists in three generations, told apart by their text alone (see Parse):
//
//   - Dialect C (sd-mecha 0.1.0rc1 and later) starts with the line "version 0.1.0". Its
//     commands are model, merge, dict and literal; it has backslash escapes, the
//     constants null/true/false and whole-line "#" comments.
//   - Dialect A (February 2024) has no version line and applies merge methods with
//     "call"; its commands are model, lora, parameter, dict and call.
//   - Dialect B (February 2024 to February 2025) has no version line either and uses
//     "merge"; its commands are model, parameter, dict and merge.
//
// Every dialect has one instruction per line. Each instruction produces one value;
// "&N" refers to the value of the N-th instruction (0-based, comments not counted), so
// references only point backwards and the last instruction is the recipe's result.
//
// # Tokenizer
//
// mechac reproduces sd-mecha's tokenizers exactly rather than cleaning them up, because a
// recipe must mean the same thing to both programs. Only the ASCII space separates tokens
// (a tab is an ordinary character), and double quotes group characters, spaces included.
// In dialects A/B there are no escapes and characters typed before an opening quote move
// inside the quoted token (key="v" reads as the string "key=v"). In dialect C a backslash
// takes the next character literally, everywhere, and characters before a quote stay in
// front of it (key="v" reads as a keyword with a string value).
//
// A token containing "=" is a keyword argument; values are decoded in sd-mecha's order:
// constants (dialect C), &references, quoted strings, then numbers with Python's float()
// syntax when the token contains ".", "e" or "E" and Python's int() syntax otherwise. So
// "1_000", "+3", ".5" and "1e999" (infinity) are numbers and "inf", "nan", "0x10" are
// errors. The lexer (NewLexer) does all of this and hands a participle grammar typed
// tokens; the grammar only arranges lines.
//
// # Tolerance, strictness and canonical form
//
// Parse accepts everything sd-mecha accepts, with the same meaning, and a little more that
// hand-edited files tend to contain: a trailing newline, CRLF line endings, blank lines,
// end-of-line comments, True/False in dialect C and quoted positional strings containing
// "=". Strict lists those extras, since sd-mecha would reject or misread each of them.
// Format prints the canonical text sd-mecha itself writes (floats as Python repr, no
// trailing newline), so files written by sd-mecha format to themselves byte for byte.
//
// Errors carry positions (file:line:col, byte columns) and are returned as a sorted
// pos.ErrorList.
package lang
