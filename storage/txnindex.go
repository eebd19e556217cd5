package storage

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"path"
	"slices"
	"strings"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/plant"
)

// abortedEntryBytes is the size of one entry of a .txnindex file (layout in doc.go).
const abortedEntryBytes = 36

// abortedIndex is a segment's aborted-transactions index: the aborted transactions whose
// marker lies in the segment, by marker offset. Unlike the offset and time indexes it
// cannot be rebuilt from the segment alone (a transaction's first offset may lie in an
// earlier one), so its file is written and synced with the data, at every Sync.
type abortedIndex struct {
	entries []disk.AbortedTxn
	// flushed is how many entries the file holds; file is open only while
	// syncAbortedFile writes it.
	flushed int
	file    File
	// dirty is set while the file differs from the entries or is not synced; rewrite
	// when it must be written anew rather than cut or extended.
	dirty, rewrite bool
	// damaged: recovery found the file torn or damaged. It is left as it is, the
	// evidence for the next recovery, until the owner lists the aborts again
	// (SetAborted): a crash before that must report the damage again.
	damaged bool
}

func encodeAbortedEntry(b []byte, e disk.AbortedTxn) []byte {
	start := len(b)
	b = binary.BigEndian.AppendUint64(b, uint64(e.ProducerID))
	b = binary.BigEndian.AppendUint64(b, uint64(e.FirstOffset))
	b = binary.BigEndian.AppendUint64(b, uint64(e.MarkerOffset))
	b = binary.BigEndian.AppendUint64(b, uint64(e.StableOffset))
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

func encodeAbortedEntries(entries []disk.AbortedTxn) []byte {
	b := make([]byte, 0, len(entries)*abortedEntryBytes)
	for _, e := range entries {
		b = encodeAbortedEntry(b, e)
	}
	return b
}

// decodeAbortedIndex returns the entries of a .txnindex file of the segment covering
// offsets [base, end) up to the first one that is not whole, fails its CRC, or does not
// fit: markers strictly rising inside the segment, a first offset at or below its
// marker, a stable offset in [0, marker+1]. problem says why it stopped early, empty
// when every byte was read.
func decodeAbortedIndex(buf []byte, base, end int64) (entries []disk.AbortedTxn, problem string) {
	prev := base - 1
	for pos := 0; pos < len(buf); pos += abortedEntryBytes {
		if len(buf)-pos < abortedEntryBytes {
			return entries, fmt.Sprintf("%d bytes of a partial entry at byte %d", len(buf)-pos, pos)
		}
		b := buf[pos : pos+abortedEntryBytes]
		if crc32.Checksum(b[:32], castagnoli) != binary.BigEndian.Uint32(b[32:]) {
			return entries, fmt.Sprintf("entry at byte %d fails its CRC", pos)
		}
		e := disk.AbortedTxn{
			ProducerID:   int64(binary.BigEndian.Uint64(b)),
			FirstOffset:  int64(binary.BigEndian.Uint64(b[8:])),
			MarkerOffset: int64(binary.BigEndian.Uint64(b[16:])),
			StableOffset: int64(binary.BigEndian.Uint64(b[24:])),
		}
		if e.MarkerOffset <= prev || e.MarkerOffset >= end || e.FirstOffset < 0 || e.FirstOffset > e.MarkerOffset ||
			e.StableOffset < 0 || e.StableOffset > e.MarkerOffset+1 || e.ProducerID < 0 {
			return entries, fmt.Sprintf("entry at byte %d %+v does not fit the segment [%d, %d) after marker %d", pos, e, base, end, prev)
		}
		entries = append(entries, e)
		prev = e.MarkerOffset
	}
	return entries, ""
}

// checkAborted checks entries for an append of the batches that end the log at next,
// after a log whose newest entry's marker is last: markers rising inside the append, each
// first offset at or below its marker and at or above 0, stable offsets in [0, marker+1].
func checkAborted(entries []disk.AbortedTxn, from, next, last int64) error {
	for _, e := range entries {
		if e.MarkerOffset < from || e.MarkerOffset >= next || e.MarkerOffset <= last || e.FirstOffset < 0 ||
			e.FirstOffset > e.MarkerOffset || e.StableOffset < 0 || e.StableOffset > e.MarkerOffset+1 || e.ProducerID < 0 {
			return fmt.Errorf("%w: aborted transaction %+v outside [%d, %d) or after marker %d", ErrInvalidAppend, e, from, next, last)
		}
		last = e.MarkerOffset
	}
	return nil
}

// lastAbortedMarker is the marker of the newest entry of the log's index, or -1.
func (l *Log) lastAbortedMarker() int64 {
	for i := len(l.segments) - 1; i >= 0; i-- {
		if es := l.segments[i].aborted.entries; len(es) > 0 {
			return es[len(es)-1].MarkerOffset
		}
	}
	return -1
}

// addAborted files entries, checked by checkAborted, in the segments holding their
// markers.
func (l *Log) addAborted(entries []disk.AbortedTxn) {
	for _, e := range entries {
		x := &l.segments[l.segmentFloor(e.MarkerOffset)].aborted
		// After a cut (SetAborted), an entry may take the place of one the file holds:
		// the file is written anew, as appending after the cut would keep the old one.
		x.rewrite = x.rewrite || len(x.entries) < x.flushed
		x.entries = append(x.entries, e)
		x.dirty = true
	}
}

// Aborted returns the aborted transactions whose range, from first offset to marker,
// overlaps [from, to): the entries with a marker at or above from and a first offset
// below to, in marker order (with to == from: those a cut at from splits). It reads the indexes of the segments from the one holding
// from, and stops at the first entry whose stable offset reaches to (no later
// transaction began below it).
func (l *Log) Aborted(from, to int64) ([]disk.AbortedTxn, error) {
	if err := l.usable(); err != nil {
		return nil, err
	}
	var out []disk.AbortedTxn
	last := len(l.segments)
	if l.cfg.Plants.On(plant.AbortedLookupOneSegment) {
		last = min(max(l.segmentFloor(from), 0)+1, last)
	}
	for i := max(l.segmentFloor(from), 0); i < last; i++ {
		for _, e := range l.segments[i].aborted.entries {
			if e.MarkerOffset >= from && e.FirstOffset < to {
				out = append(out, e)
			}
			if e.StableOffset >= to && e.MarkerOffset >= from {
				return out, nil
			}
		}
	}
	return out, nil
}

// TxnIndexIncompleteName names the file that says, durably, that the log's
// aborted-transactions index may lack entries with a marker at or above an offset.
// Recovery writes it when it finds a .txnindex file torn or damaged, before anything
// moves an entry: a fencing or a compaction may then rewrite what was kept of the
// damaged file as a whole, valid file, and a crash before the owner lists the aborts
// again (SetAborted) would forget the damage. SetAborted removes it.
const TxnIndexIncompleteName = "txnindex-incomplete"

const txnIndexIncompleteMagic = "seedlog-txnindex-incomplete 1"

func encodeTxnIndexIncomplete(from int64) []byte {
	return withCRCLine(fmt.Sprintf("%s\nfrom %d\n", txnIndexIncompleteMagic, from))
}

func decodeTxnIndexIncomplete(data []byte) (int64, error) {
	body, err := checkCRCLine(data, TxnIndexIncompleteName)
	if err != nil {
		return 0, err
	}
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	if len(lines) != 2 || lines[0] != txnIndexIncompleteMagic {
		return 0, fmt.Errorf("%w: %s: unexpected layout", ErrBadCheckpoint, TxnIndexIncompleteName)
	}
	from, err := parseNamedOffset(lines[1], "from")
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %v", ErrBadCheckpoint, TxnIndexIncompleteName, err)
	}
	return from, nil
}

