package partition

import (
	"errors"
	"slices"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
)

// followerState is what a replica keeps only while it follows.
type followerState struct {
	leader int32 // -1: the partition has no leader; wait
	// needQuery: find where the logs diverge (OffsetForLeaderEpoch) before fetching.
	needQuery bool
	inflight  uint64 // the request awaiting an answer, 0 if none
	kind      MsgKind
	timeoutAt int64
	retryAt   int64 // after an error answer, ask again no earlier than this
	// waitOp: fetch again only once this Op is done. After an append that is the Append,
	// not its Sync: the next fetch overlaps the sync, and reportSynced tells the leader
	// when the sync is done.
	waitOp disk.OpID
	// fetchID is the last Fetch sent (0: none yet), reported the durable offset the
	// leader last heard in a Fetch or Synced.
	fetchID  uint64
	reported int64
	// outOfISR: the leader's last answer to a fetch that reported this log's damage said
	// it does not count this replica in the ISR. An answer to a fetch sent before the
	// damage was known says nothing: its leader may be adding this replica to the ISR
	// on the strength of that fetch, and a repair would then cut an ISR member's log
	// below the high watermark. fetchDamaged is whether the outstanding fetch reported
	// damage.
	outOfISR     bool
	fetchDamaged bool
	// longPoll is how long the next fetch asks the leader to hold it: the configured
	// wait, doubled after each answer that brought nothing new up to idleWaitMax. An
	// idle partition's followers then ask several times less often, which is most of
	// an idle broker's work; anything new sets it back.
	longPoll time.Duration
}

func (r *Replica) becomeFollower(now int64) {
	r.role = RoleFollower
	f := &followerState{leader: r.st.Leader, needQuery: true, longPoll: r.cfg.FollowerFetchMaxWait}
	r.fol = f
	// An epoch that never wrote (this replica led it and appended nothing) must not be
	// taken for the epoch of the last batch. The checkpoint keeps it until the log end
	// moves (epochsUnwritten): an entry at the log end is what a crash right after
	// becoming leader leaves as well, a restart drops it (sanitizeEpochs), and while it
	// is there it keeps the epoch below the floor a restart must not lead (epochFloor).
	// One write less per leadership handed on from an idle partition.
	var dropped bool
	r.epochs, dropped = r.epochs.truncateFromEnd(r.leo)
	r.epochsUnwritten = r.epochsUnwritten || dropped
	if r.on(plant.TruncateToOwnHW) {
		r.followerTruncate(r.hw)
		f.needQuery = false
	}
	r.note("follower", "epoch %d of leader %d at log end %d", r.epoch, f.leader, r.leo)
	r.pump(now)
}

// pump sends the follower's next request when nothing is outstanding.
func (r *Replica) pump(now int64) {
	f := r.fol
	if f == nil || f.leader < 0 || f.inflight != 0 || f.waitOp != 0 || now < f.retryAt || r.loading != nil {
		return
	}
	if from, damaged := r.unrepaired(); damaged && f.outOfISR {
		// The leader no longer counts this replica: cut the damage away and fetch it back.
		f.outOfISR = false
		r.repair(from)
		if f.waitOp != 0 {
			return // the truncation's Done comes first (see truncateLog)
		}
	}
	f.retryAt = 0
	r.reqSeq++
	f.inflight = r.reqSeq
	if f.needQuery && len(r.epochs) > 0 {
		f.kind = KindEpochQuery
		f.timeoutAt = now + int64(r.cfg.PeerRequestTimeout)
		r.send(f.leader, &EpochQuery{Key: r.key, RequestID: r.reqSeq, ReplicaID: r.self(),
			CurrentLeaderEpoch: r.epoch, LeaderEpoch: r.epochs.latest()})
		return
	}
	f.needQuery = false
	f.kind = KindFetch
	damagedFrom, damaged := r.unrepaired()
	if damaged || slices.Contains(r.st.Adding, r.self()) {
		f.longPoll = r.cfg.FollowerFetchMaxWait
	}
	f.timeoutAt = now + int64(f.longPoll) + int64(r.cfg.PeerRequestTimeout)
	durable := r.durable
	if r.on(plant.FollowerReportsUnsyncedDurable) {
		durable = r.leo
	}
	f.fetchID, f.reported, f.fetchDamaged = r.reqSeq, durable, damaged
	r.send(f.leader, &Fetch{Key: r.key, RequestID: r.reqSeq, ReplicaID: r.self(), CurrentLeaderEpoch: r.epoch,
		FetchOffset: r.leo, DurableOffset: durable, LastFetchedEpoch: r.epochs.latest(),
		LogStartOffset: r.startSynced, MaxBytes: r.cfg.FollowerFetchBytesMax,
		MaxWaitMs: int32(f.longPoll / time.Millisecond), Damaged: damaged, DamagedFrom: damagedFrom})
}

