package partition

import (
	"fmt"
	"math"
	"slices"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
)

// NoDeadline is what Deadline returns when nothing is scheduled.
const NoDeadline = int64(math.MaxInt64)

// SnapshotFile is the name, relative to the node's data directory, of the producer-state
// snapshot of a log.
func SnapshotFile(log disk.LogID) string { return string(log) + "/producer-state" }

// Replica is this broker's copy of one partition. It is not safe for concurrent use.
type Replica struct {
	cfg      Config
	key      Key
	log      disk.LogID
	snapName string

	st State // the newest metadata applied
	// stKnown says st came from metadata; prevLeader and prevEpoch are the leader and
	// leader epoch st had before its latest leader change (prevKnown: st was known
	// then), so that a new leader knows whom it replaced (mayStillLead).
	stKnown    bool
	prevLeader int32
	prevEpoch  int32
	prevKnown  bool
	// earlier holds the leaders of the epochs seen one after another, without a gap, up
	// to prevEpoch, newest last: a leader of one of them that never served may have been
	// waiting for the one before, which may still lead. It keeps the last earlierMax;
	// earlierCut says older ones were dropped.
	earlier    []int32
	earlierCut bool
	role       Role
	epoch      int32 // the leader epoch the replica acts in
	// gen counts role changes, so that work begun in one role (a read for a fetch) is
	// recognised as stale when it completes in another.
	gen uint64
	// markerTV2 is set while WriteMarker appends a transaction-version-2 marker
	// (clearGuard).
	markerTV2 bool
	// verifyNext numbers the transaction verification guards (verify.go); never reset,
	// so that a guard is never mistaken for a later one.
	verifyNext uint64
	// epochsUnwritten: the leader-epoch checkpoint still ends with epochs that never
	// wrote, dropped from r.epochs without a write (becomeFollower, a restart). That is
	// safe only while the log end stays where they start: the log's next move writes
	// the checkpoint first (writeEpochsBeforeMove).
	epochsUnwritten bool
	// epochFloor is the largest epoch the recovered leader-epoch checkpoint named: this
	// incarnation may have lost part of what it wrote in that epoch, so it must never
	// lead it again.
	epochFloor int32

	// The log. Invariants: startOffset <= hw <= leo, durable <= leo (hw may exceed
	// durable on a follower, whose high watermark comes from the leader).
	startOffset int64
	// startSynced is the log start the disk holds durably (startOffset runs ahead of it
	// while a DeleteBelow, Retain or Reset is under way). A follower reports it in its
	// fetches; a leader answers DeleteRecords once it and every other ISR member hold
	// the new start (deleteWaiter).
	startSynced int64
	leo         int64 // includes appends emitted and not yet done: later Ops see them
	durable     int64
	hw          int64
	epochs      epochCache
	tail        tailIndex
	producers   producerState
	hdrBuf      []record.Header
	// fences mirrors the log's fenced ranges (disk.Fence), sorted: FenceDamaged ranges
	// are damage this disk found in synced data, FenceLost ones gaps copied from a
	// leader. Invariant: each lies in [startOffset, leo).
	fences []disk.Fence
	// truncs counts the truncations and resets emitted, so that a fence reported by an
	// op emitted before one of them is known to be stale.
	truncs    uint64
	checking  bool         // a CheckDamage is outstanding
	lostNoted []disk.Fence // damaged ranges already announced as lost
	repairs   int          // truncations that cut damaged data to fetch it back

	// deadline is Deadline's last answer, still right while deadlineKnown. Every
	// exported method that can change the replica's state calls input first, which
	// clears deadlineKnown and counts the call in changes (Changes).
	deadline      int64
	deadlineKnown bool
	changes       uint64

	ops          []pendingOp // ops[opsHead:] are emitted and not yet done, in emission order
	opsHead      int
	lastSyncOp   disk.OpID // the newest Sync (sync mode) or Append (async mode)
	syncedCover  int64     // the log end covered by the newest Sync emitted (async mode)
	ackGate      disk.Gate[*produceWaiter]
	gateBuf      []*produceWaiter
	clientOps    int // FindTime ops a client waits for
	consumerWait int // consumer fetches held or reading

	loading *loader
	lead    *leaderState
	fol     *followerState

	reqSeq   uint64 // peer request ids
	alterSeq uint64 // AlterPartition request ids

	nextSnapshot int64
	snapOffset   int64 // offset of the newest snapshot written
	// appendedSinceSnap counts the bytes appended (or replayed at loading) since the
	// newest snapshot: the periodic one waits for SnapshotBytesMin of them.
	appendedSinceSnap int
	nextRetention     int64
	retaining         bool
	nextClean         int64
	cleaning          bool               // a Clean op is in flight
	cleanMore         bool               // a pass is under way: its next step waits for the cleaner throttle
	segments          disk.SegmentLimits // the limits the log was last told
	coder             record.Coder       // recompresses batches (compression.type)
	cleanedTo         int64              // the log is compacted below this offset (as far as known)
	nextAsyncSync     int64

	out    Ready
	calls  []call
	closed bool
	fatal  error
}

