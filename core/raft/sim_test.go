package raft

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/enc"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
)

// A deterministic simulation of a quorum: N members over an in-memory disk that keeps
// synced and unsynced state apart, a network that loses, duplicates, delays, reorders
// and partitions messages, clocks with skew and drift, and crashes that lose unsynced
// data and restart members from what is durable. Checkers run after every step.

var (
	flagSeeds = flag.Int("raft.seeds", 0, "seeds for TestSimulation (default 300, 60 with -short)")
	flagFirst = flag.Uint64("raft.first", 1, "first seed of TestSimulation")
	flagSeed  = flag.Uint64("raft.seed", 0, "run only this seed of TestSimulation, with a trace")
	flagPlant = flag.String("raft.plant", "", "with -raft.seed: replay with this plant on (needs -tags simbugs)")
)

type simConfig struct {
	seed          uint64
	voters        int
	observers     int
	plants        plant.Set
	election      time.Duration
	fetchMaxWait  time.Duration
	fetchTimeout  time.Duration
	fetchBytesMax int
	chunkBytes    int
	lossP, dupP   float64
	longDelayP    float64
	delayMin      int64
	delayMax      int64
	diskMin       int64
	diskMax       int64
	faultEvery    int64   // mean time between faults in the safety phase
	crashOnWriteP float64 // a quorum-state write is cut short by a crash
	crashAfterP   float64 // a crash follows a completed quorum-state write closely
	crashOnVoteP  float64 // a quorum-state write that records a new vote is cut short
	snapshotP     float64
	corruptP      float64 // share of faults that damage a member's quorum files at rest
	proposeEvery  int64
	safety        int64 // length of the safety phase
	// fatalFails: a member stopping on a contradiction fails the run. Off in the plant
	// self-test, so that the checkers, not raft's own assertions, must catch the bug.
	fatalFails bool
	// trustSurvivors turns the recovery rules off (Config.trustSurvivors).
	trustSurvivors bool
	trace          bool
}

// drawConfig picks a configuration from the seed (swarm testing: each seed its own mix).
func drawConfig(seed uint64) simConfig {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	pick := func(xs ...float64) float64 { return xs[rng.IntN(len(xs))] }
	et := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond}[rng.IntN(3)]
	c := simConfig{
		seed:          seed,
		voters:        []int{1, 3, 3, 3, 5, 5}[rng.IntN(6)],
		observers:     rng.IntN(3),
		election:      et,
		fetchMaxWait:  et / time.Duration(2+rng.IntN(4)),
		fetchTimeout:  et * time.Duration(1+rng.IntN(3)),
		fetchBytesMax: []int{100, 300, 1000, 4000}[rng.IntN(4)] + rng.IntN(100),
		chunkBytes:    8 + rng.IntN(200),
		lossP:         pick(0, 0.01, 0.05, 0.15),
		dupP:          pick(0, 0.01, 0.05),
		longDelayP:    pick(0, 0.01, 0.05),
		delayMin:      int64(et) / 200,
		delayMax:      int64(et) / int64(5+rng.IntN(20)),
		diskMin:       int64(et) / 500,
		diskMax:       int64(et) / int64(10+rng.IntN(40)),
		faultEvery:    int64(et) * int64(1+rng.IntN(6)),
		crashOnWriteP: pick(0, 0.02, 0.1, 0.3),
		crashAfterP:   pick(0, 0.02, 0.1, 0.3),
		crashOnVoteP:  pick(0, 0.1, 0.3, 0.6),
		snapshotP:     pick(0, 0.05, 0.2),
		corruptP:      pick(0, 0.1, 0.3),
		proposeEvery:  int64(et) / int64(2+rng.IntN(10)),
		safety:        int64(et) * int64(60+rng.IntN(90)),
		fatalFails:    true,
	}
	return c
}

func (c simConfig) String() string {
	return fmt.Sprintf("seed %d: %d voters + %d observers, election %v, fetch wait %v timeout %v, %dB/fetch, chunk %dB, loss %.2f dup %.2f long %.2f, delay <=%v, disk <=%v, faults every %v, crash on/after write %.2f/%.2f on vote %.2f, snapshot %.2f, corrupt %.2f, plants [%v]",
		c.seed, c.voters, c.observers, c.election, c.fetchMaxWait, c.fetchTimeout, c.fetchBytesMax, c.chunkBytes,
		c.lossP, c.dupP, c.longDelayP, time.Duration(c.delayMax), time.Duration(c.diskMax), time.Duration(c.faultEvery),
		c.crashOnWriteP, c.crashAfterP, c.crashOnVoteP, c.snapshotP, c.corruptP, c.plants)
}

// --- the world ---

type world struct {
	cfg    simConfig
	rng    *rand.Rand
	now    int64
	voters []int32
	nodes  []*simNode
	net    msgHeap
	seq    uint64
	groups []int // partition group by node index
	chk    checker
	// corrupted marks the members whose disk was ever damaged: at most a minority of the
	// voters, as seedlog promises to survive.
	corrupted []bool

	nextFault, nextPropose int64
	healAt, endAt          int64
	healed                 bool
	probe                  probe
	steps                  int
	counts                 map[string]int // notes and faults, for coverage
	trace                  []string       // most recent lines
	err                    error
}

type simNode struct {
	idx       int
	id        int32
	r         *Raft
	q         *disk.Queue
	up        bool
	restartAt int64
	crashAt   int64 // a crash scheduled in the middle of a write, 0 if none
	skew, ppm int64
	d         simDisk
	ops       []schedOp
	opsFree   int64
	img       image
	lives     uint64
	lastQS    []byte // the last quorum state this member asked to write
}

type schedOp struct {
	op disk.Op
	at int64
}

// simDisk is one member's disk: the metadata log as whole batches, the prefix that is
// synced, and files (WriteFile is atomic and durable at completion).
type simDisk struct {
	start   int64
	batches []logBatch
	synced  int
	files   map[string][]byte
	snap    *Snapshot // decoded SnapshotFile
	// Damage at rest: the base offset of the first damaged batch (-1 none), and whether
	// the snapshot file is damaged.
	corruptAt int64
	snapBad   bool
}

