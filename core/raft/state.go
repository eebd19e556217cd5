package raft

import (
	"bytes"
	"fmt"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/record"
)

// quorumWriter persists the quorum state, one write at a time: changes made while a
// write is in flight wait and go out together in the next one. A write is two WriteFile
// ops, QuorumStateFile then QuorumStateCopyFile; it completes with the second.
type quorumWriter struct {
	durable  quorumState // the last completed write
	seq      uint64      // write sequence number of the last write emitted
	rewrite  bool        // write even if nothing changed: the copies on disk differ
	inflight bool
	id       disk.OpID   // of the second op of the write in flight
	writing  quorumState // what it writes
	// waiting holds messages that depend on an epoch or vote not yet in any write;
	// gate holds those covered by the write in flight. Both release in order.
	waiting []Envelope
	gate    disk.Gate[Envelope]
	dropped int // messages dropped over the bound since the last write completed
}

type opKind uint8

const (
	opAppend opKind = iota + 1
	opSync
	opTruncate
	opReset
	opDeleteBelow
	opQuorumStateFirst // the first copy: its completion changes nothing
	opQuorumState      // the second copy: the write is complete
	opSnapshotFile
	opRemoveFile
)

// pendingOp is an op raft emitted and whose Done has not arrived. offset is what a Sync
// covers, or where a Truncate or Reset cuts.
type pendingOp struct {
	id     disk.OpID
	kind   opKind
	offset int64
}

func (r *Raft) emit(op disk.Op, k opKind, offset int64) disk.OpID {
	id := r.cfg.Queue.Emit(op)
	r.ops = append(r.ops, pendingOp{id: id, kind: k, offset: offset})
	return id
}

// logOpsPending reports whether an op that changes the log is in flight or waiting to be
// emitted. A fetcher waits for them, so that its fetch offset is durable when it asks for
// more.
func (r *Raft) logOpsPending() bool {
	if r.cut != nil {
		return true
	}
	for _, op := range r.ops {
		switch op.kind {
		case opAppend, opSync, opTruncate, opReset:
			return true
		}
	}
	return false
}

func (r *Raft) syncInFlight() bool {
	for _, op := range r.ops {
		if op.kind == opSync {
			return true
		}
	}
	return false
}

// Done handles the completion of an op raft emitted. Dones arrive in emission order.
func (r *Raft) Done(now int64, d disk.Done) {
	if !r.enter(now) {
		return
	}
	if len(r.ops) == 0 || r.ops[0].id != d.ID {
		panic(fmt.Sprintf("raft %d: completion of op %d, expected %v", r.cfg.ID, d.ID, r.ops))
	}
	op := r.ops[0]
	r.ops = r.ops[1:]
	if d.Err != nil {
		r.stop(fmt.Errorf("raft: %s on the metadata log failed: %w", d.Kind, d.Err))
		return
	}
	switch op.kind {
	case opSync:
		r.onSynced(now, op.offset)
	case opTruncate:
		r.durableOffset = min(r.durableOffset, op.offset)
		r.maybeFetch(now)
		r.maybeRecovered()
	case opReset:
		r.onResetDone(now, op.offset)
	case opQuorumState:
		r.onQuorumStateWritten(now, d.ID)
	case opAppend:
		r.maybeFetch(now)
	}
	r.checkInvariants()
}

// --- the quorum state ---

func (r *Raft) currentQuorumState() quorumState {
	s := quorumState{epoch: r.epoch, votedFor: r.votedFor, hw: r.hwMem, acked: r.ackedMem, voteFloor: r.voteFloor}
	if r.rec.active {
		s.recovering, s.recoverAcked = true, r.rec.ackedOld
	}
	return s
}

// persist writes the quorum state if it changed, unless a write is in flight (its Done
// writes again).
func (r *Raft) persist() {
	if r.qs.inflight || (r.currentQuorumState() == r.qs.durable && !r.qs.rewrite) {
		return
	}
	s := r.currentQuorumState()
	r.qs.seq++
	r.qs.rewrite = false
	data := encodeQuorumState(s, r.qs.seq)
	r.emit(disk.Op{Kind: disk.WriteFile, Name: QuorumStateFile, Data: data}, opQuorumStateFirst, 0)
	id := r.emit(disk.Op{Kind: disk.WriteFile, Name: QuorumStateCopyFile, Data: bytes.Clone(data)}, opQuorumState, 0)
	r.qs.inflight, r.qs.id, r.qs.writing = true, id, s
	for _, env := range r.qs.waiting {
		r.qs.gate.Hold(id, env)
	}
	r.qs.waiting = nil
}

func (r *Raft) onQuorumStateWritten(now int64, id disk.OpID) {
	r.qs.inflight = false
	r.qs.durable = r.qs.writing
	r.qs.dropped = 0
	r.out.Messages = r.qs.gate.Release(id, r.out.Messages)
	r.setHWDurable(r.qs.durable.hw)
	r.maybeEmitCut()
	r.persist()
	if r.role == Candidate {
		r.checkVotes(now)
	}
	r.maybeFetch(now)
}

