package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/seedlog/seedlog/core/compact"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
)

// File names of compaction (formats in doc.go).
const (
	// CleanerPassesName is the log's cleaning history: where each pass ended and when.
	CleanerPassesName = "cleaner-passes"
	// cleaningSuffix ends a cleaned segment being written; swapSuffix one written in
	// full, whose rename to <base>.log is under way.
	cleaningSuffix = ".cleaning"
	swapSuffix     = ".swap"
	txnSwapSuffix  = ".txnswap"
)

// DefaultDedupeBytes is Kafka's log.cleaner.dedupe.buffer.size default.
const DefaultDedupeBytes = 128 << 20

// recordsBytesMax bounds what the records of one batch may decompress to in a pass: the
// size the produce path allows (core/partition's decompression cap is the same order).
const recordsBytesMax = 64 << 20

// cleanChunkBytes is how much of a segment a pass reads, and buffers for writing, at once.
const cleanChunkBytes = 256 << 10

// CleanReport says what a cleaning pass did. Cleaned is false when the log was not due.
type CleanReport struct {
	Cleaned bool
	// More: the step ended at its budget with the pass under way; the next CleanStep
	// continues it. The other fields then describe the pass so far.
	More bool
	// StepBytes is what the step read and wrote (the cleaner's I/O throttle counts it).
	StepBytes int64
	// DirtyEnd is the offset below which the log is clean after the pass.
	DirtyEnd int64
	// SegmentsIn and SegmentsOut count the segments the pass rewrote and wrote.
	SegmentsIn, SegmentsOut int
	BytesIn, BytesOut       int64
	// RecordsIn counts the records read; RecordsRemoved those the pass dropped, of which
	// TombstonesRemoved were tombstones.
	RecordsIn, RecordsRemoved, TombstonesRemoved int64
	// KeysMapped is how many keys the pass's offset map held.
	KeysMapped int
}

// ErrDedupeBufferSmall: the cleaner's offset map cannot hold the keys of a single dirty
// segment (log.cleaner.dedupe.buffer.size is too small for the log); nothing changed.
var ErrDedupeBufferSmall = errors.New("storage: cleaner offset map too small for one segment")

// Clean runs a whole compaction pass in one call: CleanStep without a step budget.
func (l *Log) Clean(bound int64, p compact.Policy) (CleanReport, error) {
	return l.CleanStep(bound, p, 0)
}

// CleanStep carries the log's compaction pass (see package core/compact) forward by
// about stepBytes of reading and writing, or to its end when stepBytes is 0, and reports
// More while work is left. With no pass under way it starts one over the closed segments
// that end at or below bound and at or below the recovery point; a pass keeps the bound
// and policy it started with, and takes only p.NowMs from later steps (the history
// records the pass at the time it ends). Between steps the log serves every other call;
// a call that changes its segments other than at the end (TruncateTo,
// TruncateFullyAndStartAt, a DeleteBelow that deletes, CheckDamage) drops the pass, and
// the next step starts anew.
//
// The pass is crash-safe: each run of rewritten segments is replaced as a whole or not
// at all (doc.go, "Compaction"). Damage met while reading ends the pass with an error
// wrapping ErrCorrupt (at the returned DirtyEnd): the runs already swapped in stay,
// whole, and the history does not advance, so the next pass does their work again. An
// I/O error fails the log.
func (l *Log) CleanStep(bound int64, p compact.Policy, stepBytes int64) (CleanReport, error) {
	if err := l.writable(); err != nil {
		return CleanReport{DirtyEnd: l.startOffset}, err
	}
	if l.pass == nil {
		c, rep, ok := l.planPass(bound, p)
		if !ok {
			return rep, nil
		}
		l.pass = c
	}
	c := l.pass
	c.endMs = max(c.endMs, p.NowMs)
	c.stepBytes, c.spent = stepBytes, 0
	done, err := c.step()
	c.rep.StepBytes = c.spent
	rep := c.rep
	if err != nil {
		l.dropPass()
		return rep, err
	}
	if !done {
		rep.More = true
		return rep, nil
	}
	l.pass = nil
	dirtyEnd := max(c.segs[c.mapped-1].NextOffset, rep.DirtyEnd)
	l.passes = c.passes.Swept(c.p).Add(dirtyEnd, c.endMs, l.startOffset)
	if err := writePasses(l.fsys, l.dir, l.passes); err != nil {
		return rep, l.fail(fmt.Errorf("clean: %w", err))
	}
	rep.Cleaned, rep.DirtyEnd = true, dirtyEnd
	return rep, nil
}

