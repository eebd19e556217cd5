package partition

import (
	"slices"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/disk"
)

var damageLog = disk.PartitionLog("t", 0)

// produceN produces n acks=all batches of two records on leader id and checks each is
// acknowledged.
func (c *tcluster) produceN(id int32, n int, prefix string) {
	c.t.Helper()
	for i := range n {
		p := c.produce(id, batchOf(prefix+string(rune('a'+i)), prefix+string(rune('A'+i))), -1)
		if res := p.one(c.t); res.Err != CodeNone {
			c.t.Fatalf("produce %d: %+v", i, res)
		}
	}
}

func fetchAll(c *tcluster, id int32) FetchResult {
	c.t.Helper()
	return c.fetch(id, FetchRequest{CurrentLeaderEpoch: -1, FetchOffset: 0, MaxBytes: 1 << 20}).one(c.t)
}

func damagedFences(fs []disk.Fence) []disk.Fence {
	return slices.DeleteFunc(slices.Clone(fs), func(f disk.Fence) bool { return f.Kind != disk.FenceDamaged })
}

// A follower that finds damage in its synced data at restart tells its leader, leaves
// the ISR at once, and cuts the damage away to fetch it back only once out; then it
// rejoins, holding everything again.
func TestDamagedFollowerLeavesISRAndRepairs(t *testing.T) {
	c := newCluster(t, 3, 2, nil)
	c.produceN(1, 4, "v")
	want := c.logValues(1)
	d2 := c.node(2).d
	d2.damage(damageLog, 2)
	d2.scanAtRecovery = true
	// Node 2 restarts with the damage found; node 3 is cut off so node 2's state shows.
	c.node(2).holdDisk = true
	c.start(2, d2)
	if got := damagedFences(c.r(2).Status().Fences); !slices.Equal(got, []disk.Fence{{From: 2, To: 4, Kind: disk.FenceDamaged}}) {
		t.Fatalf("fences after restart %v", got)
	}
	if !c.hasNote(2, "damaged") {
		t.Fatal("no damaged note")
	}
	c.node(2).holdDisk = false
	c.update()
	c.advance(50 * time.Millisecond)
	if !c.hasNote(2, "repair") {
		t.Fatalf("no repair; ISR %v, notes %v", c.st.ISR, c.node(2).notes)
	}
	if got := c.r(2).Status().Fences; len(damagedFences(got)) != 0 {
		t.Fatalf("damage left after repair: %v", got)
	}
	if got := c.logValues(2); !slices.Equal(got, want) {
		t.Fatalf("node 2 holds %v, want %v", got, want)
	}
	c.advance(200 * time.Millisecond)
	if !slices.Equal(c.st.ISR, []int32{1, 2, 3}) {
		t.Fatalf("ISR after repair %v", c.st.ISR)
	}
}

