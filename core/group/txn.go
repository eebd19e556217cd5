package group

import (
	"maps"
	"slices"

	"github.com/seedlog/seedlog/core/plant"
)

// TxnCommit is a TxnOffsetCommit request as the coordinator sees it. As for
// OffsetCommit, the node answers partitions of unknown topics before calling.
type TxnCommit struct {
	Group string
	// TransactionalID names the producer's transaction; the node checks access to it,
	// the coordinator only the producer id and epoch it writes with.
	TransactionalID string
	ProducerID      int64
	ProducerEpoch   int16
	// Generation, MemberID and InstanceID are v3+ (KIP-447). Requests of older versions
	// carry -1, "" and nil: they commit without membership checks.
	Generation int32
	MemberID   string
	InstanceID *string
	Topics     []TxnCommitTopic
	// Guard is the broker's verification of the producer's transaction with the
	// group's offsets partition (KIP-890), opaque here: Log.AppendTxn gets it back.
	Guard any
}

// TxnCommitTopic is one topic of a TxnCommit.
type TxnCommitTopic struct {
	Topic      string
	Partitions []TxnCommitPartition
}

// TxnCommitPartition is one partition's offset in a TxnCommit.
type TxnCommitPartition struct {
	Partition   int32
	Offset      int64
	LeaderEpoch int32 // -1 when the request does not say (v0-1)
	Metadata    *string
}

// txnOffsets are the offsets one producer's open transaction committed to a group.
type txnOffsets struct {
	pid int64
	// offsets are the durable records, by partition, each with its place in the log;
	// of two records of one partition the later wins, as on replay.
	offsets map[tp]offset
	// inFlight counts the producer's appends handed to the log and not yet done.
	inFlight int
	// ended is set when the producer's marker came while appends were in flight. Their
	// records lie before the marker in the log (they were handed to it first), so they
	// take the marker's outcome, committed or not, when they are done.
	ended, committed bool
}

// TxnOffsetCommit handles a TxnOffsetCommit request: the offsets are written as one
// transactional batch of the producer's, and once that is durable they wait, unseen by
// OffsetFetch and untouched by expiry, for the marker that ends the transaction
// (CompleteTxn). reply gets a code per partition, in request order. The committer is
// checked as for OffsetCommit, except that a commit without member and generation is
// accepted whatever the group holds, and a group waiting for its assignment does not
// refuse it (Kafka's rules for transactional commits).
func (c *Coordinator) TxnOffsetCommit(now int64, req TxnCommit, reply func(codes [][]int16)) {
	now = c.enter(now)
	defer c.leave()
	codes := make([][]int16, len(req.Topics))
	for i, t := range req.Topics {
		codes[i] = make([]int16, len(t.Partitions))
	}
	reply = deferred(c, reply)
	respond := func() { reply(codes) }
	g, code := c.commitGroup(committer{group: req.Group, generation: req.Generation,
		memberID: req.MemberID, instanceID: req.InstanceID, txn: true})
	if code == codeNone && (req.ProducerID < 0 || req.ProducerEpoch < 0) {
		code = codeInvalidRequest // not a transactional producer
	}
	if code != codeNone {
		fillCodes(codes, code)
		respond()
		if g != nil {
			c.dropIfVacant(g)
		}
		return
	}
	var commits []commit
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			if p.Metadata != nil && len(*p.Metadata) > c.cfg.OffsetMetadataMax {
				codes[i][j] = codeOffsetMetadataTooLarge
				continue
			}
			commits = append(commits, commit{
				tp:  tp{t.Topic, p.Partition},
				pos: [2]int{i, j},
				o:   offset{offset: p.Offset, leaderEpoch: p.LeaderEpoch, metadata: deref(p.Metadata), commitMs: millis(now)},
			})
		}
	}
	switch {
	case len(commits) == 0:
		respond()
		c.dropIfVacant(g)
	case c.commitsInFlight >= c.cfg.CommitsInFlightMax:
		for _, cm := range commits {
			codes[cm.pos[0]][cm.pos[1]] = codeCoordinatorNotAvailable
		}
		respond()
		c.dropIfVacant(g)
	default:
		c.commitTxnOffsets(g, req.ProducerID, req.ProducerEpoch, req.Guard, commits, codes, respond)
	}
}

// commitTxnOffsets writes the commits of producer pid and answers once they are
// durable. Meanwhile their partitions answer UNSTABLE_OFFSET_COMMIT to stable fetches,
// as plain commits on their way do.
func (c *Coordinator) commitTxnOffsets(g *group, pid int64, epoch int16, guard any, commits []commit, codes [][]int16, respond func()) {
	t := c.txnOf(g, pid)
	recs := make([]KV, len(commits))
	for i, cm := range commits {
		recs[i] = KV{Key: offsetKey(g.id, cm.tp), Value: offsetValue(cm.o)}
		g.commitsPending[cm.tp]++
	}
	t.inFlight++
	c.commitsInFlight++
	settle := func(code int16) {
		c.commitsInFlight--
		t.inFlight--
		for _, cm := range commits {
			if g.commitsPending[cm.tp]--; g.commitsPending[cm.tp] == 0 {
				delete(g.commitsPending, cm.tp)
			}
			codes[cm.pos[0]][cm.pos[1]] = code
		}
	}
	forget := func() {
		for _, cm := range commits {
			g.forgetTombstones([]tp{cm.tp})
		}
	}
	c.appendTxn(pid, epoch, guard, recs, func(base int64, err error) {
		if err != nil {
			settle(commitCode(err))
			forget()
			c.txnSettled(g, t)
			respond()
			c.dropIfVacant(g)
			return
		}
		settle(codeNone)
		if c.groups[g.id] == g {
			c.txnDurable(g, t, commits, base)
		}
		forget()
		c.txnSettled(g, t)
		respond()
		c.dropIfVacant(g) // the marker came first and aborted, or a tombstone followed
	}, func() {
		settle(codeNotCoordinator)
		respond()
	})
}

