package partition

import (
	"container/heap"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
)

// This file is a randomized, deterministic cluster of replicas of one partition: a
// memDisk per node whose Ops take time and whose unsynced batches a crash may lose, a
// lossy, duplicating, reordering network, a fake controller that fences crashed brokers,
// elects leaders from the ISR and commits AlterPartition, producers (acks=all and acks=1,
// idempotent or not) and consumers. Checkers run during and after the run.

type simConfig struct {
	nodes      int
	minISR     int32
	async      bool
	loss, dup  float64
	crashEvery time.Duration // mean time between crashes
	moveEvery  time.Duration // mean time between leader moves
	cutEvery   time.Duration // mean time between network partitions
	producers  int
	consumers  int
	safety     time.Duration // the faulty phase
	heal       time.Duration // bound on convergence once faults stop
	deletes    bool          // DeleteRecords now and then
	powerLoss  bool          // every broker loses power at once, once
	plants     plant.Set
	// txnProducers and rcConsumers are transactional producers and read_committed
	// consumers (txn_sim_test.go); none unless a test asks.
	txnProducers, rcConsumers int
}

func drawConfig(rng *rand.Rand) simConfig {
	c := simConfig{
		nodes:      3 + rng.IntN(3),
		loss:       []float64{0, 0.01, 0.05, 0.2}[rng.IntN(4)],
		dup:        []float64{0, 0.02, 0.1}[rng.IntN(3)],
		crashEvery: time.Duration(60+rng.IntN(700)) * time.Millisecond,
		moveEvery:  time.Duration(40+rng.IntN(560)) * time.Millisecond,
		cutEvery:   time.Duration(50+rng.IntN(950)) * time.Millisecond,
		producers:  2 + rng.IntN(3),
		consumers:  1 + rng.IntN(2),
		safety:     600 * time.Millisecond,
		heal:       20 * time.Second,
		deletes:    rng.IntN(3) == 0,
	}
	c.minISR = int32(1 + rng.IntN(c.nodes-2))
	if rng.IntN(6) == 0 {
		c.safety = 2 * time.Second
	}
	return c
}

func (c simConfig) String() string {
	return fmt.Sprintf("nodes=%d minISR=%d async=%v loss=%.2f dup=%.2f crash=%v move=%v cut=%v producers=%d consumers=%d deletes=%v powerloss=%v",
		c.nodes, c.minISR, c.async, c.loss, c.dup, c.crashEvery, c.moveEvery, c.cutEvery, c.producers, c.consumers, c.deletes, c.powerLoss)
}

// ---- events ----

type event struct {
	at  int64
	seq uint64
	fn  func()
}

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// ---- world ----

type world struct {
	cfg      simConfig
	rng      *rand.Rand
	now      int64
	start    int64
	seq      uint64
	events   eventHeap
	nodes    []*snode // index id-1
	ctrl     simController
	prods    []*sproducer
	cons     []*sconsumer
	failures []string
	healing  bool
	steps    int

	ackFloor int64 // max end offset of an acks=all batch acknowledged so far
	// deletedBelow is the highest low watermark DeleteRecords acknowledged: no leader
	// starts its log below it after the answer.
	deletedBelow int64
	acked        []ackRecord      // acks=all acknowledgements
	observed     map[int64]string // offset -> value, as consumers saw it
	leaderHW     map[[2]int64]int64
	fifo         map[[2]int64]int64 // (client, node) -> last arrival, for ordered connections
	nextPID      int64
	stats        simStats
	trace        []string // kept only when tracing
	tracing      bool
	txn          *txnWorld // nil without transactional clients
}

func (w *world) tracef(format string, args ...any) {
	if w.tracing {
		w.trace = append(w.trace, fmt.Sprintf("%10.6f ", float64(w.now-w.start)/1e9)+fmt.Sprintf(format, args...))
	}
}

type simStats struct {
	crashes, moves, cuts, acks, truncations, resets, shrinks, expands int
}

type ackRecord struct {
	values []string
	base   int64
}

type snode struct {
	id       int32
	alive    bool
	inc      int
	d        *memDisk
	q        *disk.Queue
	r        *Replica
	diskFree int64 // when the disk finishes the Ops already scheduled
	tickAt   int64
	cutUntil int64
}

func (w *world) failf(format string, args ...any) {
	if len(w.failures) < 20 {
		w.failures = append(w.failures, fmt.Sprintf("t=%v: ", time.Duration(w.now-w.start))+fmt.Sprintf(format, args...))
	}
}

// deadline is the node's Deadline, which must equal the one computed from scratch: a
// cached answer left stale by some input would delay or skip a Tick.
func (w *world) deadline(n *snode) int64 {
	d := n.r.Deadline()
	if want := n.r.nextDeadline(); d != want {
		w.failf("node %d: Deadline %d, computed from its state %d", n.id, d, want)
	}
	return d
}

func (w *world) at(t int64, fn func()) {
	w.seq++
	heap.Push(&w.events, event{at: max(t, w.now), seq: w.seq, fn: fn})
}

func (w *world) after(d int64, fn func()) { w.at(w.now+d, fn) }

func (w *world) dur(lo, hi time.Duration) int64 {
	return int64(lo) + w.rng.Int64N(int64(hi-lo)+1)
}

