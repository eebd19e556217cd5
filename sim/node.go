package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/kafka/wire"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/diskexec"
	"github.com/seedlog/seedlog/disksim"
	"github.com/seedlog/seedlog/netsim"
	"github.com/seedlog/seedlog/storage"
	"github.com/seedlog/seedlog/traces"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// pauseBufferMax bounds the inputs a paused node holds. Beyond it, datagrams are dropped
// (the network may lose them anyway); disk completions, requests and closes are always
// kept, and they are bounded by the node's own outstanding work and the clients' requests.
const pauseBufferMax = 1 << 14

// readLatencyBytesMax caps the size a read's latency is drawn for (its answer is not
// known before it runs).
const readLatencyBytesMax = 1 << 20

// simNode is the shell around one node: its machine, its disk, its clock.
type simNode struct {
	w    *World
	spec NodeSpec
	addr netsim.Addr
	m    Machine
	// exec runs the data lane's ops, quorumExec the quorum lane's: the executor the disk
	// was opened with, split as the real node splits it (splitQuorum).
	exec, quorumExec Executor
	fs               *disksim.FS
	// files is the incarnation's file cache (nil without one), segmentFiles the count of
	// segment files open on fs, and fileOpens the cache's reopens counted so far.
	files        *storage.FileCache
	segmentFiles *segmentFiles
	fileOpens    int64
	crashRng     *rand.Rand
	// saslRng is the node's entropy for SCRAM server nonces (core.Request.Entropy).
	saslRng *rand.Rand
	clock   clock
	cleaner cleanerIO // what the cleaner throttle check knows of this incarnation
	moveIO  moveIO    // what the move throttle check knows of it
	// inc is the incarnation: it grows at every crash, so that events scheduled for an
	// earlier incarnation are recognized as stale and dropped.
	inc uint32
	up  bool
	// paused holds inputs in order while the process is stopped; its clock keeps running.
	paused      bool
	pauseGen    uint64
	pauseBuf    []input
	tickPending bool
	// tickGen invalidates every Tick event but the latest; tickAt is its virtual time
	// (-1 when none is scheduled).
	tickGen uint64
	tickAt  int64
	starts  int
	// The disk (disk.go): each lane's ops and running batch. crashOp is an op whose
	// batch an armed crash waits for (0: none).
	lanes   [disk.Lanes]diskLane
	crashOp disk.OpID
	// creates counts the partition log creations queued and not done (replicasync.go).
	creates int
	// diskRng draws the disk's batch boundaries, inputRng the input batches.
	diskRng, inputRng *rand.Rand
	// undrained counts the inputs applied since the last Drain, up to inputCap;
	// drainGen invalidates every drain event but the latest.
	undrained int
	inputCap  int
	drainGen  uint64
	// armed makes the node crash at the next moment of its kind (see crashArm);
	// restartAfter is the downtime that follows.
	armed        crashArm
	restartAfter time.Duration
	// armedKey is the API whose answer an armAnswer crash waits for.
	armedKey int16
	// notes counts the node's notes by kind, over all its incarnations.
	notes Coverage
	// syncEIOSeen is the disk's failed-sync count at the last start, to count recoveries
	// that follow an fsync loss.
	syncEIOSeen int64
	// leftDown marks a node the liveness phase keeps down: it never restarts.
	leftDown bool
	// armRec is the armed crash's step in the run's schedule (its strike is filled in
	// when it strikes), armPlan the step of a schedule it replays (nil when drawn).
	armRec  int
	armPlan *Step
	// writeAt and writeNth count the state-file writes at one instant, which a crash on
	// write names.
	writeAt  int64
	writeNth int
	// shutdown is the controlled shutdown in progress (shutdown.go), nil when none.
	shutdown *shutdownState
	// unchecked says the machine took an input (or started, or was told to shut down)
	// since the partition invariants last read its replicas: until it does, they read
	// the same replicas again (Drain, Deadline and ShutdownReady change nothing).
	unchecked bool
}

// inputKind is one of the node's inputs.
type inputKind uint8

const (
	inTick inputKind = iota + 1
	inPeer
	inRequest
	inConnClosed
	// inDones is the completions a disk batch step released: one input, as the real
	// node's loop takes them.
	inDones
)

// input is an input on its way to a node (buffered while the node is paused).
type input struct {
	kind   inputKind
	from   int32
	client int32
	conn   core.ConnID
	data   []byte
	dones  []disk.Done
}

