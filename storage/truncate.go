package storage

import (
	"fmt"
	"slices"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/record"
)

// TruncateTo removes every batch whose last offset is >= offset, so that EndOffset()
// becomes offset when offset is a batch boundary. Callers truncate at boundaries; if
// offset falls inside a batch, that whole batch goes too (as in Kafka) and EndOffset()
// ends up at its base offset, below offset. If that batch starts below StartOffset(), the
// log becomes empty at StartOffset() (see TruncateFullyAndStartAt). offset >= EndOffset()
// changes nothing; offset < StartOffset() is ErrOffsetOutOfRange.
//
// When TruncateTo returns nil the truncation and everything before it is durable
// (RecoveryPoint() == EndOffset()), so no crash can bring the removed suffix back after
// new batches were written over it. An I/O error fails the log.
//
// Fences at or above offset go with the batches; a fence holding offset is cut there and
// the log ends at offset, after it, with no batch.
func (l *Log) TruncateTo(offset int64) error {
	if err := l.writable(); err != nil {
		return err
	}
	if offset >= l.EndOffset() {
		return nil
	}
	if offset < l.startOffset {
		return fmt.Errorf("%w: truncate to %d, log spans [%d, %d]", ErrOffsetOutOfRange, offset, l.startOffset, l.EndOffset())
	}
	l.dropPass()
	l.cutAborted(offset)
	before := slices.Clone(l.fences)
	var err error
	if f, ok := l.fenceContaining(offset); ok {
		err = l.truncateInFence(f, offset)
	} else {
		segIndex, pos, h, lerr := l.locate(offset)
		if lerr != nil {
			// The batch at offset is damaged, but the batches before it end exactly
			// there: that is where the log ends after the cut.
			i, at, ok := l.boundary(offset)
			if !ok {
				return lerr
			}
			segIndex, pos, h = i, at, record.Header{BaseOffset: offset}
		}
		if h.BaseOffset < l.startOffset {
			err = l.resetTo(l.startOffset)
		} else {
			err = l.truncateAt(segIndex, pos, h.BaseOffset)
		}
	}
	if err == nil {
		l.fences = disk.ClipFences(l.fences, l.startOffset, l.EndOffset())
		err = l.saveFences(before)
	}
	if err == nil {
		err = l.cutPasses()
	}
	if err != nil {
		return l.fail(fmt.Errorf("truncate to %d: %w", offset, err))
	}
	return nil
}

// truncateInFence truncates the log to offset, which lies in fence f: to the end of the
// segment before f when offset is f's start, else to an empty segment at offset with f
// cut there. Segments go newest first; a crash part-way leaves the log as it was (the
// new segment inside the whole fence goes at recovery) or ending at offset, and only a
// follower truncates into a fence, which truncates again as it would after any crash.
func (l *Log) truncateInFence(f Fence, offset int64) error {
	if offset == f.From {
		i := l.segmentFloor(f.From - 1)
		if i < 0 {
			return l.resetTo(l.startOffset)
		}
		s := l.segments[i]
		return l.truncateAt(i, s.sizeBytes, s.next)
	}
	ns, err := l.createSegment(offset)
	if err != nil {
		return err
	}
	for len(l.segments) > 0 && l.active().base >= f.To {
		if err := l.removeLastSegment(); err != nil {
			_ = ns.closeFiles()
			return err
		}
	}
	l.segments = append(l.segments, ns)
	l.recoveryPoint = min(l.recoveryPoint, offset)
	return l.syncAll()
}

// truncateAt cuts the log at byte pos of segment segIndex, where a batch with base offset
// newEnd starts, and syncs the result.
func (l *Log) truncateAt(segIndex int, pos int64, newEnd int64) error {
	// Newest first, so that a crash part-way leaves a prefix of the log.
	for len(l.segments) > segIndex+1 {
		if err := l.removeLastSegment(); err != nil {
			return err
		}
	}
	s := l.segments[segIndex]
	if err := l.trimSegment(s, pos, newEnd); err != nil {
		return err
	}
	l.recoveryPoint = min(l.recoveryPoint, newEnd)
	return l.syncAll()
}

func (l *Log) removeLastSegment() error {
	s := l.active()
	if err := s.closeFiles(); err != nil {
		return fmt.Errorf("close segment %d: %w", s.base, err)
	}
	l.segments = l.segments[:len(l.segments)-1]
	l.dirUnsynced = true
	return removeSegmentFiles(l.fsys, l.dir, s.base)
}

func (l *Log) removeFirstSegment() error {
	s := l.segments[0]
	if err := s.closeFiles(); err != nil {
		return fmt.Errorf("close segment %d: %w", s.base, err)
	}
	l.segments = l.segments[1:]
	l.dirUnsynced = true
	return removeSegmentFiles(l.fsys, l.dir, s.base)
}

// trimSegment cuts segment s at byte pos, where offset newEnd starts, and makes it the
// active segment (index files open, in memory state exact).
func (l *Log) trimSegment(s *segment, pos int64, newEnd int64) error {
	if err := s.logFile.Truncate(pos); err != nil {
		return fmt.Errorf("truncate segment %d to %d bytes: %w", s.base, pos, err)
	}
	s.unsynced = true
	s.index.truncateAtPos(pos)
	s.timeIndex.truncateAtRel(newEnd - s.base)
	s.sizeBytes, s.next = pos, newEnd
	if err := l.recomputeTail(s); err != nil {
		return err
	}
	created, err := s.openIndexFiles(l.fsys, l.dir)
	if err != nil {
		return err
	}
	l.dirUnsynced = l.dirUnsynced || created
	return s.flushIndexes()
}