func (w *world) node(id int32) *snode { return w.nodes[id-1] }

// runSim runs one seeded cluster and returns what the checkers found.
func runSim(seed uint64, plants plant.Set, tweak func(*simConfig)) (failures []string, cfg simConfig, stats simStats) {
	w := runWorld(seed, plants, tweak, false)
	return w.failures, w.cfg, w.stats
}

func runWorld(seed uint64, plants plant.Set, tweak func(*simConfig), tracing bool) *world {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	cfg := drawConfig(rng)
	cfg.async = false
	cfg.plants = plants
	if tweak != nil {
		tweak(&cfg)
	}
	w := &world{cfg: cfg, rng: rng, now: int64(1000 * time.Hour), observed: map[int64]string{},
		leaderHW: map[[2]int64]int64{}, fifo: map[[2]int64]int64{}, nextPID: 1000, tracing: tracing}
	w.start = w.now
	w.ctrl.init(w)
	for i := 1; i <= cfg.nodes; i++ {
		n := &snode{id: int32(i), d: newMemDisk()}
		w.nodes = append(w.nodes, n)
		w.boot(n)
	}
	w.ctrl.publish()
	for i := range cfg.producers {
		w.addProducer(i)
	}
	for i := range cfg.consumers {
		w.addConsumer(i)
	}
	if cfg.txnProducers+cfg.rcConsumers > 0 {
		w.addTxnClients()
	}
	w.scheduleFaults()
	w.at(w.start+int64(cfg.safety), w.beginHeal)
	end := w.start + int64(cfg.safety+cfg.heal)
	for len(w.events) > 0 && len(w.failures) == 0 {
		e := heap.Pop(&w.events).(event)
		if e.at > end {
			break
		}
		w.now = e.at
		e.fn()
		w.steps++
		if w.steps%64 == 0 {
			w.checkAgreement()
		}
		if w.healing && w.steps%256 == 0 && w.converged() {
			break
		}
	}
	if len(w.failures) == 0 {
		if !w.converged() {
			w.failf("no convergence within %v of healing: %s", cfg.heal, w.describe())
		} else {
			w.finalChecks()
		}
	}
	return w
}

// ---- nodes ----

func (w *world) boot(n *snode) {
	n.alive = true
	n.inc++
	n.q = &disk.Queue{}
	n.diskFree = w.now
	c := testConfig()
	c.NodeID, c.Queue, c.Plants, c.FlushAsync = n.id, n.q, w.cfg.plants, w.cfg.async
	c.SnapshotInterval = 40 * time.Millisecond
	c.SnapshotBytesMin = 512 // a few batches: some ticks skip their snapshot, most write one
	c.TailBatchesMax = 64
	c.ProducersMax = 64
	c.FollowerFetchBytesMax = 4096
	c.ReplayBytesMax = 2048
	c.LeaseValid = func(int64) bool {
		return n.alive && w.ctrl.st.Leader == n.id && n.r != nil && w.ctrl.st.LeaderEpoch == n.r.epoch
	}
	st, files := n.d.recovered(disk.PartitionLog("t", 0))
	w.tracef("n%d boot %+v", n.id, st)
	n.r = New(c, st, files, w.now)
	n.tickAt = 0
	w.pump(n)
}

func (w *world) crash(n *snode) {
	if !n.alive {
		return
	}
	w.stats.crashes++
	w.tracef("n%d crash", n.id)
	n.alive = false
	n.r = nil
	n.d.crash(w.rng)
	inc := n.inc
	w.after(w.dur(20*time.Millisecond, 60*time.Millisecond), func() {
		if n.inc == inc && !n.alive {
			w.boot(n)
			w.ctrl.registered(n.id)
		}
	})
}

// pump collects a node's outputs after any input: schedules its Ops, sends its messages
// and AlterPartition requests, and arms its next tick.
func (w *world) pump(n *snode) {
	if !n.alive {
		return
	}
	inc := n.inc
	for _, op := range n.q.Drain() {
		lat := w.opLatency(op)
		n.diskFree = max(n.diskFree, w.now) + lat
		op := op
		w.at(n.diskFree, func() {
			if n.inc != inc || !n.alive {
				return
			}
			d := n.d.exec(op)
			n.r.Done(w.now, d)
			w.pump(n)
		})
	}
	rd := n.r.Ready()
	for _, e := range rd.Messages {
		w.sendPeer(n.id, e)
	}
	if rd.AlterISR != nil {
		w.ctrl.alter(n, *rd.AlterISR)
	}
	for _, note := range rd.Notes {
		w.onNote(n, note)
	}
	if rd.Fatal != nil {
		w.failf("node %d fatal: %v", n.id, rd.Fatal)
	}
	w.checkNode(n)
	w.checkEarlyTick(n)
	if d := w.deadline(n); d != NoDeadline && (n.tickAt <= w.now || d < n.tickAt) {
		d = max(d, w.now+1)
		n.tickAt = d
		w.at(d, func() {
			if n.inc != inc || !n.alive || n.tickAt != d {
				return
			}
			n.tickAt = 0
			n.r.Tick(w.now)
			w.pump(n)
		})
	}
}

