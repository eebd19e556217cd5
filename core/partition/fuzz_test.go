package partition

import (
	"bytes"
	"reflect"
	"slices"
	"testing"

	"github.com/seedlog/seedlog/core/record"
)

// FuzzDecodeMessage: decoding never panics, and what decodes survives an encode and a
// decode unchanged. (Byte equality is too strong: the length varints of package enc may
// arrive in a longer form than the one it writes.)
func FuzzDecodeMessage(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(Encode(m))
	}
	f.Add([]byte{1})
	f.Add([]byte{2, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		again := Encode(m)
		m2, err := Decode(again)
		if err != nil {
			t.Fatalf("%s does not decode after re-encoding: %v", m.Kind(), err)
		}
		if !reflect.DeepEqual(m, m2) && !bytes.Equal(again, Encode(m2)) {
			t.Fatalf("%s changes across a round trip:\n%+v\n%+v", m.Kind(), m, m2)
		}
	})
}

// FuzzDecodeSnapshot: a producer-state snapshot read from disk never panics the decoder,
// and what decodes is consistent: everything lies below the snapshot offset, the open
// transactions are those of the producers, the aborted ones are sorted by marker, and a
// snapshot of the decoded state at the same offset decodes to the same state.
func FuzzDecodeSnapshot(f *testing.F) {
	p := newProducerState(10)
	p.apply(idemHeader(1, 0, 0, 3), 0)
	p.apply(idemHeader(2, 1, 5, 1), 3)
	f.Add(p.encodeSnapshot(4))
	txn := record.Header{ProducerID: 3, BaseSequence: 0, Attributes: record.AttrTransactional}
	ctl := record.Header{ProducerID: 3, BaseSequence: -1, Attributes: record.AttrTransactional | record.AttrControl}
	p.apply(txn, 4)
	p.record(ctl, 5, endMarker{valid: true, coordEpoch: 2})
	txn.BaseSequence = 1
	p.apply(txn, 6)
	f.Add(p.encodeSnapshot(7))
	f.Add(p.encodeSnapshot(6))
	empty := newProducerState(10)
	f.Add(empty.encodeSnapshot(0))
	f.Add(encodeV2(&testing.T{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, off, err := decodeSnapshot(b, 10)
		if err != nil {
			return
		}
		if len(q.m) > 10 {
			t.Fatalf("%d producers beyond the bound", len(q.m))
		}
		open := 0
		for _, e := range q.m {
			if (e.n > 0 && e.newest().last >= off) || e.last >= off || e.txnFirst >= off || e.ended.marker >= off {
				t.Fatalf("producer %+v inconsistent with offset %d", e, off)
			}
			if e.txnFirst >= 0 {
				open++
			}
		}
		if len(q.open) != open || !slices.IsSortedFunc(q.open, cmpOpen) {
			t.Fatalf("open transactions %v for %d producers with one", q.open, open)
		}
		for i, a := range q.aborted {
			if a.MarkerOffset >= off || a.FirstOffset > a.MarkerOffset || (i > 0 && q.aborted[i-1].MarkerOffset >= a.MarkerOffset) {
				t.Fatalf("aborted transactions %v at offset %d", q.aborted, off)
			}
		}
		again, off2, err := decodeSnapshot(q.encodeSnapshot(off), 10)
		if err != nil || off2 != off || !reflect.DeepEqual(again.m, q.m) || len(again.aborted) != 0 {
			t.Fatalf("re-encoded snapshot differs: %v", err)
		}
	})
}