// txnDurable takes in the durable records of t's commits, the first at log offset base:
// they wait for the marker, or, when it came while they were in flight, take its
// outcome at once. A record a durable tombstone of its partition follows is gone.
func (c *Coordinator) txnDurable(g *group, t *txnOffsets, commits []commit, base int64) {
	for i, cm := range commits {
		at := base + int64(i)
		if ts, ok := g.tombstones[cm.tp]; ok && ts > at {
			continue
		}
		switch {
		case c.cfg.Plants.On(plant.TxnOffsetsVisibleBeforeCommit):
			// Planted bug: the transaction's offsets count as committed as soon as they
			// are durable, before (and whatever) the marker says.
			g.storeOffset(cm.tp, cm.o, at)
		case !t.ended:
			if cur, ok := t.offsets[cm.tp]; !ok || cur.logOffset < at {
				o := cm.o
				o.logOffset = at
				t.offsets[cm.tp] = o
			}
		case t.committed:
			g.storeOffset(cm.tp, cm.o, at)
		}
	}
}

// CompleteTxn applies the marker that ended producer pid's transaction, once the marker
// is durable in this coordinator's partition: with commit, the offsets the transaction
// committed to each group become the groups' committed offsets, except where a commit
// whose record lies later in the log already is (Kafka's rule, which a replay of the
// log follows too); without, they are dropped. Config.Events hears of each group's
// (TxnOffsetsCommitted, TxnOffsetsAborted). A call for a producer with nothing open
// here does nothing, so a marker written twice is harmless. While loading, the load
// meets the marker in the log and applies it there.
func (c *Coordinator) CompleteTxn(now int64, pid int64, commit bool) {
	c.enter(now)
	defer c.leave()
	if c.phase != phaseServing {
		return
	}
	for _, gid := range slices.Sorted(maps.Keys(c.producers[pid])) {
		g := c.groups[gid]
		t := g.txns[pid]
		c.dropTxn(g, pid)
		t.ended, t.committed = true, commit
		parts := slices.SortedFunc(maps.Keys(t.offsets), compareTP)
		kind := TxnOffsetsAborted
		if commit {
			kind = TxnOffsetsCommitted
		}
		// Planted bug: an abort keeps the transaction's offsets too.
		if commit || c.cfg.Plants.On(plant.TxnOffsetsKeptOnAbort) {
			for _, p := range parts {
				g.storeOffset(p, t.offsets[p], t.offsets[p].logOffset)
			}
		}
		t.offsets = nil
		c.event(Event{Kind: kind, Group: g.id, ProducerID: pid, Offsets: exportTPs(parts), AtMs: millis(c.now)})
		c.dropIfVacant(g)
	}
}

// txnOf is producer pid's open transaction in g, started if there is none.
func (c *Coordinator) txnOf(g *group, pid int64) *txnOffsets {
	t := g.txns[pid]
	if t == nil {
		t = &txnOffsets{pid: pid, offsets: map[tp]offset{}}
		g.txns[pid] = t
		if c.producers[pid] == nil {
			c.producers[pid] = map[string]bool{}
		}
		c.producers[pid][g.id] = true
	}
	return t
}

// dropTxn forgets producer pid's transaction in g.
func (c *Coordinator) dropTxn(g *group, pid int64) {
	delete(g.txns, pid)
	if gs := c.producers[pid]; gs != nil {
		delete(gs, g.id)
		if len(gs) == 0 {
			delete(c.producers, pid)
		}
	}
}

// txnSettled forgets t once it holds nothing: no offsets and no append in flight (its
// appends failed, tombstones deleted its offsets, or a plant applied them).
func (c *Coordinator) txnSettled(g *group, t *txnOffsets) {
	if t.inFlight == 0 && len(t.offsets) == 0 && g.txns[t.pid] == t {
		c.dropTxn(g, t.pid)
	}
}

// pruneTxns forgets the transactions of g that hold nothing any more.
func (c *Coordinator) pruneTxns(g *group) {
	for _, pid := range slices.Sorted(maps.Keys(g.txns)) {
		c.txnSettled(g, g.txns[pid])
	}
}

// txnPendingAt reports whether some open transaction holds an offset of p.
func (g *group) txnPendingAt(p tp) bool {
	for _, t := range g.txns { // order-independent: whether any producer holds p
		if _, ok := t.offsets[p]; ok {
			return true
		}
	}
	return false
}

// dropTxnOffsets applies a durable tombstone of p at logOffset to the open
// transactions: an offset they committed before it is deleted, as on replay.
func (g *group) dropTxnOffsets(p tp, logOffset int64) {
	for _, t := range g.txns { // order-independent: deletes from each producer's own map
		if o, ok := t.offsets[p]; ok && o.logOffset < logOffset {
			delete(t.offsets, p)
		}
	}
}
