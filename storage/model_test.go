package storage_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/disksim"
	"github.com/seedlog/seedlog/storage"
	"pgregory.net/rapid"
)

// The model test drives a Log with random operations and compares every answer with
// logModel, a slice of batches. The harness is independent of the FS: a test supplies
// the FS and, if the FS can crash, a crash function; the "crash" action then swaps the
// FS for its post-crash image, reopens the log and checks it against the model's
// three-valued view of each offset (durable: must survive; written but unsynced: may
// survive as a prefix; absent).

type modelBatch struct {
	base, next int64
	maxTS      int64
	data       []byte
}

// logModel is what the log should hold. batches run densely from some offset at or
// below start to end; durableEnd is the offset below which a crash must keep
// everything.
type logModel struct {
	batches    []modelBatch
	start      int64
	end        int64
	durableEnd int64
}

// containing returns the index of the batch holding offset, or -1.
func (m *logModel) containing(offset int64) int {
	for i, b := range m.batches {
		if b.base <= offset && offset < b.next {
			return i
		}
	}
	return -1
}

func (m *logModel) expectRead(offset, maxOffset int64, maxBytes int) []byte {
	i := m.containing(offset)
	var out []byte
	for ; i >= 0 && i < len(m.batches); i++ {
		b := m.batches[i]
		if b.base >= maxOffset || (len(out) > 0 && len(out)+len(b.data) > maxBytes) {
			break
		}
		out = append(out, b.data...)
	}
	return out
}

func (m *logModel) expectOffsetForTimestamp(ts int64) (int64, bool) {
	for _, b := range m.batches {
		if b.next > m.start && b.maxTS >= ts {
			return max(b.base, m.start), true
		}
	}
	return -1, false
}

// truncate drops the batches from offset on (rounding down to a batch boundary).
func (m *logModel) truncate(offset int64) {
	i := m.containing(offset)
	if i < 0 {
		return
	}
	if m.batches[i].base < m.start {
		m.reset(m.start)
		return
	}
	m.end = m.batches[i].base
	m.batches = m.batches[:i]
	m.durableEnd = m.end
}

func (m *logModel) reset(offset int64) {
	m.batches = nil
	m.start, m.end, m.durableEnd = offset, offset, offset
}

// logHarness holds the log under test, its FS and the model.
type logHarness struct {
	fsys storage.FS
	dir  string
	cfg  storage.LogConfig
	// fileCacheBound, when not zero, bounds each opening's open segment files, so that
	// the log reopens closed files as it goes.
	fileCacheBound int
	log            *storage.Log
	m              logModel
	clock          int64 // timestamps wander around it
	// crash returns the post-crash image of fsys; nil when the FS cannot crash.
	crash func(t *rapid.T, fsys storage.FS) storage.FS
	// failNextSync makes the next file or directory sync of fsys fail; nil when the FS
	// cannot inject faults. Used only together with crash.
	failNextSync func(fsys storage.FS, l *storage.Log)
	// crashes and cuts count what the crash action exercised.
	crashes, cuts int
}

func newHarness(t *rapid.T, fsys storage.FS, crash func(*rapid.T, storage.FS) storage.FS) *logHarness {
	h := &logHarness{fsys: fsys, dir: "p0", crash: crash, clock: 1_000_000}
	h.cfg = storage.LogConfig{
		SegmentBytesMax:    rapid.Int64Range(150, 4000).Draw(t, "segmentBytesMax"),
		IndexIntervalBytes: rapid.IntRange(1, 700).Draw(t, "indexIntervalBytes"),
		SegmentAgeMax:      time.Duration(rapid.SampledFrom([]int{0, 300, 3000}).Draw(t, "segmentAgeMaxMs")) * time.Millisecond,
	}
	h.fileCacheBound = rapid.SampledFrom([]int{0, storage.FileCacheBoundMin}).Draw(t, "fileCacheBound")
	l, err := storage.OpenLog(fsys, h.dir, h.openConfig())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	h.log = l
	return h
}

// openConfig is the configuration of one opening of the log: with a cache of its own,
// since a crash leaves the files of the last opening behind.
func (h *logHarness) openConfig() storage.LogConfig {
	cfg := h.cfg
	if h.fileCacheBound > 0 {
		cfg.Files = storage.NewFileCache(h.fileCacheBound, plant.Set{})
	}
	return cfg
}