// A follower that finds damage while out of the ISR cuts it away only on its leader's
// answer to a fetch that reported the damage. An answer to an earlier fetch saying "not
// in the ISR" says nothing of what the leader does next: it may still add the follower
// on the strength of that earlier fetch, and the ISR would then hold a log cut below the
// high watermark.
func TestRepairWaitsForAnAnswerToTheDamage(t *testing.T) {
	// Node 2 is not let into the ISR yet.
	c := &tcluster{t: t, now: int64(time.Hour), nodes: map[int32]*tnode{}, base: testConfig(), autoAlter: true,
		alterErr: CodeIneligibleReplica, sent: map[MsgKind]int{}}
	c.init(2, nil, State{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, ISR: []int32{1}, MinISR: 1})
	c.produceN(1, 4, "v")
	want := c.logValues(1)
	c.advance(5 * time.Millisecond) // node 2 caught up; its next fetch waits at the leader
	if got := c.logValues(2); !slices.Equal(got, want) || !slices.Equal(c.st.ISR, []int32{1}) {
		t.Fatalf("node 2 holds %v (want %v), ISR %v", got, want, c.st.ISR)
	}
	damageReported, repairedBefore := false, false
	c.tamper = func(m Message) {
		if f, ok := m.(*Fetch); ok && f.Damaged && !damageReported {
			damageReported, repairedBefore = true, c.hasNote(2, "repair")
		}
	}
	c.node(2).d.damage(damageLog, 2)
	c.r(2).checkDamage(2) // as after a read of offset 2 failed its checksum
	c.collect(c.node(2))
	c.settle()
	if got := damagedFences(c.r(2).Status().Fences); len(got) == 0 {
		t.Fatal("no damage fenced")
	}
	c.advance(100 * time.Millisecond)
	switch {
	case !c.hasNote(2, "repair"):
		t.Fatalf("no repair: %v", c.node(2).notes)
	case !damageReported || repairedBefore:
		t.Fatal("node 2 cut its log before its leader heard of the damage")
	}
	c.alterErr = CodeNone
	c.advance(300 * time.Millisecond)
	if got := c.logValues(2); !slices.Equal(got, want) || !slices.Equal(c.st.ISR, []int32{1, 2}) {
		t.Fatalf("after repair node 2 holds %v (want %v), ISR %v", got, want, c.st.ISR)
	}
}

// The leader never counts a damaged follower in sync, whatever its offsets, and a
// damaged replica elected while another in-sync replica exists refuses to serve and
// resigns at once: it is never the leader of record that serves.
func TestDamagedFollowerIsNotElectable(t *testing.T) {
	c := newCluster(t, 3, 2, nil)
	c.produceN(1, 3, "v")
	d2 := c.node(2).d
	d2.damage(damageLog, 0)
	d2.scanAtRecovery = true
	c.node(1).dropOut = true // the leader cannot answer: node 2 keeps its damage
	c.start(2, d2)
	c.elect(2)
	st := c.r(2).Status()
	if c.st.Leader == 2 || slices.Contains(c.st.ISR, 2) {
		t.Fatalf("damaged node 2 still leads or is in the ISR: leader %d ISR %v (status %+v)", c.st.Leader, c.st.ISR, st)
	}
	if !c.hasNote(2, "resign") {
		t.Fatal("node 2 did not resign")
	}
	// The new leader serves every record: nothing acknowledged was lost.
	c.node(1).dropOut = false
	c.advance(50 * time.Millisecond)
	leader := c.st.Leader
	got := fetchAll(c, leader)
	if got.Err != CodeNone || len(values(t, got.Records)) != 6 {
		t.Fatalf("leader %d serves %+v", leader, got)
	}
}

// A leader that meets damage at rest when it reads steps down when another in-sync
// replica exists; the new leader serves everything, and the old one repairs.
func TestDamagedLeaderStepsDown(t *testing.T) {
	c := newCluster(t, 3, 2, nil)
	c.produceN(1, 4, "v")
	want := c.logValues(1)
	c.node(1).d.damage(damageLog, 4)
	got := c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, FetchOffset: 4, MaxBytes: 1 << 20}).one(t)
	if got.Err != CodeKafkaStorageError {
		t.Fatalf("fetch of the damaged batch: %+v", got)
	}
	if !c.hasNote(1, "damaged") || !c.hasNote(1, "resign") {
		t.Fatalf("notes %v", c.node(1).notes)
	}
	if c.st.Leader == 1 {
		t.Fatalf("leader %d ISR %v", c.st.Leader, c.st.ISR)
	}
	c.advance(300 * time.Millisecond)
	if !c.hasNote(1, "repair") {
		t.Fatalf("notes %v", c.node(1).notes)
	}
	if res := fetchAll(c, c.st.Leader); res.Err != CodeNone || !slices.Equal(values(t, res.Records), want) {
		t.Fatalf("new leader %d serves %+v", c.st.Leader, res)
	}
	if got := c.logValues(1); !slices.Equal(got, want) || len(damagedFences(c.r(1).Status().Fences)) != 0 {
		t.Fatalf("old leader holds %v, fences %v", got, c.r(1).Status().Fences)
	}
	if !slices.Contains(c.st.ISR, 1) {
		t.Fatalf("repaired replica not back in the ISR %v", c.st.ISR)
	}
}

