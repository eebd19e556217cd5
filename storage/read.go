package storage

import (
	"errors"
	"fmt"
	"slices"

	"github.com/seedlog/seedlog/core/record"
)

// walkBufferBytesMax bounds the scratch buffer used to read batch headers in chunks.
const walkBufferBytesMax = 64 << 10

// headerWalker reads the batch headers of one segment, fetching a chunk at a time so
// that stepping over small batches does not cost a read each.
type headerWalker struct {
	s      *segment
	buf    []byte
	bufPos int64 // file position of buf[0]
	n      int   // valid bytes in buf
}

func (l *Log) newHeaderWalker(s *segment) headerWalker {
	if l.headerBuf == nil {
		l.headerBuf = make([]byte, min(l.cfg.IndexIntervalBytes+record.HeaderSize, walkBufferBytesMax))
	}
	return headerWalker{s: s, buf: l.headerBuf}
}

// header returns the header of the batch at pos, checking that the batch lies inside the
// segment and that its offsets make sense. It does not check the CRC.
func (w *headerWalker) header(pos int64) (record.Header, error) {
	s := w.s
	if pos+record.HeaderSize > s.sizeBytes {
		return record.Header{}, corruptf(s, pos, "batch header runs past the segment end %d", s.sizeBytes)
	}
	if pos < w.bufPos || pos+record.HeaderSize > w.bufPos+int64(w.n) {
		n := int(min(int64(len(w.buf)), s.sizeBytes-pos))
		if err := readFull(s.logFile, w.buf[:n], pos); err != nil {
			return record.Header{}, fmt.Errorf("storage: read segment %d: %w", s.base, err)
		}
		w.bufPos, w.n = pos, n
	}
	off := pos - w.bufPos
	h, err := record.ParseHeader(w.buf[off : off+record.HeaderSize])
	if err != nil {
		return h, corruptf(s, pos, "%v", err)
	}
	if h.LastOffsetDelta < 0 || pos+int64(h.Size()) > s.sizeBytes {
		return h, corruptf(s, pos, "batch of %d bytes with last offset delta %d does not fit the segment of %d bytes",
			h.Size(), h.LastOffsetDelta, s.sizeBytes)
	}
	return h, nil
}

func corruptf(s *segment, pos int64, format string, args ...any) error {
	return fmt.Errorf("%w: segment %d at byte %d: %s", ErrCorrupt, s.base, pos, fmt.Sprintf(format, args...))
}

// locate finds the batch holding offset, which must lie in [StartOffset, EndOffset).
func (l *Log) locate(offset int64) (segIndex int, pos int64, h record.Header, err error) {
	segIndex = l.segmentFloor(offset)
	if segIndex < 0 {
		panic(fmt.Sprintf("storage: offset %d below the first segment %d", offset, l.segments[0].base))
	}
	s := l.segments[segIndex]
	rel, pos := s.index.floor(offset - s.base)
	expected := s.base + rel
	w := l.newHeaderWalker(s)
	for pos < s.sizeBytes {
		if h, err = w.header(pos); err != nil {
			return 0, 0, h, err
		}
		if h.BaseOffset != expected {
			return 0, 0, h, corruptf(s, pos, "batch base offset %d, want %d", h.BaseOffset, expected)
		}
		if offset < h.NextOffset() {
			return segIndex, pos, h, nil
		}
		expected = h.NextOffset()
		pos += int64(h.Size())
	}
	return 0, 0, h, corruptf(s, pos, "offset %d not found; segment ends at offset %d", offset, expected)
}

// boundary finds the byte position where the batch holding offset starts, when offset is
// the base offset of a segment or the next offset after a batch that validates: a
// truncation there needs nothing from the batch at offset, whose header may be damaged.
func (l *Log) boundary(offset int64) (segIndex int, pos int64, ok bool) {
	segIndex = l.segmentFloor(offset)
	if segIndex < 0 {
		return 0, 0, false
	}
	s := l.segments[segIndex]
	rel, pos := s.index.floor(offset - s.base)
	expected := s.base + rel
	w := l.newHeaderWalker(s)
	for pos < s.sizeBytes && expected < offset {
		h, err := w.header(pos)
		if err != nil || h.BaseOffset != expected {
			return 0, 0, false
		}
		expected = h.NextOffset()
		pos += int64(h.Size())
	}
	return segIndex, pos, expected == offset
}