func (h *logHarness) actions() map[string]func(*rapid.T) {
	a := map[string]func(*rapid.T){
		"append":          h.append,
		"appendInvalid":   h.appendInvalid,
		"read":            h.read,
		"offsetForTime":   h.offsetForTimestamp,
		"truncate":        h.truncate,
		"deleteBelow":     h.deleteBelow,
		"truncateFully":   h.truncateFully,
		"sync":            h.sync,
		"reopen":          h.reopen,
		"":                h.check,
		"readOutOfRange":  h.readOutOfRange,
		"truncateInvalid": h.truncateInvalid,
	}
	if h.crash != nil {
		a["crash"] = h.crashAndRecover
	}
	if h.crash != nil && h.failNextSync != nil {
		a["failedSync"] = h.failedSync
	}
	return a
}

func (h *logHarness) append(t *rapid.T) {
	n := rapid.IntRange(1, 3).Draw(t, "batches")
	var all []byte
	next := h.m.end
	var added []modelBatch
	for range n {
		h.clock += rapid.Int64Range(-100, 400).Draw(t, "clockStep")
		records := rapid.IntRange(1, 6).Draw(t, "records")
		valueBytes := rapid.IntRange(0, 300).Draw(t, "valueBytes")
		maxTS := h.clock + rapid.Int64Range(0, 200).Draw(t, "tsSpread")
		b := storage.MakeBatch(t, next, records, valueBytes, h.clock, maxTS)
		added = append(added, modelBatch{base: next, next: next + int64(records), maxTS: maxTS, data: b})
		all = append(all, b...)
		next += int64(records)
	}
	if err := h.log.Append(all); err != nil {
		t.Fatalf("append at %d: %v", h.m.end, err)
	}
	h.m.batches = append(h.m.batches, added...)
	h.m.end = next
}

func (h *logHarness) appendInvalid(t *rapid.T) {
	var b []byte
	if rapid.Bool().Draw(t, "corrupt") {
		b = smallBatch(t, h.m.end, h.clock)
		b[len(b)-1] ^= 0xff
	} else {
		base := h.m.end + rapid.SampledFrom([]int64{-1, 1, 5}).Draw(t, "skew")
		if base < 0 {
			t.Skip("no wrong base")
		}
		b = smallBatch(t, base, h.clock)
	}
	mustErrIs(t, h.log.Append(b), storage.ErrInvalidAppend)
}

func (h *logHarness) read(t *rapid.T) {
	if h.m.end == h.m.start {
		t.Skip("empty")
	}
	offset := rapid.Int64Range(h.m.start, h.m.end).Draw(t, "offset")
	maxOffset := rapid.Int64Range(h.m.start, h.m.end+3).Draw(t, "maxOffset")
	maxBytes := rapid.IntRange(0, 3000).Draw(t, "maxBytes")
	got, err := h.log.Read(offset, maxOffset, maxBytes)
	if err != nil {
		t.Fatalf("read(%d, %d, %d): %v", offset, maxOffset, maxBytes, err)
	}
	want := h.m.expectRead(offset, maxOffset, maxBytes)
	if !bytes.Equal(got, want) {
		t.Fatalf("read(%d, %d, %d): got %d bytes, want %d", offset, maxOffset, maxBytes, len(got), len(want))
	}
}

func (h *logHarness) readOutOfRange(t *rapid.T) {
	below := rapid.Bool().Draw(t, "below")
	offset := h.m.end + rapid.Int64Range(1, 10).Draw(t, "past")
	if below {
		if h.m.start == 0 {
			t.Skip("nothing below")
		}
		offset = h.m.start - rapid.Int64Range(1, h.m.start).Draw(t, "under")
	}
	_, err := h.log.Read(offset, offset+100, 1000)
	mustErrIs(t, err, storage.ErrOffsetOutOfRange)
}

func (h *logHarness) offsetForTimestamp(t *rapid.T) {
	ts := h.clock + rapid.Int64Range(-3000, 500).Draw(t, "tsBack")
	got, found, err := h.log.OffsetForTimestamp(ts)
	if err != nil {
		t.Fatalf("offsetForTimestamp(%d): %v", ts, err)
	}
	want, wantFound := h.m.expectOffsetForTimestamp(ts)
	if got != want || found != wantFound {
		t.Fatalf("offsetForTimestamp(%d) = %d, %v; want %d, %v", ts, got, found, want, wantFound)
	}
}