// idleWaitMax is the longest a follower's fetch asks to be held: FollowerIdleWaitMax,
// but no more than an eighth of the ISR lag bound, so that a follower held at the log
// end still shows itself caught up many times within that bound, and never less than
// the configured wait.
func (c *Config) idleWaitMax() time.Duration {
	most := c.FollowerIdleWaitMax
	if most <= 0 {
		most = 8 * c.FollowerFetchMaxWait
	}
	return max(c.FollowerFetchMaxWait, min(most, c.ReplicaLagMax/8))
}

// quietAnswer reports whether a fetch answer brings nothing the follower lacks: no
// records, no gap, the high watermark and log start it holds, and a place in the ISR.
func (r *Replica) quietAnswer(m *FetchAnswer) bool {
	return len(m.Records) == 0 && m.GapEnd <= r.leo && m.HighWatermark <= r.hw &&
		min(m.LogStartOffset, r.hw) <= r.startOffset && m.InISR
}

// reportSynced tells the leader of a durable offset beyond what it last heard, at once
// rather than in the next fetch, while the last fetch is unanswered: it may wait at the
// leader for new records, while the leader's high watermark, and the acks=all produces
// behind it, wait for this. Once the fetch is answered, the next one, sent as soon as
// its records are written, carries the offset. The leader checks it against the last
// fetch it took, so it names that fetch; a log with unrepaired damage leaves it to the
// fetch, which says so.
func (r *Replica) reportSynced() {
	f := r.fol
	if f.leader < 0 || f.fetchID == 0 || f.inflight != f.fetchID || f.kind != KindFetch || r.durable <= f.reported {
		return
	}
	if _, damaged := r.unrepaired(); damaged {
		return
	}
	f.reported = r.durable
	r.send(f.leader, &Synced{Key: r.key, RequestID: f.fetchID, ReplicaID: r.self(), CurrentLeaderEpoch: r.epoch,
		DurableOffset: r.durable})
}

// answered accepts an answer to the outstanding request of the given kind.
func (r *Replica) answered(from int32, id uint64, kind MsgKind) bool {
	f := r.fol
	if f == nil || from != f.leader || f.inflight == 0 || id != f.inflight || kind != f.kind {
		return false
	}
	f.inflight = 0
	return true
}

func (r *Replica) backoff(now int64) {
	r.fol.retryAt = now + int64(r.cfg.FollowerBackoff)
}

// newLeaderBackoff is how long a follower waits before asking again a leader that did
// not know the follower's epoch yet (UNKNOWN_LEADER_EPOCH), or the partition at all
// (UNKNOWN_TOPIC_OR_PARTITION, UnhostedAnswer). That leader has not applied the metadata
// that made it leader, a matter of milliseconds; waiting FollowerBackoff (Kafka's 1 s)
// instead would hold every acks=all write of a new leader or a new partition that long.
const newLeaderBackoff = 50 * time.Millisecond

// backoffAfter waits after an error answer before asking again.
func (r *Replica) backoffAfter(now int64, code int16) {
	if (code == CodeUnknownLeaderEpoch || code == CodeUnknownTopicOrPartition) && !r.on(plant.NewLeaderFullBackoff) {
		r.fol.retryAt = now + int64(min(newLeaderBackoff, r.cfg.FollowerBackoff))
		return
	}
	r.backoff(now)
}

func (r *Replica) onEpochAnswer(now int64, from int32, m *EpochAnswer) {
	if !r.answered(from, m.RequestID, KindEpochQuery) {
		return
	}
	switch {
	case m.Err != CodeNone:
		r.backoffAfter(now, m.Err)
	case m.RequestedEpoch != r.epochs.latest():
		// Our log changed since we asked: ask again.
	case m.LeaderEpoch < 0 || m.EndOffset < 0:
		// The leader cannot say; its divergence check on fetch still protects the log.
		r.fol.needQuery = false
	default:
		r.reconcile(m.LeaderEpoch, m.EndOffset, m.LogStartOffset, m.OpenBelow)
	}
	r.pump(now)
}

