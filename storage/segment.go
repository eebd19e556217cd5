package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"

	"github.com/seedlog/seedlog/core/record"
)

// File name extensions of a segment's three files.
const (
	LogFileSuffix       = ".log"
	IndexFileSuffix     = ".index"
	TimeIndexFileSuffix = ".timeindex"
	// TxnIndexFileSuffix names a segment's aborted-transactions index, present only
	// when the segment holds abort markers.
	TxnIndexFileSuffix = ".txnindex"
)

const segmentNameDigits = 20

// segmentNameZeros pads a base offset to segmentNameDigits.
const segmentNameZeros = "00000000000000000000"

// SegmentFileName returns the name of a segment file: the base offset in 20 decimal
// digits, then the suffix, as Kafka names them.
func SegmentFileName(baseOffset int64, suffix string) string {
	if baseOffset < 0 {
		return fmt.Sprintf("%0*d%s", segmentNameDigits, baseOffset, suffix)
	}
	// Without fmt: a log names its segments' files at every roll, deletion and recovery.
	var digits [segmentNameDigits]byte
	d := strconv.AppendInt(digits[:0], baseOffset, 10)
	return segmentNameZeros[len(d):] + string(d) + suffix
}

// parseSegmentFileName returns the base offset and suffix of a segment file name, or
// ok=false for any other name.
func parseSegmentFileName(name string) (base int64, suffix string, ok bool) {
	if len(name) <= segmentNameDigits {
		return 0, "", false
	}
	digits, suffix := name[:segmentNameDigits], name[segmentNameDigits:]
	switch suffix {
	case LogFileSuffix, IndexFileSuffix, TimeIndexFileSuffix, TxnIndexFileSuffix:
	default:
		return 0, "", false
	}
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return 0, "", false
		}
	}
	base, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, "", false
	}
	return base, suffix, true
}

// segment is one segment of a log: a .log file of batches whose offsets run densely from
// base to next, and its two indexes (kept in memory, see offsetIndex).
type segment struct {
	base int64
	next int64 // offset after the segment's last batch; base when empty
	// sizeBytes is the length of the valid batches; the file never holds more once
	// OpenLog has returned, except transiently inside a failed operation.
	sizeBytes int64
	// maxTimestamp is the largest batch max timestamp, floored at noTimestamp.
	maxTimestamp int64
	// rollTimestamp is the max timestamp of the first batch: SegmentAgeMax counts from it.
	rollTimestamp int64
	// lastBatchBase is the base offset of the last batch (meaningful when not empty).
	lastBatchBase int64

	index     offsetIndex
	timeIndex timeIndex
	aborted   abortedIndex

	// logFile is a file of the log's FileCache (a .cleaning run's file while compaction
	// writes it).
	logFile File
	// indexFile and timeIndexFile are open from a write of index bytes until the next
	// sync of the segment; nil otherwise.
	indexFile     File
	timeIndexFile File

	// unsynced is set while the segment holds bytes (data or index) written since its
	// last sync. Unsynced segments always form a suffix of the log.
	unsynced bool
}

func newSegmentState(base int64) *segment {
	return &segment{base: base, next: base, maxTimestamp: noTimestamp, rollTimestamp: noTimestamp}
}

func (s *segment) empty() bool { return s.sizeBytes == 0 }

// forget resets what the segment knows about its contents to an empty segment, keeping
// its open files, so that a scan can add the batches back.
func (s *segment) forget() {
	fresh := newSegmentState(s.base)
	fresh.logFile, fresh.indexFile, fresh.timeIndexFile = s.logFile, s.indexFile, s.timeIndexFile
	fresh.aborted = s.aborted
	*s = *fresh
}

func (s *segment) fileName(dir, suffix string) string {
	return path.Join(dir, SegmentFileName(s.base, suffix))
}

// addBatch records a batch written at the end of the segment: sizes, offsets, and the
// index entries due. An offset index entry goes to the first batch and then to the first
// batch at least indexIntervalBytes after the previously indexed one; at the same points
// the time index gets an entry if the running max timestamp grew.
func (s *segment) addBatch(h *record.Header, indexIntervalBytes int64) {
	pos := s.sizeBytes
	rel := uint32(h.BaseOffset - s.base)
	if s.empty() {
		s.rollTimestamp = h.MaxTimestamp
	}
	s.maxTimestamp = max(s.maxTimestamp, h.MaxTimestamp)
	if last := s.index.lastPos(); last < 0 || pos-last >= indexIntervalBytes {
		s.index.append(rel, uint32(pos))
		if s.maxTimestamp > s.timeIndex.lastTimestamp() {
			s.timeIndex.append(s.maxTimestamp, rel)
		}
	}
	s.sizeBytes += int64(h.Size())
	s.next = h.NextOffset()
	s.lastBatchBase = h.BaseOffset
}