func (h *logHarness) truncate(t *rapid.T) {
	offset := rapid.Int64Range(h.m.start, h.m.end+2).Draw(t, "offset")
	if err := h.log.TruncateTo(offset); err != nil {
		t.Fatalf("truncateTo(%d): %v", offset, err)
	}
	if offset < h.m.end {
		h.m.truncate(offset)
	}
}

func (h *logHarness) truncateInvalid(t *rapid.T) {
	if h.m.start == 0 {
		t.Skip("nothing below start")
	}
	err := h.log.TruncateTo(h.m.start - 1)
	mustErrIs(t, err, storage.ErrOffsetOutOfRange)
}

func (h *logHarness) deleteBelow(t *rapid.T) {
	offset := rapid.Int64Range(h.m.start, h.m.end+1).Draw(t, "offset")
	err := h.log.DeleteBelow(offset)
	if offset > h.m.end {
		mustErrIs(t, err, storage.ErrOffsetOutOfRange)
		return
	}
	if err != nil {
		t.Fatalf("deleteBelow(%d): %v", offset, err)
	}
	h.m.start = offset
	h.m.durableEnd = max(h.m.durableEnd, offset)
}

func (h *logHarness) truncateFully(t *rapid.T) {
	offset := h.m.end + rapid.Int64Range(-5, 20).Draw(t, "delta")
	if offset < 0 {
		t.Skip("negative")
	}
	if err := h.log.TruncateFullyAndStartAt(offset); err != nil {
		t.Fatalf("truncateFullyAndStartAt(%d): %v", offset, err)
	}
	h.m.reset(offset)
}

func (h *logHarness) sync(t *rapid.T) {
	if err := h.log.Sync(); err != nil {
		t.Fatalf("sync: %v", err)
	}
	h.m.durableEnd = h.m.end
}

func (h *logHarness) reopen(t *rapid.T) {
	if err := h.log.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	l, err := storage.OpenLog(h.fsys, h.dir, h.openConfig())
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	h.log = l
	if r := l.Recovery(); r.CutTail() || r.ResetToStart || r.CheckpointProblem != "" {
		t.Fatalf("clean reopen repaired something: %+v", r)
	}
	// Recovery syncs what it validated.
	h.m.durableEnd = h.m.end
}

// failedSync makes a Sync fail: the log must refuse to go on (fsyncgate), and the only
// way forward is to recover, here through a crash, since the failed sync may have lost
// what it was syncing.
func (h *logHarness) failedSync(t *rapid.T) {
	h.append(t) // so that there is something to sync
	h.failNextSync(h.fsys, h.log)
	err := h.log.Sync()
	if !errors.Is(err, storage.ErrLogFailed) {
		t.Fatalf("sync with a failing disk: %v", err)
	}
	if err := h.log.Append(smallBatch(t, h.m.end, h.clock)); !errors.Is(err, storage.ErrLogFailed) {
		t.Fatalf("append after a failed sync: %v", err)
	}
	if err := h.log.Sync(); !errors.Is(err, storage.ErrLogFailed) {
		t.Fatalf("sync after a failed sync: %v", err)
	}
	if err := h.log.Close(); err != nil {
		t.Fatalf("close after a failed sync: %v", err)
	}
	h.crashAndRecover(t)
}

// crashAndRecover replaces the FS by a post-crash image and reopens the log: the durable
// prefix must be there, the tail may be any prefix of what was written, nothing else.
func (h *logHarness) crashAndRecover(t *rapid.T) {
	h.fsys = h.crash(t, h.fsys)
	h.log = nil // its files belong to the pre-crash FS
	l, err := storage.OpenLog(h.fsys, h.dir, h.openConfig())
	if err != nil {
		t.Fatalf("open after crash: %v", err)
	}
	h.log = l
	h.crashes++
	r := l.Recovery()
	if r.CutBelowRecoveryPoint {
		t.Fatalf("a crash cut below the recovery point: %+v", r)
	}
	if r.CutTail() {
		h.cuts++
	}
	if got := l.StartOffset(); got != h.m.start {
		t.Fatalf("start offset %d after crash, want %d (report %+v)", got, h.m.start, r)
	}
	end := l.EndOffset()
	if end < max(h.m.durableEnd, h.m.start) || end > h.m.end {
		t.Fatalf("end offset %d after crash, want within [%d, %d] (report %+v)", end, max(h.m.durableEnd, h.m.start), h.m.end, r)
	}
	if end < h.m.end {
		if r.ResetToStart {
			h.m.reset(h.m.start)
		} else {
			h.m.truncateAfterCrash(end)
		}
	}
	h.m.durableEnd = end
	h.readAll(t)
}

