package stdlib

import (
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/mechac/mechac/ops"
	"github.com/mechac/mechac/ops/rng"
	"github.com/mechac/mechac/stdlib/configs"
)

// Re-basin family: sd-mecha 1.1.5 merge_methods/rebasin/ (interface.py, perm_graph.py,
// sdxl_sgm.py). `rebasin(a, ref, iters)` and `randperm(a, seed)` are interfaces whose only
// implementations are rebasin_sdxl_sgm and randperm_sdxl_sgm; mechac registers the four names
// with the same kernels and refuses any config but sdxl-sgm.
//
// The permutation graph is built once from the shapes sdxl-sgm *declares* (not from the file):
// per CLIP-L layer 12 q/k head permutations, 12 v/out head permutations and one MLP permutation;
// per CLIP-G block 20 (q,k) and 20 (v,out) head permutations over the fused in_proj and one MLP;
// per UNet attention 64 (q,k) and 64 (v,out) "head" permutations (sd-mecha's head count 64, so a
// 640-wide projection gets windows of 10 rows), one GEGLU feed-forward permutation (both halves
// of ff.net.0.proj), time_embed and label_emb. Permutation ids (pid) follow the config's key
// order. Permutations sharing a key form a closure: the closure's keys are the output keys of one
// invocation (MapKeys lists them all, the output key first), and a model whose shapes differ
// from the declared ones is refused (sd-mecha fails with IndexError or runs out of memory).

type permSlice struct {
	key          string
	axis, offset int
}

type permutation struct {
	width  int
	slices []permSlice // insertion order (python dict order, tuples expanded)
}

type permApp struct{ pid, axis, offset int }

type permClosure struct {
	id         int
	perms      []int   // sorted
	components [][]int // interaction components, each sorted, sorted by first pid
	keys       []string
	keyApps    map[string][]permApp // sorted by (axis, offset, pid)
}

type permGraph struct {
	perms    []permutation
	shapes   map[string][]int
	closures []*permClosure
	byKey    map[string]*permClosure
}

var sdxlPermGraph = sync.OnceValues(func() (*permGraph, error) {
	cfg, err := configs.Load("sdxl-sgm")
	if err != nil {
		return nil, err
	}
	g := &permGraph{shapes: map[string][]int{}}
	var order []string
	for _, k := range cfg.Keys {
		g.shapes[k.Name] = k.Shape
		order = append(order, k.Name)
	}
	for _, key := range order {
		shape := g.shapes[key]
		heads := 64
		switch {
		case strings.HasPrefix(key, "conditioner.embedders.0"):
			heads = 12
			g.clipLPerms(key, shape, heads)
		case strings.HasPrefix(key, "conditioner.embedders.1"):
			heads = 20
			g.clipGPerms(key, shape, heads)
		case strings.HasPrefix(key, "model.diffusion_model"):
			g.unetPerms(key, shape, heads)
		}
	}
	if err := g.validate(); err != nil {
		return nil, err
	}
	g.buildClosures(order)
	return g, nil
})

func (g *permGraph) add(width int, slices ...permSlice) {
	g.perms = append(g.perms, permutation{width: width, slices: slices})
}

func sl(key string, axis, offset int) permSlice { return permSlice{key, axis, offset} }

func (g *permGraph) clipLPerms(key string, shape []int, heads int) {
	switch {
	case strings.Contains(key, ".q_proj.") && strings.HasSuffix(key, "weight"):
		hw := shape[0] / heads
		q, k := key, strings.Replace(key, ".q_proj.", ".k_proj.", 1)
		qb, kb := strings.Replace(q, ".weight", ".bias", 1), strings.Replace(k, ".weight", ".bias", 1)
		for s := 0; s < shape[0]; s += hw {
			g.add(hw, sl(q, 0, s), sl(qb, 0, s), sl(k, 0, s), sl(kb, 0, s))
		}
	case strings.Contains(key, ".v_proj.") && strings.HasSuffix(key, "weight"):
		hw := shape[0] / heads
		v, o := key, strings.Replace(key, ".v_proj.", ".out_proj.", 1)
		vb := strings.Replace(v, ".weight", ".bias", 1)
		for s := 0; s < shape[0]; s += hw {
			g.add(hw, sl(v, 0, s), sl(vb, 0, s), sl(o, 1, s))
		}
	case strings.Contains(key, ".mlp.fc1") && strings.HasSuffix(key, ".weight"):
		g.ffPerm(key, strings.Replace(key, ".fc1.", ".fc2.", 1), shape[0])
	}
}