// current reports whether the node is up in incarnation inc.
func (n *simNode) current(inc uint32) bool { return n.up && n.inc == inc }

func (n *simNode) localNow() int64 { return n.clock.local(n.w.now) }

// deliver hands an input to the node, or buffers it while the node is paused. As the
// real node's loop takes what is already waiting before one Drain, inputs that arrive
// within a short window of the first (ShellConfig) join it, up to a drawn batch size:
// the node drains once for all of them (see drainAfter).
func (n *simNode) deliver(in input) {
	if n.paused {
		n.buffer(in)
		return
	}
	w := n.w
	w.acting = n.spec.ID
	first := n.undrained == 0
	if first {
		n.inputCap = w.cfg.Shell.drawInputCap(n.inputRng)
	}
	n.apply(in)
	n.undrained++
	if n.undrained >= n.inputCap {
		n.drain()
		return
	}
	w.checks.afterStep(n)
	if first {
		n.drainAfter(w.cfg.Shell.drawInputWindow(n.inputRng))
	}
}

// drainAfter schedules the Drain of the inputs taken so far: later inputs that arrive
// before it join them.
func (n *simNode) drainAfter(window time.Duration) {
	n.drainGen++
	e := n.w.schedule(n.w.now+int64(window), evDrain)
	e.node = n.spec.ID
	e.inc = n.inc
	e.gen = n.drainGen
}

// drain acts on the outputs of every input taken since the last Drain.
func (n *simNode) drain() {
	if n.undrained > 1 {
		n.w.cov.Inc("shell:inputs-batched")
	}
	n.undrained = 0
	n.drainGen++
	n.w.acting = n.spec.ID
	n.act()
	n.w.checks.afterStep(n)
	n.checkShutdown()
}

func (n *simNode) buffer(in input) {
	switch {
	case in.kind == inTick:
		n.tickPending = true
	case in.kind == inPeer && len(n.pauseBuf) >= pauseBufferMax:
		n.w.cov.Inc("shell:pause-buffer-drop")
	default:
		n.pauseBuf = append(n.pauseBuf, in)
	}
}

// apply calls the machine's input method and records the input.
func (n *simNode) apply(in input) {
	w, now, id := n.w, n.localNow(), n.spec.ID
	n.unchecked = true
	switch in.kind {
	case inTick:
		w.record(traces.Event{Kind: traces.KindInput, Sub: traces.InTick, Node: id, Peer: -1, A: now}, nil)
		n.m.Tick(now)
	case inPeer:
		w.record(traces.Event{Kind: traces.KindInput, Sub: traces.InPeer, Node: id, Peer: in.from, A: int64(len(in.data)), Hash: xxhash.Sum64(in.data)},
			func() string { return fmt.Sprintf("from n%d, %d bytes", in.from, len(in.data)) })
		n.m.Peer(now, in.from, in.data)
	case inRequest:
		n.request(now, in)
	case inConnClosed:
		w.record(traces.Event{Kind: traces.KindInput, Sub: traces.InConnClosed, Node: id, Peer: in.client, A: int64(in.conn)},
			func() string { return fmt.Sprintf("client %d connection %d closed", in.client, in.conn) })
		n.m.ConnClosed(now, in.conn)
	case inDones:
		for i := range in.dones {
			d := &in.dones[i]
			topic, part := logPartition(d.Log)
			h := doneHash(d)
			w.record(traces.Event{Kind: traces.KindInput, Sub: traces.InDone, Node: id, Peer: -1, A: int64(d.ID), B: int64(d.Kind), Hash: h, Topic: topic, Part: part},
				func() string {
					if d.Err != nil {
						return fmt.Sprintf("done #%d %s %s: %v", d.ID, d.Kind, d.Log, d.Err)
					}
					return fmt.Sprintf("done #%d %s %s", d.ID, d.Kind, d.Log)
				})
			switch d.Kind {
			case disk.Clean:
				n.cleanerStepDone(d.Bytes, d.More)
			case disk.Read:
				n.readDone(d)
			}
			n.createDone(*d)
			n.m.Done(now, *d)
		}
	}
}

