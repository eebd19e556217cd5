package sim

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/seedlog/seedlog/traces"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// checkers runs the invariants after every step and the history checkers after a run.
type checkers struct {
	w          *World
	invariants []Invariant
	quorum     *quorumInvariants
	data       *dataInvariants
	serve      *serveWatch
	// quota follows client quotas' mutes and rates (quotacheck.go); nil without one.
	quota *quotaCheck
	lease *leaseInvariants
	// offsets follows the coordinators' expiries and group removals (offsetlife.go).
	offsets *offsetLife
	// truth reads the disks' durable images (truth.go).
	truth *durableTruth
	// Results of the history checks, for the run's result.
	unknown         []string // checks that ran out of time
	linearizability string   // Porcupine's visualization of a failed check
	// allowed lists violations the configuration allows (log.flush=async losing
	// acknowledged records), reported but not failures.
	allowed []string
}

func newCheckers(w *World) *checkers {
	c := &checkers{w: w, invariants: w.opts.Invariants, truth: newDurableTruth()}
	if w.opts.Inspect != nil && w.opts.Inspect.Quorum != nil {
		c.quorum = newQuorumInvariants(w)
	}
	if w.cfg.Data.On() {
		c.data = newDataInvariants(w, c.truth)
		c.serve = newServeWatch(w)
		c.offsets = newOffsetLife(w)
		if w.cfg.Data.QuotaRate > 0 || w.cfg.Data.QuotaRequestPercent > 0 {
			c.quota = newQuotaCheck(w)
		}
	}
	if w.opts.Inspect != nil {
		c.lease = newLeaseInvariants(w)
	}
	return c
}

// afterStep runs every invariant over node n after it took an input.
func (c *checkers) afterStep(n *simNode) {
	w := c.w
	if w.failure != nil || !n.up {
		return
	}
	v := View{w: w}
	// Whether n took an input since its last check (read before the partition checks
	// note that it did): without one, its machine is as that check saw it.
	stepped := n.unchecked
	if c.quorum != nil {
		if err := c.quorum.check(v, n, stepped); err != nil {
			w.fail("invariant:quorum", n.spec.ID, "%v", err)
			return
		}
	}
	if c.data != nil {
		if err := c.data.check(n); err != nil {
			checker := "invariant:partitions"
			switch {
			case errors.As(err, new(groupViolation)):
				checker = "invariant:groups"
			case errors.As(err, new(durableViolation)):
				checker = "invariant:durable"
			case errors.As(err, new(capViolation)):
				checker = "invariant:broker-partitions"
			}
			w.fail(checker, n.spec.ID, "%v", err)
			return
		}
		c.serve.stepped(n)
	}
	if c.lease != nil {
		if checker, err := c.lease.check(n, stepped); err != nil {
			w.fail(checker, n.spec.ID, "%v", err)
			return
		}
	}
	for _, inv := range c.invariants {
		if err := inv.Check(v, n.spec.ID); err != nil {
			w.fail("invariant:"+inv.Name, n.spec.ID, "%v", err)
			return
		}
	}
}

// afterStart re-checks everything a restarted node holds against what was committed.
func (c *checkers) afterStart(n *simNode) {
	if c.quorum != nil {
		c.quorum.restarted(n.spec.ID)
	}
}

func (c *checkers) afterCrash(n *simNode) {
	c.truth.forget(n.fs)
	if c.quorum != nil {
		c.quorum.crashed(n.spec.ID)
	}
	if c.data != nil {
		c.data.crashed(n)
	}
}

// livenessStarted arms the quorum's liveness bound: a leader within ten election
// timeouts once faults stop.
func (c *checkers) livenessStarted(l *liveness) {
	w := c.w
	if c.quorum == nil {
		return
	}
	bound := 10 * w.cfg.Timing.ElectionTimeout
	l.probe.later(bound, func() {
		if w.failure != nil {
			return
		}
		if leader, ok := (View{w: w}).QuorumLeader(); !ok {
			w.fail("liveness", -1, "no quorum leader %v after faults stopped (10 election timeouts)", bound)
		} else {
			w.cov.Inc("liveness:leader")
			_ = leader
		}
	})
}