// With a single replica (RF 1) nothing can repair the damage: the range is fenced and
// answers CORRUPT_MESSAGE, the log keeps its end, and new writes go after it.
func TestSingleReplicaFencesDamage(t *testing.T) {
	c := newCluster(t, 1, 1, nil)
	c.produceN(1, 4, "v")
	c.node(1).d.damage(damageLog, 2)
	if got := c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, FetchOffset: 2, MaxBytes: 1 << 20}).one(t); got.Err != CodeKafkaStorageError {
		t.Fatalf("first fetch of the damage: %+v", got)
	}
	if got := c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, FetchOffset: 3, MaxBytes: 1 << 20}).one(t); got.Err != CodeCorruptMessage {
		t.Fatalf("fetch in the fenced range: %+v", got)
	}
	if !c.hasNote(1, "lost") || c.hasNote(1, "resign") {
		t.Fatalf("notes %v", c.node(1).notes)
	}
	st := c.r(1).Status()
	if st.LogEndOffset != 8 || st.Role != RoleLeader || st.Resigning {
		t.Fatalf("status %+v", st)
	}
	if res := fetchAll(c, 1); res.Err != CodeNone || !slices.Equal(values(t, res.Records), []string{"0:va", "1:vA"}) {
		t.Fatalf("fetch from 0: %+v", res)
	}
	p := c.produce(1, batchOf("new"), -1).one(t)
	if p.Err != CodeNone || p.BaseOffset != 8 {
		t.Fatalf("produce after the damage: %+v", p)
	}
	if res := c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, FetchOffset: 4, MaxBytes: 1 << 20}).one(t); res.Err != CodeNone ||
		!slices.Equal(values(t, res.Records), []string{"4:vc", "5:vC", "6:vd", "7:vD", "8:new"}) {
		t.Fatalf("fetch after the fence: %+v", res)
	}
}

// A leader left as the only in-sync copy of a damaged range declares it lost; a follower
// copies the gap (and the epochs that started in it) and catches up; once it is in the
// ISR the damaged leader hands over, and repairs by copying the gap back.
func TestFollowerCopiesLostRange(t *testing.T) {
	d1 := diskWith(0, 1, 1, 2, 3, 3)
	d1.damage(damageLog, 4) // epoch 2's only batch
	c := newClusterWith(t, 2, map[int32]*memDisk{1: d1}, State{Leader: 1, LeaderEpoch: 4, PartitionEpoch: 4,
		ISR: []int32{1}, MinISR: 1}, nil)
	c.advance(300 * time.Millisecond)
	if !c.hasNote(1, "lost") {
		t.Fatalf("notes %v", c.node(1).notes)
	}
	st2 := c.r(2).Status()
	if !slices.Equal(st2.Fences, []disk.Fence{{From: 4, To: 6, Kind: disk.FenceLost}}) || !c.hasNote(2, "gap") {
		t.Fatalf("follower fences %v", st2.Fences)
	}
	// The damaged leader handed over once node 2 joined; node 1 copied the gap back.
	if c.st.Leader != 2 || !c.hasNote(1, "resign") {
		t.Fatalf("leader %d ISR %v", c.st.Leader, c.st.ISR)
	}
	// (Node 2's own epoch has written nothing yet, so node 1 does not know it.)
	if st1 := c.r(1).Status(); len(damagedFences(st1.Fences)) != 0 || !slices.Equal(st1.Epochs, st2.Epochs[:len(st2.Epochs)-1]) {
		t.Fatalf("node 1 fences %v epochs %v, node 2 epochs %v", st1.Fences, st1.Epochs, st2.Epochs)
	}
	if res := c.fetch(2, FetchRequest{CurrentLeaderEpoch: -1, FetchOffset: 5, MaxBytes: 1 << 20}).one(t); res.Err != CodeCorruptMessage {
		t.Fatalf("new leader serves the lost range: %+v", res)
	}
	if res := c.fetch(2, FetchRequest{CurrentLeaderEpoch: -1, FetchOffset: 6, MaxBytes: 1 << 20}).one(t); res.Err != CodeNone ||
		!slices.Equal(values(t, res.Records), []string{"6:6e3", "7:7e3", "8:8e3", "9:9e3"}) {
		t.Fatalf("after the gap: %+v", res)
	}
}