// request decodes a request frame and hands it to the node. Frames are whole: a client
// sends one frame per stream message.
func (n *simNode) request(now int64, in input) {
	w, id := n.w, n.spec.ID
	if l := w.links[netsim.StreamID(in.conn)]; l != nil && l.hungUp {
		return // as the real node's reader, which stops once it closes a connection
	}
	frame := in.data
	h, req, err := wire.ParseRequest(frame[4:], w.served)
	w.record(traces.Event{Kind: traces.KindInput, Sub: traces.InRequest, Node: id, Peer: in.client, A: int64(h.Corr), B: int64(h.Key)<<16 | int64(h.Version), Hash: xxhash.Sum64(frame)},
		func() string {
			if err != nil {
				return fmt.Sprintf("client %d corr %d %s v%d: %v", in.client, h.Corr, kmsg.NameForKey(h.Key), h.Version, err)
			}
			return fmt.Sprintf("client %d corr %d %s", in.client, h.Corr, describeRequest(req))
		})
	switch {
	case err == nil, errors.Is(err, wire.ErrUnsupported):
		// An unsupported key or version reaches the node without a body: it answers
		// ApiVersions with its version-0 error response and closes the connection for
		// anything else, as the real node does.
		if w.checks.serve != nil && err == nil && !holds(n.m, in.conn, now) {
			w.checks.serve.arrived(n, in.conn, h.Corr, req)
		}
		cost := requestThreadNanos(frame)
		if w.checks.quota != nil && err == nil {
			w.checks.quota.arrived(n.quotaNode(), in.conn, h.Corr, h.ClientID, req, cost)
		}
		r := core.Request{Conn: in.conn, Corr: h.Corr, Key: h.Key, Version: h.Version, ClientID: h.ClientID, Msg: req,
			ThreadNanos: cost}
		if l := w.links[netsim.StreamID(in.conn)]; l != nil && l.client != nil {
			r.Listener = l.client.listener
		}
		if h.Key == saslAuthenticateKey {
			fillEntropy(n.saslRng, r.Entropy[:])
		}
		n.m.Request(now, r)
	default:
		w.cov.Inc("shell:bad-request")
		w.closeByNode(netsim.StreamID(in.conn))
	}
}

// act drains the node's outputs and carries them out.
func (n *simNode) act() {
	w := n.w
	out := n.m.Drain()
	id := n.spec.ID
	for _, note := range out.Notes {
		w.record(traces.Event{Kind: traces.KindOutput, Sub: traces.OutNote, Node: id, Peer: -1, Hash: xxhash.Sum64String(note.Kind + "\x00" + note.Text)},
			func() string { return note.String() })
		w.cov.Inc("note:" + note.Kind)
		n.notes.Inc(note.Kind)
		if note.Group != nil && w.checks.offsets != nil {
			w.checks.offsets.event(n, note.Group)
		}
		if w.checks.quota != nil {
			w.checks.quota.note(n.quotaNode(), note.Kind, note.Text)
		}
		switch note.Kind {
		case "txn-prepare-commit", "txn-prepare-abort":
			w.noteTxnPrepare(note.Text)
			w.noteTxnState(n, note.Kind, note.Text)
		case "txn-begin", "txn-complete-commit", "txn-complete-abort", "txn-id-expired", "txn-coordinator-loaded":
			w.noteTxnState(n, note.Kind, note.Text)
		case "txn-timed-out":
			w.cov.Inc("txn:timeout")
		case "txn-fenced":
			w.cov.Inc("txn:fenced")
		case "quorum-elected":
			w.faults.afterElection(n)
		case "replica-leader":
			w.faults.afterTakeover(n, note.Text)
		}
	}
	if out.Fatal != nil {
		// Nothing else of this output may be acted on: the node's durable state is
		// unknown. It restarts from what its disk holds.
		w.record(traces.Event{Kind: traces.KindOutput, Sub: traces.OutFatal, Node: id, Peer: -1, Hash: xxhash.Sum64String(out.Fatal.Error())},
			func() string { return out.Fatal.Error() })
		w.cov.Inc("shell:fatal")
		if fe := (*core.FatalError)(nil); errors.As(out.Fatal, &fe) && fe.Invariant {
			// No fault the run injected explains it: a bug, not an I/O error to recover
			// from.
			w.fail("fatal", id, "%v", out.Fatal)
			return
		}
		n.crash("fatal: " + out.Fatal.Error())
		n.scheduleRestart(w.now + int64(10*time.Millisecond))
		return
	}
	for _, op := range out.Ops {
		n.doOp(op)
	}
	n.cleanerDrained()
	for _, m := range out.Messages {
		w.sendPeer(n, m)
	}
	for _, r := range out.Responses {
		if q := w.checks.quota; q != nil {
			q.answered(n.quotaNode(), r)
		}
		if d := w.checks.data; d != nil {
			switch r.Msg.(type) {
			case *kmsg.JoinGroupResponse, *kmsg.SyncGroupResponse, *kmsg.OffsetCommitResponse:
				d.groupsDue[id-1] = true
			}
		}
		w.sendResponse(n, r)
	}
	if n.armed == armAnswer && slices.ContainsFunc(out.Responses, func(r core.Response) bool { return r.Msg != nil && r.Msg.Key() == n.armedKey }) {
		n.armed = armNone
		w.cov.Inc("fault:crash-after-answer")
		if n.armedKey == endTxnKey {
			w.cov.Inc("txn:crash-after-end-txn")
		}
		n.strike(int64(armedWindow), thenUnknown)
	}
	for _, c := range out.Close {
		w.record(traces.Event{Kind: traces.KindOutput, Sub: traces.OutClose, Node: id, Peer: w.linkClient(c), A: int64(c)}, nil)
		w.hangUp(netsim.StreamID(c))
	}
	n.checkReplicas()
	n.scheduleTick()
}

