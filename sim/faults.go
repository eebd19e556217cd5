package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/disksim"
	"github.com/seedlog/seedlog/netsim"
	"github.com/seedlog/seedlog/storage"
	"github.com/seedlog/seedlog/traces"
)

// The fault schedule injects faults during the safety phase only, at exponential
// intervals, each time one kind among those the seed switched on.
//
// Fault budget (DESIGN.md section 1): a failure the simulator reports must be a real bug,
// so faults stay within what seedlog promises to survive.
//
//   - Crashes, restarts and pauses: any node, any time, any number at once. A crash loses
//     exactly what an unsynced disk may lose (disksim's crash rules).
//   - Partitions of every shape, clogs, loss, duplication, reordering and stream resets:
//     any time. They end at the liveness phase.
//   - EIO on write or sync and ENOSPC: any node, any time. A node that sees one must stop
//     trusting its unsynced data (fsyncgate); losing what was never synced is allowed.
//   - Corruption (a flipped bit read back, or bytes decayed at rest) is seedlog's promise
//     6 plus a survivor: the data must still exist intact elsewhere. A node that ever got
//     corruption counts as corrupted for the rest of the run, and corruption is injected
//     only while the corrupted voters stay a minority of the quorum ((V-1)/2 at most) and
//     at least one broker stays intact, and only into the controller quorum's files
//     (metadata log, quorum state, snapshots), whose every committed record lives on a
//     majority.
//   - Partition corruption (partcorrupt.go) damages synced partition data at rest, in
//     closed segments below their recovery point, on any broker: the protocol must
//     lose nothing while another in-sync copy is intact when the damage is found, and
//     must fence what no in-sync copy holds; the checkers tell the two apart (partinv.go,
//     logcheck.go). Read corruption reaches partition data too.
//   - Clock jumps: forward only, and within the drift budget (see clock.jumpBudget).
type faultSchedule struct {
	w   *World
	rng *rand.Rand
	cfg FaultConfig
	// gen invalidates the fault timer when faults stop.
	gen     uint64
	stopped bool
	// undos are the planned ends of running faults, by token.
	undos     map[uint64]func()
	nextUndo  uint64
	corrupted map[int32]bool // nodes that ever got corruption of quorum files or reads
	// partDamage is the ground truth of partition corruption (partcorrupt.go).
	partDamage partDamage
}

func newFaultSchedule(w *World) *faultSchedule {
	return &faultSchedule{
		w:          w,
		rng:        Stream(w.cfg.Seed, streamFaults, 0),
		cfg:        w.cfg.Faults,
		undos:      map[uint64]func(){},
		corrupted:  map[int32]bool{},
		partDamage: partDamage{},
	}
}

func (f *faultSchedule) start() {
	if f.w.script != nil {
		f.nextScripted()
		return
	}
	if !f.cfg.Any() {
		return
	}
	f.next()
}

func (f *faultSchedule) next() {
	d := time.Duration(f.rng.ExpFloat64() * float64(f.cfg.Interval))
	e := f.w.schedule(f.w.now+int64(d), evFault)
	e.gen = f.gen
}

// nextScripted plans the schedule's next fault step (a scripted run's fault schedule).
func (f *faultSchedule) nextScripted() {
	if _, st := f.w.script.nextFaultStep(); st != nil {
		e := f.w.schedule(int64(st.At), evFault)
		e.gen = f.gen
	}
}

// act injects one fault and plans the next.
func (f *faultSchedule) act(gen uint64) {
	if f.stopped || gen != f.gen {
		return
	}
	if s := f.w.script; s != nil {
		i, st := s.nextFaultStep()
		s.nextFault++
		s.take(i)
		if why := f.applicable(st); why != "" {
			s.skip(i, why)
		} else {
			f.apply(*st, st)
			s.applied(i)
		}
		f.nextScripted()
		return
	}
	var kinds []func() bool
	c := &f.cfg
	add := func(on bool, fn func() bool) {
		if on {
			kinds = append(kinds, fn)
		}
	}
	add(c.Crash, f.crash)
	add(c.Pause, f.pause)
	add(c.Partition, f.partition)
	add(c.Clog, f.clog)
	add(c.LinkRates, f.linkRates)
	add(c.DiskEIO, f.diskEIO)
	add(c.DiskENOSPC, f.diskENOSPC)
	add(c.ReadCorrupt, f.readCorrupt)
	add(c.AtRestCorrupt, f.atRestCorrupt)
	add(c.PartitionCorrupt, f.partitionCorrupt)
	add(c.ClockJump, f.clockJump)
	add(c.PowerLoss, f.powerLoss)
	add(c.LeaseEdge, f.leaseEdge)
	add(c.Shutdown, f.shutdown)
	if len(kinds) > 0 && !kinds[f.rng.IntN(len(kinds))]() {
		f.w.cov.Inc("fault:skipped-by-budget")
	}
	f.next()
}