type opPurpose uint8

const (
	opPlain opPurpose = iota
	opConsumerRead
	opFollowerRead
	opLoadRead
	opFindTime
	opRetain
	opClean
	opCheckDamage
)

// pendingOp is an Op emitted and not yet done.
type pendingOp struct {
	id      disk.OpID
	kind    disk.Kind
	purpose opPurpose
	gen     uint64
	// covers is, for a Sync, the log end it makes durable and, for an Append, the log end
	// after it; a later truncation lowers both.
	covers   int64
	consumer *consumerFetch
	follower *FetchAnswer
	to       int32
	list     func(ListOffsetsResult)
	// offset is the offset a FindTime asked about, a DeleteBelow's new log start, a
	// Reset's, or the offset a CheckDamage checks.
	offset int64
	// truncs is Replica.truncs when a Read, FindTime or CheckDamage was emitted.
	truncs uint64
	// paced is the Paced flag of a follower's Read.
	paced bool
}

// call is a reply to deliver once the replica's state is consistent again.
type call struct {
	produce func(ProduceResult)
	pr      ProduceResult
	fetch   func(FetchResult)
	fr      FetchResult
	list    func(ListOffsetsResult)
	lr      ListOffsetsResult
	del     func(DeleteResult)
	dr      DeleteResult
}

// New creates the replica of cfg's partition from what recovery found: st describes the
// log (a zero LogState, ID "", means there is none and the replica creates it), files
// holds the small files recovered (the producer-state snapshot is looked up there under
// SnapshotFile). The replica first rebuilds its producer state by reading the log after
// the snapshot ("loading"), and does nothing else until that is done. It then waits for
// Update to learn its role.
func New(cfg Config, st disk.LogState, files map[string][]byte, now int64) *Replica {
	cfg = cfg.withDefaults()
	if cfg.Queue == nil {
		panic("partition: Config.Queue is nil")
	}
	log := disk.PartitionLog(cfg.Topic, cfg.Partition)
	r := &Replica{
		cfg:        cfg,
		key:        Key{TopicID: cfg.TopicID, Partition: cfg.Partition},
		log:        log,
		snapName:   SnapshotFile(log),
		st:         State{Leader: -1, LeaderEpoch: -1, PartitionEpoch: -1},
		epoch:      -1,
		epochFloor: -1,
		tail:       newTailIndex(cfg.TailBatchesMax),
		producers:  newProducerState(cfg.ProducersMax),
		snapOffset: -1,
	}
	if st.ID == "" {
		r.emit(disk.Op{Kind: disk.CreateLog, Offset: 0}, pendingOp{})
	} else {
		if st.ID != log {
			panic(fmt.Sprintf("partition: recovered log %s for partition %s", st.ID, log))
		}
		r.startOffset, r.leo = st.StartOffset, st.EndOffset
		r.fences = slices.Clone(st.Fences)
		r.clipFences()
		for _, f := range st.FencedNow {
			r.note("damaged", "recovery found offsets [%d, %d) damaged in synced data and fenced them: reads of them fail, the log keeps its end", f.From, f.To)
		}
		r.epochFloor = maxEpoch(st.Epochs)
		r.epochs = sanitizeEpochs(st.Epochs, st.StartOffset, st.EndOffset)
		// Entries of epochs that never wrote, at the log end, stay in the checkpoint
		// (see becomeFollower); anything else sanitizing changed is written.
		if kept, _ := epochCache(slices.Clone(st.Epochs)).truncateFromEnd(st.EndOffset); !slices.Equal(r.epochs, kept) {
			r.persistEpochs()
		} else {
			r.epochsUnwritten = len(kept) != len(st.Epochs)
		}
	}
	// Recovery syncs what it keeps, so the whole log is durable; the high watermark is not
	// persisted, and the log start is the only safe value until a leader says more.
	r.durable, r.hw, r.syncedCover = r.leo, r.startOffset, r.leo
	r.startSynced = r.startOffset
	r.nextSnapshot = now + int64(cfg.SnapshotInterval)
	r.nextRetention = now + int64(cfg.RetentionCheckInterval)
	r.nextClean = now + int64(cfg.CleanerBackoff)
	r.nextAsyncSync = now + int64(cfg.AsyncSyncInterval)
	r.startLoading(now, files[r.snapName], st)
	return r
}

