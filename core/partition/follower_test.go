package partition

import (
	"slices"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/disk"
)

func (c *tcluster) mustEqualLogs(ids ...int32) {
	c.t.Helper()
	want := joined(c.logValues(ids[0]))
	for _, id := range ids[1:] {
		if got := joined(c.logValues(id)); got != want {
			c.t.Fatalf("node %d log\n %s\nnode %d log\n %s", id, got, ids[0], want)
		}
	}
}

// KIP-101: a follower with an uncommitted suffix from the old epoch cuts it where the
// leader's epoch ends, then fetches.
func TestTruncateDivergentSuffix(t *testing.T) {
	disks := map[int32]*memDisk{1: diskWith(0, 1, 1), 2: diskWith(0, 1, 1, 1)}
	c := newClusterWith(t, 2, disks, State{Leader: 1, LeaderEpoch: 2, PartitionEpoch: 1, MinISR: 1}, nil)
	if c.sent[KindEpochQuery] != 1 {
		t.Fatalf("%d epoch queries", c.sent[KindEpochQuery])
	}
	c.mustEqualLogs(1, 2)
	if got := c.r(2).Status().LogEndOffset; got != 4 {
		t.Fatalf("follower leo %d", got)
	}
	c.produce(1, batchOf("x"), -1)
	c.mustEqualLogs(1, 2)
}

// KIP-279: when the leader answers with an epoch the follower does not have, the
// follower cuts at the end of its own epoch below it and asks again.
func TestTruncateMultiStep(t *testing.T) {
	// Leader epochs 1 [0,4) 2 [4,8) 4 [8,10); follower epochs 1 [0,4) 3 [4,10).
	disks := map[int32]*memDisk{1: diskWith(0, 1, 1, 2, 2, 4), 2: diskWith(0, 1, 1, 3, 3, 3)}
	c := newClusterWith(t, 2, disks, State{Leader: 1, LeaderEpoch: 5, PartitionEpoch: 1, MinISR: 1}, nil)
	if c.sent[KindEpochQuery] != 2 {
		t.Fatalf("%d epoch queries, want 2", c.sent[KindEpochQuery])
	}
	c.mustEqualLogs(1, 2)
	if !c.hasNote(2, "truncate") {
		t.Fatal("no truncation noted")
	}
	if got := c.r(2).Status().Epochs; !slices.Equal(got, []disk.EpochEntry{{Epoch: 1, StartOffset: 0}, {Epoch: 2, StartOffset: 4}, {Epoch: 4, StartOffset: 8}}) {
		t.Fatalf("follower epochs %v", got)
	}
}

// The leader checks every follower fetch against its epochs (KIP-595) and answers a
// divergent one with where the follower's last epoch ends.
func TestLeaderDetectsDivergingFetch(t *testing.T) {
	disks := map[int32]*memDisk{1: diskWith(0, 1, 1, 2, 2, 4)}
	c := newClusterWith(t, 2, disks, State{Leader: 1, LeaderEpoch: 5, PartitionEpoch: 1, MinISR: 1}, nil)
	cases := []struct {
		offset    int64
		lastEpoch int32
		div       bool
		epoch     int32
		end       int64
	}{
		{10, 4, false, 0, 0},
		{6, 2, false, 0, 0},
		{10, 3, true, 2, 8},
		{12, 4, true, 4, 10},
		{6, 1, true, 1, 4},
	}
	for _, tc := range cases {
		c.r(1).Step(c.now, 2, &Fetch{Key: c.r(1).key, RequestID: 7, ReplicaID: 2, CurrentLeaderEpoch: 5,
			FetchOffset: tc.offset, DurableOffset: tc.offset, LastFetchedEpoch: tc.lastEpoch, MaxWaitMs: 0})
		c.collect(c.node(1))
		c.runOps(c.node(1), -1)
		out := c.node(1).out
		c.node(1).out = nil
		a := out[len(out)-1].Msg.(*FetchAnswer)
		if a.Diverging != tc.div || (tc.div && (a.DivergingEpoch != tc.epoch || a.DivergingEndOffset != tc.end)) {
			t.Errorf("fetch at %d epoch %d: diverging %v %d@%d, want %v %d@%d", tc.offset, tc.lastEpoch,
				a.Diverging, a.DivergingEpoch, a.DivergingEndOffset, tc.div, tc.epoch, tc.end)
		}
	}
}