func (d *simDisk) writeFile(name string, data []byte) {
	d.files[name] = append([]byte(nil), data...)
	if name == SnapshotFile {
		s, _ := DecodeSnapshotFile(d.files[name])
		d.snap, d.snapBad = &s, false
	}
}

type probe struct {
	leaderAt int64 // first time a leader was seen after healing
	doneAt   int64
	pending  bool
	node     int
	value    string
	n        int
	done     bool
}

type simMsg struct {
	at       int64
	seq      uint64
	from, to int
	payload  []byte
}

type msgHeap []simMsg

func (h msgHeap) Len() int { return len(h) }
func (h msgHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || (h[i].at == h[j].at && h[i].seq < h[j].seq)
}
func (h msgHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *msgHeap) Push(x any)   { *h = append(*h, x.(simMsg)) }
func (h *msgHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func runSim(cfg simConfig) error {
	_, err := runSimCounts(cfg)
	return err
}

func runSimCounts(cfg simConfig) (map[string]int, error) {
	w := newWorld(cfg)
	w.run()
	if w.err == nil {
		// Liveness in hundredths of an election timeout after healing, for the log.
		w.counts["max: leader after heal (ET/100)"] = int((w.probe.leaderAt - w.healAt) * 100 / int64(cfg.election))
		w.counts["max: commit after heal (ET/100)"] = int((w.probe.doneAt - w.healAt) * 100 / int64(cfg.election))
		for _, e := range w.chk.maxEpoch {
			w.counts["max: epoch"] = max(w.counts["max: epoch"], int(e))
		}
	}
	return w.counts, w.err
}

func newWorld(cfg simConfig) *world {
	w := &world{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.seed, 1)), counts: map[string]int{}}
	for i := 0; i < cfg.voters; i++ {
		w.voters = append(w.voters, int32(i+1))
	}
	n := cfg.voters + cfg.observers
	w.groups = make([]int, n)
	w.corrupted = make([]bool, n)
	w.chk = newChecker(w)
	for i := 0; i < n; i++ {
		sn := &simNode{idx: i, id: int32(i + 1), skew: w.rng.Int64N(int64(time.Second)),
			ppm: w.rng.Int64N(201) - 100, d: simDisk{files: map[string][]byte{}, corruptAt: -1}}
		w.nodes = append(w.nodes, sn)
	}
	w.healAt = cfg.safety
	// After healing, a leader must come within 10 election timeouts, a commit within
	// commitTimeouts, and every member must be done recovering by catchUpTimeouts.
	w.endAt = w.healAt + catchUpTimeouts*int64(cfg.election)
	w.nextFault = w.expo(cfg.faultEvery)
	w.nextPropose = w.expo(cfg.proposeEvery)
	for _, sn := range w.nodes {
		w.start(sn)
	}
	return w
}

func (w *world) expo(mean int64) int64 {
	return w.now + 1 + int64(w.rng.ExpFloat64()*float64(mean))
}

func (w *world) logf(format string, args ...any) {
	line := fmt.Sprintf("%9.3fms ", float64(w.now)/1e6) + fmt.Sprintf(format, args...)
	if w.cfg.trace {
		fmt.Println(line)
	}
	if len(w.trace) >= 400 {
		w.trace = w.trace[1:]
	}
	w.trace = append(w.trace, line)
}

// deadline is the node's Deadline, which must equal the one computed from scratch: a
// cached answer left stale by some input would delay or skip a Tick.
func (w *world) deadline(sn *simNode) int64 {
	d := sn.r.Deadline()
	if want := sn.r.nextDeadline(); d != want {
		w.fail("node %d: Deadline %d, computed from its state %d", sn.id, d, want)
	}
	return d
}

func (w *world) fail(format string, args ...any) {
	if w.err != nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	w.err = fmt.Errorf("%s\nat %.3fms: %s\nlast events:\n  %s", w.cfg, float64(w.now)/1e6, msg, strings.Join(w.trace[max(0, len(w.trace)-60):], "\n  "))
}

func (sn *simNode) local(g int64) int64 { return g + sn.skew + g*sn.ppm/1_000_000 }

// global is the earliest world time at or after now when sn's clock reads at least l.
func (sn *simNode) global(l, now int64) int64 {
	if l <= sn.local(now) {
		return now
	}
	if l >= math.MaxInt64/4 {
		return math.MaxInt64
	}
	g := (l - sn.skew) * 1_000_000 / (1_000_000 + sn.ppm)
	for sn.local(g) < l {
		g++
	}
	for g > now && sn.local(g-1) >= l {
		g--
	}
	return max(g, now)
}

func (w *world) raftConfig(sn *simNode) Config {
	sn.q = &disk.Queue{}
	return Config{
		ID:                  sn.id,
		Voters:              w.voters,
		ElectionTimeout:     w.cfg.election,
		FetchMaxWait:        w.cfg.fetchMaxWait,
		FetchTimeout:        w.cfg.fetchTimeout,
		ClockDriftMax:       1e-4, // ppm is within ±100
		FetchBytesMax:       w.cfg.fetchBytesMax,
		SnapshotChunkBytes:  w.cfg.chunkBytes,
		Rand:                rand.New(rand.NewPCG(w.cfg.seed, uint64(sn.id)<<32|sn.lives)),
		Plants:              w.cfg.plants,
		Queue:               sn.q,
		UncommittedBytesMax: 2 << 10,
		trustSurvivors:      w.cfg.trustSurvivors,
	}
}