// applicable says why a scripted fault step cannot apply now ("" when it can): the
// checks the fault schedule's own draws make, and the fault budget.
func (f *faultSchedule) applicable(st *Step) string {
	w := f.w
	n := w.node(st.Node)
	switch st.Kind {
	case StepCrash:
		if !n.up {
			return fmt.Sprintf("node %d is down", st.Node)
		}
	case StepArm:
		if !n.up {
			return fmt.Sprintf("node %d is down", st.Node)
		}
		if n.armed != armNone {
			return fmt.Sprintf("node %d is already armed to crash", st.Node)
		}
	case StepPause:
		if !n.up || n.paused {
			return fmt.Sprintf("node %d is not running", st.Node)
		}
	case StepShutdown:
		if !n.up || n.paused {
			return fmt.Sprintf("node %d is not running", st.Node)
		}
		if n.shutdown != nil {
			return fmt.Sprintf("node %d is already shutting down", st.Node)
		}
	case StepPowerLoss:
		if !slices.ContainsFunc(w.nodes, func(n *simNode) bool { return n.up }) {
			return "every node is down"
		}
	case StepReadCorrupt:
		if !f.mayCorrupt(n) {
			return fmt.Sprintf("corrupting node %d goes over the fault budget", st.Node)
		}
	case StepCorrupt:
		if isPartitionSegment(st.File) {
			return f.partitionTargetProblem(n, st)
		}
		if isPartitionTxnIndex(st.File) {
			return f.txnIndexTargetProblem(n, st)
		}
		if !f.mayCorrupt(n) {
			return fmt.Sprintf("corrupting node %d goes over the fault budget", st.Node)
		}
		if !isQuorumFile(st.File) {
			return fmt.Sprintf("%s is not a quorum file (the budget allows only those)", st.File)
		}
		info, err := n.fs.Stat(st.File)
		if err != nil || info.Size == 0 || info.IsDir {
			return fmt.Sprintf("node %d has no file %s to corrupt", st.Node, st.File)
		}
	case StepClockJump:
		if f.jumpBudget(n) <= 0 {
			return fmt.Sprintf("node %d's clock has no drift budget left to jump", st.Node)
		}
	case StepNet:
		for _, a := range netAddrs(&st.Net) {
			if a >= clientAddrBase && int(a-clientAddrBase) > len(w.clients) {
				return fmt.Sprintf("no client %s (yet)", addrName(a))
			}
		}
	}
	return ""
}

// apply carries out one fault step, drawn by the fault schedule or taken from a
// schedule (plan, nil when drawn), and records it in the run's schedule.
func (f *faultSchedule) apply(st Step, plan *Step) {
	w := f.w
	n := w.node(st.Node)
	switch st.Kind {
	case StepCrash:
		w.recordStep(st)
		w.cov.Inc("fault:crash")
		n.crash("crash fault")
		n.scheduleRestart(w.now + int64(st.Down))
	case StepArm:
		n.armed, n.restartAfter, n.armedKey = st.Moment, st.Down, st.Key
		n.armRec, n.armPlan = w.recordStep(st), plan
		w.cov.Inc("fault:crash-armed")
	case StepPowerLoss:
		w.recordStep(st)
		w.cov.Inc("fault:power-loss")
		for _, n := range w.nodes {
			if n.up {
				n.crash("power loss")
			}
			n.scheduleRestart(w.now + int64(st.Down))
		}
	case StepPause:
		w.recordStep(st)
		w.cov.Inc("fault:pause")
		n.pause(w.now + int64(st.For))
	case StepShutdown:
		w.recordStep(st)
		w.cov.Inc("fault:controlled-shutdown")
		n.beginShutdown(st.For, st.Down)
	case StepNet:
		f.applyNet(st)
	case StepLinkRates:
		w.recordStep(st)
		lc := w.cfg.Link
		lc.LossProb = float64(st.LossPPM) / 1e6
		lc.DupProb = float64(st.DupPPM) / 1e6
		lc.ReorderProb = float64(st.ReorderPPM) / 1e6
		lc.StreamBreakProb = float64(st.BreakPPM) / 1e6
		f.setLinks(lc)
		w.cov.Inc("fault:link-rates")
		w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultLinkRates, Node: -1, Peer: -1, A: st.LossPPM, B: st.DupPPM},
			func() string {
				return fmt.Sprintf("links lossy: loss %s dup %s reorder %s stream-break %s", ppm(st.LossPPM), ppm(st.DupPPM), ppm(st.ReorderPPM), ppm(st.BreakPPM))
			})
		f.planUndo(st.For, f.quietLinks)
	case StepDiskEIO:
		w.recordStep(st)
		f.diskFaultOn(n, "disk-eio", disksim.Faults{
			WriteEIOProb:   float64(st.WriteEIOPPM) / 1e6,
			SyncEIOProb:    float64(st.SyncEIOPPM) / 1e6,
			SyncDirEIOProb: float64(st.SyncEIOPPM) / 1e6,
		}, st.WriteEIOPPM+st.SyncEIOPPM, 0, st.For)
	case StepDiskENOSPC:
		w.recordStep(st)
		f.diskFaultOn(n, "disk-enospc", disksim.Faults{ENOSPCProb: float64(st.ENOSPCPPM) / 1e6}, 0, st.ENOSPCPPM, st.For)
	case StepReadCorrupt:
		w.recordStep(st)
		f.corrupted[n.spec.ID] = true
		f.diskFaultOn(n, "read-corrupt", disksim.Faults{ReadCorruptProb: float64(st.ReadCorruptPPM) / 1e6}, 0, 0, st.For)
	case StepCorrupt:
		if isPartitionSegment(st.File) {
			f.applyPartitionCorrupt(st, n)
			break
		}
		if isPartitionTxnIndex(st.File) {
			f.applyTxnIndexCorrupt(st, n)
			break
		}
		f.applyCorrupt(st, n)
	case StepClockJump:
		if plan != nil {
			st.By = min(st.By, f.jumpBudget(n))
		}
		w.recordStep(st)
		n.clock.jump(w.now, st.By)
		w.cov.Inc("fault:clock-jump")
		w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultClockJump, Node: n.spec.ID, Peer: -1, A: int64(st.By)},
			func() string { return fmt.Sprintf("node %d clock jumps forward %v", n.spec.ID, st.By) })
		if n.up && !n.paused {
			// The node's deadline moved closer in virtual time.
			n.tickAt = -2
			n.scheduleTick()
		}
	default:
		panic(fmt.Sprintf("sim: step %v is not applied by the fault schedule", st.Kind))
	}
}