// seal gives the time index a final entry carrying the segment's max timestamp, so that
// after a restart the maximum of a segment nobody scans is exact. Called when the segment
// stops being the active one.
func (s *segment) seal() {
	if s.maxTimestamp > s.timeIndex.lastTimestamp() {
		s.timeIndex.append(s.maxTimestamp, uint32(s.lastBatchBase-s.base))
	}
}

// flushIndexes writes the in-memory index bytes the files lack, and cuts the files if
// they hold more (after a truncation). It does not sync.
func (s *segment) flushIndexes() error {
	if err := flushIndexFile(s.indexFile, s.index.buf, &s.index.flushedBytes); err != nil {
		return fmt.Errorf("offset index of segment %d: %w", s.base, err)
	}
	if err := flushIndexFile(s.timeIndexFile, s.timeIndex.buf, &s.timeIndex.flushedBytes); err != nil {
		return fmt.Errorf("time index of segment %d: %w", s.base, err)
	}
	return nil
}

func flushIndexFile(f File, buf []byte, flushedBytes *int) error {
	if f == nil {
		return errors.New("index file is not open")
	}
	if *flushedBytes > len(buf) {
		if err := f.Truncate(int64(len(buf))); err != nil {
			return err
		}
		*flushedBytes = len(buf)
	}
	if *flushedBytes == len(buf) {
		return nil
	}
	if _, err := f.WriteAt(buf[*flushedBytes:], int64(*flushedBytes)); err != nil {
		return err
	}
	*flushedBytes = len(buf)
	return nil
}

// syncIndexes syncs both index files.
func (s *segment) syncIndexes() error {
	if err := s.indexFile.Sync(); err != nil {
		return fmt.Errorf("sync offset index of segment %d: %w", s.base, err)
	}
	if err := s.timeIndexFile.Sync(); err != nil {
		return fmt.Errorf("sync time index of segment %d: %w", s.base, err)
	}
	return nil
}

// closeIndexFiles closes the index files if they are open.
func (s *segment) closeIndexFiles() error {
	var errs []error
	for _, f := range []*File{&s.indexFile, &s.timeIndexFile} {
		if *f != nil {
			errs = append(errs, (*f).Close())
			*f = nil
		}
	}
	return errors.Join(errs...)
}

// closeFiles closes every open file of the segment.
func (s *segment) closeFiles() error {
	err := errors.Join(s.closeIndexFiles(), s.closeAbortedFile())
	if s.logFile != nil {
		err = errors.Join(err, s.logFile.Close())
		s.logFile = nil
	}
	return err
}

// openIndexFiles opens (creating if missing) the index files of a segment so that they
// can be written. It reports whether it created a file, which then needs a directory sync
// to be durable. The caller has made sure the contents of a file that exists match
// flushedBytes; a file created here holds nothing yet.
func (s *segment) openIndexFiles(fsys FS, dir string) (created bool, err error) {
	if s.indexFile == nil {
		var c bool
		if s.indexFile, c, err = openOrCreate(fsys, s.fileName(dir, IndexFileSuffix)); err != nil {
			return created, err
		}
		if c {
			s.index.flushedBytes = 0
		}
		created = created || c
	}
	if s.timeIndexFile == nil {
		var c bool
		if s.timeIndexFile, c, err = openOrCreate(fsys, s.fileName(dir, TimeIndexFileSuffix)); err != nil {
			return created, err
		}
		if c {
			s.timeIndex.flushedBytes = 0
		}
		created = created || c
	}
	return created, nil
}

// openOrCreate opens name, creating it empty if it does not exist.
func openOrCreate(fsys FS, name string) (f File, created bool, err error) {
	f, err = fsys.Open(name)
	if err == nil {
		return f, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("open %s: %w", name, err)
	}
	if f, err = fsys.Create(name); err != nil {
		return nil, false, fmt.Errorf("create %s: %w", name, err)
	}
	return f, true, nil
}

// removeSegmentFiles removes the files of the segment based at base, ignoring
// files that do not exist.
func removeSegmentFiles(fsys FS, dir string, base int64) error {
	return removeFiles(fsys, dir, base, TxnIndexFileSuffix, IndexFileSuffix, TimeIndexFileSuffix, LogFileSuffix)
}

// removeFiles removes the files of the segment based at base with the suffixes given,
// ignoring files that do not exist.
func removeFiles(fsys FS, dir string, base int64, suffixes ...string) error {
	for _, suffix := range suffixes {
		name := path.Join(dir, SegmentFileName(base, suffix))
		if err := fsys.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", name, err)
		}
	}
	return nil
}

// writeIndexes writes out what the index files of s lack, opening them first if they
// are closed (creating a missing one, whose entry the next directory sync makes
// durable). It does not sync.
func (l *Log) writeIndexes(s *segment) error {
	created, err := s.openIndexFiles(l.fsys, l.dir)
	if err != nil {
		return err
	}
	l.dirUnsynced = l.dirUnsynced || created
	return s.flushIndexes()
}