// doOp queues a disk op behind every op emitted before (disk.go runs them in group
// commits). An armed crash that waits for a disk op in flight (armDiskOp, or a crash on
// a state file's write) takes this op: it strikes while the batch that carries it runs.
func (n *simNode) doOp(op disk.Op) {
	w := n.w
	topic, part := logPartition(op.Log)
	var h uint64
	if len(op.Data) > 0 {
		h = xxhash.Sum64(op.Data)
	}
	w.record(traces.Event{Kind: traces.KindOutput, Sub: traces.OutOp, Node: n.spec.ID, Peer: -1, A: int64(op.ID), B: int64(op.Kind), Hash: h, Topic: topic, Part: part},
		func() string { return op.String() })
	n.lanes[diskexec.LaneOf(op, w.cfg.Plants)].q.Add(op)
	n.createIssued(op)
	switch {
	case op.Kind == disk.Clean:
		n.checkCleanerRate(n.localNow())
	case op.Kind == disk.Read && op.Paced:
		n.pacedRead(n.localNow(), op.ID)
	}
	if op.Kind == disk.WriteFile {
		if n.writeAt != w.now {
			n.writeAt, n.writeNth = w.now, 0
		} else {
			n.writeNth++
		}
	}
	if n.crashOp == 0 && (n.armed == armDiskOp || w.faults.crashOnWrite(n, op)) {
		n.armed = armNone
		n.crashOp = op.ID
	}
	n.wakeDisk()
}

// crashArm is the moment an armed crash waits for. The windows they aim at are too short
// for crashes at random times to hit.
type crashArm uint8

const (
	armNone crashArm = iota
	// armDiskOp: while the next disk op is in flight, where durability bugs hide.
	armDiskOp
	// armAnswer: just after the node next answers a write of one API (armedWriteKeys),
	// before what it acknowledged is replicated and synced: an answer given too early is
	// lost with the node.
	armAnswer
	// armElected: just after the node next wins a quorum election, before its first
	// records reach the other voters (a leader that commits a record of an earlier
	// epoch on a count of replicas can then lose it: Raft's figure 8).
	armElected
	// armSynced: as soon as the node's next sync completes (set by armElected).
	armSynced
	// armUnsynced: after the node's next write completed and before the fsync that
	// covers it completes (the window a disk worker that reports syncs early opens).
	armUnsynced
)

// armedWriteKeys are the APIs whose answers acknowledge writes: Produce, OffsetCommit,
// CreateTopics, CreatePartitions, SyncGroup (the leader's carries the assignment the
// coordinator writes).
var armedWriteKeys = []int16{0, 8, 19, 37, 14}

// armedWindow bounds how long after its moment an armed crash of the answer or elected
// kind strikes: about one network round trip.
const armedWindow = 2 * time.Millisecond

// strike schedules an armed crash at a random moment within d from now, or, when the
// crash comes from a schedule, at the delay it recorded (kept within d); then says how
// a crash after an election strikes, for the run's schedule.
func (n *simNode) strike(d int64, then crashThen) { n.strikeBetween(0, d, then) }