// markAbortedIncomplete folds the durable mark of an earlier recovery into what
// readAborted found, and makes what it found durable in the mark: the damage is then
// reported again after any crash until SetAborted has repaired it. A garbled mark
// says nothing of where the damage began: the whole index is taken as suspect.
func (l *Log) markAbortedIncomplete(listed bool) error {
	r := &l.recovery
	if listed {
		from, err := l.readTxnIndexIncomplete()
		reason := fmt.Sprintf("an earlier recovery found the index damaged from %d", from)
		switch {
		case errors.Is(err, ErrBadCheckpoint):
			from, reason = 0, err.Error()
		case err != nil:
			return err
		}
		l.abortedIncompleteFrom = from
		if r.AbortedCutOffset < 0 || from < r.AbortedCutOffset {
			r.AbortedCutOffset, r.AbortedCutReason = from, reason
		}
	}
	if r.AbortedCutOffset < 0 || (l.abortedIncompleteFrom >= 0 && l.abortedIncompleteFrom <= r.AbortedCutOffset) {
		return nil
	}
	if err := WriteFileAtomic(l.fsys, path.Join(l.dir, TxnIndexIncompleteName), encodeTxnIndexIncomplete(r.AbortedCutOffset)); err != nil {
		return err
	}
	l.abortedIncompleteFrom = r.AbortedCutOffset
	return nil
}