// A follower whose log ends below the leader's log start starts its log over there.
func TestResetBelowLogStart(t *testing.T) {
	disks := map[int32]*memDisk{1: diskWith(100, 1, 1)}
	c := newClusterWith(t, 2, disks, State{Leader: 1, LeaderEpoch: 2, PartitionEpoch: 1, MinISR: 1}, nil)
	if !c.hasNote(2, "reset") {
		t.Fatal("no reset")
	}
	c.mustEqualLogs(1, 2)
	if st := c.r(2).Status(); st.LogStartOffset != 100 || st.LogEndOffset != 104 {
		t.Fatalf("follower %+v", st)
	}
}

// When the leader's log start lies inside a batch, the follower starts its log where that
// batch starts and then follows the leader's log start.
func TestResetIntoBatch(t *testing.T) {
	d := diskWith(100, 1, 1)
	d.logs[disk.PartitionLog("t", 0)].start = 101
	c := newClusterWith(t, 2, map[int32]*memDisk{1: d}, State{Leader: 1, LeaderEpoch: 2, PartitionEpoch: 1, MinISR: 1}, nil)
	c.produce(1, batchOf("x"), -1)
	c.advance(50 * time.Millisecond)
	if st := c.r(2).Status(); st.LogStartOffset != 101 || st.LogEndOffset != 105 {
		t.Fatalf("follower %+v", st)
	}
	if got := joined(c.logValues(2)); got != "100:100e1 101:101e1 102:102e1 103:103e1 104:x" {
		t.Fatalf("follower log %s", got)
	}
}

// A restarted replica must not lead an epoch its checkpoint names: it may have lost
// batches of that epoch that followers copied.
func TestRefuseToLeadRecoveredEpoch(t *testing.T) {
	disks := map[int32]*memDisk{1: diskWith(0, 1, 3)}
	c := newClusterWith(t, 2, disks, State{Leader: 1, LeaderEpoch: 3, PartitionEpoch: 1, MinISR: 1}, nil)
	if st := c.r(1).Status(); st.Role != RoleInactive || !c.hasNote(1, "refuse-lead") {
		t.Fatalf("led epoch 3 again: %+v", st)
	}
	if got := c.produce(1, batchOf("a"), 1).one(t).Err; got != CodeNotLeaderOrFollower {
		t.Fatalf("produce: %d", got)
	}
	c.elect(1)
	if st := c.r(1).Status(); st.Role != RoleLeader || st.LeaderEpoch != 4 {
		t.Fatalf("epoch 4: %+v", st)
	}
}

// A failed write stops the replica: its durable state is unknown.
func TestFailedWriteIsFatal(t *testing.T) {
	c := newCluster(t, 1, 1, nil)
	n := c.node(1)
	n.holdDisk = true
	p := c.produce(1, batchOf("a"), 1)
	op := n.queued[0]
	n.queued = n.queued[1:]
	n.r.Done(c.now, disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log, Err: errMem})
	c.collect(n)
	if n.fatal == nil {
		t.Fatal("no fatal error")
	}
	if got := p.one(t).Err; got != CodeNotLeaderOrFollower {
		t.Fatalf("pending produce: %d", got)
	}
	if got := c.produce(1, batchOf("b"), 1).one(t).Err; got != CodeNotLeaderOrFollower {
		t.Fatalf("produce after fatal: %d", got)
	}
}

func TestDoneOutOfOrderPanics(t *testing.T) {
	c := newCluster(t, 1, 1, nil)
	n := c.node(1)
	n.holdDisk = true
	c.produce(1, batchOf("a"), 1)
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	op := n.queued[1]
	n.r.Done(c.now, disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log})
}

