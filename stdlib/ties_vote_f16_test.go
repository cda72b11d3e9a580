package stdlib

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/num"
)

// deltaArgs is an ops.DeltaSource over float16 models and float64 bases, as the VM gives a
// staged ties_sum's output pass: argument i = float64(raw_i) - base_i. Arg makes a piece by
// the same widening and subtraction (and counts the pieces asked for).
type deltaArgs struct {
	raws  [][]byte
	bases [][]float64
	asked int
}

func (d *deltaArgs) Arg(i, off int, dst []float64) error {
	d.asked++
	num.DecodeInto(dst, d.raws[i][2*off:2*(off+len(dst))], ops.F16)
	for j := range dst {
		dst[j] -= d.bases[i][off+j]
	}
	return nil
}

func (d *deltaArgs) Delta(i int) ([]byte, ops.DType, []float64, bool) {
	return d.raws[i], ops.F16, d.bases[i], true
}

// rawDeltaArgs is deltaArgs that also offers the bases as stored float16
// (ops.RawDeltaSource), as the VM does where a base is read from a file.
type rawDeltaArgs struct {
	deltaArgs
	baseRaws [][]byte
}

func (d *rawDeltaArgs) DeltaBase(i int) ([]byte, bool) { return d.baseRaws[i], true }

// lazyDeltaArgs is rawDeltaArgs whose float64 bases are made only when asked for
// (ops.LazyBaseSource), as the VM's where a staged add's base is the deltas' base: Delta
// gives none, BaseValues counts the calls.
type lazyDeltaArgs struct {
	rawDeltaArgs
	widened int
}

func (d *lazyDeltaArgs) Delta(i int) ([]byte, ops.DType, []float64, bool) {
	return d.raws[i], ops.F16, nil, true
}

func (d *lazyDeltaArgs) BaseValues(i int) ([]float64, error) {
	d.widened++
	return d.bases[i], nil
}

