package partition

import (
	"bytes"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/enc"
	"github.com/seedlog/seedlog/core/record"
)

func ep(pairs ...int64) epochCache {
	var c epochCache
	for i := 0; i < len(pairs); i += 2 {
		c = append(c, disk.EpochEntry{Epoch: int32(pairs[i]), StartOffset: pairs[i+1]})
	}
	return c
}

func TestEndOffsetFor(t *testing.T) {
	c := ep(1, 0, 2, 4, 4, 8) // log end 10
	cases := []struct {
		req   int32
		epoch int32
		end   int64
	}{
		{-1, -1, -1},
		{0, 0, 0}, // older than all: ends where the first known starts
		{1, 1, 4},
		{2, 2, 8},
		{3, 2, 8},
		{4, 4, 10},
		{5, 4, 10},
	}
	for _, tc := range cases {
		if e, end := c.endOffsetFor(tc.req, 10); e != tc.epoch || end != tc.end {
			t.Errorf("endOffsetFor(%d) = %d@%d, want %d@%d", tc.req, e, end, tc.epoch, tc.end)
		}
	}
	if e, end := epochCache(nil).endOffsetFor(3, 10); e != -1 || end != -1 {
		t.Errorf("empty cache: %d@%d", e, end)
	}
	if got := c.epochAt(5); got != 2 {
		t.Errorf("epochAt(5) = %d", got)
	}
}

func TestEpochCacheEdits(t *testing.T) {
	c := ep(1, 0, 2, 4, 4, 8)
	if got, ch := slices.Clone(c).truncateFromEnd(8); !ch || !slices.Equal(got, ep(1, 0, 2, 4)) {
		t.Errorf("truncateFromEnd(8) = %v", got)
	}
	if got, ch := slices.Clone(c).truncateFromEnd(9); ch || !slices.Equal(got, c) {
		t.Errorf("truncateFromEnd(9) = %v", got)
	}
	if got, ch := slices.Clone(c).truncateFromStart(5); !ch || !slices.Equal(got, ep(2, 5, 4, 8)) {
		t.Errorf("truncateFromStart(5) = %v", got)
	}
	if got, ch := slices.Clone(c).truncateFromStart(8); !ch || !slices.Equal(got, ep(4, 8)) {
		t.Errorf("truncateFromStart(8) = %v", got)
	}
	if got, ch := slices.Clone(c).truncateFromStart(0); ch || !slices.Equal(got, c) {
		t.Errorf("truncateFromStart(0) = %v", got)
	}
	if got, ch, ok := ep(1, 0, 3, 10).assign(5, 10); !ok || !ch || !slices.Equal(got, ep(1, 0, 5, 10)) {
		t.Errorf("assign at an empty epoch's start: %v %v %v", got, ch, ok)
	}
	if got, ch, ok := slices.Clone(c).assign(4, 10); !ok || ch || !slices.Equal(got, c) {
		t.Errorf("assign same epoch: %v %v %v", got, ch, ok)
	}
	if got, ch, ok := slices.Clone(c).assign(6, 10); !ok || !ch || !slices.Equal(got, ep(1, 0, 2, 4, 4, 8, 6, 10)) {
		t.Errorf("assign newer: %v %v %v", got, ch, ok)
	}
	if _, _, ok := slices.Clone(c).assign(3, 10); ok {
		t.Error("assign older epoch after a written newer one accepted")
	}
	// An epoch that never wrote (starting at the log end) gives way.
	if got, _, ok := ep(1, 0, 5, 10).assign(3, 10); !ok || !slices.Equal(got, ep(1, 0, 3, 10)) {
		t.Errorf("assign over an empty epoch: %v %v", got, ok)
	}
	got := sanitizeEpochs(ep(1, 0, 1, 3, 2, 4, 3, 4, 5, 20), 2, 10)
	if !slices.Equal(got, ep(1, 2, 3, 4)) {
		t.Errorf("sanitize: %v", got)
	}
}

