package raft

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/seedlog/seedlog/core/disk"
)

var three = []int32{1, 2, 3}

func TestSingleVoterElectsItselfAndCommits(t *testing.T) {
	c := newCluster(t, []int32{1})
	c.elect(1)
	off := c.propose(1, "a", "b")
	if off != 2 {
		t.Fatalf("last offset %d, want 2 (after the leader-change record at 0)", off)
	}
	c.completeDisk()
	got := values(c.n(1).takeCommitted())
	if want := "0:ctl@1 1:a@1 2:b@1"; got != want {
		t.Fatalf("committed %q, want %q", got, want)
	}
	if st := c.n(1).r.Status(); st.HW != 3 || st.Epoch != 1 || st.DurableOffset != 3 {
		t.Fatalf("status %+v", st)
	}
}

func TestThreeVotersReplicateAndCommit(t *testing.T) {
	c := newCluster(t, three)
	c.elect(1)
	c.propose(1, "x")
	c.settle()
	for _, id := range three {
		if got, want := values(c.n(id).takeCommitted()), "0:ctl@1 1:x@1"; got != want {
			t.Errorf("node %d committed %q, want %q", id, got, want)
		}
		if st := c.n(id).r.Status(); st.HW != 2 || st.Leader != 1 {
			t.Errorf("node %d: %+v", id, st)
		}
	}
}

// A vote leaves only after the quorum-state write that records it completes.
func TestVoteHeldUntilQuorumStateDurable(t *testing.T) {
	c := newCluster(t, three)
	v := c.n(2)
	v.r.Step(c.now, 1, &VoteRequest{Epoch: 1, CandidateID: 1, LastEpoch: 0, EndOffset: 0})
	c.pump()
	if len(c.msgs) != 0 {
		t.Fatalf("vote left before its quorum state was durable: %+v", c.msgs[0].env.Msg)
	}
	if len(v.ops) != 2 || v.ops[0].Kind != disk.WriteFile || v.ops[0].Name != QuorumStateFile ||
		v.ops[1].Kind != disk.WriteFile || v.ops[1].Name != QuorumStateCopyFile || !bytes.Equal(v.ops[0].Data, v.ops[1].Data) {
		t.Fatalf("ops %v, want one quorum-state write to both copies", v.ops)
	}
	// The first copy alone releases nothing.
	first := v.ops[0]
	v.ops = v.ops[1:]
	v.r.Done(c.now, disk.Done{ID: first.ID, Kind: first.Kind})
	c.pump()
	if len(c.msgs) != 0 {
		t.Fatalf("vote left after the first copy only: %+v", c.msgs[0].env.Msg)
	}
	if st := v.r.Status(); st.Epoch != 0 || st.PendingEpoch != 1 || st.VotedFor != -1 {
		t.Fatalf("status before the write completes: %+v", st)
	}
	c.completeDisk(2)
	if len(c.msgs) != 1 {
		t.Fatalf("%d messages after the write, want the vote", len(c.msgs))
	}
	resp, ok := msgOf[*VoteResponse](c.msgs[0])
	if !ok || !resp.Granted || resp.Epoch != 1 || resp.VoteEpoch != 1 {
		t.Fatalf("response %+v", c.msgs[0].env.Msg)
	}
	for _, name := range []string{QuorumStateFile, QuorumStateCopyFile} {
		qs, _, err := decodeQuorumState(v.files[name])
		if err != nil || qs.epoch != 1 || qs.votedFor != 1 {
			t.Fatalf("durable quorum state in %s: %+v, %v", name, qs, err)
		}
	}
}

// While one quorum-state write is in flight, later changes wait and go out together in
// one next write; every response waits for a write that covers it.
func TestQuorumStateWritesCoalesce(t *testing.T) {
	c := newCluster(t, []int32{1, 2, 3, 4, 5})
	v := c.n(5)
	v.r.Step(c.now, 1, &VoteRequest{Epoch: 1, CandidateID: 1})
	v.r.Step(c.now, 2, &VoteRequest{Epoch: 2, CandidateID: 2})
	v.r.Step(c.now, 3, &VoteRequest{Epoch: 3, CandidateID: 3})
	c.pump()
	if len(v.ops) != 2 || len(c.msgs) != 0 {
		t.Fatalf("%d ops in flight and %d messages out, want one write (2 ops) and 0", len(v.ops), len(c.msgs))
	}
	for _, op := range v.ops {
		v.r.Done(c.now, disk.Done{ID: op.ID, Kind: op.Kind})
	}
	v.ops = nil
	c.pump()
	// The first write held epoch 1 without the vote (adopting the epoch came first);
	// the vote for 1 and everything after go out together in the second.
	if len(c.msgs) != 0 || len(v.ops) != 2 {
		t.Fatalf("after the first write: messages %v, ops %v", c.msgs, v.ops)
	}
	c.completeDisk(5)
	qs, _, _ := decodeQuorumState(v.files[QuorumStateFile])
	if qs.epoch != 3 || qs.votedFor != 3 {
		t.Fatalf("durable state %+v, want a vote for 3 in epoch 3", qs)
	}
	// Votes in epochs 1 and 2 were never written, but the member is durably past them,
	// so it can never vote in them again: releasing them is safe.
	for i, m := range c.msgs {
		resp, ok := msgOf[*VoteResponse](m)
		if !ok || !resp.Granted || resp.VoteEpoch != int32(i+1) || m.env.To != int32(i+1) {
			t.Errorf("response %d: %+v to %d", i, m.env.Msg, m.env.To)
		}
	}
}