// afterRun runs the history checkers.
func (c *checkers) afterRun() {
	w := c.w
	if msg := checkListBrokers(w.hist.Ops, w.cfg.Brokers(), w.unregisterFrom); msg != "" {
		w.fail("list-brokers", -1, "%s", msg)
		return
	}
	timeout := w.opts.CheckTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	res := CheckMetadata(w.hist.Ops, timeout)
	for _, key := range res.Unknown {
		c.unknown = append(c.unknown, "metadata "+key)
		w.cov.Inc("check:linearizability-unknown")
		w.record(traces.Event{Kind: traces.KindCheck, Sub: traces.CheckUnknown, Node: -1, Peer: -1, Topic: key},
			func() string { return fmt.Sprintf("linearizability of topic %s: unknown (check timed out)", key) })
	}
	if res.Illegal != "" {
		c.linearizability = res.Visualization
		w.fail("linearizability", -1, "metadata history of topic %q is not linearizable (%d operations)", res.Illegal, res.IllegalOps)
		return
	}
	w.cov.Add("check:linearizable-keys", int64(res.Checked))
	user, page, unknown := CheckCredentials(w.hist.Ops, timeout)
	for _, u := range unknown {
		c.unknown = append(c.unknown, "credentials "+u)
		w.cov.Inc("check:linearizability-unknown")
	}
	if user != "" {
		c.linearizability = page
		w.fail("credentials", -1, "the credential and authentication history of user %q is not linearizable", user)
		return
	}
	user, page, unknown = CheckAcls(w.hist.Ops, timeout)
	for _, u := range unknown {
		c.unknown = append(c.unknown, "acls "+u)
		w.cov.Inc("check:linearizability-unknown")
	}
	if user != "" {
		c.linearizability = page
		w.fail("acls", -1, "user %q was allowed or refused what the ACLs in force during the request do not explain", user)
		return
	}
	if c.checkData(timeout) {
		c.checkSessionGaps()
	}
}

// quorumInvariants checks the controller quorum after every step:
//
//   - at most one leader per epoch;
//   - a committed record (below a node's HW) is never lost or changed on any node: the
//     first report of each committed offset is kept as (epoch, hash of data) and every
//     later report, on any node, must match — which also makes any two logs agree up to
//     the smaller HW;
//   - epoch and HW never decrease on a node, across restarts too (the HW may when the
//     node restarted with a damaged snapshot, which had raised it);
//   - a node's log never ends below its HW, unless it is recovering from detected disk
//     corruption (it lost entries and takes no part in elections until it caught up);
//   - no voter lacking the newest committed record could win an election: it would need
//     the votes of a majority whose durable logs are no more up to date than its own
//     (Raft's leader completeness, checked before the loss can happen rather than after).
//     Recovering voters neither stand nor vote, so they count on neither side.
//
// A node that started without a readable quorum state knows neither its epoch nor its
// HW: its maxima start over from what it recovers.
type quorumInvariants struct {
	inspect   *Inspect
	leaders   map[int32]int32 // epoch -> the node that led it
	committed map[int64]entryMark
	newest    committedRecord
	nodes     map[int32]*quorumNode
	voters    []int32
	// voterNodes are the voters' states, in the order of voters.
	voterNodes []*quorumNode
	// machine returns a voter's machine, nil while it is down.
	machine func(id int32) Machine
	// electable is what checkElectable last passed on: the newest committed record and
	// every voter's electability (see electability); electableStale says a voter
	// crashed or restarted since. Until one of them changes, it would pass again.
	electable      []electability
	electableAt    committedRecord
	electableStale bool
	// electableAlways turns that memory off (tests compare both ways).
	electableAlways bool
}

// electability is what checkElectable reads of a voter.
type electability struct {
	running, recovering, durKnown bool
	lastEpoch, durEpoch           int32
	start, end, durEnd            int64
}

func (qn *quorumNode) electability() electability {
	return electability{running: qn.running, recovering: qn.recovering, durKnown: qn.durKnown,
		lastEpoch: qn.st.LastEpoch, durEpoch: qn.durEpoch, start: qn.st.StartOffset, end: qn.st.EndOffset, durEnd: qn.durEnd}
}

