package txn

import (
	"reflect"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fuzz with, for example,
//
//	go test ./core/txn -run '^$' -fuzz '^FuzzDecodeValue$' -fuzztime 1m
//
// Whatever __transaction_state holds, decoding and loading it must not panic: it fails
// cleanly or yields transactions that serve requests without panicking either.

// FuzzDecodeValue: a value decodes or fails; one that decodes encodes back to a value
// that decodes to the same record.
func FuzzDecodeValue(f *testing.F) {
	for _, rec := range sampleRecords() {
		f.Add(encodeValue(rec))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeValue(b)
		if err != nil {
			return
		}
		again, err := decodeValue(encodeValue(rec))
		if err != nil || !reflect.DeepEqual(again, rec) {
			t.Fatalf("re-encoding %+v: %+v, %v", rec, again, err)
		}
	})
}

// FuzzDecodeKey: a key decodes or fails, and a decoded id encodes back to the same key.
func FuzzDecodeKey(f *testing.F) {
	f.Add(encodeKey("tx"))
	f.Add(encodeKey(""))
	f.Add([]byte{0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, known, err := decodeKey(b)
		if err != nil || !known {
			return
		}
		if got := encodeKey(id); string(got) != string(b) {
			t.Fatalf("key %x decoded as %q, which encodes as %x", b, id, got)
		}
	})
}

// FuzzLoadRecord puts an arbitrary key and value in a valid batch after a valid
// history, and serves whatever loads.
func FuzzLoadRecord(f *testing.F) {
	for _, rec := range sampleRecords() {
		f.Add(encodeKey("tx"), encodeValue(rec), false)
	}
	f.Add(encodeKey("tx"), []byte(nil), true)
	f.Add(encodeKey("a"), []byte(nil), true) // a tombstone of an id the history holds
	f.Add(encodeKey("d"), []byte(nil), true)
	f.Fuzz(func(t *testing.T, key, value []byte, tombstone bool) {
		if tombstone {
			value = nil
		}
		l := newFakeLog(t)
		for i, rec := range sampleRecords() {
			l.write([]KV{{Key: encodeKey(string(rune('a' + i))), Value: encodeValue(rec)}})
		}
		l.write([]KV{{Key: key, Value: value}})
		loadAndServe(t, l)
	})
}

// FuzzLoadChunk hands arbitrary bytes to the loader as a chunk of batches, and again with
// the CRC repaired so that the record decoder is reached.
func FuzzLoadChunk(f *testing.F) {
	for _, rec := range sampleRecords() {
		b, err := record.Build(record.Spec{}.NoProducer(), []kmsg.Record{{Key: encodeKey("tx"), Value: encodeValue(rec)}})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l := newFakeLog(t)
		l.batches = [][]byte{b}
		loadAndServe(t, l)
		if h, err := record.ParseHeader(b); err == nil && h.Size() <= len(b) {
			fixed := append([]byte(nil), b...)
			record.SetCRC(fixed)
			l.batches = [][]byte{fixed}
			loadAndServe(t, l)
		}
	})
}

// loadAndServe loads l into a new coordinator and, if it serves, drives every
// transaction it rebuilt through the requests producers send, for long enough that
// idle ids expire (whatever last update their records hold).
func loadAndServe(t *testing.T, l *fakeLog) {
	h := &harness{t: t, log: l, now: int64(time.Hour), allowViolations: true}
	h.markers = &fakeMarkers{h: h, auto: true}
	h.pids = &fakePIDs{next: 1000}
	cfg := testConfig()
	cfg.IDExpiration = 10 * time.Minute
	h.cfg = h.wire(cfg)
	h.c = NewCoordinator(h.now, h.cfg, l)
	switch h.c.Phase() {
	case "failed":
		if h.c.LoadErr() == nil || h.c.Availability() != codeNotCoordinator {
			t.Fatalf("failed load without a reason")
		}
		return
	case "serving":
	default:
		t.Fatalf("phase %s after loading", h.c.Phase())
	}
	for _, st := range h.c.List() {
		h.add(st.TxnID, st.ProducerID, st.ProducerEpoch, tps("t", 0)...)
		h.end(st.TxnID, st.ProducerID, st.ProducerEpoch, true)
		h.init(st.TxnID, testTimeoutMs, st.ProducerID, st.ProducerEpoch)
		h.init(st.TxnID, testTimeoutMs, -1, -1)
	}
	h.run(time.Hour)
	for _, st := range h.c.List() {
		if st.State == "PrepareCommit" || st.State == "PrepareAbort" {
			t.Fatalf("%q still %s an hour after loading", st.TxnID, st.State)
		}
		if st.State != "Ongoing" && st.LastUpdateMs <= millis(h.now)-cfg.IDExpiration.Milliseconds() {
			t.Fatalf("%q still %s, last updated %d ms, at %d ms", st.TxnID, st.State, st.LastUpdateMs, millis(h.now))
		}
	}
}