// planUndo schedules fn at the end of a fault.
func (f *faultSchedule) planUndo(after time.Duration, fn func()) {
	f.nextUndo++
	f.undos[f.nextUndo] = fn
	e := f.w.schedule(f.w.now+int64(after), evFaultUndo)
	e.token = f.nextUndo
}

func (f *faultSchedule) undo(tok uint64) {
	fn, ok := f.undos[tok]
	if !ok {
		return
	}
	delete(f.undos, tok)
	fn()
}

func (f *faultSchedule) upNodes() []*simNode {
	var out []*simNode
	for _, n := range f.w.nodes {
		if n.up && !n.paused {
			out = append(out, n)
		}
	}
	return out
}

func (f *faultSchedule) pick(nodes []*simNode) *simNode {
	if len(nodes) == 0 {
		return nil
	}
	return nodes[f.rng.IntN(len(nodes))]
}

func (f *faultSchedule) duration(limit time.Duration) time.Duration {
	if d, ok := f.edgeDuration(); ok {
		return d
	}
	return time.Duration(1 + f.rng.Int64N(int64(limit)))
}

// crash crashes a node now or, half of the time, arms it to crash at a chosen kind of
// moment (crashArm): while its next disk op is in flight, between its next write and
// the fsync that covers it, just after it next answers clients (an OffsetCommit or
// SyncGroup on a group coordinator), or just after it next wins a quorum election.
func (f *faultSchedule) crash() bool {
	n := f.pick(f.upNodes())
	if leader, ok := f.w.View().QuorumLeader(); ok && f.rng.IntN(2) == 0 {
		// Leaders are where elections and truncations start: crash them often.
		if l := f.w.node(leader); l.up && !l.paused {
			n = l
		}
	} else if l := f.partitionLeader(); l != nil {
		n = l
	}
	if n == nil || n.armed != armNone {
		return false
	}
	st := Step{Kind: StepCrash, Node: n.spec.ID, Down: f.duration(f.cfg.DowntimeMax)}
	if r := f.rng.IntN(6); r >= 3 {
		st.Kind, st.Moment = StepArm, armDiskOp+crashArm(r-3)
		if st.Moment == armElected && !n.spec.Voter {
			st.Moment = armAnswer
		}
		// The key is drawn for every armed crash; armAnswer waits for its answer, and
		// it splits the crashes on a disk op between an op in flight and the window
		// between a write and its fsync.
		i := f.rng.IntN(len(armedWriteKeys))
		switch st.Moment {
		case armAnswer:
			st.Key = armedWriteKeys[i]
			if c := f.coordinator(); (st.Key == 8 || st.Key == 14) && c != nil {
				// Only a group coordinator, the leader of an offsets partition, answers
				// these.
				st.Node = c.spec.ID
			}
			if len(f.w.cfg.Data.TxnProducers) > 0 && f.rng.IntN(2) == 0 {
				// In seeds with transactions, half of these wait for an EndTxn answer of
				// a transaction coordinator: an end acknowledged before it is durable is
				// lost with the node. (Drawn only there, so that other seeds' draws stay.)
				if c := f.txnCoordinator(); c != nil {
					st.Key, st.Node = endTxnKey, c.spec.ID
				}
			}
		case armDiskOp:
			if i%2 == 1 {
				st.Moment = armUnsynced
			}
		}
	}
	f.apply(st, nil)
	return true
}