func TestVoteGrantingRules(t *testing.T) {
	c := newCluster(t, three)
	c.elect(1)
	c.propose(1, "a")
	c.settle()
	v := c.n(3)
	ask := func(m *VoteRequest) *VoteResponse {
		t.Helper()
		v.r.Step(c.now, m.CandidateID, m)
		c.completeDisk(3)
		var got *VoteResponse
		c.drop(func(tm tmsg) bool {
			if r, ok := msgOf[*VoteResponse](tm); ok && tm.from == 3 {
				got = r
				return true
			}
			return false
		})
		if got == nil {
			t.Fatalf("no response to %+v", m)
		}
		return got
	}
	// Same epoch with a known leader: refused.
	if r := ask(&VoteRequest{Epoch: 1, CandidateID: 2, LastEpoch: 1, EndOffset: 2}); r.Granted {
		t.Fatalf("granted a vote in an epoch with a leader")
	}
	// Older epoch: refused, with the current epoch.
	if r := ask(&VoteRequest{Epoch: 0, CandidateID: 2}); r.Granted || r.Epoch != 1 || r.Leader != 1 {
		t.Fatalf("stale request answered %+v", r)
	}
	// Newer epoch, stale log (shorter, same last epoch): refused, epoch adopted.
	if r := ask(&VoteRequest{Epoch: 2, CandidateID: 2, LastEpoch: 1, EndOffset: 1}); r.Granted || r.Epoch != 2 {
		t.Fatalf("vote for a shorter log: %+v", r)
	}
	// Same epoch, older last epoch: refused.
	if r := ask(&VoteRequest{Epoch: 2, CandidateID: 2, LastEpoch: 0, EndOffset: 100}); r.Granted {
		t.Fatalf("vote for an older last epoch")
	}
	// Up to date: granted, once.
	if r := ask(&VoteRequest{Epoch: 2, CandidateID: 2, LastEpoch: 1, EndOffset: 2}); !r.Granted {
		t.Fatalf("up-to-date candidate refused: %+v", r)
	}
	if r := ask(&VoteRequest{Epoch: 2, CandidateID: 1, LastEpoch: 1, EndOffset: 5}); r.Granted {
		t.Fatalf("second vote in epoch 2")
	}
	// A repeated request from the same candidate gets the same answer.
	if r := ask(&VoteRequest{Epoch: 2, CandidateID: 2, LastEpoch: 1, EndOffset: 2}); !r.Granted {
		t.Fatalf("repeated request refused")
	}
	if st := v.r.Status(); st.VotedFor != 2 || st.Epoch != 2 {
		t.Fatalf("status %+v", st)
	}
}

func TestPreVote(t *testing.T) {
	c := newCluster(t, three)
	c.elect(1)
	c.settle()
	v := c.n(3)
	// A follower that just heard from its leader refuses, and says who leads.
	v.r.Step(c.now, 2, &VoteRequest{Epoch: 2, CandidateID: 2, LastEpoch: 1, EndOffset: 1, PreVote: true})
	c.pump()
	resp, _ := msgOf[*VoteResponse](c.msgs[len(c.msgs)-1])
	if resp == nil || resp.Granted || !resp.PreVote || resp.Leader != 1 {
		t.Fatalf("pre-vote answered %+v", c.msgs[len(c.msgs)-1].env.Msg)
	}
	if st := v.r.Status(); st.PendingEpoch != 1 || len(v.ops) != 0 {
		t.Fatalf("a pre-vote changed state: %+v, ops %v", st, v.ops)
	}
	c.msgs = nil
	// After an election timeout without the leader it grants, still without persisting.
	c.now += int64(testElection)
	v.r.Step(c.now, 2, &VoteRequest{Epoch: 2, CandidateID: 2, LastEpoch: 1, EndOffset: 1, PreVote: true})
	c.pump()
	resp, _ = msgOf[*VoteResponse](c.msgs[0])
	if resp == nil || !resp.Granted {
		t.Fatalf("pre-vote refused after the timeout: %+v", c.msgs[0].env.Msg)
	}
	if st := v.r.Status(); st.PendingEpoch != 1 || len(v.ops) != 0 {
		t.Fatalf("a pre-vote changed state: %+v, ops %v", st, v.ops)
	}
}

