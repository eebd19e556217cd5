package partition

import (
	"slices"
	"testing"
	"time"
)

// The high watermark is the smallest durable offset over the ISR: a follower that
// appended a batch but has not synced it holds it back.
func TestHWWaitsForFollowerSync(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	c.node(3).holdDisk = true
	p := c.produce(1, batchOf("a", "b"), -1)
	if !p.pending() {
		t.Fatalf("acked before follower 3 synced: %+v", p.got)
	}
	if hw := c.r(1).Status().HighWatermark; hw != 0 {
		t.Fatalf("hw %d before follower 3 synced", hw)
	}
	if got := c.r(3).Status(); got.LogEndOffset != 2 || got.DurableOffset != 0 {
		t.Fatalf("follower 3: leo %d durable %d, want 2 and 0", got.LogEndOffset, got.DurableOffset)
	}
	c.runOps(c.node(3), -1)
	c.settle()
	if got := p.one(t); got.Err != CodeNone || got.BaseOffset != 0 {
		t.Fatalf("produce: %+v", got)
	}
	if hw := c.r(1).Status().HighWatermark; hw != 2 {
		t.Fatalf("hw %d, want 2", hw)
	}
}

// Below min.insync.replicas the high watermark stands still and acks=all is refused; a
// follower proposed for the ISR counts as soon as the change is pending (KIP-497).
func TestMinISRAndPendingExpansion(t *testing.T) {
	c := newCluster(t, 2, 2, nil)
	c.autoAlter = false
	c.node(2).dropOut = true
	c.st.ISR, c.st.PartitionEpoch = []int32{1}, c.st.PartitionEpoch+1
	c.update()
	if got := c.produce(1, batchOf("x"), -1).one(t); got.Err != CodeNotEnoughReplicas {
		t.Fatalf("acks=all with ISR below min: %+v", got)
	}
	if got := c.produce(1, batchOf("a"), 1).one(t); got.Err != CodeNone {
		t.Fatalf("acks=1: %+v", got)
	}
	if hw := c.r(1).Status().HighWatermark; hw != 0 {
		t.Fatalf("hw %d advanced with an ISR of 1 below min 2", hw)
	}
	c.node(2).dropOut = false
	c.advance(200 * time.Millisecond) // the follower retries and catches up
	st := c.r(1).Status()
	if !slices.Equal(st.PendingISR, []int32{1, 2}) || !slices.Equal(st.MaximalISR, []int32{1, 2}) {
		t.Fatalf("pending %v maximal %v, want [1 2] for both", st.PendingISR, st.MaximalISR)
	}
	if st.HighWatermark != 1 {
		t.Fatalf("hw %d, want 1 once the joining follower is durable", st.HighWatermark)
	}
}

// During a pending shrink the leaving member still counts until the change commits.
func TestPendingShrinkKeepsCounting(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	c.autoAlter = false
	c.node(3).dropOut = true
	c.advance(150 * time.Millisecond)
	n := c.node(1)
	if len(n.alters) != 1 || !slices.Equal(n.alters[0].ISR, []int32{1, 2}) {
		t.Fatalf("alters %+v, want one shrink to [1 2]", n.alters)
	}
	p := c.produce(1, batchOf("a"), -1)
	if !p.pending() || c.r(1).Status().HighWatermark != 0 {
		t.Fatalf("acked while the leaving member 3 is still counted: %+v", p.got)
	}
	a := n.alters[0]
	n.alters = nil
	c.st.ISR, c.st.PartitionEpoch = []int32{1, 2}, c.st.PartitionEpoch+1
	n.r.AlterPartitionResult(c.now, AlterResult{RequestID: a.RequestID, ISR: []int32{1, 2}, LeaderEpoch: 1, PartitionEpoch: c.st.PartitionEpoch})
	c.collect(n)
	c.settle()
	if got := p.one(t); got.Err != CodeNone {
		t.Fatalf("after the shrink committed: %+v", got)
	}
}

// An AlterPartition whose outcome is unknown keeps its members counted and is sent
// again; a newer partition epoch in metadata settles it.
func TestAlterTimeoutResends(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	c.autoAlter = false
	c.node(3).dropOut = true
	c.advance(150 * time.Millisecond)
	n := c.node(1)
	first := n.alters[0]
	n.alters = nil
	n.r.AlterPartitionResult(c.now, AlterResult{RequestID: first.RequestID, Err: CodeRequestTimedOut})
	c.collect(n)
	if st := n.r.Status(); !slices.Equal(st.MaximalISR, []int32{1, 2, 3}) || st.PendingISR == nil {
		t.Fatalf("after a timeout: maximal %v pending %v", st.MaximalISR, st.PendingISR)
	}
	c.advance(20 * time.Millisecond)
	if len(n.alters) != 1 || n.alters[0].RequestID == first.RequestID || !slices.Equal(n.alters[0].ISR, first.ISR) {
		t.Fatalf("resend: %+v", n.alters)
	}
	n.alters = nil
	c.st.ISR, c.st.PartitionEpoch = []int32{1, 2}, c.st.PartitionEpoch+1
	c.update()
	if st := n.r.Status(); st.PendingISR != nil || !slices.Equal(st.MaximalISR, []int32{1, 2}) {
		t.Fatalf("after metadata: maximal %v pending %v", st.MaximalISR, st.PendingISR)
	}
}