// start (re)starts a member from what its disk holds.
func (w *world) start(sn *simNode) {
	sn.lives++
	rec := Restored{QuorumState: sn.d.files[QuorumStateFile], QuorumStateCopy: sn.d.files[QuorumStateCopyFile],
		StartOffset: sn.d.start}
	sn.img = image{}
	if b, ok := sn.d.files[SnapshotFile]; ok {
		// As the node does: a snapshot that does not decode is reported lost, and the
		// image starts empty.
		s, err := DecodeSnapshotFile(b)
		var im image
		if err == nil {
			im, err = decodeImage(s.Data)
		}
		if err != nil {
			if !sn.d.snapBad {
				w.fail("node %d: an undamaged snapshot does not decode: %v", sn.id, err)
				return
			}
			rec.SnapshotLost = true
		} else {
			rec.Snapshot, sn.img = &s, im
		}
	}
	for _, b := range sn.d.batches {
		rec.Batches = append(rec.Batches, b.data...)
	}
	r, err := New(w.raftConfig(sn), rec)
	if err != nil {
		w.fail("node %d does not restart: %v", sn.id, err)
		return
	}
	sn.r, sn.up, sn.ops, sn.opsFree, sn.crashAt = r, true, nil, w.now, 0
	sn.lastQS = sn.d.files[QuorumStateCopyFile]
	st := r.Status()
	w.logf("node %d starts (life %d): %+v", sn.id, sn.lives, st)
	if st.QuorumStateLost {
		// Its epoch and high watermark start over from the log.
		w.chk.maxEpoch[sn.idx], w.chk.maxHW[sn.idx] = st.Epoch, st.HW
	}
	w.process(sn)
}

func (w *world) crash(sn *simNode, downFor int64, why string) {
	if !sn.up {
		return
	}
	w.counts["crash "+why]++
	kept := sn.d.synced + w.rng.IntN(len(sn.d.batches)-sn.d.synced+1)
	if kept < len(sn.d.batches) {
		w.counts["crash lost unsynced batches"]++
	}
	w.logf("node %d crashes (%s): keeps %d of %d unsynced batches, %d ops lost", sn.id, why,
		kept-sn.d.synced, len(sn.d.batches)-sn.d.synced, len(sn.ops))
	clear(sn.d.batches[kept:])
	sn.d.batches = sn.d.batches[:kept]
	sn.d.synced = kept
	sn.up, sn.r, sn.ops, sn.crashAt = false, nil, nil, 0
	sn.restartAt = w.now + downFor
}

// --- the event loop ---

func (w *world) run() {
	for w.err == nil && w.now < w.endAt && !(w.probe.done && w.caughtUp()) {
		next := w.nextTime()
		if next < w.now {
			w.fail("time goes backwards: %d", next)
			return
		}
		w.now = next
		w.step()
		if w.steps++; w.steps > 3_000_000 {
			w.fail("no end in sight after %d steps", w.steps)
		}
	}
	if w.err == nil {
		w.chk.logsAgree()
	}
	if w.err == nil && (w.probe.leaderAt == 0 || w.probe.leaderAt > w.healAt+10*int64(w.cfg.election)) {
		w.fail("liveness: no leader within 10 election timeouts of healing")
	}
	if w.err == nil && (!w.probe.done || w.probe.doneAt > w.healAt+commitTimeouts*int64(w.cfg.election)) {
		w.fail("liveness: no proposal committed within %d election timeouts of healing", commitTimeouts)
	}
	for _, sn := range w.nodes {
		if w.err == nil && sn.up && sn.r.Status().Recovering {
			w.fail("liveness: node %d still recovering %d election timeouts after healing: %+v", sn.id, catchUpTimeouts, sn.r.Status())
		}
	}
}

// commitTimeouts bounds, in election timeouts after healing, the time until a proposal
// commits. A majority may first have to fetch what it missed, every round trip through
// an append, a sync and the quorum-state write that acknowledges them.
const commitTimeouts = 20

// catchUpTimeouts bounds, in election timeouts after healing, the time every member has
// to finish recovering. It is generous: a member that lost its log early fetches the
// whole log again, FetchBytesMax (as little as 100 bytes here) per round trip.
const catchUpTimeouts = 200

// caughtUp reports whether every member is up and none is still recovering.
func (w *world) caughtUp() bool {
	for _, sn := range w.nodes {
		if !sn.up || sn.r.Status().Recovering {
			return false
		}
	}
	return true
}

func (w *world) nextTime() int64 {
	t := w.endAt
	if !w.healed {
		t = min(t, w.healAt, w.nextFault, w.nextPropose)
	} else {
		t = min(t, w.now+int64(w.cfg.election)/4) // probe cadence
	}
	if len(w.net) > 0 {
		t = min(t, w.net[0].at)
	}
	for _, sn := range w.nodes {
		if !sn.up {
			t = min(t, sn.restartAt)
			continue
		}
		if len(sn.ops) > 0 {
			t = min(t, sn.ops[0].at)
		}
		if sn.crashAt > 0 {
			t = min(t, sn.crashAt)
		}
		t = min(t, sn.global(w.deadline(sn), w.now))
	}
	return t
}

func (w *world) step() {
	if !w.healed && w.now >= w.healAt {
		w.heal()
	}
	if !w.healed && w.now >= w.nextFault {
		w.fault()
		w.nextFault = w.expo(w.cfg.faultEvery)
	}
	for _, sn := range w.nodes {
		if !sn.up && w.now >= sn.restartAt {
			w.start(sn)
		}
		if sn.up && sn.crashAt > 0 && w.now >= sn.crashAt {
			w.crash(sn, w.rng.Int64N(2*w.cfg.delayMax)+1, "near a write")
		}
	}
	for _, sn := range w.nodes {
		for sn.up && len(sn.ops) > 0 && sn.ops[0].at <= w.now && w.err == nil {
			op := sn.ops[0]
			sn.ops = sn.ops[1:]
			w.apply(sn, op.op)
			sn.r.Done(sn.local(w.now), disk.Done{ID: op.op.ID, Kind: op.op.Kind, Log: op.op.Log})
			w.process(sn)
			if op.op.Kind == disk.WriteFile && op.op.Name == QuorumStateCopyFile && sn.crashAt == 0 && !w.healed &&
				w.rng.Float64() < w.cfg.crashAfterP {
				sn.crashAt = w.now + 1 + w.rng.Int64N(2*w.cfg.delayMax)
			}
		}
	}
	for len(w.net) > 0 && w.net[0].at <= w.now && w.err == nil {
		w.deliver(heap.Pop(&w.net).(simMsg))
	}
	for _, sn := range w.nodes {
		if sn.up && w.err == nil {
			if l := sn.local(w.now); sn.r.Deadline() <= l {
				sn.r.Tick(l)
				w.process(sn)
				if sn.up && sn.r.Deadline() <= l {
					w.fail("node %d: deadline %d does not move past %d after Tick", sn.id, sn.r.Deadline(), l)
				}
			}
		}
	}
	if !w.healed && w.now >= w.nextPropose {
		w.propose()
		w.nextPropose = w.expo(w.cfg.proposeEvery)
	}
	if w.healed {
		w.runProbe()
	}
	w.chk.committedIsSafe()
	if w.steps%256 == 0 {
		w.chk.logsAgree()
	}
}