// planPass starts a pass when the log is due for one (compact.Plan).
func (l *Log) planPass(bound int64, p compact.Policy) (*cleanPass, CleanReport, bool) {
	bound = min(bound, l.recoveryPoint)
	var segs []compact.Segment
	for _, s := range l.segments[:len(l.segments)-1] {
		if s.next > bound {
			break
		}
		segs = append(segs, compact.Segment{BaseOffset: s.base, NextOffset: s.next, SizeBytes: s.sizeBytes, MaxTimestamp: s.maxTimestamp,
			IndexBytes: int64(max(len(s.index.buf), len(s.timeIndex.buf)))})
	}
	if l.cfg.Plants.On(plant.CompactionLagIgnored) {
		p.LagMinMs = 0
	}
	passes := l.passes.Clip(l.startOffset, l.EndOffset())
	rep := CleanReport{DirtyEnd: max(passes.Cleaned(), l.startOffset)}
	rng, ok := compact.Plan(segs, passes, p)
	if !ok {
		return nil, rep, false
	}
	if l.offsetMap == nil {
		l.offsetMap = compact.NewOffsetMap(l.cfg.DedupeBytes)
	}
	l.offsetMap.Clear()
	c := &cleanPass{
		cleaner: cleaner{l: l, m: l.offsetMap, p: p, passes: passes, producers: map[int64]int64{}, rep: rep},
		segs:    segs, rng: rng, endMs: p.NowMs, seg: rng.First,
	}
	c.at = batchCursor{expected: l.segments[rng.First].base}
	return c, rep, true
}

// dropPass ends the pass under way, if any, leaving the log as its last swap left it.
// The run being written is removed; a crash before that is cleaned up by recovery.
func (l *Log) dropPass() {
	if l.pass == nil {
		return
	}
	if w := l.pass.run; w != nil {
		_ = w.s.logFile.Close()
		_ = l.fsys.Remove(w.name)
	}
	l.pass = nil
}

// cleanPass is a pass under way. It maps the keys of the dirty segments (phaseMap),
// finds each producer's last batch in the segments it will rewrite (phaseProducers),
// then rewrites them run by run, last run first so that the indexes of the segments
// before stay where they were (phaseRewrite). Segment indexes stay valid across steps:
// between them the log only appends or rolls, or drops the pass.
type cleanPass struct {
	cleaner
	segs []compact.Segment // the closed segments below the bound when the pass began
	rng  compact.Range
	// endMs is the newest clock a step was given: the history records the pass then.
	endMs int64
	phase passPhase
	seg   int         // the segment the phase walks
	at    batchCursor // and where in it
	// mapped: the segments below it are rewritten, the map holding every key in them.
	mapped int
	groups []int
	g      int        // the run being rewritten: segments [groups[g], groups[g+1])
	run    *runWriter // its file, open across steps; nil between runs
}

type passPhase int

const (
	phaseMap passPhase = iota
	phaseProducers
	phaseRewrite
)

// batchCursor is where a walk of a segment stands: a byte position and the offset the
// batch there must start at.
type batchCursor struct{ pos, expected int64 }