// A follower's high watermark is the leader's, capped by its own log end; it follows the
// leader's log start.
func TestFollowerLearnsHWAndStart(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	for _, v := range []string{"a", "b", "c"} {
		c.produce(1, batchOf(v), -1)
	}
	del := c.deleteRecords(1, 2, time.Second)
	c.advance(50 * time.Millisecond) // the answer waits for the followers' new start
	if res := del.one(t); res.Err != CodeNone || res.LowWatermark != 2 {
		t.Fatalf("delete: %+v", res)
	}
	c.produce(1, batchOf("d"), -1)
	c.advance(50 * time.Millisecond)
	for _, id := range []int32{2, 3} {
		if st := c.r(id).Status(); st.HighWatermark != 4 || st.LogStartOffset != 2 {
			t.Errorf("follower %d: hw %d start %d", id, st.HighWatermark, st.LogStartOffset)
		}
	}
}

// When the leader's answer for the follower's epoch is its own log start (it deleted what
// that epoch wrote) the follower starts over at the leader's log start, even when that
// lies inside a batch.
func TestResetWhenLeaderStartPassedEpoch(t *testing.T) {
	d := diskWith(0, 1, 1, 2, 2) // epoch 1 [0,4), epoch 2 [4,8)
	l := d.logs[disk.PartitionLog("t", 0)]
	l.start, l.batches, l.synced, l.epochs = 5, l.batches[2:], 2, []disk.EpochEntry{{Epoch: 2, StartOffset: 5}}
	disks := map[int32]*memDisk{1: d, 2: diskWith(0, 1, 1, 1, 1)}
	c := newClusterWith(t, 2, disks, State{Leader: 1, LeaderEpoch: 3, PartitionEpoch: 1, MinISR: 1}, nil)
	if !c.hasNote(2, "reset") {
		t.Fatal("no reset")
	}
	c.produce(1, batchOf("x"), -1)
	c.advance(50 * time.Millisecond)
	if st := c.r(2).Status(); st.LogStartOffset != 5 || st.LogEndOffset != 9 || st.HighWatermark != 9 {
		t.Fatalf("follower %+v", st)
	}
	c.mustEqualLogs(1, 2)
}

// A follower that learned of a new leader before that leader did asks it again within
// newLeaderBackoff of its UNKNOWN_LEADER_EPOCH answer, not after FollowerBackoff: the
// new leader's first acks=all write waits for that follower.
func TestFollowerAsksALaggingNewLeaderSoon(t *testing.T) {
	c := newCluster(t, 2, 2, func(cfg *Config) { cfg.FollowerBackoff = time.Second })
	c.st.Leader, c.st.LeaderEpoch, c.st.PartitionEpoch = 2, c.st.LeaderEpoch+1, c.st.PartitionEpoch+1
	// Node 1 learns that it follows 2 in the new epoch; node 2 has not heard yet.
	c.r(1).Update(c.now, c.st)
	c.collect(c.node(1))
	c.settle()
	if got := c.r(1).Deadline() - c.now; got <= 0 || got > int64(newLeaderBackoff) {
		t.Fatalf("follower asks again in %v, want within %v", time.Duration(got), newLeaderBackoff)
	}
	c.r(2).Update(c.now, c.st)
	c.collect(c.node(2))
	c.settle()
	c.advance(newLeaderBackoff)
	p := c.produce(2, batchOf("x"), -1)
	if res := p.one(t); res.Err != CodeNone {
		t.Fatalf("acks=all write of the new leader: %v", res.Err)
	}
}

// resetDurableReported runs a follower whose empty log ends below its leader's log
// start (10): the follower restarts its log there, and its disk holds the Reset back.
// It returns the largest durable offset the follower reported while the Reset was not
// done.
func resetDurableReported(t *testing.T, tweak func(*Config)) int64 {
	c := &tcluster{t: t, now: int64(time.Hour), nodes: map[int32]*tnode{}, base: testConfig(), autoAlter: true, sent: map[MsgKind]int{}}
	if tweak != nil {
		tweak(&c.base)
	}
	reported := int64(-1)
	c.tamper = func(m Message) {
		if f, ok := m.(*Fetch); ok && f.ReplicaID == 2 {
			reported = max(reported, f.DurableOffset)
		}
	}
	c.ids = []int32{1, 2}
	c.st = State{Leader: 1, LeaderEpoch: 2, PartitionEpoch: 1, MinISR: 1, Replicas: c.ids, ISR: c.ids}
	c.start(1, diskWith(10, 1, 1))
	c.nodes[2] = &tnode{holdDisk: true}
	c.start(2, newMemDisk())
	c.runOps(c.node(2), -1) // its log loads
	c.update()
	c.advance(100 * time.Millisecond)
	if got := c.r(2).Status().LogEndOffset; got < 10 {
		t.Fatalf("follower log end %d, below the leader's log start 10", got)
	}
	if len(c.node(2).queued) == 0 {
		t.Fatal("the follower's Reset is not held back")
	}
	return reported
}

