package raft

import (
	"testing"
)

func (n *tnode) takeReads() []ReadResult {
	rs := n.rd.Reads
	n.rd.Reads = nil
	return rs
}

func TestReadIndexSingleVoterAnswersAtOnce(t *testing.T) {
	c := newCluster(t, []int32{1})
	c.elect(1)
	c.settle()
	c.n(1).r.ReadIndex(c.now, 7)
	c.pump()
	rs := c.n(1).takeReads()
	if len(rs) != 1 || !rs[0].OK || rs[0].ID != 7 || rs[0].Index != c.n(1).r.Status().HW {
		t.Fatalf("reads %+v, HW %d", rs, c.n(1).r.Status().HW)
	}
}

// A read waits for a majority to fetch again after it began, then reports the HW as of
// its start.
func TestReadIndexNeedsAFreshMajority(t *testing.T) {
	c := newCluster(t, []int32{1, 2, 3})
	c.elect(1)
	c.propose(1, "a")
	c.settle()
	hw := c.n(1).r.Status().HW
	c.n(1).r.ReadIndex(c.now, 1)
	c.pump()
	if rs := c.n(1).takeReads(); len(rs) != 0 {
		t.Fatalf("read answered before any follower fetched again: %+v", rs)
	}
	c.settle()
	rs := c.n(1).takeReads()
	if len(rs) != 1 || !rs[0].OK || rs[0].Index != hw {
		t.Fatalf("reads %+v, want one OK at %d", rs, hw)
	}
}

// A leader cut off from its followers never confirms a read; when it resigns, the read
// fails instead of returning a stale index.
func TestReadIndexFailsOnAPartitionedLeader(t *testing.T) {
	c := newCluster(t, []int32{1, 2, 3})
	c.elect(1)
	c.settle()
	c.n(1).r.ReadIndex(c.now, 9)
	cut := func(m tmsg) bool { return m.from == 1 || m.env.To == 1 }
	for i := 0; i < 20; i++ {
		c.drop(cut)
		c.completeDisk()
		c.deliver(nil)
		c.advance(testFetchTO / 4)
	}
	rs := c.n(1).takeReads()
	if len(rs) != 1 || rs[0].OK {
		t.Fatalf("reads %+v: want the read to fail once leadership is lost", rs)
	}
	if c.n(1).r.Status().Role == Leader {
		t.Fatalf("a partitioned leader kept leading")
	}
}

// cutOff isolates node old and runs the cluster until another voter leads. If check is
// given, it runs the moment a new leader appears, before anything else is delivered.
func cutOff(t *testing.T, c *tcluster, old int32, check func(leader int32)) int32 {
	t.Helper()
	cut := func(m tmsg) bool { return m.from == old || m.env.To == old }
	for i := 0; i < 400; i++ {
		for _, id := range c.ids {
			if st := c.n(id).r.Status(); id != old && st.Role == Leader {
				if check != nil {
					check(id)
				}
				return id
			}
		}
		c.drop(cut)
		c.completeDisk()
		c.deliver(func(m tmsg) bool { return !cut(m) })
		c.advance(testElection / 10)
	}
	t.Fatalf("no new leader after isolating %d", old)
	return -1
}

// An echo from an earlier epoch must not confirm a read of a new leader.
func TestReadIndexIgnoresEchoesOfEarlierEpochs(t *testing.T) {
	c := newCluster(t, []int32{1, 2, 3})
	c.elect(1)
	for i := uint64(1); i <= 5; i++ {
		c.n(1).r.ReadIndex(c.now, i)
		c.settle()
	}
	if got := len(c.n(1).takeReads()); got != 5 {
		t.Fatalf("%d reads answered in epoch 1, want 5", got)
	}
	leader := cutOff(t, c, 1, nil)
	follower := int32(5) - leader // the other of 2 and 3
	f := c.n(follower).r.nextFetchForTest()
	if f.Epoch == c.n(leader).r.Status().PendingEpoch && f.ReadRound >= 5 {
		t.Fatalf("follower %d echoes round %d of an earlier epoch", follower, f.ReadRound)
	}
	cut := func(m tmsg) bool { return m.from == 1 || m.env.To == 1 }
	for i := 0; i < 50; i++ {
		c.drop(cut)
		c.completeDisk()
		c.deliver(func(m tmsg) bool { return !cut(m) })
	}
	c.n(leader).r.ReadIndex(c.now, 100)
	c.pump()
	if rs := c.n(leader).takeReads(); len(rs) != 0 {
		t.Fatalf("new leader answered before a fetch of round 1: %+v", rs)
	}
	for i := 0; i < 50; i++ {
		c.drop(cut)
		c.completeDisk()
		c.deliver(func(m tmsg) bool { return !cut(m) })
	}
	if rs := c.n(leader).takeReads(); len(rs) != 1 || !rs[0].OK {
		t.Fatalf("reads %+v", rs)
	}
}

// A leader that has not committed the start of its epoch refuses reads: its HW may not
// cover what earlier leaders committed.
func TestReadIndexWaitsForTheEpochStart(t *testing.T) {
	c := newCluster(t, []int32{1, 2, 3})
	c.elect(1)
	c.settle()
	refused := false
	cutOff(t, c, 1, func(leader int32) {
		n := c.n(leader)
		if n.r.Status().HW >= n.r.lead.epochStart {
			t.Fatalf("new leader committed its epoch start before anything was delivered")
		}
		n.r.ReadIndex(c.now, 5)
		c.pump()
		rs := n.takeReads()
		refused = len(rs) == 1 && !rs[0].OK
	})
	if !refused {
		t.Fatalf("a leader that has not committed its epoch start answered a read")
	}
}

// nextFetchForTest is the fetch a follower would send now.
func (r *Raft) nextFetchForTest() *Fetch { return r.nextFetch().(*Fetch) }