func (r *Replica) dead() bool { return r.closed || r.fatal != nil }

func (r *Replica) self() int32 { return r.cfg.NodeID }

func (r *Replica) note(kind, format string, args ...any) {
	r.out.Notes = append(r.out.Notes, Note{Kind: kind, Text: fmt.Sprintf("%s-%d: ", r.cfg.Topic, r.cfg.Partition) + fmt.Sprintf(format, args...)})
}

func (r *Replica) send(to int32, m Message) {
	r.out.Messages = append(r.out.Messages, Envelope{To: to, Msg: m})
}

func (r *Replica) on(p plant.Name) bool { return r.cfg.Plants.On(p) }

func (r *Replica) leaseValid(now int64) bool {
	return r.cfg.LeaseValid == nil || r.cfg.LeaseValid(now) || r.on(plant.ServeAfterLease)
}

// pending is the Ops emitted and not yet done, oldest first.
func (r *Replica) pending() []pendingOp { return r.ops[r.opsHead:] }

// popOp removes the oldest pending Op. The queue is reused from its start whenever it
// empties, and compacted when its consumed part grows large.
func (r *Replica) popOp() pendingOp {
	p := r.ops[r.opsHead]
	r.ops[r.opsHead] = pendingOp{}
	r.opsHead++
	switch {
	case r.opsHead == len(r.ops):
		r.ops, r.opsHead = r.ops[:0], 0
	case r.opsHead >= 64 && 2*r.opsHead >= len(r.ops):
		n := copy(r.ops, r.ops[r.opsHead:])
		clear(r.ops[n:])
		r.ops, r.opsHead = r.ops[:n], 0
	}
	return p
}

// emit queues op for this replica's log and remembers it until its Done.
func (r *Replica) emit(op disk.Op, p pendingOp) disk.OpID {
	op.Log = r.log
	p.id = r.cfg.Queue.Emit(op)
	p.kind, p.paced = op.Kind, op.Paced
	p.gen = r.gen
	r.ops = append(r.ops, p)
	return p.id
}

func (r *Replica) persistEpochs() {
	r.epochsUnwritten = false
	r.emit(disk.Op{Kind: disk.LeaderEpochs, Epochs: slices.Clone(r.epochs)}, pendingOp{})
}

// writeEpochsBeforeMove writes the checkpoint before the log end moves on from where
// epochs that never wrote start (epochsUnwritten): past it, such an entry would claim
// the batches after it for its epoch.
func (r *Replica) writeEpochsBeforeMove() {
	if r.epochsUnwritten {
		r.persistEpochs()
	}
}

// flush delivers the replies collected during an input. Replies are collected rather than
// made on the spot so a callback that calls back into the replica finds it consistent.
func (r *Replica) flush() {
	for len(r.calls) > 0 {
		calls := r.calls
		r.calls = nil
		for i := range calls {
			c := &calls[i]
			switch {
			case c.produce != nil:
				c.produce(c.pr)
			case c.fetch != nil:
				c.fetch(c.fr)
			case c.list != nil:
				c.list(c.lr)
			case c.del != nil:
				c.del(c.dr)
			}
		}
		clear(calls)
		if r.calls == nil {
			r.calls = calls[:0]
		}
	}
}

func (r *Replica) answerProduce(reply func(ProduceResult), res ProduceResult) {
	if reply != nil {
		r.calls = append(r.calls, call{produce: reply, pr: res})
	}
}

func (r *Replica) answerFetch(reply func(FetchResult), res FetchResult) {
	if reply != nil {
		r.calls = append(r.calls, call{fetch: reply, fr: res})
	}
}

func (r *Replica) answerList(reply func(ListOffsetsResult), res ListOffsetsResult) {
	if reply != nil {
		r.calls = append(r.calls, call{list: reply, lr: res})
	}
}

func (r *Replica) answerDelete(reply func(DeleteResult), res DeleteResult) {
	if reply != nil {
		r.calls = append(r.calls, call{del: reply, dr: res})
	}
}

