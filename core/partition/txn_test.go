package partition

import (
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/enc"
	"github.com/seedlog/seedlog/core/record"
)

// txnBatch builds a data batch of a transactional producer, its records at time 2000
// (plain ones are at 1000).
func txnBatch(pid int64, epoch int16, seq int32, values ...string) []byte {
	bs := make([][]byte, len(values))
	for i, v := range values {
		bs[i] = []byte(v)
	}
	b, err := record.BuildValues(record.Spec{FirstTimestamp: 2000, PartitionLeaderEpoch: -1,
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, Transactional: true}, bs...)
	if err != nil {
		panic(err)
	}
	return b
}

// coordBatch builds a batch as a coordinator writes its own transactional records: no
// sequence.
func coordBatch(pid int64, epoch int16, values ...string) []byte {
	return txnBatch(pid, epoch, -1, values...)
}

func (c *tcluster) marker(id int32, m Marker) *produceRec {
	p := &produceRec{}
	n := c.nodes[id]
	n.r.WriteMarker(c.now, m, time.Second, p.reply)
	c.collect(n)
	c.settle()
	return p
}

func (c *tcluster) produceInternal(id int32, batch []byte, acks int16) *produceRec {
	p := &produceRec{}
	n := c.nodes[id]
	n.r.ProduceInternal(c.now, batch, acks, time.Second, p.reply)
	c.collect(n)
	c.settle()
	return p
}

// produceInternalWith is produceInternal under a verification guard.
func (c *tcluster) produceInternalWith(id int32, batch []byte, g TxnGuard) *produceRec {
	p := &produceRec{}
	n := c.nodes[id]
	n.r.ProduceInternalVerified(c.now, batch, g, -1, time.Second, p.reply)
	c.collect(n)
	c.settle()
	return p
}

// committed is a read_committed fetch of node id from offset.
func (c *tcluster) committed(id int32, from int64) FetchResult {
	return c.fetch(id, FetchRequest{CurrentLeaderEpoch: -1, FetchOffset: from, MaxBytes: 1 << 20, Isolation: 1}).one(c.t)
}

func (c *tcluster) listIsolated(id int32, ts int64, isolation int8) ListOffsetsResult {
	var got []ListOffsetsResult
	n := c.nodes[id]
	n.r.ListOffsets(c.now, ts, -1, isolation, func(r ListOffsetsResult) { got = append(got, r) })
	c.collect(n)
	c.settle()
	if len(got) != 1 {
		c.t.Fatalf("ListOffsets answered %d times", len(got))
	}
	return got[0]
}

// dataValues is the values of the data records of whole batches (markers left out).
func dataValues(t testing.TB, b []byte) []string {
	var out []string
	_, err := record.Split(b, func(h record.Header, batch []byte) error {
		if h.IsControl() {
			return nil
		}
		out = append(out, values(t, batch)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// lsoHeldByOpenTxn runs a transaction among plain records and returns what a correct
// replica gets wrong, or nil: the last stable offset stays at the transaction's first
// batch until its commit marker is committed, read_committed fetches and ListOffsets stop
// there, and read_uncommitted ones do not.
func lsoHeldByOpenTxn(t *testing.T, tweak func(*Config)) error {
	c := newCluster(t, 3, 1, func(cfg *Config) {
		cfg.ReplicaLagMax = time.Hour
		if tweak != nil {
			tweak(cfg)
		}
	})
	c.produce(1, batchOf("a"), -1).one(t)
	c.produce(1, txnBatch(5, 0, 0, "t1"), -1).one(t)
	c.produce(1, batchOf("b"), -1).one(t)
	c.produce(1, txnBatch(5, 0, 1, "t2", "t3"), -1).one(t)
	st := c.r(1).Status()
	if st.HighWatermark != 5 || st.LastStableOffset != 1 {
		return fmt.Errorf("open transaction: high watermark %d, last stable offset %d; want 5 and 1", st.HighWatermark, st.LastStableOffset)
	}
	if got := c.committed(1, 0); got.LastStableOffset != 1 || joined(values(t, got.Records)) != "0:a" {
		return fmt.Errorf("read_committed fetch: last stable offset %d, records %v", got.LastStableOffset, values(t, got.Records))
	}
	if got := c.committed(1, 1); len(got.Records) != 0 {
		return fmt.Errorf("read_committed fetch at the last stable offset: %v", values(t, got.Records))
	}
	if got := c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, MaxBytes: 1 << 20}).one(t); joined(values(t, got.Records)) != "0:a 1:t1 2:b 3:t2 4:t3" {
		return fmt.Errorf("read_uncommitted fetch: %v", values(t, got.Records))
	}
	if got := c.listIsolated(1, ListLatest, 1).Offset; got != 1 {
		return fmt.Errorf("ListOffsets latest, read_committed: %d", got)
	}
	if got := c.listIsolated(1, ListLatest, 0).Offset; got != 5 {
		return fmt.Errorf("ListOffsets latest, read_uncommitted: %d", got)
	}
	if got := c.listIsolated(1, 2000, 1).Offset; got != -1 {
		return fmt.Errorf("ListOffsets by time, read_committed: %d, want none", got)
	}
	if got := c.listIsolated(1, 2000, 0).Offset; got != 1 {
		return fmt.Errorf("ListOffsets by time, read_uncommitted: %d, want 1", got)
	}
	// A long poll counts only what lies below the last stable offset.
	held := c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, FetchOffset: 1, MaxBytes: 1 << 20, MinBytes: 1, MaxWait: time.Second, Isolation: 1})
	if len(held.got) != 0 {
		return fmt.Errorf("a read_committed long poll at the last stable offset answered at once")
	}

	// The commit marker closes the transaction, but it is stable only once the high
	// watermark passes the marker: until then a failover could cut the marker away.
	c.node(3).dropOut = true
	mk := c.marker(1, Marker{ProducerID: 5, ProducerEpoch: 0, Commit: true, CoordinatorEpoch: 1})
	if !mk.pending() {
		return fmt.Errorf("marker answered before the ISR has it: %+v", mk.got)
	}
	if st := c.r(1).Status(); st.LastStableOffset != 1 {
		return fmt.Errorf("marker not committed: last stable offset %d, want 1", st.LastStableOffset)
	}
	c.node(3).dropOut = false
	c.advance(100 * time.Millisecond)
	if got := mk.one(t); got.Err != CodeNone || got.BaseOffset != 5 {
		return fmt.Errorf("marker: %+v", got)
	}
	if st := c.r(1).Status(); st.HighWatermark != 6 || st.LastStableOffset != 6 {
		return fmt.Errorf("committed: high watermark %d, last stable offset %d; want 6 and 6", st.HighWatermark, st.LastStableOffset)
	}
	if got := held.one(t); got.Err != CodeNone || len(got.Records) == 0 {
		return fmt.Errorf("the held read_committed fetch: %+v", got)
	}
	got := c.committed(1, 0)
	if d := joined(dataValues(t, got.Records)); d != "0:a 1:t1 2:b 3:t2 4:t3" || len(got.Aborted) != 0 {
		return fmt.Errorf("read_committed after the commit: %s, aborted %v", d, got.Aborted)
	}
	return nil
}