func (w *world) opLatency(op disk.Op) int64 {
	switch op.Kind {
	case disk.Append:
		return w.dur(10*time.Microsecond, 200*time.Microsecond)
	case disk.Sync:
		return w.dur(200*time.Microsecond, 3*time.Millisecond)
	case disk.Read, disk.FindTime, disk.FindMaxTime:
		return w.dur(20*time.Microsecond, 300*time.Microsecond)
	}
	return w.dur(100*time.Microsecond, 1*time.Millisecond)
}

func (w *world) onNote(n *snode, note Note) {
	w.tracef("n%d note %s", n.id, note)
	switch note.Kind {
	case "truncate":
		w.stats.truncations++
	case "reset":
		w.stats.resets++
	case "isr-change":
		if strings.Contains(note.Text, "shrink true") {
			w.stats.shrinks++
		}
		if strings.Contains(note.Text, "expand true") {
			w.stats.expands++
		}
	case "truncate-below-hw":
		if !w.cfg.async {
			w.failf("node %d: %s", n.id, note.Text)
		}
	}
}

// sendPeer carries a message through the codec over the faulty network.
func (w *world) sendPeer(from int32, e Envelope) {
	payload := Encode(e.Msg)
	copies := 1
	if w.rng.Float64() < w.cfg.dup {
		copies = 2
	}
	for range copies {
		if w.rng.Float64() < w.cfg.loss {
			continue
		}
		w.after(w.dur(100*time.Microsecond, 2*time.Millisecond), func() {
			src, dst := w.node(from), w.node(e.To)
			if !dst.alive || w.now < dst.cutUntil || w.now < src.cutUntil {
				return
			}
			m, err := Decode(payload)
			if err != nil {
				w.failf("decode: %v", err)
				return
			}
			dst.r.Step(w.now, from, m)
			w.pump(dst)
		})
	}
}

// ---- faults ----

func (w *world) scheduleFaults() {
	var crashLoop, moveLoop, cutLoop func()
	crashLoop = func() {
		if w.healing {
			return
		}
		n := w.nodes[w.rng.IntN(len(w.nodes))]
		if w.ctrl.st.Leader > 0 && w.rng.IntN(2) == 0 {
			n = w.node(w.ctrl.st.Leader)
		}
		w.crash(n)
		w.after(w.dur(w.cfg.crashEvery/2, w.cfg.crashEvery*3/2), crashLoop)
	}
	moveLoop = func() {
		if w.healing {
			return
		}
		w.ctrl.move()
		w.after(w.dur(w.cfg.moveEvery/2, w.cfg.moveEvery*3/2), moveLoop)
	}
	cutLoop = func() {
		if w.healing {
			return
		}
		w.stats.cuts++
		n := w.nodes[w.rng.IntN(len(w.nodes))]
		n.cutUntil = w.now + w.dur(20*time.Millisecond, 150*time.Millisecond)
		w.after(w.dur(w.cfg.cutEvery/2, w.cfg.cutEvery*3/2), cutLoop)
	}
	w.after(w.dur(w.cfg.crashEvery/2, w.cfg.crashEvery*3/2), crashLoop)
	w.after(w.dur(w.cfg.moveEvery/2, w.cfg.moveEvery*3/2), moveLoop)
	w.after(w.dur(w.cfg.cutEvery/2, w.cfg.cutEvery*3/2), cutLoop)
	if w.cfg.deletes {
		var deleteLoop func()
		deleteLoop = func() {
			if w.healing {
				return
			}
			if l := w.ctrl.st.Leader; l > 0 && w.node(l).alive {
				n := w.node(l)
				if hw := n.r.hw; hw > 0 {
					off := hw - w.rng.Int64N(min(hw, 20)+1)
					n.r.DeleteRecords(w.now, off, time.Second, func(res DeleteResult) {
						w.tracef("n%d delete records below %d: %+v", l, off, res)
						if res.Err == CodeNone && res.LowWatermark < off {
							w.failf("DeleteRecords(%d) answered low watermark %d", off, res.LowWatermark)
						}
						if res.Err == CodeNone {
							w.deletedBelow = max(w.deletedBelow, res.LowWatermark)
						}
					})
					w.pump(n)
				}
			}
			w.after(w.dur(50*time.Millisecond, 300*time.Millisecond), deleteLoop)
		}
		w.after(w.dur(50*time.Millisecond, 300*time.Millisecond), deleteLoop)
	}
	if w.cfg.powerLoss {
		w.after(w.dur(w.cfg.safety/4, w.cfg.safety*3/4), func() {
			w.tracef("power loss")
			for _, n := range w.nodes {
				w.crash(n)
			}
		})
	}
}

func (w *world) beginHeal() {
	w.healing = true
	w.cfg.loss, w.cfg.dup = 0, 0
	for _, n := range w.nodes {
		n.cutUntil = 0
	}
}

// ---- controller ----

// simController plays the active controller for one partition: it fences brokers that
// crashed (after a detection delay, or at once when they register again), elects
// leaders only from the ISR, and commits AlterPartition by compare-and-set.
type simController struct {
	w      *world
	st     State
	fenced map[int32]bool
}

func (c *simController) init(w *world) {
	c.w = w
	ids := make([]int32, w.cfg.nodes)
	for i := range ids {
		ids[i] = int32(i + 1)
	}
	c.st = State{Replicas: ids, ISR: slices.Clone(ids), Leader: ids[w.rng.IntN(len(ids))], LeaderEpoch: 1, PartitionEpoch: 1, MinISR: w.cfg.minISR}
	c.fenced = map[int32]bool{}
}