// Read returns whole batches, starting with the one holding offset, in offset order and
// across segments. It stops before the first batch whose base offset is >= maxOffset
// (callers pass the high watermark) and before the first batch that would take the total
// past maxBytes; the first batch is returned whole whatever its size, so a reader always
// makes progress. Every returned batch has passed record.Check; bytes that fail it are
// never returned: a read stops before a bad batch that follows good ones, and a read
// starting at one reads once more, in case the disk returned bad bytes only once, and
// then fails with ErrCorrupt (CheckDamage finds out whether the damage is real). It also
// stops before a fence, and a read starting inside one fails with a FencedError.
//
// offset == EndOffset() yields no bytes; offsets below StartOffset() or above EndOffset()
// yield ErrOffsetOutOfRange. The first batch may start below offset (and even below
// StartOffset()): readers skip the records they did not ask for, as in Kafka. The result
// is a new slice owned by the caller; Read reads up to maxBytes (bounded by the offset
// index's view of maxOffset) in one ReadAt per segment. Callers read below the high
// watermark, which never moves back past a truncation, so the bytes stay valid.
func (l *Log) Read(offset, maxOffset int64, maxBytes int) ([]byte, error) {
	r, err := l.readTwice(offset, maxOffset, maxBytes, nil)
	return r.out, err
}

// A Span is a stretch of a segment file that holds whole batches a read returned.
type Span struct {
	// File is the segment's file as the log holds it open; nil for bytes that are not
	// what the file holds (a first batch cut to start at the offset read, see Read).
	File File
	Base int64 // the segment's base offset, which names its file
	Pos  int64 // where the stretch starts in the file
	// Data holds the stretch's bytes as the read validated them.
	Data []byte
}

// ReadSpans reads exactly what Read reads, with the same ReadAt calls and the same
// checks, and says where the batches lie: one span per segment read, in order, the
// bytes of each in its Data. A reader that can send from a file (sendfile) sends the
// span's stretch of File instead of Data, which is the same bytes as long as it keeps
// the file open and no cut reaches into the span. A log changes a segment file in place
// only by cutting it: below the high watermark a read is made under, only after a loss
// its owner allowed (see TruncateTo) or to fence damage found since (CheckDamage).
// Retention, compaction and damage copies remove or replace files, which leaves an open
// file as it was. buf, when not nil, is a buffer to read into, left there grown as the
// read needed: every Data then aliases it, until the next read into it. next is the
// offset after the last batch returned.
func (l *Log) ReadSpans(offset, maxOffset int64, maxBytes int, buf *[]byte) (spans []Span, next int64, err error) {
	var into []byte
	if buf != nil {
		into = (*buf)[:0]
	}
	r, err := l.readTwice(offset, maxOffset, maxBytes, into)
	if buf != nil && cap(r.out) > cap(*buf) {
		*buf = r.out[:0]
	}
	if err != nil || len(r.out) == 0 {
		return nil, r.next, err
	}
	spans = make([]Span, 0, len(r.parts)+1)
	for i, p := range r.parts {
		sp := Span{File: openFile(p.s.logFile), Base: p.s.base, Pos: p.pos, Data: r.out[p.from:p.to]}
		if i == 0 && r.trimmed {
			// The first batch was rewritten in memory: it goes as bytes, the rest of the
			// segment's stretch as file.
			head := sp
			head.File, head.Data = nil, sp.Data[:record.HeaderSize]
			spans = append(spans, head)
			sp.Pos += record.HeaderSize
			sp.Data = sp.Data[record.HeaderSize:]
			if len(sp.Data) == 0 {
				continue
			}
		}
		spans = append(spans, sp)
	}
	return spans, r.next, nil
}

// readResult is what a read returned: the batches (out), the stretch of each segment
// they came from (parts, in order, covering out), whether the first batch was
// rewritten (trimEmptyRun), and the offset after the last batch.
type readResult struct {
	out     []byte
	parts   []readPart
	trimmed bool
	next    int64
}

// readPart is the stretch of segment s, from byte pos, that out[from:to] was read from.
type readPart struct {
	s        *segment
	pos      int64
	from, to int
}

// readTwice reads into buf (nil: a new slice), and once more when the read failed
// validation.
func (l *Log) readTwice(offset, maxOffset int64, maxBytes int, buf []byte) (readResult, error) {
	r, err := l.read(offset, maxOffset, maxBytes, buf)
	if errors.Is(err, ErrCorrupt) {
		// Reads change nothing, so one more costs only time, and it tells a transient
		// read fault from damage at rest.
		r, err = l.read(offset, maxOffset, maxBytes, buf)
	}
	return r, err
}