// readTxnIndexIncomplete reads the mark's offset, or an error wrapping ErrBadCheckpoint
// when the file is too large to be one or does not decode.
func (l *Log) readTxnIndexIncomplete() (int64, error) {
	data, err := ReadFileAtMost(l.fsys, path.Join(l.dir, TxnIndexIncompleteName), smallFileBytesMax)
	if errors.Is(err, ErrFileTooLarge) {
		return 0, fmt.Errorf("%w: %s: %v", ErrBadCheckpoint, TxnIndexIncompleteName, err)
	}
	if err != nil {
		return 0, err
	}
	return decodeTxnIndexIncomplete(data)
}

// SetAborted makes the index hold exactly entries among those whose marker is at or
// above from (every marker in [from, end offset), rising), durably, but for the entries
// it holds of transactions with a batch or marker in a fenced range: a replay of the
// log cannot list them again, as it reads nothing there, so they stay unless entries
// has one with the same marker. It also rewrites the files recovery found damaged, with
// the entries kept of them: the owner calls it after listing the aborts the damage may
// have lost.
func (l *Log) SetAborted(from int64, entries []disk.AbortedTxn) error {
	if err := l.writable(); err != nil {
		return err
	}
	if err := checkAborted(entries, from, l.EndOffset(), from-1); err != nil {
		return err
	}
	if unseen := l.abortedInFences(from); len(unseen) > 0 {
		entries = mergeAborted(unseen, entries)
	}
	for _, s := range l.segments {
		if s.aborted.damaged {
			s.aborted.damaged, s.aborted.dirty, s.aborted.rewrite = false, true, true
		}
	}
	l.cutAborted(from)
	l.addAborted(entries)
	if err := l.syncAborted(); err != nil {
		return l.fail(fmt.Errorf("set aborted transactions from %d: %w", from, err))
	}
	// The mark goes once the entries it may lack are listed again: those from it on,
	// or all the log still holds.
	if l.abortedIncompleteFrom >= 0 && from <= max(l.abortedIncompleteFrom, l.startOffset) {
		if err := l.fsys.Remove(path.Join(l.dir, TxnIndexIncompleteName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return l.fail(fmt.Errorf("set aborted transactions from %d: remove %s: %w", from, TxnIndexIncompleteName, err))
		}
		l.abortedIncompleteFrom = -1
		l.dirUnsynced = true
		if err := l.syncDirIfChanged(); err != nil {
			return l.fail(fmt.Errorf("set aborted transactions from %d: %w", from, err))
		}
	}
	return nil
}

// abortedInFences lists the entries with a marker at or above from whose transaction
// reaches into a fenced range: from its first offset to its marker, it overlaps one.
func (l *Log) abortedInFences(from int64) []disk.AbortedTxn {
	var out []disk.AbortedTxn
	for _, s := range l.segments {
		for _, e := range s.aborted.entries {
			if e.MarkerOffset >= from && slices.ContainsFunc(l.fences, func(f Fence) bool {
				return f.From <= e.MarkerOffset && e.FirstOffset < f.To
			}) {
				out = append(out, e)
			}
		}
	}
	return out
}

// mergeAborted joins two lists of entries sorted by marker; for a marker in both, the
// one of kept.
func mergeAborted(kept, listed []disk.AbortedTxn) []disk.AbortedTxn {
	out := slices.Concat(kept, listed)
	slices.SortStableFunc(out, func(a, b disk.AbortedTxn) int { return cmp.Compare(a.MarkerOffset, b.MarkerOffset) })
	return slices.CompactFunc(out, func(a, b disk.AbortedTxn) bool { return a.MarkerOffset == b.MarkerOffset })
}

// cutAborted drops the entries whose marker is at or above offset.
func (l *Log) cutAborted(offset int64) {
	for _, s := range l.segments {
		x := &s.aborted
		i, _ := slices.BinarySearchFunc(x.entries, offset, func(e disk.AbortedTxn, off int64) int {
			return cmp.Compare(e.MarkerOffset, off)
		})
		if i < len(x.entries) {
			x.entries = x.entries[:i]
			x.dirty = true
		}
	}
}

// syncAborted writes and syncs the index files of every segment whose entries changed.
func (l *Log) syncAborted() error {
	for _, s := range l.segments {
		if err := l.syncAbortedFile(s); err != nil {
			return err
		}
	}
	return l.syncDirIfChanged()
}

// syncDirIfChanged syncs the log's directory if entries changed in it since its last sync.
func (l *Log) syncDirIfChanged() error {
	if !l.dirUnsynced {
		return nil
	}
	if err := l.fsys.SyncDir(l.dir); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	l.dirUnsynced = false
	return nil
}

// syncAbortedFile brings segment s's .txnindex file to its entries and syncs it, when
// they changed: the file is created at the first entry, cut when entries went, and
// removed when none is left.
func (l *Log) syncAbortedFile(s *segment) error {
	x := &s.aborted
	if !x.dirty || x.damaged {
		return nil
	}
	name := s.fileName(l.dir, TxnIndexFileSuffix)
	if len(x.entries) == 0 {
		if x.file != nil {
			if err := x.file.Close(); err != nil {
				return fmt.Errorf("close %s: %w", name, err)
			}
			x.file = nil
		}
		if err := l.fsys.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", name, err)
		}
		x.flushed, x.dirty = 0, false
		l.dirUnsynced = true
		return nil
	}
	if x.rewrite {
		// Never cut to nothing and then written: a crash in between would lose synced
		// entries without a trace.
		if err := s.closeAbortedFile(); err != nil {
			return fmt.Errorf("close %s: %w", name, err)
		}
		if err := WriteFileAtomic(l.fsys, name, encodeAbortedEntries(x.entries)); err != nil {
			return err
		}
		x.flushed, x.rewrite, x.dirty = len(x.entries), false, false
		return nil
	}
	if x.file == nil {
		f, created, err := openOrCreate(l.fsys, name)
		if err != nil {
			return err
		}
		x.file = f
		l.dirUnsynced = l.dirUnsynced || created
	}
	if x.flushed > len(x.entries) {
		if err := x.file.Truncate(int64(len(x.entries) * abortedEntryBytes)); err != nil {
			return fmt.Errorf("truncate %s: %w", name, err)
		}
		x.flushed = len(x.entries)
	}
	if x.flushed < len(x.entries) {
		if _, err := x.file.WriteAt(encodeAbortedEntries(x.entries[x.flushed:]), int64(x.flushed*abortedEntryBytes)); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		x.flushed = len(x.entries)
	}
	if err := x.file.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", name, err)
	}
	x.dirty = false
	// Closed until the next change: a log keeps no descriptor per segment for it.
	return s.closeAbortedFile()
}

