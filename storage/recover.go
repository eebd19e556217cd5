package storage

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/seedlog/seedlog/core/disk"
	"io/fs"
	"math"
	"path"
	"slices"
	"strings"

	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
)

// RecoveryReport says what OpenLog found on disk and what it repaired.
type RecoveryReport struct {
	// DirCreated reports that the directory did not exist: OpenLog made it, durably, and
	// the new empty log's segment data becomes durable with its first Sync.
	DirCreated bool
	// CheckpointProblem is empty when the offsets checkpoint was read; otherwise it says
	// why not (missing or garbled) and recovery scanned the whole log.
	CheckpointProblem string
	// ScannedFromOffset is the base offset of the first segment whose batches were all
	// validated; the SegmentsTrusted segments before it passed cheap checks only.
	ScannedFromOffset int64
	SegmentsTrusted   int
	SegmentsScanned   int
	BytesScanned      int64
	// IndexesRebuilt counts the scanned segments whose index files had to be rewritten.
	IndexesRebuilt int
	// ReadsRetried counts batches that failed validation, then passed when read again:
	// the disk returned bad bytes once (a transient read fault) and no cut was made.
	ReadsRetried int

	// CutOffset is where the tail of the log was cut, or -1 if it was not: the first
	// offset of a torn, corrupt or out-of-place batch or segment. Everything from there
	// on was removed.
	CutOffset int64
	CutReason string
	// BytesCut counts the bytes removed by the cut, deleted segments included.
	BytesCut int64
	// SegmentsDeleted counts the segments removed by the cut.
	SegmentsDeleted int
	// CutBelowRecoveryPoint reports that the cut removed offsets the checkpoint declared
	// durable: data at rest was damaged, not merely a tail lost in a crash.
	CutBelowRecoveryPoint bool

	// Fenced lists the ranges this recovery fenced: damage to synced data (below the
	// checkpointed recovery point) that a scan met, with the valid batches after it
	// kept. FenceReasons says what failed for each.
	Fenced       []Fence
	FenceReasons []string
	// CleanSwapsFinished counts compaction swaps a crash had interrupted, completed.
	CleanSwapsFinished int
	// InterruptedFencesRedone counts fencings a crash had interrupted, redone.
	InterruptedFencesRedone int
	// FencesProblem is empty when the fenced-ranges record was read whole (or never
	// written); otherwise it says which copy was missing or garbled.
	FencesProblem string

	// SegmentsBelowStartDeleted counts segments wholly below the log start offset that an
	// interrupted DeleteBelow had left behind.
	SegmentsBelowStartDeleted int
	// AbortedCutOffset is, when a .txnindex file held an entry that was torn, failed its
	// CRC or did not fit, the offset from which the aborted-transactions index may lack
	// entries (-1 otherwise), and AbortedCutReason says what was wrong. Entries for
	// markers the log had not synced may be torn by a crash; below that, it is damage,
	// and the log's owner must list those transactions again (SetAborted).
	AbortedCutOffset int64
	AbortedCutReason string
	// SegmentsInFencesRemoved counts the segments found inside a fence and removed:
	// what a fencing or a truncation interrupted by a crash left behind.
	SegmentsInFencesRemoved int

	// ResetToStart reports that nothing survived at or above the log start offset, so
	// the log restarted empty there.
	ResetToStart bool
	// StrayFilesRemoved counts leftover scratch files (*.tmp) and index files without a
	// segment.
	StrayFilesRemoved int
	// UnknownFiles lists the entries that are not seedlog's; they are left alone.
	UnknownFiles []string
}

// checkpointMissing is RecoveryReport.CheckpointProblem when there was no checkpoint.
const checkpointMissing = "missing"

// CutTail reports whether recovery removed a tail of the log.
func (r RecoveryReport) CutTail() bool { return r.CutOffset >= 0 }