// reconcile truncates the log where it diverges from the leader's, given that the
// leader's log holds epoch leaderEpoch up to endOffset (KIP-101, KIP-279). If this log
// does not know that epoch, it cuts at the end of its own newest epoch below it and asks
// again; each round removes at least one epoch, so the exchange ends.
//
// An end at or below the leader's log start means the leader no longer has what the
// epoch wrote and cannot vouch for anything here from its start on; that offset may
// even lie inside a batch (DeleteRecords cuts anywhere). The log starts over at the
// leader's log start, with the transactions the leader says are open there (openBelow):
// none of their batches is left to fetch.
func (r *Replica) reconcile(leaderEpoch int32, endOffset, leaderStart int64, openBelow []OpenTxn) {
	if endOffset <= leaderStart && endOffset < r.leo {
		if r.leo != leaderStart || r.startOffset != leaderStart {
			r.note("reset", "the leader's epoch %d ends at %d, at or below its log start %d", leaderEpoch, endOffset, leaderStart)
			r.resetLog(leaderStart, openBelow)
		}
		r.fol.needQuery = false
		return
	}
	mine, myEnd := r.epochs.endOffsetFor(leaderEpoch, r.leo)
	if mine != leaderEpoch {
		if mine < 0 {
			// Nothing here at or below that epoch: keep nothing the leader cannot vouch for.
			myEnd = min(endOffset, r.leo)
		}
		r.followerTruncate(min(myEnd, r.leo))
		r.fol.needQuery = len(r.epochs) > 0
		return
	}
	r.followerTruncate(min(endOffset, myEnd, r.leo))
	r.fol.needQuery = false
}

// followerTruncate cuts the log at offset. Below the high watermark that means committed
// records are lost, which only a durability the configuration gave up (FlushAsync) or a
// disk that lost synced data can cause: noted, and done anyway, since keeping a log the
// leader disowns would leave the replicas disagreeing forever.
func (r *Replica) followerTruncate(offset int64) {
	// Below the log start there is nothing to cut: the records there were committed
	// (the start follows the high watermark), and a fetch from the start finds where
	// the leader's log stands.
	offset = max(offset, r.startOffset)
	if offset >= r.leo {
		return
	}
	if offset < r.hw {
		r.note("truncate-below-hw", "truncating to %d below the high watermark %d", offset, r.hw)
	}
	r.note("truncate", "log end %d -> %d", r.leo, offset)
	r.truncateLog(offset)
}

func (r *Replica) onFetchAnswer(now int64, from int32, m *FetchAnswer) {
	if !r.answered(from, m.RequestID, KindFetch) {
		return
	}
	if f := r.fol; m.Err == CodeNone && !m.Diverging && m.FetchOffset == r.leo && r.quietAnswer(m) {
		f.longPoll = min(2*f.longPoll, r.cfg.idleWaitMax())
	} else {
		f.longPoll = r.cfg.FollowerFetchMaxWait
	}
	switch {
	case m.FetchOffset != r.leo:
		// The log moved since the fetch was sent: fetch again.
	case m.Err == CodeOffsetOutOfRange:
		r.outOfRange(now, m)
	case m.Err != CodeNone:
		r.backoffAfter(now, m.Err)
	case m.LeaderEpoch != r.epoch:
		r.backoff(now)
	case m.Diverging:
		r.note("diverging", "leader has epoch %d ending at %d", m.DivergingEpoch, m.DivergingEndOffset)
		r.reconcile(m.DivergingEpoch, m.DivergingEndOffset, m.LogStartOffset, m.OpenBelow)
	case m.GapEnd > m.LogEndOffset:
		// A gap is a range of the leader's log: one past its end is a bad answer, and
		// skipping it would move this log's end to wherever the answer said.
		r.note("fetch-rejected", "gap to %d beyond the leader's log end %d", m.GapEnd, m.LogEndOffset)
		r.backoff(now)
	case m.GapEnd > r.leo && len(m.Records) == 0:
		r.fol.outOfISR = r.fol.fetchDamaged && !m.InISR
		r.skipGap(now, m)
	default:
		r.fol.outOfISR = r.fol.fetchDamaged && !m.InISR
		r.appendFetched(now, m)
	}
	r.pump(now)
}

// outOfRange handles a fetch offset the leader's log does not span.
func (r *Replica) outOfRange(now int64, m *FetchAnswer) {
	switch {
	case r.leo < m.LogStartOffset:
		r.note("reset", "log end %d is below the leader's log start %d", r.leo, m.LogStartOffset)
		r.resetLog(m.LogStartOffset, m.OpenBelow)
	case r.leo > m.LogEndOffset && m.LogEndOffset >= m.LogStartOffset:
		r.followerTruncate(m.LogEndOffset)
	default:
		r.backoff(now)
	}
}

