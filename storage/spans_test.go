package storage

import (
	"bytes"
	"testing"

	"github.com/seedlog/seedlog/core/record"
)

// checkSpans checks that ReadSpans at offset returns what Read returns (spansMatch).
func checkSpans(t *testing.T, l *Log, offset, maxOffset int64, maxBytes int, buf *[]byte) {
	t.Helper()
	want, err := l.Read(offset, maxOffset, maxBytes)
	if err != nil {
		t.Fatalf("Read(%d, %d, %d): %v", offset, maxOffset, maxBytes, err)
	}
	spansMatchInto(t, l, offset, maxOffset, maxBytes, want, buf)
}

// spansMatch checks that ReadSpans returns want, what Read returned: the same bytes,
// every file span's stretch of its file holding exactly its bytes, only a rewritten
// first batch without a file, and the offset after the last batch.
func spansMatch(t *testing.T, l *Log, offset, maxOffset int64, maxBytes int, want []byte) {
	t.Helper()
	spansMatchInto(t, l, offset, maxOffset, maxBytes, want, nil)
}

func spansMatchInto(t *testing.T, l *Log, offset, maxOffset int64, maxBytes int, want []byte, buf *[]byte) {
	t.Helper()
	spans, next, err := l.ReadSpans(offset, maxOffset, maxBytes, buf)
	if err != nil {
		t.Fatalf("ReadSpans(%d, %d, %d): %v", offset, maxOffset, maxBytes, err)
	}
	var got []byte
	for i, sp := range spans {
		got = append(got, sp.Data...)
		if sp.File == nil {
			if i != 0 || len(sp.Data) != record.HeaderSize {
				t.Fatalf("ReadSpans(%d): span %d of %d bytes has no file", offset, i, len(sp.Data))
			}
			continue
		}
		in := make([]byte, len(sp.Data))
		if err := readFull(sp.File, in, sp.Pos); err != nil || !bytes.Equal(in, sp.Data) {
			t.Fatalf("ReadSpans(%d): span %d (segment %d at %d, %d bytes) does not hold its bytes in its file: %v",
				offset, i, sp.Base, sp.Pos, len(sp.Data), err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("ReadSpans(%d, %d, %d) = %d bytes, Read %d", offset, maxOffset, maxBytes, len(got), len(want))
	}
	wantNext := offset
	if len(want) > 0 {
		wantNext = nextOffsetAfter(t, want)
	}
	if next != wantNext {
		t.Fatalf("ReadSpans(%d): next %d, want %d", offset, next, wantNext)
	}
}

func TestReadSpansMatchRead(t *testing.T) {
	_, l := osLog(t, LogConfig{SegmentBytesMax: 1024, IndexIntervalBytes: 128})
	defer l.Close()
	appendN(t, l, 60, 3, 100)
	if len(l.segments) < 4 {
		t.Fatalf("%d segments, want several", len(l.segments))
	}
	end := l.EndOffset()
	var buf []byte
	for _, maxBytes := range []int{1, 200, 1500, 1 << 20} {
		for o := l.StartOffset(); o <= end; o += 7 {
			checkSpans(t, l, o, end, maxBytes, nil)
			checkSpans(t, l, o, end, maxBytes, &buf)
			checkSpans(t, l, o, min(o+20, end), maxBytes, &buf)
			if o%3 == 0 {
				buf = nil
			}
		}
	}
}

func TestReadSpansOfCompactedLog(t *testing.T) {
	fsys := newMemFS()
	l := mustOpen(t, fsys, "t-0", LogConfig{SegmentBytesMax: 2048, IndexIntervalBytes: 256})
	defer l.Close()
	writeKeys(t, l, 20, 30, 3)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if rep, err := l.Clean(l.EndOffset(), testPolicy); err != nil || !rep.Cleaned {
		t.Fatalf("clean: %+v, %v", rep, err)
	}
	trimmed := 0
	for o := l.StartOffset(); o < l.EndOffset(); o++ {
		checkSpans(t, l, o, l.EndOffset(), 4096, nil)
		if spans, _, _ := l.ReadSpans(o, l.EndOffset(), 4096, nil); len(spans) > 0 && spans[0].File == nil {
			trimmed++
		}
	}
	if trimmed == 0 {
		t.Fatal("no read started inside a run of compacted offsets")
	}
}