// heal ends the safety phase: no more faults, every member up and connected.
func (w *world) heal() {
	w.healed = true
	w.cfg.lossP, w.cfg.dupP, w.cfg.longDelayP = 0, 0, 0
	clear(w.groups)
	w.logf("heal")
	for _, sn := range w.nodes {
		sn.crashAt = 0
		if !sn.up {
			sn.restartAt = w.now
		}
	}
}

func (w *world) fault() {
	if w.cfg.corruptP > 0 && w.rng.Float64() < w.cfg.corruptP {
		w.corrupt(w.nodes[w.rng.IntN(len(w.nodes))])
		return
	}
	sn := w.nodes[w.rng.IntN(len(w.nodes))]
	if w.rng.IntN(2) == 0 {
		// Leaders are where the interesting trouble starts.
		for _, l := range w.nodes {
			if l.up && l.r.Status().Role == Leader {
				sn = l
			}
		}
	}
	switch w.rng.IntN(5) {
	case 0, 1:
		w.crash(sn, w.rng.Int64N(4*int64(w.cfg.election))+1, "fault")
	case 2:
		clear(w.groups)
		w.groups[sn.idx] = 1
		w.logf("isolate node %d", sn.id)
	case 3:
		for i := range w.groups {
			w.groups[i] = w.rng.IntN(2)
		}
		w.logf("partition %v", w.groups)
	case 4:
		clear(w.groups)
		w.logf("heal partition")
	}
}

// mayCorrupt says whether damaging sn's disk stays within what seedlog promises to
// survive: the voters ever damaged stay a minority (observers hold no vote and recover
// from the leader like anyone).
func (w *world) mayCorrupt(sn *simNode) bool {
	if sn.idx >= w.cfg.voters || w.corrupted[sn.idx] {
		return true
	}
	n := 0
	for _, c := range w.corrupted[:w.cfg.voters] {
		if c {
			n++
		}
	}
	return n+1 <= (w.cfg.voters-1)/2
}

// corrupt damages one of sn's quorum files at rest, as a decaying disk does: a synced
// batch near the end of the log or anywhere in it, one or both quorum-state copies, or
// the snapshot. A running member does not notice until it restarts, which often follows.
func (w *world) corrupt(sn *simNode) {
	if !w.mayCorrupt(sn) {
		return
	}
	d := &sn.d
	var kinds []string
	if d.synced > 0 {
		kinds = append(kinds, "log tail", "log middle")
	}
	_, ok0 := d.files[QuorumStateFile]
	_, ok1 := d.files[QuorumStateCopyFile]
	if ok0 || ok1 {
		kinds = append(kinds, "quorum-state copy")
	}
	if ok0 && ok1 {
		kinds = append(kinds, "both quorum-state copies")
	}
	if _, ok := d.files[SnapshotFile]; ok {
		kinds = append(kinds, "snapshot")
	}
	if len(kinds) == 0 {
		return
	}
	kind := kinds[w.rng.IntN(len(kinds))]
	switch kind {
	case "log tail", "log middle":
		i := w.rng.IntN(d.synced)
		if kind == "log tail" {
			i = d.synced - 1 - w.rng.IntN(min(3, d.synced))
		}
		d.batches[i].data = w.flip(d.batches[i].data)
		if d.corruptAt < 0 || d.batches[i].base < d.corruptAt {
			d.corruptAt = d.batches[i].base
		}
	case "quorum-state copy":
		name := QuorumStateFile
		if !ok0 || (ok1 && w.rng.IntN(2) == 0) {
			name = QuorumStateCopyFile
		}
		d.files[name] = w.flip(d.files[name])
	case "both quorum-state copies":
		d.files[QuorumStateFile] = w.flip(d.files[QuorumStateFile])
		d.files[QuorumStateCopyFile] = w.flip(d.files[QuorumStateCopyFile])
	case "snapshot":
		d.files[SnapshotFile] = w.flip(d.files[SnapshotFile])
		d.snapBad = true
	}
	w.corrupted[sn.idx] = true
	w.counts["corrupt "+kind]++
	w.logf("node %d: %s damaged at rest", sn.id, kind)
	if sn.up && sn.crashAt == 0 && w.rng.Float64() < 0.7 {
		sn.crashAt = w.now + 1 + w.rng.Int64N(4*w.cfg.delayMax)
	}
}

// flip returns a copy of b with 1 to 8 consecutive bytes changed.
func (w *world) flip(b []byte) []byte {
	b = bytes.Clone(b)
	if len(b) == 0 {
		return b
	}
	off := w.rng.IntN(len(b))
	for i := off; i < min(len(b), off+1+w.rng.IntN(8)); i++ {
		b[i] ^= byte(1 + w.rng.IntN(255))
	}
	return b
}

func (w *world) propose() {
	sn := w.nodes[w.rng.IntN(len(w.nodes))]
	if !sn.up || sn.r.Status().Role != Leader {
		return
	}
	recs := make([][]byte, 1+w.rng.IntN(3))
	for i := range recs {
		w.seq++
		recs[i] = []byte(fmt.Sprintf("v%d-%s", w.seq, strings.Repeat("x", w.rng.IntN(40))))
	}
	if _, err := sn.r.Propose(sn.local(w.now), recs); err != nil && !errors.Is(err, ErrBusy) {
		w.fail("node %d: propose: %v", sn.id, err)
	}
	w.process(sn)
}