func (l *Log) read(offset, maxOffset int64, maxBytes int, out []byte) (readResult, error) {
	r := readResult{next: offset}
	if err := l.usable(); err != nil {
		return r, err
	}
	if offset < l.startOffset || offset > l.EndOffset() {
		return r, fmt.Errorf("%w: read at %d, log spans [%d, %d]", ErrOffsetOutOfRange, offset, l.startOffset, l.EndOffset())
	}
	if offset == l.EndOffset() {
		return r, nil
	}
	if f, ok := l.fenceContaining(offset); ok {
		return r, &FencedError{Fence: f}
	}
	segIndex, pos, first, err := l.locate(offset)
	if err != nil {
		return r, err
	}
	if first.BaseOffset >= maxOffset {
		return r, nil
	}
	budget := int64(max(maxBytes, first.Size()))
	if out == nil {
		// One buffer the size of what the read may take: growing it segment by segment
		// would allocate and copy the first segment's bytes again.
		out = make([]byte, 0, l.readSize(segIndex, pos, maxOffset, budget))
	}
	expected := first.BaseOffset
	for ; segIndex < len(l.segments); segIndex, pos = segIndex+1, 0 {
		s := l.segments[segIndex]
		limit := s.sizeBytes
		if maxOffset < s.next {
			limit = s.index.ceilPos(maxOffset-s.base, s.sizeBytes)
		}
		n := min(limit-pos, budget-int64(len(out)))
		if n <= 0 {
			break
		}
		start := len(out)
		out = slices.Grow(out, int(n))[:start+int(n)]
		if err := readFull(s.logFile, out[start:], pos); err != nil {
			return r, fmt.Errorf("storage: read segment %d: %w", s.base, err)
		}
		consumed, stop, err := checkReadBatches(s, pos, out[start:], &expected, maxOffset)
		if consumed > 0 {
			r.parts = append(r.parts, readPart{s: s, pos: pos, from: start, to: start + consumed})
		}
		if err != nil {
			if start+consumed == 0 {
				return readResult{next: offset}, err
			}
			// Return the batches before the bad one; a read starting at it fails and
			// names its offset.
			out = out[:start+consumed]
			break
		}
		out = out[:start+consumed]
		if stop || pos+int64(consumed) < s.sizeBytes {
			break
		}
		if segIndex+1 < len(l.segments) && l.segments[segIndex+1].base != s.next {
			break // a fence follows: the next read starting there gets the error
		}
	}
	r.out, r.trimmed = trimEmptyRun(out, offset)
	r.next = expected
	return r, nil
}

// readSize is how many bytes a read from segment segIndex at pos reads at most: the
// bytes up to maxOffset, as the offset index sees it, and no more than budget.
func (l *Log) readSize(segIndex int, pos, maxOffset, budget int64) int64 {
	var n int64
	for ; segIndex < len(l.segments) && n < budget; segIndex, pos = segIndex+1, 0 {
		s := l.segments[segIndex]
		if maxOffset < s.next {
			n += max(s.index.ceilPos(maxOffset-s.base, s.sizeBytes)-pos, 0)
			break
		}
		n += s.sizeBytes - pos
	}
	return min(n, budget)
}

// trimEmptyRun makes a first batch that compaction emptied (record.AppendEmpty), and
// that holds offset past its start, begin at offset: one such batch covers the offsets
// of many batches that went, and a follower whose log ends among them must get a batch
// that starts at its end. trimmed reports that it did.
func trimEmptyRun(out []byte, offset int64) (_ []byte, trimmed bool) {
	if h, err := record.ParseHeader(out); err == nil && h.IsEmptyRun() && h.BaseOffset < offset && len(out) >= h.Size() {
		record.TrimEmpty(out, offset)
		return out, true
	}
	return out, false
}

