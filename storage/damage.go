package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/record"
)

// Damage to synced data (see "Damage" in doc.go): a batch below the recovery point that
// fails validation is never cut with everything after it. Its stretch of the segment is
// fenced, and the valid batches after it move to a segment of their own.

// errUnstableRead: the same bytes read several times came back different each time, so
// the disk cannot say what it holds (a failing device). The caller treats it as an I/O
// error.
var errUnstableRead = errors.New("storage: repeated reads of the same bytes disagree")

// readsToAgree bounds the reads of one stretch before errUnstableRead: damage at rest is
// reported only once two reads agree, since a transient read fault must never fence
// intact data.
const readsToAgree = 6

// stableBatchAt reads the batch at pos of a file of fileBytes bytes until it validates or
// two reads agree byte for byte. It returns the bytes and whether they are a valid batch.
func stableBatchAt(f File, pos, fileBytes int64) ([]byte, bool, error) {
	var prev []byte
	for range readsToAgree {
		b, err := readBatchAt(f, pos, fileBytes)
		if err != nil {
			return nil, false, err
		}
		if _, err := record.Check(b); err == nil {
			return b, true, nil
		}
		if prev != nil && bytes.Equal(prev, b) {
			return b, false, nil
		}
		prev = b
	}
	return nil, false, fmt.Errorf("%w: batch at byte %d", errUnstableRead, pos)
}

// readBatchAt reads what the header at pos claims is a batch, bounded by the file: the
// header alone when it does not parse.
func readBatchAt(f File, pos, fileBytes int64) ([]byte, error) {
	n := min(int64(record.HeaderSize), fileBytes-pos)
	head := make([]byte, n)
	if err := readFull(f, head, pos); err != nil {
		return nil, err
	}
	h, err := record.ParseHeader(head)
	if err != nil || pos+int64(h.Size()) > fileBytes || h.Size() <= len(head) {
		return head, nil
	}
	b := make([]byte, h.Size())
	copy(b, head)
	if err := readFull(f, b[len(head):], pos+int64(len(head))); err != nil {
		return nil, err
	}
	return b, nil
}

// resyncPasses bounds the passes of resync: it answers once two passes agree.
const resyncPasses = 5

// resync finds where valid batches resume after a damaged one: the first position q at
// or after from where a batch starts that validates, has a base offset in (after, limit),
// and either ends the file or is followed by a batch that validates and continues its
// offsets (a batch-like run of bytes inside a record is not mistaken for the log). It
// returns q and that base offset, or q = -1. It reads the stretch in whole passes until
// two agree, so a transient read fault cannot move a fence.
func resync(f File, from, fileBytes, after, limit int64) (q, base int64, err error) {
	var prevQ, prevBase int64 = -2, -2
	for range resyncPasses {
		q, base, err := resyncPass(f, from, fileBytes, after, limit)
		if err != nil {
			return 0, 0, err
		}
		if q == prevQ && base == prevBase {
			return q, base, nil
		}
		prevQ, prevBase = q, base
	}
	return 0, 0, fmt.Errorf("%w: resynchronizing after byte %d", errUnstableRead, from)
}

func resyncPass(f File, from, fileBytes, after, limit int64) (int64, int64, error) {
	if from >= fileBytes {
		return -1, -1, nil
	}
	// Read in chunks that overlap by a header, so every position is tried with its
	// whole header in memory.
	chunk := int64(scanChunkBytes)
	buf := make([]byte, min(chunk+record.HeaderSize, fileBytes-from))
	for start := from; start+record.HeaderSize <= fileBytes; start += chunk {
		n := min(int64(len(buf)), fileBytes-start)
		if err := readFull(f, buf[:n], start); err != nil {
			return 0, 0, err
		}
		for i := int64(0); i < min(chunk, n) && start+i+record.HeaderSize <= fileBytes; i++ {
			h, err := record.ParseHeader(buf[i:n])
			if err != nil || h.BaseOffset <= after || h.BaseOffset >= limit || h.LastOffsetDelta < 0 ||
				int64(h.LastOffsetDelta) > relOffsetMax || start+i+int64(h.Size()) > fileBytes {
				continue
			}
			ok, err := validRun(f, start+i, fileBytes, h)
			if err != nil {
				return 0, 0, err
			}
			if ok {
				return start + i, h.BaseOffset, nil
			}
		}
	}
	return -1, -1, nil
}

// validRun reports whether the batch at pos (header h) validates and either ends the
// file or is followed by a valid batch at its next offset.
func validRun(f File, pos, fileBytes int64, h record.Header) (bool, error) {
	b := make([]byte, h.Size())
	if err := readFull(f, b, pos); err != nil {
		return false, err
	}
	if _, err := record.Check(b); err != nil {
		return false, nil
	}
	next := pos + int64(h.Size())
	if next == fileBytes {
		return true, nil
	}
	nb, err := readBatchAt(f, next, fileBytes)
	if err != nil {
		return false, err
	}
	nh, err := record.Check(nb)
	return err == nil && nh.BaseOffset == h.NextOffset(), nil
}