// Update applies the partition's metadata. Metadata older than what the replica has
// (a lower leader epoch, or the same one with a lower partition epoch) is ignored. A
// change of leader epoch or role ends whatever the replica did in the old one: a leader
// fails its waiting produces with NOT_LEADER_OR_FOLLOWER, a follower starts over by
// finding where its log diverges from the new leader's.
//
// A replica refuses to lead an epoch it may already have written in before a restart
// (any epoch up to the newest one its recovered checkpoint names): it may have lost
// unsynced batches that followers copied, and writing other batches at the same offsets
// in the same epoch would make logs that agree on epochs disagree on bytes. The
// controller never asks for that, because a restarted broker registers anew and loses its
// leaderships with an epoch bump; the replica stays inactive if it is asked anyway.
func (r *Replica) Update(now int64, s State) {
	r.input()
	if r.dead() {
		return
	}
	defer r.flush()
	if s.LeaderEpoch < r.st.LeaderEpoch || (s.LeaderEpoch == r.st.LeaderEpoch && s.PartitionEpoch < r.st.PartitionEpoch) {
		return
	}
	if s.LeaderEpoch != r.st.LeaderEpoch {
		if !r.stKnown || s.LeaderEpoch != r.st.LeaderEpoch+1 {
			r.earlier, r.earlierCut = r.earlier[:0], false
		}
		if r.stKnown && r.st.Leader >= 0 {
			if len(r.earlier) == earlierMax {
				r.earlier, r.earlierCut = append(r.earlier[:0], r.earlier[1:]...), true
			}
			r.earlier = append(r.earlier, r.st.Leader)
		}
		r.prevLeader, r.prevEpoch, r.prevKnown = r.st.Leader, r.st.LeaderEpoch, r.stKnown
	}
	r.st, r.stKnown = s.clone(), true
	if r.st.Segments != r.segments {
		// The log is opened with the node's limits: a topic's own go to it at once.
		r.segments = r.st.Segments
		r.emit(disk.Op{Kind: disk.SetSegments, Segments: r.segments}, pendingOp{})
	}
	if r.loading != nil {
		return // applied when loading ends
	}
	r.applyState(now)
}

// Park makes the replica inactive without closing it or touching its log: a broker
// catching up on its metadata keeps a replica an old image moved away until it knows
// whether a later image moves it back (core/replicas.go), and meanwhile the replica must
// neither lead nor follow on what it last knew. The next Update brings it back.
func (r *Replica) Park(now int64) {
	r.input()
	if r.dead() {
		return
	}
	defer r.flush()
	r.st.Replicas, r.st.ISR, r.st.Leader = nil, nil, -1
	if r.loading != nil {
		return // applied when loading ends
	}
	r.applyState(now)
}

func (r *Replica) roleFor(s State) Role {
	switch {
	case s.Leader == r.self():
		return RoleLeader
	case slices.Contains(s.Replicas, r.self()):
		return RoleFollower
	}
	return RoleInactive
}

func (r *Replica) applyState(now int64) {
	want := r.roleFor(r.st)
	same := want == r.role && r.st.LeaderEpoch == r.epoch
	if same && want == RoleLeader {
		r.leaderMetadata(now)
		return
	}
	if same && want == RoleFollower && r.fol.leader == r.st.Leader {
		return
	}
	if same && want == RoleInactive {
		return
	}
	r.stepDown(now)
	r.epoch = r.st.LeaderEpoch
	switch want {
	case RoleLeader:
		r.becomeLeader(now)
	case RoleFollower:
		r.becomeFollower(now)
	}
}

// stepDown ends the current role.
func (r *Replica) stepDown(now int64) {
	if r.lead != nil {
		r.endLeadership(CodeNotLeaderOrFollower)
		r.lead = nil
	}
	r.fol = nil
	r.role = RoleInactive
	r.gen++
}

// Done delivers the completion of an Op the replica emitted. Dones must come in the order
// the Ops were emitted (the disk package's contract); anything else is a broken invariant.
func (r *Replica) Done(now int64, d disk.Done) {
	r.input()
	if r.closed {
		return
	}
	if q := r.pending(); len(q) == 0 || q[0].id != d.ID {
		want := disk.OpID(0)
		if len(q) > 0 {
			want = q[0].id
		}
		panic(fmt.Sprintf("partition %s: Done #%d (%s) out of order, expected #%d", r.log, d.ID, d.Kind, want))
	}
	p := r.popOp()
	if r.fatal != nil {
		if p.paced {
			r.cfg.MoveThrottle.Abandon()
		}
		return
	}
	defer r.flush()
	if d.Err != nil && p.kind == disk.Clean && d.Corrupt {
		// The pass ended; the damage is checked as after a failed read.
		r.cleaning, r.cleanMore = false, false
		r.cfg.CleanerThrottle.Spent(now, d.Bytes)
		r.checkDamage(d.Offset)
		return
	}
	if d.Err != nil && p.kind != disk.Read && p.kind != disk.FindTime && p.kind != disk.FindMaxTime {
		r.fail(fmt.Errorf("partition %s: %s failed: %w", r.log, p.kind, d.Err))
		return
	}
	r.complete(now, p, d)
	r.gateBuf = r.ackGate.Release(d.ID, r.gateBuf[:0])
	for i, w := range r.gateBuf {
		r.answerProduce(w.reply, w.res)
		r.gateBuf[i] = nil
	}
	if r.lead != nil {
		r.advanceHW(now)
	}
	if f := r.fol; f != nil && f.waitOp != 0 && d.ID >= f.waitOp {
		f.waitOp = 0
		r.pump(now)
	}
	if r.fol != nil {
		r.reportSynced()
	}
}

