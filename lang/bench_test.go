package lang

import (
	"os"
	"testing"
)

func BenchmarkParseRecipe(b *testing.B) {
	src, err := os.ReadFile("../../shared/recipes/astolfomix/x215a-AstolfoMix-24101101-6e545a3.mecha")
	if err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		Parse("x", src)
	}
}