func TestTxnLastStableOffset(t *testing.T) {
	if err := lsoHeldByOpenTxn(t, nil); err != nil {
		t.Fatal(err)
	}
}

// An abort lists the transaction for read_committed fetches whose records overlap it;
// followers keep the same list and last stable offset, and serve the same after a
// failover.
func TestTxnAbortListed(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	c.produce(1, txnBatch(5, 0, 0, "x1", "x2"), -1).one(t) // 0-1
	c.produce(1, txnBatch(6, 0, 0, "y1"), -1).one(t)       // 2
	c.produce(1, batchOf("plain"), -1).one(t)              // 3
	if got := c.marker(1, Marker{ProducerID: 5, ProducerEpoch: 0, CoordinatorEpoch: 1}).one(t); got.Err != CodeNone || got.BaseOffset != 4 {
		t.Fatalf("abort marker: %+v", got)
	}
	if st := c.r(1).Status(); st.LastStableOffset != 2 {
		t.Fatalf("producer 6 still open: last stable offset %d, want 2", st.LastStableOffset)
	}
	if got := c.marker(1, Marker{ProducerID: 6, ProducerEpoch: 0, Commit: true, CoordinatorEpoch: 1}).one(t); got.Err != CodeNone || got.BaseOffset != 5 {
		t.Fatalf("commit marker: %+v", got)
	}
	c.produce(1, txnBatch(7, 0, 0, "z"), -1).one(t) // 6, left open
	want := []AbortedTxn{{ProducerID: 5, FirstOffset: 0}}
	for _, tc := range []struct {
		from    int64
		aborted []AbortedTxn
	}{{0, want}, {1, want}, {4, want}, {5, nil}} {
		got := c.committed(1, tc.from)
		if got.Err != CodeNone || got.LastStableOffset != 6 || !slices.Equal(got.Aborted, tc.aborted) {
			t.Errorf("read_committed from %d: last stable offset %d, aborted %v; want 6 and %v", tc.from, got.LastStableOffset, got.Aborted, tc.aborted)
		}
	}
	if got := c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, MaxBytes: 1 << 20}).one(t); got.Aborted != nil {
		t.Errorf("read_uncommitted fetch told of aborted transactions %v", got.Aborted)
	}
	c.advance(50 * time.Millisecond) // followers learn the high watermark
	lead := c.r(1).Status()
	for _, id := range []int32{2, 3} {
		st := c.r(id).Status()
		if st.HighWatermark != lead.HighWatermark || st.LastStableOffset != lead.LastStableOffset {
			t.Errorf("follower %d: high watermark %d, last stable offset %d; leader %d and %d", id, st.HighWatermark, st.LastStableOffset, lead.HighWatermark, lead.LastStableOffset)
		}
		log := disk.PartitionLog(c.r(1).cfg.Topic, c.r(1).cfg.Partition)
		got, want := c.nodes[id].d.logs[log].abortedIn(0, math.MaxInt64), c.nodes[1].d.logs[log].abortedIn(0, math.MaxInt64)
		if !slices.Equal(got, want) || len(got) == 0 || !slices.Equal(c.r(id).producers.open, c.r(1).producers.open) {
			t.Errorf("follower %d: aborted %v open %v; leader %v %v", id, got, c.r(id).producers.open, want, c.r(1).producers.open)
		}
	}
	c.elect(2)
	c.advance(50 * time.Millisecond)
	if got := c.committed(2, 0); got.Err != CodeNone || got.LastStableOffset != 6 || !slices.Equal(got.Aborted, want) {
		t.Fatalf("new leader, read_committed: %+v", got)
	}
	ps, _ := c.r(2).Producers(c.now)
	if len(ps) != 3 || ps[0].CoordinatorEpoch != 1 || ps[0].CurrentTxnStartOffset != -1 || ps[2].ID != 7 || ps[2].CurrentTxnStartOffset != 6 || ps[2].CoordinatorEpoch != -1 {
		t.Fatalf("producers at the new leader: %+v", ps)
	}
}

