package partition

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/record"
)

func TestIdempotentDuplicateAnsweredWithOriginalOffset(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	c.produce(1, batchOf("x"), -1)
	first := c.produce(1, idemBatch(7, 0, 0, "a", "b"), -1).one(t)
	c.produce(1, idemBatch(7, 0, 2, "c"), -1)
	again := c.produce(1, idemBatch(7, 0, 0, "a", "b"), -1).one(t)
	if first.Err != CodeNone || again.Err != CodeNone || again.BaseOffset != first.BaseOffset || first.BaseOffset != 1 {
		t.Fatalf("first %+v, retry %+v", first, again)
	}
	if got := joined(c.logValues(1)); got != "0:x 1:a 2:b 3:c" {
		t.Fatalf("log %s", got)
	}
	// The new leader has the state too: it came with the batches.
	c.elect(2)
	c.advance(50 * time.Millisecond)
	if got := c.produce(2, idemBatch(7, 0, 2, "c"), -1).one(t); got.Err != CodeNone || got.BaseOffset != 3 {
		t.Fatalf("retry at the new leader: %+v", got)
	}
	c.mustEqualLogs(1, 2, 3)
}

// The retry of a batch not yet committed waits, like the first copy, for the high
// watermark.
func TestIdempotentDuplicateOfPendingBatchWaits(t *testing.T) {
	c := newCluster(t, 3, 1, func(cfg *Config) { cfg.ReplicaLagMax = time.Hour })
	c.node(3).dropOut = true
	first := c.produce(1, idemBatch(7, 0, 0, "a"), -1)
	retry := c.produce(1, idemBatch(7, 0, 0, "a"), -1)
	if !first.pending() || !retry.pending() {
		t.Fatal("answered before the ISR synced")
	}
	c.node(3).dropOut = false
	c.advance(200 * time.Millisecond)
	if a, b := first.one(t), retry.one(t); a.Err != CodeNone || b.Err != CodeNone || a.BaseOffset != b.BaseOffset {
		t.Fatalf("first %+v retry %+v", a, b)
	}
	if got := joined(c.logValues(3)); got != "0:a" {
		t.Fatalf("log %s", got)
	}
}

func TestIdempotentSequenceRules(t *testing.T) {
	c := newCluster(t, 1, 1, nil)
	steps := []struct {
		epoch int16
		seq   int32
		n     int
		want  int16
	}{
		{0, 3, 1, CodeOutOfOrderSequenceNumber}, // unknown producer, not at 0
		{0, 0, 2, CodeNone},
		{0, 3, 1, CodeOutOfOrderSequenceNumber}, // gap
		{0, 2, 1, CodeNone},
		{0, 1, 1, CodeOutOfOrderSequenceNumber}, // not a duplicate (0-1 was one batch)
		{1, 5, 1, CodeOutOfOrderSequenceNumber}, // a new epoch starts at 0
		{1, 0, 1, CodeNone},
		{0, 3, 1, CodeInvalidProducerEpoch}, // fenced epoch
		{1, 1, 1, CodeNone},
	}
	for i, s := range steps {
		vals := make([]string, s.n)
		for j := range vals {
			vals[j] = "v"
		}
		if got := c.produce(1, idemBatch(9, s.epoch, s.seq, vals...), 1).one(t).Err; got != s.want {
			t.Errorf("step %d (epoch %d seq %d): %d, want %d", i, s.epoch, s.seq, got, s.want)
		}
	}
}

// A retry of a batch older than every batch remembered was written before them: it is
// answered DUPLICATE_SEQUENCE_NUMBER (success for clients) once they are committed.
func TestIdempotentOlderDuplicate(t *testing.T) {
	c := newCluster(t, 1, 1, nil)
	for seq := int32(0); seq < 8; seq++ {
		c.produce(1, idemBatch(4, 0, seq, "v"), -1)
	}
	if got := c.produce(1, idemBatch(4, 0, 0, "v"), -1).one(t); got.Err != CodeDuplicateSequenceNumber {
		t.Fatalf("retry of seq 0: %+v", got)
	}
	if got := c.produce(1, idemBatch(4, 0, 3, "v"), -1).one(t); got.Err != CodeNone || got.BaseOffset != 3 {
		t.Fatalf("retry of seq 3, still remembered: %+v", got)
	}
	if got := c.produce(1, idemBatch(4, 0, 10, "v"), -1).one(t); got.Err != CodeOutOfOrderSequenceNumber {
		t.Fatalf("gap: %+v", got)
	}
	if leo := c.r(1).Status().LogEndOffset; leo != 8 {
		t.Fatalf("leo %d", leo)
	}
}

