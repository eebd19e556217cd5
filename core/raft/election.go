package raft

import (
	"math"

	"github.com/seedlog/seedlog/core/plant"
)

// startPreVote asks the other voters whether they would vote for this member in the next
// epoch. Nothing is persisted: a member partitioned away cannot inflate the epoch.
func (r *Raft) startPreVote(now int64) {
	r.resetElectionTimer(now)
	if r.voterIdx < 0 || r.fol.installing != nil || r.epoch == math.MaxInt32 || r.rec.active || r.cut != nil {
		return
	}
	r.leaveRole("election timeout")
	r.role, r.leader = Prospective, -1
	r.votes = make([]bool, len(r.cfg.Voters))
	r.rejects = make([]bool, len(r.cfg.Voters))
	r.votes[r.voterIdx] = true
	r.note("pre-vote", "asks for pre-votes for epoch %d", r.epoch+1)
	r.requestVotes(now, true)
	r.checkPreVotes(now)
}

// requestVotes asks every voter that has not answered yet.
func (r *Raft) requestVotes(now int64, pre bool) {
	epoch := r.epoch
	if pre {
		epoch++
	}
	for i, v := range r.cfg.Voters {
		if v != r.cfg.ID && !r.votes[i] && !r.rejects[i] {
			r.send(v, &VoteRequest{Epoch: epoch, CandidateID: r.cfg.ID,
				LastEpoch: r.log.lastEpoch(), EndOffset: r.log.end(), PreVote: pre})
		}
	}
	r.voteRetryAt = now + int64(r.cfg.ElectionTimeout)/4
}

// tickElection resends unanswered vote requests (they or their answers may be lost) and
// starts over when the election times out.
func (r *Raft) tickElection(now int64) {
	switch {
	case now >= r.electionAt:
		r.startPreVote(now)
	case r.role == Prospective || r.role == Candidate:
		if now >= r.voteRetryAt {
			r.requestVotes(now, r.role == Prospective)
		}
	}
}

func (r *Raft) electionDeadline() int64 {
	if r.role == Prospective || r.role == Candidate {
		return min(r.electionAt, r.voteRetryAt)
	}
	return r.electionAt
}

func (r *Raft) checkPreVotes(now int64) {
	if count(r.votes) >= r.majority {
		r.becomeCandidate(now)
	}
}

// becomeCandidate starts epoch+1 with a vote for itself. The vote requests wait for the
// new state to be durable; its own vote counts only then.
func (r *Raft) becomeCandidate(now int64) {
	r.leaveRole("candidacy")
	r.epoch++
	r.epochChanged(now, r.epoch)
	r.votedFor = r.cfg.ID
	r.role, r.leader = Candidate, -1
	r.votes = make([]bool, len(r.cfg.Voters))
	r.rejects = make([]bool, len(r.cfg.Voters))
	r.persist()
	r.resetElectionTimer(now)
	r.note("candidate", "stands in epoch %d", r.epoch)
	r.requestVotes(now, false)
	r.checkVotes(now)
}

func (r *Raft) checkVotes(now int64) {
	n := count(r.votes)
	if r.stateDurable() {
		n++ // its own vote, now durable
	}
	if n >= r.majority {
		r.becomeLeader(now)
	}
}