// coordinator returns the up, unpaused node with the lowest id that leads an offsets
// partition, nil when none does.
func (f *faultSchedule) coordinator() *simNode {
	d := f.w.checks.data
	if d == nil {
		return nil
	}
	for i, reps := range d.replicas {
		n := f.w.nodes[i]
		if !n.up || n.paused || n.armed != armNone {
			continue
		}
		if slices.ContainsFunc(reps, func(r ReplicaView) bool { return r.Topic == coreOffsetsTopic && r.Leader && !r.Closed }) {
			return n
		}
	}
	return nil
}

// txnCoordinator returns the up, unpaused node with the lowest id that leads the
// transaction state partition of one of the run's transactional ids.
func (f *faultSchedule) txnCoordinator() *simNode {
	d := f.w.checks.data
	if d == nil {
		return nil
	}
	parts := f.w.cfg.Data.txnCoordinatorPartitions()
	for i, reps := range d.replicas {
		n := f.w.nodes[i]
		if !n.up || n.paused || n.armed != armNone {
			continue
		}
		if slices.ContainsFunc(reps, func(r ReplicaView) bool {
			return r.Topic == coreTxnTopic && r.Leader && !r.Closed && slices.Contains(parts, r.Partition)
		}) {
			return n
		}
	}
	return nil
}

// endTxnKey is EndTxn's API key.
const endTxnKey = 26

// powerLoss crashes every node at once, as a power loss in one data center would, and
// restarts them together: whatever no disk synced is gone everywhere.
func (f *faultSchedule) powerLoss() bool {
	up := 0
	for _, n := range f.w.nodes {
		if n.up {
			up++
		}
	}
	if up == 0 {
		return false
	}
	f.apply(Step{Kind: StepPowerLoss, Down: f.duration(f.cfg.DowntimeMax)}, nil)
	return true
}

// shutdown sends a running node a SIGTERM (shutdown.go): it stops once its leaderships
// moved away or its controlled shutdown timed out, and restarts after a downtime.
func (f *faultSchedule) shutdown() bool {
	var able []*simNode
	for _, n := range f.upNodes() {
		if n.shutdown == nil {
			able = append(able, n)
		}
	}
	n := f.pick(able)
	if n == nil {
		return false
	}
	f.apply(Step{Kind: StepShutdown, Node: n.spec.ID, For: f.cfg.ShutdownTimeout, Down: f.duration(f.cfg.DowntimeMax)}, nil)
	return true
}

func (f *faultSchedule) pause() bool {
	n := f.pick(f.upNodes())
	if n == nil {
		return false
	}
	f.apply(Step{Kind: StepPause, Node: n.spec.ID, For: f.duration(f.cfg.DowntimeMax)}, nil)
	return true
}

// partition cuts the network in one of several shapes, for a while.
func (f *faultSchedule) partition() bool {
	w := f.w
	nodes := w.cfg.Nodes
	if len(nodes) < 2 {
		return false
	}
	addr := func(i int) netsim.Addr { return netsim.Addr(nodes[i].ID) }
	perm := f.rng.Perm(len(nodes))
	var fault netsim.Fault
	switch shape := f.rng.IntN(6); {
	case shape == 5:
		// Cut the quorum leader off: the minority side keeps a leader that must stop
		// acting as one, the majority elects another.
		leader, ok := w.View().QuorumLeader()
		if !ok {
			return false
		}
		fault = netsim.Isolate(netsim.Addr(leader))
	case shape == 0:
		fault = netsim.Isolate(addr(perm[0]))
	case shape == 1 || (shape == 3 && len(nodes) < 3):
		k := 1 + f.rng.IntN(len(nodes)-1)
		var side []netsim.Addr
		for _, i := range perm[:k] {
			side = append(side, addr(i))
		}
		// Sometimes clients join a side and lose the other half too.
		for _, c := range w.clients {
			if f.rng.IntN(3) == 0 {
				side = append(side, c.addr)
			}
		}
		fault = netsim.Split(side...)
	case shape == 2:
		fault = netsim.CutOneWay(addr(perm[0]), addr(perm[1]))
	case shape == 3:
		bridge := addr(perm[0])
		k := 1 + f.rng.IntN(len(nodes)-2)
		var left, right []netsim.Addr
		for j, i := range perm[1:] {
			if j < k {
				left = append(left, addr(i))
			} else {
				right = append(right, addr(i))
			}
		}
		fault = netsim.Bridge(left, bridge, right)
	default:
		if len(w.clients) == 0 {
			return false
		}
		fault = netsim.Isolate(w.clients[f.rng.IntN(len(w.clients))].addr)
	}
	f.apply(Step{Kind: StepNet, Net: fault, For: f.duration(f.cfg.PartitionMax)}, nil)
	return true
}

