package sim

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/kafka/wire"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
	"github.com/seedlog/seedlog/disksim"
	"github.com/seedlog/seedlog/netsim"
	"github.com/seedlog/seedlog/traces"
)

// clientAddrBase is the first client address; node addresses are their ids, below it.
const clientAddrBase = 1000

// phase is where a run is.
type phase uint8

const (
	phaseSafety phase = iota + 1
	phaseLiveness
	phaseFinalReads
	phaseEnd
)

// World is one simulated run: the nodes, the network, the clients, one event queue and
// the checkers. It runs on one goroutine; everything it does follows from the seed.
type World struct {
	cfg    Config
	opts   Options
	served wire.Versions
	now    int64
	q      queue
	net    *netsim.Net
	nodes  []*simNode // nodes[i].spec.ID == i+1
	// links are the open client connections by stream id.
	links   map[netsim.StreamID]*link
	clients []*Client
	rec     *traces.Recorder
	cov     Coverage
	hist    History
	// unregisterFrom is when the first UnregisterBroker of each broker was sent
	// (moves.go): lists of registered brokers may lose it from then on.
	unregisterFrom map[int32]int64
	phase          phase
	failure        *Failure
	// producerSeqs is what the producers numbered and had acknowledged, for the
	// describe-producers check (producers.go).
	producerSeqs producerSeqs
	// sessionGaps are the session answers whose records began above the reader's fetch
	// offset, for the sessions checker (sessions.go).
	sessionGaps []sessionGap
	faults      *faultSchedule
	live        *liveness
	checks      *checkers
	// rngs for the workload and the clock setup.
	workRng *rand.Rand
	// arrivals is scratch space for netsim.Send.
	arrivals []netsim.Time
	// frameScratch is where request and response frames are encoded before they are
	// copied out at their exact size (frameOf): encoding into a new slice grew it from
	// nothing, several times per frame.
	frameScratch []byte
	// hardEnd stops a run that never finishes its phases.
	hardEnd int64
	log     io.Writer
	// steps counts delivered events, for statistics.
	steps int64
	// scenarioClient runs the operations of World.Do.
	scenarioClient *Client
	// acting is the node taking an input right now (-1 for none), to blame panics.
	acting int32
	// coder decompresses the batches clients read.
	coder record.Coder
	// data drives the data workload; nil when the run has none.
	data *dataWorkload
	// auth authenticates the peer connections; attack is the byzantine client, nil
	// unless the seed has one.
	auth   *peerAuth
	attack *attacker
	// sched records the schedule the run applies; script, when set, is the schedule it
	// replays instead of drawing one (Options.Schedule).
	sched  scheduleRecorder
	script *script

	// padding is the run's record padding (padding.go), made at first use.
	padding []byte
	// outages are the faults that took a leader out of service (failover.go).
	outages []outage
}

// Failure is what made a run fail.
type Failure struct {
	Checker string // "invariant:<name>", "linearizability", "log-history", "liveness", "shell", ...
	Message string
	At      int64 // virtual time
	Node    int32 // -1 when not about one node
}

func (f *Failure) Error() string {
	if f.Node >= 0 {
		return fmt.Sprintf("%s on node %d at %s: %s", f.Checker, f.Node, time.Duration(f.At), f.Message)
	}
	return fmt.Sprintf("%s at %s: %s", f.Checker, time.Duration(f.At), f.Message)
}