func (g *permGraph) ffPerm(fc1, fc2 string, width int) {
	fc1b := strings.Replace(fc1, ".weight", ".bias", 1)
	g.add(width, sl(fc1, 0, 0), sl(fc1b, 0, 0), sl(fc2, 1, 0))
}

func (g *permGraph) clipGPerms(key string, shape []int, heads int) {
	switch {
	case strings.Contains(key, ".in_proj_") && strings.HasSuffix(key, "weight"):
		unfused := shape[0] / 3
		hw := unfused / heads
		in, inb := key, strings.Replace(key, "_weight", "_bias", 1)
		out := strings.Replace(key, ".in_proj_weight", ".out_proj.weight", 1)
		for s := 0; s < unfused; s += hw {
			g.add(hw, sl(in, 0, s), sl(in, 0, s+unfused), sl(inb, 0, s), sl(inb, 0, s+unfused))
			g.add(hw, sl(in, 0, s+2*unfused), sl(inb, 0, s+2*unfused), sl(out, 1, s))
		}
	case strings.Contains(key, ".mlp.c_fc.") && strings.HasSuffix(key, ".weight"):
		g.ffPerm(key, strings.Replace(key, ".c_fc.", ".c_proj.", 1), shape[0])
	}
}

func (g *permGraph) unetPerms(key string, shape []int, heads int) {
	switch {
	case strings.Contains(key, ".to_q.") && strings.HasSuffix(key, "weight"):
		hw := shape[0] / heads
		k := strings.Replace(key, ".to_q.", ".to_k.", 1)
		for s := 0; s < shape[0]; s += hw {
			g.add(hw, sl(key, 0, s), sl(k, 0, s))
		}
	case strings.Contains(key, ".to_v.") && strings.HasSuffix(key, "weight"):
		hw := shape[0] / heads
		o := strings.Replace(key, ".to_v.", ".to_out.0.", 1)
		for s := 0; s < shape[0]; s += hw {
			g.add(hw, sl(key, 0, s), sl(o, 1, s))
		}
	case strings.Contains(key, ".ff.net.2.") && strings.HasSuffix(key, ".weight"):
		w := shape[1]
		fc1 := strings.Replace(key, ".ff.net.2.", ".ff.net.0.proj.", 1)
		fc1b := strings.Replace(fc1, ".weight", ".bias", 1)
		g.add(w, sl(fc1, 0, 0), sl(fc1, 0, w), sl(fc1b, 0, 0), sl(fc1b, 0, w), sl(key, 1, 0))
	case strings.Contains(key, ".time_embed.0.") && strings.HasSuffix(key, ".weight"):
		g.ffPerm(key, strings.Replace(key, ".time_embed.0.", ".time_embed.2.", 1), shape[0])
	case strings.Contains(key, ".label_emb.0.0.") && strings.HasSuffix(key, ".weight"):
		g.ffPerm(key, strings.Replace(key, ".label_emb.0.0.", ".label_emb.0.2.", 1), shape[0])
	}
}

// validate is perm_graph.py _validate_perm_disjoint on the declared shapes.
func (g *permGraph) validate() error {
	for pid, p := range g.perms {
		for _, s := range p.slices {
			shape, ok := g.shapes[s.key]
			if !ok {
				return fmt.Errorf("permutation %d: unknown key %s", pid, s.key)
			}
			if s.offset < 0 || s.offset+p.width > shape[s.axis] {
				return fmt.Errorf("%s: slice [%d:%d] out of bounds for axis %d", s.key, s.offset, s.offset+p.width, s.axis)
			}
		}
	}
	return nil
}

