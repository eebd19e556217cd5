package storage

import (
	"testing"

	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"
)

// stampedBatch builds a batch at base whose records carry the timestamps stamps.
func stampedBatch(tb fatalfer, base int64, stamps []int64) []byte {
	tb.Helper()
	recs := make([]kmsg.Record, len(stamps))
	for i, ts := range stamps {
		recs[i] = kmsg.Record{Value: []byte{byte(base), byte(i)}, TimestampDelta64: ts - stamps[0]}
	}
	b, err := record.Build(record.Spec{BaseOffset: base, FirstTimestamp: stamps[0]}.NoProducer(), recs)
	if err != nil {
		tb.Fatalf("build batch: %v", err)
	}
	return b
}

// timestampModel is every record's timestamp by offset, from the log's start.
type timestampModel struct {
	start  int64
	stamps []int64 // stamps[o] is the timestamp of offset o
}

func (m *timestampModel) firstAtLeast(ts, maxOffset int64) (TimestampAt, bool) {
	for o := m.start; o < min(maxOffset, int64(len(m.stamps))); o++ {
		if m.stamps[o] >= ts {
			return TimestampAt{o, m.stamps[o]}, true
		}
	}
	return TimestampAt{-1, -1}, false
}

func (m *timestampModel) maxRecord(maxOffset int64) (TimestampAt, bool) {
	best := TimestampAt{-1, -1}
	for o := m.start; o < min(maxOffset, int64(len(m.stamps))); o++ {
		if m.stamps[o] > best.Timestamp {
			best = TimestampAt{o, m.stamps[o]}
		}
	}
	return best, best.Offset >= 0
}

// TestTimestampLookupsMatchModel appends batches of records with random timestamps
// across segments of random sizes, moves the log start, truncates, reopens, and checks
// both lookups against a scan of every record, for every bound.
func TestTimestampLookupsMatchModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		fsys := newMemFS()
		cfg := LogConfig{
			SegmentBytesMax:    int64(rapid.IntRange(100, 600).Draw(rt, "segmentBytes")),
			IndexIntervalBytes: rapid.IntRange(1, 300).Draw(rt, "indexInterval"),
		}
		l, err := OpenLog(fsys, "t-0", cfg)
		if err != nil {
			rt.Fatal(err)
		}
		defer func() { l.Close() }()
		m := &timestampModel{}
		appendSome := func() {
			for range rapid.IntRange(1, 12).Draw(rt, "batches") {
				n := rapid.IntRange(1, 4).Draw(rt, "records")
				stamps := make([]int64, n)
				for i := range stamps {
					stamps[i] = int64(rapid.IntRange(0, 60).Draw(rt, "ts")) * 10
				}
				if err := l.Append(stampedBatch(rt, l.EndOffset(), stamps)); err != nil {
					rt.Fatal(err)
				}
				m.stamps = append(m.stamps, stamps...)
			}
		}
		check := func(when string) {
			end := l.EndOffset()
			for bound := l.StartOffset(); bound <= end; bound++ {
				got, found, err := l.LookupMaxTimestamp(bound)
				want, wantFound := m.maxRecord(bound)
				if err != nil || found != wantFound || found && got != want {
					rt.Fatalf("%s: LookupMaxTimestamp(%d) = %+v, %v, %v; want %+v, %v", when, bound, got, found, err, want, wantFound)
				}
				ts := int64(rapid.IntRange(-1, 61).Draw(rt, "lookup")) * 10
				got, found, err = l.LookupTimestamp(ts, bound)
				want, wantFound = m.firstAtLeast(ts, bound)
				if err != nil || found != wantFound || found && got != want {
					rt.Fatalf("%s: LookupTimestamp(%d, %d) = %+v, %v, %v; want %+v, %v", when, ts, bound, got, found, err, want, wantFound)
				}
			}
		}
		appendSome()
		check("after appends")
		if rapid.Bool().Draw(rt, "deleteBelow") {
			to := rapid.Int64Range(0, l.EndOffset()).Draw(rt, "start")
			if err := l.DeleteBelow(to); err != nil {
				rt.Fatal(err)
			}
			m.start = l.StartOffset()
			check("after DeleteBelow")
		}
		if rapid.Bool().Draw(rt, "truncate") {
			to := rapid.Int64Range(l.StartOffset(), l.EndOffset()).Draw(rt, "end")
			if err := l.TruncateTo(to); err != nil {
				rt.Fatal(err)
			}
			m.stamps = m.stamps[:l.EndOffset()]
			check("after TruncateTo")
			appendSome()
			check("after appending past a truncation")
		}
		if err := l.Sync(); err != nil {
			rt.Fatal(err)
		}
		if err := l.Close(); err != nil {
			rt.Fatal(err)
		}
		if l, err = OpenLog(fsys, "t-0", cfg); err != nil {
			rt.Fatal(err)
		}
		check("after reopening")
	})
}

// TestMaxTimestampFirstOfTies: the answer is the first record with the largest
// timestamp, even when a later segment holds it too.
func TestMaxTimestampFirstOfTies(t *testing.T) {
	_, l := osLog(t, LogConfig{SegmentBytesMax: 150, IndexIntervalBytes: 1})
	defer l.Close()
	for _, stamps := range [][]int64{{5, 9, 7}, {1, 2}, {9, 3}, {4}} {
		if err := l.Append(stampedBatch(t, l.EndOffset(), stamps)); err != nil {
			t.Fatal(err)
		}
	}
	if len(l.Segments()) < 3 {
		t.Fatalf("want several segments: %+v", l.Segments())
	}
	got, found, err := l.LookupMaxTimestamp(l.EndOffset())
	if err != nil || !found || got != (TimestampAt{1, 9}) {
		t.Fatalf("LookupMaxTimestamp = %+v, %v, %v; want offset 1 at 9", got, found, err)
	}
	// Below the first 9 the largest is 7 at offset 2; with the start past the first
	// batch the second 9 (offset 5) answers, though the first segment's maximum says 9.
	if got, _, _ := l.LookupMaxTimestamp(1); got != (TimestampAt{0, 5}) {
		t.Errorf("LookupMaxTimestamp(1) = %+v, want offset 0 at 5", got)
	}
	if err := l.DeleteBelow(2); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := l.LookupMaxTimestamp(l.EndOffset()); got != (TimestampAt{5, 9}) {
		t.Errorf("after DeleteBelow(2): LookupMaxTimestamp = %+v, want offset 5 at 9", got)
	}
}