// Duplicates are recognised among the last five batches; sequences wrap after MaxInt32.
func TestIdempotentWindowAndWrap(t *testing.T) {
	c := newCluster(t, 1, 1, nil)
	seq := int32(0)
	var bases []int64
	for range 6 {
		r := c.produce(1, idemBatch(5, 0, seq, "a", "b"), 1).one(t)
		bases = append(bases, r.BaseOffset)
		seq += 2
	}
	for i := 1; i < 6; i++ {
		if r := c.produce(1, idemBatch(5, 0, int32(2*i), "a", "b"), 1).one(t); r.BaseOffset != bases[i] {
			t.Fatalf("retry of batch %d: %+v, want base %d", i, r, bases[i])
		}
	}
	if leo := c.r(1).Status().LogEndOffset; leo != 12 {
		t.Fatalf("leo %d", leo)
	}

	// Wrap: a batch ending at MaxInt32 is followed by one starting at 0.
	c.produce(1, idemBatch(6, 0, 0, "a"), 1) // known producer
	ps := &c.r(1).producers
	ps.m[6].batches[0].lastSeq = math.MaxInt32 - 2
	if got := c.produce(1, idemBatch(6, 0, math.MaxInt32-1, "a", "b"), 1).one(t).Err; got != CodeNone {
		t.Fatalf("up to MaxInt32: %d", got)
	}
	if got := c.produce(1, idemBatch(6, 0, 0, "c"), 1).one(t).Err; got != CodeNone {
		t.Fatalf("after the wrap: %d", got)
	}
}

// After a restart the producer state comes back from the snapshot plus the log after it.
func TestProducerStateRebuiltFromSnapshotAndLog(t *testing.T) {
	c := newCluster(t, 1, 1, func(cfg *Config) { cfg.SnapshotInterval, cfg.SnapshotBytesMin = 10*time.Millisecond, 1 })
	c.produce(1, idemBatch(1, 0, 0, "a"), -1)
	c.produce(1, idemBatch(2, 0, 0, "b"), -1)
	c.advance(20 * time.Millisecond) // snapshot at offset 2
	snap := c.node(1).d.files[SnapshotFile(disk.PartitionLog("t", 0))]
	if _, off, err := decodeSnapshot(snap, 10); err != nil || off != 2 {
		t.Fatalf("snapshot: offset %d, %v", off, err)
	}
	c.produce(1, idemBatch(1, 0, 1, "c"), -1)
	c.produce(1, idemBatch(3, 0, 0, "d"), -1)

	n := c.node(1)
	n.holdDisk = true
	c.start(1, n.d)
	if st := c.r(1).Status(); !st.Loading {
		t.Fatal("not loading")
	}
	if got := c.produce(1, idemBatch(1, 0, 1, "c"), -1).one(t).Err; got != CodeNotLeaderOrFollower {
		t.Fatalf("produce while loading: %d", got)
	}
	c.node(1).holdDisk = false
	c.settle()
	c.elect(1)
	for _, tc := range []struct {
		pid  int64
		seq  int32
		base int64
	}{{1, 1, 2}, {2, 0, 1}, {3, 0, 3}, {1, 0, 0}} {
		if got := c.produce(1, idemBatch(tc.pid, 0, tc.seq, "?"), -1).one(t); got.Err != CodeNone || got.BaseOffset != tc.base {
			t.Errorf("retry of producer %d seq %d: %+v, want base %d", tc.pid, tc.seq, got, tc.base)
		}
	}
	if leo := c.r(1).Status().LogEndOffset; leo != 4 {
		t.Fatalf("leo %d: a retry was appended", leo)
	}
}

// A lost or corrupt snapshot means replaying the whole log.
func TestCorruptSnapshotReplaysEverything(t *testing.T) {
	c := newCluster(t, 1, 1, func(cfg *Config) { cfg.SnapshotInterval, cfg.SnapshotBytesMin = 10*time.Millisecond, 1 })
	c.produce(1, idemBatch(1, 0, 0, "a"), -1)
	c.advance(20 * time.Millisecond)
	c.produce(1, idemBatch(1, 0, 1, "b"), -1)
	name := SnapshotFile(disk.PartitionLog("t", 0))
	c.node(1).d.files[name][5] ^= 0xff
	c.start(1, c.node(1).d)
	if !c.hasNote(1, "snapshot-ignored") {
		t.Fatal("corrupt snapshot used")
	}
	c.elect(1)
	if got := c.produce(1, idemBatch(1, 0, 0, "a"), -1).one(t); got.BaseOffset != 0 {
		t.Fatalf("retry: %+v", got)
	}
}

