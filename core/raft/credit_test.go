package raft

import "testing"

// electAlone makes id the leader of epoch 1 without any other voter fetching from it: the
// votes are handed to it, and everything it sends is dropped.
func (c *tcluster) electAlone(id int32) *tnode {
	c.t.Helper()
	n := c.n(id)
	n.r.Tick(c.now)
	n.r.startPreVote(c.now)
	for _, v := range c.ids {
		if v != id {
			n.r.Step(c.now, v, &VoteResponse{Epoch: 0, Leader: -1, VoteEpoch: 1, PreVote: true, Granted: true})
		}
	}
	c.completeDisk(id)
	for _, v := range c.ids {
		if v != id {
			n.r.Step(c.now, v, &VoteResponse{Epoch: 1, Leader: -1, VoteEpoch: 1, Granted: true})
		}
	}
	c.completeDisk(id)
	if st := n.r.Status(); st.Role != Leader {
		c.t.Fatalf("%d did not become leader: %+v", id, st)
	}
	c.drop(func(tmsg) bool { return true })
	return n
}

// A fetch in a voter's name that claims the leader's whole log before the leader sent that
// voter anything does not move the high watermark, and is answered at once rather than
// held; the voter's own fetches, which follow what it was sent, still commit.
func TestLeaderCreditsOnlyWhatItSent(t *testing.T) {
	c := newCluster(t, three)
	l := c.electAlone(1)
	c.propose(1, "a", "b")
	c.completeDisk(1)
	c.drop(func(tmsg) bool { return true })
	end := l.r.Status().EndOffset
	l.r.Step(c.now, 2, &Fetch{Epoch: 1, ReplicaID: 2, FetchOffset: end, LastFetchedEpoch: 1, KnownHW: 0})
	c.completeDisk(1)
	if st := l.r.Status(); st.HW != 0 {
		t.Fatalf("a claim nothing backs moved the high watermark: %+v", st)
	}
	var answered bool
	for _, m := range c.msgs {
		if resp, ok := msgOf[*FetchResponse](m); ok && m.env.To == 2 && resp.FetchOffset == end {
			answered = true
		}
	}
	if !answered {
		t.Fatalf("the uncredited fetch was not answered at once: %v", c.msgs)
	}
	c.drop(func(tmsg) bool { return true })
	// Voter 2 itself fetches from the start, is sent the log and fetches again.
	c.n(2).r.Step(c.now, 1, &BeginQuorumEpoch{Epoch: 1, LeaderID: 1})
	c.settle()
	if st := l.r.Status(); st.HW != end {
		t.Fatalf("the real follower's fetches did not commit: %+v", st)
	}
}

// The first fetch of a caught-up voter in a new epoch cannot count (the leader sent it
// nothing yet) and is answered at once, so the next one, which counts, comes a round trip
// later rather than a long poll later.
func TestUncreditedFetchIsNotHeld(t *testing.T) {
	c := newCluster(t, three)
	l := c.electAlone(1)
	end := l.r.Status().EndOffset
	l.r.Step(c.now, 2, &Fetch{Epoch: 1, ReplicaID: 2, FetchOffset: 0, LastFetchedEpoch: 0})
	c.completeDisk(1)
	c.drop(func(tmsg) bool { return true })
	// A fetch at the end, once everything was sent, counts and is held.
	l.r.Step(c.now, 2, &Fetch{Epoch: 1, ReplicaID: 2, FetchOffset: end, LastFetchedEpoch: 1, KnownHW: 0})
	c.completeDisk(1)
	if st := l.r.Status(); st.HW != end {
		t.Fatalf("%+v", st)
	}
	c.drop(func(tmsg) bool { return true })
	l.r.Step(c.now, 2, &Fetch{Epoch: 1, ReplicaID: 2, FetchOffset: end, LastFetchedEpoch: 1, KnownHW: end})
	c.pump()
	if len(c.msgs) != 0 || len(l.r.lead.held) != 1 {
		t.Fatalf("a credited idle fetch was not held: %v", c.msgs)
	}
	// Voter 3 has not been sent anything: its fetch at the end is answered at once.
	l.r.Step(c.now, 3, &Fetch{Epoch: 1, ReplicaID: 3, FetchOffset: end, LastFetchedEpoch: 1, KnownHW: end})
	c.pump()
	if len(c.msgs) != 1 || c.msgs[0].env.To != 3 || len(l.r.lead.held) != 1 {
		t.Fatalf("an uncredited idle fetch: msgs %v, held %d", c.msgs, len(l.r.lead.held))
	}
}
