package diskexec

import (
	"bytes"
	"errors"
	"testing"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/storage"
)

// heldFiles is a SpanFiles that remembers the files it holds; fail refuses to hold.
type heldFiles struct {
	files []storage.File
	fail  bool
}

func (h *heldFiles) Hold(f storage.File) (disk.FileID, error) {
	if h.fail {
		return 0, errors.New("no more descriptors")
	}
	h.files = append(h.files, f)
	return disk.FileID(len(h.files)), nil
}

// spanBytes materializes spans: their bytes, or their stretch of the files h holds.
func (h *heldFiles) spanBytes(t *testing.T, spans []disk.Span) []byte {
	t.Helper()
	var out []byte
	for _, sp := range spans {
		if sp.File == 0 {
			if int64(len(sp.Data)) != sp.Len {
				t.Fatalf("span of %d bytes says %d", len(sp.Data), sp.Len)
			}
			out = append(out, sp.Data...)
			continue
		}
		b := make([]byte, sp.Len)
		if _, err := h.files[sp.File-1].ReadAt(b, sp.Pos); err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

// TestSpanReadsReadWhatReadsRead: a Read with Op.Spans answers the bytes a plain Read
// answers, as file spans with SpanFiles (as bytes when a file cannot be held) and as
// bytes without, with the same log start and the offset after its last batch.
func TestSpanReadsReadWhatReadsRead(t *testing.T) {
	for _, mode := range []string{"files", "bytes", "hold-fails"} {
		t.Run(mode, func(t *testing.T) {
			held := &heldFiles{fail: mode == "hold-fails"}
			cfg := Config{Log: storage.LogConfig{SegmentBytesMax: 300}}
			if mode != "bytes" {
				cfg.Files = held
			}
			e, _, err := Open(newFS(t), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			log := disk.PartitionLog("t", 0)
			mustDone(t, e.Do(disk.Op{ID: 1, Kind: disk.CreateLog, Log: log}))
			var end int64
			for i := range 20 {
				mustDone(t, e.Do(disk.Op{ID: disk.OpID(2 + i), Kind: disk.Append, Log: log, Offset: end, Data: batch(t, end, 3)}))
				end += 3
			}
			for _, at := range []int64{0, 4, 30, 59} {
				read := disk.Op{ID: 100, Kind: disk.Read, Log: log, Offset: at, MaxOffset: end, MaxBytes: 1000}
				plain := e.Do(read)
				read.Spans = true
				spanned := e.Do(read)
				mustDone(t, plain, spanned)
				got := held.spanBytes(t, spanned.Spans)
				if !bytes.Equal(got, plain.Data) || spanned.Data != nil || spanned.Offset != plain.Offset {
					t.Fatalf("read at %d: spans hold %d bytes, a read %d", at, len(got), len(plain.Data))
				}
				if at < 30 && len(spanned.Spans) < 2 {
					t.Fatalf("read at %d: %d spans, want one per segment read", at, len(spanned.Spans))
				}
				if want := lastNextOffset(plain.Data); spanned.Next != want {
					t.Fatalf("read at %d: next %d, want %d", at, spanned.Next, want)
				}
				for _, sp := range spanned.Spans {
					if (sp.File != 0) != (mode == "files") {
						t.Fatalf("read at %d: span %+v in mode %s", at, sp, mode)
					}
				}
			}
		})
	}
}