// A follower that restarts its log at its leader's log start reports the new start as
// durable only once the Reset is done: a crash before then takes the reset back, and a
// leader that counted it would advance its high watermark on a claim the disk does
// not back.
func TestResetIsDurableOnlyWhenDone(t *testing.T) {
	if got := resetDurableReported(t, nil); got >= 10 {
		t.Fatalf("the follower reported offset %d durable before its Reset was done", got)
	}
}

// syncOverlap produces one acks=all batch to leader 1 of a two-replica ISR (min ISR 2)
// whose follower 2 runs its disk Ops one at a time, and reports what happened when only
// the follower's Append was done: whether the follower had fetched again, the largest
// durable offset its fetches claimed, and whether the produce was answered. It then runs
// the follower's Sync and checks the produce is answered without another fetch.
func syncOverlap(t *testing.T, tweak func(*Config)) (fetchedAgain bool, claimed int64, answered bool) {
	c := &tcluster{t: t, now: int64(time.Hour), nodes: map[int32]*tnode{}, base: testConfig(), autoAlter: true, sent: map[MsgKind]int{}}
	if tweak != nil {
		tweak(&c.base)
	}
	claimed = -1
	c.tamper = func(m Message) {
		if f, ok := m.(*Fetch); ok && f.ReplicaID == 2 {
			claimed = max(claimed, f.DurableOffset)
		}
	}
	c.ids = []int32{1, 2}
	c.st = State{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, MinISR: 2, Replicas: c.ids, ISR: c.ids}
	c.start(1, newMemDisk())
	c.nodes[2] = &tnode{holdDisk: true}
	c.start(2, newMemDisk())
	c.runOps(c.node(2), -1) // its log loads
	c.update()
	c.runOps(c.node(2), -1)
	c.settle()
	p := c.produce(1, batchOf("a"), -1)
	f := c.node(2)
	for len(f.queued) > 0 && f.queued[0].Kind == disk.LeaderEpochs {
		c.runOps(f, 1)
	}
	if len(f.queued) < 2 || f.queued[0].Kind != disk.Append || f.queued[1].Kind != disk.Sync {
		t.Fatalf("the follower's append is not held back: %v", f.queued)
	}
	fetches := c.sent[KindFetch]
	c.runOps(f, 1)
	c.settle()
	fetchedAgain, answered = c.sent[KindFetch] > fetches, !p.pending()
	fetches = c.sent[KindFetch]
	c.runOps(f, -1)
	c.settle()
	if p.one(t).Err != CodeNone {
		t.Fatalf("produce: %+v", p.got)
	}
	if !answered && c.sent[KindFetch] != fetches {
		t.Fatalf("the produce waited for another fetch after the follower's sync (%d synced reports)", c.sent[KindSynced])
	}
	return fetchedAgain, claimed, answered
}

// A follower fetches again as soon as its append is written, so the fetch overlaps the
// sync; it claims durable only what completed syncs cover, and tells the leader when
// the sync is done, which answers the acks=all produce without waiting for a fetch.
func TestFetchOverlapsFollowerSync(t *testing.T) {
	fetchedAgain, claimed, answered := syncOverlap(t, nil)
	if !fetchedAgain {
		t.Fatal("the follower did not fetch again before its sync was done")
	}
	if claimed > 0 || answered {
		t.Fatalf("before the follower's sync: it claimed offset %d durable; produce answered %v", claimed, answered)
	}
}