func (r *Replica) complete(now int64, p pendingOp, d disk.Done) {
	switch p.kind {
	case disk.Append:
		if r.cfg.FlushAsync {
			r.setDurable(p.covers)
		}
	case disk.Sync:
		if !r.cfg.FlushAsync {
			r.setDurable(p.covers)
		}
	case disk.Skip:
		r.setDurable(p.covers) // durable when done
	case disk.Reset:
		r.setDurable(p.covers)
		r.startSynced = p.offset // a reset into a batch moves the start down to the batch
	case disk.Truncate:
		if len(d.Aborted) > 0 && d.Err == nil {
			r.producers.reopen(d.Aborted)
			if r.snapOffset >= 0 && r.snapOffset == r.leo {
				r.writeSnapshot(r.leo) // the one written at the cut misses them
			}
		}
	case disk.CheckDamage:
		r.damageChecked(now, p, d)
	case disk.Read:
		r.readDone(now, p, d)
	case disk.FindTime, disk.FindMaxTime:
		r.findTimeDone(p, d)
	case disk.DeleteBelow:
		r.startSynced = max(r.startSynced, p.offset)
		if r.lead != nil {
			r.answerDeletes()
		}
	case disk.Clean:
		r.cleaning = false
		r.cfg.CleanerThrottle.Spent(now, d.Bytes)
		if r.cleanMore = d.More; d.More {
			r.stepClean(now)
			break
		}
		if d.Offset < 0 {
			r.note("cleaner-map-too-small", "log.cleaner.dedupe.buffer.size cannot hold the keys of one segment: the log stays uncompacted")
		} else if d.Offset > r.cleanedTo {
			r.note("cleaned", "compacted up to offset %d", d.Offset)
		}
		r.cleanedTo = max(r.cleanedTo, d.Offset)
	case disk.Retain:
		r.retaining = false
		if d.Offset > r.startOffset {
			r.startMoved(d.Offset)
			r.note("retention", "log start advanced to %d", d.Offset)
		}
		r.startSynced = max(r.startSynced, d.Offset)
	}
}

func (r *Replica) setDurable(covers int64) {
	if covers > r.durable {
		r.durable = min(covers, r.leo)
	}
}

func (r *Replica) readDone(now int64, p pendingOp, d disk.Done) {
	switch p.purpose {
	case opConsumerRead:
		r.consumerReadDone(now, p, d)
	case opFollowerRead:
		r.followerReadDone(now, p, d)
	case opLoadRead:
		r.loadReadDone(now, p, d)
	}
}

// fail stops the replica after a failed disk operation: its durable state is unknown.
func (r *Replica) fail(err error) {
	r.fatal = err
	r.out.Fatal = err
	r.note("fatal", "%v", err)
	r.dropAll(CodeNotLeaderOrFollower)
}

// Close fails everything pending with NOT_LEADER_OR_FOLLOWER and drops the replica's
// state (the partition moved away or was deleted). Later inputs are ignored, Dones of
// Ops still outstanding included.
func (r *Replica) Close() {
	r.input()
	if r.closed {
		return
	}
	if r.fatal == nil {
		r.dropAll(CodeNotLeaderOrFollower)
	}
	r.closed = true
	for _, p := range r.pending() {
		if p.paced {
			r.cfg.MoveThrottle.Abandon() // its Done will not come here
		}
	}
	r.ops, r.opsHead = nil, 0
	r.flush()
}