// A partitioned voter asks for pre-votes forever without raising its epoch, and
// rejoins without disturbing the leader.
func TestPreVoteKeepsPartitionedVoterFromDisruptingTheLeader(t *testing.T) {
	c := newCluster(t, three)
	c.elect(1)
	c.settle()
	for i := 0; i < 5; i++ {
		c.now += int64(testFetchTO) * 2
		c.n(3).r.Tick(c.now)
		c.n(1).r.Step(c.now, 2, &Fetch{Epoch: 1, ReplicaID: 2, FetchOffset: 1, LastFetchedEpoch: 1, KnownHW: 1})
		c.pump()
		c.drop(func(m tmsg) bool { return m.from == 3 || m.env.To == 3 })
	}
	if st := c.n(3).r.Status(); st.PendingEpoch != 1 || st.Role != Prospective {
		t.Fatalf("partitioned voter: %+v", st)
	}
	// Healed: its pre-vote fails (the others hear from the leader) and it follows again.
	c.n(3).r.Tick(c.n(3).r.Deadline())
	c.now = max(c.now, c.n(3).r.lastNow)
	c.n(2).r.Step(c.now-1, 1, &BeginQuorumEpoch{Epoch: 1, LeaderID: 1})
	c.settle()
	if st := c.n(3).r.Status(); st.Role != Follower || st.Leader != 1 || st.PendingEpoch != 1 {
		t.Fatalf("after healing: %+v", st)
	}
	if st := c.n(1).r.Status(); st.Role != Leader || st.Epoch != 1 {
		t.Fatalf("leader disturbed: %+v", st)
	}
}

// A candidate asks for votes only once its own vote is durable.
func TestCandidateWaitsForItsVoteToBeDurable(t *testing.T) {
	c := newCluster(t, three)
	for _, id := range three {
		c.n(id).r.Tick(c.now)
	}
	n := c.n(1)
	n.r.Tick(n.r.Deadline())
	c.now = n.r.lastNow
	c.pump()
	for _, m := range c.msgs {
		if r, ok := msgOf[*VoteRequest](m); !ok || !r.PreVote || r.Epoch != 1 {
			t.Fatalf("prospective sent %+v", m.env.Msg)
		}
	}
	c.deliver(nil) // pre-votes to 2 and 3
	c.deliver(nil) // their grants to 1
	if st := n.r.Status(); st.Role != Candidate || st.PendingEpoch != 1 || st.Epoch != 0 {
		t.Fatalf("after pre-votes: %+v", st)
	}
	if len(c.msgs) != 0 {
		t.Fatalf("vote requests left before the candidate's state was durable: %v", c.msgs)
	}
	c.completeDisk(1)
	if len(c.msgs) != 2 {
		t.Fatalf("%d vote requests after the write, want 2", len(c.msgs))
	}
	c.settle()
	if st := n.r.Status(); st.Role != Leader || st.Epoch != 1 {
		t.Fatalf("candidate did not win: %+v", st)
	}
}

// Split votes resolve: two candidates in the same epoch, each with its own vote, time
// out at different random times and one wins the next epoch.
func TestSplitVoteResolves(t *testing.T) {
	c := newCluster(t, []int32{1, 2, 3, 4})
	for _, id := range c.ids {
		c.n(id).r.Tick(c.now)
	}
	// 1 and 2 both become candidates in epoch 1; 3 votes for 1, 4 for 2.
	for _, id := range []int32{1, 2} {
		n := c.n(id)
		n.r.Step(c.now, 3, &VoteResponse{})
		n.r.startPreVote(c.now)
		for _, v := range []int32{3, 4} {
			n.r.Step(c.now, v, &VoteResponse{Epoch: 0, Leader: -1, VoteEpoch: 1, PreVote: true, Granted: true})
		}
	}
	c.completeDisk()
	c.deliver(func(m tmsg) bool { return (m.from == 1 && m.env.To == 3) || (m.from == 2 && m.env.To == 4) })
	c.drop(func(tmsg) bool { return true })
	c.completeDisk()
	c.deliver(nil)
	for _, id := range []int32{1, 2} {
		if st := c.n(id).r.Status(); st.Role != Candidate {
			t.Fatalf("%d: %+v", id, st)
		}
	}
	for i := 0; i < 50; i++ {
		next := int64(1 << 62)
		for _, id := range c.ids {
			next = min(next, c.n(id).r.Deadline())
		}
		c.now = max(c.now, next)
		for _, id := range c.ids {
			c.n(id).r.Tick(c.now)
		}
		c.settle()
		for _, id := range c.ids {
			if st := c.n(id).r.Status(); st.Role == Leader {
				if st.Epoch < 2 {
					t.Fatalf("leader in epoch %d", st.Epoch)
				}
				return
			}
		}
	}
	t.Fatal("no leader after 50 rounds")
}

// restoredNode replaces node id with one restored from a log of the given batches.
func (c *tcluster) restoredNode(id int32, voters []int32, qs quorumState, batches ...[]byte) {
	q := &disk.Queue{}
	var all []byte
	for _, b := range batches {
		all = append(all, b...)
	}
	state := encodeQuorumState(qs, 1)
	r, err := New(testConfig(id, voters, q, uint64(id)), Restored{QuorumState: state, QuorumStateCopy: state, Batches: all})
	if err != nil {
		c.t.Fatal(err)
	}
	c.nodes[id] = &tnode{t: c.t, id: id, r: r, q: q, files: map[string][]byte{}}
}