// Leadership moves twice while the first leader is cut off: from 2 to 1 by a preferred
// election (2 stays in the ISR; 1 waits for it to follow and never serves), then from 1
// to 3 as 1 shuts down (1 leaves the ISR). Replica 3 saw both moves, one epoch after
// the other: it must wait for 2, which may still lead epoch 2 under a valid lease, not
// only for 1, the leader it replaced.
func TestNewLeaderWaitsForTheLeaderItsPredecessorAwaited(t *testing.T) {
	first, second, served := chainedHandoff(t, nil)
	if !slices.Equal(first, []int32{2}) || !slices.Equal(second, []int32{2}) {
		t.Fatalf("the leaders of epochs 3 and 4 wait for %v and %v, want [2] and [2]", first, second)
	}
	if served {
		t.Fatal("the new leader took a write while the leader of epoch 2 may still serve")
	}
}

// chainedHandoff runs those two moves and returns whom the leaders of epochs 3 and 4
// wait for, and whether the second took an acks=1 write.
func chainedHandoff(t *testing.T, tweak func(*Config)) (first, second []int32, served bool) {
	c := newCluster(t, 3, 1, tweak)
	c.elect(2)
	c.node(2).dropOut = true // cut off: it hears nothing more, and says nothing
	move := func(leader int32, isr []int32) {
		c.st.Leader, c.st.ISR = leader, isr
		c.st.LeaderEpoch++
		c.st.PartitionEpoch++
		for _, id := range []int32{1, 3} {
			c.r(id).Update(c.now, c.st)
			c.collect(c.node(id))
		}
		c.settle()
	}
	move(1, []int32{1, 2, 3})
	first = slices.Clone(c.r(1).lead.awaiting)
	move(3, []int32{2, 3})
	second = slices.Clone(c.r(3).lead.awaiting)
	p := c.produce(3, batchOf("x"), 1)
	return first, second, !p.pending() && p.one(t).Err == 0
}

// A checkpoint that ends with an epoch that never wrote (a restart after a leadership
// handed on without a write) keeps it only while the log end stays where it starts:
// before the follower appends there, batches of an older epoch included, it writes the
// checkpoint, or the entry would claim those batches for its epoch.
func TestUnwrittenEpochIsDroppedBeforeTheLogMoves(t *testing.T) {
	d := diskWith(0, 1) // epoch 1 at [0, 2)
	l := d.logs[disk.PartitionLog("t", 0)]
	l.epochs = append(l.epochs, disk.EpochEntry{Epoch: 3, StartOffset: 2}) // led epoch 3, wrote nothing
	disks := map[int32]*memDisk{1: diskWith(0, 1, 1), 2: d}
	c := newClusterWith(t, 2, disks, State{Leader: 1, LeaderEpoch: 4, PartitionEpoch: 1, MinISR: 1}, nil)
	c.settle()
	if st := c.r(2).Status(); st.LogEndOffset != 4 {
		t.Fatalf("follower %+v", st)
	}
	if want := []disk.EpochEntry{{Epoch: 1, StartOffset: 0}}; !slices.Equal(l.epochs, want) {
		t.Fatalf("follower's checkpoint %v over batches of epoch 1 up to 4, want %v", l.epochs, want)
	}
}

// A checkpoint naming an epoch at the offset where the log's first batch of a later
// epoch starts (the write that replaced it failed, and the node restarted): that epoch
// wrote nothing, and the replay drops it rather than keep an entry covering no offset,
// which the other replicas' caches lack.
func TestReplayDropsAnEpochThatWroteNothing(t *testing.T) {
	d := diskWith(0, 1) // a batch of epoch 1 at [0, 2)
	l := d.logs[disk.PartitionLog("t", 0)]
	l.epochs = []disk.EpochEntry{{Epoch: 0, StartOffset: 0}} // led epoch 0, wrote nothing
	disks := map[int32]*memDisk{1: diskWith(0, 1), 2: d}
	c := newClusterWith(t, 2, disks, State{Leader: 1, LeaderEpoch: 2, PartitionEpoch: 1, MinISR: 1}, nil)
	c.settle()
	want := []disk.EpochEntry{{Epoch: 1, StartOffset: 0}}
	if got := []disk.EpochEntry(c.r(2).epochs); !slices.Equal(got, want) || !slices.Equal(l.epochs, want) {
		t.Fatalf("epochs %v, checkpoint %v; want %v", got, l.epochs, want)
	}
}
