package raft

import (
	"testing"
)

// The leader describes every voter and the observers that fetched, with their log ends
// and fetch times; a follower describes nothing; a voter cut off keeps the time of its
// last fetch and falls behind the log end.
func TestDescribeQuorum(t *testing.T) {
	c := newCluster(t, three, 9)
	c.elect(2)
	c.propose(2, "m")
	for range 20 {
		c.advance(testMaxWait)
		c.settle()
	}
	if _, ok := c.n(1).r.Describe(); ok {
		t.Fatal("a follower described the quorum")
	}
	d, ok := c.n(2).r.Describe()
	if !ok || d.Leader != 2 || d.LeaderEpoch != c.n(2).r.Status().Epoch || d.HW != 2 {
		t.Fatalf("leader: %+v, %v", d, ok)
	}
	if len(d.Voters) != 3 || len(d.Observers) != 1 || d.Observers[0].ID != 9 {
		t.Fatalf("members: %+v", d)
	}
	for _, p := range append(d.Voters, d.Observers...) {
		if p.LogEndOffset != 2 || p.LastFetch == NoTime || p.LastCaughtUp == NoTime || p.LastCaughtUp > p.LastFetch {
			t.Errorf("caught-up member %+v", p)
		}
	}
	cutAt := c.now
	c.drop(func(m tmsg) bool { return m.from == 3 || m.env.To == 3 })
	for range 3 {
		c.propose(2, "x")
		c.advance(testMaxWait)
		c.deliver(func(m tmsg) bool { return m.from != 3 && m.env.To != 3 })
		c.drop(func(m tmsg) bool { return m.from == 3 || m.env.To == 3 })
		c.completeDisk()
		c.deliver(func(m tmsg) bool { return m.from != 3 && m.env.To != 3 })
		c.drop(func(m tmsg) bool { return m.from == 3 || m.env.To == 3 })
	}
	d, _ = c.n(2).r.Describe()
	v3 := d.Voters[2]
	if v3.ID != 3 || v3.LogEndOffset != 2 || v3.LastFetch > cutAt || v3.LastCaughtUp > cutAt {
		t.Errorf("cut-off voter %+v (cut at %d)", v3, cutAt)
	}
	if v1 := d.Voters[0]; v1.LogEndOffset <= 2 || v1.LastFetch <= cutAt {
		t.Errorf("voter still fetching %+v", v1)
	}
}
