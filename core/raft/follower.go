package raft

import (
	"bytes"
	"fmt"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
)

// followerState is what a follower or observer tracks while pulling from the leader.
type followerState struct {
	// readRound is the highest read round seen from the leader of readRoundEpoch.
	readRound      uint64
	readRoundEpoch int32

	req       Message // the outstanding Fetch or FetchSnapshot, nil if none
	to        int32   // where req went
	retryAt   int64   // resend req then: it or its response may be lost
	deadline  int64   // no good response by then: election (voter) or next voter (observer)
	notBefore int64   // an observer refused without a hint waits until then
	rr        int     // an observer's next voter to try when it knows no leader
	snap      *snapshotFetch
	// installing is a fetched snapshot whose file and log reset are being written.
	installing *Snapshot
	// lastEpochOverride, when >= 0, replaces the log's last epoch in fetches (only the
	// no-truncate-divergent plant sets it).
	lastEpochOverride int32
}

type snapshotFetch struct {
	id   SnapshotID
	data []byte
	size int64 // -1 until the first chunk
}

// fetchRetry is how long a fetcher waits for a response before asking again; beyond
// FetchMaxWait, a long-polled fetch is overdue.
func (r *Raft) fetchRetry() int64 {
	return int64(r.cfg.FetchMaxWait) + int64(r.cfg.FetchTimeout-r.cfg.FetchMaxWait)/3
}

// maybeFetch sends the next fetch when nothing blocks it: no request outstanding, the
// log synced (the fetch offset is the durable offset the leader counts), and the epoch
// durable (a member acts in an epoch only once it cannot forget it).
func (r *Raft) maybeFetch(now int64) {
	if (r.role != Follower && r.role != Observer) || r.fol.req != nil || r.fol.installing != nil ||
		r.logOpsPending() || !r.stateDurable() || now < r.fol.notBefore {
		return
	}
	if r.voterIdx >= 0 && r.qs.durable.acked < r.log.end() {
		return // the fetch offset is an acknowledgement: it must be on disk first
	}
	to := r.leader
	if to < 0 {
		if r.voterIdx >= 0 {
			return
		}
		to = r.cfg.Voters[r.fol.rr%len(r.cfg.Voters)]
	}
	r.fol.req, r.fol.to = r.nextFetch(), to
	r.fol.retryAt = now + r.fetchRetry()
	r.send(to, r.fol.req)
}

func (r *Raft) nextFetch() Message {
	if s := r.fol.snap; s != nil {
		return &FetchSnapshot{Epoch: r.epoch, ReplicaID: r.cfg.ID, Snapshot: s.id, Position: int64(len(s.data))}
	}
	if r.durableOffset != r.log.end() {
		panic(fmt.Sprintf("raft %d: fetching from %d with only %d durable", r.cfg.ID, r.log.end(), r.durableOffset))
	}
	last := r.log.lastEpoch()
	if r.fol.lastEpochOverride >= 0 {
		last = r.fol.lastEpochOverride
	}
	f := &Fetch{Epoch: r.epoch, ReplicaID: r.cfg.ID, FetchOffset: r.log.end(), LastFetchedEpoch: last, KnownHW: r.leaderHW}
	if r.fol.readRoundEpoch == r.epoch {
		f.ReadRound = r.fol.readRound
	}
	return f
}

func (r *Raft) tickFollower(now int64) {
	switch {
	case now >= r.fol.deadline:
		r.onFetchTimeout(now)
	case r.fol.req != nil && now >= r.fol.retryAt:
		r.fol.retryAt = now + r.fetchRetry()
		r.send(r.fol.to, r.fol.req)
	default:
		r.maybeFetch(now)
	}
}

func (r *Raft) followerDeadline() int64 {
	d := r.fol.deadline
	switch {
	case r.fol.req != nil:
		d = min(d, r.fol.retryAt)
	case r.fol.notBefore > r.lastNow:
		d = min(d, r.fol.notBefore)
	}
	return d
}

// onFetchTimeout: a voter calls an election; an observer tries the next voter.
func (r *Raft) onFetchTimeout(now int64) {
	r.fol.deadline = now + int64(r.cfg.FetchTimeout)
	if r.voterIdx >= 0 {
		r.note("fetch-timeout", "%d heard nothing good from leader %d in epoch %d", r.cfg.ID, r.leader, r.epoch)
		if r.rec.active {
			// It may not stand: it looks for whoever leads now.
			r.leaveRole("fetch timeout")
			r.follow(now, -1)
			r.poll(now)
			return
		}
		r.startPreVote(now)
		return
	}
	r.leaveRole("fetch timeout")
	r.fol.rr++
	r.follow(now, -1)
}

