package partition

import (
	"testing"
	"time"
)

// KIP-320: a client's current leader epoch older than the replica's is fenced, a newer one
// unknown, -1 unchecked; a follower is not the leader.
func TestFencingCodes(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	c.elect(1) // epoch 2
	c.produce(1, batchOf("a"), -1)
	cases := []struct {
		id    int32
		epoch int32
		want  int16
	}{
		{1, 1, CodeFencedLeaderEpoch},
		{1, 3, CodeUnknownLeaderEpoch},
		{1, 2, CodeNone},
		{1, -1, CodeNone},
		{2, 2, CodeNotLeaderOrFollower},
		{2, 1, CodeFencedLeaderEpoch},
	}
	for _, tc := range cases {
		f := c.fetch(tc.id, FetchRequest{CurrentLeaderEpoch: tc.epoch, FetchOffset: 0, MaxBytes: 1 << 20})
		if got := f.one(t).Err; got != tc.want {
			t.Errorf("fetch at node %d with epoch %d: %d, want %d", tc.id, tc.epoch, got, tc.want)
		}
		var lo []ListOffsetsResult
		c.r(tc.id).ListOffsets(c.now, ListLatest, tc.epoch, 0, func(r ListOffsetsResult) { lo = append(lo, r) })
		if len(lo) != 1 || lo[0].Err != tc.want {
			t.Errorf("ListOffsets at node %d with epoch %d: %+v, want %d", tc.id, tc.epoch, lo, tc.want)
		}
		if got := c.r(tc.id).OffsetForLeaderEpoch(c.now, tc.epoch, 2).Err; got != tc.want {
			t.Errorf("OffsetForLeaderEpoch at node %d with epoch %d: %d, want %d", tc.id, tc.epoch, got, tc.want)
		}
	}
	// A follower's fetch in an old epoch is fenced too.
	c.r(1).Step(c.now, 2, &Fetch{Key: c.r(1).key, RequestID: 99, ReplicaID: 2, CurrentLeaderEpoch: 1, LastFetchedEpoch: -1})
	c.collect(c.node(1))
	out := c.node(1).out
	c.node(1).out = nil
	if len(out) != 1 || out[0].Msg.(*FetchAnswer).Err != CodeFencedLeaderEpoch {
		t.Fatalf("stale follower fetch answered %+v", out)
	}
}

// A leader whose lease lapsed serves nothing.
func TestLeaseGatesServing(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	c.produce(1, batchOf("a"), -1)
	c.node(1).lease = false
	if got := c.produce(1, batchOf("b"), -1).one(t).Err; got != CodeNotLeaderOrFollower {
		t.Errorf("produce: %d", got)
	}
	if got := c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, MaxBytes: 100}).one(t).Err; got != CodeNotLeaderOrFollower {
		t.Errorf("fetch: %d", got)
	}
	if got := c.listOffsets(1, ListLatest).Err; got != CodeNotLeaderOrFollower {
		t.Errorf("list offsets: %d", got)
	}
	if got := c.r(1).OffsetForLeaderEpoch(c.now, -1, 1).Err; got != CodeNotLeaderOrFollower {
		t.Errorf("offset for leader epoch: %d", got)
	}
	c.node(1).lease = true
	if got := c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, MaxBytes: 100}).one(t); got.Err != CodeNone || len(got.Records) == 0 {
		t.Errorf("fetch with a lease: %+v", got)
	}
}

// A new leader serves reads only once its high watermark covers its log end at
// election; it accepts produces before that.
func TestNewLeaderReadGate(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	c.produce(1, batchOf("a", "b"), -1)
	if hw := c.r(2).Status().HighWatermark; hw != 0 {
		t.Fatalf("follower hw %d: the test needs a lagging one", hw)
	}
	c.node(3).dropOut = true // the new leader's high watermark needs 3's fetch
	c.elect(2)
	if st := c.r(2).Status(); st.ReadReady || st.LogEndOffset != 2 {
		t.Fatalf("new leader %+v", st)
	}
	if got := c.fetch(2, FetchRequest{CurrentLeaderEpoch: -1, MaxBytes: 100}).one(t).Err; got != CodeOffsetNotAvailable {
		t.Errorf("fetch before the gate: %d", got)
	}
	if got := c.listOffsets(2, ListLatest).Err; got != CodeOffsetNotAvailable {
		t.Errorf("list latest before the gate: %d", got)
	}
	if got := c.listOffsets(2, ListEarliest); got.Err != CodeNone || got.Offset != 0 {
		t.Errorf("list earliest: %+v", got)
	}
	p := c.produce(2, batchOf("c"), -1)
	c.node(3).dropOut = false
	c.advance(200 * time.Millisecond)
	if got := p.one(t); got.Err != CodeNone || got.BaseOffset != 2 {
		t.Fatalf("produce at the new leader: %+v", got)
	}
	if got := c.listOffsets(2, ListLatest); got.Err != CodeNone || got.Offset != 3 {
		t.Errorf("list latest after the gate: %+v", got)
	}
	f := c.fetch(2, FetchRequest{CurrentLeaderEpoch: -1, MaxBytes: 1 << 20}).one(t)
	if f.Err != CodeNone || joined(values(t, f.Records)) != "0:a 1:b 2:c" || f.HighWatermark != 3 {
		t.Errorf("fetch after the gate: %+v", f)
	}
}