// runProbe proposes a marker on the leader after healing and waits for it to commit.
func (w *world) runProbe() {
	if w.probe.pending {
		sn := w.nodes[w.probe.node]
		if sn.up && sn.r.Status().Role == Leader {
			return
		}
		w.probe.pending = false
	}
	for _, sn := range w.nodes {
		if sn.up && sn.r.Status().Role == Leader {
			if w.probe.leaderAt == 0 {
				w.probe.leaderAt = w.now
			}
			w.probe.n++
			v := fmt.Sprintf("probe-%d", w.probe.n)
			if _, err := sn.r.Propose(sn.local(w.now), [][]byte{[]byte(v)}); err == nil {
				w.probe.pending, w.probe.node, w.probe.value = true, sn.idx, v
				w.logf("probe %s on node %d", v, sn.id)
			}
			w.process(sn)
			return
		}
	}
}

func (w *world) send(from *simNode, env Envelope) {
	to := int(env.To) - 1
	if to < 0 || to >= len(w.nodes) {
		w.fail("node %d sends to unknown node %d", from.id, env.To)
		return
	}
	wr := enc.Writer{}
	EncodeMessage(&wr, env.Msg)
	copies := 1
	if w.rng.Float64() < w.cfg.dupP {
		copies = 2
	}
	if w.rng.Float64() < w.cfg.lossP || w.groups[from.idx] != w.groups[to] {
		return
	}
	for i := 0; i < copies; i++ {
		d := w.cfg.delayMin + w.rng.Int64N(w.cfg.delayMax-w.cfg.delayMin)
		if w.rng.Float64() < w.cfg.longDelayP {
			d += w.rng.Int64N(2 * int64(w.cfg.election))
		}
		w.seq++
		heap.Push(&w.net, simMsg{at: w.now + d, seq: w.seq, from: from.idx, to: to, payload: wr.B})
	}
}

func (w *world) deliver(m simMsg) {
	sn := w.nodes[m.to]
	if !sn.up || w.groups[m.from] != w.groups[m.to] {
		return
	}
	msg, err := DecodeMessage(&enc.Reader{B: m.payload})
	if err != nil {
		w.fail("message from %d does not decode: %v", m.from+1, err)
		return
	}
	sn.r.Step(sn.local(w.now), int32(m.from+1), msg)
	w.process(sn)
}

// process drains a member's outputs: disk ops, messages, committed entries, notes.
func (w *world) process(sn *simNode) {
	if !sn.up || w.err != nil {
		return
	}
	rd := sn.r.Ready()
	for _, op := range sn.q.Drain() {
		w.schedule(sn, op)
	}
	for _, note := range rd.Notes {
		w.counts[note.Kind]++
		w.logf("node %d %s: %s", sn.id, note.Kind, note.Text)
	}
	for _, env := range rd.Messages {
		w.send(sn, env)
	}
	if rd.Installed != nil {
		w.chk.installed(sn, *rd.Installed)
	}
	for _, e := range rd.Committed {
		w.chk.committed(sn, e)
	}
	for _, note := range rd.Notes {
		switch note.Kind {
		case "elected":
			w.chk.leaderComplete(sn)
		case "epoch-refused":
			// Every message here is legitimate: the guard's bound is wrong.
			w.fail("node %d: %s", sn.id, note.Text)
			return
		case "candidate":
			w.chk.stood(sn)
		}
	}
	w.chk.status(sn)
	if rd.Fatal != nil {
		if w.cfg.fatalFails {
			w.fail("node %d stopped: %v", sn.id, rd.Fatal)
			return
		}
		w.crash(sn, int64(w.cfg.election), "fatal")
		return
	}
	if w.cfg.snapshotP > 0 && len(rd.Committed) > 0 && w.rng.Float64() < w.cfg.snapshotP {
		w.snapshot(sn)
	}
}

// snapshot writes the member's image durably (as the node does) and tells raft.
func (w *world) snapshot(sn *simNode) {
	st := sn.r.Status()
	if sn.img.next <= st.StartOffset {
		return
	}
	s := Snapshot{EndOffset: sn.img.next, Epoch: sn.img.lastEpoch, Data: sn.img.encode()}
	sn.d.writeFile(SnapshotFile, EncodeSnapshotFile(s))
	sn.r.SnapshotTaken(s)
	w.logf("node %d snapshots at %d", sn.id, s.EndOffset)
	for _, op := range sn.q.Drain() {
		w.schedule(sn, op)
	}
}

func (w *world) schedule(sn *simNode, op disk.Op) {
	lat := w.cfg.diskMin + w.rng.Int64N(w.cfg.diskMax-w.cfg.diskMin)
	at := max(w.now, sn.opsFree) + lat
	sn.opsFree = at
	sn.ops = append(sn.ops, schedOp{op: op, at: at})
	if op.Kind != disk.WriteFile || op.Name != QuorumStateCopyFile || sn.crashAt != 0 || w.healed {
		return
	}
	p := w.cfg.crashOnWriteP
	if w.writesNewVote(sn, op.Data) {
		p = max(p, w.cfg.crashOnVoteP)
	}
	if w.rng.Float64() < p {
		sn.crashAt = w.now + w.rng.Int64N(at-w.now) // before the write completes
	}
}

// writesNewVote reports whether a quorum-state write records a vote the member has not
// written before: the moments when losing the write matters most.
func (w *world) writesNewVote(sn *simNode, data []byte) bool {
	next, _, err := decodeQuorumState(data)
	if err != nil || next.votedFor < 0 {
		return false
	}
	prev, _, err := decodeQuorumState(sn.lastQS)
	sn.lastQS = data
	return err != nil || prev.epoch != next.epoch || prev.votedFor != next.votedFor
}