// onLeaderContact records a good response from the leader.
func (r *Raft) onLeaderContact(now int64) {
	r.lastLeaderContact = now
	r.fol.deadline = now + int64(r.cfg.FetchTimeout)
	r.fol.notBefore = 0
}

// acceptResponse checks that a response answers the outstanding request of this epoch
// and, if so, clears it. Duplicated, stale and reordered responses fail the check.
func (r *Raft) acceptResponse(now int64, from int32, epoch, leader int32, matches func(Message) bool) bool {
	if epoch > r.epoch {
		r.adopt(now, epoch, r.hint(leader))
		return false
	}
	if epoch < r.epoch || r.fol.req == nil || from != r.fol.to || !matches(r.fol.req) ||
		(r.role != Follower && r.role != Observer) {
		return false
	}
	r.fol.req = nil
	return true
}

func (r *Raft) onFetchResponse(now int64, from int32, m *FetchResponse) {
	ok := r.acceptResponse(now, from, m.Epoch, m.Leader, func(req Message) bool {
		f, ok := req.(*Fetch)
		return ok && f.FetchOffset == m.FetchOffset && f.LastFetchedEpoch == m.LastFetchedEpoch
	})
	if !ok {
		return
	}
	if m.Code != CodeNone {
		r.onRefused(now, from, m.Leader)
		return
	}
	if !r.attach(now, from) {
		return
	}
	if r.fol.readRoundEpoch != r.epoch {
		r.fol.readRound, r.fol.readRoundEpoch = 0, r.epoch
	}
	r.fol.readRound = max(r.fol.readRound, m.ReadRound)
	r.onLeaderAnswer(m)
	switch {
	case m.Diverging != nil:
		r.onDiverging(*m.Diverging)
	case m.Snapshot != nil:
		r.note("snapshot-needed", "%d at %d fetches snapshot %d of epoch %d", r.cfg.ID, m.FetchOffset, m.Snapshot.EndOffset, m.Snapshot.Epoch)
		r.fol.snap = &snapshotFetch{id: *m.Snapshot, size: -1}
	default:
		r.leaderHW = max(r.leaderHW, m.HW)
		r.appendFetched(m.Batches)
		r.advanceFollowerHW()
	}
	r.maybeFetch(now)
	r.maybeRecovered()
}

// attach takes a good response from `from` as coming from the leader of this epoch.
func (r *Raft) attach(now int64, from int32) bool {
	if r.leader < 0 && r.voterIndex(from) >= 0 {
		r.leader = from // an observer found the leader
	}
	if r.leader != from {
		return false
	}
	r.onLeaderContact(now)
	return true
}

// onRefused handles a refusal in this epoch: the responder does not lead it.
func (r *Raft) onRefused(now int64, from int32, leader int32) {
	hint := r.hint(leader)
	switch {
	case hint >= 0 && hint != r.leader:
		r.follow(now, hint)
	case r.voterIdx >= 0 && from == r.leader:
		r.note("leader-gone", "%d no longer leads epoch %d", from, r.epoch)
		r.follow(now, -1)
	case r.voterIdx < 0:
		r.fol.rr++
		r.fol.notBefore = now + int64(r.cfg.ElectionTimeout)/2
		r.follow(now, -1)
	}
}

// onDiverging truncates the log where the leader says it stops matching.
func (r *Raft) onDiverging(d EpochEnd) {
	if r.cfg.Plants.On(plant.NoTruncateDivergent) {
		r.fol.lastEpochOverride = r.epoch
		return
	}
	target := r.log.start
	if _, own, ok := r.log.endOfEpoch(d.Epoch); ok {
		target = min(d.EndOffset, own)
	}
	if i := r.log.find(target); i >= 0 {
		target = r.log.batches[i].base
	}
	switch {
	case target < r.hwMem:
		r.stop(fmt.Errorf("%w: raft %d: leader %d asks to truncate at %d, below the high watermark %d", ErrBrokenInvariant, r.cfg.ID, r.leader, target, r.hwMem))
	case target >= r.log.end():
		r.stop(fmt.Errorf("%w: raft %d: divergence at epoch %d end %d leaves the log [%d,%d) as it is", ErrBrokenInvariant, r.cfg.ID, d.Epoch, d.EndOffset, r.log.start, r.log.end()))
	default:
		r.note("truncated", "%d truncates from %d to %d (leader's epoch %d ends at %d)", r.cfg.ID, r.log.end(), target, d.Epoch, d.EndOffset)
		r.truncate(target)
	}
}

