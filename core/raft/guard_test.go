package raft

import (
	"fmt"
	"math"
	"testing"
)

// forged builds a message of the given kind, in epoch e, from voter 3, of a kind the
// receiver would act on: a vote request it could grant, a leader announcement, a fetch,
// answers to requests.
func forged(kind MsgKind, e int32) Message {
	switch kind {
	case KindVoteRequest:
		return &VoteRequest{Epoch: e, CandidateID: 3, LastEpoch: 1, EndOffset: 100}
	case KindVoteResponse:
		return &VoteResponse{Epoch: e, Leader: 3, VoteEpoch: 1}
	case KindBeginQuorumEpoch:
		return &BeginQuorumEpoch{Epoch: e, LeaderID: 3}
	case KindFetch:
		return &Fetch{Epoch: e, ReplicaID: 3, FetchOffset: 0, LastFetchedEpoch: 0}
	case KindFetchResponse:
		return &FetchResponse{Epoch: e, Leader: 3, FetchOffset: 1, LastFetchedEpoch: 1}
	}
	panic(kind)
}

var forgedKinds = []MsgKind{KindVoteRequest, KindVoteResponse, KindBeginQuorumEpoch, KindFetch, KindFetchResponse}

// A message whose epoch no sequence of elections could have reached is dropped, by voters
// and observers alike, and the quorum goes on electing leaders in the epochs that follow
// its own.
func TestEpochGuardRefusesUnreachableEpochs(t *testing.T) {
	for _, kind := range forgedKinds {
		for _, to := range []int32{2, 4} {
			for _, far := range []string{"max", "limit+1"} {
				t.Run(fmt.Sprintf("%s to %d at %s", kind, to, far), func(t *testing.T) {
					c := newCluster(t, three, 4)
					c.elect(1)
					c.settle()
					n := c.n(to)
					before := n.r.Status()
					e := int32(math.MaxInt32)
					if far == "limit+1" {
						e = int32(n.r.epochLimit(c.now) + 1)
					}
					n.r.Step(c.now, 3, forged(kind, e))
					c.pump()
					if st := n.r.Status(); st.PendingEpoch != before.PendingEpoch || st.Epoch != before.Epoch {
						t.Fatalf("after epoch %d: %+v", e, st)
					}
					if !n.hasNote("epoch-refused") {
						t.Fatalf("no epoch-refused note: %v", n.rd.Notes)
					}
					// The leader fails; the others elect one in the next epoch, and every
					// member follows it.
					c.runWithout(1, func() bool {
						for _, id := range []int32{2, 3, 4} {
							if st := c.n(id).r.Status(); st.Epoch < 2 || st.Leader < 0 {
								return false
							}
						}
						return true
					})
				})
			}
		}
	}
}

// An epoch within the allowance is taken as any higher epoch is.
func TestEpochGuardAdoptsEpochsWithinTheAllowance(t *testing.T) {
	for _, kind := range forgedKinds {
		t.Run(kind.String(), func(t *testing.T) {
			c := newCluster(t, three)
			c.elect(1)
			c.settle()
			n := c.n(2)
			e := int32(n.r.epochLimit(c.now))
			n.r.Step(c.now, 3, forged(kind, e))
			c.pump()
			if st := n.r.Status(); st.PendingEpoch != e || n.hasNote("epoch-refused") {
				t.Fatalf("after epoch %d: %+v, notes %v", e, st, n.rd.Notes)
			}
		})
	}
}

// The allowance is epochSlack from the epoch a member starts with, plus one epoch per
// voter for every period in which a voter can stand once.
func TestEpochGuardAllowanceGrowsWithElectionsThatCouldHaveHappened(t *testing.T) {
	c := newClusterWith(t, three, nil, func(cfg *Config) { cfg.ClockDriftMax = 0.01 })
	n := c.n(2)
	n.r.Tick(c.now) // the first input anchors the guard at epoch 0
	rho := 0.01
	period := int64(float64(testElection) * (1 - rho) / (1 + rho))
	if n.r.guard.period != period {
		t.Fatalf("period %d, want %d", n.r.guard.period, period)
	}
	for _, tc := range []struct {
		after int64
		limit int64
	}{{0, epochSlack}, {1, epochSlack + 3}, {period, epochSlack + 3}, {period + 1, epochSlack + 6}, {10 * period, epochSlack + 30}} {
		if got := n.r.epochLimit(c.now + tc.after); got != tc.limit {
			t.Errorf("limit %d after %dns, want %d", got, tc.after, tc.limit)
		}
	}
	c.now += 10 * period
	n.r.Step(c.now, 3, &BeginQuorumEpoch{Epoch: epochSlack + 31, LeaderID: 3})
	n.r.Step(c.now, 3, &BeginQuorumEpoch{Epoch: epochSlack + 30, LeaderID: 3})
	c.pump()
	if st := n.r.Status(); st.PendingEpoch != epochSlack+30 || st.Leader != 3 {
		t.Fatalf("%+v", st)
	}
}