// applyNet applies a network fault step: a cut until For has passed (its end heals the
// whole network), or a clog of one link for For.
func (f *faultSchedule) applyNet(st Step) {
	w := f.w
	fault := st.Net
	w.recordStep(st)
	if fault.Kind == netsim.FaultClog {
		a, b := fault.From, fault.To
		until := w.now + int64(st.For)
		w.cov.Inc("fault:clog")
		w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultClog, Node: int32(a), Peer: int32(b), A: until},
			func() string { return netsim.Clog(a, b, netsim.Time(until)).String() })
		w.brokenByFault(w.net.Apply(netsim.Time(w.now), netsim.Clog(a, b, netsim.Time(until))))
		return
	}
	w.cov.Inc("fault:partition")
	if fault.Kind == netsim.FaultIsolate && fault.A < clientAddrBase {
		// Only a node cut off alone is taken out of service: on a side of a split it may
		// still reach a majority.
		w.noteOutage(w.node(int32(fault.A)), FailoverIsolate)
	}
	w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultPartition, Node: -1, Peer: -1, Hash: xxhash.Sum64String(fault.String())},
		func() string { return fault.String() })
	w.brokenByFault(w.net.Apply(netsim.Time(w.now), fault))
	f.planUndo(st.For, f.heal)
}

// heal removes every cut and clog (netsim heals all at once).
func (f *faultSchedule) heal() {
	w := f.w
	w.net.Heal(netsim.Time(w.now))
	w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultHeal, Node: -1, Peer: -1}, func() string { return "network healed" })
}

func (f *faultSchedule) clog() bool {
	w := f.w
	if len(w.cfg.Nodes) < 2 && len(w.clients) == 0 {
		return false
	}
	ends := f.addrs()
	a := ends[f.rng.IntN(len(ends))]
	b := ends[f.rng.IntN(len(ends))]
	if a == b || (a >= clientAddrBase && b >= clientAddrBase) {
		return false
	}
	f.apply(Step{Kind: StepNet, Net: netsim.Clog(a, b, 0), For: f.duration(f.cfg.PartitionMax)}, nil)
	return true
}

// addrs lists every node and client address.
func (f *faultSchedule) addrs() []netsim.Addr {
	var out []netsim.Addr
	for _, n := range f.w.nodes {
		out = append(out, n.addr)
	}
	for _, c := range f.w.clients {
		out = append(out, c.addr)
	}
	return out
}

// linkRates makes every link lossy for a while.
func (f *faultSchedule) linkRates() bool {
	c := &f.cfg
	f.apply(Step{Kind: StepLinkRates, LossPPM: c.LossPPM, DupPPM: c.DupPPM, ReorderPPM: c.ReorderPPM, BreakPPM: c.StreamBreakPPM,
		For: f.duration(f.cfg.PartitionMax)}, nil)
	return true
}

func (f *faultSchedule) quietLinks() {
	f.setLinks(f.w.cfg.Link)
	f.w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultLinkRates, Node: -1, Peer: -1}, func() string { return "links quiet" })
}

func (f *faultSchedule) setLinks(lc netsim.LinkConfig) {
	addrs := f.addrs()
	for _, a := range addrs {
		for _, b := range addrs {
			if a != b && (a < clientAddrBase || b < clientAddrBase) {
				if err := f.w.net.SetLink(a, b, lc); err != nil {
					panic(err)
				}
			}
		}
	}
}

// diskFaultOn switches disk faults on for one node for a while; a and b go to the
// trace event.
func (f *faultSchedule) diskFaultOn(n *simNode, kind string, faults disksim.Faults, a, b int64, d time.Duration) {
	w := f.w
	w.cov.Inc("fault:" + kind)
	n.fs.SetFaults(faults)
	w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultDisk, Node: n.spec.ID, Peer: -1, A: a, B: b},
		func() string { return fmt.Sprintf("node %d disk faults: %s", n.spec.ID, kind) })
	id := n.spec.ID
	f.planUndo(d, func() { f.quietDisk(id) })
}

// quietDisk switches a node's disk faults off (the node's current disk: a crash
// carries the faults over to the crash image).
func (f *faultSchedule) quietDisk(id int32) {
	n := f.w.node(id)
	n.fs.SetFaults(disksim.Faults{})
	f.w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultDisk, Node: id, Peer: -1}, func() string {
		return fmt.Sprintf("node %d disk faults off", id)
	})
}

func (f *faultSchedule) diskEIO() bool {
	n := f.pick(f.upNodes())
	if n == nil {
		return false
	}
	f.apply(Step{Kind: StepDiskEIO, Node: n.spec.ID, WriteEIOPPM: f.cfg.WriteEIOPPM, SyncEIOPPM: f.cfg.SyncEIOPPM,
		For: f.duration(f.cfg.PartitionMax)}, nil)
	return true
}

func (f *faultSchedule) diskENOSPC() bool {
	n := f.pick(f.upNodes())
	if n == nil {
		return false
	}
	f.apply(Step{Kind: StepDiskENOSPC, Node: n.spec.ID, ENOSPCPPM: f.cfg.ENOSPCPPM, For: f.duration(f.cfg.PartitionMax)}, nil)
	return true
}

