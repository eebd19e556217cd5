package storage

import (
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/seedlog/seedlog/core/disk"
)

// txnModel writes batches of two records with random transactions over them: each
// batch's first offset may open a transaction of one of a few producers, and a batch may
// end one (its first offset taken as the marker), aborting half of them. It returns the
// entries the log was given, in order, as a partition replica computes them.
type txnModel struct {
	open    map[int64]int64 // producer -> first offset
	entries []disk.AbortedTxn
}

func (m *txnModel) batch(t *testing.T, l *Log, draw uint64) {
	t.Helper()
	base := l.EndOffset()
	pid := int64(draw % 4)
	var add []disk.AbortedTxn
	if first, ok := m.open[pid]; ok && draw%3 == 0 {
		delete(m.open, pid)
		if draw%2 == 0 {
			stable := base + 1
			for _, f := range m.open {
				stable = min(stable, f)
			}
			add = append(add, disk.AbortedTxn{ProducerID: pid, FirstOffset: first, MarkerOffset: base, StableOffset: stable})
		}
	} else if !ok {
		m.open[pid] = base
	}
	if err := l.AppendAborting(simpleBatch(t, base, 2, 100), add); err != nil {
		t.Fatalf("append at %d with %v: %v", base, add, err)
	}
	m.entries = append(m.entries, add...)
}

// abortingLog opens a log of segmentBytes segments on a fresh memFS and appends batches
// with random transactions (txnModel) drawn from seed until enough(m) holds.
func abortingLog(t *testing.T, segmentBytes int64, seed uint64, enough func(m *txnModel, n int) bool) (*memFS, LogConfig, *Log, *txnModel) {
	t.Helper()
	fsys := newMemFS()
	cfg := LogConfig{SegmentBytesMax: segmentBytes}
	l := mustOpen(t, fsys, "t-0", cfg)
	m := &txnModel{open: map[int64]int64{}}
	rng := newRand(seed)
	for n := 0; !enough(m, n); n++ {
		m.batch(t, l, rng.Uint64())
	}
	return fsys, cfg, l, m
}

func batches(count int) func(*txnModel, int) bool {
	return func(_ *txnModel, n int) bool { return n >= count }
}

// overlapping is what Aborted(from, to) must answer: every entry of the model whose
// range overlaps [from, to), whose marker the log still holds.
func (m *txnModel) overlapping(from, to, end int64) []disk.AbortedTxn {
	var out []disk.AbortedTxn
	for _, e := range m.entries {
		if e.MarkerOffset >= from && e.FirstOffset < to && e.MarkerOffset < end {
			out = append(out, e)
		}
	}
	return out
}

func checkAbortedLookups(t *testing.T, what string, l *Log, m *txnModel) {
	t.Helper()
	for from := l.StartOffset(); from <= l.EndOffset(); from += 3 {
		for _, to := range []int64{from, from + 1, from + 7, from + 40, l.EndOffset()} {
			got, err := l.Aborted(from, to)
			if want := m.overlapping(from, to, l.EndOffset()); err != nil || !slices.Equal(got, want) {
				t.Fatalf("%s: aborted in [%d, %d): %v, %v; want %v", what, from, to, got, err, want)
			}
		}
	}
}

