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
//     majority. Partition data gets no corruption until partitions replicate (a later
//     rule bounds it by the ISR).
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
	corrupted map[int32]bool // nodes that ever got corruption
}

func newFaultSchedule(w *World) *faultSchedule {
	return &faultSchedule{
		w:         w,
		rng:       Stream(w.cfg.Seed, streamFaults, 0),
		cfg:       w.cfg.Faults,
		undos:     map[uint64]func(){},
		corrupted: map[int32]bool{},
	}
}

func (f *faultSchedule) start() {
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

// act injects one fault and plans the next.
func (f *faultSchedule) act(gen uint64) {
	if f.stopped || gen != f.gen {
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
	add(c.ClockJump, f.clockJump)
	add(c.PowerLoss, f.powerLoss)
	if len(kinds) > 0 && !kinds[f.rng.IntN(len(kinds))]() {
		f.w.cov.Inc("fault:skipped-by-budget")
	}
	f.next()
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
	return time.Duration(1 + f.rng.Int64N(int64(limit)))
}

// crash crashes a node now or, half of the time, arms it to crash at a chosen kind of
// moment (crashArm): while its next disk op is in flight, just after it next answers
// clients, or just after it next wins a quorum election.
func (f *faultSchedule) crash() bool {
	n := f.pick(f.upNodes())
	if leader, ok := f.w.View().QuorumLeader(); ok && f.rng.IntN(2) == 0 {
		// Leaders are where elections and truncations start: crash them often.
		if l := f.w.node(leader); l.up && !l.paused {
			n = l
		}
	}
	if n == nil || n.armed != armNone {
		return false
	}
	downtime := f.duration(f.cfg.DowntimeMax)
	if r := f.rng.IntN(6); r >= 3 {
		n.armed, n.restartAfter = armDiskOp+crashArm(r-3), downtime
		if n.armed == armElected && !n.spec.Voter {
			n.armed = armAnswer
		}
		n.armedKey = armedWriteKeys[f.rng.IntN(len(armedWriteKeys))]
		f.w.cov.Inc("fault:crash-armed")
		return true
	}
	f.w.cov.Inc("fault:crash")
	n.crash("crash fault")
	n.scheduleRestart(f.w.now + int64(downtime))
	return true
}

// powerLoss crashes every node at once, as a power loss in one data center would, and
// restarts them together: whatever no disk synced is gone everywhere.
func (f *faultSchedule) powerLoss() bool {
	w := f.w
	up := 0
	for _, n := range w.nodes {
		if n.up {
			up++
		}
	}
	if up == 0 {
		return false
	}
	w.cov.Inc("fault:power-loss")
	downtime := f.duration(f.cfg.DowntimeMax)
	for _, n := range w.nodes {
		if n.up {
			n.crash("power loss")
		}
		n.scheduleRestart(w.now + int64(downtime))
	}
	return true
}

func (f *faultSchedule) pause() bool {
	n := f.pick(f.upNodes())
	if n == nil {
		return false
	}
	f.w.cov.Inc("fault:pause")
	n.pause(f.w.now + int64(f.duration(f.cfg.DowntimeMax)))
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
	w.cov.Inc("fault:partition")
	w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultPartition, Node: -1, Peer: -1, Hash: xxhash.Sum64String(fault.String())},
		func() string { return fault.String() })
	w.brokenByFault(w.net.Apply(netsim.Time(w.now), fault))
	f.planUndo(f.duration(f.cfg.PartitionMax), f.heal)
	return true
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
	until := w.now + int64(f.duration(f.cfg.PartitionMax))
	w.cov.Inc("fault:clog")
	w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultClog, Node: int32(a), Peer: int32(b), A: until},
		func() string { return netsim.Clog(a, b, netsim.Time(until)).String() })
	w.brokenByFault(w.net.Apply(netsim.Time(w.now), netsim.Clog(a, b, netsim.Time(until))))
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
	lc := f.w.cfg.Link
	lc.LossProb = float64(f.cfg.LossPPM) / 1e6
	lc.DupProb = float64(f.cfg.DupPPM) / 1e6
	lc.ReorderProb = float64(f.cfg.ReorderPPM) / 1e6
	lc.StreamBreakProb = float64(f.cfg.StreamBreakPPM) / 1e6
	f.setLinks(lc)
	f.w.cov.Inc("fault:link-rates")
	f.w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultLinkRates, Node: -1, Peer: -1, A: f.cfg.LossPPM, B: f.cfg.DupPPM},
		func() string {
			return fmt.Sprintf("links lossy: loss %s dup %s reorder %s stream-break %s", ppm(f.cfg.LossPPM), ppm(f.cfg.DupPPM), ppm(f.cfg.ReorderPPM), ppm(f.cfg.StreamBreakPPM))
		})
	f.planUndo(f.duration(f.cfg.PartitionMax), f.quietLinks)
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