// TestTiesVoteFromDeltas: ChunkFrom over float16 differences (tiesVote8F16 where it applies)
// writes Chunk's bits on the same values, for model counts on both sides of one cascade level,
// both votes, lengths with columns past the 16-column blocks and tiles not a multiple of 8 and
// of several spans,
// and models or bases holding an inf or a NaN (the tile is voted from Arg's values then), with
// the bases as float64 or also as stored float16; and the float16 loop runs where it applies.
func TestTiesVoteFromDeltas(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, n := range []int{8, 37, 512, 1000, 1300, 9000} { // 9000: three spans (tiesRawSpan)
		for _, r := range []int{1, 3, 8, 15, 16, 20} {
			for _, vote := range []bool{false, true} {
				for _, bad := range []string{"", "raw inf", "raw nan", "base nan", "raw base", "raw base nan"} {
					name := fmt.Sprint(n, r, vote, bad)
					rawBase := bad == "raw base" || bad == "raw base nan"
					d := &deltaArgs{}
					args := make([][]float64, r)
					base := make([]float64, n)
					scale := 1.0
					if rawBase {
						scale = 0.01 // a base wrongly read as 0 still gives |d| < 1: the integer vote runs on it
					}
					for j := range base {
						base[j] = num.F16ToF64(num.F16FromF64(rng.NormFloat64() * scale))
					}
					for range r {
						raw := make([]byte, 2*n)
						for j := range n {
							v := base[j] + rng.NormFloat64()*0.01
							if rng.IntN(10) == 0 {
								v = base[j] // a zero delta
							}
							binary.LittleEndian.PutUint16(raw[2*j:], num.F16FromF64(v))
						}
						d.raws, d.bases = append(d.raws, raw), append(d.bases, base)
					}
					switch bad {
					case "raw inf":
						binary.LittleEndian.PutUint16(d.raws[r/2][2*(n/2):], 0x7c00)
					case "raw nan":
						binary.LittleEndian.PutUint16(d.raws[0][2*(n-1):], 0x7d01) // a signaling NaN
					case "base nan", "raw base nan":
						d.bases = append([][]float64(nil), d.bases...)
						b := append([]float64(nil), base...)
						b[n/3] = math.NaN()
						d.bases[r-1] = b
					}
					var src ops.ArgSource = d
					if rawBase {
						rd := &rawDeltaArgs{deltaArgs: *d}
						for _, b := range d.bases {
							raw := make([]byte, 2*n)
							num.EncodeInto(raw, b, ops.F16, false)
							rd.baseRaws = append(rd.baseRaws, raw)
						}
						src, d = rd, &rd.deltaArgs
					}
					for i := range r {
						args[i] = make([]float64, n)
						if err := d.Arg(i, 0, args[i]); err != nil {
							t.Fatal(err)
						}
					}
					d.asked = 0
					th := make([]float64, r)
					for i := range th {
						th[i] = 0.005 * float64(i%4)
					}
					want := make([]float64, n)
					newTiesVoter(th, n, vote).run(args, 0, want)
					got := make([]float64, n)
					before, before16 := tiesF16Columns.Load(), tiesBase16Tiles.Load()
					if err := newTiesVoter(th, n, vote).runFrom(src, 0, got, nil, false, 0); err != nil {
						t.Fatal(err)
					}
					if j := tiesFirstDiff(got, want); j >= 0 {
						t.Fatalf("%s: [%d] = %v, want %v", name, j, got[j], want[j])
					}
					// Added to a base as it is voted (ChunkFromAdd): add_difference's values,
					// infinities and NaNs in the added-to values included.
					to := make([]float64, n)
					for j := range to {
						to[j] = rng.NormFloat64()
					}
					to[n/2], to[n-1] = math.Inf(-1), math.NaN()
					for _, w := range []float64{1, -0.7} {
						wantAdd := make([]float64, n)
						vecAddScaled(wantAdd, to, want, w)
						gotAdd := make([]float64, n)
						if err := newTiesVoter(th, n, vote).runFrom(src, 0, gotAdd, to, false, w); err != nil {
							t.Fatal(err)
						}
						if j := tiesFirstDiff(gotAdd, wantAdd); j >= 0 {
							t.Fatalf("%s, added with w %v: [%d] = %v, want %v", name, w, j, gotAdd[j], wantAdd[j])
						}
					}
					fused := tiesF16Columns.Load() - before
					can := !vote && r < 16 && n >= 16 && tiesSplitVector && num.HasF16C()
					if (bad == "" || bad == "raw base") && can != (fused > 0) {
						t.Errorf("%s: %d columns voted from float16", name, fused)
					}
					if wide := tiesBase16Tiles.Load() - before16; bad == "raw base" && can && tiesAVX512 != (wide > 0) {
						t.Errorf("%s: %d tiles' bases widened from float16", name, wide)
					}
					if bad != "" && bad != "raw base" && d.asked == 0 {
						t.Errorf("%s: no piece asked of Arg", name)
					}
					// An inf in the middle span: the spans around it are still voted from float16.
					if bad == "raw inf" && n > 2*tiesRawSpan && can && fused < int64(n-tiesRawSpan) {
						t.Errorf("%s: %d columns voted from float16, want the %d outside the middle span", name, fused, n-tiesRawSpan)
					}
					if !rawBase {
						continue
					}
					// The bases not made until asked for (ops.LazyBaseSource), added to as
					// the models' one base (ChunkFromAdd's nil base) or not at all.
					lazy := &lazyDeltaArgs{rawDeltaArgs: *src.(*rawDeltaArgs)}
					gotLazy := make([]float64, n)
					if err := newTiesVoter(th, n, vote).runFrom(lazy, 0, gotLazy, nil, false, 0); err != nil {
						t.Fatal(err)
					}
					if j := tiesFirstDiff(gotLazy, want); j >= 0 {
						t.Fatalf("%s, lazy bases: [%d] = %v, want %v", name, j, gotLazy[j], want[j])
					}
					if bad == "raw base" && can && tiesAVX512 && lazy.widened != 0 {
						t.Errorf("%s: %d bases made for a vote the stored ones could take", name, lazy.widened)
					}
					for _, w := range []float64{1, -0.7} {
						wantAdd := make([]float64, n)
						vecAddScaled(wantAdd, d.bases[0], want, w)
						if err := newTiesVoter(th, n, vote).runFrom(lazy, 0, gotLazy, nil, true, w); err != nil {
							t.Fatal(err)
						}
						if j := tiesFirstDiff(gotLazy, wantAdd); j >= 0 {
							t.Fatalf("%s, lazy base added with w %v: [%d] = %v, want %v", name, w, j, gotLazy[j], wantAdd[j])
						}
					}
				}
			}
		}
	}
}
