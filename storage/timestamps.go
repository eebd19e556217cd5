package storage

import (
	"errors"
	"fmt"

	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
)

// Timestamp lookups at record granularity, for ListOffsets: the first record at or after
// a timestamp, and the record with the largest timestamp (KIP-734). Both consider only the
// records in [StartOffset, maxOffset): callers pass the high watermark.
//
// A segment's maxTimestamp and its time index bound the timestamps of its batches from
// above, so both lookups touch the batches of one segment (two for the segment holding
// maxOffset) in the common case. The batch header's max timestamp is what the bounds
// count, so a batch whose records carry no larger timestamp than its header says is
// all they assume; seedlog's leaders append only batches that passed record validation.

// TimestampAt names one record by its offset and timestamp.
type TimestampAt struct {
	Offset    int64
	Timestamp int64
}

// timestampRecordsBytesMax bounds what one batch may decompress to in a lookup.
const timestampRecordsBytesMax = 64 << 20

// LookupTimestamp returns the first record in [StartOffset, maxOffset) whose timestamp
// is at least ts, and found=false when none is. The batches it decodes are CRC-checked;
// those it steps over are checked for framing and dense offsets only.
func (l *Log) LookupTimestamp(ts, maxOffset int64) (at TimestampAt, found bool, err error) {
	at, found, err = l.lookupTimestamp(ts, maxOffset)
	if errors.Is(err, ErrCorrupt) {
		at, found, err = l.lookupTimestamp(ts, maxOffset) // as in Read
	}
	return at, found, err
}

func (l *Log) lookupTimestamp(ts, maxOffset int64) (TimestampAt, bool, error) {
	if err := l.usable(); err != nil {
		return TimestampAt{}, false, err
	}
	for i := max(l.segmentFloor(l.startOffset), 0); i < len(l.segments) && l.segments[i].base < maxOffset; i++ {
		s := l.segments[i]
		if s.empty() || s.maxTimestamp < ts {
			continue // maxTimestamp is never below the true maximum
		}
		at, found, err := l.firstRecordAtLeast(s, ts, maxOffset)
		if err != nil || found {
			return at, found, err
		}
	}
	return TimestampAt{Offset: -1, Timestamp: -1}, false, nil
}

// LookupMaxTimestamp returns the first record in [StartOffset, maxOffset) that carries
// the largest timestamp among them, and found=false when no record there carries a
// timestamp (>= 0).
func (l *Log) LookupMaxTimestamp(maxOffset int64) (at TimestampAt, found bool, err error) {
	at, found, err = l.lookupMaxTimestamp(maxOffset)
	if errors.Is(err, ErrCorrupt) {
		at, found, err = l.lookupMaxTimestamp(maxOffset)
	}
	return at, found, err
}

// maxCandidate is a segment that may hold the largest timestamp: bound is never below
// the largest timestamp of its records in range; exact is set once a scan found that
// record itself.
type maxCandidate struct {
	seg   int
	bound int64
	exact *TimestampAt
}

func (l *Log) lookupMaxTimestamp(maxOffset int64) (TimestampAt, bool, error) {
	none := TimestampAt{Offset: -1, Timestamp: -1}
	if err := l.usable(); err != nil {
		return none, false, err
	}
	first := max(l.segmentFloor(l.startOffset), 0)
	if l.cfg.Plants.On(plant.MaxTimestampFirstSegment) {
		maxOffset = min(maxOffset, l.segments[first].next)
	}
	var cands []maxCandidate
	for i := first; i < len(l.segments) && l.segments[i].base < maxOffset; i++ {
		s := l.segments[i]
		if s.empty() {
			continue
		}
		bound := s.maxTimestamp
		if s.next > maxOffset {
			var err error
			if bound, err = l.batchMaxBelow(s, maxOffset); err != nil {
				return none, false, err
			}
		}
		if bound >= 0 {
			cands = append(cands, maxCandidate{seg: i, bound: bound})
		}
	}
	for len(cands) > 0 {
		best := 0
		for j := range cands {
			// Ties go to the older segment: the answer is the first record that carries
			// the largest timestamp.
			if cands[j].bound > cands[best].bound || cands[j].bound == cands[best].bound && cands[j].seg < cands[best].seg {
				best = j
			}
		}
		c := &cands[best]
		if c.exact != nil {
			return *c.exact, true, nil
		}
		s := l.segments[c.seg]
		at, found, err := l.firstRecordAtLeast(s, c.bound, maxOffset)
		if err != nil {
			return none, false, err
		}
		if found {
			return at, true, nil
		}
		// The bound came from records outside the range (below the log start, in a
		// batch that straddles it) or from a batch compaction emptied, which keeps its
		// max timestamp: only a scan of the segment knows its largest record now.
		at, found, err = l.recordMaxIn(s, maxOffset)
		switch {
		case err != nil:
			return none, false, err
		case !found:
			cands = append(cands[:best], cands[best+1:]...)
		default:
			c.bound, c.exact = at.Timestamp, &at
		}
	}
	return none, false, nil
}