// publish sends the metadata to every broker, each after its own delay.
func (c *simController) publish() {
	w := c.w
	st := c.st.clone()
	w.tracef("ctrl publish leader %d epoch %d/%d isr %v fenced %v", st.Leader, st.LeaderEpoch, st.PartitionEpoch, st.ISR, c.fenced)
	for _, n := range w.nodes {
		n := n
		w.after(w.dur(50*time.Microsecond, 3*time.Millisecond), func() {
			if n.alive {
				n.r.Update(w.now, st)
				w.pump(n)
			}
		})
	}
}

func (c *simController) eligible(exclude int32) []int32 {
	var out []int32
	for _, id := range c.st.ISR {
		if id != exclude && !c.fenced[id] {
			out = append(out, id)
		}
	}
	return out
}

func (c *simController) setLeader(id int32) {
	c.st.Leader = id
	c.st.LeaderEpoch++
	c.st.PartitionEpoch++
	c.publish()
}

// fence handles a broker the controller considers gone: it loses its leadership and its
// ISR membership where others remain (KIP-841).
func (c *simController) fence(id int32) {
	if c.fenced[id] {
		return
	}
	c.fenced[id] = true
	changed := false
	if len(c.st.ISR) > 1 && slices.Contains(c.st.ISR, id) {
		c.st.ISR = slices.DeleteFunc(slices.Clone(c.st.ISR), func(x int32) bool { return x == id })
		changed = true
	}
	if c.st.Leader == id {
		next := int32(-1)
		if el := c.eligible(id); len(el) > 0 {
			next = el[c.w.rng.IntN(len(el))]
		}
		c.setLeader(next)
		return
	}
	if changed {
		c.st.PartitionEpoch++
		c.publish()
	}
}

func (c *simController) unfence(id int32) {
	if !c.fenced[id] {
		return
	}
	c.fenced[id] = false
	if c.st.Leader == -1 && slices.Contains(c.st.ISR, id) {
		c.setLeader(id)
	}
}

// registered is a broker starting again: a new incarnation starts fenced, and is
// unfenced once it has caught up with metadata (here: after a delay).
func (c *simController) registered(id int32) {
	w := c.w
	c.fence(id)
	w.after(w.dur(5*time.Millisecond, 30*time.Millisecond), func() {
		if w.node(id).alive {
			c.unfence(id)
			n := w.node(id)
			n.r.Update(w.now, c.st.clone())
			w.pump(n)
		}
	})
}

func (c *simController) move() {
	if c.st.Leader < 0 {
		return
	}
	if el := c.eligible(c.st.Leader); len(el) > 0 {
		c.w.stats.moves++
		c.setLeader(el[c.w.rng.IntN(len(el))])
	}
}

// alter carries an AlterPartition request to the controller and its answer back, either
// of which the network may lose (the node then reports a timeout).
func (c *simController) alter(n *snode, req AlterRequest) {
	w := c.w
	inc := n.inc
	reply := func(res AlterResult) {
		if n.inc == inc && n.alive {
			n.r.AlterPartitionResult(w.now, res)
			w.pump(n)
		}
	}
	if w.rng.Float64() < w.cfg.loss*4 {
		w.after(int64(50*time.Millisecond), func() { reply(AlterResult{RequestID: req.RequestID, Err: CodeRequestTimedOut}) })
		return
	}
	w.after(w.dur(100*time.Microsecond, 2*time.Millisecond), func() {
		res := AlterResult{RequestID: req.RequestID, LeaderEpoch: c.st.LeaderEpoch, PartitionEpoch: c.st.PartitionEpoch}
		switch {
		case req.LeaderEpoch != c.st.LeaderEpoch:
			res.Err = CodeFencedLeaderEpoch
		case req.PartitionEpoch != c.st.PartitionEpoch:
			res.Err = CodeInvalidUpdateVersion
		case !slices.Contains(req.ISR, c.st.Leader):
			res.Err = CodeInvalidRequest
		default:
			for _, id := range req.ISR {
				if c.fenced[id] && !slices.Contains(c.st.ISR, id) {
					res.Err = CodeIneligibleReplica
				}
			}
		}
		if res.Err == CodeNone {
			c.st.ISR = slices.Clone(req.ISR)
			c.st.PartitionEpoch++
			res.ISR, res.PartitionEpoch = slices.Clone(req.ISR), c.st.PartitionEpoch
			c.publish()
		}
		if w.rng.Float64() < w.cfg.loss*4 {
			w.after(int64(50*time.Millisecond), func() { reply(AlterResult{RequestID: req.RequestID, Err: CodeRequestTimedOut}) })
			return
		}
		w.after(w.dur(100*time.Microsecond, 2*time.Millisecond), func() { reply(res) })
	})
}

// ---- clients ----

// clientHop is the delay of a client request or response; connections are ordered, so a
// request never overtakes an earlier one from the same client to the same broker.
func (w *world) clientHop(client int64, node int32) int64 {
	k := [2]int64{client, int64(node)}
	t := max(w.now+w.dur(100*time.Microsecond, 2*time.Millisecond), w.fifo[k])
	w.fifo[k] = t
	return t
}

