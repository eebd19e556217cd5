package raft

import (
	"bytes"
	"testing"

	"github.com/seedlog/seedlog/core/record"
)

// testLog builds a log from (epoch, records) pairs: [0,2)@1 [2,3)@1 [3,5)@3 [5,6)@4.
func testLog(t *testing.T) memLog {
	l := newMemLog(0, 0)
	for _, b := range []struct {
		epoch int32
		n     int
	}{{1, 2}, {1, 1}, {3, 2}, {4, 1}} {
		vals := make([]string, b.n)
		for i := range vals {
			vals[i] = "v"
		}
		data := mustBatch(t, l.end(), b.epoch, false, vals...)
		h, _ := record.Check(data)
		l.append(logBatch{base: h.BaseOffset, next: h.NextOffset(), epoch: b.epoch, data: data})
	}
	return l
}

func TestMemLogEpochs(t *testing.T) {
	l := testLog(t)
	cases := []struct {
		e        int32
		epoch    int32
		end      int64
		wantFind bool
	}{
		{0, 0, 0, true}, {1, 1, 3, true}, {2, 1, 3, true}, {3, 3, 5, true}, {4, 4, 6, true}, {9, 4, 6, true},
	}
	for _, c := range cases {
		e, end, ok := l.endOfEpoch(c.e)
		if ok != c.wantFind || e != c.epoch || end != c.end {
			t.Errorf("endOfEpoch(%d) = %d, %d, %v; want %d, %d", c.e, e, end, ok, c.epoch, c.end)
		}
	}
	for o, want := range map[int64]int32{0: 0, 1: 1, 3: 1, 4: 3, 5: 3, 6: 4, 7: -1} {
		if got := l.epochBefore(o); got != want {
			t.Errorf("epochBefore(%d) = %d, want %d", o, got, want)
		}
	}
	for o, want := range map[int64]bool{0: true, 1: false, 2: true, 3: true, 4: false, 5: true, 6: true, 7: false} {
		if got := l.isBoundary(o); got != want {
			t.Errorf("isBoundary(%d) = %v", o, got)
		}
	}
}

func TestMemLogTruncateAndDelete(t *testing.T) {
	l := testLog(t)
	l.truncate(3)
	if l.end() != 3 || l.lastEpoch() != 1 || len(l.epochs) != 1 {
		t.Fatalf("after truncating at 3: end %d, last epoch %d, epochs %v", l.end(), l.lastEpoch(), l.epochs)
	}
	l = testLog(t)
	l.deleteBelow(3)
	if l.start != 3 || l.startEpoch != 1 || l.end() != 6 {
		t.Fatalf("after deleting below 3: %+v", l)
	}
	if e, end, ok := l.endOfEpoch(2); !ok || e != 1 || end != 3 {
		t.Fatalf("endOfEpoch(2) after the cut: %d %d %v", e, end, ok)
	}
	if _, _, ok := l.endOfEpoch(0); ok {
		t.Fatal("an epoch below the snapshot is known")
	}
	l.deleteBelow(6)
	if l.start != 6 || l.startEpoch != 4 || len(l.batches) != 0 || l.lastEpoch() != 4 {
		t.Fatalf("after deleting everything: %+v", l)
	}
	mustPanic(t, "truncate inside a batch", func() { l := testLog(t); l.truncate(1) })
	mustPanic(t, "delete inside a batch", func() { l := testLog(t); l.deleteBelow(4) })
	mustPanic(t, "append with a gap", func() {
		l := testLog(t)
		l.append(logBatch{base: 9, next: 10, epoch: 4})
	})
	mustPanic(t, "append an older epoch", func() {
		l := testLog(t)
		l.append(logBatch{base: 6, next: 7, epoch: 2})
	})
}