// apply carries out a completed op on the member's disk.
func (w *world) apply(sn *simNode, op disk.Op) {
	d := &sn.d
	switch op.Kind {
	case disk.Append:
		_, err := record.Split(op.Data, func(h record.Header, b []byte) error {
			if end := d.end(); h.BaseOffset != end {
				return fmt.Errorf("batch at %d appended to a log ending at %d", h.BaseOffset, end)
			}
			d.batches = append(d.batches, logBatch{base: h.BaseOffset, next: h.NextOffset(),
				epoch: h.PartitionLeaderEpoch, data: append([]byte(nil), b...)})
			return nil
		})
		if err != nil {
			w.fail("node %d: append: %v", sn.id, err)
		}
	case disk.Sync:
		d.synced = len(d.batches)
	case disk.Truncate:
		i := 0
		for i < len(d.batches) && d.batches[i].base < op.Offset {
			i++
		}
		d.batches = d.batches[:i]
		d.synced = min(d.synced, i)
		if d.corruptAt >= op.Offset {
			d.corruptAt = -1
		}
	case disk.Reset:
		d.batches, d.synced, d.start, d.corruptAt = nil, 0, op.Offset, -1
	case disk.DeleteBelow:
		i := 0
		for i < len(d.batches) && d.batches[i].next <= op.Offset {
			i++
		}
		d.batches = d.batches[i:]
		d.synced = max(0, d.synced-i)
		d.start = max(d.start, op.Offset)
		if d.corruptAt >= 0 && d.corruptAt < d.start {
			d.corruptAt = -1
		}
	case disk.WriteFile:
		d.writeFile(op.Name, op.Data)
	case disk.RemoveFile:
		delete(d.files, op.Name)
		if op.Name == SnapshotFile {
			d.snap, d.snapBad = nil, false
		}
	default:
		w.fail("node %d: unexpected op %v", sn.id, op)
	}
}

func (d *simDisk) end() int64 {
	if n := len(d.batches); n > 0 {
		return d.batches[n-1].next
	}
	return d.start
}

// --- the image the node keeps: a hash chain over the committed entries ---

type image struct {
	next      int64
	lastEpoch int32
	chain     uint64
}

func (im *image) apply(e Entry) {
	h := fnv.New64a()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], im.chain)
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], uint64(e.Offset))
	h.Write(b[:])
	h.Write(e.Data)
	im.chain = h.Sum64()
	im.next = e.Offset + 1
	im.lastEpoch = e.Epoch
}

// encode pads the image so that snapshots take several chunks.
func (im image) encode() []byte {
	w := enc.Writer{}
	w.I64(im.next)
	w.I32(im.lastEpoch)
	w.U64(im.chain)
	w.Bytes(make([]byte, int(im.chain%300)))
	return w.B
}

func decodeImage(b []byte) (image, error) {
	r := enc.Reader{B: b}
	im := image{next: r.I64(), lastEpoch: r.I32(), chain: r.U64()}
	pad := r.Bytes()
	if err := r.Done(); err != nil || len(pad) != int(im.chain%300) {
		return image{}, fmt.Errorf("bad image (%v)", err)
	}
	return im, nil
}

// --- the checkers ---

type checker struct {
	w        *world
	leaders  map[int32]int32 // epoch -> the one leader it ever had
	entries  map[int64]entrySig
	chains   map[int64]uint64 // offset -> chain after that entry
	maxOff   int64            // largest committed offset seen, -1 none
	maxEpoch []int32          // per node, across restarts
	maxHW    []int64
	// lastStand is when each member last stood for election, on its own clock; 0 never.
	lastStand []int64
}

type entrySig struct {
	epoch   int32
	control bool
	data    string
	// commitEpoch bounds the epoch in which the entry committed: the smallest epoch of
	// a member that delivered it.
	commitEpoch int32
}

func newChecker(w *world) checker {
	n := w.cfg.voters + w.cfg.observers
	return checker{w: w, leaders: map[int32]int32{}, entries: map[int64]entrySig{},
		chains: map[int64]uint64{}, maxOff: -1, maxEpoch: make([]int32, n), maxHW: make([]int64, n),
		lastStand: make([]int64, n)}
}

// stood checks what the epoch guard's bound rests on: a member stands at most once per
// ElectionTimeout or FetchTimeout, whichever is shorter, on its own clock, across
// restarts too.
func (c *checker) stood(sn *simNode) {
	at := sn.local(c.w.now)
	gap := min(c.w.cfg.election, c.w.cfg.fetchTimeout)
	if prev := c.lastStand[sn.idx]; prev != 0 && at-prev < int64(gap) {
		c.w.fail("node %d stands again %v after its last stand, less than %v", sn.id, time.Duration(at-prev), gap)
	}
	c.lastStand[sn.idx] = at
}

func (c *checker) committed(sn *simNode, e Entry) {
	w := c.w
	if e.Offset != sn.img.next {
		w.fail("node %d delivers offset %d, its image is at %d", sn.id, e.Offset, sn.img.next)
		return
	}
	sn.img.apply(e)
	c.w.counts["committed"]++
	st := sn.r.Status()
	epoch := st.Epoch
	if st.QuorumStateLost {
		// Its epoch is only what its log shows, not a bound on the commit epoch.
		epoch = math.MaxInt32
	}
	sig := entrySig{epoch: e.Epoch, control: e.Control, data: string(e.Data), commitEpoch: epoch}
	old, seen := c.entries[e.Offset]
	if !seen {
		c.entries[e.Offset] = sig
		c.chains[e.Offset] = sn.img.chain
		c.maxOff = max(c.maxOff, e.Offset)
	} else if old.epoch != sig.epoch || old.control != sig.control || old.data != sig.data {
		w.fail("committed entry changed: node %d delivers %q@%d at %d, committed before as %q@%d",
			sn.id, e.Data, e.Epoch, e.Offset, old.data, old.epoch)
		return
	} else if epoch < old.commitEpoch {
		old.commitEpoch = epoch
		c.entries[e.Offset] = old
	}
	if ch := c.chains[e.Offset]; ch != sn.img.chain {
		w.fail("node %d's image diverges at %d", sn.id, e.Offset)
	}
	if w.probe.pending && !w.probe.done && string(e.Data) == w.probe.value {
		w.probe.done, w.probe.doneAt = true, w.now
		w.logf("probe %s committed", w.probe.value)
	}
}