func TestTailIndex(t *testing.T) {
	ti := newTailIndex(3)
	ti.add(0, 10, 100)
	ti.add(10, 20, 200)
	if got := ti.bytesBetween(0, 20); got != 300 {
		t.Errorf("all: %d", got)
	}
	if got := ti.bytesBetween(15, 20); got != 200 {
		t.Errorf("inside a batch: %d", got)
	}
	if got := ti.bytesBetween(20, 20); got != 0 {
		t.Errorf("empty range: %d", got)
	}
	ti.add(20, 30, 300)
	ti.add(30, 40, 400) // forgets [0,10)
	if got := ti.bytesBetween(5, 40); got != math.MaxInt64 {
		t.Errorf("below the remembered: %d", got)
	}
	if got := ti.bytesBetween(10, 30); got != 500 {
		t.Errorf("middle: %d", got)
	}
	ti.truncate(25)
	if got := ti.bytesBetween(10, 40); got != 500 {
		t.Errorf("after truncate: %d", got)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	p := newProducerState(100)
	rng := rand.New(rand.NewPCG(1, 2))
	off := int64(0)
	seqs := map[int64]int32{}
	for range 200 {
		pid := int64(rng.IntN(8))
		n := int32(1 + rng.IntN(4))
		h := record.Header{ProducerID: pid, ProducerEpoch: 0, BaseSequence: seqs[pid], LastOffsetDelta: n - 1, BaseOffset: off, MaxTimestamp: 1000 + off}
		p.apply(h, off)
		seqs[pid] += n
		off += int64(n)
	}
	b := p.encodeSnapshot(off)
	q, at, err := decodeSnapshot(b, 100)
	if err != nil || at != off {
		t.Fatalf("decode: %v at %d", err, at)
	}
	if !reflect.DeepEqual(p.m, q.m) {
		t.Fatal("state differs after a round trip")
	}
	// Below an offset, later batches are left out.
	b = p.encodeSnapshot(off - 10)
	q, _, err = decodeSnapshot(b, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range q.m {
		if e.newest().last >= off-10 {
			t.Fatalf("producer %d keeps a batch ending at %d", e.id, e.newest().last)
		}
	}
	for i := range b {
		bad := bytes.Clone(b)
		bad[i] ^= 0x10
		if _, _, err := decodeSnapshot(bad, 100); err == nil {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
}

// A snapshot written before producers' timestamps were kept (version 1) still decodes,
// with the timestamps unknown.
func TestSnapshotVersionOne(t *testing.T) {
	p := newProducerState(10)
	p.apply(record.Header{ProducerID: 7, ProducerEpoch: 2, BaseSequence: 0, LastOffsetDelta: 2, MaxTimestamp: 99}, 0)
	var w enc.Writer
	w.U8(1)
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
	w.I32(int32(crc32.Checksum(w.B, crcTable)))
	q, at, err := decodeSnapshot(w.B, 10)
	if err != nil || at != 3 {
		t.Fatalf("version 1: %v at %d", err, at)
	}
	want := *p.m[7]
	want.batches[0].maxTimestamp = -1
	want.since = -1   // a snapshot before version 3 does not say when the producer appeared
	want.epochAt = -1 // nor when its epoch began
	if !reflect.DeepEqual(*q.m[7], want) {
		t.Fatalf("version 1 decoded as %+v, want %+v", *q.m[7], want)
	}
}

func sampleMessages() []Message {
	k := Key{TopicID: [16]byte{1, 2, 3}, Partition: 7}
	return []Message{
		&Fetch{Key: k, RequestID: 1, ReplicaID: 2, CurrentLeaderEpoch: 3, FetchOffset: 4, DurableOffset: 3,
			LastFetchedEpoch: 2, LogStartOffset: 1, MaxBytes: 1 << 20, MaxWaitMs: 500},
		&FetchAnswer{Key: k, RequestID: 1, FetchOffset: 4, Err: 0, LeaderEpoch: 3, HighWatermark: 4,
			LogStartOffset: 0, LogEndOffset: 9, Records: batchOf("a", "b")},
		&FetchAnswer{Key: k, RequestID: 2, FetchOffset: 4, Diverging: true, DivergingEpoch: 2, DivergingEndOffset: 3},
		&FetchAnswer{Key: k, RequestID: 3, FetchOffset: 2, Err: CodeOffsetOutOfRange, LogStartOffset: 9,
			OpenBelow: []OpenTxn{{ProducerID: 7, ProducerEpoch: 1, FirstOffset: 3}, {ProducerID: 4, ProducerEpoch: 0, FirstOffset: 8}}},
		&Fetch{Key: k, RequestID: 5, ReplicaID: 2, CurrentLeaderEpoch: 3, FetchOffset: 9, DurableOffset: 9,
			LastFetchedEpoch: 2, MaxBytes: 1 << 20, Damaged: true, DamagedFrom: 4},
		&FetchAnswer{Key: k, RequestID: 5, FetchOffset: 4, LeaderEpoch: 3, HighWatermark: 9, LogEndOffset: 12,
			InISR: true, GapEnd: 7, GapEpochs: []disk.EpochEntry{{Epoch: 3, StartOffset: 6}}},
		&EpochQuery{Key: k, RequestID: 3, ReplicaID: 2, CurrentLeaderEpoch: 3, LeaderEpoch: 2},
		&EpochAnswer{Key: k, RequestID: 3, Err: CodeFencedLeaderEpoch, RequestedEpoch: 2, LeaderEpoch: -1, EndOffset: -1},
		&EpochAnswer{Key: k, RequestID: 4, RequestedEpoch: 2, LeaderEpoch: 1, EndOffset: 5, LogStartOffset: 6,
			OpenBelow: []OpenTxn{{ProducerID: 3, ProducerEpoch: 2, FirstOffset: 1}}},
		&Synced{Key: k, RequestID: 5, ReplicaID: 2, CurrentLeaderEpoch: 3, DurableOffset: 9},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		b := Encode(m)
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", m.Kind(), err)
		}
		if fa, ok := got.(*FetchAnswer); ok && len(fa.Records) == 0 {
			fa.Records = m.(*FetchAnswer).Records // nil and empty both decode as empty
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("%s: got %+v, want %+v", m.Kind(), got, m)
		}
		for n := range len(b) {
			if _, err := Decode(b[:n]); err == nil {
				t.Fatalf("%s cut to %d bytes decoded", m.Kind(), n)
			}
		}
		if _, err := Decode(append(b, 0)); err == nil {
			t.Fatalf("%s with a trailing byte decoded", m.Kind())
		}
	}
	if _, err := Decode([]byte{99}); err == nil {
		t.Fatal("unknown kind decoded")
	}
	r := enc.Reader{B: nil}
	if _, err := DecodeMessage(&r); err == nil {
		t.Fatal("empty input decoded")
	}
}

func idemHeader(pid int64, epoch int16, seq int32, n int32) record.Header {
	return record.Header{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, LastOffsetDelta: n - 1, RecordCount: n}
}

// Batches applied out of sequence (replay after a snapshot older than the log start)
// make the older ones unreliable: only what follows the gap is kept.
func TestProducerStateGap(t *testing.T) {
	p := newProducerState(10)
	p.apply(idemHeader(1, 0, 0, 3), 0)
	p.apply(idemHeader(1, 0, 7, 2), 20)
	if e := p.m[1]; e.n != 1 || e.batches[0].firstSeq != 7 {
		t.Fatalf("window %+v", e.batches[:e.n])
	}
	if v, _ := p.check(idemHeader(1, 0, 5, 2)); v != seqOlder {
		t.Fatalf("seq 5 before the window: verdict %d", v)
	}
	if v, _ := p.check(idemHeader(1, 0, 9, 1)); v != seqAppend {
		t.Fatalf("seq 9: verdict %d", v)
	}
	if v, _ := p.check(idemHeader(1, 0, 10, 1)); v != seqOutOfOrder {
		t.Fatalf("seq 10: verdict %d", v)
	}
}

// The tail index grows to its bound and then forgets its oldest batches, through
// truncations and resets, as a list of the last max batches would.
func TestTailIndexMatchesAList(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, max := range []int{1, 2, 3, 8} {
		ti := newTailIndex(max)
		var model []tailBatch
		next := int64(0)
		for step := range 2000 {
			switch r := rng.IntN(10); {
			case r < 7:
				n := 1 + rng.Int64N(5)
				ti.add(next, next+n, int(n*10))
				model = append(model, tailBatch{base: next, next: next + n, size: int32(n * 10)})
				if len(model) > max {
					model = model[1:]
				}
				next += n
			case r < 9:
				cut := next - rng.Int64N(8)
				ti.truncate(cut)
				for len(model) > 0 && model[len(model)-1].base >= cut {
					model = model[:len(model)-1]
				}
				if len(model) > 0 {
					next = model[len(model)-1].next
				}
			default:
				ti.reset()
				model = nil
			}
			if ti.count != len(model) {
				t.Fatalf("max %d step %d: %d batches, want %d", max, step, ti.count, len(model))
			}
			for i := range model {
				if *ti.at(i) != model[i] {
					t.Fatalf("max %d step %d: batch %d is %+v, want %+v", max, step, i, *ti.at(i), model[i])
				}
			}
		}
	}
}

// A truncation that removes the marker that raised a producer's epoch, with no batch of
// the producer left to vouch for an epoch, leaves the epoch unknown: the log fetched back
// from the leader, written at the older epoch, is applied again (its transactions reopen
// and its aborts are listed), not dropped as a fenced producer's.
func TestTruncatedEpochBumpForgetsTheEpoch(t *testing.T) {
	p := newProducerState(10)
	data := func(epoch int16, seq int32) record.Header {
		return record.Header{ProducerID: 1, ProducerEpoch: epoch, BaseSequence: seq, Attributes: record.AttrTransactional}
	}
	marker := record.Header{ProducerID: 1, ProducerEpoch: 1, BaseSequence: -1, Attributes: record.AttrTransactional | record.AttrControl}
	p.record(data(0, 0), 5, endMarker{})
	p.record(marker, 10, endMarker{valid: true, coordEpoch: 0}) // a fencing abort: epoch 1
	if e := p.m[1]; e.epoch != 1 || e.n != 0 {
		t.Fatalf("after the fencing marker: epoch %d, %d batches", e.epoch, e.n)
	}
	p.truncate(8)
	p.record(data(0, 1), 8, endMarker{})
	if e := p.m[1]; e == nil || e.last != 8 || e.txnFirst != 5 {
		t.Fatalf("the batch fetched back at epoch 0 was not applied: %+v", e)
	}
}

// A repair truncation through an aborted transaction older than the producer's last
// one opens it again (the Truncate's Done lists it), so that its marker, fetched back,
// lists the abort once more.
func TestTruncationReopensAnOlderAbortedTransaction(t *testing.T) {
	p := newProducerState(10)
	data := func(seq int32) record.Header {
		return record.Header{ProducerID: 1, BaseSequence: seq, Attributes: record.AttrTransactional}
	}
	marker := record.Header{ProducerID: 1, BaseSequence: -1, Attributes: record.AttrTransactional | record.AttrControl}
	abort := endMarker{valid: true}
	p.record(data(0), 8, endMarker{})
	p.record(marker, 30, abort) // aborts [8, 30]
	p.record(data(1), 34, endMarker{})
	p.record(marker, 37, abort) // aborts [34, 37]
	p.stableBelow(40)           // the high watermark covers both markers: no longer unstable
	first := p.takeAborted()    // into the disk's index with their appends
	p.truncate(19)
	if e := p.m[1]; e == nil || e.txnFirst != -1 {
		t.Fatalf("the truncation alone opened %+v", e)
	}
	p.reopen(first[:1])
	if e := p.m[1]; e == nil || e.txnFirst != 8 || !slices.Equal(p.open, []txnRange{{pid: 1, first: 8, marker: -1}}) {
		t.Fatalf("the transaction at 8, whose marker was cut, is not open again: %+v, open %v", e, p.open)
	}
	p.record(marker, 30, abort) // fetched back
	want := []disk.AbortedTxn{{ProducerID: 1, FirstOffset: 8, MarkerOffset: 30, StableOffset: 31}}
	if got := p.takeAborted(); !slices.Equal(got, want) {
		t.Fatalf("aborts after the marker came back: %+v, want %+v", got, want)
	}
}

// EncodeHead writes every message as EncodeMessage does, but a fetch answer's records,
// which it hands back as they are (not copied) to be sent after the head.
func TestEncodeHeadLeavesRecordsOut(t *testing.T) {
	for _, m := range sampleMessages() {
		var w enc.Writer
		records := EncodeHead(&w, m)
		if got := append(w.B, records...); !bytes.Equal(got, Encode(m)) {
			t.Fatalf("%s: head and records differ from the encoding", m.Kind())
		}
		a, ok := m.(*FetchAnswer)
		if !ok || len(a.Records) == 0 {
			if len(records) != 0 {
				t.Fatalf("%s: %d record bytes handed back", m.Kind(), len(records))
			}
			continue
		}
		if len(records) != len(a.Records) || &records[0] != &a.Records[0] {
			t.Fatal("a fetch answer's records were copied")
		}
	}
}