// strikeBetween is strike at a moment in [lo, hi) from now (hi, at most, from a
// schedule).
func (n *simNode) strikeBetween(lo, hi int64, then crashThen) {
	w := n.w
	var delay int64
	if n.armPlan != nil {
		delay = strikeWithin(n.armPlan.Strike, hi)
	} else {
		delay = lo + w.faults.rng.Int64N(max(hi-lo, 1))
	}
	w.resolveStep(n.armRec, then, time.Duration(delay))
	c := w.schedule(w.now+delay, evCrash)
	c.node = n.spec.ID
	c.inc = n.inc
}

// scheduleTick keeps exactly one live Tick event per node, at the virtual time its local
// deadline comes due.
func (n *simNode) scheduleTick() {
	if !n.up || n.paused {
		return
	}
	d := n.m.Deadline()
	if d == core.NoDeadline {
		if n.tickAt >= 0 {
			n.tickGen++
			n.tickAt = -1
		}
		return
	}
	w := n.w
	// A deadline at or before now means "tick me now"; one microsecond later keeps a
	// node that keeps asking for the past from spinning at one instant.
	at := max(n.clock.virtual(d, w.now), w.now+int64(time.Microsecond))
	if at == n.tickAt {
		return
	}
	n.tickGen++
	n.tickAt = at
	e := w.schedule(at, evTick)
	e.node = n.spec.ID
	e.inc = n.inc
	e.gen = n.tickGen
}

// start boots a new incarnation from what the disk holds.
func (n *simNode) start() {
	w := n.w
	logCfg := w.cfg.logConfig()
	exec, rec, err := w.opts.OpenDisk(n.openFilesFS(logCfg), logCfg)
	if err != nil {
		if errors.Is(err, syscall.EIO) || errors.Is(err, syscall.ENOSPC) {
			// The disk is failing on purpose: the machine cannot boot now and tries
			// again later, as an operator would.
			w.cov.Inc("recovery:io-error")
			n.scheduleRestart(w.now + int64(100*time.Millisecond))
			return
		}
		// Recovery of a disk that only suffered faults within the budget must succeed.
		w.fail("recovery", n.spec.ID, "node %d cannot recover its disk: %v", n.spec.ID, err)
		return
	}
	if err := w.checks.truth.checkRecovered(w, n, &rec); err != nil {
		w.fail("recovery", n.spec.ID, "%v", err)
		return
	}
	cfg := n.coreConfig()
	m, err := w.opts.Machine(cfg)
	if err != nil {
		checker := "shell"
		if errors.Is(err, ErrNoNode) {
			checker = "setup" // this build cannot run the node at all
		}
		w.fail(checker, n.spec.ID, "node %d: %v", n.spec.ID, err)
		return
	}
	n.m, n.exec, n.quorumExec, n.up = m, exec, splitQuorum(exec), true
	n.resetCleanerIO()
	n.resetMoveIO()
	n.starts++
	if n.starts > 1 {
		w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultRestart, Node: n.spec.ID, Peer: -1, A: int64(n.inc)}, func() string {
			return fmt.Sprintf("node %d restarts (incarnation %d)", n.spec.ID, n.inc)
		})
		w.cov.Inc("fault:restart")
	}
	var cut int64
	for _, l := range rec.Logs {
		cut += l.BytesCut
	}
	if cut > 0 {
		w.cov.Inc("recovery:cut-tail")
	}
	if eio := n.fs.Stats().SyncEIO; eio > n.syncEIOSeen {
		n.syncEIOSeen = eio
		w.cov.Inc("recovery:after-fsync-loss")
	}
	w.record(traces.Event{Kind: traces.KindInput, Sub: traces.InStart, Node: n.spec.ID, Peer: -1, A: int64(n.inc), B: int64(len(rec.Logs)), Hash: recoveredDigest(&rec)},
		func() string {
			return fmt.Sprintf("start incarnation %d: %d logs, %d files, %d metadata bytes, %d bytes cut", n.inc, len(rec.Logs), len(rec.Files), len(rec.Metadata), cut)
		})
	w.acting = n.spec.ID
	n.unchecked = true
	m.Start(n.localNow(), rec)
	n.act()
	w.checks.afterStart(n)
	w.checks.afterStep(n)
}

// coreConfig is the node's configuration for its current incarnation.
func (n *simNode) coreConfig() core.Config { return n.w.cfg.coreConfig(n.spec, n.inc) }