// fenceDamage handles a damaged batch met in segment i, whose valid batches end at byte
// p and offset a (the segment's in-memory state already ends there); fileBytes is the
// size of its file. The damaged stretch [a, b) is fenced. When valid batches resume at
// byte q (resync), they move to a new segment based at b, inserted after segment i; when
// none do (q < 0), b is the segment's expected end, and for the last segment an empty
// segment is created there. The record of the fence is durable
// before any byte is moved, the copy is durable before the segment is cut, so a crash
// at any point leaves either the old segment or the new layout, and recovery finishes
// the job (an interrupted split: see scanSegments). It returns the fence and whether a
// segment now follows at its end that holds moved batches (to be validated).
func (l *Log) fenceDamage(i int, p, fileBytes, a, q, b int64) (Fence, bool, error) {
	s := l.segments[i]
	last := i == len(l.segments)-1
	moved := q >= 0
	if b <= a {
		return Fence{}, false, fmt.Errorf("segment %d: damage at offset %d with nothing to fence up to %d", s.base, a, b)
	}
	f := Fence{From: a, To: b, Kind: FenceDamaged}
	l.fences = disk.AddFence(l.fences, f)
	if err := l.persistFences(); err != nil {
		return Fence{}, false, err
	}
	switch {
	case moved:
		ns, err := l.copyToNewSegment(s, q, fileBytes, b)
		if err != nil {
			return Fence{}, false, err
		}
		l.segments = insertSegment(l.segments, i+1, ns)
	case last:
		ns, err := l.createSegment(b)
		if err != nil {
			return Fence{}, false, err
		}
		if err := l.fsys.SyncDir(l.dir); err != nil {
			return Fence{}, false, fmt.Errorf("sync directory: %w", err)
		}
		l.segments = append(l.segments, ns)
	}
	if err := l.moveAbortedOut(i, b, p == 0); err != nil {
		return Fence{}, false, err
	}
	if err := l.cutDamagedSegment(i, p); err != nil {
		return Fence{}, false, err
	}
	return f, moved, nil
}

func insertSegment(segs []*segment, at int, s *segment) []*segment {
	segs = append(segs, nil)
	copy(segs[at+1:], segs[at:])
	segs[at] = s
	return segs
}

// copyToNewSegment creates the segment based at base from the bytes of s's file from q
// to fileBytes, and makes it durable. Its indexes are left empty: the caller validates
// the batches and builds them.
func (l *Log) copyToNewSegment(s *segment, q, fileBytes, base int64) (*segment, error) {
	data := make([]byte, fileBytes-q)
	if err := readFull(s.logFile, data, q); err != nil {
		return nil, fmt.Errorf("read segment %d: %w", s.base, err)
	}
	ns, err := l.createSegment(base)
	if err != nil {
		return nil, err
	}
	if _, err := ns.logFile.WriteAt(data, 0); err != nil {
		_ = ns.closeFiles()
		return nil, fmt.Errorf("write segment %d: %w", base, err)
	}
	if err := ns.logFile.Sync(); err != nil {
		_ = ns.closeFiles()
		return nil, fmt.Errorf("sync segment %d: %w", base, err)
	}
	if err := l.fsys.SyncDir(l.dir); err != nil {
		_ = ns.closeFiles()
		return nil, fmt.Errorf("sync directory: %w", err)
	}
	l.dirUnsynced = false
	ns.sizeBytes = int64(len(data))
	return ns, nil
}

// cutDamagedSegment ends segment i at byte p, the end of its valid batches, once what
// followed the damage is safe elsewhere: an empty segment goes, files included.
func (l *Log) cutDamagedSegment(i int, p int64) error {
	s := l.segments[i]
	if p == 0 {
		if err := s.closeFiles(); err != nil {
			return fmt.Errorf("close segment %d: %w", s.base, err)
		}
		l.segments = append(l.segments[:i], l.segments[i+1:]...)
		if err := removeSegmentFiles(l.fsys, l.dir, s.base); err != nil {
			return err
		}
		if err := l.fsys.SyncDir(l.dir); err != nil {
			return fmt.Errorf("sync directory: %w", err)
		}
		return nil
	}
	if err := s.logFile.Truncate(p); err != nil {
		return fmt.Errorf("truncate segment %d to %d bytes: %w", s.base, p, err)
	}
	return nil
}