// interact is perm_graph.py _perms_interact: a shared key touched on different axes or on
// overlapping windows.
func (g *permGraph) interact(a, b int) bool {
	p, q := g.perms[a], g.perms[b]
	for _, ps := range p.slices {
		for _, qs := range q.slices {
			if ps.key != qs.key {
				continue
			}
			if ps.axis != qs.axis {
				return true
			}
			if !(ps.offset+p.width <= qs.offset || qs.offset+q.width <= ps.offset) {
				return true
			}
		}
	}
	return false
}

func (g *permGraph) buildClosures(order []string) {
	byKey := map[string][]int{}
	for pid, p := range g.perms {
		seen := map[string]bool{}
		for _, s := range p.slices {
			if !seen[s.key] {
				seen[s.key] = true
				byKey[s.key] = append(byKey[s.key], pid)
			}
		}
	}
	pos := map[string]int{}
	for i, k := range order {
		pos[k] = i
	}
	visited := make([]bool, len(g.perms))
	g.byKey = map[string]*permClosure{}
	for start := range g.perms {
		if visited[start] {
			continue
		}
		visited[start] = true
		queue, members := []int{start}, []int{start}
		keys := map[string]bool{}
		for len(queue) > 0 {
			cur := queue[0]
			queue = queue[1:]
			for _, s := range g.perms[cur].slices {
				keys[s.key] = true
				for _, nxt := range byKey[s.key] {
					if !visited[nxt] {
						visited[nxt] = true
						queue = append(queue, nxt)
						members = append(members, nxt)
					}
				}
			}
		}
		sort.Ints(members)
		c := &permClosure{id: len(g.closures), perms: members, keyApps: map[string][]permApp{}}
		for k := range keys {
			c.keys = append(c.keys, k)
		}
		sort.Slice(c.keys, func(i, j int) bool { return pos[c.keys[i]] < pos[c.keys[j]] })
		for _, pid := range members {
			for _, s := range g.perms[pid].slices {
				c.keyApps[s.key] = append(c.keyApps[s.key], permApp{pid, s.axis, s.offset})
			}
		}
		for _, apps := range c.keyApps {
			sort.Slice(apps, func(i, j int) bool {
				a, b := apps[i], apps[j]
				if a.axis != b.axis {
					return a.axis < b.axis
				}
				if a.offset != b.offset {
					return a.offset < b.offset
				}
				return a.pid < b.pid
			})
		}
		c.components = g.components(members)
		g.closures = append(g.closures, c)
		for _, k := range c.keys {
			g.byKey[k] = c
		}
	}
}