func TestMemLogSlice(t *testing.T) {
	l := testLog(t)
	size := len(l.batches[0].data)
	if got, next := l.slice(0, 1); !bytes.Equal(got, l.batches[0].data) || next != l.batches[0].next {
		t.Fatalf("the first batch is not always whole: %d bytes, next %d", len(got), next)
	}
	if got, _ := l.slice(1, 2*size); !bytes.HasPrefix(got, l.batches[0].data) {
		t.Fatalf("a fetch inside a batch starts at that batch")
	}
	if got, next := l.slice(6, 1<<20); got != nil || next != 6 {
		t.Fatalf("slice at the end: %d bytes, next %d", len(got), next)
	}
	all, next := l.slice(0, 1<<20)
	n, err := record.Split(all, func(record.Header, []byte) error { return nil })
	if err != nil || n != len(all) || n != l.bytesFrom(0) || next != l.end() {
		t.Fatalf("slice of everything: %d of %d bytes, next %d, %v", n, len(all), next, err)
	}
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

func TestBatchEntries(t *testing.T) {
	b := mustBatch(t, 10, 2, false, "a", "", "ccc")
	es, err := batchEntries(nil, b)
	if err != nil || values(es) != "10:a@2 11:@2 12:ccc@2" {
		t.Fatalf("%q, %v", values(es), err)
	}
	ctl := mustBatch(t, 0, 1, true, "x")
	if es, _ := batchEntries(nil, ctl); len(es) != 1 || !es[0].Control {
		t.Fatalf("control batch: %+v", es)
	}
	// Null values stay null.
	nb, _ := buildBatch(0, 1, 0, false, [][]byte{nil})
	if es, err := batchEntries(nil, nb); err != nil || es[0].Data != nil {
		t.Fatalf("null value: %+v, %v", es, err)
	}
}

// FuzzFollowerBatches: whatever a peer sends as batches, a follower never panics and
// appends only intact, dense batches of allowed epochs.
func FuzzFollowerBatches(f *testing.F) {
	b0 := mustBatch(f, 1, 1, false, "a", "b")
	b1 := mustBatch(f, 3, 2, false, "c")
	f.Add(append(append([]byte(nil), b0...), b1...))
	f.Add(b0[:len(b0)-3])
	f.Add(mustBatch(f, 1, 9, false, "future"))
	f.Fuzz(func(t *testing.T, batches []byte) {
		// The record walk must hold up on its own, CRC or not.
		if es, err := batchEntries(nil, batches); err == nil {
			h, _ := record.ParseHeader(batches)
			if len(es) != int(h.RecordCount) {
				t.Fatalf("%d entries from a batch of %d records", len(es), h.RecordCount)
			}
		}
		c := newCluster(t, []int32{1, 2})
		c.elect(1)
		c.settle()
		fr := c.n(2).r
		fr.fol.req = &Fetch{Epoch: 1, ReplicaID: 2, FetchOffset: 1, LastFetchedEpoch: 1}
		fr.fol.to = 1
		fr.Step(c.now, 1, &FetchResponse{Epoch: 1, Leader: 1, FetchOffset: 1, LastFetchedEpoch: 1, HW: 1, Batches: batches})
		if fr.fatal != nil {
			t.Fatalf("fatal: %v", fr.fatal)
		}
		for _, b := range fr.log.batches {
			h, err := record.Check(b.data)
			if err != nil || h.PartitionLeaderEpoch > 1 || h.BaseOffset != b.base {
				t.Fatalf("appended a bad batch: %+v, %v", h, err)
			}
			if _, err := batchEntries(nil, b.data); err != nil {
				t.Fatalf("appended a batch whose records do not decode: %v", err)
			}
		}
	})
}

// FuzzDecodeFiles: the quorum-state and snapshot files never make decoding panic, and a
// decoded snapshot re-encodes to the same bytes.
func FuzzDecodeFiles(f *testing.F) {
	f.Add(encodeQuorumState(quorumState{epoch: 3, votedFor: 1, hw: 9, acked: 12}, 4))
	f.Add(EncodeSnapshotFile(Snapshot{EndOffset: 4, Epoch: 2, Data: []byte("img")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if qs, seq, err := decodeQuorumState(b); err == nil && !bytes.Equal(encodeQuorumState(qs, seq), b) {
			t.Fatalf("quorum state %+v re-encodes differently", qs)
		}
		if s, err := DecodeSnapshotFile(b); err == nil && !bytes.Equal(EncodeSnapshotFile(s), b) {
			// Lengths are uvarints, which admit overlong forms; the CRC still matched, so
			// only a deliberately crafted file gets here. Decoding it again must agree.
			again, err := DecodeSnapshotFile(EncodeSnapshotFile(s))
			if err != nil || again.EndOffset != s.EndOffset || again.Epoch != s.Epoch || !bytes.Equal(again.Data, s.Data) {
				t.Fatalf("snapshot %+v does not survive re-encoding: %v", s, err)
			}
		}
	})
}