func (c *checker) installed(sn *simNode, s Snapshot) {
	im, err := decodeImage(s.Data)
	if err != nil || im.next != s.EndOffset {
		c.w.fail("node %d installed a bad snapshot at %d: %v", sn.id, s.EndOffset, err)
		return
	}
	if ch, ok := c.chains[s.EndOffset-1]; ok && ch != im.chain {
		c.w.fail("node %d installed a snapshot at %d that disagrees with committed entries", sn.id, s.EndOffset)
	}
	sn.img = im
}

func (c *checker) status(sn *simNode) {
	w := c.w
	st := sn.r.Status()
	switch {
	case (st.HW > st.EndOffset && !st.Recovering) || st.DurableOffset > st.EndOffset || st.StartOffset > st.HW:
		w.fail("node %d: offsets out of order: %+v", sn.id, st)
	case st.Recovering && st.Role == Leader:
		w.fail("node %d leads while recovering: %+v", sn.id, st)
	case st.Epoch < c.maxEpoch[sn.idx]:
		w.fail("node %d: epoch went back from %d to %d", sn.id, c.maxEpoch[sn.idx], st.Epoch)
	case st.HW < c.maxHW[sn.idx]:
		w.fail("node %d: HW went back from %d to %d", sn.id, c.maxHW[sn.idx], st.HW)
	}
	c.maxEpoch[sn.idx], c.maxHW[sn.idx] = st.Epoch, st.HW
	if st.Role == Leader {
		if l, ok := c.leaders[st.Epoch]; ok && l != sn.id {
			w.fail("two leaders in epoch %d: %d and %d", st.Epoch, l, sn.id)
		}
		c.leaders[st.Epoch] = sn.id
	}
}

// leaderComplete: a new leader holds every entry committed in an earlier epoch.
func (c *checker) leaderComplete(sn *simNode) {
	st := sn.r.Status()
	es := sn.r.Entries(st.StartOffset, c.maxOff+1)
	have := map[int64]Entry{}
	for _, e := range es {
		have[e.Offset] = e
	}
	for off := st.StartOffset; off <= c.maxOff; off++ {
		sig, ok := c.entries[off]
		if !ok || sig.commitEpoch >= st.Epoch {
			continue
		}
		e, ok := have[off]
		if !ok || e.Epoch != sig.epoch || string(e.Data) != sig.data {
			c.w.fail("leader %d of epoch %d lacks committed entry %d (%q@%d committed by epoch %d); has %q@%d",
				sn.id, st.Epoch, off, sig.data, sig.epoch, sig.commitEpoch, e.Data, e.Epoch)
			return
		}
	}
}

// logsAgree: any two members' logs agree below the smaller high watermark.
func (c *checker) logsAgree() {
	w := c.w
	for i, a := range w.nodes {
		for _, b := range w.nodes[i+1:] {
			if !a.up || !b.up || w.err != nil {
				continue
			}
			sa, sb := a.r.Status(), b.r.Status()
			lo, hi := max(sa.StartOffset, sb.StartOffset), min(sa.HW, sb.HW, sa.EndOffset, sb.EndOffset)
			if lo >= hi {
				continue
			}
			if sameBatches(&a.r.log, &b.r.log, lo, hi) {
				continue
			}
			ea, eb := a.r.Entries(lo, hi), b.r.Entries(lo, hi)
			if len(ea) != len(eb) {
				w.fail("nodes %d and %d hold %d and %d entries in [%d,%d)", a.id, b.id, len(ea), len(eb), lo, hi)
				return
			}
			for k := range ea {
				if ea[k].Offset != eb[k].Offset || ea[k].Epoch != eb[k].Epoch || string(ea[k].Data) != string(eb[k].Data) {
					w.fail("nodes %d and %d disagree at %d below HW %d: %q@%d vs %q@%d", a.id, b.id,
						ea[k].Offset, hi, ea[k].Data, ea[k].Epoch, eb[k].Data, eb[k].Epoch)
					return
				}
			}
		}
	}
}

// sameBatches is the fast path of logsAgree: both logs hold byte-identical batches over
// [lo, hi).
func sameBatches(a, b *memLog, lo, hi int64) bool {
	i, j := a.find(lo), b.find(lo)
	if i < 0 || j < 0 {
		return false
	}
	for ; i < len(a.batches) && j < len(b.batches) && a.batches[i].base < hi; i, j = i+1, j+1 {
		if !bytes.Equal(a.batches[i].data, b.batches[j].data) {
			return false
		}
	}
	return true
}

// logState is where a log ends: what a vote compares.
type logState struct {
	lastEpoch int32
	end       int64
	// epochAt is the epoch of the entry at the last committed offset, -1 when the log
	// does not hold it, -2 when a snapshot covers it.
	epochAt int32
}

func (a logState) atMost(b logState) bool {
	return a.lastEpoch < b.lastEpoch || (a.lastEpoch == b.lastEpoch && a.end <= b.end)
}

// committedIsSafe: no voter that lacks a committed entry could win an election, even
// after crashes. A voter's log can be as long as it is in memory (it asks for votes with
// that) or as short as its durable log (after a crash); a voter grants a vote to any log
// at least as up to date as its own, which after a crash is its durable log. If a
// majority's durable logs are no more up to date than some reachable log lacking the
// newest committed entry, that log could lead and the entry could be lost.
func (c *checker) committedIsSafe() {
	w := c.w
	if c.maxOff < 0 || w.err != nil {
		return
	}
	want := c.entries[c.maxOff].epoch
	voters := w.nodes[:w.cfg.voters]
	// The logs each voter may vote with: its durable log, as it restarts from it now,
	// unless it would restart recovering; and, when that is so, its log in memory while
	// it runs and does not recover yet.
	grants := make([][]logState, len(voters))
	for i, sn := range voters {
		if !c.restartsRecovering(sn) {
			grants[i] = append(grants[i], c.durableState(sn))
		} else if sn.up && !sn.r.Status().Recovering {
			grants[i] = append(grants[i], c.memState(sn))
		}
	}
	for _, sn := range voters {
		var states []logState
		if !c.restartsRecovering(sn) {
			states = append(states, c.durableState(sn))
		}
		if sn.up && !sn.r.Status().Recovering {
			states = append(states, c.memState(sn))
		}
		for _, st := range states {
			if st.epochAt == want || st.epochAt == -2 {
				continue
			}
			n := 0
			for _, g := range grants {
				for _, d := range g {
					if d.atMost(st) {
						n++
						break
					}
				}
			}
			if n > len(voters)/2 {
				w.fail("voter %d could be elected with a log (last epoch %d, end %d) lacking committed entry %d@%d: %d voters' durable logs are no more up to date",
					sn.id, st.lastEpoch, st.end, c.maxOff, want, n)
				return
			}
		}
	}
}