// mayCorrupt says whether corrupting node n stays within the budget: corrupted voters
// stay a minority of the quorum, and at least one broker stays intact (a node whose
// metadata files are corrupt may be unable to start at all; the cluster must still be
// able to serve).
func (f *faultSchedule) mayCorrupt(n *simNode) bool {
	if f.corrupted[n.spec.ID] {
		return true
	}
	count := func(ids []int32) int {
		bad := 0
		for _, id := range ids {
			if f.corrupted[id] {
				bad++
			}
		}
		return bad
	}
	if voters := f.w.cfg.Voters(); n.spec.Voter && count(voters)+1 > (len(voters)-1)/2 {
		return false
	}
	if brokers := f.w.cfg.Brokers(); n.spec.Broker && count(brokers)+1 > len(brokers)-1 {
		return false
	}
	return true
}

func (f *faultSchedule) corruptible() []*simNode {
	var out []*simNode
	for _, n := range f.upNodes() {
		if f.mayCorrupt(n) {
			out = append(out, n)
		}
	}
	return out
}

func (f *faultSchedule) readCorrupt() bool {
	n := f.pick(f.corruptible())
	if n == nil {
		return false
	}
	f.apply(Step{Kind: StepReadCorrupt, Node: n.spec.ID, ReadCorruptPPM: f.cfg.ReadCorruptPPM, For: f.duration(f.cfg.PartitionMax)}, nil)
	return true
}

// atRestCorrupt flips bits in one of a node's quorum files.
func (f *faultSchedule) atRestCorrupt() bool {
	n := f.pick(f.corruptible())
	if n == nil {
		return false
	}
	files := quorumFiles(n.fs)
	if len(files) == 0 {
		return false
	}
	name := files[f.rng.IntN(len(files))]
	info, err := n.fs.Stat(name)
	if err != nil || info.Size == 0 {
		return false
	}
	off := f.rng.Int64N(info.Size)
	size := 1 + f.rng.IntN(int(min(8, info.Size-off)))
	f.apply(Step{Kind: StepCorrupt, Node: n.spec.ID, File: name, Offset: off, Bytes: size}, nil)
	return true
}

// applyCorrupt corrupts bytes of a file at rest, kept within the file.
func (f *faultSchedule) applyCorrupt(st Step, n *simNode) {
	w := f.w
	if info, err := n.fs.Stat(st.File); err == nil {
		st.Offset = min(st.Offset, info.Size-1)
		st.Bytes = max(min(st.Bytes, int(info.Size-st.Offset)), 1)
	}
	name, off, size := st.File, st.Offset, st.Bytes
	if err := n.fs.CorruptAtRest(name, off, size); err != nil {
		panic(err)
	}
	w.recordStep(st)
	f.corrupted[n.spec.ID] = true
	w.cov.Inc("fault:at-rest-corrupt")
	w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultCorrupt, Node: n.spec.ID, Peer: -1, A: off, B: int64(size), Hash: xxhash.Sum64String(name)},
		func() string {
			return fmt.Sprintf("node %d: %d bytes corrupted at rest in %s at %d", n.spec.ID, size, name, off)
		})
}

// quorumFiles lists the files of the controller quorum on a disk, sorted: the metadata
// log's directory and the small files beside it.
func quorumFiles(fsys storage.FS) []string {
	var out []string
	var walk func(dir string)
	walk = func(dir string) {
		names, err := fsys.List(dir)
		if err != nil {
			return
		}
		for _, name := range names {
			p := name
			if dir != "" && dir != "." {
				p = dir + "/" + name
			}
			info, err := fsys.Stat(p)
			if err != nil {
				continue
			}
			if info.IsDir {
				walk(p)
				continue
			}
			if isQuorumFile(p) {
				out = append(out, p)
			}
		}
	}
	walk(".")
	slices.Sort(out)
	return out
}

func isQuorumFile(p string) bool {
	return strings.Contains(p, string(disk.MetadataLog)+"/") || strings.Contains(p, "quorum-state") ||
		strings.Contains(p, "metadata.snapshot")
}

func (f *faultSchedule) clockJump() bool {
	w := f.w
	var able []*simNode
	var budgets []time.Duration
	window := min(w.cfg.Timing.LeaseDuration, w.cfg.Timing.ElectionTimeout)
	driftMaxPPM := int64(w.cfg.Timing.ClockDriftMax * ppmScale)
	for _, n := range w.nodes {
		if b := n.clock.jumpBudget(w.now, driftMaxPPM, window); b > 0 {
			able = append(able, n)
			budgets = append(budgets, b)
		}
	}
	if len(able) == 0 {
		return false
	}
	i := f.rng.IntN(len(able))
	n := able[i]
	d := time.Duration(1 + f.rng.Int64N(int64(budgets[i])))
	f.apply(Step{Kind: StepClockJump, Node: n.spec.ID, By: d}, nil)
	return true
}

