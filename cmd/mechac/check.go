package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/mechac/mechac/compiler"
	"github.com/mechac/mechac/lang"
	"github.com/mechac/mechac/stdlib"
)

func cmdCheck(e *env, args []string) error {
	fs := newFlags(e, "check", "RECIPE [flags]")
	var co compileOptions
	co.register(fs, false)
	strict := fs.Bool("strict", false, "also report what sd-mecha's own parser would reject (trailing newline, CRLF, blank lines, ...)")
	rc, err := parseRecipeCommand(fs, &co, args)
	if rc == nil {
		return err
	}
	recipe, f, opts := rc.path, rc.file, rc.opts
	if *strict {
		if errs := lang.Strict(recipe, rc.src); len(errs) > 0 {
			return errs
		}
	}
	finder := newModelFinder(co.modelsDirs, recipe)
	paths := modelPaths(f, opts.Bindings)
	found, missing := finder.allFound(paths)
	template := hasUnbound(f, opts.Bindings)
	if found && !template {
		opts.Models = finder
	}
	res, err := compiler.Compile(f, opts)
	printNotes(e, res, false)
	if err != nil {
		return err
	}
	summary := fmt.Sprintf("%s: ok: %s dialect, %d instructions, %d models", recipe, f.Dialect, len(f.Instrs()), len(paths))
	if res.Era != nil {
		summary += fmt.Sprintf(", era %s", res.Era.ID)
	}
	if res.Program != nil {
		summary += fmt.Sprintf("; %d output keys in %d key classes", len(res.Program.Keys), len(res.Program.Classes))
	} else if template {
		summary += "; a template: keys and shapes are checked once its parameters are bound (--set)"
	} else if len(paths) > 0 {
		summary += fmt.Sprintf("; keys and shapes not checked (model file \"%s\" not found)", missing)
	}
	var pending []string
	for _, v := range res.Func.Values {
		if v.Def != nil && v.Def.Pending != "" && !contains(pending, v.Def.Name) {
			pending = append(pending, v.Def.Name)
		}
	}
	if len(pending) > 0 {
		summary += fmt.Sprintf("\nnote: cannot run yet: no kernel for %s", strings.Join(pending, ", "))
	}
	fmt.Fprintln(e.stdout, summary)
	return nil
}

func cmdFmt(e *env, args []string) error {
	fs := newFlags(e, "fmt", "RECIPE [-w]")
	write := fs.BoolP("write", "w", false, "rewrite the recipe file instead of printing")
	upgrade := fs.Bool("upgrade", false, "rewrite a dialect A or B recipe as an equivalent version 0.1.0 recipe")
	era := fs.String("era", "", "with --upgrade: the sd-mecha `ERA` the recipe was written in (default: from the file name and dialect)")
	if err := parseFlags(fs, args); err != nil {
		if err == errHelp {
			return nil
		}
		return err
	}
	if fs.NArg() != 1 {
		return usagef("fmt: want exactly one recipe, got %d arguments", fs.NArg())
	}
	recipe := fs.Arg(0)
	f, _, err := loadRecipe(recipe)
	if err != nil {
		return err
	}
	if *upgrade {
		up, err := compiler.Upgrade(f, stdlib.Default(), *era)
		if err != nil {
			return err
		}
		f = up
	}
	text := lang.Format(f)
	if *write {
		st, err := os.Stat(recipe)
		if err != nil {
			return err
		}
		return writeFileAtomic(recipe, []byte(text), st.Mode().Perm())
	}
	_, err = fmt.Fprintln(e.stdout, text)
	return err
}

func cmdCompile(e *env, args []string) error {
	fs := newFlags(e, "compile", "RECIPE [-o PLAN] [flags]")
	var co compileOptions
	co.register(fs, true)
	out := fs.StringP("output", "o", "", "write the plan text to `FILE` instead of standard output")
	hash := fs.Bool("hash-inputs", false, "add the sha256 of every whole input file to the plan (reads every input once)")
	memProfile := addMemProfileFlag(fs)
	rc, err := parseRecipeCommand(fs, &co, args)
	if rc == nil {
		return err
	}
	recipe, f, opts := rc.path, rc.file, rc.opts
	opts.Models = newModelFinder(co.modelsDirs, recipe)
	res, err := compiler.Compile(f, opts)
	printNotes(e, res, false)
	if err != nil {
		return err
	}
	if err := writeMemProfile(*memProfile); err != nil {
		return err
	}
	if *hash {
		if err := hashInputs(res.Program); err != nil {
			return &compiler.InputError{Err: err}
		}
	}
	text := res.Program.Text()
	if *out != "" {
		return writeFileAtomic(*out, []byte(text), 0o644)
	}
	_, err = fmt.Fprint(e.stdout, text)
	return err
}

// writeFileAtomic writes through a temporary file and a rename, so an interrupted write
// never leaves half a recipe or plan behind.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(dirOf(path), ".mechac-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// hasUnbound reports whether the recipe has template parameters the bindings leave open.
func hasUnbound(f *lang.File, bindings map[string]string) bool {
	for _, s := range f.Instrs() {
		if s.Command != "parameter" {
			continue
		}
		if p := s.Positional(); len(p) > 0 {
			if _, ok := bindings[p[0].Value.Str]; !ok {
				return true
			}
		}
	}
	return false
}