// newWorld builds a world from options; nothing runs yet.
func newWorld(opts Options) (*World, error) {
	plants, err := plant.Parse(opts.Plants...)
	if err != nil {
		return nil, err
	}
	cfg := Draw(opts.Seed, plants)
	if opts.NoFaults {
		cfg.Faults = FaultConfig{Interval: cfg.Faults.Interval}
	}
	if opts.Byzantine {
		drawAttack(opts.Seed, &cfg.Faults)
		cfg.Faults.Byzantine, cfg.Faults.byzantineForced = true, true
	}
	if opts.NoWorkload {
		cfg.Workload.Clients = 0
		cfg.Data = DataConfig{}
	}
	if opts.FlushAsync && cfg.Data.On() {
		cfg.Data.FlushAsync = true
		cfg.Faults.PowerLoss = !opts.NoFaults
	}
	if opts.Duration > 0 {
		cfg.SafetyDuration, cfg.durationSet = opts.Duration, opts.Duration
	}
	if opts.Adjust != nil {
		opts.Adjust(&cfg)
	}
	if opts.Schedule != nil {
		faults, ops := opts.Schedule.Counts()
		cfg.scripted = fmt.Sprintf("scripted: %d faults and %d client operations replace the seed's fault and workload draws", faults, ops)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	w := &World{
		cfg:     cfg,
		opts:    opts,
		links:   map[netsim.StreamID]*link{},
		rec:     traces.NewRecorder(opts.KeepTrace),
		cov:     Coverage{},
		workRng: Stream(opts.Seed, streamWorkload, 0),
		log:     opts.Log,

		unregisterFrom: map[int32]int64{},
	}
	if w.log == nil {
		w.log = io.Discard
	}
	if opts.MachineFor != nil {
		w.opts.Machine = opts.MachineFor(&w.cfg)
	}
	if w.opts.Machine == nil {
		w.opts.Machine = CoreMachine
	}
	if w.opts.OpenDisk == nil {
		w.opts.OpenDisk = DefaultOpenDisk
	}
	if w.opts.OpenDisk == nil {
		return nil, errors.New("sim: no disk executor in this build (Options.OpenDisk and DefaultOpenDisk are nil)")
	}
	w.opts.OpenDisk = countSegments(w.opts.OpenDisk, w.cov)
	if w.opts.Inspect == nil {
		w.opts.Inspect = DefaultInspect
	}
	w.served = opts.Served
	if w.served == nil {
		w.served = DefaultServed
	}
	if w.served == nil {
		return nil, errors.New("sim: no served-versions table in this build (Options.Served and DefaultServed are nil)")
	}
	if err := w.buildNet(); err != nil {
		return nil, err
	}
	w.buildNodes()
	w.auth = newPeerAuth(w)
	if cfg.Faults.Byzantine {
		w.attack = newAttacker(w)
	}
	w.checks = newCheckers(w)
	w.faults = newFaultSchedule(w)
	if opts.Schedule != nil {
		w.script = newScript(w, opts.Schedule)
	}
	w.hardEnd = int64(cfg.SafetyDuration + 4*cfg.LivenessBound + 10*cfg.Timing.RequestTimeout)
	return w, nil
}

func (w *World) buildNet() error {
	var addrs []netsim.Addr
	for _, n := range w.cfg.Nodes {
		addrs = append(addrs, netsim.Addr(n.ID))
	}
	nc := netsim.DefaultConfig()
	nc.Link = w.cfg.Link
	net, err := netsim.New(Stream(w.cfg.Seed, streamNet, 0), nc, addrs)
	if err != nil {
		return err
	}
	w.net = net
	return nil
}

func (w *World) buildNodes() {
	for _, spec := range w.cfg.Nodes {
		dc := disksim.DefaultConfig()
		n := &simNode{
			w:        w,
			spec:     spec,
			addr:     netsim.Addr(spec.ID),
			fs:       disksim.New(Stream(w.cfg.Seed, streamDisk, int64(spec.ID)), dc),
			crashRng: Stream(w.cfg.Seed, streamCrash, int64(spec.ID)),
			saslRng:  Stream(w.cfg.Seed, streamSASL, int64(spec.ID)),
			diskRng:  Stream(w.cfg.Seed, streamDiskBatch, int64(spec.ID)),
			inputRng: Stream(w.cfg.Seed, streamInputBatch, int64(spec.ID)),
			clock:    clock{offset: spec.SkewNS, driftPPM: spec.DriftPPM},
			tickAt:   -1,
			notes:    Coverage{},
			armRec:   -1,
			writeAt:  -1,
			lanes:    newDiskLanes(w.cfg.Plants),
		}
		w.nodes = append(w.nodes, n)
	}
}

// node returns the node with id, or nil.
func (w *World) node(id int32) *simNode {
	if id < 1 || int(id) > len(w.nodes) {
		return nil
	}
	return w.nodes[id-1]
}

// schedule queues an event of kind at virtual time at and returns it for filling in.
func (w *World) schedule(at int64, kind evKind) *event {
	e := w.q.alloc()
	e.at = max(at, w.now)
	e.kind = kind
	w.q.push(e)
	return e
}

// frameOf returns a copy of the frame that encode appends to its argument: the copy
// is the frame's own, for the network and the receiving end to keep.
func (w *World) frameOf(encode func([]byte) []byte) []byte {
	w.frameScratch = encode(w.frameScratch[:0])
	return slices.Clone(w.frameScratch)
}

// record adds a trace event. text is called only when the trace is kept.
func (w *World) record(e traces.Event, text func() string) {
	e.At = w.now
	if text != nil && w.rec.Keeping() {
		e.Text = text()
	}
	w.rec.Add(&e)
}

// fail stops the run with a failure; the first one wins.
func (w *World) fail(checker string, node int32, format string, args ...any) {
	if w.failure != nil {
		return
	}
	w.failure = &Failure{Checker: checker, Message: fmt.Sprintf(format, args...), At: w.now, Node: node}
	w.record(traces.Event{Kind: traces.KindCheck, Sub: traces.CheckViolation, Node: node, Peer: -1},
		func() string { return checker + ": " + w.failure.Message })
}

// run executes the whole run: start, safety, liveness, final reads.
func (w *World) run() {
	fmt.Fprint(w.log, w.cfg.String())
	w.startAll()
	for w.failure == nil && w.phase != phaseEnd {
		at, ok := w.q.peekAt()
		if !ok {
			w.fail("shell", -1, "event queue ran dry in phase %d", w.phase)
			break
		}
		if at > w.hardEnd {
			w.fail("liveness", -1, "run did not finish by %v of virtual time (phase %d)", time.Duration(w.hardEnd), w.phase)
			break
		}
		w.step()
	}
	w.finish()
}

// step handles the next event. A panic (a node's broken invariant, or the simulator's)
// fails the run with its stack instead of taking the whole process down.
func (w *World) step() {
	e := w.q.pop()
	w.now = e.at
	w.acting = -1
	defer func() {
		if p := recover(); p != nil {
			w.fail("panic", w.acting, "%v\n%s", p, debug.Stack())
		}
	}()
	w.dispatch(e)
	w.q.release(e)
	w.steps++
}

func (w *World) startAll() {
	w.phase = phaseSafety
	w.record(traces.Event{Kind: traces.KindPhase, Sub: traces.PhaseSafety, Node: -1, Peer: -1}, func() string {
		return fmt.Sprintf("safety phase for %v", w.cfg.SafetyDuration)
	})
	startRng := Stream(w.cfg.Seed, streamClock, 1)
	for _, n := range w.nodes {
		// Nodes boot within the first 100ms, not in lockstep, but for one that joins
		// later.
		at := startRng.Int64N(int64(100 * time.Millisecond))
		if n.spec.JoinAt > 0 {
			at = int64(n.spec.JoinAt)
		}
		e := w.schedule(at, evRestart)
		e.node = n.spec.ID
		e.inc = n.inc
	}
	w.startClients()
	if w.cfg.Data.On() {
		w.startData()
	}
	w.faults.start()
	if w.attack != nil {
		w.attack.start()
	}
	w.schedule(int64(w.cfg.SafetyDuration), evPhase)
	if w.script != nil {
		if err := w.script.validate(); err != nil {
			w.fail("setup", -1, "%v", err)
			return
		}
		w.script.start()
	}
}

// dispatch handles one event.
func (w *World) dispatch(e *event) {
	switch e.kind {
	case evTick:
		if n := w.node(e.node); n.current(e.inc) && e.gen == n.tickGen {
			n.tickAt = -1
			n.deliver(input{kind: inTick})
		}
	case evPeer:
		w.arrivePeer(e)
	case evStream:
		w.arriveStream(e)
	case evStreamNote:
		w.streamBroken(e.stream, e.token == 1)
	case evDiskDone:
		if n := w.node(e.node); n.current(e.inc) {
			n.stepDone(e.token)
		}
	case evDiskStart:
		if n := w.node(e.node); n.current(e.inc) {
			n.startBatch(disk.Lane(e.token))
		}
	case evStopBy:
		if n := w.node(e.node); n.current(e.inc) {
			n.shutdownTimedOut()
		}
	case evDrain:
		if n := w.node(e.node); n.current(e.inc) && e.gen == n.drainGen && n.undrained > 0 && !n.paused {
			n.drain()
		}
	case evCrash:
		if n := w.node(e.node); n.current(e.inc) && w.phase == phaseSafety {
			w.cov.Inc("fault:crash")
			n.crash("armed crash fault")
			n.scheduleRestart(w.now + int64(n.restartAfter))
		}
	case evRestart:
		if n := w.node(e.node); !n.up && e.inc == n.inc && !n.leftDown {
			n.start()
		}
	case evResume:
		if n := w.node(e.node); n.current(e.inc) && n.paused && e.gen == n.pauseGen {
			n.resume()
		}
	case evClient:
		w.clients[e.node-1].timer(e.token)
	case evWorkload:
		w.clients[e.node-1].nextOp()
	case evFault:
		w.faults.act(e.gen)
	case evFaultUndo:
		w.faults.undo(e.token)
	case evPhase:
		w.advancePhase()
	case evAttack:
		w.attack.act()
	case evAttackClose:
		w.attack.hangUp(e.stream)
	case evNodeHangUp:
		w.closeByNode(e.stream)
	case evForged:
		w.arriveForged(e)
	case evScript:
		w.script.due(e)
	default:
		panic(fmt.Sprintf("sim: unknown event kind %d", e.kind))
	}
}

// advancePhase moves from safety to liveness.
func (w *World) advancePhase() {
	if w.phase != phaseSafety {
		return
	}
	w.phase = phaseLiveness
	w.record(traces.Event{Kind: traces.KindPhase, Sub: traces.PhaseLiveness, Node: -1, Peer: -1}, func() string {
		return fmt.Sprintf("liveness phase: faults stop, the cluster must converge within %v", w.cfg.LivenessBound)
	})
	w.faults.stopAll()
	if w.data != nil {
		w.data.livenessStarted()
	}
	w.live = startLiveness(w)
}

// finish ends the run: the remaining operations become indeterminate and the history
// checkers run.
func (w *World) finish() {
	w.hist.closeOpen()
	w.collectStats()
	if w.failure == nil {
		w.checks.afterRun()
	}
	w.record(traces.Event{Kind: traces.KindPhase, Sub: traces.PhaseEnd, Node: -1, Peer: -1}, func() string {
		if w.failure != nil {
			return "run failed: " + w.failure.Error()
		}
		return "run passed"
	})
}

// collectStats folds the network's and disks' counters into coverage.
func (w *World) collectStats() {
	ns := w.net.Stats()
	w.cov.Add("net:datagrams-lost", ns.DatagramsLost)
	w.cov.Add("net:datagrams-cut", ns.DatagramsCut)
	w.cov.Add("net:datagrams-duplicated", ns.DatagramsDuplicated)
	w.cov.Add("net:datagrams-reordered", ns.DatagramsReordered)
	w.cov.Add("net:clogged", ns.Clogged)
	w.cov.Add("net:streams-broken-by-cut", ns.StreamsBrokenByCut)
	w.cov.Add("net:streams-broken-at-random", ns.StreamsBrokenAtRandom)
	for _, n := range w.nodes {
		ds := n.fs.Stats()
		w.cov.Add("disk:write-eio", ds.WriteEIO)
		w.cov.Add("disk:sync-eio", ds.SyncEIO+ds.SyncDirEIO)
		w.cov.Add("disk:enospc", ds.ENOSPCRandom+ds.ENOSPCCapacity)
		w.cov.Add("disk:lost-bytes", ds.LostBytes)
		w.cov.Add("disk:read-corruptions", ds.ReadCorruptions)
		w.cov.Add("disk:at-rest-corruptions", ds.AtRestCorruptions)
		w.cov.Add("disk:blocks-dropped", ds.BlocksDropped)
		w.cov.Add("disk:blocks-torn", ds.BlocksTorn)
		w.cov.Add("disk:entries-reverted", ds.EntriesReverted)
	}
}

// sortedLinks returns the ids of the open links of a node, sorted.
func (w *World) sortedLinks(node int32) []netsim.StreamID {
	var ids []netsim.StreamID
	for id, l := range w.links {
		if l.node == node {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// clientNote records a client's note in the trace (a producer reset, a rejoin, ...).
func (w *World) clientNote(c *Client, text string) {
	w.record(traces.Event{Kind: traces.KindOutput, Sub: traces.OutNote, Node: -1, Peer: c.id, Hash: xxhash.Sum64String(text)},
		func() string { return fmt.Sprintf("client %d: %s", c.id, text) })
}