// OpenLog opens the log in dir, creating the directory if needed, and recovers it (the
// algorithm is in doc.go). When it returns, everything the log holds has been validated
// or passed the sanity checks of durable segments, is durable, and RecoveryPoint() equals
// EndOffset(). An empty directory gives an empty log at offset 0, or at the checkpointed
// log start offset.
func OpenLog(fsys FS, dir string, cfg LogConfig) (*Log, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	created, err := ensureDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("storage: open log %s: %w", dir, err)
	}
	l := &Log{fsys: fsys, dir: dir, cfg: cfg, opened: cfg, files: cfg.Files, recovery: RecoveryReport{DirCreated: created, CutOffset: -1, AbortedCutOffset: -1}, abortedIncompleteFrom: -1}
	if l.files == nil {
		l.files = unboundedFiles()
	}
	if err := l.recover(); err != nil {
		for _, s := range l.segments {
			_ = s.closeFiles()
		}
		return nil, fmt.Errorf("storage: recover log %s: %w", dir, err)
	}
	return l, nil
}

// ensureDir creates dir if it is missing and makes the new entries durable. It reports
// whether it created dir.
func ensureDir(fsys FS, dir string) (bool, error) {
	st, err := fsys.Stat(dir)
	if err == nil {
		if !st.IsDir {
			return false, fmt.Errorf("%s is not a directory", dir)
		}
		return false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	var created []string
	for d := dir; ; d = path.Dir(d) {
		if _, err := fsys.Stat(d); err == nil {
			break
		}
		created = append(created, d)
		if d == "." || d == "/" {
			break
		}
	}
	if err := fsys.MkdirAll(dir); err != nil {
		return false, err
	}
	// Parents first is not needed: each SyncDir makes one new entry durable.
	for _, d := range created {
		if err := fsys.SyncDir(path.Dir(d)); err != nil {
			return false, err
		}
	}
	return true, nil
}

func (l *Log) recover() error {
	if err := l.finishSwaps(); err != nil {
		return err
	}
	bases, marked, err := l.listSegments()
	if err != nil {
		return err
	}
	start, rp, err := l.loadCheckpoint()
	if err != nil {
		return err
	}
	if err := l.loadFences(); err != nil {
		return err
	}
	loaded := slices.Clone(l.fences)
	if bases, err = l.dropSegmentsBelow(bases, start); err != nil {
		return err
	}
	if err := l.openSegments(bases, max(start, 0)); err != nil {
		return err
	}
	if err := l.readAborted(); err != nil {
		return err
	}
	if err := l.markAbortedIncomplete(marked); err != nil {
		return err
	}
	l.fencesMatchSegments()
	if err := l.dropSegmentsInFences(); err != nil {
		return err
	}
	l.startOffset = max(start, l.firstOffset())
	if rp < 0 {
		rp = l.startOffset
	}
	scanFrom := l.trustedPrefix(max(rp, l.startOffset))
	l.recovery.SegmentsTrusted = scanFrom
	if err := l.scanSegments(scanFrom); err != nil {
		return err
	}
	if err := l.settleStart(); err != nil {
		return err
	}
	l.fences = disk.ClipFences(l.fences, l.startOffset, l.EndOffset())
	if err := l.saveFences(loaded); err != nil {
		return err
	}
	if l.passes, err = readPasses(l.fsys, l.dir); err != nil {
		return err
	}
	if err := l.cutPasses(); err != nil {
		return err
	}
	l.refileAborted()
	return l.finishRecovery()
}

// loadFences reads the fenced-ranges record. A missing record means no fences; one whose
// copies are both garbled leaves the fences unknown (RecoveryReport.FencesProblem), and
// every gap between segments is then cut as a hole.
func (l *Log) loadFences() error {
	gen, fences, problem, err := readFences(l.fsys, l.dir)
	if err != nil {
		return fmt.Errorf("read fenced ranges: %w", err)
	}
	l.fencesGen, l.fences, l.recovery.FencesProblem = gen, fences, problem
	l.fencesPersisted = gen > 0
	return nil
}

// fencesMatchSegments drops the fences that do not sit between two segments as they
// should (ending where a segment starts, after the segment before it began): what an
// interrupted fencing or skip left behind. A fence that ends where no segment starts
// but holds the start of one keeps its part before that segment: damage in a
// segment's first batch merges its fence with the fence that ends there, and a crash
// before the segment after the damage was made leaves the merged fence; the damage is
// fenced again when the scan meets it. A fence that ends where a segment starts and
// holds the start of others stays whole (dropSegmentsInFences removes those).
func (l *Log) fencesMatchSegments() {
	out := l.fences[:0]
	for _, f := range l.fences {
		if f.To = l.fenceEnd(f); f.To > f.From {
			out = append(out, f)
		}
	}
	l.fences = out
}

// fenceEnd returns where fence f may end (f.From: nowhere): at the first segment that
// starts inside it or at its end, after the segment before that one began.
func (l *Log) fenceEnd(f Fence) int64 {
	for i, s := range l.segments {
		switch {
		case s.base <= f.From:
			continue
		case s.base > f.To, i > 0 && f.From <= l.segments[i-1].base:
			return f.From
		case i > 0 && s.base < f.To && slices.ContainsFunc(l.segments[i+1:], func(n *segment) bool { return n.base == f.To }):
			// A segment where the fence ends exists too: the fence was recorded with
			// the segments after it in place, and the segments inside it are what a
			// crash kept of the damaged segment a fencing was about to remove (its
			// first batch damaged, the fences before and after it merged with its
			// own), or of the segment a truncation into the fence made before it cut
			// the fence. Dropping the fence instead would cut the log where it
			// begins. (Before the first segment a fence keeps its part before that
			// segment: dropping it would move the log start past what it fenced.)
			return f.To
		}
		return s.base
	}
	return f.From
}

// dropSegmentsInFences removes the segments that begin inside a fence (fenceEnd keeps
// a fence whole only when a segment begins where it ends): reads never reach them.
// Their aborted-transactions entries join the segment before, where refileAborted
// files them.
func (l *Log) dropSegmentsInFences() error {
	for _, f := range l.fences {
		for i := 1; i < len(l.segments); {
			s := l.segments[i]
			if s.base <= f.From || s.base >= f.To {
				i++
				continue
			}
			prev := &l.segments[i-1].aborted
			prev.entries = append(prev.entries, s.aborted.entries...)
			if err := s.closeFiles(); err != nil {
				return fmt.Errorf("close segment %d: %w", s.base, err)
			}
			if err := removeSegmentFiles(l.fsys, l.dir, s.base); err != nil {
				return err
			}
			l.segments = slices.Delete(l.segments, i, i+1)
			l.recovery.SegmentsInFencesRemoved++
			l.dirUnsynced = true
		}
	}
	return nil
}

// listSegments returns the base offsets of the segments in the directory, sorted, after
// removing scratch files and index files that lost their segment, and whether the
// aborted-transactions index is marked incomplete (TxnIndexIncompleteName).
func (l *Log) listSegments() ([]int64, bool, error) {
	names, err := l.fsys.List(l.dir)
	if err != nil {
		return nil, false, fmt.Errorf("list: %w", err)
	}
	marked := false
	logs := map[int64]bool{}
	var indexFiles []string
	for _, name := range names {
		full := path.Join(l.dir, name)
		base, suffix, ok := parseSegmentFileName(name)
		switch {
		case strings.HasSuffix(name, TmpSuffix):
			if err := l.removeStray(full); err != nil {
				return nil, false, err
			}
		case ok && suffix == LogFileSuffix:
			st, err := l.fsys.Stat(full)
			if err != nil {
				return nil, false, fmt.Errorf("stat %s: %w", full, err)
			}
			if st.IsDir {
				l.recovery.UnknownFiles = append(l.recovery.UnknownFiles, name)
				continue
			}
			logs[base] = true
		case ok:
			indexFiles = append(indexFiles, name)
		case name == TxnIndexIncompleteName:
			marked = true
		case name == OffsetsCheckpointName || name == LeaderEpochCheckpointName ||
			name == FencesFileName || name == FencesCopyFileName || name == CleanerPassesName:
		default:
			l.recovery.UnknownFiles = append(l.recovery.UnknownFiles, name)
		}
	}
	for _, name := range indexFiles {
		if base, _, _ := parseSegmentFileName(name); !logs[base] {
			if err := l.removeStray(path.Join(l.dir, name)); err != nil {
				return nil, false, err
			}
		}
	}
	bases := make([]int64, 0, len(logs))
	for base := range logs {
		bases = append(bases, base)
	}
	slices.Sort(bases)
	return bases, marked, nil
}

func (l *Log) removeStray(name string) error {
	st, err := l.fsys.Stat(name)
	if err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	if st.IsDir {
		l.recovery.UnknownFiles = append(l.recovery.UnknownFiles, path.Base(name))
		return nil
	}
	if err := l.fsys.Remove(name); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	l.recovery.StrayFilesRemoved++
	l.dirUnsynced = true
	return nil
}

// loadCheckpoint returns the checkpointed start offset and recovery point, or -1 for
// both when the checkpoint is missing or garbled.
func (l *Log) loadCheckpoint() (start, rp int64, err error) {
	c, err := readOffsetsCheckpoint(l.fsys, l.dir)
	switch {
	case err == nil:
		l.persisted = c
		return c.logStartOffset, c.recoveryPoint, nil
	case errors.Is(err, fs.ErrNotExist):
		l.recovery.CheckpointProblem = checkpointMissing
	case errors.Is(err, ErrBadCheckpoint):
		l.recovery.CheckpointProblem = err.Error()
	default:
		return 0, 0, err
	}
	l.persisted = offsetsCheckpoint{logStartOffset: -1, recoveryPoint: -1}
	return -1, -1, nil
}

// dropSegmentsBelow deletes the segments that end at or below start: those followed by
// a segment based at or below it. The last segment is kept whatever its offsets.
func (l *Log) dropSegmentsBelow(bases []int64, start int64) ([]int64, error) {
	for len(bases) > 1 && bases[1] <= start {
		if err := removeSegmentFiles(l.fsys, l.dir, bases[0]); err != nil {
			return nil, err
		}
		l.recovery.SegmentsBelowStartDeleted++
		l.dirUnsynced = true
		bases = bases[1:]
	}
	return bases, nil
}

// openSegments opens the log file of each segment. With no segment at all it creates an
// empty one at emptyBase.
func (l *Log) openSegments(bases []int64, emptyBase int64) error {
	if len(bases) == 0 {
		s, err := l.createSegment(emptyBase)
		if err != nil {
			return err
		}
		l.segments = append(l.segments, s)
		return nil
	}
	for _, base := range bases {
		s := newSegmentState(base)
		l.segments = append(l.segments, s)
		var err error
		if s.logFile, err = l.openSegmentFile(s.fileName(l.dir, LogFileSuffix)); err != nil {
			return fmt.Errorf("open segment %d: %w", base, err)
		}
		if s.sizeBytes, err = s.logFile.Size(); err != nil {
			return fmt.Errorf("size of segment %d: %w", base, err)
		}
	}
	return nil
}

// trustedPrefix returns the index of the first segment recovery must scan: the one
// recoverySegment names, or an earlier one that fails the sanity checks. The segments
// before it keep their indexes.
func (l *Log) trustedPrefix(rp int64) int {
	scanFrom := l.recoverySegment(rp)
	for i := range scanFrom {
		if err := l.loadTrustedSegment(l.segments[i], l.segmentEnd(i)); err != nil {
			return i
		}
	}
	return scanFrom
}

// loadTrustedSegment loads a segment below the recovery point without reading all of
// it: its index files must be sane, its first batch must carry its base offset, and the
// batches after the last index entry must end exactly at the file's end and at nextBase.
func (l *Log) loadTrustedSegment(s *segment, nextBase int64) error {
	relEnd := nextBase - s.base
	if s.empty() || relEnd <= 0 || relEnd-1 > relOffsetMax || s.sizeBytes > segmentPosMax {
		return fmt.Errorf("segment %d: %d bytes, next segment at %d", s.base, s.sizeBytes, nextBase)
	}
	// An index holds at most one entry per batch: a larger file is garbled, and the
	// segment is scanned rather than that size allocated.
	batchesMax := s.sizeBytes/record.HeaderSize + 1
	indexBuf, err := ReadFileAtMost(l.fsys, s.fileName(l.dir, IndexFileSuffix), batchesMax*offsetIndexEntryBytes)
	if err != nil {
		return err
	}
	timeBuf, err := ReadFileAtMost(l.fsys, s.fileName(l.dir, TimeIndexFileSuffix), batchesMax*timeIndexEntryBytes)
	if err != nil {
		return err
	}
	if err := checkOffsetIndex(indexBuf, s.sizeBytes, relEnd); err != nil {
		return err
	}
	if err := checkTimeIndex(timeBuf, relEnd); err != nil {
		return err
	}
	s.index = offsetIndex{buf: indexBuf, flushedBytes: len(indexBuf)}
	s.timeIndex = timeIndex{buf: timeBuf, flushedBytes: len(timeBuf)}
	s.next = nextBase
	w := l.newHeaderWalker(s)
	first, err := w.header(0)
	if err != nil {
		return err
	}
	if first.BaseOffset != s.base {
		return corruptf(s, 0, "first batch base offset %d", first.BaseOffset)
	}
	s.rollTimestamp = first.MaxTimestamp
	s.maxTimestamp = max(s.timeIndex.lastTimestamp(), first.MaxTimestamp)
	return l.recomputeTailFromLastEntry(s, &w)
}

// recomputeTailFromLastEntry walks from the last offset index entry to the end of the
// segment, checking framing and offsets, and notes the last batch.
func (l *Log) recomputeTailFromLastEntry(s *segment, w *headerWalker) error {
	rel, pos := s.index.floor(s.next - s.base)
	return walkTail(s, w, rel, pos)
}

// walkTail walks the batches of s from pos, the position of relative offset rel, to the
// end of the segment: it checks that offsets run densely up to s.next and keeps the
// segment's max timestamp and last batch up to date.
func walkTail(s *segment, w *headerWalker, rel, pos int64) error {
	expected := s.base + rel
	for pos < s.sizeBytes {
		h, err := w.header(pos)
		if err != nil {
			return err
		}
		if h.BaseOffset != expected {
			return corruptf(s, pos, "batch base offset %d, want %d", h.BaseOffset, expected)
		}
		s.maxTimestamp = max(s.maxTimestamp, h.MaxTimestamp)
		s.lastBatchBase = h.BaseOffset
		expected = h.NextOffset()
		pos += int64(h.Size())
	}
	if expected != s.next {
		return corruptf(s, pos, "segment ends at offset %d, want %d", expected, s.next)
	}
	return nil
}

// scanSegments validates every batch from segment scanFrom on, rebuilding the indexes
// in memory. Damage below the checkpointed recovery point (synced data) is fenced and
// the scan goes on with the batches after it (fenceDamage); anything else that does not
// fit (a torn tail, a hole) cuts the log there. Scanned segments are marked unsynced:
// finishRecovery writes their indexes and syncs them.
func (l *Log) scanSegments(scanFrom int) error {
	l.recovery.ScannedFromOffset = l.segments[scanFrom].base
	l.scanningAtOpen = true
	defer func() { l.scanningAtOpen = false }()
	var buf []byte
	expected := l.segments[scanFrom].base
	for i := scanFrom; i < len(l.segments); i++ {
		s := l.segments[i]
		if !l.continues(expected, s.base) {
			reason := fmt.Sprintf("segment %d does not continue the log at offset %d", s.base, expected)
			return l.cutTail(i, false, 0, expected, reason)
		}
		fileBytes := s.sizeBytes
		s.forget()
		s.unsynced = true
		var reason, err error
		if buf, reason, err = l.scanSegment(s, fileBytes, buf); err != nil {
			return err
		}
		l.recovery.SegmentsScanned++
		l.recovery.BytesScanned += fileBytes
		if reason == nil {
			expected = s.next
			continue
		}
		fenced, err := l.fenceScanned(i, fileBytes, reason.Error())
		if err != nil {
			return err
		}
		if !fenced {
			return l.cutTail(i, true, fileBytes, s.next, reason.Error())
		}
		f, _ := l.fenceContaining(s.next)
		expected = f.To
		if i < len(l.segments) && l.segments[i] != s {
			i-- // the damaged segment held nothing valid and went: scan what took its place
		}
	}
	return nil
}

// damagedDurable reports whether a batch that failed validation at offset was synced
// data: some offset of it at or above the log start lies below the checkpointed
// recovery point. Above it, a crash may have torn what was never synced, and nothing
// acknowledged can lie there. (DeleteBelow raises the recovery point to the new start
// without a sync: offsets below the start say nothing.)
func (l *Log) damagedDurable(offset int64) bool {
	return l.persisted.recoveryPoint >= 0 && max(offset, l.startOffset) < l.persisted.recoveryPoint
}

// fenceScanned decides what to do with the damage recovery met in segment i (a file of
// fileBytes whose valid batches end at s.next), and fences it when it may: the damaged
// batch lies below the checkpointed recovery point (synced data, which no crash tears),
// and either valid batches resume after it or the segment's end is known. The last
// segment's end is known from the recovery point only, which is trusted no further than
// the bytes on disk could hold (one offset per byte left). Otherwise it reports false
// and the caller cuts, as for a torn tail.
//
// A fence starting exactly there is the trace of a fencing a crash interrupted (the
// damaged segment was not cut yet). Its record is durable before anything moves, and
// only damage to synced data is fenced, so the damage is durable even above the
// checkpointed recovery point (found at run time in batches synced since). When its
// segment is the next one, that segment may be an incomplete copy: it is dropped and
// the fencing redone.
func (l *Log) fenceScanned(i int, fileBytes int64, reason string) (bool, error) {
	s := l.segments[i]
	a := s.next
	recorded, isRecorded := l.fenceContaining(a)
	isRecorded = isRecorded && recorded.From == a
	if l.cfg.NoFences || !(l.damagedDurable(a) || isRecorded) {
		return false, nil
	}
	if isRecorded && i+1 < len(l.segments) && l.segments[i+1].base == recorded.To {
		l.fences = slices.DeleteFunc(l.fences, func(g Fence) bool { return g == recorded })
		ns := l.segments[i+1]
		// Its index entries go back with its batches; the fencing below moves them again.
		s.aborted.entries = append(s.aborted.entries, ns.aborted.entries...)
		s.aborted.dirty, s.aborted.rewrite = true, true
		if err := ns.closeFiles(); err != nil {
			return false, fmt.Errorf("close segment %d: %w", ns.base, err)
		}
		l.segments = append(l.segments[:i+1], l.segments[i+2:]...)
		if err := removeSegmentFiles(l.fsys, l.dir, ns.base); err != nil {
			return false, err
		}
		l.recovery.InterruptedFencesRedone++
	}
	last := i == len(l.segments)-1
	limit := int64(math.MaxInt64)
	if !last {
		limit = l.segmentEnd(i)
	}
	p := s.sizeBytes
	q, b, err := resync(s.logFile, p+1, fileBytes, a, limit)
	if err != nil {
		return false, fmt.Errorf("segment %d: %w", s.base, err)
	}
	switch {
	case q >= 0:
	case !last:
		b = limit
	case isRecorded:
		b = recorded.To
	case l.persisted.recoveryPoint-a <= fileBytes-p:
		b = l.persisted.recoveryPoint
	default:
		return false, nil
	}
	f, moved, err := l.fenceDamage(i, p, fileBytes, a, q, b)
	if err != nil {
		return false, err
	}
	l.recovery.Fenced = append(l.recovery.Fenced, f)
	l.recovery.FenceReasons = append(l.recovery.FenceReasons, reason)
	if moved {
		ns := l.segments[segmentIndex(l.segments, f.To)]
		ns.unsynced = true
	}
	return true, nil
}

// cutTail removes the log from offset cutOffset on. The segments after segIndex go; so
// does segment segIndex unless keep is set, in which case its file, fileBytes long, is
// cut to the batches validated so far.
func (l *Log) cutTail(segIndex int, keep bool, fileBytes int64, cutOffset int64, reason string) error {
	r := &l.recovery
	r.CutOffset, r.CutReason = cutOffset, reason
	// Offsets below the start offset are gone anyway; losing them loses nothing durable.
	r.CutBelowRecoveryPoint = l.persisted.recoveryPoint > max(cutOffset, l.startOffset)
	for len(l.segments) > segIndex+1 {
		r.BytesCut += l.active().sizeBytes
		r.SegmentsDeleted++
		if err := l.removeLastSegment(); err != nil {
			return err
		}
	}
	s := l.segments[segIndex]
	if !keep {
		r.BytesCut += s.sizeBytes
		r.SegmentsDeleted++
		return l.removeLastSegment()
	}
	if fileBytes > s.sizeBytes {
		r.BytesCut += fileBytes - s.sizeBytes
		if err := s.logFile.Truncate(s.sizeBytes); err != nil {
			return fmt.Errorf("truncate segment %d to %d bytes: %w", s.base, s.sizeBytes, err)
		}
	}
	return nil
}

// scanChunkBytes is how much of a segment recovery reads at a time.
const scanChunkBytes = 1 << 20

// scanSegment reads the segment file from the start and adds every valid batch to s.
// reason says why it stopped before the end of the file; err is an I/O error. buf is
// scratch, returned grown. A batch that fails is read again until it validates (the
// disk returned bad bytes once: ReadsRetried) or two reads agree: a cut or a fence
// destroys data, so the disk, not one bad read, must say so.
func (l *Log) scanSegment(s *segment, fileBytes int64, buf []byte) (_ []byte, reason, err error) {
	if want := min(scanChunkBytes, fileBytes); int64(len(buf)) < want {
		buf = make([]byte, want)
	}
	var bufPos int64
	bufLen := 0
	for pos := int64(0); pos < fileBytes; {
		// Get the batch header, then the whole batch, into buf.
		need := min(int64(record.HeaderSize), fileBytes-pos)
		if pos+need > bufPos+int64(bufLen) {
			if buf, err = refill(s, buf, pos, fileBytes); err != nil {
				return buf, nil, err
			}
			bufPos, bufLen = pos, int(min(int64(len(buf)), fileBytes-pos))
		}
		h, perr := record.ParseHeader(buf[pos-bufPos : bufLen])
		var first error
		switch size := int64(h.Size()); {
		case perr != nil:
			first = fmt.Errorf("segment %d at byte %d: %w", s.base, pos, perr)
		case pos+size > fileBytes:
			first = fmt.Errorf("segment %d at byte %d: batch of %d bytes is torn by the end of the file at %d",
				s.base, pos, size, fileBytes)
		default:
			if pos+size > bufPos+int64(bufLen) {
				if size > int64(len(buf)) {
					buf = make([]byte, size) // bounded by the file size, checked above
				}
				if buf, err = refill(s, buf, pos, fileBytes); err != nil {
					return buf, nil, err
				}
				bufPos, bufLen = pos, int(min(int64(len(buf)), fileBytes-pos))
			}
			if first = l.addScannedBatch(s, pos, buf[pos-bufPos:pos-bufPos+size]); first == nil {
				pos += size
				continue
			}
		}
		again, valid, err := stableBatchAt(s.logFile, pos, fileBytes)
		if err != nil {
			return buf, nil, fmt.Errorf("read segment %d: %w", s.base, err)
		}
		if !valid {
			return buf, first, nil
		}
		if reason := l.addScannedBatch(s, pos, again); reason != nil {
			return buf, reason, nil
		}
		l.recovery.ReadsRetried++
		pos += int64(len(again))
		bufLen = 0 // the buffer held bad bytes: read afresh
	}
	return buf, nil, nil
}

// refill reads the file from pos into buf, as much as fits.
func refill(s *segment, buf []byte, pos, fileBytes int64) ([]byte, error) {
	n := min(int64(len(buf)), fileBytes-pos)
	if err := readFull(s.logFile, buf[:n], pos); err != nil {
		return buf, fmt.Errorf("read segment %d: %w", s.base, err)
	}
	return buf, nil
}

// addScannedBatch validates one batch met by recovery and adds it to the segment.
func (l *Log) addScannedBatch(s *segment, pos int64, batch []byte) error {
	check := record.Check
	if l.scanningAtOpen && l.cfg.Plants.On(plant.RecoverySkipsCRC) {
		// Planted bug: the header is all recovery looks at.
		check = record.ParseHeader
	}
	h, err := check(batch)
	if err != nil {
		return fmt.Errorf("segment %d at byte %d: %w", s.base, pos, err)
	}
	switch {
	case h.BaseOffset != s.next:
		return fmt.Errorf("segment %d at byte %d: batch base offset %d, want %d", s.base, pos, h.BaseOffset, s.next)
	case h.LastOffset()-s.base > relOffsetMax || pos > segmentPosMax:
		return fmt.Errorf("segment %d at byte %d: batch at offset %d is beyond what the indexes can address",
			s.base, pos, h.BaseOffset)
	}
	s.addBatch(&h, int64(l.cfg.IndexIntervalBytes))
	return nil
}

// settleStart reconciles the start offset with what survived: segments wholly below it
// go, and if nothing reaches it the log restarts empty there.
func (l *Log) settleStart() error {
	if l.startOffset > l.EndOffset() {
		l.recovery.ResetToStart = true
		ns, err := l.createSegment(l.startOffset)
		if err != nil {
			return err
		}
		l.segments = append(l.segments, ns)
	}
	for len(l.segments) > 1 && l.segments[0].next <= l.startOffset {
		l.recovery.SegmentsBelowStartDeleted++
		if err := l.removeFirstSegment(); err != nil {
			return err
		}
	}
	return nil
}

// finishRecovery writes the rebuilt indexes of the scanned segments, syncs them and the
// directory, and checkpoints the recovery point at the end offset.
func (l *Log) finishRecovery() error {
	if l.recovery.DirCreated {
		return l.finishCreation()
	}
	last := len(l.segments) - 1
	for i, s := range l.segments {
		if !s.unsynced {
			continue
		}
		if i < last {
			s.seal()
		}
		created, err := s.openIndexFiles(l.fsys, l.dir)
		if err != nil {
			return err
		}
		l.dirUnsynced = l.dirUnsynced || created
		rebuilt, err := reconcileIndexFiles(s)
		if err != nil {
			return err
		}
		if rebuilt {
			l.recovery.IndexesRebuilt++
		}
		if err := s.flushIndexes(); err != nil {
			return err
		}
	}
	// Whatever a crash left unsynced in the directory becomes durable here too.
	l.dirUnsynced = true
	if err := l.syncAll(); err != nil {
		return err
	}
	if current := (offsetsCheckpoint{logStartOffset: l.startOffset, recoveryPoint: l.recoveryPoint}); current != l.persisted && !l.missingCheckpointSame() {
		return l.persistCheckpoint()
	}
	return nil
}

// missingCheckpointSame reports that the checkpoint is missing (not garbled) and that
// writing one would change nothing the next recovery does: it would take the log start
// from the first segment, now durable, and scan from there all the same. A new log
// that never left its first segment then costs its first recovery no checkpoint write.
func (l *Log) missingCheckpointSame() bool {
	return l.recovery.CheckpointProblem == checkpointMissing && l.startOffset == l.segments[0].base &&
		l.recoverySegment(l.recoveryPoint) == 0
}

// finishCreation ends the opening of a log whose directory was made just now and holds
// only the new empty segment. The segment's data needs no sync before something is
// appended (the first Sync does it) and the empty log needs no checkpoint: an empty
// directory opens as the same log. The directory entry of the segment does need a sync:
// without a checkpoint recovery takes the log start from the first segment, so a crash
// that kept a later segment but lost this one would move the start.
func (l *Log) finishCreation() error {
	if err := l.fsys.SyncDir(l.dir); err != nil {
		return err
	}
	l.dirUnsynced = false
	l.recoveryPoint = l.EndOffset()
	s := l.active()
	// The file holds no writes, so the cache may close it; the index files close now,
	// so that an idle new log holds no descriptor the cache does not bound.
	if cf, ok := s.logFile.(*cachedFile); ok {
		cf.unpin()
	}
	return s.closeIndexFiles()
}

// reconcileIndexFiles compares the index files of s with the rebuilt indexes, cuts the
// files where they first differ and records how much of them is right, so that
// flushIndexes writes only the difference. It reports whether anything will change.
func reconcileIndexFiles(s *segment) (bool, error) {
	a, err := reconcileIndexFile(s.indexFile, s.index.buf, &s.index.flushedBytes)
	if err != nil {
		return false, fmt.Errorf("offset index of segment %d: %w", s.base, err)
	}
	b, err := reconcileIndexFile(s.timeIndexFile, s.timeIndex.buf, &s.timeIndex.flushedBytes)
	if err != nil {
		return false, fmt.Errorf("time index of segment %d: %w", s.base, err)
	}
	return a || b, nil
}

func reconcileIndexFile(f File, want []byte, flushedBytes *int) (bool, error) {
	have, err := readAll(f, -1)
	if err != nil {
		return false, err
	}
	same := 0
	for same < len(have) && same < len(want) && have[same] == want[same] {
		same++
	}
	if same < len(have) {
		if err := f.Truncate(int64(same)); err != nil {
			return false, err
		}
	}
	*flushedBytes = same
	return !bytes.Equal(have, want), nil
}