// The index answers every lookup as a scan of all entries would, across segments, after
// a restart, a truncation and a deletion of old segments; each segment with aborts has
// its own file, and only those.
func TestAbortedIndexLookups(t *testing.T) {
	fsys, cfg, l, m := abortingLog(t, 600, 7, batches(120))
	rng := newRand(8)
	if len(m.entries) < 10 || len(l.segments) < 5 {
		t.Fatalf("%d entries over %d segments: too few to test", len(m.entries), len(l.segments))
	}
	checkAbortedLookups(t, "written", l, m)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	for _, s := range l.segments {
		_, err := fsys.Stat(path.Join("t-0", SegmentFileName(s.base, TxnIndexFileSuffix)))
		if (err == nil) != (len(s.aborted.entries) > 0) {
			t.Fatalf("segment %d with %d entries: txnindex file stat %v", s.base, len(s.aborted.entries), err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, fsys, "t-0", cfg)
	if r := l.Recovery(); r.AbortedCutOffset != -1 {
		t.Fatalf("a clean restart cut the index: %+v", r)
	}
	checkAbortedLookups(t, "reopened", l, m)

	// A truncation through transactions: those it splits are listed by Aborted(at, at).
	at := m.entries[len(m.entries)/2].MarkerOffset - 1
	split, _ := l.Aborted(at, at)
	for _, e := range split {
		if e.FirstOffset >= at || e.MarkerOffset < at {
			t.Fatalf("Aborted(%d, %d) listed %+v", at, at, e)
		}
	}
	if err := l.TruncateTo(at); err != nil {
		t.Fatal(err)
	}
	m.entries = slices.DeleteFunc(m.entries, func(e disk.AbortedTxn) bool { return e.MarkerOffset >= at })
	checkAbortedLookups(t, "truncated", l, m)
	// What the model had open is forgotten: the transactions it aborts next begin later.
	clear(m.open)
	for range 30 {
		m.batch(t, l, rng.Uint64())
	}
	checkAbortedLookups(t, "appended after the truncation", l, m)

	start := l.segments[2].base
	if err := l.DeleteBelow(start); err != nil {
		t.Fatal(err)
	}
	for _, name := range listDir(t, fsys, "t-0") {
		if base, suffix, ok := parseSegmentFileName(name); ok && suffix == TxnIndexFileSuffix && base < start {
			t.Fatalf("%s outlived its segment", name)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = mustOpen(t, fsys, "t-0", cfg)
	defer l.Close()
	checkAbortedLookups(t, "after deletion and restart", l, m)
}

// Entries appended and synced survive every crash; entries never outlive their markers;
// a torn or missing tail is reported only above what was synced.
func TestAbortedIndexCrash(t *testing.T) {
	fsys, cfg, l, m := abortingLog(t, 600, 11, batches(60))
	rng := newRand(12)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	synced := l.EndOffset()
	for range 30 {
		m.batch(t, l, rng.Uint64())
	}
	for seed := range uint64(60) {
		img := fsys.crash(newRand(seed))
		l2 := mustOpen(t, img, "t-0", cfg)
		got, err := l2.Aborted(0, math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		want := m.overlapping(0, math.MaxInt64, synced)
		if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
			t.Fatalf("seed %d: synced entries %v, after the crash %v", seed, want, got)
		}
		for _, e := range got {
			if e.MarkerOffset >= l2.EndOffset() || !slices.Contains(m.entries, e) {
				t.Fatalf("seed %d: entry %+v with the log ending at %d", seed, e, l2.EndOffset())
			}
		}
		if r := l2.Recovery(); r.AbortedCutOffset >= 0 && r.AbortedCutOffset < synced {
			t.Fatalf("seed %d: index cut at %d below the synced %d: %s", seed, r.AbortedCutOffset, synced, r.AbortedCutReason)
		}
		l2.Close()
	}
}

// A damaged entry cuts the file there and says from where entries may be missing.
func TestAbortedIndexDamageReported(t *testing.T) {
	fsys, cfg, l, m := abortingLog(t, 1<<20, 3, func(m *txnModel, _ int) bool { return len(m.entries) >= 4 })
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	name := path.Join("t-0", SegmentFileName(0, TxnIndexFileSuffix))
	f, err := fsys.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff}, 2*abortedEntryBytes+5); err != nil {
		t.Fatal(err)
	}
	f.Sync()
	f.Close()
	l = mustOpen(t, fsys, "t-0", cfg)
	defer l.Close()
	r := l.Recovery()
	if want := m.entries[1].MarkerOffset + 1; r.AbortedCutOffset != want || r.AbortedCutReason == "" {
		t.Fatalf("cut at %d (%q), want %d", r.AbortedCutOffset, r.AbortedCutReason, want)
	}
	if got, _ := l.Aborted(0, math.MaxInt64); !slices.Equal(got, m.entries[:2]) {
		t.Fatalf("kept %v, want %v", got, m.entries[:2])
	}
	// Until the owner lists the aborts again, a restart finds the same damage: the
	// file stays as it was, whatever the log does meanwhile.
	if err := errors.Join(l.Sync(), l.Close()); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, fsys, "t-0", cfg)
	if again := l.Recovery(); again.AbortedCutOffset != r.AbortedCutOffset {
		t.Fatalf("second restart: cut at %d, want %d again", again.AbortedCutOffset, r.AbortedCutOffset)
	}
	// The owner lists the rest again.
	if err := l.SetAborted(r.AbortedCutOffset, m.entries[2:]); err != nil {
		t.Fatal(err)
	}
	if got, _ := l.Aborted(0, math.MaxInt64); !slices.Equal(got, m.entries) {
		t.Fatalf("after SetAborted %v, want %v", got, m.entries)
	}
	if err := l.SetAborted(0, []disk.AbortedTxn{{MarkerOffset: l.EndOffset()}}); err == nil {
		t.Fatal("SetAborted took a marker past the log end")
	}
	l.Close()
	l = mustOpen(t, fsys, "t-0", cfg)
	if r := l.Recovery(); r.AbortedCutOffset != -1 {
		t.Fatalf("after the repair a restart still finds damage: %+v", r)
	}
}

// Compaction merges the indexes of the segments it rewrites into the new one's, and a
// crash anywhere in the swap leaves every entry.
func TestAbortedIndexSurvivesCompaction(t *testing.T) {
	fsys := newMemFS()
	cfg := LogConfig{SegmentBytesMax: 2048, IndexIntervalBytes: 256}
	l := mustOpen(t, fsys, "t-0", cfg)
	var entries []disk.AbortedTxn
	merged := false
	for pass := range 4 {
		writeKeys(t, l, 6, 30, 3)
		// Entries at the base of each segment written since: markers at batch bases, as
		// a replica gives them.
		for _, s := range l.segments[:len(l.segments)-1] {
			if len(entries) == 0 || s.base > entries[len(entries)-1].MarkerOffset {
				entries = append(entries, disk.AbortedTxn{ProducerID: 1, FirstOffset: s.base, MarkerOffset: s.base, StableOffset: s.base + 1})
			}
		}
		if err := l.SetAborted(0, entries); err != nil {
			t.Fatal(err)
		}
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
		rep, err := l.Clean(l.EndOffset(), testPolicy)
		if err != nil || !rep.Cleaned {
			t.Fatalf("pass %d: %+v, %v", pass, rep, err)
		}
		merged = merged || rep.SegmentsOut < rep.SegmentsIn
		if got, _ := l.Aborted(0, math.MaxInt64); !slices.Equal(got, entries) {
			t.Fatalf("after pass %d %v, want %v", pass, got, entries)
		}
	}
	if !merged {
		t.Fatal("no pass merged segments")
	}
	wantAbortedAfterRestart(t, fsys, cfg, l, entries)
}

// wantAbortedAfterRestart closes l, opens it again and checks its whole index is want.
func wantAbortedAfterRestart(t *testing.T, fsys *memFS, cfg LogConfig, l *Log, want []disk.AbortedTxn) {
	t.Helper()
	l.Close()
	l = mustOpen(t, fsys, "t-0", cfg)
	defer l.Close()
	if got, _ := l.Aborted(0, math.MaxInt64); !slices.Equal(got, want) {
		t.Fatalf("after a restart %v, want %v", got, want)
	}
}

// FuzzDecodeAbortedIndex: a .txnindex file read from disk never panics the decoder, and
// what it keeps fits the segment.
func FuzzDecodeAbortedIndex(f *testing.F) {
	var good []byte
	good = encodeAbortedEntry(good, disk.AbortedTxn{ProducerID: 1, FirstOffset: 3, MarkerOffset: 10, StableOffset: 11})
	good = encodeAbortedEntry(good, disk.AbortedTxn{ProducerID: 2, FirstOffset: 5, MarkerOffset: 12, StableOffset: 5})
	f.Add(good, int64(0), int64(20))
	f.Add(good[:40], int64(0), int64(20))
	f.Add(good, int64(11), int64(20))
	f.Fuzz(func(t *testing.T, b []byte, base, end int64) {
		entries, problem := decodeAbortedIndex(b, base, end)
		if problem == "" && len(entries)*abortedEntryBytes != len(b) {
			t.Fatalf("%d entries from %d bytes with no problem", len(entries), len(b))
		}
		for i, e := range entries {
			if e.MarkerOffset < base || e.MarkerOffset >= end || e.FirstOffset > e.MarkerOffset || e.FirstOffset < 0 ||
				e.StableOffset < 0 || e.StableOffset > e.MarkerOffset+1 || (i > 0 && entries[i-1].MarkerOffset >= e.MarkerOffset) {
				t.Fatalf("entry %d %+v kept for [%d, %d)", i, e, base, end)
			}
			if again := encodeAbortedEntry(nil, e); string(again) != string(b[i*abortedEntryBytes:(i+1)*abortedEntryBytes]) {
				t.Fatalf("entry %d re-encodes differently", i)
			}
		}
	})
}

// abortingLogWithEntries is a synced abortingLog and a segment of it, neither the first
// nor the last, with at least two aborted-transactions entries.
func abortingLogWithEntries(t *testing.T) (*memFS, LogConfig, *Log, *txnModel, *segment) {
	t.Helper()
	fsys, cfg, l, m := abortingLog(t, 600, 5, batches(80))
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	i := 1
	for len(l.segments[i].aborted.entries) < 2 {
		i++
	}
	return fsys, cfg, l, m, l.segments[i]
}

// fenceAt damages the batch at off in segment s at rest and fences it at run time.
func fenceAt(t *testing.T, fsys *memFS, l *Log, s *segment, off int64) {
	t.Helper()
	_, pos, _, err := l.locate(off)
	if err != nil {
		t.Fatal(err)
	}
	ino := fsys.live["t-0/"+SegmentFileName(s.base, LogFileSuffix)]
	ino.data[pos+30] ^= 4
	ino.synced[pos+30] ^= 4
	if _, err := l.CheckDamage(off); err != nil {
		t.Fatal(err)
	}
}

// Fencing damage keeps every entry: those whose marker lies after the damage move with
// the batches to the new segment, and those of a segment that goes join the one before.
func TestAbortedIndexSurvivesFencing(t *testing.T) {
	for _, first := range []bool{false, true} {
		fsys, cfg, l, m, s := abortingLogWithEntries(t)
		// Its first batch, or one in its middle, damaged at rest.
		off := s.base
		if !first {
			off = s.aborted.entries[0].MarkerOffset + 1
		}
		fenceAt(t, fsys, l, s, off)
		checkAbortedLookups(t, fmt.Sprintf("fenced at %d (first %v)", off, first), l, m)
		l.Close()
		l = mustOpen(t, fsys, "t-0", cfg)
		checkAbortedLookups(t, fmt.Sprintf("fenced at %d (first %v), reopened", off, first), l, m)
		l.Close()
	}
}

// Damage to an index is remembered through a fencing that rewrites what was kept of the
// damaged file as a valid one: until the owner lists the aborts again, every restart
// reports entries missing from where the damage began, and after it none does.
func TestAbortedIndexDamageOutlivesFencing(t *testing.T) {
	for _, first := range []bool{false, true} {
		fsys, cfg, l, m, s := abortingLogWithEntries(t)
		kept := s.aborted.entries[0]
		l.Close()
		txn, err := fsys.Open(path.Join("t-0", SegmentFileName(s.base, TxnIndexFileSuffix)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := txn.WriteAt([]byte{0xff}, abortedEntryBytes+3); err != nil {
			t.Fatal(err)
		}
		txn.Sync()
		txn.Close()
		l = mustOpen(t, fsys, "t-0", cfg)
		cut := l.Recovery().AbortedCutOffset
		if cut != kept.MarkerOffset+1 {
			t.Fatalf("cut at %d, want %d", cut, kept.MarkerOffset+1)
		}
		// The segment's first batch (it goes, entries and all, to the segment before) or
		// the batch after the kept entry's marker (the entries after it move on) is
		// damaged, and fenced at run time.
		off := s.base
		if !first {
			off = kept.MarkerOffset + 1
		}
		fenceAt(t, fsys, l, s, off)
		l.Close()
		l = mustOpen(t, fsys, "t-0", cfg)
		if again := l.Recovery().AbortedCutOffset; again < 0 || again > cut {
			t.Fatalf("fenced at %d (first %v): after a restart the index is cut at %d, want at or below %d", off, first, again, cut)
		}
		var rest []disk.AbortedTxn
		for _, e := range m.entries {
			if e.MarkerOffset >= cut && e.MarkerOffset < l.EndOffset() {
				rest = append(rest, e)
			}
		}
		if err := l.SetAborted(cut, rest); err != nil {
			t.Fatal(err)
		}
		l.Close()
		l = mustOpen(t, fsys, "t-0", cfg)
		if r := l.Recovery(); r.AbortedCutOffset != -1 {
			t.Fatalf("after the repair a restart still finds damage: %+v", r)
		}
		l.Close()
	}
}

// FuzzDecodeTxnIndexIncomplete: the mark read from disk never panics its decoder and
// decodes only what encode writes.
func FuzzDecodeTxnIndexIncomplete(f *testing.F) {
	f.Add(encodeTxnIndexIncomplete(0))
	f.Add(encodeTxnIndexIncomplete(1 << 40))
	f.Add([]byte("seedlog-txnindex-incomplete 1\nfrom -1\ncrc32c 00000000\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		from, err := decodeTxnIndexIncomplete(b)
		if err != nil {
			return
		}
		if from < 0 || string(encodeTxnIndexIncomplete(from)) != string(b) {
			t.Fatalf("decoded %d from %q", from, b)
		}
	})
}

// A mark that does not decode, or is too large to be one, says nothing of where the
// damage began: the whole index is reported suspect, and SetAborted clears it.
func TestTxnIndexIncompleteGarbled(t *testing.T) {
	for _, data := range [][]byte{[]byte("seedlog-txnindex-incomplete 1\nfrom 7\ncrc32c 00000000\n"), make([]byte, smallFileBytesMax+1)} {
		fsys, cfg, l, m := abortingLog(t, 600, 5, batches(40))
		if err := errors.Join(l.Sync(), l.Close()); err != nil {
			t.Fatal(err)
		}
		if err := WriteFileAtomic(fsys, path.Join("t-0", TxnIndexIncompleteName), data); err != nil {
			t.Fatal(err)
		}
		l = mustOpen(t, fsys, "t-0", cfg)
		if r := l.Recovery(); r.AbortedCutOffset != 0 || !strings.Contains(r.AbortedCutReason, TxnIndexIncompleteName) {
			t.Fatalf("%d bytes of mark: cut at %d (%q), want 0", len(data), r.AbortedCutOffset, r.AbortedCutReason)
		}
		if err := l.SetAborted(0, m.entries); err != nil {
			t.Fatal(err)
		}
		l.Close()
		l = mustOpen(t, fsys, "t-0", cfg)
		if r := l.Recovery(); r.AbortedCutOffset != -1 {
			t.Fatalf("after the repair a restart still reports damage: %+v", r)
		}
		l.Close()
	}
}

// SetAborted that replaces entries the file holds (a replay listing the aborts again
// finds fewer than the index had, and different ones) leaves exactly its entries on
// disk: a restart reads back what it set, not the file's old first entries.
func TestSetAbortedReplacesSyncedEntries(t *testing.T) {
	fsys, cfg, l, _, s := abortingLogWithEntries(t)
	old := slices.Clone(s.aborted.entries)
	// The second entry alone, with the first one's place in the file.
	keep := old[1:2]
	if err := l.SetAborted(s.base, keep); err != nil {
		t.Fatal(err)
	}
	want, _ := l.Aborted(0, math.MaxInt64)
	if slices.Contains(want, old[0]) || !slices.Contains(want, old[1]) {
		t.Fatalf("after SetAborted(%d, %v): %v", s.base, keep, want)
	}
	wantAbortedAfterRestart(t, fsys, cfg, l, want)
}

// A replay of the log reads nothing in a fenced range, so it cannot list the aborts
// whose marker (or first batch) lies there: SetAborted keeps those entries of the
// index, the rest as the owner lists them, and a restart reads the same.
func TestSetAbortedKeepsEntriesOfFencedTransactions(t *testing.T) {
	fsys, cfg, l, m, s := abortingLogWithEntries(t)
	hidden := s.aborted.entries[0]
	// The batch holding the marker is damaged at rest and fenced.
	fenceAt(t, fsys, l, s, hidden.MarkerOffset)
	// The replay lists every other abort from the log start.
	var listed []disk.AbortedTxn
	for _, e := range m.entries {
		if e.MarkerOffset != hidden.MarkerOffset {
			listed = append(listed, e)
		}
	}
	if err := l.SetAborted(0, listed); err != nil {
		t.Fatal(err)
	}
	checkAbortedLookups(t, "after SetAborted", l, m)
	l.Close()
	l = mustOpen(t, fsys, "t-0", cfg)
	defer l.Close()
	checkAbortedLookups(t, "after a restart", l, m)
}