// Markers from a fenced producer epoch or an older coordinator are refused, and nothing
// is appended; a marker for a producer with nothing open is appended and changes only
// its epochs.
func TestTxnMarkerFencing(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	c.produce(1, txnBatch(5, 2, 0, "a"), -1).one(t)
	c.marker(1, Marker{ProducerID: 5, ProducerEpoch: 2, Commit: true, CoordinatorEpoch: 4}).one(t)
	leo := c.r(1).Status().LogEndOffset
	if got := c.marker(1, Marker{ProducerID: 5, ProducerEpoch: 1, CoordinatorEpoch: 4}).one(t); got.Err != CodeInvalidProducerEpoch {
		t.Errorf("marker of an old producer epoch: %+v", got)
	}
	if got := c.marker(1, Marker{ProducerID: 5, ProducerEpoch: 2, CoordinatorEpoch: 3}).one(t); got.Err != CodeTransactionCoordinatorFenced {
		t.Errorf("marker of an old coordinator epoch: %+v", got)
	}
	if got := c.r(1).Status().LogEndOffset; got != leo {
		t.Fatalf("refused markers appended: log end %d, was %d", got, leo)
	}
	// A retry of the commit, and a marker that bumps the producer epoch (a fenced
	// transaction aborted with a new epoch) while nothing is open.
	if got := c.marker(1, Marker{ProducerID: 5, ProducerEpoch: 2, Commit: true, CoordinatorEpoch: 4}).one(t); got.Err != CodeNone {
		t.Fatalf("marker sent again: %+v", got)
	}
	if got := c.marker(1, Marker{ProducerID: 5, ProducerEpoch: 3, CoordinatorEpoch: 5}).one(t); got.Err != CodeNone {
		t.Fatalf("marker with a new epoch: %+v", got)
	}
	st := c.r(1).Status()
	if st.LastStableOffset != st.HighWatermark || len(c.r(1).producers.aborted) != 0 {
		t.Fatalf("markers for nothing open: last stable offset %d, high watermark %d, aborted %v", st.LastStableOffset, st.HighWatermark, c.r(1).producers.aborted)
	}
	if got := c.produce(1, txnBatch(5, 2, 1, "late"), -1).one(t).Err; got != CodeInvalidProducerEpoch {
		t.Fatalf("data of the epoch the marker fenced: %d", got)
	}
	if got := c.produce(1, txnBatch(5, 3, 0, "new"), -1).one(t).Err; got != CodeNone {
		t.Fatalf("data of the new epoch: %d", got)
	}
	// Only the leader writes markers.
	if got := c.marker(2, Marker{ProducerID: 5, ProducerEpoch: 3, CoordinatorEpoch: 5}).one(t); got.Err != CodeNotLeaderOrFollower {
		t.Fatalf("marker at a follower: %+v", got)
	}
}

// fencedEpochRefused returns what a correct leader gets wrong, or nil: a transactional
// batch of an epoch older than the producer's is INVALID_PRODUCER_EPOCH and not
// appended.
func fencedEpochRefused(t *testing.T, tweak func(*Config)) error {
	c := newCluster(t, 1, 1, tweak)
	c.produce(1, txnBatch(5, 0, 0, "zombie-1"), -1).one(t)
	c.produce(1, txnBatch(5, 1, 0, "new"), -1).one(t)
	leo := c.r(1).Status().LogEndOffset
	if got := c.produce(1, txnBatch(5, 0, 1, "zombie-2"), -1).one(t); got.Err != CodeInvalidProducerEpoch {
		return fmt.Errorf("transactional batch of a fenced epoch: %+v", got)
	}
	if got := c.r(1).Status().LogEndOffset; got != leo {
		return fmt.Errorf("fenced batch appended: log end %d, was %d", got, leo)
	}
	return nil
}

func TestTxnFencedEpochRefused(t *testing.T) {
	if err := fencedEpochRefused(t, nil); err != nil {
		t.Fatal(err)
	}
}

