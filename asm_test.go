package mechac_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// legacySSEMove matches the non-VEX moves between general and vector registers that Go's
// assembler spells like the integer ones (MOVQ AX, X6; MOVD X13, AX; MOVL ...).
var legacySSEMove = regexp.MustCompile(`^\s*(MOVQ|MOVD|MOVL)\s+[^/]*\bX[0-9]+\b`)

// The assembly kernels use AVX, and a legacy SSE instruction run while the upper halves of
// the YMM registers hold data costs ~100 ns on this project's AMD EPYC machines (measured:
// a 16-element num.SubAbsKeys call took 114 ns with a `MOVQ AX, X6` after its loop, 12 ns
// with VMOVQ). So every move into or out of a vector register is written in its VEX form
// (VMOVQ, VMOVD), wherever in a function it is.
func TestAssemblyUsesVEXMoves(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != "." {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, ".s") && !strings.HasSuffix(path, "_amd64.h") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if legacySSEMove.MatchString(line) {
				t.Errorf("%s:%d: %s: a legacy SSE move (use its VEX form)", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