func (r *Replica) dropAll(code int16) {
	if r.lead != nil {
		r.endLeadership(code)
		r.lead = nil
	}
	r.fol = nil
	r.role = RoleInactive
	r.gen++
	r.gateBuf = r.ackGate.Release(disk.OpID(math.MaxUint64), r.gateBuf[:0])
	for i, w := range r.gateBuf {
		r.answerProduce(w.reply, ProduceResult{Err: code, BaseOffset: -1, LogStartOffset: -1})
		r.gateBuf[i] = nil
	}
	q := r.pending()
	for i := range q {
		p := &q[i]
		switch {
		case p.consumer != nil:
			r.answerFetch(p.consumer.reply, errFetch(code))
		case p.list != nil:
			r.answerList(p.list, ListOffsetsResult{Err: code, Offset: -1, Timestamp: -1, LeaderEpoch: -1})
		}
		p.consumer, p.list = nil, nil
	}
}

// HasReady reports whether Ready has anything to return: a node that drains its
// replicas after every input skips the idle ones without copying their empty Ready.
func (r *Replica) HasReady() bool {
	o := &r.out
	return len(o.Messages) > 0 || o.AlterISR != nil || len(o.Notes) > 0 || o.Fatal != nil
}

// Ready returns what the replica asks of the node since the last call.
func (r *Replica) Ready() Ready {
	r.changes++
	out := r.out
	r.out = Ready{}
	return out
}

// Step delivers a message from the replica on node from.
func (r *Replica) Step(now int64, from int32, m Message) {
	r.input()
	if r.dead() || m == nil || m.PartitionKey() != r.key {
		return
	}
	defer r.flush()
	switch m := m.(type) {
	case *Fetch:
		if m.ReplicaID == from {
			r.onFetch(now, from, m)
		}
	case *EpochQuery:
		if m.ReplicaID == from {
			r.onEpochQuery(from, m)
		}
	case *FetchAnswer:
		r.onFetchAnswer(now, from, m)
	case *EpochAnswer:
		r.onEpochAnswer(now, from, m)
	case *Synced:
		if m.ReplicaID == from {
			r.onSynced(now, from, m)
		}
	}
}

// Tick lets time pass: timeouts, ISR checks, retention, snapshots, periodic syncs.
func (r *Replica) Tick(now int64) {
	r.input()
	if r.dead() {
		return
	}
	defer r.flush()
	if now >= r.nextSnapshot {
		r.nextSnapshot = now + int64(r.cfg.SnapshotInterval)
		if r.appendedSinceSnap >= r.cfg.SnapshotBytesMin {
			r.maybeSnapshot()
		}
	}
	if now >= r.nextRetention {
		r.nextRetention = now + int64(r.cfg.RetentionCheckInterval)
		r.maybeRetain(now)
	}
	if now >= r.nextClean {
		r.nextClean = now + int64(r.cfg.CleanerBackoff)
		r.maybeClean(now)
	}
	if r.cleanMore {
		r.stepClean(now)
	}
	if r.cfg.FlushAsync && now >= r.nextAsyncSync {
		r.nextAsyncSync = now + int64(r.cfg.AsyncSyncInterval)
		if r.leo > r.syncedCover {
			r.emitSync()
		}
	}
	if r.lead != nil {
		r.leaderTick(now)
	}
	if r.fol != nil {
		r.followerTick(now)
	}
}

// Deadline is the earliest time at which Tick has something to do, unless the replica
// needs every tick (NeedsEveryTick).
func (r *Replica) Deadline() int64 {
	if !r.deadlineKnown {
		r.deadline = r.nextDeadline()
		r.deadlineKnown = true
	}
	return r.deadline
}

// NeedsEveryTick reports whether a Tick before Deadline, at now or later with no other
// input in between, may change the replica: a node that ticks only the replicas whose
// deadline came must tick these at every tick as well. They are the replicas whose
// deadline reads the node's cleaner throttle, which other logs push back (a Tick reads
// it again), and those whose Tick does work their deadline does not name
// (leaderTicksEarly, followerTicksEarly). Ticking them keeps the replica as it was when
// the node ticked every replica at every tick.
func (r *Replica) NeedsEveryTick(now int64) bool {
	switch {
	case r.dead():
		return false
	case r.cleanMore && !r.cleaning:
		return true // the next step waits for the shared throttle (or, planted, ignores it)
	case r.lead != nil && r.leaderTicksEarly(now):
		return true
	}
	return r.fol != nil && r.followerTicksEarly()
}

// nextDeadline computes Deadline's answer from the replica's state.
func (r *Replica) nextDeadline() int64 {
	if r.dead() {
		return NoDeadline
	}
	d := min(r.nextSnapshot, r.nextRetention, r.nextClean)
	if r.cleanMore && !r.cleaning {
		// The throttle is shared: another log's step may push it later, which only
		// makes this an early wake-up.
		d = min(d, r.cfg.CleanerThrottle.Ready())
	}
	if r.cfg.FlushAsync {
		d = min(d, r.nextAsyncSync)
	}
	if r.lead != nil {
		d = min(d, r.leaderDeadline())
	}
	if r.fol != nil {
		d = min(d, r.followerDeadline())
	}
	return d
}