// acks=0 is answered at once; acks=1 once the leader's own sync is done.
func TestAcksZeroAndOne(t *testing.T) {
	c := newCluster(t, 3, 2, nil)
	c.node(1).holdDisk = true
	p0 := c.produce(1, batchOf("a"), 0)
	if got := p0.one(t); got.Err != CodeNone || got.BaseOffset != 0 {
		t.Fatalf("acks=0: %+v", got)
	}
	p1 := c.produce(1, batchOf("b"), 1)
	n := c.node(1)
	appended := false
	for p1.pending() && len(n.queued) > 0 {
		op := n.queued[0]
		c.runOps(n, 1)
		c.settle()
		if !p1.pending() && (!appended || op.Kind.String() != "sync") {
			t.Fatalf("acks=1 answered after %s (b appended: %v)", op, appended)
		}
		appended = appended || (op.Kind.String() == "append" && op.Offset == 1)
	}
	if got := p1.one(t); got.Err != CodeNone || got.BaseOffset != 1 {
		t.Fatalf("acks=1: %+v", got)
	}
}

// In FlushAsync mode acks=1 is answered once the append is done, without a sync.
func TestAcksOneAsync(t *testing.T) {
	c := newCluster(t, 1, 1, func(cfg *Config) { cfg.FlushAsync = true })
	c.node(1).holdDisk = true
	p := c.produce(1, batchOf("a"), 1)
	if !p.pending() {
		t.Fatal("answered before the append")
	}
	c.runOps(c.node(1), 1)
	if got := p.one(t); got.Err != CodeNone {
		t.Fatalf("acks=1: %+v", got)
	}
	if st := c.r(1).Status(); st.DurableOffset != 1 || st.HighWatermark != 1 {
		t.Fatalf("durable %d hw %d, want 1 and 1", st.DurableOffset, st.HighWatermark)
	}
}

func TestProduceTimeout(t *testing.T) {
	c := newCluster(t, 3, 1, func(cfg *Config) { cfg.ReplicaLagMax = time.Hour })
	c.node(2).dropOut, c.node(3).dropOut = true, true
	p := c.produce(1, batchOf("a"), -1)
	c.advance(999 * time.Millisecond)
	if !p.pending() {
		t.Fatalf("answered early: %+v", p.got)
	}
	c.advance(2 * time.Millisecond)
	if got := p.one(t); got.Err != CodeRequestTimedOut {
		t.Fatalf("%+v", got)
	}
}

// When the ISR shrinks below min.insync.replicas, waiting acks=all produces fail with
// NOT_ENOUGH_REPLICAS_AFTER_APPEND and new ones are refused.
func TestShrinkBelowMinISR(t *testing.T) {
	c := newCluster(t, 3, 2, nil)
	c.node(2).dropOut, c.node(3).dropOut = true, true
	p := c.produce(1, batchOf("a"), -1)
	c.advance(150 * time.Millisecond)
	if got := p.one(t); got.Err != CodeNotEnoughReplicasAfterAppend {
		t.Fatalf("%+v", got)
	}
	if !slices.Equal(c.r(1).Status().ISR, []int32{1}) {
		t.Fatalf("isr %v", c.r(1).Status().ISR)
	}
	if got := c.produce(1, batchOf("b"), -1).one(t); got.Err != CodeNotEnoughReplicas {
		t.Fatalf("%+v", got)
	}
}

func TestLeadershipLossFailsWaiters(t *testing.T) {
	c := newCluster(t, 3, 1, func(cfg *Config) { cfg.ReplicaLagMax = time.Hour })
	c.node(3).dropOut = true
	p := c.produce(1, batchOf("a"), -1)
	c.elect(2)
	if got := p.one(t); got.Err != CodeNotLeaderOrFollower {
		t.Fatalf("%+v", got)
	}
	if got := c.produce(1, batchOf("b"), -1).one(t); got.Err != CodeNotLeaderOrFollower {
		t.Fatalf("produce to the old leader: %+v", got)
	}
}

// A follower leaves the ISR only after ReplicaLagMax without catching up, and joins again
// once it holds everything up to the high watermark.
func TestISRShrinkExpandTiming(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	c.produce(1, batchOf("a"), -1)
	lag := c.base.ReplicaLagMax
	caught := c.r(1).Status().Followers[1].LastCaughtUp
	c.node(3).dropOut = true
	c.produce(1, batchOf("b"), -1)
	c.advance(time.Duration(caught+int64(lag)-c.now) - time.Millisecond)
	if isr := c.r(1).Status().ISR; len(isr) != 3 {
		t.Fatalf("shrunk to %v before ReplicaLagMax", isr)
	}
	c.advance(2 * time.Millisecond)
	if isr := c.r(1).Status().ISR; !slices.Equal(isr, []int32{1, 2}) {
		t.Fatalf("isr %v after ReplicaLagMax, want [1 2]", isr)
	}
	c.node(3).dropOut = false
	c.advance(200 * time.Millisecond)
	if isr := c.r(1).Status().ISR; len(isr) != 3 {
		t.Fatalf("isr %v after the follower caught up", isr)
	}
}