// committedRecord is the newest committed record seen.
type committedRecord struct {
	offset int64
	epoch  int32
	hash   uint64
}

type entryMark struct {
	epoch int32
	hash  uint64
	node  int32 // first node seen holding it committed
}

type quorumNode struct {
	maxEpoch int32
	maxHW    int64
	// durEnd and durEpoch describe the node's durable log (end offset and the epoch of
	// its last entry), as last seen; durKnown says they are. They outlive a crash: what
	// is durable survives it.
	durEnd   int64
	durEpoch int32
	durKnown bool
	// held caches whether the node's log held the newest committed record, for the log
	// shape it was computed on.
	held    bool
	heldKey [4]int64
	// checkedTo is the offset below which the node's entries were compared with the
	// committed map.
	checkedTo int64
	seen      bool
	// recovering is the node's last known recovering state. It outlives a crash: a
	// recovering node persists the fact (and detects its loss again at start-up), so it
	// stays out of elections until it has caught up.
	recovering bool
	// st is the node's quorum status after its last step, valid while running is set
	// (it is up and exposes one): a node's state changes only when it takes an input,
	// and every input is followed by a check, so this is its status now.
	st      QuorumStatus
	running bool
	// snap reads the node's durable snapshot file (snapfile.go).
	snap snapshotFileTruth
}

func newQuorumInvariants(w *World) *quorumInvariants {
	return &quorumInvariants{
		inspect:   w.opts.Inspect,
		leaders:   map[int32]int32{},
		committed: map[int64]entryMark{},
		nodes:     map[int32]*quorumNode{},
		voters:    w.cfg.Voters(),
		machine:   func(id int32) Machine { return View{w: w}.Machine(id) },
	}
}

func (q *quorumInvariants) node(id int32) *quorumNode {
	qn := q.nodes[id]
	if qn == nil {
		qn = &quorumNode{}
		q.nodes[id] = qn
	}
	return qn
}

// crashed forgets the status of a node that went down.
func (q *quorumInvariants) crashed(id int32) {
	q.node(id).running = false
	q.electableStale = true
}

// restarted makes the next check compare everything the node holds again.
func (q *quorumInvariants) restarted(id int32) {
	qn := q.node(id)
	qn.checkedTo = 0
	qn.heldKey = [4]int64{}
	q.electableStale = true
}

// check checks node n after a step. Unless it stepped (took an input since its last
// check), its status is what that check saw, and so is every other voter's (each is
// checked when it steps): the check would pass again, unless a voter crashed or
// restarted since (electableStale).
func (q *quorumInvariants) check(v View, n *simNode, stepped bool) error {
	if !stepped && !q.electableStale && !q.electableAlways {
		return nil
	}
	id := n.spec.ID
	qn := q.node(id)
	st, ok := q.inspect.Quorum(n.m)
	qn.st, qn.running = st, ok
	if !ok {
		return nil
	}
	if st.QuorumStateLost {
		qn.seen = false
	}
	if qn.seen {
		if st.Epoch < qn.maxEpoch {
			return fmt.Errorf("node %d: quorum epoch went back from %d to %d", id, qn.maxEpoch, st.Epoch)
		}
		if st.HW < qn.maxHW && !st.SnapshotLost {
			return fmt.Errorf("node %d: quorum high watermark went back from %d to %d (epoch %d)", id, qn.maxHW, st.HW, st.Epoch)
		}
	}
	qn.seen = true
	qn.maxEpoch, qn.maxHW = st.Epoch, st.HW
	qn.recovering = st.Recovering
	if st.Leader {
		if other, ok := q.leaders[st.ActingEpoch]; ok && other != id {
			return fmt.Errorf("two quorum leaders in epoch %d: node %d and node %d", st.ActingEpoch, other, id)
		}
		q.leaders[st.ActingEpoch] = id
	}
	if st.EndOffset < st.HW && !st.Recovering {
		return fmt.Errorf("node %d: metadata log ends at %d, below its high watermark %d (epoch %d)", id, st.EndOffset, st.HW, st.Epoch)
	}
	if err := q.checkEntries(n, st, qn); err != nil {
		return err
	}
	if err := qn.snap.check(n.fs, st.StartOffset); err != nil {
		return fmt.Errorf("node %d: %w", id, err)
	}
	q.noteDurable(n, st, qn)
	return q.checkElectable()
}