type sproducer struct {
	w           *world
	id          int64
	pid         int64 // -1: not idempotent
	acks        int16
	maxInFlight int
	nextSeq     int32
	unacked     []*pbatch // in sequence order
	outstanding int
	failed      bool // a failure happened: resend everything once nothing is outstanding
	leader      int32
	dead        bool
	sent        int
	epoch       int16
	lastAcked   int64 // offset of the last record acknowledged, -1 if none
}

type pbatch struct {
	seq      int32
	values   []string
	data     []byte
	attempt  int
	inFlight bool
}

func (w *world) addProducer(i int) {
	p := &sproducer{w: w, id: int64(i + 1), pid: -1, acks: -1, maxInFlight: 1 + w.rng.IntN(5), leader: -1, lastAcked: -1}
	switch w.rng.IntN(4) {
	case 0:
		p.acks = 1
	case 1:
	default:
		w.nextPID++
		p.pid = w.nextPID
	}
	w.prods = append(w.prods, p)
	w.after(w.dur(0, 5*time.Millisecond), p.loop)
}

func (p *sproducer) loop() {
	w := p.w
	if p.dead {
		return
	}
	if !w.healing && len(p.unacked) < p.maxInFlight {
		p.newBatch()
	}
	p.sendReady()
	w.after(w.dur(500*time.Microsecond, 4*time.Millisecond), p.loop)
}

func (p *sproducer) newBatch() {
	n := 1 + p.w.rng.IntN(3)
	b := &pbatch{seq: p.nextSeq}
	for i := range n {
		b.values = append(b.values, fmt.Sprintf("p%d.%d.%d", p.id, p.sent, i))
	}
	p.sent++
	p.build(b)
	p.unacked = append(p.unacked, b)
}

// build encodes b under the producer's current epoch and next sequence.
func (p *sproducer) build(b *pbatch) {
	raw := make([][]byte, len(b.values))
	for i, v := range b.values {
		raw[i] = []byte(v)
	}
	spec := record.Spec{FirstTimestamp: 1000 + int64(p.sent), PartitionLeaderEpoch: -1}.NoProducer()
	if p.pid >= 0 {
		b.seq = p.nextSeq
		spec.ProducerID, spec.ProducerEpoch, spec.BaseSequence = p.pid, p.epoch, p.nextSeq
		p.nextSeq += int32(len(raw))
	}
	data, err := record.BuildValues(spec, raw...)
	if err != nil {
		panic(err)
	}
	b.data = data
}

// restartSequences bumps the producer epoch and renumbers what is unacknowledged from 0,
// as clients do when the log start passed everything the partition knew of them.
func (p *sproducer) restartSequences() {
	p.epoch++
	p.nextSeq = 0
	for _, b := range p.unacked {
		b.attempt++
		if b.inFlight {
			b.inFlight = false
			p.outstanding--
		}
		p.build(b)
	}
}

// sendReady sends the unacknowledged batches not in flight, in order: after a failure,
// only once nothing is outstanding, so a retry never overtakes what it follows.
func (p *sproducer) sendReady() {
	w := p.w
	if p.failed {
		if p.outstanding > 0 {
			return
		}
		p.failed = false
	}
	if p.leader < 0 {
		p.leader = w.ctrl.st.Leader
		if p.leader < 0 {
			return
		}
	}
	for _, b := range p.unacked {
		if b.inFlight {
			continue
		}
		p.send(b)
	}
}

func (p *sproducer) send(b *pbatch) {
	w := p.w
	b.inFlight = true
	b.attempt++
	p.outstanding++
	attempt, to := b.attempt, p.leader
	done := false
	finish := func(res ProduceResult, timedOut bool) {
		if done || b.attempt != attempt {
			return
		}
		done = true
		b.inFlight = false
		p.outstanding--
		p.answer(b, res, timedOut)
	}
	w.after(int64(300*time.Millisecond), func() { finish(ProduceResult{}, true) })
	if w.rng.Float64() < w.cfg.loss {
		return
	}
	data := slices.Clone(b.data)
	w.at(w.clientHop(p.id, to), func() {
		n := w.node(to)
		if !n.alive || w.now < n.cutUntil {
			return
		}
		w.tracef("p%d -> n%d seq %d attempt %d %v", p.id, to, b.seq, attempt, b.values)
		n.r.Produce(w.now, data, p.acks, 200*time.Millisecond, func(res ProduceResult) {
			w.tracef("p%d <- n%d seq %d attempt %d: %+v", p.id, to, b.seq, attempt, res)
			if w.rng.Float64() < w.cfg.loss {
				return
			}
			w.at(w.clientHop(-p.id, to), func() { finish(res, false) })
		})
		w.pump(n)
	})
}

func (p *sproducer) answer(b *pbatch, res ProduceResult, timedOut bool) {
	w := p.w
	if !timedOut && (res.Err == CodeNone || res.Err == CodeDuplicateSequenceNumber) {
		p.acked(b, res.BaseOffset) // a duplicate older than the broker remembers: offset unknown
		return
	}
	p.failed = true
	p.leader = -1
	if timedOut {
		return
	}
	switch res.Err {
	case CodeOutOfOrderSequenceNumber:
		if p.unacked[0] == b && res.LogStartOffset > p.lastAcked {
			p.restartSequences() // retention removed the producer's state
			return
		}
		if p.unacked[0] == b {
			if p.acks == -1 {
				w.failf("producer %d (pid %d): OUT_OF_ORDER_SEQUENCE_NUMBER for its oldest unacknowledged batch (seq %d)", p.id, p.pid, b.seq)
			}
			p.dead = true // acks=1 may lose acknowledged batches
		}
	case CodeInvalidProducerEpoch, CodeCorruptMessage, codeInvalidRecord, CodeInvalidRequiredAcks:
		w.failf("producer %d: unexpected error %d", p.id, res.Err)
	}
}