// step runs the pass until the step's budget is spent (false) or the pass is done.
func (c *cleanPass) step() (bool, error) {
	l := c.l
	for c.phase == phaseMap {
		if c.seg == c.rng.End {
			c.endMapping()
			break
		}
		full, done, err := c.mapSegment(l.segments[c.seg], &c.at)
		if err != nil {
			return false, err
		}
		if full {
			c.endMapping()
			break
		}
		if !done {
			return false, nil
		}
		c.nextSegment()
	}
	if c.phase == phaseProducers && c.mapped == c.rng.First && c.rng.End > c.rng.First {
		return false, fmt.Errorf("%w: %s: segment %d, %d bytes of map", ErrDedupeBufferSmall, l.dir, c.segs[c.rng.First].BaseOffset, c.m.SizeBytes())
	}
	for c.phase == phaseProducers {
		if c.seg == c.mapped {
			c.groups = compact.Groups(c.segs, c.mapped, l.cfg.SegmentBytesMax, int64(l.cfg.SegmentIndexBytesMax),
				func(i int) bool { return c.segs[i-1].NextOffset == c.segs[i].BaseOffset })
			c.phase, c.g = phaseRewrite, len(c.groups)-2
			break
		}
		done, err := c.walk(l.segments[c.seg], &c.at, c.noteProducer)
		if err != nil || !done {
			return false, err
		}
		c.nextSegment()
	}
	for ; c.g >= 0; c.g-- {
		if c.run == nil {
			if err := c.openRun(); err != nil {
				return false, err
			}
		}
		for c.seg < c.groups[c.g+1] {
			s := l.segments[c.seg]
			if c.at.pos == 0 {
				c.rep.SegmentsIn++
				c.rep.BytesIn += s.sizeBytes
			}
			done, err := c.walk(s, &c.at, c.run.batch)
			if err != nil || !done {
				return false, err
			}
			c.nextSegment()
		}
		if err := c.finishRun(); err != nil {
			return false, err
		}
		if c.overBudget() && c.g > 0 {
			c.g--
			return false, nil
		}
	}
	return true, nil
}

func (c *cleanPass) nextSegment() {
	c.seg++
	if c.seg < len(c.l.segments) {
		c.at = batchCursor{expected: c.l.segments[c.seg].base}
	}
}

func (c *cleanPass) endMapping() {
	c.mapped = c.seg
	c.rep.KeysMapped = c.m.Len()
	c.phase, c.seg = phaseProducers, -1
	c.nextSegment()
}

func (c *cleanPass) noteProducer(h record.Header, _ []byte) error {
	if h.ProducerID >= 0 {
		c.producers[h.ProducerID] = h.BaseOffset
	}
	return nil
}

// cleaner is the state of one pass.
type cleaner struct {
	l      *Log
	m      *compact.OffsetMap
	p      compact.Policy
	passes compact.Passes
	// producers maps each producer id to the base offset of its last batch in the
	// segments the pass rewrites: that batch stays, emptied if need be, so that the
	// producer's sequence survives for its retries (as in Kafka).
	producers map[int64]int64
	coder     record.Coder
	rep       CleanReport
	out       []byte // the rewritten run, buffered up to cleanChunkBytes
	buf       []byte // what a walk read of a segment
	// stepBytes is the step's budget (0: none), spent what it read and wrote so far.
	stepBytes, spent int64
}

func (c *cleaner) on(n plant.Name) bool { return c.l.cfg.Plants.On(n) }

func (c *cleaner) overBudget() bool { return c.stepBytes > 0 && c.spent >= c.stepBytes }