// jumpBudget is how far node n's clock may jump now.
func (f *faultSchedule) jumpBudget(n *simNode) time.Duration {
	t := &f.w.cfg.Timing
	return n.clock.jumpBudget(f.w.now, int64(t.ClockDriftMax*ppmScale), min(t.LeaseDuration, t.ElectionTimeout))
}

// afterElection crashes a node that just won a quorum election when it was armed to
// (armElected), when a storm decides so (ElectedCrashPPM) or when the schedule says so:
// half of the time at once, half once its next sync made its first records durable (a
// leader whose records are durable only on its own disk is the start of figure 8).
func (f *faultSchedule) afterElection(n *simNode) {
	if !f.crashAfterElection(n) {
		return
	}
	f.w.cov.Inc("fault:crash-after-election")
	then := thenNow
	if n.armPlan != nil {
		if n.armPlan.Then == thenSync {
			then = thenSync
		}
	} else if f.rng.IntN(2) != 0 {
		then = thenSync
	}
	if then == thenNow {
		n.armed = armNone
		n.strike(int64(armedWindow), thenNow)
		return
	}
	n.armed = armSynced
	f.w.resolveStep(n.armRec, thenSync, 0)
}

// afterTakeover runs when node n noted that it leads a data partition (text is the
// note's): when n took the leadership over from an earlier epoch, it may crash right
// after, so that the partition fails over again at once (TakeoverCrashPPM, or a
// scheduled step).
func (f *faultSchedule) afterTakeover(n *simNode, text string) {
	if f.stopped || n.armed != armNone || !f.takeover(text) {
		return
	}
	if s := f.w.script; s != nil {
		i, st := s.crashAtTakeover(n)
		if st == nil {
			return
		}
		s.applied(i)
		n.restartAfter = st.Down
		n.armRec, n.armPlan = f.w.recordStep(Step{Kind: StepCrashAtTakeover, Node: n.spec.ID, Down: st.Down}), st
	} else {
		if f.rng.Int64N(1_000_000) >= f.cfg.TakeoverCrashPPM {
			return
		}
		n.restartAfter = f.duration(f.cfg.DowntimeMax)
		n.armRec, n.armPlan = f.w.recordStep(Step{Kind: StepCrashAtTakeover, Node: n.spec.ID, Down: n.restartAfter}), nil
	}
	f.w.cov.Inc("fault:crash-after-takeover")
	n.strike(int64(armedWindow), thenUnknown)
}

// takeover reports whether a partition leader note (core's "replica-leader": the log,
// then "epoch N ...") is about a data partition in an epoch after its first.
func (f *faultSchedule) takeover(text string) bool {
	if f.w.script == nil && f.cfg.TakeoverCrashPPM == 0 {
		return false
	}
	log, rest, ok := strings.Cut(text, ": ")
	topic, _, isPart := disk.ParsePartitionLog(disk.LogID(log))
	var epoch int32
	if _, err := fmt.Sscanf(rest, "epoch %d", &epoch); !ok || !isPart || err != nil || epoch == 0 {
		return false
	}
	_, data := f.w.cfg.Data.topic(topic)
	return data
}

// crashAfterElection decides whether a node that just won a quorum election crashes
// right after (armElected, or ElectedCrashPPM in a storm, or a scheduled step); it sets
// the downtime.
func (f *faultSchedule) crashAfterElection(n *simNode) bool {
	if f.stopped {
		return false
	}
	if n.armed == armElected {
		return true
	}
	if s := f.w.script; s != nil {
		if n.armed != armNone {
			return false
		}
		i, st := s.crashAtElection(n)
		if st == nil {
			return false
		}
		s.applied(i)
		n.restartAfter = st.Down
		n.armRec, n.armPlan = f.w.recordStep(Step{Kind: StepCrashAtElection, Node: n.spec.ID, Down: st.Down}), st
		return true
	}
	if !f.cfg.Storm || n.armed != armNone || f.rng.Int64N(1_000_000) >= f.cfg.ElectedCrashPPM {
		return false
	}
	n.restartAfter = f.duration(f.cfg.DowntimeMax)
	n.armRec, n.armPlan = f.w.recordStep(Step{Kind: StepCrashAtElection, Node: n.spec.ID, Down: n.restartAfter}), nil
	return true
}

