package raft

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/record"
)

// New starts a member from what the node recovered. Only a bad Config makes it fail:
// whatever the disk lost or damaged, the member starts, repairs its disk (the ops are
// emitted before New returns) and, if it lost something that may matter to the quorum,
// starts Recovering. Its first Ready re-delivers the committed entries after the
// snapshot that its log still holds.
func New(cfg Config, rec Restored) (*Raft, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Raft{
		cfg:               cfg,
		voterIdx:          slices.Index(cfg.Voters, cfg.ID),
		majority:          len(cfg.Voters)/2 + 1,
		leader:            -1,
		lastLeaderContact: noTime,
		guard:             newEpochGuard(cfg),
	}
	r.fol.lastEpochOverride = -1
	r.rec.followed = -1
	if r.voterIdx < 0 {
		r.role = Observer
	}
	var why []string
	snapshotGone := r.restoreLog(rec, &why)
	r.rec.snapshotLost = rec.SnapshotLost
	qs := r.restoreQuorumState(loadQuorumState(rec.QuorumState, rec.QuorumStateCopy), rec, snapshotGone, &why)
	r.epoch, r.votedFor, r.voteFloor = qs.epoch, qs.votedFor, qs.voteFloor
	r.rec.active, r.rec.ackedOld = qs.recovering, qs.recoverAcked
	if qs.recovering && !r.rec.stateLost {
		why = append(why, "it had not caught up since it last lost data")
	}
	switch {
	case snapshotGone:
		r.lostAcked(qs.acked)
	case r.log.end() < qs.acked && !cfg.trustSurvivors:
		why = append(why, fmt.Sprintf("the log ends at %d below the acknowledged end %d", r.log.end(), qs.acked))
		r.lostAcked(qs.acked)
	case r.log.end() < qs.hw:
		why = append(why, fmt.Sprintf("the log ends at %d below the high watermark %d", r.log.end(), qs.hw))
		r.lostAcked(qs.acked)
	}
	r.restoreOffsets(qs.hw, r.qs.durable.hw)
	for _, rp := range r.repairs {
		r.emit(rp.op, rp.kind, rp.op.Offset)
	}
	r.repairs = nil
	if r.rec.active {
		r.note("recovering", "%d recovers: %s", cfg.ID, strings.Join(why, "; "))
	} else if len(why) > 0 {
		r.note("repaired", "%d repaired its disk: %s", cfg.ID, strings.Join(why, "; "))
	}
	r.persist()
	r.checkInvariants()
	return r, nil
}

// lostAcked makes the member recover entries it may have acknowledged below acked.
func (r *Raft) lostAcked(acked int64) {
	switch {
	case !r.rec.active:
		r.rec.active, r.rec.ackedOld = true, acked
	case r.rec.ackedOld >= 0:
		r.rec.ackedOld = max(r.rec.ackedOld, acked)
	}
}

// restoreQuorumState picks the quorum state to start from. A member that cannot trust
// what it finds starts from the log alone: the epoch of its last entry, no vote, no
// acknowledged end, and no vote at all until it has learned every voter's epoch.
func (r *Raft) restoreQuorumState(l loadedQuorumState, rec Restored, snapshotGone bool, why *[]string) quorumState {
	reason := ""
	switch {
	case l.lost:
		reason = "no copy of the quorum state decodes (" + strings.TrimSuffix(l.why, "; ") + ")"
	case l.fresh && (r.log.end() > 0 || rec.Snapshot != nil || snapshotGone):
		// Nothing reaches the log before a quorum-state write completes.
		reason = "the quorum state is missing beside a log"
	case r.log.lastEpoch() > l.qs.epoch:
		reason = fmt.Sprintf("the log holds epoch %d beyond the quorum state's epoch %d", r.log.lastEpoch(), l.qs.epoch)
	}
	if reason == "" {
		if l.rewrite && l.why != "" {
			*why = append(*why, "a quorum-state copy is unusable ("+strings.TrimSuffix(l.why, "; ")+"); both are written again")
		}
		r.qs.durable, r.qs.seq, r.qs.rewrite = l.durable, l.seq, l.rewrite
		return l.qs
	}
	*why = append(*why, reason)
	if r.cfg.trustSurvivors {
		r.qs.durable = quorumState{votedFor: -1, acked: -1}
		return quorumState{epoch: r.log.lastEpoch(), votedFor: -1}
	}
	r.rec.stateLost = true
	// Nothing is durable: the first write records the state below, and everything that
	// depends on the epoch or the acknowledged end waits for it.
	r.qs.durable = quorumState{votedFor: -1, acked: -1}
	return quorumState{epoch: r.log.lastEpoch(), votedFor: -1, recovering: true, recoverAcked: -1, voteFloor: noVotes}
}

// restoreOffsets sets the durable and acknowledged ends to the recovered log and the high
// watermark from the quorum state, and re-delivers what the log holds below the part of
// it that both copies hold (the rest follows their rewrite). A snapshot is committed
// data, so it raises the high watermark to its end.
func (r *Raft) restoreOffsets(hw, hwBoth int64) {
	if r.voterIdx < 0 && r.voteFloor == noVotes {
		r.voteFloor = 0 // an observer never votes: there is nothing to learn
	}
	r.durableOffset = r.log.end()
	r.ackedMem = r.log.end()
	r.committedNext = r.log.start
	hw = max(hw, r.log.start)
	r.hwMem, r.leaderHW = hw, hw
	r.setHWDurable(max(min(hwBoth, hw), r.log.start))
}