func TestProducersBound(t *testing.T) {
	c := newCluster(t, 1, 1, func(cfg *Config) { cfg.ProducersMax = 2 })
	for pid := int64(1); pid <= 3; pid++ {
		c.produce(1, idemBatch(pid, 0, 0, "a"), 1)
	}
	if n := c.r(1).Status().Producers; n != 2 {
		t.Fatalf("%d producers", n)
	}
	// Producer 1, the oldest, was forgotten: its next batch is out of sequence.
	if got := c.produce(1, idemBatch(1, 0, 1, "b"), 1).one(t).Err; got != CodeOutOfOrderSequenceNumber {
		t.Fatalf("forgotten producer: %d", got)
	}
	if got := c.produce(1, idemBatch(3, 0, 1, "b"), 1).one(t).Err; got != CodeNone {
		t.Fatalf("kept producer: %d", got)
	}
}

func TestRetention(t *testing.T) {
	c := newCluster(t, 3, 1, func(cfg *Config) {
		cfg.RetentionCheckInterval = 100 * time.Millisecond
		cfg.ReplicaLagMax = time.Hour
		cfg.WallClockMs = func(int64) int64 { return 10_000 }
	})
	c.st.RetentionMs = 5000 // the batches' timestamps are 1000
	c.st.PartitionEpoch++
	c.update()
	for _, v := range []string{"a", "b", "c"} {
		c.produce(1, batchOf(v), -1)
	}
	c.node(3).holdDisk = true
	c.produce(1, batchOf("d"), -1) // not committed: retention stops below the high watermark
	c.advance(150 * time.Millisecond)
	if st := c.r(1).Status(); st.LogStartOffset != 3 || st.HighWatermark != 3 {
		t.Fatalf("leader after retention: %+v", st)
	}
	c.node(3).holdDisk = false
	c.advance(100 * time.Millisecond)
	for _, id := range c.ids {
		if st := c.r(id).Status(); st.LogStartOffset < 3 {
			t.Errorf("node %d log start %d", id, st.LogStartOffset)
		}
	}
	if got := c.listOffsets(1, ListEarliest); got.Offset < 3 {
		t.Fatalf("earliest %+v", got)
	}
}

func TestDeleteRecords(t *testing.T) {
	c := newCluster(t, 1, 1, nil)
	for _, v := range []string{"a", "b", "c"} {
		c.produce(1, batchOf(v), -1)
	}
	del := func(off int64) DeleteResult { return c.deleteRecords(1, off, time.Second).one(t) }
	if got := del(4); got.Err != CodeOffsetOutOfRange {
		t.Fatalf("past the hw: %+v", got)
	}
	if got := del(1); got.Err != CodeNone || got.LowWatermark != 1 {
		t.Fatalf("%+v", got)
	}
	if got := del(0); got.Err != CodeNone || got.LowWatermark != 1 {
		t.Fatalf("below the start: %+v", got)
	}
	if got := del(-1); got.Err != CodeNone || got.LowWatermark != 3 {
		t.Fatalf("-1: %+v", got)
	}
	if got := c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, FetchOffset: 1}).one(t); got.Err != CodeOffsetOutOfRange || got.LogStartOffset != 3 {
		t.Fatalf("fetch below the start: %+v", got)
	}
}