// Status returns a snapshot of the replica's state.
func (r *Replica) Status() Status {
	s := Status{
		Role: r.role, Leader: r.st.Leader, LeaderEpoch: r.epoch, PartitionEpoch: r.st.PartitionEpoch,
		LogStartOffset: r.startOffset, LogEndOffset: r.leo, DurableOffset: r.durable, HighWatermark: r.hw,
		LastStableOffset: r.lastStable(),
		Epochs:           slices.Clone([]disk.EpochEntry(r.epochs)), ISR: slices.Clone(r.st.ISR),
		Loading: r.loading != nil, Producers: len(r.producers.m), Closed: r.closed,
		Pending: r.pendingClients(), Fetches: r.consumerWait,
		Fences: slices.Clone(r.fences), Repairs: r.repairs, CleanedTo: r.cleanedTo,
	}
	if l := r.lead; l != nil {
		s.Resigning = l.resigning
		s.Handoff = len(l.awaiting) > 0
		s.MaximalISR = slices.Clone(l.maximal)
		if l.alter != nil {
			s.PendingISR = slices.Clone(l.alter.req.ISR)
		}
		s.ReadReady = l.readReady
		for _, f := range l.followers {
			s.Followers = append(s.Followers, FollowerStatus{ID: f.id, FetchOffset: f.fetchOffset,
				DurableOffset: f.durable, LastFetch: f.lastFetch, LastCaughtUp: f.lastCaughtUp, Damaged: f.damaged})
		}
	}
	return s
}

// input starts a call that may change the replica: Deadline's answer is read again, and
// Changes counts the call.
func (r *Replica) input() {
	r.deadlineKnown = false
	r.changes++
}

// Changes counts the calls that may have changed the replica: while it stays the same,
// so do Brief and Status (the checkers read again only the replicas whose count moved).
func (r *Replica) Changes() uint64 { return r.changes }

// Brief returns the replica's state as Status does, without copying (see Brief).
func (r *Replica) Brief() Brief {
	b := Brief{
		Role: r.role, LeaderEpoch: r.epoch,
		LogStartOffset: r.startOffset, LogEndOffset: r.leo, DurableOffset: r.durable, HighWatermark: r.hw,
		LastStableOffset: r.lastStable(),
		Epochs:           r.epochs, ISR: r.st.ISR, PartitionEpoch: r.st.PartitionEpoch, Loading: r.loading != nil, Closed: r.closed,
		Fences: r.fences, Repairs: r.repairs, MinISR: int32(r.st.minISR()),
	}
	if r.lead != nil {
		b.ReadReady = r.lead.readReady
		b.Resigning = r.lead.resigning
		b.Handoff = len(r.lead.awaiting) > 0
	}
	return b
}

func (r *Replica) pendingClients() int {
	n := r.ackGate.Len() + r.clientOps
	if r.lead != nil {
		n += len(r.lead.purgatory) + len(r.lead.deletes)
	}
	return n
}

// ---- log mutations shared by every role ----

// appendLog emits data, whole batches starting at the log end described by hs, as one
// Append, followed by a Sync unless in FlushAsync mode. It returns the Append and the Op
// whose Done makes the batches durable (the same in FlushAsync mode).
func (r *Replica) appendLog(data []byte, hs []record.Header) (appended, durable disk.OpID) {
	if len(hs) == 0 || hs[0].BaseOffset != r.leo {
		panic(fmt.Sprintf("partition %s: append at %d with the log ending at %d", r.log, hs[0].BaseOffset, r.leo))
	}
	for i := range hs {
		h := &hs[i]
		r.tail.add(h.BaseOffset, h.NextOffset(), h.Size())
	}
	next := hs[len(hs)-1].NextOffset()
	aborted := r.producers.takeAborted()
	if r.fol != nil && r.on(plant.FollowerAbortedIndexSkipped) {
		aborted = nil
	}
	r.appendedSinceSnap += len(data)
	r.writeEpochsBeforeMove()
	id := r.emit(disk.Op{Kind: disk.Append, Offset: r.leo, Data: data, Aborted: aborted}, pendingOp{covers: next})
	r.leo = next
	if r.cfg.FlushAsync {
		r.lastSyncOp = id
		return id, id
	}
	return id, r.emitSync()
}