// coreConfig is the configuration of node spec's incarnation inc. Limits the
// configuration does not draw (the connection bounds, the byte limits) stay zero: the
// core's defaults, which are the real node's defaults too.
func (c *Config) coreConfig(spec NodeSpec, inc uint32) core.Config {
	defaults := core.DefaultDefaults
	defaults.FlushAsync = c.Data.FlushAsync
	if c.Data.OffsetsPartitions > 0 {
		defaults.OffsetsTopicPartitions = c.Data.OffsetsPartitions
	}
	defaults.OffsetsTopicReplicationFactor = c.Data.OffsetsRF
	if c.Data.TxnStatePartitions > 0 {
		defaults.TxnTopicPartitions = c.Data.TxnStatePartitions
	}
	defaults.TxnTopicReplicationFactor = c.Data.TxnStateRF
	return core.Config{
		NodeID:    spec.ID,
		Voters:    c.Voters(),
		Broker:    spec.Broker,
		Host:      fmt.Sprintf("node-%d", spec.ID),
		ClusterID: "seedlog-sim",
		LogDir:    fmt.Sprintf("/data/node-%d", spec.ID),
		Port:      9092,
		Seed:      coreSeed(c.Seed, spec.ID, inc),
		Timing:    c.Timing,
		Defaults:  defaults,
		Plants:    c.Plants,

		MetadataSnapshotRecords:  c.SnapshotRecords,
		QuorumFetchBytesMax:      c.QuorumFetchBytesMax,
		QuorumSnapshotChunkBytes: c.QuorumSnapshotChunkBytes,
		MessageBytesMax:          c.Wide.MessageBytesMax,
		RetentionCheckInterval:   c.Wide.RetentionCheck,
		CleanerBackoff:           c.Wide.CleanerBackoff,
		CleanerStepBytes:         c.CleanerStepBytes,
		CleanerBytesPerSec:       c.CleanerBytesPerSec,
		OffsetsRetention:         c.Data.OffsetsRetention,
		TxnIDExpiration:          c.Data.TxnIDExpiration,
		TxnVersion:               c.Data.TxnVersion,
		FetchSessionSlots:        c.Data.FetchSessionSlots,
		BrokerPartitionsMax:      c.Data.BrokerPartitionsMax,
		ReplicaCreatesMax:        c.ReplicaCreatesMax,
		OffsetsRetentionCheck:    c.Data.OffsetsRetentionCheck,
		Listeners:                c.listeners(spec),
		ReauthMax:                c.Data.ReauthMax,
		Authorizer:               c.Data.Authorizer,
		SuperUsers:               superUsers(c.Data.Authorizer),

		AutoLeaderRebalance:          c.LeaderBalance.On,
		LeaderImbalancePercent:       c.LeaderBalance.Percent,
		LeaderImbalanceCheckInterval: c.LeaderBalance.Interval,
		StaticConfig:                 c.staticConfig(),
	}
}

// staticConfig is the broker-level config the nodes get from their (simulated)
// properties file.
func (c *Config) staticConfig() metadata.StaticConfig {
	if c.Data.MoveThrottle <= 0 {
		return nil
	}
	return metadata.StaticConfig{{Key: metadata.ReplicationThrottleConfig, Value: strconv.FormatInt(c.Data.MoveThrottle, 10)}}
}

// listeners are a node's client listeners: none drawn (the core's one PLAINTEXT
// listener) unless a credentials client runs, which authenticates on a second one.
func (c *Config) listeners(spec NodeSpec) []core.Listener {
	if c.Data.CredentialInterval == 0 {
		return nil
	}
	host := fmt.Sprintf("node-%d", spec.ID)
	return []core.Listener{{Name: "PLAINTEXT", Host: host, Port: 9092},
		{Name: saslListener, Host: host, Port: 9093, SecurityProtocol: 2}}
}

// crash stops the node as a power loss would: its process and every pending event of
// its incarnation are gone, its disk becomes the crash image, its connections break.
// The executor is dropped without Close: a dying machine flushes nothing.
func (n *simNode) crash(reason string) {
	w := n.w
	if !n.up {
		return
	}
	w.noteOutage(n, FailoverCrash)
	w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultCrash, Node: n.spec.ID, Peer: -1, A: int64(n.inc)}, func() string {
		return fmt.Sprintf("node %d crashes (%s)", n.spec.ID, reason)
	})
	n.down()
	n.fs = n.fs.Crash(n.crashRng)
}