// codeInvalidRecord is INVALID_RECORD, which a well-formed producer never sees.
const codeInvalidRecord int16 = 87

func (p *sproducer) acked(b *pbatch, base int64) {
	w := p.w
	i := slices.Index(p.unacked, b)
	if i < 0 {
		return
	}
	if p.pid >= 0 {
		// The leader appends an idempotent producer's batches in sequence order, so the
		// earlier batches whose answers went missing are written too (and, for acks=all,
		// committed, since the high watermark passed a later one).
		for _, e := range p.unacked[:i] {
			e.attempt++ // ignore their answers
			if e.inFlight {
				e.inFlight = false
				p.outstanding--
			}
			if p.acks == -1 {
				w.acked = append(w.acked, ackRecord{values: e.values, base: -1})
			}
		}
		p.unacked = p.unacked[i:]
		i = 0
	}
	p.unacked = slices.Delete(p.unacked, i, i+1)
	if base >= 0 {
		p.lastAcked = max(p.lastAcked, base+int64(len(b.values))-1)
	}
	if p.acks == -1 {
		w.stats.acks++
		w.acked = append(w.acked, ackRecord{values: b.values, base: base})
		if base >= 0 {
			w.ackFloor = max(w.ackFloor, base+int64(len(b.values)))
		}
	}
}

type sconsumer struct {
	w      *world
	id     int64
	pos    int64
	hwMax  int64
	leader int32
}

func (w *world) addConsumer(i int) {
	c := &sconsumer{w: w, id: int64(100 + i), leader: -1}
	w.cons = append(w.cons, c)
	w.after(w.dur(0, 5*time.Millisecond), c.loop)
}

func (c *sconsumer) loop() {
	w := c.w
	if c.leader < 0 {
		c.leader = w.ctrl.st.Leader
	}
	if c.leader < 0 {
		w.after(int64(5*time.Millisecond), c.loop)
		return
	}
	to, floor := c.leader, w.ackFloor
	done := false
	finish := func(fn func()) {
		if !done {
			done = true
			fn()
			w.after(w.dur(100*time.Microsecond, 3*time.Millisecond), c.loop)
		}
	}
	w.after(int64(300*time.Millisecond), func() { finish(func() { c.leader = -1 }) })
	if w.rng.IntN(8) == 0 {
		w.at(w.clientHop(c.id, to), func() {
			n := w.node(to)
			if !n.alive || w.now < n.cutUntil {
				return
			}
			n.r.ListOffsets(w.now, ListLatest, -1, 0, func(res ListOffsetsResult) {
				w.at(w.clientHop(-c.id, to), func() { finish(func() { c.listed(res, floor) }) })
			})
			w.pump(n)
		})
		return
	}
	req := FetchRequest{CurrentLeaderEpoch: -1, FetchOffset: c.pos, MaxBytes: int32(100 + w.rng.IntN(2000)),
		MinBytes: int32(w.rng.IntN(300)), MaxWait: time.Duration(w.rng.IntN(20)) * time.Millisecond}
	w.at(w.clientHop(c.id, to), func() {
		n := w.node(to)
		if !n.alive || w.now < n.cutUntil {
			return
		}
		n.r.Fetch(w.now, req, func(res FetchResult) {
			w.at(w.clientHop(-c.id, to), func() { finish(func() { c.fetched(req, res, floor) }) })
		})
		w.pump(n)
	})
}

func (c *sconsumer) seeHW(hw, floor int64, what string) {
	w := c.w
	if hw < c.hwMax {
		w.failf("consumer %d: %s high watermark %d after seeing %d", c.id, what, hw, c.hwMax)
	}
	if hw < floor {
		w.failf("consumer %d: %s high watermark %d below %d, acknowledged before the request", c.id, what, hw, floor)
	}
	c.hwMax = max(c.hwMax, hw)
}

func (c *sconsumer) listed(res ListOffsetsResult, floor int64) {
	if res.Err != CodeNone {
		c.leader = -1
		return
	}
	c.seeHW(res.Offset, floor, "ListOffsets")
}

func (c *sconsumer) fetched(req FetchRequest, res FetchResult, floor int64) {
	w := c.w
	switch res.Err {
	case CodeNone:
	case CodeOffsetOutOfRange:
		c.pos = max(res.LogStartOffset, 0)
		if c.pos > c.hwMax {
			c.pos = 0
		}
		return
	default:
		c.leader = -1
		return
	}
	c.seeHW(res.HighWatermark, floor, "fetch")
	_, err := record.Split(res.Records, func(h record.Header, batch []byte) error {
		it, err := record.NewIter(batch, 1<<20)
		if err != nil {
			return err
		}
		for it.Next() {
			off, v := it.Offset(), string(it.Record().Value)
			if prev, ok := w.observed[off]; ok && prev != v {
				w.failf("consumers saw offset %d as %q and as %q", off, prev, v)
			}
			w.observed[off] = v
		}
		c.pos = max(c.pos, h.NextOffset())
		return it.Err()
	})
	if err != nil {
		w.failf("consumer %d: bad records: %v", c.id, err)
	}
}