// restoreLog loads the recovered log and reconciles it with the snapshot. What does not
// check out is dropped, and the disk ops that drop it wait in r.repairs. It reports
// whether the log had to start over without the snapshot the node had.
func (r *Raft) restoreLog(rec Restored, why *[]string) (snapshotGone bool) {
	s := rec.Snapshot
	switch {
	case rec.SnapshotLost:
		*why = append(*why, "the snapshot does not decode")
		r.resetLog(0, 0, nil)
		r.repairs = []repairOp{{disk.Op{Kind: disk.RemoveFile, Name: SnapshotFile}, opRemoveFile}, r.repairs[0]}
		return true
	case s == nil && rec.StartOffset != 0:
		*why = append(*why, fmt.Sprintf("the log starts at %d without a snapshot", rec.StartOffset))
		r.resetLog(0, 0, nil)
		return true
	case s != nil && s.EndOffset < rec.StartOffset:
		// The entries between the two are gone; the snapshot itself is intact.
		*why = append(*why, fmt.Sprintf("the snapshot ends at %d below the log start %d", s.EndOffset, rec.StartOffset))
		c := *s
		r.resetLog(c.EndOffset, c.Epoch, &c)
		return false
	}
	startEpoch := int32(-1) // unknown: the log starts below the snapshot's end
	switch {
	case s == nil:
		startEpoch = 0
	case s.EndOffset == rec.StartOffset:
		startEpoch = s.Epoch
	}
	r.log = newMemLog(rec.StartOffset, startEpoch)
	if err := r.loadBatches(rec.Batches); err != nil {
		*why = append(*why, fmt.Sprintf("the log is cut at %d: %v", r.log.end(), err))
		r.repairs = append(r.repairs, repairOp{disk.Op{Kind: disk.Truncate, Log: disk.MetadataLog, Offset: r.log.end()}, opTruncate})
	}
	if s != nil {
		c := *s
		r.snap = &c
		r.fitLogToSnapshot(c)
	}
	return false
}

// resetLog empties the log and restarts it at o after snapshot s (nil: none).
func (r *Raft) resetLog(o int64, epoch int32, s *Snapshot) {
	r.log = newMemLog(o, epoch)
	r.snap = s
	r.repairs = []repairOp{{disk.Op{Kind: disk.Reset, Log: disk.MetadataLog, Offset: o}, opReset}}
}

// loadBatches appends the recovered batches up to the first that does not check out.
func (r *Raft) loadBatches(b []byte) error {
	n, err := record.Split(b, func(h record.Header, batch []byte) error {
		last := r.log.lastEpoch()
		if err := checkBatch(h, batch, r.log.end(), last, math.MaxInt32); err != nil {
			return err
		}
		if err := checkEpochStart(h, batch, last); err != nil {
			return err
		}
		r.log.append(logBatch{base: h.BaseOffset, next: h.NextOffset(), epoch: h.PartitionLeaderEpoch, data: batch})
		return nil
	})
	if err == nil && n != len(b) {
		err = fmt.Errorf("%d bytes left after the last batch", len(b)-n)
	}
	return err
}

// checkEpochStart checks a batch's epoch against the one before it (lastEpoch, -1 when
// unknown). The epoch in a batch header is outside the batch CRC, so damage to it would
// go unseen; but an epoch always begins with its leader's leader-change record, whose
// value names the epoch under the CRC. So a batch in a new epoch must be that record, and
// the record must agree with its header.
func checkEpochStart(h record.Header, batch []byte, lastEpoch int32) error {
	e := h.PartitionLeaderEpoch
	if !h.IsControl() {
		if lastEpoch >= 0 && e != lastEpoch {
			return fmt.Errorf("%w at %d: epoch %d begins without a leader-change record", errBadBatch, h.BaseOffset, e)
		}
		return nil
	}
	es, err := batchEntries(nil, batch)
	if err != nil {
		return err
	}
	lc, err := DecodeLeaderChange(es[0].Data)
	switch {
	case err != nil || len(es) != 1:
		return fmt.Errorf("%w at %d: control batch of %d records is not a leader change (%v)", errBadBatch, h.BaseOffset, len(es), err)
	case lc.Epoch != e || e <= lastEpoch:
		return fmt.Errorf("%w at %d: leader change of epoch %d in a batch of epoch %d after epoch %d", errBadBatch, h.BaseOffset, lc.Epoch, e, lastEpoch)
	}
	return nil
}

// fitLogToSnapshot drops what the snapshot covers. A log that ends before the snapshot,
// or disagrees with its epoch, was being replaced by it when the node stopped.
func (r *Raft) fitLogToSnapshot(s Snapshot) {
	if s.EndOffset == r.log.start {
		return
	}
	if s.EndOffset <= r.log.end() && r.log.isBoundary(s.EndOffset) && r.log.epochBefore(s.EndOffset) == s.Epoch {
		r.log.deleteBelow(s.EndOffset)
		r.repairs = append(r.repairs, repairOp{disk.Op{Kind: disk.DeleteBelow, Log: disk.MetadataLog, Offset: s.EndOffset}, opDeleteBelow})
		return
	}
	r.resetLog(s.EndOffset, s.Epoch, &s)
}

// repairOp is a disk op New emits once the recovered state is settled.
type repairOp struct {
	op   disk.Op
	kind opKind
}