// A coordinator's own transactional records (no sequence) open a transaction like any
// other, once verified; an older epoch is refused.
func TestTxnProduceInternal(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	c.produce(1, batchOf("a"), -1).one(t)
	if got := c.produceInternal(1, coordBatch(8, 1, "offset-0"), -1).one(t); got.Err != CodeInvalidTxnState {
		t.Fatalf("unverified internal batch: %+v", got)
	}
	g, need, code := c.r(1).StartInternalTxnVerification(c.now, 8, 1)
	if !need || code != CodeNone {
		t.Fatalf("first internal batch: need %v code %d", need, code)
	}
	if got := c.produceInternalWith(1, coordBatch(8, 1, "offset-1", "offset-2"), g).one(t); got.Err != CodeNone || got.BaseOffset != 1 {
		t.Fatalf("internal batch: %+v", got)
	}
	if _, need, _ := c.r(1).StartInternalTxnVerification(c.now, 8, 1); need {
		t.Fatal("a batch of the open transaction asks for a verification")
	}
	if got := c.produceInternal(1, coordBatch(8, 1, "offset-3"), -1).one(t); got.Err != CodeNone || got.BaseOffset != 3 {
		t.Fatalf("second internal batch (no sequence checked): %+v", got)
	}
	if st := c.r(1).Status(); st.LastStableOffset != 1 {
		t.Fatalf("last stable offset %d, want 1", st.LastStableOffset)
	}
	if got := c.produceInternal(1, coordBatch(8, 0, "old"), -1).one(t); got.Err != CodeInvalidProducerEpoch {
		t.Fatalf("internal batch of an old epoch: %+v", got)
	}
	if got := c.produceInternal(1, []byte("not a batch"), -1).one(t); got.Err == CodeNone {
		t.Fatalf("garbage accepted: %+v", got)
	}
	if got := c.produceInternal(2, coordBatch(8, 1, "x"), -1).one(t); got.Err != CodeNotLeaderOrFollower {
		t.Fatalf("at a follower: %+v", got)
	}
	c.marker(1, Marker{ProducerID: 8, ProducerEpoch: 1, Commit: true, CoordinatorEpoch: 0}).one(t)
	if st := c.r(1).Status(); st.LastStableOffset != st.HighWatermark || st.HighWatermark != 5 {
		t.Fatalf("after the commit: last stable offset %d, high watermark %d", st.LastStableOffset, st.HighWatermark)
	}
	// The client path still refuses batches without sequences and control batches.
	if got := c.produce(1, coordBatch(8, 1, "x"), -1).one(t).Err; got == CodeNone {
		t.Fatal("a client wrote a batch without a sequence")
	}
	ctl, err := record.BuildEndTxn(record.Spec{FirstTimestamp: 1000, PartitionLeaderEpoch: -1, ProducerID: 8, ProducerEpoch: 1, BaseSequence: -1}, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.produce(1, ctl, -1).one(t).Err; got == CodeNone {
		t.Fatal("a client wrote a marker")
	}
}

// An open and an aborted transaction survive a restart, from the snapshot and from the
// log after it.
func TestTxnStateSurvivesRestart(t *testing.T) {
	c := newCluster(t, 1, 1, func(cfg *Config) { cfg.SnapshotInterval, cfg.SnapshotBytesMin = 10*time.Millisecond, 1 })
	c.produce(1, txnBatch(5, 0, 0, "x"), -1).one(t)                                  // 0
	c.marker(1, Marker{ProducerID: 5, ProducerEpoch: 0, CoordinatorEpoch: 2}).one(t) // 1: abort
	c.produce(1, txnBatch(6, 0, 0, "y"), -1).one(t)                                  // 2: open
	c.advance(20 * time.Millisecond)                                                 // snapshot at 3
	snap := c.node(1).d.files[SnapshotFile(disk.PartitionLog("t", 0))]
	if _, off, err := decodeSnapshot(snap, 10); err != nil || off != 3 {
		t.Fatalf("snapshot: offset %d, %v", off, err)
	}
	c.produce(1, txnBatch(7, 0, 0, "z"), -1).one(t)                                  // 3
	c.marker(1, Marker{ProducerID: 7, ProducerEpoch: 0, CoordinatorEpoch: 2}).one(t) // 4: abort
	c.produce(1, txnBatch(8, 0, 0, "w"), -1).one(t)                                  // 5: open
	before := c.r(1).producers

	for _, fromSnapshot := range []bool{true, false} {
		if !fromSnapshot {
			delete(c.node(1).d.files, SnapshotFile(disk.PartitionLog("t", 0)))
		}
		c.start(1, c.node(1).d)
		c.elect(1)
		p := c.r(1).producers
		if !slices.Equal(p.aborted, before.aborted) || !slices.Equal(p.open, before.open) {
			t.Fatalf("snapshot %v: aborted %v open %v; before the restart %v %v", fromSnapshot, p.aborted, p.open, before.aborted, before.open)
		}
		if e := p.m[5]; e == nil || e.coordEpoch != 2 || e.ended != (endedTxn{first: 0, marker: 1}) {
			t.Fatalf("snapshot %v: producer 5 %+v", fromSnapshot, e)
		}
		got := c.committed(1, 0)
		want := []AbortedTxn{{ProducerID: 5, FirstOffset: 0}}
		if got.LastStableOffset != 2 || !slices.Equal(got.Aborted, want) || joined(dataValues(t, got.Records)) != "0:x" {
			t.Fatalf("snapshot %v: read_committed %+v", fromSnapshot, got)
		}
		if got := c.marker(1, Marker{ProducerID: 5, ProducerEpoch: 0, CoordinatorEpoch: 1}).one(t).Err; got != CodeTransactionCoordinatorFenced {
			t.Fatalf("snapshot %v: marker of an older coordinator after a restart: %d", fromSnapshot, got)
		}
	}
}

// A failover that cuts a commit marker the ISR did not have opens its transaction again
// on the old leader, which truncates it away.
func TestTxnTruncatedMarkerReopens(t *testing.T) {
	c := newCluster(t, 3, 1, func(cfg *Config) { cfg.ReplicaLagMax = time.Hour })
	c.produce(1, batchOf("a"), -1).one(t)
	c.produce(1, txnBatch(5, 0, 0, "t"), -1).one(t) // 1
	c.advance(50 * time.Millisecond)
	c.node(2).dropOut, c.node(3).dropOut = true, true
	mk := c.marker(1, Marker{ProducerID: 5, ProducerEpoch: 0, Commit: true, CoordinatorEpoch: 1})
	if p := c.r(1).producers; p.m[5].txnFirst != -1 || len(p.open) != 0 {
		t.Fatalf("the marker did not close the transaction: %+v", p.m[5])
	}
	c.node(2).dropOut, c.node(3).dropOut = false, false
	c.elect(2)
	c.advance(100 * time.Millisecond)
	if got := mk.one(t).Err; got != CodeNotLeaderOrFollower {
		t.Fatalf("marker across the failover: %d", got)
	}
	if st := c.r(1).Status(); st.LogEndOffset != 2 {
		t.Fatalf("old leader's log end %d, want 2 (marker cut)", st.LogEndOffset)
	}
	p := c.r(1).producers
	if e := p.m[5]; e == nil || e.txnFirst != 1 || !slices.Equal(p.open, []txnRange{{pid: 5, first: 1, marker: -1}}) {
		t.Fatalf("transaction not open again after the marker was cut: %+v, open %v", e, p.open)
	}
	for _, id := range []int32{1, 2, 3} {
		if st := c.r(id).Status(); st.LastStableOffset != 1 {
			t.Errorf("replica %d: last stable offset %d, want 1", id, st.LastStableOffset)
		}
	}
	// An abort marker is cut the same way (the disk cuts its index entry).
	q := newProducerState(10)
	q.apply(record.Header{ProducerID: 9, BaseSequence: 0, Attributes: record.AttrTransactional}, 10)
	q.record(record.Header{ProducerID: 9, BaseSequence: -1, Attributes: record.AttrTransactional | record.AttrControl}, 11, endMarker{valid: true})
	if a := q.takeAborted(); len(a) != 1 || q.stableBelow(20) != 20 {
		t.Fatalf("abort: %v, last stable offset %d", a, q.stableBelow(20))
	}
	q.truncate(11)
	if q.stableBelow(20) != 10 {
		t.Fatalf("abort cut: last stable offset %d", q.stableBelow(20))
	}
	q.truncate(10)
	if len(q.m) != 0 || q.stableBelow(20) != 20 {
		t.Fatalf("transaction cut whole: %d producers, last stable offset %d", len(q.m), q.stableBelow(20))
	}
}

// Producers with an open transaction are forgotten last.
func TestTxnProducersEvictedLast(t *testing.T) {
	p := newProducerState(2)
	p.apply(record.Header{ProducerID: 1, BaseSequence: 0, Attributes: record.AttrTransactional}, 0)
	p.apply(record.Header{ProducerID: 2, BaseSequence: 0}, 1)
	p.apply(record.Header{ProducerID: 3, BaseSequence: 0}, 2)
	if p.m[1] == nil || p.m[2] != nil || p.stableBelow(10) != 0 {
		t.Fatalf("producers %v, last stable offset %d", p.sortedIDs(), p.stableBelow(10))
	}
}

// A snapshot keeps the transactions below its offset; the aborts go to the disk's
// index with the appends, and a version 3 snapshot's list of them is handed on once.
func TestSnapshotTxnRoundTrip(t *testing.T) {
	p := newProducerState(10)
	data := func(pid int64, seq int32, off int64) {
		p.apply(record.Header{ProducerID: pid, BaseSequence: seq, Attributes: record.AttrTransactional}, off)
	}
	end := func(pid int64, off int64, commit bool) {
		p.record(record.Header{ProducerID: pid, BaseSequence: -1, Attributes: record.AttrTransactional | record.AttrControl}, off, endMarker{valid: true, commit: commit, coordEpoch: 3})
	}
	data(1, 0, 0)
	end(1, 1, false)
	data(2, 0, 2)
	data(1, 1, 3)
	end(1, 4, true)
	data(3, 0, 5)
	end(3, 6, false)
	data(3, 1, 7)
	// Producer 2's transaction, open since 2, bounds the stable offset of the abort at 6.
	want := []disk.AbortedTxn{{ProducerID: 1, FirstOffset: 0, MarkerOffset: 1, StableOffset: 2}, {ProducerID: 3, FirstOffset: 5, MarkerOffset: 6, StableOffset: 2}}
	if got := p.takeAborted(); !slices.Equal(got, want) || len(p.aborted) != 0 {
		t.Fatalf("aborted %v, want %v", got, want)
	}
	q, off, err := decodeSnapshot(p.encodeSnapshot(8), 10)
	if err != nil || off != 8 {
		t.Fatalf("decode: %v at %d", err, off)
	}
	if len(q.aborted) != 0 || !slices.Equal(q.open, p.open) {
		t.Fatalf("aborted %v open %v; want none and %v", q.aborted, q.open, p.open)
	}
	for id, e := range p.m {
		if *q.m[id] != *e {
			t.Fatalf("producer %d: %+v, want %+v", id, *q.m[id], *e)
		}
	}
	// At offset 6 the abort of producer 3 is left out and its transaction is open.
	q, _, err = decodeSnapshot(p.encodeSnapshot(6), 10)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(q.open, []txnRange{{pid: 2, first: 2, marker: -1}, {pid: 3, first: 5, marker: -1}}) {
		t.Fatalf("at 6: open %v", q.open)
	}
	// Version 3 listed the aborts after the producers: they decode with stable offset 0.
	v4 := p.encodeSnapshot(8)
	var w enc.Writer
	w.B = append(w.B, 3)
	w.B = append(w.B, v4[1:len(v4)-4]...)
	w.Len(2)
	for _, a := range want {
		w.I64(a.ProducerID)
		w.I64(a.FirstOffset)
		w.I64(a.MarkerOffset)
	}
	w.I32(int32(crc32.Checksum(w.B, crcTable)))
	q, _, err = decodeSnapshot(w.B, 10)
	legacy := []disk.AbortedTxn{{ProducerID: 1, FirstOffset: 0, MarkerOffset: 1}, {ProducerID: 3, FirstOffset: 5, MarkerOffset: 6}}
	if err != nil || !slices.Equal(q.aborted, legacy) {
		t.Fatalf("version 3: %v, aborted %v, want %v", err, q.aborted, legacy)
	}
	// Version 2 still decodes, without transactions.
	if _, _, err := decodeSnapshot(encodeV2(t), 10); err != nil {
		t.Fatalf("version 2: %v", err)
	}
}

// encodeV2 writes a version 2 snapshot of one producer with one batch.
func encodeV2(_ testing.TB) []byte {
	var w enc.Writer
	w.U8(2)
	w.I64(3)
	w.Len(1)
	w.I64(7)
	w.I16(2)
	w.U8(1)
	w.I16(2)
	w.I32(0)
	w.I32(2)
	w.I64(0)
	w.I64(2)
	w.I64(99)
	w.I32(int32(crc32.Checksum(w.B, crcTable)))
	return w.B
}

// Aborted transactions whose marker falls below the log start leave the disk's index
// with their batches, on the leader, on followers and across a restart.
func TestTxnAbortedTrimmedBelowLogStart(t *testing.T) {
	c := newCluster(t, 2, 1, func(cfg *Config) { cfg.SnapshotInterval, cfg.SnapshotBytesMin = 10*time.Millisecond, 1 })
	c.produce(1, txnBatch(5, 0, 0, "x"), -1).one(t)                                  // 0
	c.marker(1, Marker{ProducerID: 5, ProducerEpoch: 0, CoordinatorEpoch: 1}).one(t) // 1: abort
	c.produce(1, txnBatch(6, 0, 0, "y"), -1).one(t)                                  // 2
	c.marker(1, Marker{ProducerID: 6, ProducerEpoch: 0, CoordinatorEpoch: 1}).one(t) // 3: abort
	c.produce(1, batchOf("z"), -1).one(t)                                            // 4
	del := c.deleteRecords(1, 2, time.Second)
	c.advance(50 * time.Millisecond)
	if got := del.one(t); got.Err != CodeNone {
		t.Fatalf("DeleteRecords: %+v", got)
	}
	want := []disk.AbortedTxn{{ProducerID: 6, FirstOffset: 2, MarkerOffset: 3, StableOffset: 4}}
	log := disk.PartitionLog(c.r(1).cfg.Topic, c.r(1).cfg.Partition)
	for _, id := range []int32{1, 2} {
		if a := c.node(id).d.logs[log].abortedIn(0, math.MaxInt64); !slices.Equal(a, want) {
			t.Errorf("replica %d: aborted %v, want %v", id, a, want)
		}
	}
	if r := c.committed(1, 2); !slices.Equal(r.Aborted, []AbortedTxn{{ProducerID: 6, FirstOffset: 2}}) {
		t.Fatalf("read_committed from the log start: %v", r.Aborted)
	}
	c.start(1, c.node(1).d)
	c.settle()
	if a := c.node(1).d.logs[log].abortedIn(0, math.MaxInt64); !slices.Equal(a, want) {
		t.Fatalf("after a restart: aborted %v, want %v", a, want)
	}
}

// A read begun before DeleteRecords moved the log start past an abort marker returns
// records from below the new start: it is still told of that abort.
func TestTxnAbortedListedForReadBeforeDelete(t *testing.T) {
	c := newCluster(t, 1, 1, nil)
	c.produce(1, txnBatch(5, 0, 0, "x"), -1).one(t)                                  // 0
	c.marker(1, Marker{ProducerID: 5, ProducerEpoch: 0, CoordinatorEpoch: 1}).one(t) // 1: abort
	c.produce(1, batchOf("y"), -1).one(t)                                            // 2
	c.node(1).holdDisk = true
	f := c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, MaxBytes: 1 << 20, Isolation: 1})
	del := c.deleteRecords(1, 2, time.Second)
	c.node(1).holdDisk = false
	c.settle()
	got := f.one(t)
	if d := del.one(t); d.Err != CodeNone {
		t.Fatalf("DeleteRecords: %+v", d)
	}
	if d := joined(dataValues(t, got.Records)); d != "0:x 2:y" || !slices.Equal(got.Aborted, []AbortedTxn{{ProducerID: 5, FirstOffset: 0}}) {
		t.Fatalf("read begun before the deletion: %s, aborted %v", d, got.Aborted)
	}
}