// ---- checkers ----

// checkNode runs after every input to a node.
// checkEarlyTick ticks a replica before its deadline, unless it needs every tick, and
// fails if that changed anything: a node ticks only the replicas whose deadline came and
// those that need every tick (NeedsEveryTick).
func (w *world) checkEarlyTick(n *snode) {
	deadline := n.r.Deadline()
	if w.now >= deadline || n.r.NeedsEveryTick(w.now) {
		return
	}
	before := n.r.Status()
	n.r.Tick(w.now)
	if ops := n.q.Drain(); len(ops) > 0 || n.r.HasReady() || n.r.Deadline() != deadline || !reflect.DeepEqual(n.r.Status(), before) {
		w.failf("node %d: a tick at %d, before its deadline %d, changed it: %d ops, ready %v, deadline %d, status %+v, was %+v",
			n.id, w.now, deadline, len(ops), n.r.HasReady(), n.r.Deadline(), n.r.Status(), before)
	}
}

func (w *world) checkNode(n *snode) {
	s := n.r.Status()
	if !(s.LogStartOffset <= s.HighWatermark && s.HighWatermark <= s.LogEndOffset && s.DurableOffset <= s.LogEndOffset) {
		w.failf("node %d: offsets out of order: %+v", n.id, s)
	}
	if s.Role == RoleLeader {
		if s.HighWatermark > s.DurableOffset {
			w.failf("leader %d: high watermark %d above its durable offset %d", n.id, s.HighWatermark, s.DurableOffset)
		}
		k := [2]int64{int64(n.id), int64(s.LeaderEpoch)}
		if prev, ok := w.leaderHW[k]; ok && s.HighWatermark < prev {
			w.failf("node %d: leader high watermark fell from %d to %d in epoch %d", n.id, prev, s.HighWatermark, s.LeaderEpoch)
		}
		w.leaderHW[k] = max(w.leaderHW[k], s.HighWatermark)
		if s.LogStartOffset < w.deletedBelow {
			w.failf("leader %d starts its log at %d, below %d, where an acknowledged DeleteRecords moved it", n.id, s.LogStartOffset, w.deletedBelow)
		}
	}
}

// checkAgreement checks that any two live replicas hold the same batches below the
// smaller of their high watermarks, and that every member of a leader's ISR holds,
// durably, the batches below the leader's high watermark.
func (w *world) checkAgreement() {
	id := disk.PartitionLog("t", 0)
	for _, l := range w.nodes {
		if !l.alive || l.r.role != RoleLeader || w.cfg.async {
			continue
		}
		for _, m := range l.r.st.ISR {
			lg := w.node(m).d.logs[id]
			if lg == nil {
				continue
			}
			end := lg.start
			if lg.synced > 0 {
				end = lg.batches[lg.synced-1].next
			}
			if end < l.r.hw {
				w.failf("ISR member %d of leader %d (epoch %d) holds durably only up to %d, below the high watermark %d",
					m, l.id, l.r.epoch, end, l.r.hw)
			}
		}
	}
	for i, a := range w.nodes {
		for _, b := range w.nodes[i+1:] {
			if !a.alive || !b.alive || a.r.loading != nil || b.r.loading != nil {
				continue
			}
			la, lb := a.d.logs[id], b.d.logs[id]
			if la == nil || lb == nil {
				continue
			}
			// A log start set by a Reset not yet done on disk excludes what lies below it.
			from := max(a.r.startOffset, b.r.startOffset)
			limit := min(a.r.hw, b.r.hw, la.end(), lb.end())
			if off, ok := diverge(la, lb, from, limit); !ok {
				w.failf("nodes %d and %d disagree at offset %d below high watermarks %d/%d", a.id, b.id, off, a.r.hw, b.r.hw)
			}
		}
	}
}