// A leader that resigns over damage while its shrink of the ISR to itself is in flight
// takes the leadership back once that shrink commits: no one is left to hand it to, and
// a partition that never serves again would be lost as a whole.
func TestResigningLeaderResumesWhenAlone(t *testing.T) {
	c := newCluster(t, 2, 1, nil)
	c.produceN(1, 4, "v")
	c.autoAlter = false
	c.node(2).dropOut = true
	c.advance(300 * time.Millisecond) // node 2 falls behind: node 1 proposes ISR [1]
	if len(c.node(1).alters) == 0 {
		t.Fatal("no ISR shrink proposed")
	}
	c.node(1).d.damage(damageLog, 2)
	if got := c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, FetchOffset: 2, MaxBytes: 1 << 20}).one(t); got.Err != CodeKafkaStorageError {
		t.Fatalf("fetch of the damaged batch: %+v", got)
	}
	if st := c.r(1).Status(); !st.Resigning {
		t.Fatalf("node 1 did not resign with ISR %v: %+v", c.st.ISR, st)
	}
	c.commitAlters(c.node(1))
	c.autoAlter = true
	c.advance(50 * time.Millisecond)
	st := c.r(1).Status()
	if st.Resigning || st.Role != RoleLeader || !slices.Equal(c.st.ISR, []int32{1}) || !c.hasNote(1, "resume") {
		t.Fatalf("node 1 after the shrink committed: ISR %v, status %+v, notes %v", c.st.ISR, st, c.node(1).notes)
	}
	if p := c.produce(1, batchOf("after"), -1).one(t); p.Err != CodeNone || p.BaseOffset != 8 {
		t.Fatalf("produce after resuming: %+v", p)
	}
	if !c.hasNote(1, "lost") {
		t.Fatalf("the damaged range was not declared lost: %v", c.node(1).notes)
	}
}

// A gap a leader's answer says ends past the leader's own log end is refused: the
// follower's log end never moves to wherever an answer says.
func TestFollowerRefusesAGapPastTheLeadersEnd(t *testing.T) {
	d1 := diskWith(0, 1, 1, 2, 3, 3)
	d1.damage(damageLog, 4)
	c := newClusterTampered(t, 2, map[int32]*memDisk{1: d1}, State{Leader: 1, LeaderEpoch: 4, PartitionEpoch: 4,
		ISR: []int32{1}, MinISR: 1}, func(m Message) {
		if a, ok := m.(*FetchAnswer); ok && a.GapEnd > a.FetchOffset {
			a.GapEnd = a.LogEndOffset + 1000
		}
	})
	c.advance(300 * time.Millisecond)
	if c.sent[KindFetchAnswer] == 0 {
		t.Fatal("no fetch answered")
	}
	leaderEnd := c.r(1).Status().LogEndOffset
	if !c.hasNote(2, "fetch-rejected") || c.hasNote(2, "gap") {
		t.Fatalf("follower notes %v", c.node(2).notes)
	}
	if end := c.r(2).Status().LogEndOffset; end > leaderEnd {
		t.Fatalf("follower log end %d, past the leader's %d", end, leaderEnd)
	}
}
