package stdlib

import (
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/opstest"
	"github.com/mechac/mechac/ops/rng"
)

// synthGraph is a small permutation problem: a 3-layer MLP (two interacting hidden
// permutations sharing w2 on different axes) and a 2-head attention q/k pair. Weight matching
// of interacting permutations is coordinate ascent from the identity (as upstream), which can
// stop in a local optimum; the first layer is wide enough here for it to find the truth.
func synthGraph() *permGraph {
	g := &permGraph{shapes: map[string][]int{
		"w1": {6, 16}, "b1": {6}, "w2": {5, 6}, "b2": {5}, "w3": {3, 5},
		"q": {8, 4}, "k": {8, 4},
	}}
	g.add(6, sl("w1", 0, 0), sl("b1", 0, 0), sl("w2", 1, 0))
	g.add(5, sl("w2", 0, 0), sl("b2", 0, 0), sl("w3", 1, 0))
	g.add(4, sl("q", 0, 0), sl("k", 0, 0))
	g.add(4, sl("q", 0, 4), sl("k", 0, 4))
	if err := g.validate(); err != nil {
		panic(err)
	}
	g.buildClosures([]string{"w1", "b1", "w2", "b2", "w3", "q", "k"})
	return g
}

func TestPermGraphSynthetic(t *testing.T) {
	g := synthGraph()
	if len(g.closures) != 2 {
		t.Fatalf("closures: %d", len(g.closures))
	}
	mlp, attn := g.byKey["w2"], g.byKey["q"]
	if len(mlp.components) != 1 || len(mlp.components[0]) != 2 {
		t.Errorf("mlp components %v (the two hidden permutations interact through w2)", mlp.components)
	}
	if len(attn.components) != 2 {
		t.Errorf("attention components %v (disjoint head windows do not interact)", attn.components)
	}
	if strings.Join(mlp.keys, ",") != "w1,b1,w2,b2,w3" {
		t.Errorf("keys %v", mlp.keys)
	}
}

// TestRebasinMatchesPermutedCopy: ref is a with random permutations applied; rebasin(a, ref)
// must give ref back exactly, key by key.
func TestRebasinMatchesPermutedCopy(t *testing.T) {
	g := synthGraph()
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 7))
		a := map[string]*ops.Tensor{}
		for k, s := range g.shapes {
			a[k] = randTensor(r, s...)
		}
		pi := map[int][]int{}
		for pid, p := range g.perms {
			pi[pid] = torchRandperm(p.width, rng.NewTorch(seed*10+uint64(pid)))
		}
		ref := map[string]*ops.Tensor{}
		for k, tt := range a {
			ref[k] = &ops.Tensor{Shape: tt.Shape, Data: applyPerms(g.byKey[k], k, tt, pi, false), DType: ops.F64}
		}
		for _, c := range g.closures {
			perm, err := rebasinSolve(g, c, a, ref, 10)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range c.keys {
				got := applyPerms(c, k, a[k], perm, true)
				for i := range got {
					if got[i] != ref[k].Data[i] {
						t.Fatalf("seed %d key %s: element %d: %g, want %g", seed, k, i, got[i], ref[k].Data[i])
					}
				}
			}
		}
	}
}

func TestLapMin(t *testing.T) {
	cost := [][]float64{{4, 1, 3}, {2, 0, 5}, {3, 2, 2}}
	got, err := lapMin(cost)
	if err != nil {
		t.Fatal(err)
	}
	// scipy: linear_sum_assignment(cost) -> col_ind [1, 0, 2], total 5
	if got[0] != 1 || got[1] != 0 || got[2] != 2 {
		t.Errorf("got %v", got)
	}
	// brute force on random 6x6 problems
	r := rand.New(rand.NewPCG(1, 1))
	for range 50 {
		n := 6
		c := make([][]float64, n)
		for i := range c {
			c[i] = make([]float64, n)
			for j := range c[i] {
				c[i][j] = float64(r.IntN(20))
			}
		}
		p, err := lapMin(c)
		if err != nil {
			t.Fatal(err)
		}
		total := 0.0
		for i, j := range p {
			total += c[i][j]
		}
		best := bruteLAP(c)
		if total != best {
			t.Fatalf("lap %v total %g, optimum %g", p, total, best)
		}
	}
	if _, err := lapMin([][]float64{{1, nanF()}, {0, 1}}); err == nil {
		t.Errorf("NaN accepted")
	}
}

func nanF() float64 { z := 0.0; return z / z }

func bruteLAP(c [][]float64) float64 {
	n := len(c)
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	best := 1e300
	var rec func(k int)
	rec = func(k int) {
		if k == n {
			s := 0.0
			for i, j := range p {
				s += c[i][j]
			}
			best = min(best, s)
			return
		}
		for i := k; i < n; i++ {
			p[k], p[i] = p[i], p[k]
			rec(k + 1)
			p[k], p[i] = p[i], p[k]
		}
	}
	rec(0)
	return best
}

func TestTorchRandperm(t *testing.T) {
	for _, n := range []int{1, 2, 10, 64, 1000} {
		p := torchRandperm(n, rng.NewTorch(3))
		q := append([]int(nil), p...)
		sort.Ints(q)
		for i := range q {
			if q[i] != i {
				t.Fatalf("n=%d: not a permutation", n)
			}
		}
		if !equalInts(p, torchRandperm(n, rng.NewTorch(3))) {
			t.Fatalf("not deterministic")
		}
	}
	// first swap: i=0 with z = random() % n
	g := rng.NewTorch(5)
	z := int(g.Uint32() % 10)
	p := torchRandperm(10, rng.NewTorch(5))
	if p[0] != z {
		t.Errorf("p[0] = %d, want %d", p[0], z)
	}
}