// DeleteRecords is answered once every ISR member holds the new log start durably: a
// member cut off holds the answer back until the timeout, and once it left the ISR it
// rejoins only holding the start, so whichever replica leads next starts there.
func TestDeleteRecordsWaitsForTheISR(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	c.produceN(1, 4, "v")
	c.node(3).dropOut = true
	del := c.deleteRecords(1, 4, 30*time.Millisecond)
	c.advance(20 * time.Millisecond)
	if len(del.got) != 0 {
		t.Fatalf("answered while node 3, in the ISR, starts at %d: %+v", c.r(3).Status().LogStartOffset, del.got)
	}
	c.advance(20 * time.Millisecond)
	if got := del.one(t); got.Err != CodeRequestTimedOut {
		t.Fatalf("at the timeout: %+v", got)
	}
	if start := c.node(2).d.logs[damageLog].start; start != 4 {
		t.Fatalf("node 2 holds the log start %d, want 4", start)
	}
	c.advance(200 * time.Millisecond) // node 3 falls out of the ISR
	if slices.Contains(c.st.ISR, 3) {
		t.Fatalf("ISR %v", c.st.ISR)
	}
	del = c.deleteRecords(1, 4, time.Second)
	c.advance(time.Millisecond)
	if got := del.one(t); got.Err != CodeNone || got.LowWatermark != 4 {
		t.Fatalf("with node 3 out of the ISR: %+v", got)
	}
	c.node(3).dropOut = false
	c.advance(200 * time.Millisecond)
	if !slices.Equal(c.st.ISR, []int32{1, 2, 3}) || c.node(3).d.logs[damageLog].start != 4 {
		t.Fatalf("node 3 rejoined: ISR %v, its disk starts at %d", c.st.ISR, c.node(3).d.logs[damageLog].start)
	}
}

// A log whose cleanup.policy is compact alone keeps every record: retention passes it
// by and DeleteRecords is refused with POLICY_VIOLATION, as in Kafka.
func TestCompactOnlyLogKeepsEverything(t *testing.T) {
	c := newCluster(t, 1, 1, func(cfg *Config) {
		cfg.RetentionCheckInterval = 100 * time.Millisecond
		cfg.WallClockMs = func(int64) int64 { return 10_000 }
	})
	c.st.RetentionMs, c.st.RetentionBytes, c.st.KeepAll = 5000, 1, true
	c.st.PartitionEpoch++
	c.update()
	for _, v := range []string{"a", "b", "c"} {
		c.produce(1, batchOf(v), -1)
	}
	c.advance(time.Second)
	if got := c.deleteRecords(1, 2, time.Second).one(t); got.Err != CodePolicyViolation {
		t.Fatalf("DeleteRecords on a compacted log: %+v", got)
	}
	if st := c.r(1).Status(); st.LogStartOffset != 0 || st.HighWatermark != 3 {
		t.Fatalf("the log lost records: %+v", st)
	}
}

// On a LogAppendTime topic the leader stamps its time into the batch, whose CRC still
// holds, answers with it, and its followers copy the stamped batch.
func TestLogAppendTime(t *testing.T) {
	c := newCluster(t, 3, 1, func(cfg *Config) {
		cfg.WallClockMs = func(int64) int64 { return 123_456 }
	})
	c.st.LogAppendTime = true
	c.st.PartitionEpoch++
	c.update()
	got := c.produce(1, batchOf("a", "b"), -1).one(t)
	if got.Err != CodeNone || got.AppendTimeMs != 123_456 {
		t.Fatalf("produce answer %+v", got)
	}
	f := c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, FetchOffset: 0}).one(t)
	h, err := record.Check(f.Records)
	if err != nil || h.Attributes&record.AttrLogAppendTime == 0 || h.MaxTimestamp != 123_456 || h.FirstTimestamp != 1000 {
		t.Fatalf("stored batch %+v, %v", h, err)
	}
	if st := c.r(2).Status(); st.LogEndOffset != 2 {
		t.Fatalf("follower %+v", st)
	}
}

func TestListOffsetsByTime(t *testing.T) {
	c := newCluster(t, 1, 1, nil)
	c.produce(1, batchOf("a"), -1)
	c.produce(1, batchOf("b"), -1)
	if got := c.listOffsets(1, 500); got.Err != CodeNone || got.Offset != 0 || got.Timestamp != 1000 || got.LeaderEpoch != 1 {
		t.Fatalf("%+v", got)
	}
	if got := c.listOffsets(1, 5000); got.Err != CodeNone || got.Offset != -1 || got.Timestamp != -1 {
		t.Fatalf("after every batch: %+v", got)
	}
	// Both records carry 1000: the first of them answers.
	if got := c.listOffsets(1, ListMaxTimestamp); got.Err != CodeNone || got.Offset != 0 || got.Timestamp != 1000 || got.LeaderEpoch != 1 {
		t.Fatalf("max timestamp: %+v", got)
	}
	if got := c.listOffsets(1, ListLatest); got.Err != CodeNone || got.Offset != 2 || got.Timestamp != -1 {
		t.Fatalf("latest: %+v", got)
	}
}