// down ends the process of the current incarnation: every pending event of it goes
// stale, the outputs of inputs it took and had not drained are lost, so is the disk
// work it queued and not yet ran, and its connections break.
func (n *simNode) down() {
	w := n.w
	n.inc++
	n.up = false
	n.m, n.exec, n.quorumExec = nil, nil, nil
	n.armed = armNone
	n.shutdown = nil
	n.undrained = 0
	n.lanes, n.crashOp = newDiskLanes(w.cfg.Plants), 0
	n.creates = 0
	n.paused, n.pauseBuf, n.tickPending = false, nil, false
	n.tickGen++
	n.tickAt = -1
	for _, id := range w.sortedLinks(n.spec.ID) {
		w.breakLink(id, true)
	}
	w.checks.afterCrash(n)
}

func (n *simNode) scheduleRestart(at int64) {
	e := n.w.schedule(at, evRestart)
	e.node = n.spec.ID
	e.inc = n.inc
}

// pause stops the process until resume (at until, or by hand when until < 0); inputs
// wait in order.
func (n *simNode) pause(until int64) {
	w := n.w
	if n.undrained > 0 {
		n.drain() // the loop finishes the round it is in
		if !n.up {
			return // a fatal output crashed it
		}
	}
	w.noteOutage(n, FailoverPause)
	n.paused = true
	n.pauseGen++
	w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultPause, Node: n.spec.ID, Peer: -1, A: until}, func() string {
		if until < 0 {
			return fmt.Sprintf("node %d paused", n.spec.ID)
		}
		return fmt.Sprintf("node %d paused until %v", n.spec.ID, time.Duration(until))
	})
	if until < 0 {
		return
	}
	e := w.schedule(until, evResume)
	e.node = n.spec.ID
	e.inc = n.inc
	e.gen = n.pauseGen
}

// resume delivers the buffered inputs in order, then a tick: the node wakes with a stale
// view of the world and a clock that moved on.
func (n *simNode) resume() {
	w := n.w
	buf := n.pauseBuf
	n.paused, n.pauseBuf = false, nil
	w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultResume, Node: n.spec.ID, Peer: -1, A: int64(len(buf))}, func() string {
		return fmt.Sprintf("node %d resumes with %d buffered inputs", n.spec.ID, len(buf))
	})
	inc := n.inc
	for _, in := range buf {
		if !n.current(inc) || n.paused {
			return // a fatal output crashed it on the way
		}
		n.deliver(in)
	}
	if n.current(inc) && !n.paused {
		n.tickPending = false
		n.tickAt = -1
		n.deliver(input{kind: inTick})
	}
	if n.current(inc) && !n.paused {
		n.checkShutdown() // a controlled shutdown's timeout may have passed meanwhile
	}
}

// logPartition maps a disk log to the partition it holds, for trace filters.
func logPartition(id disk.LogID) (string, int32) {
	if id == "" {
		return "", 0
	}
	if t, p, ok := disk.ParsePartitionLog(id); ok {
		return t, p
	}
	return string(id), 0
}

// recoveredDigest hashes what recovery reported, so that the fingerprint covers it.
func recoveredDigest(r *disk.Recovered) uint64 {
	d := xxhash.New()
	var buf [8]byte
	put := func(v int64) {
		for i := range 8 {
			buf[i] = byte(v >> (8 * i))
		}
		_, _ = d.Write(buf[:])
	}
	for _, l := range r.Logs {
		_, _ = d.WriteString(string(l.ID))
		put(l.StartOffset)
		put(l.EndOffset)
		put(l.BytesCut)
		for _, e := range l.Epochs {
			put(int64(e.Epoch))
			put(e.StartOffset)
		}
	}
	for _, name := range sortedKeys(r.Files) {
		_, _ = d.WriteString(name)
		_, _ = d.Write(r.Files[name])
	}
	_, _ = d.Write(r.Metadata)
	return d.Sum64()
}

// doneHash is what the trace records of a completion's bytes: the hash of the batches a
// read returned, as bytes or as spans (whose bytes the simulator's executor keeps), 0
// without any.
func doneHash(d *disk.Done) uint64 {
	if len(d.Spans) == 0 {
		if len(d.Data) == 0 {
			return 0
		}
		return xxhash.Sum64(d.Data)
	}
	h := xxhash.New()
	for _, sp := range d.Spans {
		h.Write(sp.Data)
	}
	return h.Sum64()
}