// crashOnWrite decides whether a node crashes while op is in flight (CrashOnWrite, or a
// scheduled step); it sets the short downtime that follows.
func (f *faultSchedule) crashOnWrite(n *simNode, op disk.Op) bool {
	if s := f.w.script; s != nil {
		if f.stopped || op.Kind != disk.WriteFile {
			return false
		}
		i, st := s.crashOnWrite(n)
		if st == nil {
			return false
		}
		s.applied(i)
		n.restartAfter = st.Down
		f.w.cov.Inc("fault:crash-on-write")
		n.armRec, n.armPlan = f.w.recordStep(Step{Kind: StepCrashOnWrite, Node: n.spec.ID, Down: st.Down, Nth: n.writeNth}), st
		return true
	}
	if !f.cfg.CrashOnWrite || f.stopped || op.Kind != disk.WriteFile || f.rng.Int64N(1_000_000) >= f.cfg.CrashOnWritePPM {
		return false
	}
	// Back soon: a process that dies mid-write and restarts at once, while the rest of
	// the cluster still acts on what it sent.
	n.restartAfter = time.Duration(1 + f.rng.Int64N(int64(2*f.w.cfg.Timing.ElectionTimeout)))
	f.w.cov.Inc("fault:crash-on-write")
	n.armRec, n.armPlan = f.w.recordStep(Step{Kind: StepCrashOnWrite, Node: n.spec.ID, Down: n.restartAfter, Nth: n.writeNth}), nil
	return true
}

// chooseLeftDown picks the brokers the liveness phase keeps down, up to
// LivenessDown: those already down first, then others at random. The choice keeps a
// majority of the voters up and uncorrupted (corrupted voters recover only from a
// leader), fewer than half of the brokers down, an uncorrupted broker up, and enough
// brokers up for every data topic's replication factor.
func (f *faultSchedule) chooseLeftDown() []int32 {
	w := f.w
	if s := w.script; s != nil {
		var chosen []int32
		for _, id := range s.leftDown() {
			if w.node(id).spec.Broker && f.mayLeaveDown(append(slices.Clone(chosen), id)) {
				chosen = append(chosen, id)
			}
		}
		if len(chosen) > 0 {
			w.recordStep(Step{Kind: StepLeaveDown, Nodes: chosen})
		}
		return chosen
	}
	want := f.cfg.LivenessDown
	if want <= 0 {
		return nil
	}
	var down, up []int32
	for _, id := range w.cfg.Brokers() {
		if w.node(id).up {
			up = append(up, id)
		} else {
			down = append(down, id)
		}
	}
	f.rng.Shuffle(len(up), func(i, j int) { up[i], up[j] = up[j], up[i] })
	var chosen []int32
	for _, id := range append(down, up...) {
		if len(chosen) == want {
			break
		}
		if f.mayLeaveDown(append(chosen, id)) {
			chosen = append(chosen, id)
		}
	}
	slices.Sort(chosen)
	if len(chosen) > 0 {
		w.recordStep(Step{Kind: StepLeaveDown, Nodes: chosen})
	}
	return chosen
}

// mayLeaveDown reports whether keeping the brokers ids down stays within the budget of
// chooseLeftDown.
func (f *faultSchedule) mayLeaveDown(ids []int32) bool {
	w := f.w
	brokers, voters := w.cfg.Brokers(), w.cfg.Voters()
	if len(ids) > (len(brokers)-1)/2 {
		return false
	}
	for _, t := range w.cfg.Data.Topics {
		// A data topic whose creation was not confirmed yet must still be creatable.
		if len(brokers)-len(ids) < int(t.RF) {
			return false
		}
	}
	unhealthy := 0
	for _, v := range voters {
		if slices.Contains(ids, v) || f.corrupted[v] {
			unhealthy++
		}
	}
	if unhealthy > (len(voters)-1)/2 {
		return false
	}
	for _, b := range brokers {
		if !slices.Contains(ids, b) && !f.corrupted[b] {
			return true
		}
	}
	return false
}

// stopAll ends the safety phase's faults: the network heals and goes quiet, disks stop
// failing, crashed nodes restart and paused ones resume, now, except the brokers the
// liveness phase leaves down (Faults.LivenessDown), which crash now if they are up.
func (f *faultSchedule) stopAll() {
	w := f.w
	f.stopped = true
	f.gen++
	clear(f.undos)
	w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultStop, Node: -1, Peer: -1}, func() string { return "faults stop" })
	w.net.Heal(netsim.Time(w.now))
	f.setLinks(w.cfg.Link)
	for _, n := range w.nodes {
		n.fs.SetFaults(disksim.Faults{})
		n.armed, n.crashOp = armNone, 0
		if n.shutdown != nil && n.up {
			// A controlled shutdown still under way ends now, and the node restarts
			// with the others: the liveness phase waits for no fault.
			n.shutdown.down = -1
			n.stopClean(false)
		}
	}
	for _, id := range f.chooseLeftDown() {
		n := w.node(id)
		n.leftDown = true
		w.cov.Inc("liveness:broker-left-down")
		w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultCrash, Node: id, Peer: -1, A: int64(n.inc)}, func() string {
			return fmt.Sprintf("node %d stays down for the liveness phase", id)
		})
		if n.up {
			n.crash("left down for the liveness phase")
		}
	}
	for _, n := range w.nodes {
		switch {
		case n.leftDown:
		case !n.up:
			n.scheduleRestart(w.now)
		case n.paused:
			e := w.schedule(w.now, evResume)
			e.node = n.spec.ID
			e.inc = n.inc
			e.gen = n.pauseGen
		}
	}
}