// TestTxnMarkerBumpsEpoch: a transaction-version-2 end (KIP-890 part 2) writes its
// marker with the producer's next epoch: the marker closes the transaction opened at the
// epoch before, the new epoch becomes the producer's, a late batch of the old epoch is
// refused (it would otherwise open a transaction nobody ends, or join the next one),
// and the next transaction starts at the new epoch with sequence 0.
func TestTxnMarkerBumpsEpoch(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	c.produce(1, txnBatch(5, 2, 0, "a"), -1).one(t)
	c.produce(1, txnBatch(5, 2, 1, "b"), -1).one(t)
	if got := c.marker(1, Marker{ProducerID: 5, ProducerEpoch: 3, CoordinatorEpoch: 4}).one(t); got.Err != CodeNone {
		t.Fatalf("abort marker with the bumped epoch: %+v", got)
	}
	st := c.r(1).Status()
	log := disk.PartitionLog(c.r(1).cfg.Topic, c.r(1).cfg.Partition)
	if a := c.node(1).d.logs[log].abortedIn(0, math.MaxInt64); st.LastStableOffset != st.HighWatermark || len(a) != 1 {
		t.Fatalf("after the marker: last stable offset %d, high watermark %d, aborted %v", st.LastStableOffset, st.HighWatermark, a)
	}
	if e := c.r(1).producers.m[5]; e == nil || e.epoch != 3 || e.txnFirst >= 0 {
		t.Fatalf("producer state after the marker: %+v", e)
	}
	leo := st.LogEndOffset
	if got := c.produce(1, txnBatch(5, 2, 2, "late"), -1).one(t).Err; got != CodeInvalidProducerEpoch {
		t.Fatalf("late batch of the ended epoch: %d", got)
	}
	if got := c.r(1).Status().LogEndOffset; got != leo {
		t.Fatalf("the late batch was appended: log end %d, was %d", got, leo)
	}
	if got := c.produce(1, txnBatch(5, 3, 0, "next"), -1).one(t).Err; got != CodeNone {
		t.Fatalf("the next transaction's batch: %d", got)
	}
	if e := c.r(1).producers.m[5]; e.txnFirst != leo {
		t.Fatalf("the next transaction opened at %d, want %d", e.txnFirst, leo)
	}
}