// leaderChangeBatch is the batch a leader of epoch appends first, at base.
func leaderChangeBatch(t testing.TB, base int64, epoch, leader int32, voters []int32) []byte {
	b, err := buildBatch(base, epoch, 0, true, [][]byte{leaderChangeValue(leader, epoch, voters)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustBatch(t testing.TB, base int64, epoch int32, control bool, vals ...string) []byte {
	recs := make([][]byte, len(vals))
	for i, v := range vals {
		recs[i] = []byte(v)
	}
	b, err := buildBatch(base, epoch, 0, control, recs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Raft's figure 8: an entry of an older epoch on a majority is not committed until an
// entry of the leader's epoch is on a majority too.
func TestHighWatermarkNeedsAnEntryOfTheCurrentEpoch(t *testing.T) {
	c := newCluster(t, three)
	b0 := leaderChangeBatch(t, 0, 1, 1, three)
	b1 := mustBatch(t, 1, 1, false, "old")
	// 2 and 3 hold epoch 1's entries, committed only up to 1; 1 is gone.
	c.restoredNode(2, three, quorumState{epoch: 1, votedFor: 1, hw: 1}, b0, b1)
	c.restoredNode(3, three, quorumState{epoch: 1, votedFor: 1, hw: 1}, b0, b1)
	delete(c.nodes, 1)
	c.ids = []int32{2, 3}
	noFetch := func(m tmsg) bool { _, f := m.env.Msg.(*Fetch); return !f }
	for _, id := range c.ids {
		c.n(id).r.Tick(c.now)
	}
	l := c.n(2).r
	l.Tick(l.Deadline())
	c.now = l.lastNow
	for i := 0; i < 10; i++ {
		c.completeDisk()
		c.deliver(noFetch)
	}
	if st := l.Status(); st.Role != Leader || st.Epoch != 2 || st.EndOffset != 3 {
		t.Fatalf("2 did not win epoch 2: %+v", st)
	}
	// 3 has the old entries durably, not the new leader-change record.
	l.Step(c.now, 3, &Fetch{Epoch: 2, ReplicaID: 3, FetchOffset: 2, LastFetchedEpoch: 1, KnownHW: 1})
	c.completeDisk()
	if got := l.Status().HW; got != 1 {
		t.Fatalf("HW moved to %d on entries of an older epoch only", got)
	}
	l.Step(c.now, 3, &Fetch{Epoch: 2, ReplicaID: 3, FetchOffset: 3, LastFetchedEpoch: 2, KnownHW: 1})
	c.completeDisk()
	if got := l.Status().HW; got != 3 {
		t.Fatalf("HW %d once the current epoch's entry is on a majority, want 3", got)
	}
	if got := values(c.n(2).takeCommitted()); got != "0:ctl@1 1:old@1 2:ctl@2" {
		t.Fatalf("committed %q", got)
	}
}

// The high watermark is exposed (Status, Committed, fetch responses) only once durable.
func TestHighWatermarkExposedOnlyWhenDurable(t *testing.T) {
	c := newCluster(t, []int32{1})
	c.elect(1)
	n := c.n(1)
	c.propose(1, "a")
	// Complete the append and sync, but not the quorum-state write they trigger.
	for len(n.ops) > 0 && n.ops[0].Kind != disk.WriteFile {
		op := n.ops[0]
		n.ops = n.ops[1:]
		n.r.Done(c.now, disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log})
		c.pump()
	}
	if n.r.hwMem != 2 || n.r.Status().HW != 1 || len(n.takeCommitted()) != 1 {
		t.Fatalf("in memory %d, exposed %d; want 2 and 1 (one entry delivered)", n.r.hwMem, n.r.Status().HW)
	}
	c.completeDisk(1)
	if got := values(n.takeCommitted()); got != "1:a@1" || n.r.Status().HW != 2 {
		t.Fatalf("after the write: committed %q, HW %d", got, n.r.Status().HW)
	}
}

func TestDivergenceTruncatesInOneRoundTrip(t *testing.T) {
	c := newCluster(t, three)
	c.elect(1)
	c.settle()
	// 1 appends entries of epoch 1 that reach only 3.
	c.propose(1, "lost-1", "lost-2")
	c.completeDisk(1)
	c.deliver(func(m tmsg) bool { return m.env.To == 3 }) // held fetch of 3 completes
	c.completeDisk(3)
	if got := c.n(3).r.Status().EndOffset; got != 3 {
		t.Fatalf("3 ends at %d, want 3", got)
	}
	c.drop(func(tmsg) bool { return true })
	// 2 leads epoch 2 with votes from 2 and 1 (1 has the same log as 3, but votes).
	c.n(2).r.startPreVote(c.now)
	c.n(2).r.Step(c.now, 1, &VoteResponse{Leader: -1, VoteEpoch: 2, PreVote: true, Granted: true, Epoch: 1})
	c.completeDisk(2)
	c.n(2).r.Step(c.now, 1, &VoteResponse{Epoch: 2, Leader: -1, VoteEpoch: 2, Granted: true})
	if c.n(2).r.Status().Role != Leader {
		t.Fatalf("2: %+v", c.n(2).r.Status())
	}
	c.drop(func(tmsg) bool { return true })
	c.completeDisk(2)
	l3 := c.n(3)
	l3.r.Step(c.now, 2, &BeginQuorumEpoch{Epoch: 2, LeaderID: 2})
	c.completeDisk(3)
	c.drop(func(m tmsg) bool { return m.env.To != 2 || m.from != 3 })
	// Round trip 1: divergence answer, truncation.
	c.deliver(nil)
	c.pump()
	if len(c.msgs) != 1 {
		t.Fatalf("messages %v", c.msgs)
	}
	resp, _ := msgOf[*FetchResponse](c.msgs[0])
	if resp == nil || resp.Diverging == nil || *resp.Diverging != (EpochEnd{Epoch: 1, EndOffset: 1}) {
		t.Fatalf("leader answered %+v", c.msgs[0].env.Msg)
	}
	c.deliver(nil)
	if !l3.hasNote("truncated") || l3.r.Status().EndOffset != 1 {
		t.Fatalf("3 did not truncate to 1: %+v", l3.r.Status())
	}
	c.completeDisk(3)
	// Round trip 2: 3 fetches from 1 and gets epoch 2's leader-change record.
	c.deliver(nil)
	c.deliver(nil)
	c.completeDisk(3)
	es := l3.r.Entries(0, 10)
	if got := values(es); got != "0:ctl@1 1:ctl@2" {
		t.Fatalf("3 holds %q", got)
	}
}

func TestFollowerRefusesBadBatches(t *testing.T) {
	c := newCluster(t, []int32{1, 2})
	c.elect(1)
	c.settle()
	f := c.n(2)
	end := f.r.Status().EndOffset
	good, err := buildBatch(end, 1, 0, false, [][]byte{[]byte("ok")})
	if err != nil {
		t.Fatal(err)
	}
	gap, _ := buildBatch(end+5, 1, 0, false, [][]byte{[]byte("gap")})
	future, _ := buildBatch(end, 7, 0, false, [][]byte{[]byte("future")})
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)-1] ^= 1
	for name, batches := range map[string][]byte{"gap": gap, "future epoch": future, "corrupt": corrupt} {
		f.r.fol.req = &Fetch{Epoch: 1, ReplicaID: 2, FetchOffset: end, LastFetchedEpoch: 1}
		f.r.fol.to = 1
		f.r.Step(c.now, 1, &FetchResponse{Epoch: 1, Leader: 1, FetchOffset: end, LastFetchedEpoch: 1, HW: end, Batches: batches})
		if got := f.r.Status().EndOffset; got != end {
			t.Errorf("%s: follower appended up to %d", name, got)
		}
		if !f.r.out.hasNote("bad-batch") {
			t.Errorf("%s: no bad-batch note", name)
		}
		c.pump()
		c.drop(func(tmsg) bool { return true })
	}
}

func (rd *Ready) hasNote(kind string) bool {
	for _, n := range rd.Notes {
		if n.Kind == kind {
			return true
		}
	}
	return false
}

func TestCheckQuorumResigns(t *testing.T) {
	c := newCluster(t, three)
	c.elect(1)
	c.settle()
	l := c.n(1).r
	// Nobody fetches any more.
	c.now += int64(testFetchTO) - 1
	l.Tick(c.now)
	if l.Status().Role != Leader {
		t.Fatalf("resigned too early")
	}
	c.now += 2
	l.Tick(c.now)
	c.pump()
	if st := l.Status(); st.Role != Unattached || st.Leader != -1 || st.Epoch != 1 {
		t.Fatalf("after the fetch timeout: %+v", st)
	}
	if !c.n(1).hasNote("resigned") {
		t.Fatalf("no resigned note")
	}
	if _, err := l.Propose(c.now, [][]byte{[]byte("x")}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("propose after resigning: %v", err)
	}
	// A fetch is now refused.
	l.Step(c.now, 2, &Fetch{Epoch: 1, ReplicaID: 2, FetchOffset: 1, LastFetchedEpoch: 1})
	c.pump()
	resp, _ := msgOf[*FetchResponse](c.msgs[len(c.msgs)-1])
	if resp == nil || resp.Code != CodeNotLeader {
		t.Fatalf("fetch after resigning answered %+v", c.msgs[len(c.msgs)-1].env.Msg)
	}
}

// One voter keeps fetching: with two of three voters the leader stays.
func TestCheckQuorumKeepsLeaderWithMajority(t *testing.T) {
	c := newCluster(t, three)
	c.elect(1)
	c.settle()
	l := c.n(1).r
	for i := 0; i < 10; i++ {
		c.now += int64(testFetchTO) / 2
		l.Step(c.now, 2, &Fetch{Epoch: 1, ReplicaID: 2, FetchOffset: 1, LastFetchedEpoch: 1, KnownHW: 0})
		l.Tick(c.now)
	}
	if l.Status().Role != Leader {
		t.Fatalf("resigned with a majority fetching")
	}
}

func TestObserverFindsTheLeader(t *testing.T) {
	c := newCluster(t, three, 9)
	c.elect(2)
	c.settle()
	c.propose(2, "m")
	for i := 0; i < 40; i++ {
		c.advance(testMaxWait)
		c.settle()
	}
	o := c.n(9)
	if st := o.r.Status(); st.Role != Observer || st.Leader != 2 || st.HW != 2 {
		t.Fatalf("observer: %+v", st)
	}
	if got := values(o.takeCommitted()); got != "0:ctl@1 1:m@1" {
		t.Fatalf("observer committed %q", got)
	}
	// Observers never count toward the high watermark nor vote.
	o.r.Step(c.now, 1, &VoteRequest{Epoch: 5, CandidateID: 1, LastEpoch: 9, EndOffset: 9})
	c.pump()
	resp, _ := msgOf[*VoteResponse](c.msgs[len(c.msgs)-1])
	if resp == nil || resp.Granted {
		t.Fatalf("observer voted: %+v", c.msgs[len(c.msgs)-1].env.Msg)
	}
}

// An observer whose voter stops answering moves on, round robin.
func TestObserverRotatesVoters(t *testing.T) {
	c := newCluster(t, three, 9)
	o := c.n(9)
	o.r.Tick(c.now)
	c.pump()
	first := c.msgs[0].env.To
	c.drop(func(tmsg) bool { return true })
	seen := map[int32]bool{first: true}
	for i := 0; i < 4; i++ {
		c.now += int64(testFetchTO)
		o.r.Tick(c.now)
		c.pump()
		for _, m := range c.msgs {
			if _, ok := msgOf[*Fetch](m); ok {
				seen[m.env.To] = true
			}
		}
		c.drop(func(tmsg) bool { return true })
	}
	if len(seen) != 3 {
		t.Fatalf("observer tried %v, want all three voters", seen)
	}
}

func TestLongPollHoldsAndCompletesEarly(t *testing.T) {
	c := newCluster(t, []int32{1, 2})
	c.elect(1)
	c.settle()
	// 2's fetch at the end is held: nothing in flight after settling.
	if len(c.msgs) != 0 || len(c.n(1).r.lead.held) != 1 {
		t.Fatalf("in flight %v, held %d", c.msgs, len(c.n(1).r.lead.held))
	}
	c.propose(1, "wake")
	if len(c.msgs) != 1 {
		t.Fatalf("held fetch not completed by a new entry: %v", c.msgs)
	}
	resp, _ := msgOf[*FetchResponse](c.msgs[0])
	if resp == nil || len(resp.Batches) == 0 {
		t.Fatalf("response %+v", c.msgs[0].env.Msg)
	}
	c.settle()
	// Expiry: with nothing new the held fetch is answered after FetchMaxWait.
	c.advance(testMaxWait - 1)
	if len(c.msgs) != 0 {
		t.Fatalf("answered before FetchMaxWait")
	}
	c.advance(1)
	if len(c.msgs) != 1 {
		t.Fatalf("not answered at FetchMaxWait: %v", c.msgs)
	}
}

func TestHeldFetchesAreBounded(t *testing.T) {
	c := newClusterWith(t, []int32{1}, nil, func(cfg *Config) { cfg.HeldFetchesMax = 2 })
	c.elect(1)
	c.completeDisk()
	l := c.n(1).r
	hw := l.Status().HW
	end := l.Status().EndOffset
	for id := int32(10); id < 15; id++ {
		l.Step(c.now, id, &Fetch{Epoch: 1, ReplicaID: id, FetchOffset: end, LastFetchedEpoch: 1, KnownHW: hw})
	}
	c.pump()
	if len(l.lead.held) != 2 || len(c.msgs) != 3 {
		t.Fatalf("held %d, answered %d; want 2 and 3", len(l.lead.held), len(c.msgs))
	}
}

func TestProposeBounds(t *testing.T) {
	c := newClusterWith(t, three, nil, func(cfg *Config) { cfg.UncommittedBytesMax = 1000 })
	if _, err := c.n(1).r.Propose(c.now, [][]byte{[]byte("x")}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("follower accepted a proposal: %v", err)
	}
	c.elect(1)
	c.completeDisk()
	big := make([]byte, 400)
	n := 0
	var err error
	for ; n < 10 && err == nil; n++ {
		_, err = c.n(1).r.Propose(c.now, [][]byte{big})
	}
	if !errors.Is(err, ErrBusy) || n < 2 {
		t.Fatalf("after %d proposals: %v, want ErrBusy", n, err)
	}
	// Committing frees room.
	c.settle()
	if _, err := c.n(1).r.Propose(c.now, [][]byte{big}); err != nil {
		t.Fatalf("after commit: %v", err)
	}
	if _, err := c.n(1).r.Propose(c.now, [][]byte{make([]byte, 2000)}); !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrBusy) {
		t.Fatalf("oversized proposal: %v", err)
	}
}

func TestSnapshotTransfer(t *testing.T) {
	c := newClusterWith(t, three, nil, func(cfg *Config) { cfg.SnapshotChunkBytes = 7 })
	c.elect(1)
	c.propose(1, "a", "b")
	c.settle()
	c.propose(1, "c")
	c.settle()
	// 3 is gone for a while; the others move on and snapshot.
	for _, id := range []int32{1, 2} {
		c.n(id).r.SnapshotTaken(Snapshot{EndOffset: 4, Epoch: 1, Data: []byte("image-up-to-4-0123456789")})
		c.n(id).files[SnapshotFile] = EncodeSnapshotFile(Snapshot{EndOffset: 4, Epoch: 1, Data: []byte("image-up-to-4-0123456789")})
	}
	c.completeDisk()
	if st := c.n(1).r.Status(); st.StartOffset != 4 {
		t.Fatalf("leader start %d after the snapshot", st.StartOffset)
	}
	// 3 restarts with an empty disk.
	q := &disk.Queue{}
	r3, err := New(testConfig(3, three, q, 3), Restored{})
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[3] = &tnode{t: t, id: 3, r: r3, q: q, files: map[string][]byte{}}
	c.propose(1, "d")
	c.n(3).r.Step(c.now, 1, &BeginQuorumEpoch{Epoch: 1, LeaderID: 1})
	c.settle()
	n3 := c.n(3)
	if !n3.hasNote("snapshot-installed") || n3.rd.Installed == nil {
		t.Fatalf("3 did not install; notes %v", n3.rd.Notes)
	}
	if s := n3.rd.Installed; s.EndOffset != 4 || s.Epoch != 1 || string(s.Data) != "image-up-to-4-0123456789" {
		t.Fatalf("installed %+v", s)
	}
	if st := n3.r.Status(); st.StartOffset != 4 || st.EndOffset != 5 || st.HW != 5 {
		t.Fatalf("3 after install: %+v", st)
	}
	if got := values(n3.takeCommitted()); got != "4:d@1" {
		t.Fatalf("3 committed %q after the snapshot", got)
	}
	var wrote, reset bool
	for _, op := range c.n(3).q.Drain() {
		_ = op
	}
	for name := range n3.files {
		wrote = wrote || name == SnapshotFile
	}
	reset = n3.r.log.start == 4
	if !wrote || !reset {
		t.Fatalf("snapshot file written %v, log reset %v", wrote, reset)
	}
	// A restart of 3 keeps the snapshot and re-delivers from it.
	r, err := New(testConfig(3, three, &disk.Queue{}, 3), n3.restored())
	if err != nil {
		t.Fatal(err)
	}
	if got := values(r.Ready().Committed); got != "4:d@1" {
		t.Fatalf("after restart re-delivered %q", got)
	}
}

func TestRestartRedeliversCommitted(t *testing.T) {
	c := newCluster(t, three)
	c.elect(1)
	c.propose(1, "a")
	c.propose(1, "b")
	c.settle()
	n := c.n(2)
	r, err := New(testConfig(2, three, &disk.Queue{}, 2), n.restored())
	if err != nil {
		t.Fatal(err)
	}
	if got := values(r.Ready().Committed); got != "0:ctl@1 1:a@1 2:b@1" {
		t.Fatalf("re-delivered %q", got)
	}
	st := r.Status()
	if st.HW != 3 || st.Epoch != 1 || st.Role != Unattached || st.VotedFor != 1 {
		t.Fatalf("restarted: %+v", st)
	}
}

// A snapshot that outran the log (an install interrupted by a crash) resets the log.
func TestRestoreRepairsInterruptedInstall(t *testing.T) {
	q := &disk.Queue{}
	s := Snapshot{EndOffset: 10, Epoch: 3, Data: []byte("img")}
	b, _ := buildBatch(0, 1, 0, false, [][]byte{[]byte("old")})
	state := encodeQuorumState(quorumState{epoch: 3, votedFor: -1, hw: 1}, 1)
	r, err := New(testConfig(1, three, q, 1), Restored{
		QuorumState: state, QuorumStateCopy: state,
		Snapshot: &s, StartOffset: 0, Batches: b,
	})
	if err != nil {
		t.Fatal(err)
	}
	ops := q.Drain()
	if len(ops) == 0 || ops[0].Kind != disk.Reset || ops[0].Offset != 10 {
		t.Fatalf("ops %v, want a reset at 10 first", ops)
	}
	for _, op := range ops[1:] {
		if op.Kind != disk.WriteFile {
			t.Fatalf("ops %v, want only quorum-state writes after the reset", ops)
		}
	}
	if st := r.Status(); st.StartOffset != 10 || st.EndOffset != 10 || st.HW != 10 || st.LastEpoch != 3 {
		t.Fatalf("status %+v", st)
	}
}

func TestDiskErrorIsFatal(t *testing.T) {
	c := newCluster(t, []int32{1})
	c.elect(1)
	n := c.n(1)
	c.propose(1, "a")
	op := n.ops[0]
	n.ops = nil
	n.r.Done(c.now, disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log, Err: fmt.Errorf("EIO")})
	rd := n.r.Ready()
	if rd.Fatal == nil {
		t.Fatal("no fatal error after a failed op")
	}
	if _, err := n.r.Propose(c.now, [][]byte{[]byte("b")}); err == nil {
		t.Fatal("a stopped member accepted a proposal")
	}
	n.r.Tick(c.now + 1e12)
	if rd := n.r.Ready(); rd.Fatal == nil || len(rd.Messages) != 0 || len(n.q.Drain()) != 0 {
		t.Fatalf("a stopped member produced output: %+v", rd)
	}
}

