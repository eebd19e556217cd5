package raft

import (
	"cmp"
	"slices"
)

// Linearizable reads (read index). A leader cannot simply answer with its high watermark:
// a newer leader may already exist and have committed more. So a read is confirmed by a
// round trip that proves a majority still followed this leader after the read began:
//
//   - ReadIndex starts a new read round r and records the durable high watermark;
//   - every fetch response the leader sends from then on carries r, and held fetches are
//     answered at once so that followers fetch again promptly;
//   - a follower echoes the highest round it saw in its next fetch, which it therefore
//     sent after round r began, while still in this leader's epoch;
//   - once a majority of voters (the leader included) echoed r or more, no other leader
//     of a later epoch can have been elected before the read began: its majority would
//     have had to leave this epoch first, and it intersects this one.
//
// No clock is involved, so the argument holds under any clock skew or pause.

// readsMax bounds the reads a leader has waiting.
const readsMax = 4096

type readState struct {
	round   uint64
	pending []pendingRead // rounds ascending
}

type pendingRead struct {
	id    uint64
	index int64
	round uint64
}

// ReadResult answers a ReadIndex call. OK is false when this member does not lead (or no
// longer does), has not committed the start of its epoch yet, or has too many reads
// waiting; the caller asks the leader again.
type ReadResult struct {
	ID    uint64
	Index int64 // the committed offset a read must wait for
	OK    bool
}

// ReadIndex asks for the committed offset a linearizable read must reflect. The answer
// comes in a later Ready.Reads with the same id.
func (r *Raft) ReadIndex(now int64, id uint64) {
	r.deadlineKnown = false
	if r.role != Leader || r.hwDurable < r.lead.epochStart || len(r.lead.reads.pending) >= readsMax {
		r.out.Reads = append(r.out.Reads, ReadResult{ID: id})
		return
	}
	rs := &r.lead.reads
	rs.round++
	rs.pending = append(rs.pending, pendingRead{id: id, index: r.hwDurable, round: rs.round})
	r.completeHeldFetches()
	r.confirmReads()
}

// confirmReads answers the reads whose round a majority has echoed.
func (r *Raft) confirmReads() {
	rs := &r.lead.reads
	if len(rs.pending) == 0 {
		return
	}
	rounds := make([]uint64, len(r.cfg.Voters))
	for i, p := range r.lead.peers {
		rounds[i] = p.readRound
	}
	rounds[r.voterIdx] = rs.round
	slices.SortFunc(rounds, func(a, b uint64) int { return cmp.Compare(b, a) })
	confirmed := rounds[r.majority-1]
	i := 0
	for ; i < len(rs.pending) && rs.pending[i].round <= confirmed; i++ {
		p := rs.pending[i]
		r.out.Reads = append(r.out.Reads, ReadResult{ID: p.id, Index: p.index, OK: true})
	}
	rs.pending = rs.pending[i:]
}

// failReads answers every waiting read with OK false: leadership is gone.
func (r *Raft) failReads() {
	for _, p := range r.lead.reads.pending {
		r.out.Reads = append(r.out.Reads, ReadResult{ID: p.id})
	}
	r.lead.reads.pending = nil
}