// checkDescribed checks a DescribeQuorum answer: its leader led its epoch, its voters
// are voters, and no voter ever exposed a high watermark as high as it reports. It
// returns "" when all is well.
func (q *quorumInvariants) checkDescribed(p kmsg.DescribeQuorumResponseTopicPartition, voters []int32) string {
	if led, ok := q.leaders[p.LeaderEpoch]; !ok || led != p.LeaderID {
		return fmt.Sprintf("DescribeQuorum named node %d the leader of epoch %d, which %s", p.LeaderID, p.LeaderEpoch, describeLed(led, ok))
	}
	var ids []int32
	for _, v := range p.CurrentVoters {
		ids = append(ids, v.ReplicaID)
	}
	if !slices.Equal(ids, voters) {
		return fmt.Sprintf("DescribeQuorum listed voters %v, the quorum's are %v", ids, voters)
	}
	top := int64(-1)
	for _, id := range q.voters {
		top = max(top, q.node(id).maxHW)
	}
	if p.HighWatermark > top {
		return fmt.Sprintf("DescribeQuorum reported the high watermark %d (leader %d, epoch %d), above any a voter exposed (%d)", p.HighWatermark, p.LeaderID, p.LeaderEpoch, top)
	}
	return ""
}

func describeLed(led int32, ok bool) string {
	if !ok {
		return "no node led"
	}
	return fmt.Sprintf("node %d led", led)
}

// noteDurable records the epoch of the node's last durable entry.
func (q *quorumInvariants) noteDurable(n *simNode, st QuorumStatus, qn *quorumNode) {
	if q.inspect.Entries == nil || !n.spec.Voter {
		return
	}
	end := min(st.DurableOffset, st.EndOffset)
	switch {
	case qn.durKnown && end == qn.durEnd:
		return // unchanged (a rewrite below the end goes through a truncation first)
	case end <= st.StartOffset:
		qn.durKnown = false // below the snapshot: the epoch is not exposed
		return
	}
	es := q.inspect.Entries(n.m, end-1, end)
	if len(es) != 1 {
		qn.durKnown = false
		return
	}
	qn.durEnd, qn.durEpoch, qn.durKnown = end, es[0].Epoch, true
}

// checkElectable checks that no up voter lacking the newest committed record could be
// elected by a majority of voters whose durable logs are no more up to date than its
// log. Voters whose durable log is not known count as refusing.
func (q *quorumInvariants) checkElectable() error {
	if q.inspect.Entries == nil || len(q.committed) == 0 {
		return nil
	}
	c := q.newest
	if len(q.voterNodes) != len(q.voters) {
		for _, id := range q.voters {
			q.voterNodes = append(q.voterNodes, q.node(id))
		}
	}
	voters := q.voterNodes
	if q.electableUnchanged(voters, c) {
		return nil // the same inputs passed last time
	}
	for i, xn := range voters {
		// recovering is the last status seen, which a crash does not reset (see
		// quorumNode).
		if xn.recovering {
			continue
		}
		var lastEpoch int32
		var end int64
		switch {
		case xn.running:
			lastEpoch, end = xn.st.LastEpoch, xn.st.EndOffset
		case xn.durKnown && !q.downHolds(xn, c):
			// A voter that is down restarts with its durable log: if that log lacks the
			// record and could win, the record is as good as lost.
			lastEpoch, end = xn.durEpoch, xn.durEnd
		default:
			continue
		}
		votes := 0
		for _, yn := range voters {
			if !yn.durKnown || yn.recovering {
				continue
			}
			if lastEpoch > yn.durEpoch || (lastEpoch == yn.durEpoch && end >= yn.durEnd) {
				votes++
			}
		}
		if votes > len(voters)/2 && (!xn.running || !q.holdsCached(q.voters[i], xn.st, c)) {
			state := "a log"
			if !xn.running {
				state = "the durable log it restarts with"
			}
			return fmt.Errorf("voter %d could be elected with %s (last epoch %d, end %d) lacking committed record %d@%d: %d of %d voters' durable logs are no more up to date",
				q.voters[i], state, lastEpoch, end, c.offset, c.epoch, votes, len(voters))
		}
	}
	q.electablePassed(voters, c)
	return nil
}