// walk calls fn with the batches of s from at on, each checked as a read checks them:
// CRC, and offsets running densely from the segment's base (the CRC does not cover a
// batch's base offset). It moves at past each batch fn took, and stops at the end of the
// segment (true) or when the step's budget is spent, after one batch at least.
func (c *cleaner) walk(s *segment, at *batchCursor, fn func(h record.Header, batch []byte) error) (bool, error) {
	chunk := int64(cleanChunkBytes)
	if c.stepBytes > 0 {
		chunk = max(min(chunk, c.stepBytes), record.HeaderSize)
	}
	if want := min(s.sizeBytes, chunk); int64(cap(c.buf)) < want {
		c.buf = make([]byte, want)
	}
	buf := c.buf[:min(int64(cap(c.buf)), max(s.sizeBytes-at.pos, 0), chunk)]
	var bufPos, n int64 // buf holds the file's bytes [bufPos, bufPos+n)
	read := func(pos, k int64) error {
		if err := readFull(s.logFile, buf[:k], pos); err != nil {
			return c.l.fail(fmt.Errorf("clean: read segment %d: %w", s.base, err))
		}
		c.spent += k
		bufPos, n = pos, k
		return nil
	}
	for took := false; at.pos < s.sizeBytes; took = true {
		if took && c.overBudget() {
			return false, nil
		}
		pos := at.pos
		if pos+record.HeaderSize > bufPos+n {
			if err := read(pos, min(int64(len(buf)), s.sizeBytes-pos)); err != nil {
				return false, err
			}
		}
		h, err := record.ParseHeader(buf[pos-bufPos:])
		if err == nil && (h.Size() < record.HeaderSize || pos+int64(h.Size()) > s.sizeBytes || h.BaseOffset != at.expected) {
			err = fmt.Errorf("%w: batch [%d, %d) of %d bytes where offset %d belongs", record.ErrCorrupt, h.BaseOffset, h.NextOffset(), h.Size(), at.expected)
		}
		if err != nil {
			return false, c.corrupt(s, pos, at.expected, err)
		}
		if pos+int64(h.Size()) > bufPos+n {
			if int64(h.Size()) > int64(len(buf)) {
				c.buf = make([]byte, h.Size())
				buf = c.buf
			}
			if err := read(pos, min(int64(len(buf)), s.sizeBytes-pos)); err != nil {
				return false, err
			}
		}
		batch := buf[pos-bufPos : pos-bufPos+int64(h.Size())]
		if _, err := record.Check(batch); err != nil {
			return false, c.corrupt(s, pos, h.BaseOffset, err)
		}
		if err := fn(h, batch); err != nil {
			return false, err
		}
		at.expected = h.NextOffset()
		at.pos += int64(h.Size())
	}
	return true, nil
}

// corrupt reports damage the pass met at offset (byte pos of s): the run being written
// is dropped, and the owner checks the damage there (DirtyEnd) as after a failed read.
func (c *cleaner) corrupt(s *segment, pos, offset int64, err error) error {
	c.rep.DirtyEnd = offset
	return fmt.Errorf("clean: %w", corruptf(s, pos, "%v", err))
}

// mapSegment puts the keys of s from at on into the offset map. It reports full when
// the map ran out of room before the segment's end: the keys it did put point at records
// that stay (the segment is not rewritten), so the records they shadow may still go.
func (c *cleaner) mapSegment(s *segment, at *batchCursor) (full, done bool, err error) {
	done, err = c.walk(s, at, func(h record.Header, batch []byte) error {
		if h.IsControl() || h.IsTransactional() || h.RecordCount == 0 {
			// A transaction's records may yet be aborted: they must not shadow a value
			// that read_committed readers still need (see filter).
			return nil
		}
		it, err := c.coder.NewIter(batch, recordsBytesMax)
		if err != nil {
			return c.corrupt(s, 0, h.BaseOffset, err)
		}
		for it.Next() {
			key := it.Record().Key
			if key == nil {
				continue
			}
			if c.on(plant.CleanerKeepsOldest) {
				if _, seen := c.m.Get(key); seen {
					continue
				}
			}
			if !c.m.Put(key, it.Offset()) {
				return errMapFull
			}
		}
		if err := it.Err(); err != nil {
			return c.corrupt(s, 0, h.BaseOffset, err)
		}
		return nil
	})
	if errors.Is(err, errMapFull) {
		return true, false, nil
	}
	return false, done, err
}

var errMapFull = errors.New("offset map full")

// openRun starts writing the run [groups[g], groups[g+1]) into <base>-<end>.cleaning.
func (c *cleanPass) openRun() error {
	l := c.l
	i, j := c.groups[c.g], c.groups[c.g+1]
	base, end := l.segments[i].base, l.segments[j-1].next
	name := path.Join(l.dir, cleanName(base, end, cleaningSuffix))
	f, err := l.fsys.Create(name)
	if err != nil {
		return l.fail(fmt.Errorf("clean: create %s: %w", name, err))
	}
	ns := newSegmentState(base)
	ns.logFile = f
	c.run = &runWriter{c: &c.cleaner, s: ns, name: name, end: end, first: i, last: j}
	c.seg = i - 1
	c.nextSegment()
	return nil
}