// batchMaxBelow returns the largest batch max timestamp among the batches of s whose
// base offset is below maxOffset: the time index holds the running maximum up to the
// last indexed batch below it, and a walk covers the batches from there on, which one
// index interval bounds.
func (l *Log) batchMaxBelow(s *segment, maxOffset int64) (int64, error) {
	rel, pos := s.index.floor(maxOffset - 1 - s.base)
	best := s.timeIndex.maxUpTo(rel)
	expected := s.base + rel
	w := l.newHeaderWalker(s)
	for pos < s.sizeBytes {
		h, err := w.header(pos)
		if err != nil {
			return 0, err
		}
		if h.BaseOffset != expected {
			return 0, corruptf(s, pos, "batch base offset %d, want %d", h.BaseOffset, expected)
		}
		if h.BaseOffset >= maxOffset {
			break
		}
		best = max(best, h.MaxTimestamp)
		expected = h.NextOffset()
		pos += int64(h.Size())
	}
	return best, nil
}

// firstRecordAtLeast returns the first record of s in [StartOffset, maxOffset) whose
// timestamp is at least ts. The time index lets it start at the last indexed batch
// whose running maximum is below ts.
func (l *Log) firstRecordAtLeast(s *segment, ts, maxOffset int64) (TimestampAt, bool, error) {
	var rel, pos int64
	if r, ok := s.timeIndex.lastBelow(ts); ok {
		rel, pos = s.index.floor(r)
	}
	found := TimestampAt{}
	ok := false
	err := l.walkRange(s, rel, pos, maxOffset, func(h *record.Header) bool { return h.MaxTimestamp >= ts },
		func(offset, recordTs int64) bool {
			if recordTs >= ts {
				found, ok = TimestampAt{Offset: offset, Timestamp: recordTs}, true
				return false
			}
			return true
		})
	return found, ok, err
}

// recordMaxIn returns the first record of s in [StartOffset, maxOffset) with the
// largest timestamp (>= 0) among them. It decodes only the batches whose header could
// raise the maximum found so far.
func (l *Log) recordMaxIn(s *segment, maxOffset int64) (TimestampAt, bool, error) {
	var rel, pos int64
	if l.startOffset > s.base {
		rel, pos = s.index.floor(l.startOffset - s.base)
	}
	best := TimestampAt{Offset: -1, Timestamp: -1}
	err := l.walkRange(s, rel, pos, maxOffset, func(h *record.Header) bool { return h.MaxTimestamp > best.Timestamp },
		func(offset, recordTs int64) bool {
			if recordTs > best.Timestamp {
				best = TimestampAt{Offset: offset, Timestamp: recordTs}
			}
			return true
		})
	return best, best.Offset >= 0, err
}

// walkRange walks the batches of s from pos, the position of relative offset rel, up to
// the first batch at or past maxOffset. Batches that end at or below the log start, or
// that want rejects, are stepped over; the others are read, verified and their records
// in [StartOffset, maxOffset) passed to each in offset order until it returns false.
func (l *Log) walkRange(s *segment, rel, pos, maxOffset int64, want func(*record.Header) bool, each func(offset, ts int64) bool) error {
	expected := s.base + rel
	w := l.newHeaderWalker(s)
	for pos < s.sizeBytes {
		h, err := w.header(pos)
		if err != nil {
			return err
		}
		if h.BaseOffset != expected {
			return corruptf(s, pos, "batch base offset %d, want %d", h.BaseOffset, expected)
		}
		if h.BaseOffset >= maxOffset {
			return nil
		}
		if h.NextOffset() > l.startOffset && want(&h) {
			more, err := l.eachRecordAt(s, pos, h.Size(), maxOffset, each)
			if err != nil || !more {
				return err
			}
		}
		expected = h.NextOffset()
		pos += int64(h.Size())
	}
	if expected != s.next {
		return corruptf(s, pos, "segment ends at offset %d, want %d", expected, s.next)
	}
	return nil
}

// eachRecordAt reads and verifies the batch at pos in s and passes its records in
// [StartOffset, maxOffset) to each; more is false once each returned false.
func (l *Log) eachRecordAt(s *segment, pos int64, size int, maxOffset int64, each func(offset, ts int64) bool) (more bool, err error) {
	buf := make([]byte, size)
	if err := readFull(s.logFile, buf, pos); err != nil {
		return false, fmt.Errorf("storage: read segment %d: %w", s.base, err)
	}
	if _, err := record.Check(buf); err != nil {
		return false, corruptf(s, pos, "%v", err)
	}
	it, err := record.NewIter(buf, timestampRecordsBytesMax)
	if err != nil {
		return false, corruptf(s, pos, "%v", err)
	}
	for it.Next() {
		off := it.Offset()
		if off < l.startOffset || off >= maxOffset {
			continue
		}
		if !each(off, it.Timestamp()) {
			return false, nil
		}
	}
	if err := it.Err(); err != nil {
		return false, corruptf(s, pos, "%v", err)
	}
	return true, nil
}