// A replica restarted on an aborted-transactions index recovery found damaged below its
// producer snapshot lists the aborts of the whole log again, from its batches.
func TestTxnAbortedIndexRebuiltAfterDamage(t *testing.T) {
	c := newCluster(t, 1, 1, func(cfg *Config) { cfg.SnapshotInterval, cfg.SnapshotBytesMin = 10*time.Millisecond, 1 })
	c.produce(1, txnBatch(5, 0, 0, "a"), -1).one(t)                                  // 0
	c.produce(1, txnBatch(6, 0, 0, "b"), -1).one(t)                                  // 1
	c.marker(1, Marker{ProducerID: 5, ProducerEpoch: 0, CoordinatorEpoch: 1}).one(t) // 2: abort
	c.produce(1, batchOf("c"), -1).one(t)                                            // 3
	c.marker(1, Marker{ProducerID: 6, ProducerEpoch: 0, CoordinatorEpoch: 1}).one(t) // 4: abort
	c.produce(1, batchOf("d"), -1).one(t)                                            // 5
	c.advance(50 * time.Millisecond)                                                 // a snapshot at 6
	log := disk.PartitionLog(c.r(1).cfg.Topic, c.r(1).cfg.Partition)
	want := c.node(1).d.logs[log].abortedIn(0, math.MaxInt64)
	if len(want) != 2 || c.r(1).snapOffset != 6 {
		t.Fatalf("aborted %v, snapshot at %d", want, c.r(1).snapOffset)
	}
	d := c.node(1).d
	d.abortedLostFrom = 1
	c.start(1, d)
	if got := d.logs[log].abortedIn(0, math.MaxInt64); !slices.Equal(got, want) {
		t.Fatalf("after the restart the index holds %v, want %v", got, want)
	}
	// Without the damage report the replay from the snapshot lists nothing below it.
	d.abortedLostFrom = 1
	st, files := d.recovered(log)
	st.AbortedCut = false
	c.nodes[1].r = New(c.nodes[1].cfg, st, files, c.now)
	c.collect(c.nodes[1])
	c.settle()
	if got := d.logs[log].abortedIn(0, math.MaxInt64); len(got) != 0 {
		t.Fatalf("a replay from the snapshot at 6 listed %v", got)
	}
}