// A higher epoch in any message makes the receiver adopt it, and a leader steps down.
func TestHigherEpochDeposesLeader(t *testing.T) {
	c := newCluster(t, three)
	c.elect(1)
	c.settle()
	l := c.n(1)
	l.r.Step(c.now, 2, &Fetch{Epoch: 4, ReplicaID: 2, FetchOffset: 0, LastFetchedEpoch: 0})
	c.pump()
	if st := l.r.Status(); st.Role != Unattached || st.PendingEpoch != 4 {
		t.Fatalf("after a fetch of epoch 4: %+v", st)
	}
	if !l.hasNote("stepped-down") {
		t.Fatalf("no stepped-down note")
	}
	// Held fetches are refused in epoch 1 at once; nothing of epoch 4 leaves yet.
	for _, m := range c.msgs {
		if resp, ok := msgOf[*FetchResponse](m); !ok || resp.Epoch != 1 || resp.Code != CodeNotLeader {
			t.Fatalf("before the epoch is durable: %+v", m.env.Msg)
		}
	}
	c.msgs = nil
	c.completeDisk(1)
	resp, _ := msgOf[*FetchResponse](c.msgs[0])
	if resp == nil || resp.Code != CodeNotLeader || resp.Epoch != 4 {
		t.Fatalf("answer %+v", c.msgs[0].env.Msg)
	}
}

