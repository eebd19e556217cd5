package storage

import (
	"bytes"
	"errors"

	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fatalfer is what the helpers need from *testing.T, *testing.B and *rapid.T.
type fatalfer interface {
	Helper()
	Fatalf(format string, args ...any)
}

// batchSpec describes a test batch: records of valueBytes bytes each, the first stamped
// firstTS and the last maxTS.
type batchSpec struct {
	records    int
	valueBytes int
	firstTS    int64
	maxTS      int64
}

// makeBatch builds a valid batch at base from spec. Value bytes derive from base so that
// different batches differ.
func makeBatch(tb fatalfer, base int64, spec batchSpec) []byte {
	tb.Helper()
	recs := make([]kmsg.Record, max(spec.records, 1))
	for i := range recs {
		v := bytes.Repeat([]byte{byte(base + int64(i))}, spec.valueBytes)
		recs[i] = kmsg.Record{Value: v}
	}
	recs[len(recs)-1].TimestampDelta64 = spec.maxTS - spec.firstTS
	b, err := record.Build(record.Spec{BaseOffset: base, FirstTimestamp: spec.firstTS}.NoProducer(), recs)
	if err != nil {
		tb.Fatalf("build batch: %v", err)
	}
	return b
}

// simpleBatch is a batch of n small records stamped ts.
func simpleBatch(tb fatalfer, base int64, n int, ts int64) []byte {
	return makeBatch(tb, base, batchSpec{records: n, valueBytes: 10, firstTS: ts, maxTS: ts})
}

// appendN appends count single-batch appends of n records each at the end of l, with
// timestamps ts, ts+1, ... and returns the batches.
func appendN(tb fatalfer, l *Log, count, n int, ts int64) [][]byte {
	tb.Helper()
	var out [][]byte
	for i := range count {
		b := simpleBatch(tb, l.EndOffset(), n, ts+int64(i))
		if err := l.Append(b); err != nil {
			tb.Fatalf("append %d: %v", i, err)
		}
		out = append(out, b)
	}
	return out
}

// splitBatches returns the batches in b, checked.
func splitBatches(tb fatalfer, b []byte) [][]byte {
	tb.Helper()
	var out [][]byte
	if _, err := record.Split(b, func(_ record.Header, batch []byte) error {
		out = append(out, batch)
		return nil
	}); err != nil {
		tb.Fatalf("split: %v", err)
	}
	return out
}

func mustOpen(tb fatalfer, fsys FS, dir string, cfg LogConfig) *Log {
	tb.Helper()
	l, err := OpenLog(fsys, dir, cfg)
	if err != nil {
		tb.Fatalf("open log: %v", err)
	}
	return l
}

func mustErrIs(tb fatalfer, err, target error) {
	tb.Helper()
	if !errors.Is(err, target) {
		tb.Fatalf("error %v, want %v", err, target)
	}
}

// nextOffsetAfter returns the offset after the last batch in b.
func nextOffsetAfter(tb fatalfer, b []byte) int64 {
	tb.Helper()
	next := int64(-1)
	if _, err := record.Split(b, func(h record.Header, _ []byte) error {
		next = h.NextOffset()
		return nil
	}); err != nil {
		tb.Fatalf("split: %v", err)
	}
	return next
}