// recomputeTail restores the max timestamp and last batch of a segment whose tail was
// cut, by walking from the batch of the last surviving time index entry: that entry holds
// the exact running maximum up to its batch.
func (l *Log) recomputeTail(s *segment) error {
	s.maxTimestamp = noTimestamp
	if s.empty() {
		s.rollTimestamp = noTimestamp
		return nil
	}
	var rel, pos int64
	if n := s.timeIndex.len(); n > 0 {
		ts, r := s.timeIndex.entry(n - 1)
		s.maxTimestamp = ts
		rel, pos = s.index.floor(int64(r))
	}
	w := l.newHeaderWalker(s)
	return walkTail(s, &w, rel, pos)
}

// DeleteBelow advances the log start offset to offset (never backwards) and deletes the
// segments that lie wholly below it. The active segment is never deleted; when offset is
// the end offset the log first rolls, so that every old segment can go. The new start
// offset is durable before any file is removed, so a crash cannot bring the old start
// back; the removals themselves are finished by recovery if a crash interrupts them.
// offset > EndOffset() is ErrOffsetOutOfRange. An I/O error fails the log.
func (l *Log) DeleteBelow(offset int64) error {
	if err := l.writable(); err != nil {
		return err
	}
	if offset <= l.startOffset {
		return nil
	}
	if offset > l.EndOffset() {
		return fmt.Errorf("%w: delete below %d, log spans [%d, %d]", ErrOffsetOutOfRange, offset, l.startOffset, l.EndOffset())
	}
	l.dropPass()
	if err := l.deleteBelow(offset); err != nil {
		return l.fail(fmt.Errorf("delete below %d: %w", offset, err))
	}
	return nil
}

func (l *Log) deleteBelow(offset int64) error {
	if offset == l.EndOffset() && !l.active().empty() {
		if _, err := l.roll(); err != nil {
			return err
		}
	}
	l.startOffset = offset
	// Nothing lies below the start offset any more, so everything below it is durable
	// in the only sense that matters.
	l.recoveryPoint = max(l.recoveryPoint, offset)
	if err := l.persistCheckpoint(); err != nil {
		return err
	}
	for len(l.segments) > 1 && l.segments[0].next <= offset {
		if err := l.removeFirstSegment(); err != nil {
			return err
		}
	}
	before := slices.Clone(l.fences)
	l.fences = disk.ClipFences(l.fences, l.startOffset, l.EndOffset())
	return l.saveFences(before)
}

// TruncateFullyAndStartAt empties the log and restarts it at offset: StartOffset(),
// EndOffset() and RecoveryPoint() all become offset. A follower uses it when the leader's
// log start offset is past its own end offset (Kafka's truncateFullyAndStartAt). Like
// TruncateTo it is durable when it returns. An I/O error fails the log.
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	if err := l.writable(); err != nil {
		return err
	}
	if offset < 0 {
		return fmt.Errorf("%w: start at negative offset %d", ErrOffsetOutOfRange, offset)
	}
	l.dropPass()
	if err := l.resetTo(offset); err != nil {
		return l.fail(fmt.Errorf("truncate fully and start at %d: %w", offset, err))
	}
	return nil
}

// resetTo makes the log an empty segment at offset. Segments at or above offset go first
// (one of them may have to give its name to the new segment); the new start is made
// durable next; the segments below it go last, as in DeleteBelow.
func (l *Log) resetTo(offset int64) error {
	l.cutAborted(offset)
	for len(l.segments) > 1 && l.active().base > offset {
		if err := l.removeLastSegment(); err != nil {
			return err
		}
	}
	if last := l.active(); last.base >= offset {
		// Reuse the file in place: it cannot be removed while it is the only segment.
		if err := l.rebaseEmpty(last, offset); err != nil {
			return err
		}
	} else {
		last.seal()
		s, err := l.createSegment(offset)
		if err != nil {
			return err
		}
		l.segments = append(l.segments, s)
	}
	l.startOffset = offset
	l.recoveryPoint = offset
	if err := l.syncAll(); err != nil {
		return err
	}
	if err := l.persistCheckpoint(); err != nil {
		return err
	}
	before := l.fences
	l.fences = nil
	if err := l.saveFences(before); err != nil {
		return err
	}
	for len(l.segments) > 1 {
		if err := l.removeFirstSegment(); err != nil {
			return err
		}
	}
	return l.cutPasses()
}

// rebaseEmpty turns segment s, the only one left, into an empty segment based at offset.
func (l *Log) rebaseEmpty(s *segment, offset int64) error {
	if s.base == offset {
		return l.trimSegment(s, 0, offset)
	}
	// A different base means a different file name. The new segment exists before the
	// old one goes, so the log always has a segment.
	ns, err := l.createSegment(offset)
	if err != nil {
		return err
	}
	l.segments[len(l.segments)-1] = ns
	if err := s.closeFiles(); err != nil {
		return fmt.Errorf("close segment %d: %w", s.base, err)
	}
	return removeSegmentFiles(l.fsys, l.dir, s.base)
}
