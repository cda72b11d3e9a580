package num

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechac/mechac/ops"
)

// TestF16CMatchesTable: the F16C widening gives the table's bits for every float16 pattern (all
// 65536, eight at a time, so that blocks holding an inf or NaN take the table path), and for
// random lengths with non-finite values placed anywhere, through DecodeInto and DecodeFinite.
func TestF16CMatchesTable(t *testing.T) {
	if !hasF16C {
		t.Skip("no F16C on this CPU: DecodeInto uses the table only")
	}
	table := func(src []byte) []float64 {
		old := hasF16C
		hasF16C = false
		defer func() { hasF16C = old }()
		d := make([]float64, len(src)/2)
		DecodeInto(d, src, ops.F16)
		return d
	}
	check := func(name string, src []byte) {
		t.Helper()
		want := table(src)
		got := make([]float64, len(want))
		DecodeInto(got, src, ops.F16)
		got2 := make([]float64, len(want))
		finite := DecodeFinite(got2, src, ops.F16)
		wantFinite := true
		for i := range want {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) || math.Float64bits(got2[i]) != math.Float64bits(want[i]) {
				t.Fatalf("%s: element %d (%#04x): %x / %x, table %x", name, i, binary.LittleEndian.Uint16(src[2*i:]),
					math.Float64bits(got[i]), math.Float64bits(got2[i]), math.Float64bits(want[i]))
			}
			if math.IsNaN(want[i]) || math.IsInf(want[i], 0) {
				wantFinite = false
			}
		}
		if finite != wantFinite {
			t.Fatalf("%s: DecodeFinite says finite %v, want %v", name, finite, wantFinite)
		}
	}
	all := make([]byte, 2<<16)
	for h := range 1 << 16 {
		binary.LittleEndian.PutUint16(all[2*h:], uint16(h))
	}
	for lo := 0; lo < len(all); lo += 16 {
		check("patterns", all[lo:lo+16])
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 300 {
		n := rng.IntN(100)
		src := make([]byte, 2*n)
		for i := range n {
			h := uint16(rng.Uint32()) &^ 0x7c00 // finite
			if rng.IntN(40) == 0 {
				h |= 0x7c00 // inf or NaN
			}
			binary.LittleEndian.PutUint16(src[2*i:], h)
		}
		check("random", src)
	}
}

func BenchmarkDecodeF16(b *testing.B) {
	src := make([]byte, 2<<16)
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 1 << 16 {
		binary.LittleEndian.PutUint16(src[2*i:], uint16(rng.Uint32())&^0x4000)
	}
	dst := make([]float64, 1<<16)
	for _, fast := range []bool{false, true} {
		name := "table"
		if fast {
			name = "f16c"
		}
		b.Run(name, func(b *testing.B) {
			old := hasF16C
			hasF16C = hasF16C && fast
			defer func() { hasF16C = old }()
			b.SetBytes(int64(len(src)))
			for range b.N {
				DecodeFinite(dst, src, ops.F16)
			}
		})
	}
}