func TestSDXLPermGraph(t *testing.T) {
	g, err := sdxlPermGraph()
	if err != nil {
		t.Fatal(err)
	}
	q := "conditioner.embedders.0.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight"
	c := g.byKey[q]
	if c == nil || len(c.perms) != 12 || len(c.keys) != 4 || g.perms[c.perms[0]].width != 64 {
		t.Fatalf("clip_l qk closure: %+v", c)
	}
	in := "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight"
	if c := g.byKey[in]; c == nil || len(c.perms) != 40 || len(c.components) != 40 || g.perms[c.perms[0]].width != 64 {
		t.Fatalf("clip_g attention closure: %+v", c)
	}
	ff := "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.ff.net.2.weight"
	if c := g.byKey[ff]; c == nil || len(c.perms) != 1 || g.perms[c.perms[0]].width != 2560 {
		t.Fatalf("unet ff closure: %+v", c)
	}
	uq := "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn1.to_q.weight"
	if c := g.byKey[uq]; c == nil || len(c.perms) != 64 || g.perms[c.perms[0]].width != 10 {
		t.Fatalf("unet qk closure: %+v", c)
	}
	if g.byKey["first_stage_model.encoder.conv_in.weight"] != nil {
		t.Errorf("VAE key in a permutation")
	}
	// pids follow the config's key order: clip_l layer 0's mlp.fc1 comes before its self_attn
	// keys (the config is sorted), so pid 0 is that MLP permutation, and the q/k heads are 1..12.
	if g.perms[0].slices[0].key != "conditioner.embedders.0.transformer.text_model.encoder.layers.0.mlp.fc1.weight" ||
		c.perms[0] != 1 {
		t.Errorf("pid 0 starts at %s", g.perms[0].slices[0].key)
	}
}

// TestPermMethodsRefuseMiniShapes: the mini models' shapes are not the declared ones.
func TestPermMethodsRefuseMiniShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	q := "conditioner.embedders.0.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight"
	for _, d := range []*ops.Def{rebasinIface, rebasinSDXL, randpermIface, randpermSDXL} {
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		if _, err := d.OutConfig([]string{"sd1-ldm"}); err == nil {
			t.Errorf("%s accepted sd1-ldm", d.Name)
		}
		need, ok := d.MapKeys(q)
		if !ok {
			t.Fatalf("%s: no mapping", d.Name)
		}
		var args []ops.Value
		for range need {
			v := ops.Value{Kind: ops.KindTensorList}
			for range need[0] {
				v.Ts = append(v.Ts, randTensor(r, 12, 12))
			}
			args = append(args, v)
		}
		if len(need) == 2 {
			args = append(args, ops.Int(3))
		} else {
			args = append(args, ops.Int(3))
		}
		c := &ops.Call{Key: q, Numerics: ops.SDMecha, Args: args}
		err := opstest.Run(d, c)
		if err == nil || !strings.Contains(err.Error(), "declares [768, 768]") {
			t.Errorf("%s: want a refusal, got %v", d.Name, err)
		}
		// a key outside every permutation passes through
		ln := "conditioner.embedders.0.transformer.text_model.encoder.layers.0.layer_norm1.weight"
		need, _ = d.MapKeys(ln)
		x := randTensor(r, 12)
		args = nil
		for range need {
			args = append(args, ops.Value{Kind: ops.KindTensorList, Ts: []*ops.Tensor{x}})
		}
		c = &ops.Call{Key: ln, Numerics: ops.SDMecha, Args: args}
		if err := opstest.Run(d, c); err != nil || c.Out.Data[5] != x.Data[5] {
			t.Errorf("%s pass-through: %v", d.Name, err)
		}
	}
}

// TestRandpermKernelFullShape runs randperm on one real-size closure (CLIP-L layer 0 q/k) and
// checks that every head window of q and k is permuted by the same torch.randperm(64) with
// seed + pid.
func TestRandpermKernelFullShape(t *testing.T) {
	g, _ := sdxlPermGraph()
	q := "conditioner.embedders.0.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight"
	need, _ := randpermSDXL.MapKeys(q)
	r := rand.New(rand.NewPCG(2, 2))
	v := ops.Value{Kind: ops.KindTensorList}
	for _, k := range need[0] {
		v.Ts = append(v.Ts, randTensor(r, g.shapes[k]...))
	}
	c := &ops.Call{Key: q, Numerics: ops.SDMecha, Args: []ops.Value{v, ops.Int(3)}}
	if err := opstest.Run(randpermSDXL, c); err != nil {
		t.Fatal(err)
	}
	cl := g.byKey[q]
	for h, pid := range cl.perms {
		p := torchRandperm(64, rng.NewTorch(uint64(3+pid)))
		for j := range 64 {
			for col := range 768 {
				got := c.Out.Data[(h*64+j)*768+col]
				want := v.Ts[0].Data[(h*64+p[j])*768+col]
				if got != want {
					t.Fatalf("head %d row %d: wrong permutation", h, j)
				}
			}
		}
	}
}