// diskFault switches disk faults on for one node for a while.
func (f *faultSchedule) diskFault(kind string, faults disksim.Faults, a, b int64) bool {
	n := f.pick(f.upNodes())
	if n == nil {
		return false
	}
	w := f.w
	w.cov.Inc("fault:" + kind)
	n.fs.SetFaults(faults)
	w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultDisk, Node: n.spec.ID, Peer: -1, A: a, B: b},
		func() string { return fmt.Sprintf("node %d disk faults: %s", n.spec.ID, kind) })
	id := n.spec.ID
	f.planUndo(f.duration(f.cfg.PartitionMax), func() { f.quietDisk(id) })
	return true
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
	return f.diskFault("disk-eio", disksim.Faults{
		WriteEIOProb:   float64(f.cfg.WriteEIOPPM) / 1e6,
		SyncEIOProb:    float64(f.cfg.SyncEIOPPM) / 1e6,
		SyncDirEIOProb: float64(f.cfg.SyncEIOPPM) / 1e6,
	}, f.cfg.WriteEIOPPM+f.cfg.SyncEIOPPM, 0)
}

func (f *faultSchedule) diskENOSPC() bool {
	return f.diskFault("disk-enospc", disksim.Faults{ENOSPCProb: float64(f.cfg.ENOSPCPPM) / 1e6}, 0, f.cfg.ENOSPCPPM)
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
	f.corrupted[n.spec.ID] = true
	return f.diskFaultOn(n, "read-corrupt", disksim.Faults{ReadCorruptProb: float64(f.cfg.ReadCorruptPPM) / 1e6})
}

func (f *faultSchedule) diskFaultOn(n *simNode, kind string, faults disksim.Faults) bool {
	w := f.w
	w.cov.Inc("fault:" + kind)
	n.fs.SetFaults(faults)
	w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultDisk, Node: n.spec.ID, Peer: -1},
		func() string { return fmt.Sprintf("node %d disk faults: %s", n.spec.ID, kind) })
	id := n.spec.ID
	f.planUndo(f.duration(f.cfg.PartitionMax), func() { f.quietDisk(id) })
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
	if err := n.fs.CorruptAtRest(name, off, size); err != nil {
		panic(err)
	}
	f.corrupted[n.spec.ID] = true
	w := f.w
	w.cov.Inc("fault:at-rest-corrupt")
	w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultCorrupt, Node: n.spec.ID, Peer: -1, A: off, B: int64(size), Hash: xxhash.Sum64String(name)},
		func() string {
			return fmt.Sprintf("node %d: %d bytes corrupted at rest in %s at %d", n.spec.ID, size, name, off)
		})
	return true
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
	n.clock.jump(w.now, d)
	w.cov.Inc("fault:clock-jump")
	w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultClockJump, Node: n.spec.ID, Peer: -1, A: int64(d)},
		func() string { return fmt.Sprintf("node %d clock jumps forward %v", n.spec.ID, d) })
	if n.up && !n.paused {
		// The node's deadline moved closer in virtual time.
		n.tickAt = -2
		n.scheduleTick()
	}
	return true
}

// crashAfterElection decides whether a node that just won a quorum election crashes
// right after (armElected, or ElectedCrashPPM in a storm); it sets the downtime.
func (f *faultSchedule) crashAfterElection(n *simNode) bool {
	if f.stopped {
		return false
	}
	if n.armed == armElected {
		return true
	}
	if !f.cfg.Storm || n.armed != armNone || f.rng.Int64N(1_000_000) >= f.cfg.ElectedCrashPPM {
		return false
	}
	n.restartAfter = f.duration(f.cfg.DowntimeMax)
	return true
}

// crashOnWrite decides whether a node crashes while op is in flight (CrashOnWrite); it
// sets the short downtime that follows.
func (f *faultSchedule) crashOnWrite(n *simNode, op disk.Op) bool {
	if !f.cfg.CrashOnWrite || f.stopped || op.Kind != disk.WriteFile || f.rng.Int64N(1_000_000) >= f.cfg.CrashOnWritePPM {
		return false
	}
	// Back soon: a process that dies mid-write and restarts at once, while the rest of
	// the cluster still acts on what it sent.
	n.restartAfter = time.Duration(1 + f.rng.Int64N(int64(2*f.w.cfg.Timing.ElectionTimeout)))
	f.w.cov.Inc("fault:crash-on-write")
	return true
}

// chooseLeftDown picks the brokers the liveness phase keeps down, up to
// LivenessDown: those already down first, then others at random. The choice keeps a
// majority of the voters up and uncorrupted (corrupted voters recover only from a
// leader), fewer than half of the brokers down, an uncorrupted broker up, and enough
// brokers up for every data topic's replication factor.
func (f *faultSchedule) chooseLeftDown() []int32 {
	w := f.w
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
		n.armed = armNone
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
