package storage

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/seedlog/seedlog/core/compact"
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
)

// Errors of the partition log. They are wrapped with context; test with errors.Is.
var (
	// ErrOffsetOutOfRange: the offset lies below the log start offset or above the log
	// end offset.
	ErrOffsetOutOfRange = errors.New("storage: offset out of range")
	// ErrCorrupt: bytes at rest failed validation (CRC, framing, offsets). The caller
	// treats it as a disk fault; the bytes are never served.
	ErrCorrupt = errors.New("storage: corrupt log data")
	// ErrInvalidAppend: the batches handed to Append are malformed, too large, or do not
	// continue the log's offsets. The log is unchanged.
	ErrInvalidAppend = errors.New("storage: invalid append")
	// ErrLogFailed: an earlier write, sync or file operation failed, so what the disk
	// holds is unknown (a later successful fsync would prove nothing). The log refuses to
	// change until it is closed and reopened, which runs recovery.
	ErrLogFailed = errors.New("storage: log failed; it must be closed and reopened")
	// ErrClosed: the log was closed.
	ErrClosed = errors.New("storage: log closed")
)

// Defaults applied to zero fields of LogConfig.
const (
	DefaultSegmentBytesMax    = 1 << 30
	DefaultIndexIntervalBytes = 4096
	// DefaultBatchBytesMax matches Kafka's message.max.bytes default.
	DefaultBatchBytesMax = 1048588
)

// LogConfig tunes a Log. Zero fields take the defaults above.
type LogConfig struct {
	// SegmentBytesMax: a batch that would grow the active segment past this size goes to
	// a new segment. At most math.MaxInt32, so that positions fit the index.
	SegmentBytesMax int64
	// SegmentAgeMax: a batch whose max timestamp is more than this past the max
	// timestamp of the active segment's first batch goes to a new segment (Kafka's
	// segment.ms, measured on record timestamps, never on a clock). Zero disables it.
	SegmentAgeMax time.Duration
	// SegmentIndexBytesMax: a batch that would grow either index of the active segment
	// past this size goes to a new segment (Kafka's segment.index.bytes). Zero: no
	// limit but the relative offsets'.
	SegmentIndexBytesMax int
	// IndexIntervalBytes: the offset index gets an entry every this many bytes.
	IndexIntervalBytes int
	// BatchBytesMax: Append refuses larger batches.
	BatchBytesMax int
	// DedupeBytes is the memory of a compaction pass's offset map
	// (log.cleaner.dedupe.buffer.size), allocated at the log's first pass.
	DedupeBytes int64
	// NoFences makes recovery cut the log at damage below the recovery point, as at a
	// torn tail, instead of fencing it: for a log whose owner recovers lost entries by
	// protocol and needs its log to end where its last valid entry does (the controller
	// quorum's). The cut is reported (RecoveryReport.CutBelowRecoveryPoint).
	NoFences bool
	// Plants are the planted bugs switched on (the simulator's; never in the node).
	Plants plant.Set
	// Files, when set, is the cache of open segment files this log shares with others,
	// which bounds the descriptors they hold; without it every segment file stays open.
	Files *FileCache
}