func count(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// upToDate reports whether a candidate's log is at least as up to date as this member's.
func (r *Raft) upToDate(lastEpoch int32, end int64) bool {
	mine := r.log.lastEpoch()
	return lastEpoch > mine || (lastEpoch == mine && end >= r.log.end())
}

// mayVote reports whether this member may grant a vote or pre-vote in epoch: not while it
// recovers, and only above its vote floor.
func (r *Raft) mayVote(epoch int32) bool {
	return !r.rec.active && epoch > r.voteFloor
}

// heardFromLeader reports whether this member knows of a live leader: it leads, or heard
// from the leader within the election timeout.
func (r *Raft) heardFromLeader(now int64) bool {
	return r.role == Leader || now-r.lastLeaderContact < int64(r.cfg.ElectionTimeout)
}

func (r *Raft) onVoteRequest(now int64, from int32, m *VoteRequest) {
	if from != m.CandidateID || r.voterIndex(from) < 0 || from == r.cfg.ID {
		return
	}
	if m.PreVote {
		r.answerPreVote(now, from, m)
		return
	}
	if m.Epoch < r.epoch || r.voterIdx < 0 {
		r.send(from, &VoteResponse{Epoch: r.epoch, Leader: r.leader, VoteEpoch: m.Epoch})
		return
	}
	if m.Epoch > r.epoch {
		r.adopt(now, m.Epoch, -1)
	}
	grant := r.leader < 0 && (r.votedFor == -1 || r.votedFor == from) && r.mayVote(m.Epoch) && r.upToDate(m.LastEpoch, m.EndOffset)
	if grant && r.votedFor != from {
		r.votedFor = from
		r.persist()
		r.resetElectionTimer(now)
	}
	resp := &VoteResponse{Epoch: r.epoch, Leader: r.leader, VoteEpoch: m.Epoch, Granted: grant}
	if grant && r.cfg.Plants.On(plant.VoteBeforeSync) {
		r.out.Messages = append(r.out.Messages, Envelope{To: from, Msg: resp})
		return
	}
	r.send(from, resp)
}

func (r *Raft) answerPreVote(now int64, from int32, m *VoteRequest) {
	grant := r.voterIdx >= 0 && m.Epoch > r.epoch && r.mayVote(m.Epoch) && !r.heardFromLeader(now) && r.upToDate(m.LastEpoch, m.EndOffset)
	r.send(from, &VoteResponse{Epoch: r.epoch, Leader: r.leader, VoteEpoch: m.Epoch, PreVote: true, Granted: grant})
}

func (r *Raft) onVoteResponse(now int64, from int32, m *VoteResponse) {
	vi := r.voterIndex(from)
	if vi < 0 || m.Epoch < r.epoch {
		return
	}
	if m.Epoch > r.epoch {
		r.adopt(now, m.Epoch, r.hint(m.Leader))
		return
	}
	if m.PreVote {
		r.onPreVoteResponse(now, vi, m)
		return
	}
	if r.role != Candidate || m.VoteEpoch != r.epoch {
		return
	}
	if !m.Granted {
		r.rejects[vi] = true
		return
	}
	r.votes[vi] = true
	r.checkVotes(now)
}

func (r *Raft) onPreVoteResponse(now int64, vi int, m *VoteResponse) {
	if r.role != Prospective || m.VoteEpoch != r.epoch+1 {
		return
	}
	if m.Granted {
		r.votes[vi] = true
		r.checkPreVotes(now)
		return
	}
	r.rejects[vi] = true
	if leader := r.hint(m.Leader); leader >= 0 {
		// Someone still hears from a leader of this epoch: follow it rather than wait.
		r.note("pre-vote-failed", "voter %d follows leader %d in epoch %d", r.cfg.Voters[vi], leader, r.epoch)
		r.adopt(now, r.epoch, leader)
		return
	}
	if count(r.rejects) == len(r.cfg.Voters)-r.majority+1 {
		r.note("pre-vote-failed", "a majority refused epoch %d", r.epoch+1)
	}
}

func (r *Raft) onBeginQuorumEpoch(now int64, from int32, m *BeginQuorumEpoch) {
	if m.LeaderID != from || r.voterIndex(from) < 0 || from == r.cfg.ID {
		return
	}
	if m.Epoch < r.epoch {
		r.send(from, &BeginQuorumEpochResponse{Epoch: r.epoch, Leader: r.leader, Code: CodeFencedEpoch})
		return
	}
	if m.Epoch == r.epoch && r.leader >= 0 && r.leader != from {
		r.note("conflicting-leader", "%d claims epoch %d led by %d", from, m.Epoch, r.leader)
		return
	}
	r.lastLeaderContact = now
	if m.Epoch > r.epoch || r.leader != from {
		r.adopt(now, m.Epoch, from)
	}
	r.fol.deadline = now + int64(r.cfg.FetchTimeout)
}

func (r *Raft) onBeginQuorumEpochResponse(now int64, m *BeginQuorumEpochResponse) {
	if m.Epoch > r.epoch {
		r.adopt(now, m.Epoch, r.hint(m.Leader))
	}
}
