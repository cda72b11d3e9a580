package main

import (
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/spf13/pflag"
)

// addMemProfileFlag registers the hidden --memprofile flag of compile and plan: compilation's
// heap is what grows with the number of models (issue 5), and go tool pprof on this profile
// (-sample_index=alloc_space or inuse_space) shows where.
func addMemProfileFlag(fs *pflag.FlagSet) *string {
	p := fs.String("memprofile", "", "write a heap profile taken after compilation to `FILE`")
	_ = fs.MarkHidden("memprofile")
	return p
}

// writeMemProfile writes a heap profile to path ("" writes nothing). It runs a GC first so
// inuse_space is what compilation retains, not garbage not yet collected; callers keep the
// compiled result alive until after the call.
func writeMemProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