func (c LogConfig) withDefaults() (LogConfig, error) {
	if c.SegmentBytesMax == 0 {
		c.SegmentBytesMax = DefaultSegmentBytesMax
	}
	if c.IndexIntervalBytes == 0 {
		c.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	if c.BatchBytesMax == 0 {
		c.BatchBytesMax = DefaultBatchBytesMax
	}
	if c.DedupeBytes == 0 {
		c.DedupeBytes = DefaultDedupeBytes
	}
	switch {
	case c.SegmentBytesMax < 1 || c.SegmentBytesMax > math.MaxInt32:
		return c, fmt.Errorf("storage: SegmentBytesMax %d outside [1, %d]", c.SegmentBytesMax, math.MaxInt32)
	case c.SegmentAgeMax < 0:
		return c, fmt.Errorf("storage: negative SegmentAgeMax %v", c.SegmentAgeMax)
	case c.IndexIntervalBytes < 1:
		return c, fmt.Errorf("storage: IndexIntervalBytes %d < 1", c.IndexIntervalBytes)
	case c.DedupeBytes < 48 || c.DedupeBytes > 1<<40:
		return c, fmt.Errorf("storage: DedupeBytes %d outside [48 B (two keys), 1 TiB]", c.DedupeBytes)
	case c.BatchBytesMax < record.HeaderSize || c.BatchBytesMax > record.BatchSizeMaxDef:
		return c, fmt.Errorf("storage: BatchBytesMax %d outside [%d, %d]", c.BatchBytesMax, record.HeaderSize, record.BatchSizeMaxDef)
	}
	return c, nil
}

// SegmentInfo describes one segment, for retention decisions taken outside storage.
type SegmentInfo struct {
	BaseOffset int64
	NextOffset int64 // offset after the segment's last batch; BaseOffset when empty
	SizeBytes  int64
	// LastBatchBase is the base offset of its last batch: BaseOffset when it holds one.
	LastBatchBase int64
	// IndexBytes is the size of its larger index (offset or time index).
	IndexBytes int
	// MaxTimestamp is the largest batch max timestamp in the segment, or -1 when no
	// batch carries a non-negative one; RollTimestamp the first batch's, from which the
	// segment's age counts (segment.ms).
	MaxTimestamp, RollTimestamp int64
}

// Log is one partition's log: a directory of segments plus checkpoints (formats and
// rules in doc.go). It is synchronous and owned by one goroutine at a time; it does no
// locking.
//
// Invariants: segments is never empty and is ordered by base offset; each segment's
// next offset is the following segment's base, or the From of a fence whose To is that
// base; fences lie in [startOffset, EndOffset()), each followed by a segment starting at
// its To; startOffset lies in [firstOffset(), EndOffset()] (the first segment's base, or
// the start of a fence before it); recoveryPoint <= EndOffset() and everything below it
// is durable.
type Log struct {
	fsys FS
	dir  string
	cfg  LogConfig
	// files keeps the segments' log files open within its bound. Index files are open
	// only from their writing to their sync (or to the next Sync, for the active
	// segment's, which recovery rebuilds and nobody syncs).
	files *FileCache
	// opened is the configuration the log was opened with: SetSegmentLimits' zeros
	// take its limits back.
	opened LogConfig
	// scanningAtOpen: recovery is scanning segments (only the planted bug
	// RecoverySkipsCRC looks at it).
	scanningAtOpen bool

	segments      []*segment
	startOffset   int64
	recoveryPoint int64
	persisted     offsetsCheckpoint // what the checkpoint file holds
	dirUnsynced   bool              // entries created or removed since the last directory sync

	// fences are the log's fenced ranges, sorted and disjoint (see Fence); fencesGen is
	// the generation of the fenced-ranges record on disk, fencesPersisted whether one
	// was written.
	fences          []Fence
	fencesGen       uint64
	fencesPersisted bool

	// passes is the cleaning history (compaction); offsetMap the memory of a pass,
	// kept between passes.
	passes    compact.Passes
	offsetMap *compact.OffsetMap
	// pass is the compaction pass under way between CleanSteps, nil when none is.
	pass *cleanPass

	// abortedIncompleteFrom is the offset the durable TxnIndexIncompleteName file
	// holds, -1 when there is none.
	abortedIncompleteFrom int64

	failure  error // set by the first failed mutation; sticky
	closed   bool
	recovery RecoveryReport

	appendHeaders []record.Header // scratch for Append, reused to keep it allocation-free
	headerBuf     []byte          // scratch for single header reads
}

// Dir returns the log's directory within its FS.
func (l *Log) Dir() string { return l.dir }

// StartOffset returns the log start offset: the first offset a reader may ask for.
func (l *Log) StartOffset() int64 { return l.startOffset }

// EndOffset returns the log end offset: the offset the next appended batch must start at.
func (l *Log) EndOffset() int64 { return l.active().next }

// RecoveryPoint returns the offset below which everything is durable: the end offset as
// of the last successful Sync, TruncateTo or OpenLog.
func (l *Log) RecoveryPoint() int64 { return l.recoveryPoint }

// Recovery returns what OpenLog found and repaired.
func (l *Log) Recovery() RecoveryReport { return l.recovery }

// Segments describes the segments, oldest first. The last one is the active segment.
func (l *Log) Segments() []SegmentInfo {
	infos := make([]SegmentInfo, len(l.segments))
	for i, s := range l.segments {
		infos[i] = SegmentInfo{BaseOffset: s.base, NextOffset: s.next, SizeBytes: s.sizeBytes, MaxTimestamp: s.maxTimestamp, RollTimestamp: s.rollTimestamp,
			LastBatchBase: s.lastBatchBase, IndexBytes: max(len(s.index.buf), len(s.timeIndex.buf))}
	}
	return infos
}

// SizeBytes is the size of the log's segments.
func (l *Log) SizeBytes() int64 {
	var n int64
	for _, s := range l.segments {
		n += s.sizeBytes
	}
	return n
}

func (l *Log) active() *segment { return l.segments[len(l.segments)-1] }

// segmentFloor returns the index of the last segment whose base is <= offset, or -1.
func (l *Log) segmentFloor(offset int64) int {
	return sort.Search(len(l.segments), func(i int) bool { return l.segments[i].base > offset }) - 1
}

func (l *Log) usable() error {
	if l.closed {
		return ErrClosed
	}
	return nil
}

// writable guards every mutation.
func (l *Log) writable() error {
	if l.closed {
		return ErrClosed
	}
	return l.failure
}

// fail records the first failure of a mutation; from then on the log only reads and
// closes.
func (l *Log) fail(err error) error {
	if l.failure == nil {
		l.failure = fmt.Errorf("%w: %s: %w", ErrLogFailed, l.dir, err)
	}
	return l.failure
}

// SetSegmentLimits changes when the log rolls a new segment (a topic's segment.bytes,
// segment.ms and segment.index.bytes): past bytes, once a segment's records span age,
// or before an index grows past indexBytes; zero takes back what the log was opened
// with. Segments already written stay as they are.
func (l *Log) SetSegmentLimits(bytes int64, age time.Duration, indexBytes int) error {
	if err := l.usable(); err != nil {
		return err
	}
	if bytes < 0 || bytes > math.MaxInt32 || age < 0 || indexBytes < 0 {
		return fmt.Errorf("storage: segment limits %d bytes, %v, index %d bytes outside [0, %d], [0, ∞), [0, ∞)", bytes, age, indexBytes, math.MaxInt32)
	}
	l.cfg.SegmentBytesMax, l.cfg.SegmentAgeMax, l.cfg.SegmentIndexBytesMax = l.opened.SegmentBytesMax, l.opened.SegmentAgeMax, l.opened.SegmentIndexBytesMax
	if bytes > 0 {
		l.cfg.SegmentBytesMax = bytes
	}
	if age > 0 {
		l.cfg.SegmentAgeMax = age
	}
	if indexBytes > 0 {
		l.cfg.SegmentIndexBytesMax = indexBytes
	}
	return nil
}

// Append writes one or more whole batches at the end of the log. Every batch is
// checked (framing and CRC), must fit BatchBytesMax, and must start where the previous
// one ended, the first at EndOffset(): offsets are assigned by the caller. If any check
// fails Append returns ErrInvalidAppend and the log is unchanged. Before a batch that
// would overflow the active segment (SegmentBytesMax, SegmentAgeMax, relative offsets)
// the log rolls a new segment. Nothing is synced: the bytes are durable after the next
// Sync. An I/O error fails the log (ErrLogFailed).
func (l *Log) Append(batches []byte) error { return l.AppendAborting(batches, nil) }

// AppendAborting is Append for batches holding abort markers: aborted lists their
// transactions, by marker offset, for the aborted-transactions index of the segments
// the markers land in (durable with them, at the next Sync).
func (l *Log) AppendAborting(batches []byte, aborted []disk.AbortedTxn) error {
	if err := l.writable(); err != nil {
		return err
	}
	headers, err := l.checkAppend(batches)
	if err != nil {
		return err
	}
	if err := checkAborted(aborted, l.EndOffset(), headers[len(headers)-1].NextOffset(), l.lastAbortedMarker()); err != nil {
		return err
	}
	if err := l.writeBatches(batches, headers); err != nil {
		return l.fail(fmt.Errorf("append: %w", err))
	}
	l.addAborted(aborted)
	return nil
}

func (l *Log) checkAppend(batches []byte) ([]record.Header, error) {
	if len(batches) == 0 {
		return nil, fmt.Errorf("%w: no batches", ErrInvalidAppend)
	}
	headers := l.appendHeaders[:0]
	next := l.EndOffset()
	for pos := 0; pos < len(batches); {
		h, err := record.Check(batches[pos:])
		if err != nil {
			return nil, fmt.Errorf("%w: batch at byte %d: %w", ErrInvalidAppend, pos, err)
		}
		if h.Size() > l.cfg.BatchBytesMax {
			return nil, fmt.Errorf("%w: batch at byte %d has %d bytes, more than %d", ErrInvalidAppend, pos, h.Size(), l.cfg.BatchBytesMax)
		}
		if h.BaseOffset != next {
			return nil, fmt.Errorf("%w: batch at byte %d has base offset %d, want %d", ErrInvalidAppend, pos, h.BaseOffset, next)
		}
		headers = append(headers, h)
		next = h.NextOffset()
		pos += h.Size()
	}
	l.appendHeaders = headers
	return headers, nil
}

// writeBatches writes runs of consecutive batches with one WriteAt per segment.
func (l *Log) writeBatches(batches []byte, headers []record.Header) error {
	s := l.active()
	runStart, runFilePos, pos := 0, s.sizeBytes, 0
	for i := range headers {
		h := &headers[i]
		if l.shouldRoll(s, h) {
			if err := writeRun(s, batches[runStart:pos], runFilePos); err != nil {
				return err
			}
			var err error
			if s, err = l.roll(); err != nil {
				return err
			}
			runStart, runFilePos = pos, 0
		}
		s.addBatch(h, int64(l.cfg.IndexIntervalBytes))
		s.unsynced = true
		pos += h.Size()
	}
	return writeRun(s, batches[runStart:pos], runFilePos)
}

func writeRun(s *segment, run []byte, filePos int64) error {
	if len(run) == 0 {
		return nil
	}
	if _, err := s.logFile.WriteAt(run, filePos); err != nil {
		return fmt.Errorf("write segment %d at %d: %w", s.base, filePos, err)
	}
	return nil
}

func (l *Log) shouldRoll(s *segment, h *record.Header) bool {
	if s.empty() {
		return false
	}
	if s.sizeBytes+int64(h.Size()) > l.cfg.SegmentBytesMax {
		return true
	}
	if ageMax := l.cfg.SegmentAgeMax.Milliseconds(); ageMax > 0 && h.MaxTimestamp > s.rollTimestamp &&
		uint64(h.MaxTimestamp)-uint64(s.rollTimestamp) > uint64(ageMax) {
		return true
	}
	// The time index gets one more entry when the segment is sealed: keep room for it.
	if m := l.cfg.SegmentIndexBytesMax; m > 0 && !l.cfg.Plants.On(plant.SegmentIndexBytesIgnored) &&
		(len(s.index.buf)+offsetIndexEntryBytes > m || len(s.timeIndex.buf)+2*timeIndexEntryBytes > m) {
		return true
	}
	return h.LastOffset()-s.base > relOffsetMax
}

// roll seals the active segment, writes out its indexes (synced by the next Sync) and
// starts a new empty segment at the end offset.
func (l *Log) roll() (*segment, error) {
	old := l.active()
	old.seal()
	if err := l.writeIndexes(old); err != nil {
		return nil, err
	}
	old.unsynced = true
	s, err := l.createSegment(old.next)
	if err != nil {
		return nil, err
	}
	l.segments = append(l.segments, s)
	return s, nil
}

// createSegment creates the three empty files of a new segment.
func (l *Log) createSegment(base int64) (*segment, error) {
	s := newSegmentState(base)
	l.dirUnsynced = true
	s.unsynced = true
	var err error
	if s.logFile, err = l.createSegmentFile(s.fileName(l.dir, LogFileSuffix)); err != nil {
		return nil, fmt.Errorf("create segment %d: %w", base, err)
	}
	if s.indexFile, err = l.fsys.Create(s.fileName(l.dir, IndexFileSuffix)); err != nil {
		_ = s.closeFiles()
		return nil, fmt.Errorf("create offset index %d: %w", base, err)
	}
	if s.timeIndexFile, err = l.fsys.Create(s.fileName(l.dir, TimeIndexFileSuffix)); err != nil {
		_ = s.closeFiles()
		return nil, fmt.Errorf("create time index %d: %w", base, err)
	}
	return s, nil
}

// Sync makes everything appended so far durable: it syncs the segments written since the
// last sync (data, and the indexes of segments that are no longer active) and the
// directory if segments were created or removed, then moves the recovery point to the
// end offset. The active segment's indexes are not synced: recovery always rebuilds them.
// A failed Sync fails the log (ErrLogFailed): the caller must close and reopen it.
func (l *Log) Sync() error {
	if err := l.writable(); err != nil {
		return err
	}
	if err := l.syncAll(); err != nil {
		return l.fail(fmt.Errorf("sync: %w", err))
	}
	return nil
}

func (l *Log) syncAll() error {
	first := len(l.segments)
	for first > 0 && l.segments[first-1].unsynced {
		first--
	}
	activeIndex := len(l.segments) - 1
	for i := first; i < len(l.segments); i++ {
		if err := l.syncSegment(l.segments[i], i == activeIndex); err != nil {
			return err
		}
	}
	if err := l.syncAborted(); err != nil {
		return err
	}
	l.recoveryPoint = l.EndOffset()
	return l.maybePersistRecoveryPoint()
}

func (l *Log) syncSegment(s *segment, active bool) error {
	if err := s.logFile.Sync(); err != nil {
		return fmt.Errorf("sync segment %d: %w", s.base, err)
	}
	if !active {
		if err := l.writeIndexes(s); err != nil {
			return err
		}
		if err := s.syncIndexes(); err != nil {
			return err
		}
	}
	// The active segment's index files were written, if at all, by a roll or a
	// recovery; they need no sync.
	if err := s.closeIndexFiles(); err != nil {
		return fmt.Errorf("close indexes of segment %d: %w", s.base, err)
	}
	s.unsynced = false
	return nil
}

// maybePersistRecoveryPoint writes the checkpoint when the recovery point went backwards
// (it must never claim more than the disk holds) or moved to a later segment. Recovery
// rescans the whole segment holding the last offset below the recovery point, so
// persisting progress within a segment would buy nothing.
func (l *Log) maybePersistRecoveryPoint() error {
	if l.persisted.recoveryPoint <= l.recoveryPoint &&
		l.recoverySegmentBase(l.persisted.recoveryPoint) == l.recoverySegmentBase(l.recoveryPoint) {
		return nil
	}
	return l.persistCheckpoint()
}

// recoverySegment returns the index of the first segment recovery scans for recovery
// point rp: the one holding offset rp-1, the last one known durable. Not the one holding
// rp: when rp is a segment's end, that segment is the one that rolled last, and the final
// time index entry the roll gave it may not be synced yet.
func (l *Log) recoverySegment(rp int64) int {
	return max(l.segmentFloor(rp-1), 0)
}

func (l *Log) recoverySegmentBase(rp int64) int64 {
	return l.segments[l.recoverySegment(rp)].base
}

// persistCheckpoint durably writes the log start offset and recovery point.
func (l *Log) persistCheckpoint() error {
	c := offsetsCheckpoint{logStartOffset: l.startOffset, recoveryPoint: l.recoveryPoint}
	if err := writeOffsetsCheckpoint(l.fsys, l.dir, c); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	l.persisted = c
	// The checkpoint write synced the directory, and with it every entry in it.
	l.dirUnsynced = false
	return nil
}

// Close persists the checkpoint if it is stale, writes out the active segment's indexes
// (unless the log failed) and closes the files. It does not sync data: what was appended
// since the last Sync may be lost in a crash, as before. Closing a closed log does
// nothing.
func (l *Log) Close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	l.dropPass()
	var err error
	if l.failure == nil {
		// Unsynced, like the data they index: they only spare the next recovery a rewrite.
		err = l.writeIndexes(l.active())
		current := offsetsCheckpoint{logStartOffset: l.startOffset, recoveryPoint: l.recoveryPoint}
		if current != l.persisted {
			err = errors.Join(err, l.persistCheckpoint())
		}
	}
	for _, s := range l.segments {
		err = errors.Join(err, s.closeFiles())
	}
	if err != nil {
		return fmt.Errorf("storage: close log %s: %w", l.dir, err)
	}
	return nil
}