// A long-polling fetch waits for MinBytes or MaxWait.
func TestLongPoll(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	c.produce(1, batchOf("a"), -1)
	f := c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, FetchOffset: 1, MaxBytes: 1 << 20, MinBytes: 1, MaxWait: 100 * time.Millisecond})
	if len(f.got) != 0 {
		t.Fatalf("answered at the log end: %+v", f.got)
	}
	c.advance(10 * time.Millisecond)
	c.produce(1, batchOf("b"), -1)
	if got := f.one(t); got.Err != CodeNone || joined(values(t, got.Records)) != "1:b" {
		t.Fatalf("after a produce: %+v", got)
	}

	big := c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, FetchOffset: 0, MaxBytes: 1 << 20, MinBytes: 1 << 20, MaxWait: 50 * time.Millisecond})
	c.produce(1, batchOf("c"), -1)
	c.advance(49 * time.Millisecond)
	if len(big.got) != 0 {
		t.Fatal("answered before MinBytes or MaxWait")
	}
	c.advance(2 * time.Millisecond)
	if got := big.one(t); got.Err != CodeNone || joined(values(t, got.Records)) != "0:a 1:b 2:c" {
		t.Fatalf("at MaxWait: %+v", got)
	}

	now := c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, FetchOffset: 3, MaxBytes: 1 << 20, MinBytes: 1})
	if got := now.one(t); got.Err != CodeNone || len(got.Records) != 0 || got.HighWatermark != 3 {
		t.Fatalf("MaxWait 0 at the end: %+v", got)
	}
	zero := c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, FetchOffset: 3, MaxBytes: 1 << 20, MaxWait: time.Second})
	if got := zero.one(t); got.Err != CodeNone || len(got.Records) != 0 {
		t.Fatalf("MinBytes 0 at the end: %+v", got)
	}
	if got := c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, FetchOffset: 4}).one(t); got.Err != CodeOffsetOutOfRange {
		t.Fatalf("past the log end: %+v", got)
	}
}

// Consumers never read at or above the high watermark.
func TestConsumersReadBelowHW(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	c.produce(1, batchOf("a"), -1)
	c.node(3).holdDisk = true
	c.produce(1, batchOf("b"), -1)
	st := c.r(1).Status()
	if st.LogEndOffset != 2 || st.HighWatermark != 1 {
		t.Fatalf("leo %d hw %d", st.LogEndOffset, st.HighWatermark)
	}
	got := c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, MaxBytes: 1 << 20}).one(t)
	if joined(values(t, got.Records)) != "0:a" || got.HighWatermark != 1 {
		t.Fatalf("%+v", got)
	}
}

// A fetch bound: beyond FetchesMax, fetches are answered at once with no records.
func TestFetchesBound(t *testing.T) {
	c := newCluster(t, 1, 1, func(cfg *Config) { cfg.FetchesMax = 2 })
	var held []*fetchRec
	for range 3 {
		held = append(held, c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, MinBytes: 1, MaxWait: time.Second}))
	}
	if len(held[0].got) != 0 || len(held[1].got) != 0 || len(held[2].got) != 1 {
		t.Fatalf("answers %d %d %d, want 0 0 1", len(held[0].got), len(held[1].got), len(held[2].got))
	}
	if st := c.r(1).Status(); st.Fetches != 2 {
		t.Fatalf("fetches %d", st.Fetches)
	}
}

func TestPendingBound(t *testing.T) {
	c := newCluster(t, 2, 1, func(cfg *Config) { cfg.PendingMax = 2; cfg.ReplicaLagMax = time.Hour })
	c.node(2).dropOut = true
	a := c.produce(1, batchOf("a"), -1)
	b := c.produce(1, batchOf("b"), -1)
	if got := c.produce(1, batchOf("c"), -1).one(t); got.Err != CodeRequestTimedOut {
		t.Fatalf("third: %+v", got)
	}
	if !a.pending() || !b.pending() || c.r(1).Status().LogEndOffset != 2 {
		t.Fatal("the refused batch must not be appended")
	}
}