// The race verification closes for a TxnOffsetCommit (KIP-890): the coordinator vouched
// for the transaction, then its abort marker landed on the offsets partition before
// the coordinator's batch. The batch must not open a transaction nobody ends; nor may
// a batch that came with no verification once the transaction it continued ended.
func TestTxnProduceInternalLateAfterAbort(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	r := c.r(1)
	g, need, _ := r.StartInternalTxnVerification(c.now, 8, 1)
	if !need {
		t.Fatal("no verification asked")
	}
	c.marker(1, Marker{ProducerID: 8, ProducerEpoch: 1, Commit: false}).one(t)
	if got := c.produceInternalWith(1, coordBatch(8, 1, "late"), g).one(t); got.Err != CodeInvalidTxnState {
		t.Fatalf("batch verified before its abort marker, appended after it: %+v", got)
	}
	if st := r.Status(); st.LastStableOffset != st.HighWatermark || r.VerifyingCount() != 0 {
		t.Fatalf("the late batch opened a transaction, or left its guard: %+v, verifying %d", st, r.VerifyingCount())
	}
	// Open, then end, then a batch of the ended transaction with no verification.
	g, _, _ = r.StartInternalTxnVerification(c.now, 8, 1)
	c.produceInternalWith(1, coordBatch(8, 1, "on time"), g).one(t)
	c.marker(1, Marker{ProducerID: 8, ProducerEpoch: 1, Commit: false}).one(t)
	if got := c.produceInternal(1, coordBatch(8, 1, "late"), -1).one(t); got.Err != CodeInvalidTxnState {
		t.Fatalf("unverified batch after the abort marker: %+v", got)
	}
	if st := r.Status(); st.LastStableOffset != st.HighWatermark {
		t.Fatalf("the late batch opened a transaction: %+v", st)
	}
	// A guard dropped (the coordinator refused) is gone; a second drop is no matter.
	g, _, _ = r.StartInternalTxnVerification(c.now, 9, 0)
	r.DropTxnVerification(g)
	r.DropTxnVerification(g)
	if r.VerifyingCount() != 0 {
		t.Fatalf("verifying %d after the drop", r.VerifyingCount())
	}
}

