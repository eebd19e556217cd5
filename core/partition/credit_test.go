package partition

import (
	"math"
	"testing"

	"github.com/seedlog/seedlog/core/disk"
)

// forgedFetch is a fetch in follower id's name claiming to hold the leader's whole log.
func (c *tcluster) forgedFetch(leader, id int32) {
	r := c.r(leader)
	st := r.Status()
	r.Step(c.now, id, &Fetch{Key: r.key, RequestID: 1 << 40, ReplicaID: id, CurrentLeaderEpoch: st.LeaderEpoch,
		FetchOffset: st.LogEndOffset, DurableOffset: st.LogEndOffset, LastFetchedEpoch: st.LeaderEpoch,
		MaxBytes: 1 << 20, MaxWaitMs: 500})
	c.collect(c.node(leader))
}

// A fetch in a follower's name that claims the leader's whole log before the leader sent
// that follower anything in this leadership moves neither the high watermark nor an
// acks=all produce, and is answered at once; the real followers' fetches still commit.
func TestLeaderCreditsFollowersOnlyWhatItSent(t *testing.T) {
	c := newCluster(t, 3, 2, nil)
	c.produce(1, batchOf("a"), -1).one(t)
	c.node(2).dropOut, c.node(3).dropOut = true, true
	c.elect(1)
	hw := c.r(1).Status().HighWatermark
	p := c.produce(1, batchOf("b", "c"), -1)
	c.settle()
	for _, id := range []int32{2, 3} {
		c.forgedFetch(1, id)
	}
	c.runOps(c.node(1), -1)
	if got := c.r(1).Status().HighWatermark; got != hw {
		t.Fatalf("forged fetches moved the high watermark from %d to %d", hw, got)
	}
	if !p.pending() {
		t.Fatalf("forged fetches acknowledged an acks=all produce: %+v", p.got)
	}
	answered := 0
	for _, e := range c.node(1).out {
		if a, ok := e.Msg.(*FetchAnswer); ok && a.RequestID == 1<<40 {
			answered++
		}
	}
	if answered != 2 {
		t.Fatalf("%d of 2 uncredited fetches answered at once: %+v", answered, c.node(1).out)
	}
	c.node(1).out = nil
	c.node(2).dropOut, c.node(3).dropOut = false, false
	c.advance(2 * c.base.PeerRequestTimeout)
	if got := p.one(t); got.Err != CodeNone {
		t.Fatalf("the followers' own fetches: %+v", got)
	}
	if st := c.r(1).Status(); st.HighWatermark != st.LogEndOffset {
		t.Fatalf("%+v", st)
	}
}

// A follower that holds everything at a new leader's election is credited from its second
// fetch, its first being answered at once rather than held: the new leader's high
// watermark covers its log end, and reads open, without waiting a long poll.
func TestNewLeaderGetsReadReadyWithoutLongPoll(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	c.node(3).holdDisk = true
	c.produce(1, batchOf("a", "b"), 1).one(t)
	c.settle()
	c.node(3).holdDisk = false
	c.elect(2) // settles without letting time pass
	st := c.r(2).Status()
	if !st.ReadReady || st.HighWatermark != st.LogEndOffset {
		t.Fatalf("new leader without time passing: %+v", st)
	}
	if !c.hasNote(2, "read-ready") {
		t.Fatalf("no read-ready note")
	}
}

// The leader answers a follower with at most FollowerResponseBytesMax of records, whatever
// the fetch asks for.
func TestFollowerAnswerBounded(t *testing.T) {
	c := newCluster(t, 2, 1, func(cfg *Config) { cfg.FollowerResponseBytesMax = 300 })
	c.node(2).dropOut = true
	for range 5 {
		c.produce(1, batchOf("0123456789012345678901234567890123456789"), 1).one(t)
	}
	n := c.node(1)
	n.holdDisk = true
	r := c.r(1)
	r.Step(c.now, 2, &Fetch{Key: r.key, RequestID: 9, ReplicaID: 2, CurrentLeaderEpoch: 1,
		FetchOffset: 0, DurableOffset: 0, LastFetchedEpoch: -1, MaxBytes: math.MaxInt32})
	c.collect(n)
	var reads []disk.Op
	for _, op := range n.queued {
		if op.Kind == disk.Read {
			reads = append(reads, op)
		}
	}
	if len(reads) != 1 || reads[0].MaxBytes != 300 {
		t.Fatalf("reads %+v, want one of at most 300 bytes", reads)
	}
	c.runOps(n, -1)
	out := n.out[len(n.out)-1].Msg.(*FetchAnswer)
	if len(out.Records) == 0 || len(out.Records) > 300 {
		t.Fatalf("answer of %d bytes", len(out.Records))
	}
}