var errFetchedBatch = errors.New("partition: fetched batch rejected")

// appendFetched appends the batches of a fetch answer. Each batch is checked (CRC,
// offsets dense from the log end, epoch not above the leader's and not below the log's
// newest); the valid prefix is appended, and a rejected batch makes the follower find
// the divergence point again.
func (r *Replica) appendFetched(now int64, m *FetchAnswer) {
	f := r.fol
	data, hs, err := r.checkFetched(m.Records)
	if err != nil {
		r.note("fetch-rejected", "%v", err)
	}
	if len(hs) > 0 {
		if hs[0].BaseOffset < r.leo {
			// The log was reset into the middle of a batch (the leader's log start lies
			// inside it): restart the log where that batch starts, with the open
			// transactions the reset learnt.
			r.resetLog(hs[0].BaseOffset, r.producers.openAt(r.startOffset))
		}
		changed, ok := false, true
		for i := range hs {
			var c bool
			if r.epochs, c, ok = r.epochs.assign(hs[i].PartitionLeaderEpoch, hs[i].BaseOffset); !ok {
				r.note("fetch-rejected", "batch at %d of epoch %d is older than epoch %d", hs[i].BaseOffset, hs[i].PartitionLeaderEpoch, r.epochs.latest())
				data, hs = data[:batchesSize(hs[:i])], hs[:i]
				f.needQuery = true
				break
			}
			changed = changed || c
		}
		if changed {
			r.persistEpochs()
		}
		if len(hs) > 0 {
			pos := 0
			for i := range hs {
				r.producers.applyBatch(hs[i], hs[i].BaseOffset, data[pos:pos+hs[i].Size()])
				pos += hs[i].Size()
			}
			f.waitOp, _ = r.appendLog(data, hs)
		}
	}
	if err != nil && len(hs) == 0 {
		f.needQuery = true
		r.backoff(now)
	}
	r.hw = max(r.hw, min(m.HighWatermark, r.leo))
	r.producers.stableBelow(r.hw) // forgets the transactions that became stable
	if start := min(m.LogStartOffset, r.hw); start > r.startOffset {
		// The next fetch reports the new start once it is durable (a DeleteRecords
		// at the leader waits for it).
		f.waitOp = r.deleteBelow(start)
	}
}

func batchesSize(hs []record.Header) int {
	n := 0
	for i := range hs {
		n += hs[i].Size()
	}
	return n
}

// checkFetched returns the longest valid prefix of b and its headers.
func (r *Replica) checkFetched(b []byte) ([]byte, []record.Header, error) {
	hs := r.hdrBuf[:0]
	defer func() { r.hdrBuf = hs[:0] }()
	next := r.leo
	pos := 0
	var err error
	for pos < len(b) {
		h, cerr := record.Check(b[pos:])
		if cerr != nil {
			err = cerr
			break
		}
		if h.PartitionLeaderEpoch > r.epoch || h.PartitionLeaderEpoch < 0 {
			err = errFetchedBatch
			break
		}
		if len(hs) == 0 && h.BaseOffset < next && h.NextOffset() > next && r.leo == r.startOffset {
			next = h.BaseOffset // reset into the middle of this batch; see appendFetched
		}
		if h.BaseOffset != next {
			err = errFetchedBatch
			break
		}
		hs = append(hs, h)
		next = h.NextOffset()
		pos += h.Size()
	}
	return b[:pos], hs, err
}

func (r *Replica) followerTick(now int64) {
	f := r.fol
	if f.inflight != 0 && now >= f.timeoutAt {
		f.inflight = 0
	}
	r.pump(now)
}

// followerTicksEarly reports whether followerTick may act before followerDeadline: with
// nothing outstanding and no backoff, pump sends at once; a request outstanding while
// the follower waits for an append (or has no leader) times out at a time the deadline
// does not name.
func (r *Replica) followerTicksEarly() bool {
	f := r.fol
	waiting := f.leader < 0 || f.waitOp != 0 || r.loading != nil
	if f.inflight != 0 {
		return waiting
	}
	return !waiting && f.retryAt <= 0
}

func (r *Replica) followerDeadline() int64 {
	f := r.fol
	switch {
	case f.leader < 0 || f.waitOp != 0 || r.loading != nil:
		return NoDeadline
	case f.inflight != 0:
		return f.timeoutAt
	case f.retryAt > 0:
		return f.retryAt
	}
	return NoDeadline
}
