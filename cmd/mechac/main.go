// Command mechac compiles and runs .mecha merge recipes.
//
//	mechac run RECIPE -o OUT [--models-dir DIR]... [-j N] [--output-dtype f16|bf16|f32|f64] [--numerics exact|sd-mecha]
//	mechac check RECIPE [--models-dir DIR]... [--strict]
//	mechac fmt RECIPE [-w]
//	mechac compile RECIPE [--models-dir DIR]... [-o PLAN]
//	mechac synth -o DIR [--config sdxl-sgm] [--count N] [--divisor D]
//
// Exit status: 0 on success, 1 on a failure while reading models or running, 2 on a usage
// or recipe error.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mechac/mechac/compiler"
	"github.com/mechac/mechac/lang/pos"
	"github.com/mechac/mechac/vm"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError is a problem with the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

type command struct {
	name  string
	short string
	run   func(env *env, args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"run", "merge the models of a recipe into a .safetensors file", cmdRun},
		{"check", "check a recipe (and, when the model files are there, its keys and shapes)", cmdCheck},
		{"fmt", "print a recipe in canonical form", cmdFmt},
		{"compile", "print the plan a recipe compiles to", cmdCompile},
		{"diff", "compare what two recipes (or two mechac outputs) compute; exit 1 when they differ", cmdDiff},
		{"plan", "show what a run needs (bytes, largest key, peak memory) before reading any data", cmdPlan},
		{"explain", "show, line by line, the era, method, parameters and formula of a recipe", cmdExplain},
		{"synth", "write small synthetic models for examples and tests", cmdSynth},
		{"help", "show help", cmdHelp},
	}
}

// env is the process environment of one invocation, so tests can run main in-process.
type env struct {
	stdout, stderr io.Writer
	stderrIsTTY    bool
}

func main() {
	e := &env{stdout: os.Stdout, stderr: os.Stderr, stderrIsTTY: isTerminal(os.Stderr)}
	os.Exit(mainEnv(e, os.Args[1:]))
}

func mainEnv(e *env, args []string) int {
	if len(args) == 0 {
		printUsage(e.stderr)
		return exitUsage
	}
	name := args[0]
	if name == "-h" || name == "--help" {
		name = "help"
	}
	for _, c := range commands {
		if c.name == name {
			err := c.run(e, args[1:])
			return report(e, err)
		}
	}
	fmt.Fprintf(e.stderr, "mechac: unknown command %q\n", name)
	printUsage(e.stderr)
	return exitUsage
}

// report prints err and returns the exit status it deserves.
func report(e *env, err error) int {
	if err == nil {
		return exitOK
	}
	var se *silentError
	if errors.As(err, &se) {
		return se.code
	}
	var ue *usageError
	var el pos.ErrorList
	var pe *pos.Error
	var ie *compiler.InputError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "mechac: %v\n", err)
		return exitUsage
	case errors.As(err, &ie):
		fmt.Fprintln(e.stderr, strings.TrimRight(ie.Err.Error(), "\n"))
		return exitFailure
	case errors.As(err, &el), errors.As(err, &pe):
		fmt.Fprintln(e.stderr, strings.TrimRight(err.Error(), "\n"))
		return exitUsage
	}
	fmt.Fprintf(e.stderr, "mechac: %v\n", err)
	return exitFailure
}

// compileHeapBytes is the heap a command that compiles puts on huge pages (prepareHeap), once
// its flags are known: it covers the compilation of an 8-model SDXL recipe (~20 MiB) and its
// merge in most cases (the TIES benchmark's plan predicts 231 MiB), so that run need not
// prepare again. Not for run under --max-memory (SPEC §5.2).
const compileHeapBytes = 256 << 20

// prepareHeap puts up to n bytes of the heap on huge pages (vm.PrepareHeap), at most a quarter
// of the memory available now (compileHeapBytes where that is unknown): the block is address
// space the runtime keeps committed, though never touched, and under a strict overcommit
// policy a commitment past the machine's limit is refused, which the runtime does not survive.
func prepareHeap(n int64) {
	limit := int64(compileHeapBytes)
	if avail := availableMemory(); avail > 0 {
		limit = avail / 4
	}
	vmPrepareHeap(min(n, limit))
}

// vmPrepareHeap is vm.PrepareHeap (a variable for the tests).
var vmPrepareHeap = vm.PrepareHeap

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: mechac <command> [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.short)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'mechac <command> -h' for a command's flags.")
}

func cmdHelp(e *env, args []string) error {
	printUsage(e.stdout)
	return nil
}