// A peer that lies within the bound cannot build on its lie: adopting an epoch never
// loosens the bound, so the next lie is measured from the same place.
func TestEpochGuardDoesNotRatchet(t *testing.T) {
	c := newCluster(t, three)
	n := c.n(2)
	n.r.Tick(c.now)
	n.r.Step(c.now, 3, &BeginQuorumEpoch{Epoch: epochSlack, LeaderID: 3})
	n.r.Step(c.now, 3, &BeginQuorumEpoch{Epoch: epochSlack + 1, LeaderID: 3})
	n.r.Step(c.now, 3, &Fetch{Epoch: 2 * epochSlack, ReplicaID: 3})
	c.pump()
	if st := n.r.Status(); st.PendingEpoch != epochSlack {
		t.Fatalf("%+v", st)
	}
	// Its own candidacy moves its epoch on, but not the bound.
	limit := n.r.epochLimit(c.now)
	n.r.becomeCandidate(c.now)
	if n.r.epochLimit(c.now) != limit {
		t.Fatalf("a stand moved the limit from %d to %d", limit, n.r.epochLimit(c.now))
	}
}

// A legitimate epoch beyond the bound (a member that was away while the quorum held more
// elections than the slack covers) is taken once a majority of the voters vouch for it;
// one voter alone never can.
func TestEpochGuardTakesEpochsAMajorityVouchesFor(t *testing.T) {
	five := []int32{1, 2, 3, 4, 5}
	c := newCluster(t, five, 9)
	for _, id := range []int32{1, 9} {
		n := c.n(id)
		n.r.Tick(c.now)
		far := int32(5000)
		for i := 0; i < 3; i++ {
			n.r.Step(c.now, 2, &BeginQuorumEpoch{Epoch: far, LeaderID: 2})
			n.r.Step(c.now, 2, &FetchResponse{Epoch: far, Leader: 2})
		}
		n.r.Step(c.now, 3, &VoteRequest{Epoch: far, CandidateID: 3})
		n.r.Step(c.now, 9, &Fetch{Epoch: far, ReplicaID: 9}) // an observer does not count
		c.pump()
		if st := n.r.Status(); st.PendingEpoch != 0 {
			t.Fatalf("%d: two voters moved the epoch: %+v", id, st)
		}
		n.r.Step(c.now, 4, &VoteResponse{Epoch: far, Leader: 2, VoteEpoch: 1})
		c.pump()
		if st := n.r.Status(); st.PendingEpoch != far {
			t.Fatalf("%d: three of five voters claim epoch %d: %+v", id, far, st)
		}
		if !n.hasNote("epoch-vouched") {
			t.Fatalf("%d: no epoch-vouched note: %v", id, n.rd.Notes)
		}
	}
}

// runWithout runs the cluster with node old cut off, letting time pass, until done
// reports true.
func (c *tcluster) runWithout(old int32, done func() bool) {
	c.t.Helper()
	involves := func(m tmsg) bool { return m.from == old || m.env.To == old }
	for i := 0; i < 200 && !done(); i++ {
		next := int64(math.MaxInt64)
		for _, id := range c.ids {
			if id != old {
				next = min(next, c.n(id).r.Deadline())
			}
		}
		c.now = max(c.now, next)
		for _, id := range c.ids {
			if id != old {
				c.n(id).r.Tick(c.now)
			}
		}
		for j := 0; j < 100; j++ {
			c.completeDisk()
			c.drop(involves)
			if c.deliver(nil) == 0 {
				break
			}
		}
	}
	if !done() {
		c.t.Fatalf("the cluster without %d does not get there", old)
	}
}