// readAll reads the whole log and compares it with the model.
func (h *logHarness) readAll(t *rapid.T) {
	var got []byte
	for offset := h.m.start; offset < h.m.end; {
		b, err := h.log.Read(offset, h.m.end, 1<<20)
		if err != nil {
			t.Fatalf("read at %d: %v", offset, err)
		}
		if len(b) == 0 {
			t.Fatalf("read at %d returned nothing before the end %d", offset, h.m.end)
		}
		got = append(got, b...)
		offset = storage.NextOffsetAfter(t, b)
	}
	if want := h.m.expectRead(h.m.start, h.m.end, 1<<30); !bytes.Equal(got, want) {
		t.Fatalf("log holds %d bytes from the start, model %d", len(got), len(want))
	}
}

// truncateAfterCrash keeps the batches below end, which must be a batch boundary.
func (m *logModel) truncateAfterCrash(end int64) {
	i := m.containing(end)
	if i < 0 || m.batches[i].base != end {
		panic(fmt.Sprintf("end %d after crash is not a batch boundary of the model", end))
	}
	m.batches = m.batches[:i]
	m.end = end
}

// check compares the log's offsets and segments with the model after every action.
func (h *logHarness) check(t *rapid.T) {
	l, m := h.log, &h.m
	if l.StartOffset() != m.start || l.EndOffset() != m.end || l.RecoveryPoint() != m.durableEnd {
		t.Fatalf("log [%d, %d) recovery point %d; model [%d, %d) durable %d",
			l.StartOffset(), l.EndOffset(), l.RecoveryPoint(), m.start, m.end, m.durableEnd)
	}
	segs := l.Segments()
	if segs[0].BaseOffset > m.start || segs[len(segs)-1].NextOffset != m.end {
		t.Fatalf("segments %+v do not span [%d, %d)", segs, m.start, m.end)
	}
	for i, s := range segs {
		if i > 0 && s.BaseOffset != segs[i-1].NextOffset {
			t.Fatalf("segment %d does not continue segment %d: %+v", i, i-1, segs)
		}
		h.checkSegment(t, s, i == len(segs)-1)
	}
}

// checkSegment compares one segment's description with the model batches it holds,
// and checks the roll rules.
func (h *logHarness) checkSegment(t *rapid.T, s storage.SegmentInfo, active bool) {
	var size int64
	maxTS := int64(-1) // Kafka's "no timestamp": the floor of SegmentInfo.MaxTimestamp
	count := 0
	var firstTS int64
	for _, b := range h.m.batches {
		if b.base < s.BaseOffset || b.base >= s.NextOffset {
			continue
		}
		if count == 0 {
			if b.base != s.BaseOffset {
				t.Fatalf("segment %+v starts inside the batch at %d", s, b.base)
			}
			firstTS = b.maxTS
		} else if age := h.cfg.SegmentAgeMax.Milliseconds(); age > 0 && b.maxTS-firstTS > age {
			t.Fatalf("segment %+v holds a batch %d ms younger than its first: should have rolled", s, b.maxTS-firstTS)
		}
		count++
		size += int64(len(b.data))
		maxTS = max(maxTS, b.maxTS)
	}
	if count == 0 && s.NextOffset != s.BaseOffset {
		// The model dropped batches wholly below the start only with their segment.
		t.Fatalf("segment %+v holds batches the model does not", s)
	}
	if size != s.SizeBytes || maxTS != s.MaxTimestamp {
		t.Fatalf("segment %+v; model: %d bytes, max timestamp %d", s, size, maxTS)
	}
	if count > 1 && s.SizeBytes > h.cfg.SegmentBytesMax {
		t.Fatalf("segment %+v exceeds %d bytes with %d batches", s, h.cfg.SegmentBytesMax, count)
	}
	if !active && count == 0 {
		t.Fatalf("inactive segment %+v is empty", s)
	}
}