// closeAbortedFile closes the segment's .txnindex file if it is open.
func (s *segment) closeAbortedFile() error {
	if s.aborted.file == nil {
		return nil
	}
	err := s.aborted.file.Close()
	s.aborted.file = nil
	return err
}

// readAborted reads the .txnindex files of the segments OpenLog found, before recovery
// validates them: each keeps its entries up to the first that is not whole, fails its
// CRC or does not fit (markers rising from the segment's base, below the next one's).
// RecoveryReport.AbortedCutOffset says from where entries may be missing. What recovery
// cuts or moves next is settled by refileAborted.
func (l *Log) readAborted() error {
	for i, s := range l.segments {
		end := int64(math.MaxInt64)
		if i+1 < len(l.segments) {
			end = l.segments[i+1].base
		}
		buf, err := ReadFile(l.fsys, s.fileName(l.dir, TxnIndexFileSuffix))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		entries, problem := decodeAbortedIndex(buf, s.base, end)
		s.aborted = abortedIndex{entries: entries, flushed: len(entries)}
		if problem == "" {
			continue
		}
		s.aborted.damaged = true
		cut := s.base
		if len(entries) > 0 {
			cut = entries[len(entries)-1].MarkerOffset + 1
		}
		if l.recovery.AbortedCutOffset < 0 || cut < l.recovery.AbortedCutOffset {
			l.recovery.AbortedCutOffset, l.recovery.AbortedCutReason = cut, fmt.Sprintf("segment %d: %s", s.base, problem)
		}
	}
	return nil
}