func TestConfigValidation(t *testing.T) {
	good := testConfig(1, three, &disk.Queue{}, 1)
	bad := map[string]func(*Config){
		"no voters":        func(c *Config) { c.Voters = nil },
		"unsorted":         func(c *Config) { c.Voters = []int32{2, 1} },
		"duplicate":        func(c *Config) { c.Voters = []int32{1, 1} },
		"no election":      func(c *Config) { c.ElectionTimeout = 0 },
		"fetch timeout":    func(c *Config) { c.FetchTimeout = c.FetchMaxWait },
		"no rand":          func(c *Config) { c.Rand = nil },
		"no queue":         func(c *Config) { c.Queue = nil },
		"no fetch bytes":   func(c *Config) { c.FetchBytesMax = 0 },
		"negative limit":   func(c *Config) { c.HeldFetchesMax = -1 },
		"negative node id": func(c *Config) { c.ID = -1 },
	}
	for name, f := range bad {
		cfg := good
		f(&cfg)
		if _, err := New(cfg, Restored{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(good, Restored{}); err != nil {
		t.Fatal(err)
	}
}

// Messages waiting for a quorum-state write are bounded, whatever peers send meanwhile.
func TestHeldMessagesAreBounded(t *testing.T) {
	c := newCluster(t, three)
	v := c.n(2)
	v.r.Step(c.now, 1, &VoteRequest{Epoch: 1, CandidateID: 1})
	for i := 0; i < 2*pendingMessagesMax; i++ {
		v.r.Step(c.now, 3, &Fetch{Epoch: 1, ReplicaID: 3, FetchOffset: 0, LastFetchedEpoch: 0})
	}
	if held := v.r.qs.gate.Len() + len(v.r.qs.waiting); held != pendingMessagesMax {
		t.Fatalf("%d messages held, want the bound %d", held, pendingMessagesMax)
	}
	c.completeDisk(2)
	if len(c.msgs) != pendingMessagesMax || !v.hasNote("message-dropped") {
		t.Fatalf("%d messages released", len(c.msgs))
	}
	if resp, ok := msgOf[*VoteResponse](c.msgs[0]); !ok || !resp.Granted {
		t.Fatalf("the vote, held first, was not kept: %+v", c.msgs[0].env.Msg)
	}
}

// A follower acts in a new epoch (fetches from its leader) only once the epoch is durable.
func TestFollowerFetchesOnlyOnceNewEpochIsDurable(t *testing.T) {
	c := newCluster(t, three)
	f := c.n(3)
	f.r.Tick(c.now)
	f.r.Step(c.now, 2, &BeginQuorumEpoch{Epoch: 4, LeaderID: 2})
	c.pump()
	if st := f.r.Status(); st.Role != Follower || st.Leader != 2 || st.Epoch != 0 || st.PendingEpoch != 4 {
		t.Fatalf("status %+v", st)
	}
	if len(c.msgs) != 0 {
		t.Fatalf("sent %v before epoch 4 was durable", c.msgs[0].env.Msg)
	}
	c.completeDisk(3)
	if len(c.msgs) != 1 {
		t.Fatalf("%d messages after the write, want one fetch", len(c.msgs))
	}
	if m, ok := msgOf[*Fetch](c.msgs[0]); !ok || m.Epoch != 4 || c.msgs[0].env.To != 2 {
		t.Fatalf("sent %+v to %d", c.msgs[0].env.Msg, c.msgs[0].env.To)
	}
}