// restartsRecovering reports whether sn would start recovering if it restarted now, by
// the rules New applies to what its disk holds.
func (c *checker) restartsRecovering(sn *simNode) bool {
	d := &sn.d
	if d.snapBad || (d.snap == nil && d.start != 0) {
		return true
	}
	l := loadQuorumState(d.files[QuorumStateFile], d.files[QuorumStateCopyFile])
	st := c.durableState(sn)
	if c.w.cfg.trustSurvivors {
		return !l.lost && (l.qs.recovering || st.end < l.qs.hw)
	}
	switch {
	case l.lost || l.qs.recovering || (l.fresh && (st.end > 0 || d.snap != nil)) || st.lastEpoch > l.qs.epoch:
		return true
	}
	return st.end < l.qs.acked || st.end < l.qs.hw
}

func (c *checker) memState(sn *simNode) logState {
	l := &sn.r.log
	st := logState{lastEpoch: l.lastEpoch(), end: l.end(), epochAt: -1}
	switch {
	case l.start > c.maxOff:
		st.epochAt = -2
	case l.end() > c.maxOff:
		st.epochAt = l.epochBefore(c.maxOff + 1)
	}
	return st
}

// durableState is where sn's log would end after a crash now, as New would restore it:
// the synced batches up to the first damaged one.
func (c *checker) durableState(sn *simNode) logState {
	d := &sn.d
	st := logState{end: d.start, epochAt: -1}
	snap := d.snap
	if snap != nil && snap.EndOffset == d.start {
		st.lastEpoch = snap.Epoch
	}
	synced := d.synced
	if d.corruptAt >= 0 {
		synced = sort.Search(synced, func(i int) bool { return d.batches[i].base >= d.corruptAt })
	}
	if synced > 0 {
		last := d.batches[synced-1]
		st.lastEpoch, st.end = last.epoch, last.next
		i := sort.Search(synced, func(i int) bool { return d.batches[i].next > c.maxOff })
		if i < synced && d.batches[i].base <= c.maxOff {
			st.epochAt = d.batches[i].epoch
		}
	}
	if snap != nil && snap.EndOffset > st.end {
		st = logState{lastEpoch: snap.Epoch, end: snap.EndOffset, epochAt: -1}
	}
	if snap != nil && snap.EndOffset > c.maxOff {
		st.epochAt = -2
	}
	return st
}

// --- the tests ---

func simSeeds() int {
	switch {
	case *flagSeeds > 0:
		return *flagSeeds
	case testing.Short():
		return 60
	}
	return 300
}

func TestSimulation(t *testing.T) {
	if *flagSeed != 0 {
		cfg := drawConfig(*flagSeed)
		cfg.trace = true
		if *flagPlant != "" {
			cfg.plants = plants(t, *flagPlant)
			cfg.fatalFails = false
		}
		if err := runSim(cfg); err != nil {
			t.Fatal(err)
		}
		return
	}
	total := map[string]int{}
	for seed := *flagFirst; seed < *flagFirst+uint64(simSeeds()); seed++ {
		counts, err := runSimCounts(drawConfig(seed))
		if err != nil {
			t.Fatalf("%v\nreplay: go test ./core/raft -run TestSimulation -raft.seed=%d", err, seed)
		}
		for k, v := range counts {
			if strings.HasPrefix(k, "max: ") {
				total[k] = max(total[k], v)
			} else {
				total[k] += v
			}
		}
	}
	keys := make([]string, 0, len(total))
	for k := range total {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%-28s %d", k, total[k])
	}
	// A sweep that never took a path did not test it.
	for _, k := range []string{"elected", "committed", "truncated", "snapshot-installed", "resigned",
		"pre-vote-failed", "fetch-timeout", "stepped-down", "crash near a write", "crash lost unsynced batches",
		"corrupt log tail", "corrupt log middle", "corrupt quorum-state copy", "corrupt both quorum-state copies",
		"corrupt snapshot", "recovering", "recovered", "vote-floor", "repaired"} {
		if total[k] == 0 {
			t.Errorf("no %q in %d seeds", k, simSeeds())
		}
	}
}

// The same seed gives the same run.
func TestSimulationIsDeterministic(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		a, b := newWorld(drawConfig(seed)), newWorld(drawConfig(seed))
		a.run()
		b.run()
		if a.err != nil || b.err != nil {
			t.Fatalf("seed %d: %v / %v", seed, a.err, b.err)
		}
		if strings.Join(a.trace, "\n") != strings.Join(b.trace, "\n") || a.now != b.now || a.steps != b.steps {
			t.Fatalf("seed %d: two runs differ", seed)
		}
	}
}

// Without the recovery rules, damage to a minority of voters loses committed entries or
// elects two leaders in an epoch, and the checkers see it: the corruption runs above
// test something.
func TestCorruptionWithoutRecoveryIsCaught(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		cfg := drawConfig(seed)
		if cfg.voters < 3 {
			continue
		}
		cfg.corruptP = 0.5
		cfg.trustSurvivors = true
		err := runSim(cfg)
		if err == nil {
			continue
		}
		first, _, _ := strings.Cut(err.Error(), "\nlast events")
		if strings.Contains(first, "liveness:") {
			t.Fatalf("seed %d fails liveness, not safety:\n%s", seed, first)
		}
		t.Logf("caught at seed %d:\n%s", seed, first)
		return
	}
	t.Fatal("trusting whatever survives the damage went unnoticed for 300 seeds")
}