// electableUnchanged reports whether checkElectable passed on exactly these voters and
// this newest record last time.
func (q *quorumInvariants) electableUnchanged(voters []*quorumNode, c committedRecord) bool {
	if q.electableAlways || q.electableStale || q.electableAt != c || len(q.electable) != len(voters) {
		return false
	}
	for i, xn := range voters {
		if q.electable[i] != xn.electability() {
			return false
		}
	}
	return true
}

// electablePassed remembers what checkElectable passed on.
func (q *quorumInvariants) electablePassed(voters []*quorumNode, c committedRecord) {
	q.electable = q.electable[:0]
	for _, xn := range voters {
		q.electable = append(q.electable, xn.electability())
	}
	q.electableAt, q.electableStale = c, false
}

// downHolds reports whether the durable log of a voter that is down may hold committed
// record c: only what its last entry tells is known (epochs do not decrease along a
// log), so a log that may hold it counts as holding it.
func (q *quorumInvariants) downHolds(xn *quorumNode, c committedRecord) bool {
	switch {
	case xn.durEnd <= c.offset:
		return false
	case xn.durEnd-1 == c.offset:
		return xn.durEpoch == c.epoch
	}
	return xn.durEpoch >= c.epoch
}

// holdsCached is holds, remembered while the node's log keeps its shape (start, end,
// last epoch) and the newest committed record stays the same.
func (q *quorumInvariants) holdsCached(id int32, st QuorumStatus, c committedRecord) bool {
	qn := q.node(id)
	key := [4]int64{st.StartOffset + 1, st.EndOffset, int64(st.LastEpoch), c.offset}
	if qn.heldKey != key {
		qn.held, qn.heldKey = q.holds(q.machine(id), st, c), key
	}
	return qn.held
}

// holds reports whether a node's log holds committed record c.
func (q *quorumInvariants) holds(m Machine, st QuorumStatus, c committedRecord) bool {
	switch {
	case c.offset < st.StartOffset:
		return true // inside its snapshot
	case c.offset >= st.EndOffset:
		return false
	}
	es := q.inspect.Entries(m, c.offset, c.offset+1)
	return len(es) == 1 && es[0].Epoch == c.epoch && xxhash.Sum64(es[0].Data) == c.hash
}

// checkEntries compares the node's newly committed entries with the committed map.
func (q *quorumInvariants) checkEntries(n *simNode, st QuorumStatus, qn *quorumNode) error {
	if q.inspect.Entries == nil {
		return nil
	}
	from := max(qn.checkedTo, st.StartOffset)
	to := min(st.HW, st.EndOffset) // a recovering node may hold less than its HW
	if from >= to {
		return nil
	}
	entries := q.inspect.Entries(n.m, from, to)
	id := n.spec.ID
	want := from
	for _, e := range entries {
		if e.Offset != want {
			return fmt.Errorf("node %d: committed metadata record at offset %d is missing (log holds %d next; HW %d, epoch %d)", id, want, e.Offset, st.HW, st.Epoch)
		}
		h := xxhash.Sum64(e.Data)
		if m, ok := q.committed[e.Offset]; ok {
			if m.epoch != e.Epoch || m.hash != h {
				return fmt.Errorf("committed metadata record at offset %d differs: node %d first had epoch %d hash %016x, node %d now has epoch %d hash %016x",
					e.Offset, m.node, m.epoch, m.hash, id, e.Epoch, h)
			}
		} else {
			q.committed[e.Offset] = entryMark{epoch: e.Epoch, hash: h, node: id}
			if e.Offset >= q.newest.offset {
				q.newest = committedRecord{offset: e.Offset, epoch: e.Epoch, hash: h}
			}
		}
		want++
	}
	if want != to {
		return fmt.Errorf("node %d: committed metadata records [%d, %d) are missing from its log (HW %d, epoch %d)", id, want, to, st.HW, st.Epoch)
	}
	qn.checkedTo = to
	return nil
}