// stateDurable reports whether the epoch and vote in force are on disk.
func (r *Raft) stateDurable() bool {
	return r.qs.durable.epoch == r.epoch && r.qs.durable.votedFor == r.votedFor
}

// send emits m, holding it until the epoch and vote it was decided under are durable.
// Peers can make a member answer faster than its disk writes, so held messages are
// bounded; beyond the bound they are dropped, as the network may drop them anyway.
func (r *Raft) send(to int32, m Message) {
	env := Envelope{To: to, Msg: m}
	switch {
	case r.stateDurable():
		r.out.Messages = append(r.out.Messages, env)
	case r.qs.gate.Len()+len(r.qs.waiting) >= pendingMessagesMax:
		if r.qs.dropped++; r.qs.dropped == 1 {
			r.note("message-dropped", "%d holds %d messages for its quorum state", r.cfg.ID, pendingMessagesMax)
		}
	case r.qs.inflight && r.qs.writing.epoch == r.epoch && r.qs.writing.votedFor == r.votedFor:
		r.qs.gate.Hold(r.qs.id, env)
	default:
		r.qs.waiting = append(r.qs.waiting, env)
	}
}

// --- the high watermark and committed entries ---

// raiseHW advances the known high watermark and persists it.
func (r *Raft) raiseHW(hw int64) {
	if hw <= r.hwMem {
		return
	}
	if hw > r.log.end() {
		panic(fmt.Sprintf("raft %d: high watermark %d beyond log end %d", r.cfg.ID, hw, r.log.end()))
	}
	r.hwMem = hw
	r.persist()
}

// setHWDurable exposes the high watermark up to hw and delivers what it commits.
func (r *Raft) setHWDurable(hw int64) {
	if hw <= r.hwDurable {
		return
	}
	r.hwDurable = hw
	r.deliverCommitted()
	if r.lead != nil {
		r.completeHeldFetches()
	}
}

// deliverCommitted delivers the committed entries the log holds. A member that restarted
// with a log shorter than its high watermark delivers the rest as it fetches it again.
func (r *Raft) deliverCommitted() {
	for r.committedNext < min(r.hwDurable, r.log.end()) {
		i := r.log.find(r.committedNext)
		if i < 0 {
			panic(fmt.Sprintf("raft %d: committed offset %d not in the log [%d,%d)", r.cfg.ID, r.committedNext, r.log.start, r.log.end()))
		}
		es, err := batchEntries(nil, r.log.batches[i].data)
		if err != nil {
			panic(fmt.Sprintf("raft %d: committed batch does not decode: %v", r.cfg.ID, err))
		}
		for _, e := range es {
			if e.Offset >= r.committedNext && e.Offset < min(r.hwDurable, r.log.end()) {
				r.out.Committed = append(r.out.Committed, e)
				r.committedNext = e.Offset + 1
			}
		}
	}
}

// --- the log on disk ---

// appendBatches appends checked batches to memory and disk and syncs them.
func (r *Raft) appendBatches(bs []logBatch, data []byte) {
	for _, b := range bs {
		r.log.append(b)
	}
	r.emit(disk.Op{Kind: disk.Append, Log: disk.MetadataLog, Offset: bs[0].base, Data: data}, opAppend, bs[0].base)
	r.requestSync()
	r.deliverCommitted()
}

func (r *Raft) requestSync() {
	if r.syncInFlight() {
		r.syncAgain = true
		return
	}
	r.emit(disk.Op{Kind: disk.Sync, Log: disk.MetadataLog}, opSync, r.log.end())
}

// onSynced takes what a Sync covered as durable and acknowledges it: the acknowledged end
// goes into the next quorum-state write, together with the high watermark it may move, and
// a voter's next fetch (which tells the leader its durable offset) waits for that write.
func (r *Raft) onSynced(now int64, offset int64) {
	r.durableOffset = offset
	r.ackedMem = offset
	if r.cut != nil {
		r.ackedMem = min(r.ackedMem, r.cut.offset)
	}
	if r.syncAgain {
		r.syncAgain = false
		if r.log.end() > r.durableOffset {
			r.requestSync()
		}
	}
	switch r.role {
	case Leader:
		r.advanceLeaderHW()
	case Follower, Observer:
		r.advanceFollowerHW()
	}
	r.persist()
	r.maybeFetch(now)
	r.maybeRecovered()
}

// pendingCut is disk work that leaves the log ending at offset (a truncation, or a
// snapshot install and the reset that goes with it). A log found shorter than its
// acknowledged end at a restart means lost data, and a deliberate cut must not look like
// that: the acknowledged end is lowered first, and the ops wait until that is durable.
// What they drop was never committed (a leader does not have it), so no longer
// acknowledging it is safe.
type pendingCut struct {
	offset int64
	ops    []repairOp
}

// cutLog queues ops that leave the log ending at o, and lowers the acknowledged end.
func (r *Raft) cutLog(o int64, ops ...repairOp) {
	if r.cut == nil {
		r.cut = &pendingCut{offset: o}
	}
	r.cut.offset = min(r.cut.offset, o)
	r.cut.ops = append(r.cut.ops, ops...)
	r.ackedMem = min(r.ackedMem, o)
	r.persist()
	r.maybeEmitCut()
}