// A producer whose batches were all deleted (DeleteRecords, retention) is still known
// after a restart: the replica writes its producer state before it deletes records,
// so the replay after a restart, which starts at the log start, does not forget it, and
// a retry of a deleted batch is answered as a duplicate instead of written again.
func TestProducerStateSurvivesDeletionAndRestart(t *testing.T) {
	for _, how := range []string{"delete-records", "retention"} {
		t.Run(how, func(t *testing.T) {
			c := newCluster(t, 1, 1, func(cfg *Config) {
				cfg.RetentionCheckInterval = 100 * time.Millisecond
				cfg.WallClockMs = func(int64) int64 { return 10_000 }
			})
			if how == "retention" {
				c.st.RetentionBytes = 1 // everything below the active segment may go
				c.st.PartitionEpoch++
				c.update()
			}
			first := c.produce(1, idemBatch(7, 0, 0, "a"), -1).one(t)
			c.produce(1, batchOf("b"), -1)
			c.produce(1, batchOf("c"), -1)
			if how == "delete-records" {
				c.r(1).DeleteRecords(c.now, -1, time.Second, func(DeleteResult) {})
				c.collect(c.node(1))
				c.settle()
			} else {
				c.advance(150 * time.Millisecond)
			}
			if st := c.r(1).Status(); st.LogStartOffset <= first.BaseOffset {
				t.Fatalf("nothing deleted: %+v", st)
			}
			c.start(1, c.node(1).d)
			c.settle()
			c.elect(1)
			again := c.produce(1, idemBatch(7, 0, 0, "a"), -1).one(t)
			if again.Err != CodeNone || again.BaseOffset != first.BaseOffset {
				t.Fatalf("retry of a deleted batch after a restart: %+v, want the duplicate answer at %d", again, first.BaseOffset)
			}
			if leo := c.r(1).Status().LogEndOffset; leo != 3 {
				t.Fatalf("log end %d: the retry was written again", leo)
			}
		})
	}
}

// An epoch checkpoint that starts above the log start (cut for a DeleteRecords whose
// new start never became durable) is rebuilt from the log's batches, snapshot or not:
// a replica must know the epoch of every offset it holds.
func TestEpochCheckpointAboveTheLogStartIsRebuilt(t *testing.T) {
	c := newCluster(t, 1, 1, func(cfg *Config) { cfg.SnapshotInterval, cfg.SnapshotBytesMin = 10*time.Millisecond, 1 })
	for _, v := range []string{"a", "b", "c", "d"} {
		c.produce(1, idemBatch(1, 0, int32(v[0]-'a'), v), -1)
	}
	c.advance(20 * time.Millisecond) // a snapshot at offset 4
	want := c.r(1).Status().Epochs
	if len(want) != 1 || want[0].StartOffset != 0 {
		t.Fatalf("epochs before: %v", want)
	}
	l := c.node(1).d.logs[disk.PartitionLog("t", 0)]
	l.epochs = []disk.EpochEntry{{Epoch: want[0].Epoch, StartOffset: 2}}
	c.start(1, c.node(1).d)
	c.settle()
	if got := c.r(1).Status().Epochs; !slices.Equal(got, want) {
		t.Fatalf("epochs after a restart: %v, want %v", got, want)
	}
	if !slices.Equal(l.epochs, want) {
		t.Fatalf("epoch checkpoint after a restart: %v, want %v", l.epochs, want)
	}
}

// The leader lists the producers it remembers with the last sequence and timestamp of
// their last batch; a follower refuses.
func TestProducersListed(t *testing.T) {
	c := newCluster(t, 2, 1, nil)
	c.produce(1, idemBatch(7, 0, 0, "a", "b"), -1).one(t)
	c.produce(1, idemBatch(7, 0, 2, "c", "d", "e"), -1).one(t)
	c.produce(1, idemBatch(3, 2, 0, "x"), -1).one(t)
	got, code := c.r(1).Producers(c.now)
	want := []ProducerInfo{{ID: 3, Epoch: 2, LastSequence: 0, LastTimestamp: 1000, CoordinatorEpoch: -1, CurrentTxnStartOffset: -1},
		{ID: 7, Epoch: 0, LastSequence: 4, LastTimestamp: 1000, CoordinatorEpoch: -1, CurrentTxnStartOffset: -1}}
	if code != CodeNone || !slices.Equal(got, want) {
		t.Fatalf("leader: %+v, code %d; want %+v", got, code, want)
	}
	if _, code := c.r(2).Producers(c.now); code != CodeNotLeaderOrFollower {
		t.Fatalf("follower: code %d", code)
	}
}