func (r *Replica) emitSync() disk.OpID {
	id := r.emit(disk.Op{Kind: disk.Sync}, pendingOp{covers: r.leo})
	r.syncedCover = r.leo
	if !r.cfg.FlushAsync {
		r.lastSyncOp = id
	}
	return id
}

// truncateLog cuts the log at offset, a batch boundary above the log start.
func (r *Replica) truncateLog(offset int64) {
	if offset >= r.leo {
		return
	}
	id := r.emit(disk.Op{Kind: disk.Truncate, Offset: offset}, pendingOp{})
	if r.fol != nil && r.producers.transactional() {
		// The Done lists the aborted transactions the cut reopens: nothing is fetched
		// back before they are open again.
		r.fol.waitOp = id
	}
	r.truncs++
	r.clampCovers(offset)
	r.leo = offset
	r.clipFences()
	r.durable = min(r.durable, offset)
	r.syncedCover = min(r.syncedCover, offset)
	r.hw = min(r.hw, offset)
	r.tail.truncate(offset)
	r.producers.truncate(offset)
	var changed bool
	if r.epochs, changed = r.epochs.truncateFromEnd(offset); changed {
		r.persistEpochs()
	}
	if offset < r.snapOffset {
		r.writeSnapshot(offset) // the old one describes batches that are gone
	}
}

// resetLog empties the log and restarts it at offset. The log is durably so only once
// the Reset is done: until then a fetch must not report offset as durable, or a leader
// could count this replica in its ISR on a log end a crash would take back (the old
// log, below the leader's log start). The producer state starts over with open: the
// transactions open at offset that began below it, as the leader listed them.
func (r *Replica) resetLog(offset int64, open []OpenTxn) {
	r.writeEpochsBeforeMove()
	r.emit(disk.Op{Kind: disk.Reset, Offset: offset}, pendingOp{covers: offset, offset: offset})
	r.truncs++
	r.clampCovers(offset)
	r.startOffset, r.leo, r.hw, r.syncedCover = offset, offset, offset, offset
	if !r.on(plant.ResetDurableAtOnce) {
		r.durable = min(r.durable, offset)
	} else {
		r.durable = offset
	}
	r.fences = nil
	r.tail.reset()
	r.producers.clear()
	if !r.on(plant.ResetForgetsOpenTxns) {
		r.producers.adoptOpen(open, offset)
	}
	if len(r.epochs) > 0 {
		r.epochs = nil
		r.persistEpochs()
	}
	if r.snapOffset >= 0 || len(r.producers.open) > 0 {
		// The old snapshot describes batches that are gone; and a restart learns
		// the transactions taken as open only from a snapshot.
		r.writeSnapshot(offset)
	}
}

// clampCovers lowers what pending Syncs and Appends will make durable: the log they
// wrote is cut at offset.
func (r *Replica) clampCovers(offset int64) {
	q := r.pending()
	for i := range q {
		if k := q[i].kind; k == disk.Sync || k == disk.Append {
			q[i].covers = min(q[i].covers, offset)
		}
	}
}

// deleteBelow advances the log start to offset (<= the high watermark).
func (r *Replica) deleteBelow(offset int64) disk.OpID {
	r.maybeSnapshot() // before the batches it describes go: see startMoved
	id := r.emit(disk.Op{Kind: disk.DeleteBelow, Offset: offset}, pendingOp{offset: offset})
	r.startMoved(offset)
	return id
}

// startMoved records a new log start offset. Producer state outlives the batches it
// describes: dropping it would make the producer restart its sequences, and a retry of
// a batch deleted here but still above another replica's log start would then be
// written twice after a failover. Only the ProducersMax bound forgets producers. A
// restart rebuilds the state from the newest snapshot and the log after it, so a
// snapshot is written before records are deleted (deleteBelow, maybeRetain): without
// it the replay, starting at the new log start, would forget the producers whose
// batches were deleted, and write a retry of one of those batches again.
func (r *Replica) startMoved(offset int64) {
	if offset <= r.startOffset {
		return
	}
	r.startOffset = offset
	r.hw = max(r.hw, offset)
	r.clipFences()
	var changed bool
	if r.epochs, changed = r.epochs.truncateFromStart(offset); changed {
		r.persistEpochs()
	}
}

// HighWatermark is the replica's high watermark; cheaper than Status for callers that
// poll it (a fetch waiting for new records).
func (r *Replica) HighWatermark() int64 { return r.hw }

// Leading reports whether the replica currently leads, and in which leader epoch. The
// node polls it to run a group coordinator exactly where the offsets partition is led.
func (r *Replica) Leading() (bool, int32) {
	return r.role == RoleLeader && r.lead.serving(), r.epoch
}