// maybeEmitCut emits the pending cut once the durable acknowledged end is at or below it.
func (r *Raft) maybeEmitCut() {
	if c := r.cut; c != nil && r.qs.durable.acked <= c.offset {
		r.cut = nil
		for _, op := range c.ops {
			r.emit(op.op, op.kind, op.op.Offset)
		}
	}
}

// truncate cuts the log at o, in memory now and on disk once that is safe (cutLog).
func (r *Raft) truncate(o int64) {
	r.log.truncate(o)
	r.durableOffset = min(r.durableOffset, o)
	for i := range r.ops {
		if r.ops[i].kind == opSync {
			r.ops[i].offset = min(r.ops[i].offset, o)
		}
	}
	r.cutLog(o, repairOp{disk.Op{Kind: disk.Truncate, Log: disk.MetadataLog, Offset: o}, opTruncate})
}

// checkBatch validates a batch about to be appended after a log ending at end in
// lastEpoch: intact, next in line, uncompressed and dense, in an epoch between lastEpoch
// and epochMax.
func checkBatch(h record.Header, batch []byte, end int64, lastEpoch, epochMax int32) error {
	switch {
	case h.BaseOffset != end:
		return fmt.Errorf("%w: base offset %d where the log ends at %d", errBadBatch, h.BaseOffset, end)
	case h.PartitionLeaderEpoch > epochMax || h.PartitionLeaderEpoch < lastEpoch || h.PartitionLeaderEpoch < 0:
		return fmt.Errorf("%w at %d: epoch %d after %d, at most %d", errBadBatch, h.BaseOffset, h.PartitionLeaderEpoch, lastEpoch, epochMax)
	}
	_, err := batchEntries(nil, batch)
	return err
}

// appendLocal appends a batch this leader built.
func (r *Raft) appendLocal(batch []byte) record.Header {
	h, err := record.Check(batch)
	if err != nil {
		panic(fmt.Sprintf("raft %d: built a bad batch: %v", r.cfg.ID, err))
	}
	r.appendBatches([]logBatch{{base: h.BaseOffset, next: h.NextOffset(), epoch: h.PartitionLeaderEpoch, data: batch}}, batch)
	r.completeHeldFetches()
	return h
}

// --- transitions ---

// start arms the timers on the first input.
func (r *Raft) start(now int64) {
	r.guard.anchor(now, r.epoch)
	if r.voterIdx >= 0 {
		r.resetElectionTimer(now)
		if r.rec.active {
			r.poll(now)
		}
		return
	}
	r.fol.rr = r.cfg.Rand.IntN(len(r.cfg.Voters))
	r.fol.deadline = now + int64(r.cfg.FetchTimeout)
	r.maybeFetch(now)
}

func (r *Raft) resetElectionTimer(now int64) {
	t := int64(r.cfg.ElectionTimeout)
	r.electionAt = now + t + r.cfg.Rand.Int64N(t)
}

// adopt moves to epoch (at least the current one) under leader (-1 unknown). A new epoch
// clears the vote and is persisted before anything that depends on it leaves.
func (r *Raft) adopt(now int64, epoch int32, leader int32) {
	if epoch < r.epoch {
		panic(fmt.Sprintf("raft %d: adopting epoch %d below %d", r.cfg.ID, epoch, r.epoch))
	}
	r.leaveRole("epoch %d, leader %d", epoch, leader)
	if epoch > r.epoch {
		r.epochChanged(now, epoch)
		r.epoch, r.votedFor = epoch, -1
		r.persist()
	}
	r.follow(now, leader)
}

// follow makes this member follow leader in the current epoch (-1: nobody).
func (r *Raft) follow(now int64, leader int32) {
	r.leader = leader
	switch {
	case r.voterIdx < 0:
		r.role = Observer
	case leader >= 0:
		r.role = Follower
	default:
		r.role = Unattached
		r.resetElectionTimer(now)
	}
	if leader >= 0 || r.voterIdx < 0 {
		r.fol.deadline = now + int64(r.cfg.FetchTimeout)
	}
	r.maybeFetch(now)
}

// leaveRole ends the current role's duties: a leader stops serving, a fetcher forgets its
// outstanding request.
func (r *Raft) leaveRole(format string, args ...any) {
	if r.role == Leader || r.role == Candidate {
		r.note("stepped-down", "%s of epoch %d steps down: "+format, append([]any{r.role, r.epoch}, args...)...)
	}
	if r.lead != nil {
		r.dropLeadership()
	}
	r.fol.req = nil
	r.fol.snap = nil
	r.fol.lastEpochOverride = -1
	r.votes, r.rejects = nil, nil
	r.leaderHW = r.hwMem
}

// hint filters a leader id reported by a peer: only another voter can lead.
func (r *Raft) hint(leader int32) int32 {
	if leader == r.cfg.ID || r.voterIndex(leader) < 0 {
		return -1
	}
	return leader
}

func (r *Raft) voterIndex(id int32) int {
	for i, v := range r.cfg.Voters {
		if v == id {
			return i
		}
	}
	return -1
}