// CheckDamage verifies the segment holding offset after a read of it failed validation
// (ErrCorrupt, twice). When the damage is confirmed (two reads of the bytes agree), the
// damaged stretch is fenced as recovery would fence it, the batches after it stay
// readable, and the new fences are returned; the log end does not move. The check
// starts at the segment's start, which may lie below the log start: the part of a fence
// below it is dropped, as recovery drops it, so damage wholly below the log start
// returns no fence (the batches after it move all the same, and the read that failed
// passes). When the segment reads back intact the failure was transient and nothing
// changes. Offsets outside the log or inside a fence change nothing either. An I/O
// error fails the log.
func (l *Log) CheckDamage(offset int64) ([]Fence, error) {
	if err := l.writable(); err != nil {
		return nil, err
	}
	if offset < l.startOffset || offset >= l.EndOffset() {
		return nil, nil
	}
	if _, ok := l.fenceContaining(offset); ok {
		return nil, nil
	}
	i := l.segmentFloor(offset)
	if i < 0 || offset >= l.segments[i].next {
		return nil, nil
	}
	l.dropPass()
	found, err := l.checkSegments(i)
	if err != nil {
		return nil, l.fail(fmt.Errorf("check damage at %d: %w", offset, err))
	}
	before := slices.Clone(l.fences)
	l.fences = disk.ClipFences(l.fences, l.startOffset, l.EndOffset())
	if err := l.saveFences(before); err != nil {
		return nil, l.fail(fmt.Errorf("check damage at %d: %w", offset, err))
	}
	return disk.ClipFences(found, l.startOffset, l.EndOffset()), nil
}

// checkSegments validates segment i from its start, rebuilding its indexes, and fences
// the damage it meets; then it does the same with the segment that received the batches
// after the damage, until one reads back whole.
func (l *Log) checkSegments(i int) ([]Fence, error) {
	var found []Fence
	end := l.EndOffset()
	want := l.segments[i].next // where the segment's batches must end
	for {
		s := l.segments[i]
		last := i == len(l.segments)-1
		limit, noResync := int64(math.MaxInt64), end
		if !last {
			limit = l.segmentEnd(i)
			noResync = limit
		}
		fileBytes := s.sizeBytes
		scan := newSegmentState(s.base)
		scan.logFile, scan.indexFile, scan.timeIndexFile = s.logFile, s.indexFile, s.timeIndexFile
		scan.aborted = s.aborted
		_, reason, err := l.scanSegment(scan, fileBytes, nil)
		if err != nil {
			return found, err
		}
		if reason == nil && scan.next != want {
			return found, fmt.Errorf("segment %d validates up to offset %d, want %d", s.base, scan.next, want)
		}
		*s = *scan
		if reason == nil {
			return found, l.settleScanned(s, last)
		}
		q, b, err := resync(s.logFile, s.sizeBytes+1, fileBytes, s.next, limit)
		if err != nil {
			return found, fmt.Errorf("segment %d: %w", s.base, err)
		}
		if q < 0 {
			b = noResync
		}
		f, moved, err := l.fenceDamage(i, s.sizeBytes, fileBytes, s.next, q, b)
		if err != nil {
			return found, err
		}
		found = append(found, f)
		if i < len(l.segments) && l.segments[i] == s {
			if err := l.settleScanned(s, i == len(l.segments)-1); err != nil {
				return found, err
			}
		}
		if !moved {
			return found, nil
		}
		i = segmentIndex(l.segments, f.To)
		want = end
		if i < len(l.segments)-1 {
			want = l.segmentEnd(i)
		}
	}
}

// segmentIndex returns the index of the segment based at base.
func segmentIndex(segs []*segment, base int64) int {
	for i, s := range segs {
		if s.base == base {
			return i
		}
	}
	panic(fmt.Sprintf("storage: no segment based at %d", base))
}

// settleScanned makes a segment whose state a scan rebuilt at run time durable and
// consistent: its index files rewritten where they differ, its data synced, and, unless
// it is the active segment, sealed with its index files synced and closed.
func (l *Log) settleScanned(s *segment, active bool) error {
	if !active {
		s.seal()
	}
	created, err := s.openIndexFiles(l.fsys, l.dir)
	if err != nil {
		return err
	}
	if _, err := reconcileIndexFiles(s); err != nil {
		return err
	}
	if err := s.flushIndexes(); err != nil {
		return err
	}
	if err := s.logFile.Sync(); err != nil {
		return fmt.Errorf("sync segment %d: %w", s.base, err)
	}
	if !active {
		if err := s.syncIndexes(); err != nil {
			return err
		}
	}
	if err := s.closeIndexFiles(); err != nil {
		return fmt.Errorf("close indexes of segment %d: %w", s.base, err)
	}
	if created {
		if err := l.fsys.SyncDir(l.dir); err != nil {
			return fmt.Errorf("sync directory: %w", err)
		}
	}
	s.unsynced = false
	return nil
}