// finishRun swaps the run written in full in: synced as .cleaning; renamed to
// <base>-<end>.swap (the commit: from here recovery finishes the swap); the old
// segments' files removed; the swap renamed to <base>.log and its indexes written.
func (c *cleanPass) finishRun() error {
	l, w := c.l, c.run
	c.run = nil
	ns, name, f := w.s, w.name, w.s.logFile
	i, j, base, end := w.first, w.last, ns.base, w.end
	if err := w.finish(end); err != nil {
		_ = f.Close()
		return l.fail(fmt.Errorf("clean: write %s: %w", name, err))
	}
	if ns.next != end || ns.base != base {
		// The run's offsets must come out exactly as they went in: never swap it in.
		_ = f.Close()
		_ = l.fsys.Remove(name)
		return fmt.Errorf("clean: the cleaned run [%d, %d) came out as [%d, %d)", base, end, ns.base, ns.next)
	}
	ns.seal()
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return l.fail(fmt.Errorf("clean: sync %s: %w", name, err))
	}
	if err := f.Close(); err != nil {
		return l.fail(fmt.Errorf("clean: close %s: %w", name, err))
	}
	ns.logFile = nil
	for _, s := range l.segments[i:j] {
		ns.aborted.entries = append(ns.aborted.entries, s.aborted.entries...)
	}
	ns.aborted.flushed = len(ns.aborted.entries)
	if len(ns.aborted.entries) > 0 {
		// Beside the swap, before the commit: nothing can rebuild these entries.
		if err := writeAbortedFile(l.fsys, path.Join(l.dir, cleanName(base, end, txnSwapSuffix)), ns.aborted.entries); err != nil {
			return l.fail(fmt.Errorf("clean: %w", err))
		}
	}
	swap := path.Join(l.dir, cleanName(base, end, swapSuffix))
	if err := l.fsys.Rename(name, swap); err != nil {
		return l.fail(fmt.Errorf("clean: rename %s: %w", name, err))
	}
	if err := l.fsys.SyncDir(l.dir); err != nil {
		return l.fail(fmt.Errorf("clean: sync directory: %w", err))
	}
	for _, s := range l.segments[i:j] {
		if err := s.closeFiles(); err != nil {
			return l.fail(fmt.Errorf("clean: close segment %d: %w", s.base, err))
		}
	}
	if err := finishSwap(l.fsys, l.dir, base, end, l.segmentBases(i, j)); err != nil {
		return l.fail(fmt.Errorf("clean: %w", err))
	}
	var err error
	if ns.logFile, err = l.openSegmentFile(ns.fileName(l.dir, LogFileSuffix)); err != nil {
		return l.fail(fmt.Errorf("clean: open segment %d: %w", base, err))
	}
	if _, err := ns.openIndexFiles(l.fsys, l.dir); err != nil {
		return l.fail(fmt.Errorf("clean: %w", err))
	}
	if err := errors.Join(ns.flushIndexes(), ns.syncIndexes(), ns.closeIndexFiles(), l.fsys.SyncDir(l.dir)); err != nil {
		return l.fail(fmt.Errorf("clean: indexes of segment %d: %w", base, err))
	}
	c.rep.SegmentsOut++
	c.rep.BytesOut += ns.sizeBytes
	l.segments = append(l.segments[:i], append([]*segment{ns}, l.segments[j:]...)...)
	return nil
}

func (l *Log) segmentBases(i, j int) []int64 {
	bases := make([]int64, 0, j-i)
	for _, s := range l.segments[i:j] {
		bases = append(bases, s.base)
	}
	return bases
}