// refileAborted puts every entry in the segment holding its marker (the last segment
// based at or below it), once, after segments were cut, split or removed: entries whose
// marker the log no longer reaches go, and a segment whose entries changed is written
// at the next sync.
func (l *Log) refileAborted() {
	var all []disk.AbortedTxn
	for _, s := range l.segments {
		all = append(all, s.aborted.entries...)
	}
	slices.SortStableFunc(all, func(a, b disk.AbortedTxn) int { return cmp.Compare(a.MarkerOffset, b.MarkerOffset) })
	all = slices.CompactFunc(all, func(a, b disk.AbortedTxn) bool { return a.MarkerOffset == b.MarkerOffset })
	end := l.EndOffset()
	for i, s := range l.segments {
		segEnd := end
		if i+1 < len(l.segments) {
			segEnd = l.segments[i+1].base
		}
		var mine []disk.AbortedTxn
		for len(all) > 0 && all[0].MarkerOffset < segEnd {
			if all[0].MarkerOffset >= s.base {
				mine = append(mine, all[0])
			}
			all = all[1:]
		}
		if !slices.Equal(mine, s.aborted.entries) {
			s.aborted.entries = mine
			s.aborted.dirty, s.aborted.rewrite = true, true
		}
	}
}

// moveAbortedOut moves, before segment i is cut by a fencing that ends at b, its entries
// with a marker at or above b to the segment after it (based at b), and when the segment
// goes (gone) the others to the segment before it: the transactions aborted in the
// fenced part may have records before it, still read. Both files are durable before
// the segment is cut; a crash in between leaves an entry twice, which recovery files
// once (refileAborted).
func (l *Log) moveAbortedOut(i int, b int64, gone bool) error {
	s := l.segments[i]
	var stay, later []disk.AbortedTxn
	for _, e := range s.aborted.entries {
		if e.MarkerOffset >= b {
			later = append(later, e)
		} else {
			stay = append(stay, e)
		}
	}
	var touched []*segment
	if len(later) > 0 && i+1 < len(l.segments) && l.segments[i+1].base == b {
		n := l.segments[i+1]
		n.aborted.entries = append(later, n.aborted.entries...)
		n.aborted.dirty, n.aborted.rewrite = true, true
		touched = append(touched, n)
	}
	if gone && len(stay) > 0 && i > 0 {
		prev := l.segments[i-1]
		prev.aborted.entries = append(prev.aborted.entries, stay...)
		prev.aborted.dirty = true
		touched = append(touched, prev)
	}
	for _, t := range touched {
		if err := l.syncAbortedFile(t); err != nil {
			return err
		}
	}
	if err := l.syncDirIfChanged(); err != nil {
		return err
	}
	if !gone && len(later) > 0 {
		s.aborted.entries = stay
		s.aborted.dirty = true
		return l.syncAbortedFile(s)
	}
	return nil
}

// writeAbortedFile writes entries as a new .txnindex file name and syncs it.
func writeAbortedFile(fsys FS, name string, entries []disk.AbortedTxn) error {
	buf := encodeAbortedEntries(entries)
	f, err := fsys.Create(name)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	_, err = f.WriteAt(buf, 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