// A follower that starts its log over at its leader's log start learns from the leader
// the transactions open there that began below it: with none of their batches left to
// fetch, it would otherwise show, as leader, a last stable offset past records the
// other replicas hold back.
func TestResetFollowerLearnsTransactionsOpenAtTheStart(t *testing.T) {
	c := newCluster(t, 2, 1, nil)
	c.produce(1, txnBatch(5, 0, 0, "x"), -1).one(t) // 0: opens a transaction
	c.produce(1, batchOf("y"), -1).one(t)           // 1
	del := c.deleteRecords(1, 2, time.Second)
	c.advance(50 * time.Millisecond)
	if d := del.one(t); d.Err != CodeNone {
		t.Fatalf("DeleteRecords: %+v", d)
	}
	// Node 2 leads an epoch alone and writes a record node 1 never sees.
	c.node(1).dropOut = true
	c.st.ISR = []int32{2}
	c.elect(2)
	if p := c.produce(2, batchOf("z"), 1).one(t); p.Err != CodeNone || p.BaseOffset != 2 {
		t.Fatalf("produce on node 2: %+v", p)
	}
	c.node(1).dropOut = false
	c.st.ISR = []int32{1, 2}
	c.elect(1)
	c.advance(50 * time.Millisecond)
	if !c.hasNote(2, "reset") {
		t.Fatalf("node 2 did not start its log over: %v", c.node(2).notes)
	}
	for _, id := range []int32{1, 2} {
		if st := c.r(id).Status(); st.LogStartOffset != 2 || st.LogEndOffset != 2 || st.LastStableOffset != 2 {
			t.Fatalf("node %d: start %d, end %d, last stable offset %d; want 2, 2, 2", id, st.LogStartOffset, st.LogEndOffset, st.LastStableOffset)
		}
	}
	c.start(2, c.node(2).d) // a restart reads them back from the producer snapshot
	c.elect(2)
	c.advance(50 * time.Millisecond)
	c.produce(2, batchOf("w"), 1).one(t)
	if st := c.r(2).Status(); st.HighWatermark != 3 || st.LastStableOffset != 2 {
		t.Fatalf("node 2 leads with the high watermark %d and the last stable offset %d, want 3 and 2 (the transaction open since 0)", st.HighWatermark, st.LastStableOffset)
	}
}
