package sim

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/plant"
)

func TestQueueOrdersByTimeThenSequence(t *testing.T) {
	var q queue
	rng := rand.New(rand.NewPCG(1, 2))
	type key struct{ at, seq int64 }
	var pushed []key
	for i := range 5000 {
		e := q.alloc()
		e.at = rng.Int64N(100)
		e.token = uint64(i)
		q.push(e)
		pushed = append(pushed, key{e.at, int64(e.seq)})
		if i%7 == 0 && q.len() > 0 {
			q.release(q.pop()) // interleave pops, as the loop does
			pushed = pushed[:0]
		}
	}
	var prev *event
	var last key
	for q.len() > 0 {
		e := q.pop()
		k := key{e.at, int64(e.seq)}
		if prev != nil && (k.at < last.at || (k.at == last.at && k.seq <= last.seq)) {
			t.Fatalf("popped %v after %v", k, last)
		}
		prev, last = e, k
	}
}

func TestClockLocalAndVirtual(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		c := clock{offset: rng.Int64N(2e9) - 1e9, driftPPM: rng.Int64N(10001) - 5000}
		from := rng.Int64N(int64(time.Hour))
		target := c.local(from) + rng.Int64N(int64(10*time.Second)) - int64(time.Second)
		v := c.virtual(target, from)
		if v < from {
			t.Fatalf("virtual %d before from %d", v, from)
		}
		if c.local(v) < target {
			t.Fatalf("local(%d)=%d below target %d", v, c.local(v), target)
		}
		if v > from && c.local(v-1) >= target {
			t.Fatalf("virtual %d is not the earliest time reaching %d", v, target)
		}
		if c.local(from+1) < c.local(from) {
			t.Fatal("clock went backwards")
		}
	}
}

func TestClockJumpBudget(t *testing.T) {
	window := 4 * time.Second
	c := clock{driftPPM: 2000}
	b := c.jumpBudget(int64(time.Minute), 10_000, window)
	// Half of the spare 8000ppm over the window: 16ms.
	if b != 16*time.Millisecond {
		t.Fatalf("budget %v, want 16ms", b)
	}
	c.jump(int64(time.Minute), b)
	if c.jumpBudget(int64(time.Minute)+int64(window)-1, 10_000, window) != 0 {
		t.Fatal("a second jump within one window was allowed")
	}
	if c.jumpBudget(int64(time.Minute)+int64(window), 10_000, window) == 0 {
		t.Fatal("no jump allowed a window later")
	}
	full := clock{driftPPM: 10_000}
	if full.jumpBudget(0, 10_000, window) != 0 {
		t.Fatal("a clock at the drift limit may not jump")
	}
}

func TestStreamsAreIndependent(t *testing.T) {
	a := Stream(7, streamNet, 0).Uint64()
	if a != Stream(7, streamNet, 0).Uint64() {
		t.Fatal("a stream is not reproducible")
	}
	for _, other := range []uint64{Stream(8, streamNet, 0).Uint64(), Stream(7, streamDisk, 0).Uint64(), Stream(7, streamNet, 1).Uint64()} {
		if other == a {
			t.Fatal("two streams start alike")
		}
	}
	if coreSeed(7, 1, 0) == coreSeed(7, 1, 1) || coreSeed(7, 1, 0) == coreSeed(7, 2, 0) {
		t.Fatal("core seeds repeat across incarnations or nodes")
	}
}

func TestDrawnConfigsAreValidAndVaried(t *testing.T) {
	sizes, voters, separate := map[int]bool{}, map[int]bool{}, 0
	for seed := uint64(0); seed < 2000; seed++ {
		c := Draw(seed, plant.Set{})
		if err := c.validate(); err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, c.String())
		}
		if c.String() != Draw(seed, plant.Set{}).String() {
			t.Fatalf("seed %d draws two configurations", seed)
		}
		for _, n := range c.Nodes {
			if abs64(n.DriftPPM) >= int64(c.Timing.ClockDriftMax*ppmScale) {
				t.Fatalf("seed %d: node %d drifts %dppm", seed, n.ID, n.DriftPPM)
			}
		}
		sizes[len(c.Nodes)] = true
		voters[len(c.Voters())] = true
		if c.Separate {
			separate++
		}
	}
	for n := 1; n <= 5; n++ {
		if !sizes[n] {
			t.Errorf("no cluster of %d nodes drawn", n)
		}
	}
	for _, v := range []int{1, 3, 5} {
		if !voters[v] {
			t.Errorf("no quorum of %d voters drawn", v)
		}
	}
	if separate == 0 {
		t.Error("no seed separated controllers from brokers")
	}
}