func runModel(t *testing.T, newFS func(t *rapid.T) storage.FS, crash func(*rapid.T, storage.FS) storage.FS,
	failNextSync func(storage.FS, *storage.Log)) {
	var crashes, cuts int
	rapid.Check(t, func(rt *rapid.T) {
		h := newHarness(rt, newFS(rt), crash)
		h.failNextSync = failNextSync
		defer func() {
			if h.log != nil {
				_ = h.log.Close()
			}
		}()
		rt.Repeat(h.actions())
		crashes += h.crashes
		cuts += h.cuts
	})
	if crash != nil {
		t.Logf("%d crashes, %d recoveries cut a tail", crashes, cuts)
		if crashes == 0 || cuts == 0 {
			t.Errorf("the crash action never ran or never cut a tail: %d crashes, %d cuts", crashes, cuts)
		}
	}
}

// setRapidDefault sets one of rapid's flags (rapid.checks, rapid.steps) for one test,
// unless it was given on the command line, which then wins.
func setRapidDefault(t *testing.T, name string, value int) {
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == name })
	f := flag.Lookup(name)
	if explicit || f == nil {
		return
	}
	old := f.Value.String()
	if err := f.Value.Set(strconv.Itoa(value)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Value.Set(old) })
}

// TestLogModelOSFS runs the model on the real file system. Every case pays for real
// fsyncs, so it runs fewer cases than the in-memory variants unless -rapid.checks says
// otherwise.
func TestLogModelOSFS(t *testing.T) {
	setRapidDefault(t, "rapid.checks", 20)
	root := t.TempDir()
	n := 0
	runModel(t, func(rt *rapid.T) storage.FS {
		n++
		dir := filepath.Join(root, fmt.Sprint(n))
		if err := os.Mkdir(dir, 0o755); err != nil {
			rt.Fatal(err)
		}
		return storage.NewOSFS(dir)
	}, nil, nil)
}

func TestLogModelMemFS(t *testing.T) {
	setRapidDefault(t, "rapid.checks", 200)
	setRapidDefault(t, "rapid.steps", 100)
	runModel(t, func(*rapid.T) storage.FS { return storage.NewMemFS() }, nil, nil)
}

// TestLogModelMemFSCrash runs the model with crashes of the test MemFS, whose crash keeps
// synced bytes and directory entries and draws the rest.
func TestLogModelMemFSCrash(t *testing.T) {
	setRapidDefault(t, "rapid.checks", 1000)
	setRapidDefault(t, "rapid.steps", 100)
	runModel(t, func(*rapid.T) storage.FS { return storage.NewMemFS() },
		func(t *rapid.T, fsys storage.FS) storage.FS {
			seed := rapid.Uint64().Draw(t, "crashSeed")
			return fsys.(*storage.MemFS).Crash(rand.New(rand.NewPCG(seed, 0)))
		},
		func(fsys storage.FS, _ *storage.Log) { fsys.(*storage.MemFS).FailNextSync() })
}

// TestLogModelDisksim runs the model on the simulated disk, whose crashes keep, drop or
// tear each unsynced 4 KiB block by 512-byte sectors and keep or revert each unsynced
// directory change.
func TestLogModelDisksim(t *testing.T) {
	setRapidDefault(t, "rapid.checks", 500)
	setRapidDefault(t, "rapid.steps", 100)
	runModel(t,
		func(rt *rapid.T) storage.FS {
			seed := rapid.Uint64().Draw(rt, "diskSeed")
			return disksim.New(rand.New(rand.NewPCG(seed, 1)), disksim.Config{})
		},
		func(t *rapid.T, fsys storage.FS) storage.FS {
			seed := rapid.Uint64().Draw(t, "crashSeed")
			return fsys.(*disksim.FS).Crash(rand.New(rand.NewPCG(seed, 0)))
		},
		func(fsys storage.FS, l *storage.Log) {
			segs := l.Segments()
			active := path.Join(l.Dir(), storage.SegmentFileName(segs[len(segs)-1].BaseOffset, storage.LogFileSuffix))
			if err := fsys.(*disksim.FS).FailNextSync(active); err != nil {
				panic(err)
			}
		})
}

// smallBatch is a one-record batch at base stamped ts.
func smallBatch(t *rapid.T, base, ts int64) []byte {
	return storage.MakeBatch(t, base, 1, 10, ts, ts)
}

func mustErrIs(t *rapid.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}