func batchSum(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// diverge compares two logs' batches starting at or after from and ending by limit.
func diverge(a, b *memLog, from, limit int64) (int64, bool) {
	j := 0
	for _, x := range a.batches {
		if x.next > limit {
			break
		}
		if x.base < from {
			continue
		}
		for j < len(b.batches) && b.batches[j].base < x.base {
			j++
		}
		if j == len(b.batches) || b.batches[j].base != x.base {
			if x.base >= b.start && len(b.batches) > 0 && x.base < b.end() {
				return x.base, false
			}
			continue
		}
		if x.sum != b.batches[j].sum {
			return x.base, false
		}
	}
	return 0, true
}

// converged: faults over, a leader serving with every replica in the ISR, every replica
// at the leader's log end and high watermark with no write to its disk outstanding, and
// producers done. The final checks compare each disk with its replica: an op still on
// its way (the LeaderEpochs after a DeleteBelow) would look like a disagreement.
func (w *world) converged() bool {
	st := w.ctrl.st
	if st.Leader < 0 || len(st.ISR) != len(w.nodes) {
		return false
	}
	l := w.node(st.Leader)
	if !l.alive || l.r.role != RoleLeader || l.r.epoch != st.LeaderEpoch || l.r.hw != l.r.leo || !l.r.lead.readReady {
		return false
	}
	for _, n := range w.nodes {
		if !n.alive || n.r.leo != l.r.leo || n.r.hw != l.r.hw || n.r.durable != n.r.leo || writing(n.r) {
			return false
		}
		if lg := n.d.logs[disk.PartitionLog("t", 0)]; lg == nil || lg.end() != l.r.leo {
			return false
		}
	}
	for _, p := range w.prods {
		if !p.dead && len(p.unacked) > 0 {
			return false
		}
	}
	return w.txnsIdle()
}

// writing reports whether r has an op outstanding that changes its disk.
func writing(r *Replica) bool {
	for _, p := range r.pending() {
		switch p.kind {
		case disk.Read, disk.FindTime, disk.FindMaxTime:
		default:
			return true
		}
	}
	return false
}

func (w *world) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "controller %+v fenced %v;", w.ctrl.st, w.ctrl.fenced)
	for _, n := range w.nodes {
		if !n.alive {
			fmt.Fprintf(&b, " [%d down]", n.id)
			continue
		}
		s := n.r.Status()
		fmt.Fprintf(&b, " [%d %s e%d leo %d hw %d dur %d start %d isr %v max %v pend %v load %v]", n.id, s.Role, s.LeaderEpoch,
			s.LogEndOffset, s.HighWatermark, s.DurableOffset, s.LogStartOffset, s.ISR, s.MaximalISR, s.PendingISR, s.Loading)
	}
	for _, p := range w.prods {
		fmt.Fprintf(&b, " p%d(unacked %d out %d dead %v)", p.id, len(p.unacked), p.outstanding, p.dead)
	}
	return b.String()
}

func (w *world) finalChecks() {
	l := w.node(w.ctrl.st.Leader)
	lg := l.d.logs[disk.PartitionLog("t", 0)]
	cut := max(lg.start, w.deletedBelow)
	final := map[int64]string{}
	seen := map[string]int64{}
	var next int64 = -1
	for _, b := range lg.batches {
		if next >= 0 && b.base != next {
			w.failf("final log has a gap: batch at %d after %d", b.base, next)
		}
		next = b.next
		it, err := record.NewIter(b.data, 1<<20)
		if err != nil {
			w.failf("final log batch at %d: %v", b.base, err)
			return
		}
		for it.Next() {
			if it.Offset() < cut {
				continue
			}
			v := string(it.Record().Value)
			final[it.Offset()] = v
			if it.Header().IsControl() {
				continue // transaction markers repeat their few bytes
			}
			if prev, ok := seen[v]; ok {
				if pid := it.Header().ProducerID; pid >= 0 {
					w.failf("idempotent record %q written twice, at %d and %d", v, prev, it.Offset())
				}
			}
			seen[v] = it.Offset()
		}
	}
	for _, a := range w.acked {
		for i, v := range a.values {
			if a.base < 0 {
				if _, ok := seen[v]; !ok && cut == 0 {
					w.failf("record %q, committed before an acknowledged later batch, is lost", v)
				}
				continue
			}
			off := a.base + int64(i)
			if off < cut {
				continue
			}
			if got, ok := final[off]; !ok || got != v {
				w.failf("acknowledged record %q at offset %d lost (final log has %q)", v, off, got)
			}
		}
	}
	offs := make([]int64, 0, len(w.observed))
	for off := range w.observed {
		offs = append(offs, off)
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
	for _, off := range offs {
		if off < cut {
			continue
		}
		if got := final[off]; got != w.observed[off] {
			w.failf("a consumer read %q at offset %d, the final log has %q", w.observed[off], off, got)
			break
		}
	}
	w.finalTxnChecks()
	for _, n := range w.nodes {
		other := n.d.logs[disk.PartitionLog("t", 0)]
		if off, ok := diverge(lg, other, 0, lg.end()); !ok || other.end() != lg.end() {
			w.failf("node %d's final log differs from the leader's at %d", n.id, off)
		}
		want := epochsOf(other)
		// Epochs that never wrote, at the log end, may linger in memory (a leader's) or
		// in the checkpoint (one handed on: becomeFollower does not write for them).
		mem, _ := epochCache(slices.Clone(n.r.epochs)).truncateFromEnd(other.end())
		ckpt, _ := epochCache(slices.Clone(other.epochs)).truncateFromEnd(other.end())
		written := !slices.ContainsFunc(n.r.epochs, func(e disk.EpochEntry) bool { return !slices.Contains(other.epochs, e) })
		if !slices.Equal(want, mem) || !slices.Equal(mem, ckpt) || !written {
			w.failf("node %d: epochs of the log %v, in memory %v, checkpoint %v", n.id, want, n.r.epochs, other.epochs)
		}
	}
}

// epochsOf derives the leader-epoch cache from a log's batches.
func epochsOf(l *memLog) epochCache {
	var c epochCache
	for _, b := range l.batches {
		if b.next <= l.start {
			continue
		}
		if len(c) == 0 || c[len(c)-1].Epoch != b.epoch {
			c = append(c, disk.EpochEntry{Epoch: b.epoch, StartOffset: max(b.base, l.start)})
		}
	}
	return c
}