func TestConfigStringShowsTheDraw(t *testing.T) {
	c := Draw(42, plant.Set{})
	s := c.String()
	for _, want := range []string{"seed 42\n", "cluster:", "timing:", "clocks:", "network:", "faults:", "workload:", "phases:", "plants: none"} {
		if !strings.Contains(s, want) {
			t.Errorf("config block lacks %q:\n%s", want, s)
		}
	}
}

func TestCoverageMissing(t *testing.T) {
	c := Coverage{}
	c.Inc("fault:crash")
	c.Add("fault:pause", 0)
	got := c.Missing([]string{"fault:crash", "fault:pause", "fault:clog"})
	if !slices.Equal(got, []string{"fault:pause", "fault:clog"}) {
		t.Fatalf("missing %v", got)
	}
	o := Coverage{"fault:clog": 2}
	c.Merge(o)
	if c["fault:clog"] != 2 || !strings.Contains(c.String(), "fault:clog=2") {
		t.Fatalf("merge: %v", c)
	}
}

func TestPauseBufferIsBounded(t *testing.T) {
	n := &simNode{w: &World{cov: Coverage{}}, paused: true}
	for range pauseBufferMax + 10 {
		n.deliver(input{kind: inPeer, from: 2})
	}
	n.deliver(input{kind: inDones})
	n.deliver(input{kind: inTick})
	if len(n.pauseBuf) != pauseBufferMax+1 {
		t.Fatalf("%d inputs buffered, want the bound %d plus the disk completion", len(n.pauseBuf), pauseBufferMax)
	}
	if n.pauseBuf[pauseBufferMax].kind != inDones || !n.tickPending {
		t.Fatal("a disk completion was dropped or the tick was not remembered")
	}
	if n.w.cov["shell:pause-buffer-drop"] != 10 {
		t.Fatalf("%d drops counted, want 10", n.w.cov["shell:pause-buffer-drop"])
	}
}

func TestCorruptionBudget(t *testing.T) {
	mk := func(voters, observers int) (*faultSchedule, []*simNode) {
		w := &World{}
		var nodes []*simNode
		for i := 1; i <= voters+observers; i++ {
			spec := NodeSpec{ID: int32(i), Voter: i <= voters, Broker: true}
			w.cfg.Nodes = append(w.cfg.Nodes, spec)
			nodes = append(nodes, &simNode{spec: spec})
		}
		return &faultSchedule{w: w, corrupted: map[int32]bool{}}, nodes
	}
	f, nodes := mk(3, 1)
	if !f.mayCorrupt(nodes[0]) {
		t.Fatal("one voter of three may be corrupted")
	}
	f.corrupted[1] = true
	if f.mayCorrupt(nodes[1]) {
		t.Fatal("a second voter of three was allowed: a majority of intact voters is the promise")
	}
	if !f.mayCorrupt(nodes[0]) || !f.mayCorrupt(nodes[3]) {
		t.Fatal("the corrupted voter or an observer was refused")
	}
	// A controller-only voter and two brokers: one broker must stay intact.
	f, nodes = mk(1, 2)
	f.w.cfg.Nodes[0].Broker, nodes[0].spec.Broker = false, false
	if !f.mayCorrupt(nodes[1]) {
		t.Fatal("one broker of two may be corrupted")
	}
	f.corrupted[2] = true
	if f.mayCorrupt(nodes[2]) {
		t.Fatal("the last intact broker was allowed")
	}
	f, nodes = mk(1, 0)
	if f.mayCorrupt(nodes[0]) {
		t.Fatal("a single voter may never be corrupted")
	}
	f, nodes = mk(5, 0)
	f.corrupted[1], f.corrupted[2] = true, true
	if f.mayCorrupt(nodes[2]) {
		t.Fatal("a third voter of five was allowed")
	}
}