// checkReadBatches validates the batches in buf, read from s at filePos, and returns how
// many bytes of whole batches to keep. stop reports that reading must end here (a batch at
// or past maxOffset, or one that does not fit in buf). Batches not returned are not
// checked: damage there is for the read that would return them to find. With an error,
// consumed still counts the valid batches before the bad one.
func checkReadBatches(s *segment, filePos int64, buf []byte, expected *int64, maxOffset int64) (consumed int, stop bool, err error) {
	for consumed < len(buf) {
		pos := filePos + int64(consumed)
		h, err := record.ParseHeader(buf[consumed:])
		switch {
		case errors.Is(err, record.ErrShort):
			// Only part of the header was read: the batch would exceed maxBytes, unless
			// the segment itself ends inside it.
			if pos+record.HeaderSize > s.sizeBytes {
				return consumed, false, corruptf(s, pos, "batch header runs past the segment end %d", s.sizeBytes)
			}
			return consumed, true, nil
		case err != nil:
			return consumed, false, corruptf(s, pos, "%v", err)
		case h.BaseOffset != *expected:
			return consumed, false, corruptf(s, pos, "batch base offset %d, want %d", h.BaseOffset, *expected)
		case h.BaseOffset >= maxOffset:
			return consumed, true, nil
		case pos+int64(h.Size()) > s.sizeBytes:
			return consumed, false, corruptf(s, pos, "batch of %d bytes runs past the segment end %d", h.Size(), s.sizeBytes)
		case consumed+h.Size() > len(buf):
			return consumed, true, nil // it would exceed maxBytes
		}
		if _, err := record.Check(buf[consumed : consumed+h.Size()]); err != nil {
			return consumed, false, corruptf(s, pos, "%v", err)
		}
		*expected = h.NextOffset()
		consumed += h.Size()
	}
	return consumed, false, nil
}

// OffsetForTimestamp returns the first offset, at batch granularity, whose batch has a
// max timestamp >= ts: the base offset of the first such batch, or StartOffset() if that
// batch begins below it. This is Kafka's ListOffsets-by-timestamp answer except that
// Kafka resolves to the first record inside the batch; a batch holds records of one
// producer request, so the difference is bounded by a batch. found is false when no batch
// qualifies. The returned batch is CRC-checked; the batches skipped on the way are checked
// for framing and dense offsets only, since they are not served.
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, found bool, err error) {
	offset, found, err = l.offsetForTimestamp(ts)
	if errors.Is(err, ErrCorrupt) {
		offset, found, err = l.offsetForTimestamp(ts) // as in Read
	}
	return offset, found, err
}

func (l *Log) offsetForTimestamp(ts int64) (offset int64, found bool, err error) {
	if err := l.usable(); err != nil {
		return 0, false, err
	}
	for i := max(l.segmentFloor(l.startOffset), 0); i < len(l.segments); i++ {
		s := l.segments[i]
		// maxTimestamp is never below the true maximum, so skipping is safe.
		if s.empty() || s.maxTimestamp < ts {
			continue
		}
		offset, found, err := l.offsetForTimestampIn(s, ts)
		if err != nil || found {
			return offset, found, err
		}
	}
	return -1, false, nil
}

func (l *Log) offsetForTimestampIn(s *segment, ts int64) (int64, bool, error) {
	var rel, pos int64
	if r, ok := s.timeIndex.lastBelow(ts); ok {
		// Every batch up to the one at r is below ts; start from the closest indexed batch.
		rel, pos = s.index.floor(r)
	}
	expected := s.base + rel
	w := l.newHeaderWalker(s)
	for pos < s.sizeBytes {
		h, err := w.header(pos)
		if err != nil {
			return 0, false, err
		}
		if h.BaseOffset != expected {
			return 0, false, corruptf(s, pos, "batch base offset %d, want %d", h.BaseOffset, expected)
		}
		if h.NextOffset() > l.startOffset && h.MaxTimestamp >= ts {
			if err := checkBatchAt(s, pos, h.Size()); err != nil {
				return 0, false, err
			}
			return max(h.BaseOffset, l.startOffset), true, nil
		}
		expected = h.NextOffset()
		pos += int64(h.Size())
	}
	if expected != s.next {
		return 0, false, corruptf(s, pos, "segment ends at offset %d, want %d", expected, s.next)
	}
	return 0, false, nil
}

// checkBatchAt reads the batch at pos in s and verifies it whole.
func checkBatchAt(s *segment, pos int64, size int) error {
	buf := make([]byte, size)
	if err := readFull(s.logFile, buf, pos); err != nil {
		return fmt.Errorf("storage: read segment %d: %w", s.base, err)
	}
	if _, err := record.Check(buf); err != nil {
		return corruptf(s, pos, "%v", err)
	}
	return nil
}
