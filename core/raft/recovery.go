package raft

// Recovery from data lost on one member's disk (see "Surviving a damaged disk" in the
// package doc for the rules and why they are safe).

// recovery is what a Recovering member tracks.
type recovery struct {
	// active: the member recovers. Persisted (quorumState.recovering) until it has caught
	// up, so that a restart in the middle does not forget it.
	active bool
	// ackedOld is the acknowledged end below which it lost entries; -1 when unknown.
	// Persisted with active.
	ackedOld int64
	// stateLost: this incarnation found no readable quorum state. snapshotLost: it found
	// a snapshot that did not decode.
	stateLost, snapshotLost bool

	// followed is the epoch whose leader answered a fetch in this incarnation, -1 none;
	// target is what the durable log must reach in it, set from that first answer.
	followed int32
	target   int64

	// The epoch poll: queries carry nonce, and answered marks the voters whose answer to
	// a query of this incarnation arrived.
	nonce    uint64
	answered []bool
	pollAt   int64
}

// pollDue reports whether a recovering voter asks the voters for their epoch and leader:
// while it does not know every voter's epoch (its vote floor) or who leads.
func (r *Raft) pollDue() bool {
	return r.rec.active && r.voterIdx >= 0 && (r.voteFloor == noVotes || r.leader < 0)
}

// poll sends an EpochQuery to every voter whose answer is still missing, or to every
// voter when only the leader is missing, and asks again every half election timeout.
func (r *Raft) poll(now int64) {
	c := &r.rec
	if c.nonce == 0 {
		c.nonce = (r.cfg.Rand.Uint64() ^ uint64(now)) | 1
		c.answered = make([]bool, len(r.cfg.Voters))
	}
	for i, v := range r.cfg.Voters {
		if i != r.voterIdx && (!c.answered[i] || r.voteFloor != noVotes) {
			r.send(v, &EpochQuery{Epoch: r.epoch, Nonce: c.nonce})
		}
	}
	c.pollAt = now + int64(r.cfg.ElectionTimeout)/2
}

// onEpochQuery answers with this member's epoch and leader. The asker's epoch came from a
// candidate or leader, and a higher one is adopted as from any message: otherwise a
// recovering member that learned of an epoch the others did not would wait for its
// leader forever.
func (r *Raft) onEpochQuery(now int64, from int32, m *EpochQuery) {
	if r.voterIndex(from) < 0 || from == r.cfg.ID {
		return
	}
	if m.Epoch > r.epoch {
		r.adopt(now, m.Epoch, -1)
	}
	r.send(from, &EpochAnswer{Nonce: m.Nonce, Epoch: r.epoch, Leader: r.leader})
}

// onEpochAnswer takes a voter's epoch and leader. Once every other voter answered a query
// sent after this start, no voter is in an epoch above this member's: that bounds the
// epochs in which it may have voted before it lost its quorum state.
func (r *Raft) onEpochAnswer(now int64, from int32, m *EpochAnswer) {
	c := &r.rec
	vi := r.voterIndex(from)
	if vi < 0 || !c.active || c.nonce == 0 || m.Nonce != c.nonce || r.voterIdx < 0 {
		return
	}
	leader := r.hint(m.Leader)
	switch {
	case m.Epoch > r.epoch:
		r.adopt(now, m.Epoch, leader)
	case m.Epoch == r.epoch && r.leader < 0 && leader >= 0:
		r.adopt(now, r.epoch, leader)
	}
	c.answered[vi] = true
	if r.voteFloor != noVotes {
		return
	}
	for i, ok := range c.answered {
		if !ok && i != r.voterIdx {
			return
		}
	}
	r.voteFloor = r.epoch
	r.note("vote-floor", "%d votes again only above epoch %d, the highest of every voter's", r.cfg.ID, r.epoch)
	r.persist()
	r.maybeRecovered()
}

// onLeaderAnswer is called for every good fetch response from the leader. The first in
// an epoch fixes what a recovering member must hold before it counts again: the leader's
// high watermark, and the leader's log up to the end this member had acknowledged (all of
// it when that end is unknown). Every entry committed with this member's
// acknowledgement is in that prefix of the leader's log.
func (r *Raft) onLeaderAnswer(m *FetchResponse) {
	c := &r.rec
	if !c.active || c.followed == r.epoch {
		return
	}
	end := m.EndOffset
	if c.ackedOld >= 0 {
		end = min(end, c.ackedOld)
	}
	c.followed, c.target = r.epoch, max(m.HW, end)
}

// maybeRecovered ends recovery once the member follows a leader, knows its vote floor,
// and its durable log holds the target and its own high watermark.
func (r *Raft) maybeRecovered() {
	c := &r.rec
	switch {
	case !c.active || c.followed != r.epoch || (r.role != Follower && r.role != Observer):
		return
	case r.voterIdx >= 0 && r.voteFloor == noVotes:
		return
	case r.durableOffset < c.target || r.durableOffset < r.hwMem || r.fol.installing != nil || r.cut != nil:
		return
	}
	c.active, c.ackedOld, c.stateLost, c.snapshotLost = false, 0, false, false
	// It may have voted in this epoch before the loss; it votes only in later ones.
	if r.voteFloor == noVotes {
		r.voteFloor = 0
	}
	r.voteFloor = max(r.voteFloor, r.epoch)
	r.note("recovered", "%d caught up with leader %d of epoch %d at %d", r.cfg.ID, r.leader, r.epoch, r.durableOffset)
	r.persist()
}