// finishSwap completes a committed swap of the segments [base, end), whose old bases
// are given: removes their files, durably; renames the run's aborted-transactions index
// <base>-<end>.txnswap, if it has one, to <base>.txnindex, durably; then renames the
// swap file to <base>.log (durable with the next directory sync). The index files of
// <base> are removed too (they described the old segment), except its .txnindex, which
// the run's replaces: until then it holds entries the run's file holds too. So a
// .txnswap is renamed before its .swap is, and one left without a .swap belongs to a
// run never committed. Recovery calls it again after a crash; it is idempotent.
func finishSwap(fsys FS, dir string, base, end int64, oldBases []int64) error {
	for _, b := range oldBases {
		if b == base {
			if err := removeFiles(fsys, dir, b, IndexFileSuffix, TimeIndexFileSuffix, LogFileSuffix); err != nil {
				return err
			}
			continue
		}
		if err := removeSegmentFiles(fsys, dir, b); err != nil {
			return err
		}
	}
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	txnSwap := path.Join(dir, cleanName(base, end, txnSwapSuffix))
	switch err := fsys.Rename(txnSwap, path.Join(dir, SegmentFileName(base, TxnIndexFileSuffix))); {
	case err == nil:
		if err := fsys.SyncDir(dir); err != nil {
			return fmt.Errorf("sync directory: %w", err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("rename %s: %w", txnSwap, err)
	}
	swap := path.Join(dir, cleanName(base, end, swapSuffix))
	if err := fsys.Rename(swap, path.Join(dir, SegmentFileName(base, LogFileSuffix))); err != nil {
		return fmt.Errorf("rename %s: %w", swap, err)
	}
	return nil
}

// ParseSwapName reads the name of a cleaned segment written in full whose swap a crash
// may have interrupted: it holds the offsets [base, end) of the segments it replaces, and
// recovery makes it <base>.log.
func ParseSwapName(name string) (base, end int64, ok bool) { return parseCleanName(name, swapSuffix) }

// SwapSuffix ends the name of a cleaned segment being swapped in (ParseSwapName).
const SwapSuffix = swapSuffix

// cleanName names a cleaned segment in the making: "<base>-<end>" in 20 digits each, and
// the suffix.
func cleanName(base, end int64, suffix string) string {
	return SegmentFileName(base, "-") + SegmentFileName(end, suffix)
}

// parseCleanName is the inverse of cleanName.
func parseCleanName(name, suffix string) (base, end int64, ok bool) {
	rest, ok := strings.CutSuffix(name, suffix)
	if !ok || len(rest) != 2*segmentNameDigits+1 || rest[segmentNameDigits] != '-' {
		return 0, 0, false
	}
	b, err1 := strconv.ParseUint(rest[:segmentNameDigits], 10, 63)
	e, err2 := strconv.ParseUint(rest[segmentNameDigits+1:], 10, 63)
	if err1 != nil || err2 != nil || e <= b || strings.ContainsAny(rest[:segmentNameDigits]+rest[segmentNameDigits+1:], "+-") {
		return 0, 0, false
	}
	return int64(b), int64(e), true
}

// runWriter writes the batches a pass keeps of a run into the new segment, with empty
// batches over the offsets of the batches it dropped.
type runWriter struct {
	c *cleaner
	s *segment
	// name is the file being written; it replaces segments [first, last), which end at end.
	name        string
	end         int64
	first, last int
	// A run of dropped batches waiting for its empty batch: [gapFrom, next batch),
	// in leader epoch gapEpoch (an empty batch never spans two epochs, so that the
	// epoch history replayed from the log stays whole), newest timestamp gapTime.
	gap      bool
	gapFrom  int64
	gapEpoch int32
	gapTime  int64
	gapStamp bool  // the batches were stamped with the log append time
	written  int64 // bytes of the file written
	kept     []byte
	empty    []byte
}

func (w *runWriter) batch(h record.Header, batch []byte) error {
	kept, err := w.c.filter(h, batch, w.kept[:0])
	if err != nil {
		return err
	}
	w.kept = kept[:0]
	if len(kept) == 0 {
		stamped := h.Attributes&record.AttrLogAppendTime != 0
		if w.gap && (w.gapEpoch != h.PartitionLeaderEpoch || w.gapStamp != stamped) {
			if err := w.flushGap(h.BaseOffset); err != nil {
				return err
			}
		}
		if !w.gap {
			w.gap, w.gapFrom, w.gapEpoch, w.gapTime, w.gapStamp = true, h.BaseOffset, h.PartitionLeaderEpoch, h.MaxTimestamp, stamped
		}
		w.gapTime = max(w.gapTime, h.MaxTimestamp)
		return nil
	}
	if err := w.flushGap(h.BaseOffset); err != nil {
		return err
	}
	return w.write(kept)
}

func (w *runWriter) flushGap(next int64) error {
	if !w.gap {
		return nil
	}
	w.gap = false
	w.empty = record.AppendEmpty(w.empty[:0], w.gapFrom, next, w.gapEpoch, w.gapTime, w.gapStamp)
	return w.write(w.empty)
}

// write appends whole batches to the segment and its in-memory indexes.
func (w *runWriter) write(batches []byte) error {
	for pos := 0; pos < len(batches); {
		h, err := record.ParseHeader(batches[pos:])
		if err != nil {
			return err
		}
		w.s.addBatch(&h, int64(w.c.l.cfg.IndexIntervalBytes))
		pos += h.Size()
	}
	w.c.out = append(w.c.out, batches...)
	if len(w.c.out) >= cleanChunkBytes {
		return w.flush()
	}
	return nil
}

func (w *runWriter) flush() error {
	if len(w.c.out) == 0 {
		return nil
	}
	if _, err := w.s.logFile.WriteAt(w.c.out, w.written); err != nil {
		return err
	}
	w.written += int64(len(w.c.out))
	w.c.spent += int64(len(w.c.out))
	w.c.out = w.c.out[:0]
	return nil
}

func (w *runWriter) finish(end int64) error {
	if err := w.flushGap(end); err != nil {
		return err
	}
	return w.flush()
}

// filter appends to dst what the pass keeps of one batch: all of it, some of its records
// in a rebuilt batch, the batch emptied (the last of its producer), or nothing. A batch
// an earlier pass left without records goes unless it is still its producer's last:
// the empty batch the run writer puts over the offsets of what goes covers it too, so
// that passes over a log whose keys are few leave one empty batch per run and leader
// epoch, not one more at every pass.
func (c *cleaner) filter(h record.Header, batch, dst []byte) ([]byte, error) {
	switch {
	case h.IsControl() || h.IsTransactional():
		// Markers, and the records of transactions, stay whole: the cleaner does not
		// know which transactions aborted, so it neither drops their records nor lets
		// them hide older values; retention removes them with their segments.
		return append(dst, batch...), nil
	case h.RecordCount == 0 && h.ProducerID >= 0 && c.producers[h.ProducerID] == h.BaseOffset:
		return append(dst, batch...), nil
	case h.RecordCount == 0:
		return dst, nil
	}
	it, err := c.coder.NewIter(batch, recordsBytesMax)
	if err != nil {
		c.rep.DirtyEnd = h.BaseOffset
		return nil, fmt.Errorf("%w: batch at %d: %w", ErrCorrupt, h.BaseOffset, err)
	}
	var body []byte
	var kept int32
	for it.Next() {
		r := it.Record()
		c.rep.RecordsIn++
		if c.keep(compact.Record{Offset: it.Offset(), Key: r.Key, Tombstone: r.Value == nil}) {
			body = append(body, it.RecordBytes()...)
			kept++
			continue
		}
		c.rep.RecordsRemoved++
		if r.Value == nil {
			c.rep.TombstonesRemoved++
		}
	}
	if err := it.Err(); err != nil {
		c.rep.DirtyEnd = h.BaseOffset
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	switch {
	case kept == h.RecordCount:
		return append(dst, batch...), nil
	case kept == 0 && (h.ProducerID < 0 || c.producers[h.ProducerID] != h.BaseOffset):
		return dst, nil
	case kept == 0:
		return record.Retained(dst, batch, nil, 0), nil
	}
	if h.Codec() != record.CodecNone {
		if body, err = c.coder.Compress(h.Codec(), body); err != nil {
			return nil, fmt.Errorf("clean: recompress batch at %d: %w", h.BaseOffset, err)
		}
	}
	return record.Retained(dst, batch, body, kept), nil
}

func (c *cleaner) keep(r compact.Record) bool {
	latest, mapped := c.m.Get(r.Key)
	if r.Key != nil && c.on(plant.CleanerKeepsOldest) {
		return !mapped || latest >= r.Offset
	}
	if r.Key != nil && r.Tombstone && c.on(plant.TombstoneRemovedAtOnce) {
		return false
	}
	return compact.Keep(r, latest, mapped, c.passes, c.p)
}

// cutPasses forgets the cleaning history above the log's end (after a truncation: new
// batches written there were never cleaned) and below its start, durably.
func (l *Log) cutPasses() error {
	clipped := l.passes.Clip(l.startOffset, l.EndOffset())
	if slices.Equal(clipped, l.passes) {
		return nil
	}
	if err := writePasses(l.fsys, l.dir, clipped); err != nil {
		return err
	}
	l.passes = clipped
	return nil
}

// finishSwaps completes the swaps a crash interrupted (see cleanRun) and removes the
// cleaned segments a crash left unfinished. It runs first in recovery.
func (l *Log) finishSwaps() error {
	names, err := l.fsys.List(l.dir)
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	for _, name := range names {
		if _, _, ok := parseCleanName(name, cleaningSuffix); ok {
			if err := l.removeStray(path.Join(l.dir, name)); err != nil {
				return err
			}
			continue
		}
		base, end, ok := parseCleanName(name, swapSuffix)
		if !ok {
			continue
		}
		old := []int64{base}
		for _, other := range names {
			if b, suffix, ok := parseSegmentFileName(other); ok && suffix == LogFileSuffix && b > base && b < end {
				old = append(old, b)
			}
		}
		if err := finishSwap(l.fsys, l.dir, base, end, old); err != nil {
			return fmt.Errorf("finish swap %s: %w", name, err)
		}
		l.recovery.CleanSwapsFinished++
		l.dirUnsynced = true
	}
	// An index written beside a run whose swap was never committed (see finishSwap).
	for _, name := range names {
		if base, end, ok := parseCleanName(name, txnSwapSuffix); ok && !slices.Contains(names, cleanName(base, end, swapSuffix)) {
			if err := l.removeStray(path.Join(l.dir, name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// writePasses durably replaces the log's cleaning history.
func writePasses(fsys FS, dir string, ps compact.Passes) error {
	var b strings.Builder
	b.WriteString(passesMagic + "\n")
	for _, p := range ps {
		fmt.Fprintf(&b, "%d %d\n", p.End, p.TimeMs)
	}
	return WriteFileAtomic(fsys, path.Join(dir, CleanerPassesName), withCRCLine(b.String()))
}

const passesMagic = "seedlog-cleaner-passes 1"

// passesBytesMax bounds what is read of the cleaning history: compact.PassesMax lines of
// a few numbers each.
const passesBytesMax = 64 << 10

// readPasses reads the cleaning history; a missing or garbled file is an empty history
// (tombstones then wait a full delete.retention.ms from the next pass: never less).
func readPasses(fsys FS, dir string) (compact.Passes, error) {
	data, err := ReadFileAtMost(fsys, path.Join(dir, CleanerPassesName), passesBytesMax)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrFileTooLarge) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ps, _ := decodePasses(data)
	return ps, nil
}

// decodePasses parses a cleaner-passes file: ends strictly rising and times canonical
// non-negative decimals, at most compact.PassesMax lines.
func decodePasses(data []byte) (compact.Passes, error) {
	body, err := checkCRCLine(data, CleanerPassesName)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	if lines[0] != passesMagic || len(lines)-1 > compact.PassesMax {
		return nil, fmt.Errorf("%w: %s: unexpected layout", ErrBadCheckpoint, CleanerPassesName)
	}
	ps := compact.Passes{}
	for _, line := range lines[1:] {
		endText, timeText, ok := strings.Cut(line, " ")
		end, err1 := parseOffset(endText)
		t, err2 := parseOffset(timeText)
		if !ok || err1 != nil || err2 != nil || (len(ps) > 0 && end <= ps[len(ps)-1].End) {
			return nil, fmt.Errorf("%w: %s: bad line %q", ErrBadCheckpoint, CleanerPassesName, line)
		}
		ps = append(ps, compact.Pass{End: end, TimeMs: t})
	}
	return ps, nil
}