// appendFetched appends the valid prefix of batches, which must continue the log densely
// in epochs no newer than the leader's.
func (r *Raft) appendFetched(batches []byte) {
	if len(batches) == 0 {
		return
	}
	data := bytes.Clone(batches)
	var bs []logBatch
	end, last := r.log.end(), r.log.lastEpoch()
	n, err := record.Split(data, func(h record.Header, b []byte) error {
		if err := checkBatch(h, b, end, last, r.epoch); err != nil {
			return err
		}
		bs = append(bs, logBatch{base: h.BaseOffset, next: h.NextOffset(), epoch: h.PartitionLeaderEpoch, data: b})
		end, last = h.NextOffset(), h.PartitionLeaderEpoch
		return nil
	})
	if err != nil {
		r.note("bad-batch", "%d refuses fetched data at %d: %v", r.cfg.ID, end, err)
	}
	if len(bs) == 0 {
		return
	}
	r.fol.lastEpochOverride = -1
	r.appendBatches(bs, data[:n])
}

func (r *Raft) advanceFollowerHW() {
	r.raiseHW(min(r.leaderHW, r.durableOffset))
}

func (r *Raft) onFetchSnapshotResponse(now int64, from int32, m *FetchSnapshotResponse) {
	ok := r.acceptResponse(now, from, m.Epoch, m.Leader, func(req Message) bool {
		f, ok := req.(*FetchSnapshot)
		return ok && f.Snapshot == m.Snapshot && f.Position == m.Position
	})
	if !ok {
		return
	}
	switch {
	case m.Code == CodeUnknownSnapshot && r.leader == from:
		r.onLeaderContact(now)
		r.fol.snap = nil // fetch again to learn the current snapshot
	case m.Code != CodeNone:
		r.onRefused(now, from, m.Leader)
		return
	case r.attach(now, from):
		r.takeChunk(m)
	}
	r.maybeFetch(now)
}

func (r *Raft) takeChunk(m *FetchSnapshotResponse) {
	s := r.fol.snap
	bad := m.Size > int64(r.cfg.SnapshotBytesMax) || m.Position+int64(len(m.Chunk)) > m.Size ||
		(s.size >= 0 && s.size != m.Size) || (len(m.Chunk) == 0 && m.Position < m.Size)
	if bad {
		r.note("snapshot-refused", "%d refuses a chunk of %d bytes at %d of %d", r.cfg.ID, len(m.Chunk), m.Position, m.Size)
		r.fol.snap = nil
		return
	}
	s.size = m.Size
	s.data = append(s.data, m.Chunk...)
	if int64(len(s.data)) == s.size {
		r.beginInstall(Snapshot{EndOffset: s.id.EndOffset, Epoch: s.id.Epoch, Data: s.data})
	}
}

// beginInstall writes the fetched snapshot and restarts the log at its end. Memory and
// the node follow once both are durable; until then nothing touches the log (no fetch,
// no candidacy).
func (r *Raft) beginInstall(s Snapshot) {
	r.fol.snap = nil
	if s.EndOffset < r.committedNext {
		r.stop(fmt.Errorf("%w: raft %d: snapshot at %d below the entries delivered up to %d", ErrBrokenInvariant, r.cfg.ID, s.EndOffset, r.committedNext))
		return
	}
	r.fol.installing = &s
	// A log beyond the snapshot's end held only entries the leader does not have (it sends
	// a snapshot when it cannot match the fetch position), so they were never committed.
	r.cutLog(s.EndOffset,
		repairOp{disk.Op{Kind: disk.WriteFile, Name: SnapshotFile, Data: EncodeSnapshotFile(s)}, opSnapshotFile},
		repairOp{disk.Op{Kind: disk.Reset, Log: disk.MetadataLog, Offset: s.EndOffset}, opReset})
}

func (r *Raft) onResetDone(now int64, offset int64) {
	s := r.fol.installing
	if s == nil || s.EndOffset != offset {
		r.maybeFetch(now) // the repair New emitted
		return
	}
	r.fol.installing = nil
	r.snap = s
	r.log.reset(s.EndOffset, s.Epoch)
	r.durableOffset = offset
	r.ackedMem = offset
	r.raiseHW(offset)
	// The snapshot is durable committed data: the node's image starts over from it.
	r.out.Committed = nil
	r.committedNext = offset
	r.hwDurable = max(r.hwDurable, offset)
	r.leaderHW = max(r.leaderHW, offset)
	r.out.Installed = s
	r.note("snapshot-installed", "%d installed snapshot %d of epoch %d", r.cfg.ID, s.EndOffset, s.Epoch)
	r.persist()
	r.maybeFetch(now)
	r.maybeRecovered()
}