// components partitions pids by interaction (connected components), each sorted, the list
// sorted by first pid.
func (g *permGraph) components(pids []int) [][]int {
	comp := make(map[int]int, len(pids))
	var out [][]int
	for _, p := range pids {
		if _, ok := comp[p]; ok {
			continue
		}
		id := len(out)
		comp[p] = id
		cur := []int{p}
		for q := []int{p}; len(q) > 0; {
			x := q[0]
			q = q[1:]
			for _, y := range pids {
				if _, ok := comp[y]; !ok && g.interact(x, y) {
					comp[y] = id
					cur = append(cur, y)
					q = append(q, y)
				}
			}
		}
		sort.Ints(cur)
		out = append(out, cur)
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// permRequest: the keys read for outKey (outKey first, then its closure's other keys in config
// order) and its closure (nil: a key outside every permutation, returned unchanged).
func permRequest(g *permGraph, outKey string) ([]string, *permClosure) {
	c := g.byKey[outKey]
	if c == nil {
		return []string{outKey}, nil
	}
	read := []string{outKey}
	for _, k := range c.keys {
		if k != outKey {
			read = append(read, k)
		}
	}
	return read, c
}

// window helpers on a row-major tensor: the axis dimension, the product of the dims before
// (outer) and after (inner) it.
func axisDims(shape []int, axis int) (outer, dim, inner int) {
	outer, inner = 1, 1
	for i, d := range shape {
		switch {
		case i < axis:
			outer *= d
		case i > axis:
			inner *= d
		}
	}
	return outer, shape[axis], inner
}

// frontFlat is sd-mecha's _front_flat(_slice_window(t, axis, offset, w)): row r is index
// offset+r along axis, the other dims flattened in order.
func frontFlat(t []float64, shape []int, axis, offset, w int) [][]float64 {
	outer, dim, inner := axisDims(shape, axis)
	rows := make([][]float64, w)
	for r := range w {
		row := make([]float64, 0, outer*inner)
		for o := range outer {
			base := (o*dim + offset + r) * inner
			row = append(row, t[base:base+inner]...)
		}
		rows[r] = row
	}
	return rows
}

// permuteWindow is _apply_window_perm_inplace: window[j] = old window[perm[j]] along axis.
func permuteWindow(t []float64, shape []int, axis, offset int, perm []int) {
	outer, dim, inner := axisDims(shape, axis)
	w := len(perm)
	tmp := make([]float64, w*inner)
	for o := range outer {
		for j, p := range perm {
			src := (o*dim + offset + p) * inner
			copy(tmp[j*inner:(j+1)*inner], t[src:src+inner])
		}
		dst := (o*dim + offset) * inner
		copy(t[dst:dst+w*inner], tmp)
	}
}

func invertPerm(p []int) []int {
	inv := make([]int, len(p))
	for i, x := range p {
		inv[x] = i
	}
	return inv
}

// torchRandperm is torch.randperm(n, generator=g) on CPU (torch 1.13 randperm_cpu): the
// identity, then for i < n-1 swap i with i + random() % (n-i), random() one MT19937 word.
func torchRandperm(n int, g *rng.Torch) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := 0; i < n-1; i++ {
		z := int(uint64(g.Uint32()) % uint64(n-i))
		p[i], p[z+i] = p[z+i], p[i]
	}
	return p
}

// lapMin is scipy 1.10 linear_sum_assignment on a square cost matrix (Crouse's shortest
// augmenting path, rectangular_lsap.cpp, same tie-breaking): col[i] for every row i, minimising
// the total cost.
func lapMin(cost [][]float64) ([]int, error) {
	n := len(cost)
	for _, row := range cost {
		for _, x := range row {
			if math.IsNaN(x) || math.IsInf(x, -1) {
				return nil, fmt.Errorf("linear_sum_assignment: matrix contains invalid numeric entries")
			}
		}
	}
	u := make([]float64, n)
	v := make([]float64, n)
	spc := make([]float64, n)
	path := make([]int, n)
	col4row := make([]int, n)
	row4col := make([]int, n)
	sr := make([]bool, n)
	sc := make([]bool, n)
	remaining := make([]int, n)
	for i := range n {
		path[i], col4row[i], row4col[i] = -1, -1, -1
	}
	for cur := range n {
		minVal := 0.0
		i := cur
		numRem := n
		for it := range n {
			remaining[it] = n - it - 1
		}
		for j := range n {
			sr[j], sc[j], spc[j] = false, false, math.Inf(1)
		}
		sink := -1
		for sink == -1 {
			index := -1
			lowest := math.Inf(1)
			sr[i] = true
			for it := range numRem {
				j := remaining[it]
				r := minVal + cost[i][j] - u[i] - v[j]
				if r < spc[j] {
					path[j] = i
					spc[j] = r
				}
				if spc[j] < lowest || (spc[j] == lowest && row4col[j] == -1) {
					lowest = spc[j]
					index = it
				}
			}
			minVal = lowest
			if minVal == math.Inf(1) {
				return nil, fmt.Errorf("linear_sum_assignment: cost matrix is infeasible")
			}
			j := remaining[index]
			if row4col[j] == -1 {
				sink = j
			} else {
				i = row4col[j]
			}
			sc[j] = true
			numRem--
			remaining[index] = remaining[numRem]
		}
		u[cur] += minVal
		for r := range n {
			if sr[r] && r != cur {
				u[r] += minVal - spc[col4row[r]]
			}
		}
		for j := range n {
			if sc[j] {
				v[j] -= minVal - spc[j]
			}
		}
		for j := sink; ; {
			r := path[j]
			row4col[j] = r
			col4row[r], j = j, col4row[r]
			if r == cur {
				break
			}
		}
	}
	return col4row, nil
}

// solveLAPMax is _solve_lap_max: p with sum_i sim[i][p[i]] maximal (linear_sum_assignment(-sim)).
func solveLAPMax(sim [][]float64) ([]int, error) {
	neg := make([][]float64, len(sim))
	for i, row := range sim {
		neg[i] = make([]float64, len(row))
		for j, x := range row {
			neg[i][j] = -x
		}
	}
	return lapMin(neg)
}

// rebasinSolve is rebasin_sdxl_sgm.__call__ up to the permutations: per interaction component,
// up to max(1, iters) sweeps of one LAP per pid, stopping when a sweep changes nothing.
func rebasinSolve(g *permGraph, c *permClosure, a, ref map[string]*ops.Tensor, iters int) (map[int][]int, error) {
	perm := map[int][]int{}
	for _, pid := range c.perms {
		p := make([]int, g.perms[pid].width)
		for i := range p {
			p[i] = i
		}
		perm[pid] = p
	}
	for _, comp := range c.components {
		in := map[int]bool{}
		for _, pid := range comp {
			in[pid] = true
		}
		for range max(1, iters) {
			changed := false
			for _, pid := range comp {
				w := g.perms[pid].width
				cost := make([][]float64, w)
				for i := range cost {
					cost[i] = make([]float64, w)
				}
				for _, s := range g.perms[pid].slices {
					ta, tr := a[s.key], ref[s.key]
					av := frontFlat(ta.Data, ta.Shape, s.axis, s.offset, w)
					// ref with the component's permutations on the other axes applied
					rd := tr.Data
					cloned := false
					for _, app := range c.keyApps[s.key] {
						if !in[app.pid] || app.axis == s.axis {
							continue
						}
						if !cloned {
							rd = append([]float64(nil), rd...)
							cloned = true
						}
						permuteWindow(rd, tr.Shape, app.axis, app.offset, perm[app.pid])
					}
					bv := frontFlat(rd, tr.Shape, s.axis, s.offset, w)
					for i := range w {
						for j := range w {
							sum := 0.0
							for k, x := range av[i] {
								sum += x * bv[j][k]
							}
							cost[i][j] += sum
						}
					}
				}
				np, err := solveLAPMax(cost)
				if err != nil {
					return nil, err
				}
				if !equalInts(np, perm[pid]) {
					perm[pid] = np
					changed = true
				}
			}
			if !changed {
				break
			}
		}
	}
	return perm, nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// applyPerms permutes t's windows by its closure applications (sorted by axis, offset, pid),
// inverted for rebasin.
func applyPerms(c *permClosure, key string, t *ops.Tensor, perm map[int][]int, inverse bool) []float64 {
	out := append([]float64(nil), t.Data...)
	for _, app := range c.keyApps[key] {
		p := perm[app.pid]
		if inverse {
			p = invertPerm(p)
		}
		permuteWindow(out, t.Shape, app.axis, app.offset, p)
	}
	return out
}

// checkDeclared refuses tensors whose shapes are not the ones sdxl-sgm declares.
func checkDeclared(name string, g *permGraph, read []string, ts []*ops.Tensor) error {
	for i, k := range read {
		if want := g.shapes[k]; !ops.SameShape(ts[i].Shape, want) {
			return fmt.Errorf("%s: %s has shape %s, but sdxl-sgm declares %s: sd-mecha 1.1.5 builds its "+
				"permutation graph from the declared (real SDXL) shapes and cannot run on other shapes "+
				"(upstream fails with IndexError or runs out of memory)", name, k,
				ops.FormatShape(ts[i].Shape), ops.FormatShape(want))
		}
	}
	return nil
}

// rebasinCache keeps the last solution per closure: every key of a closure is one output of the
// same solve, and the VM asks for them one by one.
var rebasinCache struct {
	sync.Mutex
	m map[int]rebasinEntry
}

type rebasinEntry struct {
	fp   uint64
	perm map[int][]int
}

func fingerprint(iters int64, lists ...[]*ops.Tensor) uint64 {
	h := fnv.New64a()
	var b [8]byte
	put := func(x uint64) {
		for i := range b {
			b[i] = byte(x >> (8 * i))
		}
		h.Write(b[:])
	}
	put(uint64(iters))
	for _, ts := range lists {
		for _, t := range ts {
			put(uint64(len(t.Data)))
			for _, x := range t.Data {
				put(math.Float64bits(x))
			}
		}
	}
	return h.Sum64()
}

func permConfig(name string) func([]string) (string, error) {
	return func(in []string) (string, error) {
		for _, c := range in {
			if c != "" && c != "sdxl-sgm" {
				return "", fmt.Errorf("sd-mecha 1.1.5 implements %s for model config sdxl-sgm only, not %s", name, c)
			}
		}
		return "sdxl-sgm", nil
	}
}

func permMapKeys(n int) func(string) ([][]string, bool) {
	return func(out string) ([][]string, bool) {
		g, err := sdxlPermGraph()
		if err != nil {
			return nil, false
		}
		if _, ok := g.shapes[out]; !ok {
			return nil, false
		}
		read, _ := permRequest(g, out)
		lists := make([][]string, n)
		for i := range lists {
			lists[i] = read
		}
		return lists, true
	}
}

func firstShape(args, _, _ []ops.Value) ([]int, error) {
	if len(args) == 0 || len(args[0].Ts) == 0 {
		return nil, fmt.Errorf("want the tensors of one permutation closure")
	}
	return args[0].Ts[0].Shape, nil
}

func tensorList(name string, v ops.Value, n int) ([]*ops.Tensor, error) {
	if v.Kind != ops.KindTensorList || len(v.Ts) != n {
		return nil, fmt.Errorf("%s: want %d tensors, got %s with %d", name, n, v.Kind, len(v.Ts))
	}
	return v.Ts, nil
}

func rebasinDef(name, doc string) *ops.Def {
	iters := ops.Int(10)
	return define(&ops.Def{
		Name: name,
		Params: []ops.Param{symbolIn("a"), symbolIn("ref"),
			{Name: "iters", Type: ops.IntHyper, Default: &iters, Spaces: ops.ParamSpace}},
		Returns:       ops.AnySpace,
		ReturnsSymbol: "S",
		Traits:        ops.WholeTensor,
		Keys:          ops.KeysMapped,
		Formula:       "per permutation closure: P = argmax_P sum <a, P ref> (weight matching, LAP per pid); out = P^-1 a",
		Doc:           doc,
		OutConfig:     permConfig(name),
		MapKeys:       permMapKeys(2),
		OutShape:      firstShape,
		Kernel: func(c *ops.Call) error {
			g, err := sdxlPermGraph()
			if err != nil {
				return err
			}
			read, cl := permRequest(g, c.Key)
			as, err := tensorList(name, c.Args[0], len(read))
			if err != nil {
				return err
			}
			rs, err := tensorList(name, c.Args[1], len(read))
			if err != nil {
				return err
			}
			if cl == nil {
				return copyInto(name, c.Out, ops.TensorValue(as[0]))
			}
			if err := checkDeclared(name, g, read, as); err != nil {
				return err
			}
			if err := checkDeclared(name, g, read, rs); err != nil {
				return err
			}
			it, ok := c.Args[2].Int64()
			if !ok {
				return fmt.Errorf("%s: iters must be an integer, not %s", name, c.Args[2])
			}
			fp := fingerprint(it, as, rs)
			rebasinCache.Lock()
			e, hit := rebasinCache.m[cl.id]
			rebasinCache.Unlock()
			perm := e.perm
			if !hit || e.fp != fp {
				a, ref := map[string]*ops.Tensor{}, map[string]*ops.Tensor{}
				for i, k := range read {
					a[k], ref[k] = as[i], rs[i]
				}
				perm, err = rebasinSolve(g, cl, a, ref, int(max(it, 1)))
				if err != nil {
					return fmt.Errorf("%s: %s: %v", name, c.Key, err)
				}
				rebasinCache.Lock()
				if rebasinCache.m == nil {
					rebasinCache.m = map[int]rebasinEntry{}
				}
				rebasinCache.m[cl.id] = rebasinEntry{fp, perm}
				rebasinCache.Unlock()
			}
			copy(c.Out.Data, applyPerms(cl, c.Key, as[0], perm, true))
			c.Out.DType = as[0].DType
			return nil
		},
	})
}

// randpermSeed is the generator seed of permutation pid: seed + pid (a negative sum as its
// two's complement, as torch's manual_seed reads it). A null seed is sd-mecha's unseeded global
// generator, whose draws depend on the process history; mechac uses torch's default seed + pid.
func randpermSeed(v ops.Value, pid int) (uint64, error) {
	if v.Kind == ops.KindNull {
		return rng.TorchDefaultSeed + uint64(pid), nil
	}
	if v.Kind != ops.KindInt && v.Kind != ops.KindBool {
		return 0, fmt.Errorf("seed must be an integer or null, not %s", v)
	}
	s, _ := v.Int64()
	return uint64(s + int64(pid)), nil
}

func randpermDef(name, doc string) *ops.Def {
	return define(&ops.Def{
		Name: name,
		Params: []ops.Param{symbolIn("a"),
			{Name: "seed", Type: ops.IntHyper, Default: nullDefault(), Spaces: ops.ParamSpace, Optional: true}},
		Returns:       ops.AnySpace,
		ReturnsSymbol: "S",
		Traits:        ops.Random,
		Keys:          ops.KeysMapped,
		Formula:       "per permutation pid: P = torch.randperm(width, manual_seed(seed + pid)); out = P a (windows)",
		Doc:           doc,
		OutConfig:     permConfig(name),
		MapKeys:       permMapKeys(1),
		OutShape:      firstShape,
		Kernel: func(c *ops.Call) error {
			g, err := sdxlPermGraph()
			if err != nil {
				return err
			}
			read, cl := permRequest(g, c.Key)
			as, err := tensorList(name, c.Args[0], len(read))
			if err != nil {
				return err
			}
			if cl == nil {
				return copyInto(name, c.Out, ops.TensorValue(as[0]))
			}
			if err := checkDeclared(name, g, read, as); err != nil {
				return err
			}
			perm := map[int][]int{}
			for _, app := range cl.keyApps[c.Key] {
				if _, ok := perm[app.pid]; ok {
					continue
				}
				s, err := randpermSeed(c.Args[1], app.pid)
				if err != nil {
					return fmt.Errorf("%s: %v", name, err)
				}
				perm[app.pid] = torchRandperm(g.perms[app.pid].width, rng.NewTorch(s))
			}
			copy(c.Out.Data, applyPerms(cl, c.Key, as[0], perm, false))
			c.Out.DType = as[0].DType
			return nil
		},
	})
}

const rebasinDoc = "Git re-basin weight matching of a onto ref over sdxl-sgm's permutation graph (attention " +
	"heads of q/k and v/out, MLP and GEGLU hidden units, time and label embeddings), built from the " +
	"declared real SDXL shapes: per interaction component up to max(1, iters) sweeps, one linear " +
	"assignment (scipy's shortest augmenting path) per permutation maximising sum <a window, ref window> " +
	"with the component's other-axis permutations applied to ref; the output is a with every window " +
	"permuted by the inverse permutation. Keys outside every permutation pass through. Inputs whose " +
	"shapes differ from sdxl-sgm's declared ones are refused."

const randpermDoc = "Permutes a's hidden units along sdxl-sgm's permutation graph (see rebasin) without " +
	"changing the function: permutation pid is torch.randperm(width) from a CPU generator seeded with " +
	"seed + pid (MT19937, random() % (n-i) swaps). Keys outside every permutation pass through. Inputs " +
	"whose shapes differ from sdxl-sgm's declared ones are refused."

var (
	rebasinIface  = rebasinDef("rebasin", "sd-mecha's interface dispatched on the config of a (only implementation: rebasin_sdxl_sgm). "+rebasinDoc)
	rebasinSDXL   = rebasinDef("rebasin_sdxl_sgm", rebasinDoc)
	randpermIface = randpermDef("randperm", "sd-mecha's interface dispatched on the config of a (only implementation: randperm_sdxl_sgm). "+randpermDoc)
	randpermSDXL  = randpermDef("randperm_sdxl_sgm", randpermDoc)
)
