package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func osLog(t *testing.T, cfg LogConfig) (*OSFS, *Log) {
	t.Helper()
	o := NewOSFS(t.TempDir())
	return o, mustOpen(t, o, "topic-0", cfg)
}

func listDir(t *testing.T, fsys FS, dir string) []string {
	t.Helper()
	names, err := fsys.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestOpenCreatesEmptyLog(t *testing.T) {
	o := NewOSFS(t.TempDir())
	l := mustOpen(t, o, "data/topic-0", LogConfig{})
	defer l.Close()
	if l.StartOffset() != 0 || l.EndOffset() != 0 || l.RecoveryPoint() != 0 {
		t.Fatalf("new log spans [%d, %d) rp %d", l.StartOffset(), l.EndOffset(), l.RecoveryPoint())
	}
	if segs := l.Segments(); len(segs) != 1 || segs[0] != (SegmentInfo{MaxTimestamp: -1, RollTimestamp: -1}) {
		t.Fatalf("segments %+v", segs)
	}
	// No checkpoint: an empty directory opens as the same log.
	want := []string{
		"00000000000000000000.index", "00000000000000000000.log", "00000000000000000000.timeindex",
	}
	if got := listDir(t, o, "data/topic-0"); !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	if r := l.Recovery(); !r.DirCreated || r.CheckpointProblem != "missing" || r.CutTail() || r.SegmentsScanned != 1 {
		t.Fatalf("report %+v", r)
	}
}

// TestNewLogRecoversWithoutCheckpointWrite: a new log that never left its first segment
// recovers from a crash, twice, without writing a checkpoint, and keeps what it synced.
func TestNewLogRecoversWithoutCheckpointWrite(t *testing.T) {
	m := newMemFS()
	l := mustOpen(t, m, "p", LogConfig{})
	appendN(t, l, 2, 2, 100)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	end := l.EndOffset()
	for i := range 2 {
		m = m.crash(newRand(uint64(i)))
		l = mustOpen(t, m, "p", LogConfig{})
		if l.StartOffset() != 0 || l.EndOffset() != end || l.Recovery().DirCreated {
			t.Fatalf("crash %d: log spans [%d, %d), want [0, %d): %+v", i, l.StartOffset(), l.EndOffset(), end, l.Recovery())
		}
		if _, err := readOffsetsCheckpoint(m, "p"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("crash %d: checkpoint written (%v)", i, err)
		}
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	for _, cfg := range []LogConfig{
		{SegmentBytesMax: -1},
		{SegmentBytesMax: 1 << 31},
		{IndexIntervalBytes: -5},
		{BatchBytesMax: 10},
		{SegmentAgeMax: -time.Second},
	} {
		if _, err := OpenLog(newMemFS(), "p", cfg); err == nil {
			t.Errorf("OpenLog accepted %+v", cfg)
		}
	}
	m := newMemFS()
	f, _ := m.Create("file")
	f.Close()
	if _, err := OpenLog(m, "file", LogConfig{}); err == nil {
		t.Error("OpenLog accepted a file as its directory")
	}
}

func TestAppendAndRead(t *testing.T) {
	_, l := osLog(t, LogConfig{})
	defer l.Close()
	b0 := simpleBatch(t, 0, 3, 100)
	b1 := simpleBatch(t, 3, 1, 101)
	b2 := simpleBatch(t, 4, 5, 102)
	if err := l.Append(b0); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(slices.Concat(b1, b2)); err != nil {
		t.Fatal(err)
	}
	if l.EndOffset() != 9 {
		t.Fatalf("end offset %d, want 9", l.EndOffset())
	}
	all := slices.Concat(b0, b1, b2)
	cases := []struct {
		offset, maxOffset int64
		maxBytes          int
		want              []byte
	}{
		{0, 9, 1 << 20, all},
		{2, 9, 1 << 20, all},                             // inside the first batch
		{3, 9, 1 << 20, slices.Concat(b1, b2)},           // on a boundary
		{8, 9, 1 << 20, b2},                              // the last offset
		{9, 9, 1 << 20, nil},                             // the end
		{0, 9, 1, b0},                                    // the first batch whatever maxBytes
		{0, 9, len(b0) + len(b1), slices.Concat(b0, b1)}, // exactly fits
		{0, 9, len(b0) + len(b1) + len(b2) - 1, slices.Concat(b0, b1)},
		{0, 4, 1 << 20, slices.Concat(b0, b1)}, // maxOffset stops before b2
		{0, 3, 1 << 20, b0},
		{0, 1, 1 << 20, b0}, // maxOffset inside the first batch still returns it
		{3, 3, 1 << 20, nil},
		{4, 2, 1 << 20, nil},
	}
	for _, c := range cases {
		got, err := l.Read(c.offset, c.maxOffset, c.maxBytes)
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("Read(%d, %d, %d) = %d bytes, %v; want %d bytes", c.offset, c.maxOffset, c.maxBytes, len(got), err, len(c.want))
		}
	}
	for _, offset := range []int64{-1, 10, 100} {
		if _, err := l.Read(offset, 100, 100); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Errorf("Read(%d) = %v, want ErrOffsetOutOfRange", offset, err)
		}
	}
}

func TestAppendRejectsBadInput(t *testing.T) {
	m := newMemFS()
	l := mustOpen(t, m, "p", LogConfig{BatchBytesMax: 200})
	defer l.Close()
	appendN(t, l, 2, 2, 0)
	before := l.Segments()
	fileBefore := slices.Clone(m.live["p/00000000000000000000.log"].data)

	good := simpleBatch(t, 4, 1, 0)
	corrupt := slices.Clone(good)
	corrupt[len(corrupt)-1] ^= 1
	big := makeBatch(t, 4, batchSpec{records: 1, valueBytes: 300})
	cases := map[string][]byte{
		"empty":               nil,
		"base offset behind":  simpleBatch(t, 3, 1, 0),
		"base offset ahead":   simpleBatch(t, 5, 1, 0),
		"gap inside the call": slices.Concat(good, simpleBatch(t, 6, 1, 0)),
		"corrupt":             corrupt,
		"corrupt second":      slices.Concat(good, corrupt[:len(corrupt)-1], []byte{0}),
		"trailing bytes":      slices.Concat(good, []byte{1, 2, 3}),
		"torn":                good[:len(good)-1],
		"too large":           big,
	}
	for name, b := range cases {
		if err := l.Append(b); !errors.Is(err, ErrInvalidAppend) {
			t.Errorf("%s: %v, want ErrInvalidAppend", name, err)
		}
	}
	if !slices.Equal(l.Segments(), before) || l.EndOffset() != 4 {
		t.Fatalf("rejected appends changed the log: %+v", l.Segments())
	}
	if !bytes.Equal(m.live["p/00000000000000000000.log"].data, fileBefore) {
		t.Fatal("rejected appends changed the segment file")
	}
	if err := l.Append(good); err != nil {
		t.Fatalf("the log refuses a good batch after bad ones: %v", err)
	}
}

func TestRollBySize(t *testing.T) {
	o, l := osLog(t, LogConfig{SegmentBytesMax: 300})
	defer l.Close()
	var batches [][]byte
	for range 7 {
		batches = append(batches, appendN(t, l, 1, 2, 5)...)
	}
	size := int64(len(batches[0]))
	perSegment := 300 / size
	segs := l.Segments()
	if want := (7 + perSegment - 1) / perSegment; int64(len(segs)) != want {
		t.Fatalf("%d segments of batches of %d bytes, want %d: %+v", len(segs), size, want, segs)
	}
	for i, s := range segs {
		if s.BaseOffset != int64(i)*perSegment*2 || s.SizeBytes > 300 {
			t.Fatalf("segment %d: %+v", i, s)
		}
		name := SegmentFileName(s.BaseOffset, LogFileSuffix)
		if st, err := o.Stat(path.Join("topic-0", name)); err != nil || st.Size != s.SizeBytes {
			t.Fatalf("segment file %s: %+v, %v", name, st, err)
		}
	}
	// A batch larger than the segment limit still goes in, alone.
	bigBatch := makeBatch(t, l.EndOffset(), batchSpec{records: 1, valueBytes: 400})
	if err := l.Append(bigBatch); err != nil {
		t.Fatal(err)
	}
	last := l.Segments()[len(l.Segments())-1]
	if last.SizeBytes != int64(len(bigBatch)) || last.NextOffset != l.EndOffset() {
		t.Fatalf("oversized batch not alone in its segment: %+v", last)
	}
}

func TestRollByAge(t *testing.T) {
	_, l := osLog(t, LogConfig{SegmentAgeMax: time.Second})
	defer l.Close()
	for _, ts := range []int64{10_000, 10_500, 11_000, 11_001, 11_500, 9_000, 12_002} {
		b := simpleBatch(t, l.EndOffset(), 1, ts)
		if err := l.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	// A batch rolls when its max timestamp is more than SegmentAgeMax past the first
	// batch's: 11_000 is exactly one second past 10_000 and stays; 11_001 rolls; 12_002
	// is more than a second past 11_001 and rolls.
	var bases []int64
	for _, s := range l.Segments() {
		bases = append(bases, s.BaseOffset)
	}
	if want := []int64{0, 3, 6}; !slices.Equal(bases, want) {
		t.Fatalf("segment bases %v, want %v", bases, want)
	}
	if got := l.Segments()[1].MaxTimestamp; got != 11_500 {
		t.Fatalf("max timestamp of the second segment %d, want 11500", got)
	}
}

func TestIndexesAreSparse(t *testing.T) {
	const batches, interval = 10, 250
	var all [][]byte
	for i := range batches + 1 {
		ts := int64(1000 + i%4*10)
		all = append(all, makeBatch(t, int64(2*i), batchSpec{records: 2, valueBytes: 40, firstTS: ts, maxTS: ts}))
	}
	size := len(all[0])
	o := NewOSFS(t.TempDir())
	l := mustOpen(t, o, "p", LogConfig{IndexIntervalBytes: interval, SegmentBytesMax: int64(batches * size)})
	for _, b := range all {
		if err := l.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if n := len(l.Segments()); n != 2 {
		t.Fatalf("%d segments, want 2", n)
	}
	// The first segment rolled: its indexes are on disk. An offset entry goes to the
	// first batch and then to each batch at least interval bytes past the last indexed
	// one; a time entry goes with it when the running max timestamp grew.
	var wantIndex, wantTime []byte
	lastPos, maxTS, lastTS := -1, int64(-1), int64(-1)
	for i := range batches {
		pos := i * size
		maxTS = max(maxTS, int64(1000+i%4*10))
		if lastPos < 0 || pos-lastPos >= interval {
			wantIndex = append(wantIndex, be32(uint32(2*i))...)
			wantIndex = append(wantIndex, be32(uint32(pos))...)
			lastPos = pos
			if maxTS > lastTS {
				wantTime = append(wantTime, be64(uint64(maxTS))...)
				wantTime = append(wantTime, be32(uint32(2*i))...)
				lastTS = maxTS
			}
		}
	}
	if maxTS > lastTS { // the entry a segment gets when it rolls
		wantTime = append(wantTime, be64(uint64(maxTS))...)
		wantTime = append(wantTime, be32(uint32(2*(batches-1)))...)
	}
	gotIndex, _ := ReadFile(o, "p/00000000000000000000.index")
	gotTime, _ := ReadFile(o, "p/00000000000000000000.timeindex")
	if !bytes.Equal(gotIndex, wantIndex) || !bytes.Equal(gotTime, wantTime) {
		t.Fatalf("index %x\nwant  %x\ntime index %x\nwant       %x", gotIndex, wantIndex, gotTime, wantTime)
	}
	if len(wantIndex)/8 >= batches || len(wantIndex) < 16 {
		t.Fatalf("test data does not exercise sparseness: %d entries for %d batches", len(wantIndex)/8, batches)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened, the rolled segment is trusted with these indexes; reads use them.
	l = mustOpen(t, o, "p", LogConfig{IndexIntervalBytes: interval})
	defer l.Close()
	if r := l.Recovery(); r.ScannedFromOffset != int64(2*batches) || r.IndexesRebuilt != 0 {
		t.Fatalf("report %+v", r)
	}
	for i := range batches + 1 {
		got, err := l.Read(int64(2*i+1), int64(2*i+2), 1)
		if err != nil || !bytes.Equal(got, all[i]) {
			t.Fatalf("read batch %d: %d bytes, %v", i, len(got), err)
		}
	}
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// corruptFile flips one byte of a file under an OSFS, behind the log's back.
func corruptFile(t *testing.T, o *OSFS, name string, at int64) {
	t.Helper()
	p := filepath.Join(o.Root(), filepath.FromSlash(name))
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[at] ^= 0x40
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadNeverServesCorruptBatches(t *testing.T) {
	o, l := osLog(t, LogConfig{})
	defer l.Close()
	batches := appendN(t, l, 4, 2, 100)
	size := int64(len(batches[0]))
	// Damage the last byte of the third batch (offsets 4 and 5), inside its CRC.
	corruptFile(t, o, "topic-0/00000000000000000000.log", 3*size-1)
	// A read that reaches the damage stops before it; one that starts there fails.
	for offset, want := range map[int64][]byte{0: slices.Concat(batches[0], batches[1]), 2: batches[1]} {
		if got, err := l.Read(offset, 100, 1<<20); err != nil || !bytes.Equal(got, want) {
			t.Errorf("Read(%d) up to the damaged batch: %d bytes, %v", offset, len(got), err)
		}
	}
	for _, offset := range []int64{4, 5} {
		if _, err := l.Read(offset, 100, 1<<20); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Read(%d) of the damaged batch = %v, want ErrCorrupt", offset, err)
		}
	}
	if got, err := l.Read(0, 4, 1<<20); err != nil || !bytes.Equal(got, slices.Concat(batches[0], batches[1])) {
		t.Errorf("read before the damage: %d bytes, %v", len(got), err)
	}
	if got, err := l.Read(6, 100, 1<<20); err != nil || !bytes.Equal(got, batches[3]) {
		t.Errorf("read after the damage: %d bytes, %v", len(got), err)
	}
	if _, _, err := l.OffsetForTimestamp(102); !errors.Is(err, ErrCorrupt) {
		t.Errorf("OffsetForTimestamp landing on the damaged batch = %v, want ErrCorrupt", err)
	}
	// A damaged header (base offset) breaks the offsets' density.
	corruptFile(t, o, "topic-0/00000000000000000000.log", size+7)
	if _, err := l.Read(2, 100, 1); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Read of a batch with a damaged base offset = %v, want ErrCorrupt", err)
	}
}

func TestOffsetForTimestamp(t *testing.T) {
	_, l := osLog(t, LogConfig{SegmentBytesMax: 250, IndexIntervalBytes: 1})
	defer l.Close()
	// Batch max timestamps, two records each: offsets 0, 2, 4, ...
	stamps := []int64{100, 300, 200, 250, 500, 400, 500, 900}
	for _, ts := range stamps {
		if err := l.Append(simpleBatch(t, l.EndOffset(), 2, ts)); err != nil {
			t.Fatal(err)
		}
	}
	if len(l.Segments()) < 3 {
		t.Fatalf("want several segments, got %+v", l.Segments())
	}
	check := func(ts, want int64, wantFound bool) {
		t.Helper()
		got, found, err := l.OffsetForTimestamp(ts)
		if err != nil || got != want || found != wantFound {
			t.Errorf("OffsetForTimestamp(%d) = %d, %v, %v; want %d, %v", ts, got, found, err, want, wantFound)
		}
	}
	check(-5, 0, true)
	check(100, 0, true)
	check(101, 2, true)
	check(300, 2, true)
	check(301, 8, true)
	check(450, 8, true)
	check(501, 14, true)
	check(900, 14, true)
	check(901, -1, false)
	// Below the start offset nothing is found; inside the first batch the start offset
	// is the answer.
	if err := l.DeleteBelow(9); err != nil {
		t.Fatal(err)
	}
	check(100, 9, true)
	check(500, 9, true)
	check(501, 14, true)
}

func TestTruncateTo(t *testing.T) {
	o, l := osLog(t, LogConfig{SegmentBytesMax: 300})
	defer func() { l.Close() }()
	batches := appendN(t, l, 10, 3, 100) // offsets 0..29, a few batches a segment
	nSegs := len(l.Segments())
	if nSegs < 3 {
		t.Fatalf("want several segments: %+v", l.Segments())
	}
	if err := l.TruncateTo(100); err != nil || l.EndOffset() != 30 {
		t.Fatalf("truncate past the end: %v, end %d", err, l.EndOffset())
	}
	// Inside a batch: the whole batch goes.
	if err := l.TruncateTo(22); err != nil {
		t.Fatal(err)
	}
	if l.EndOffset() != 21 || l.RecoveryPoint() != 21 {
		t.Fatalf("after truncating to 22: end %d, rp %d; want 21", l.EndOffset(), l.RecoveryPoint())
	}
	last := l.Segments()[len(l.Segments())-1]
	for _, name := range listDir(t, o, "topic-0") {
		base, _, ok := parseSegmentFileName(name)
		if ok && base > last.BaseOffset {
			t.Fatalf("file %s of a removed segment remains", name)
		}
	}
	if _, err := l.Read(21, 100, 100); err != nil {
		t.Fatalf("read at the new end: %v", err)
	}
	if _, err := l.Read(22, 100, 100); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read past the new end: %v", err)
	}
	got, err := l.Read(0, 100, 1<<20)
	if want := slices.Concat(batches[:7]...); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("log after truncation: %d bytes, %v; want %d", len(got), err, len(want))
	}
	// On a segment boundary the segment stays, empty.
	boundary := l.Segments()[1].BaseOffset
	if err := l.TruncateTo(boundary); err != nil {
		t.Fatal(err)
	}
	if segs := l.Segments(); len(segs) != 2 || segs[1].SizeBytes != 0 || l.EndOffset() != boundary {
		t.Fatalf("after truncating to segment boundary %d: %+v", boundary, segs)
	}
	// Appending continues from the new end, and the data survives a reopen.
	more := appendN(t, l, 3, 1, 200)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, o, "topic-0", LogConfig{SegmentBytesMax: 300})
	got, err = l.Read(0, 100, 1<<20)
	if want := slices.Concat(slices.Concat(batches[:boundary/3]...), slices.Concat(more...)); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("after reopen: %d bytes, %v; want %d", len(got), err, len(want))
	}
	if _, err := l.Read(0, 100, 1); err != nil {
		t.Fatal(err)
	}
	if err := l.DeleteBelow(4); err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateTo(3); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("truncate below the start: %v", err)
	}
}

// TestTruncateToInsideFirstBatch truncates into the batch that holds the start offset:
// rounding down would go below the start, so the log empties at the start.
func TestTruncateToInsideFirstBatch(t *testing.T) {
	_, l := osLog(t, LogConfig{})
	defer l.Close()
	appendN(t, l, 3, 4, 100) // 0..11
	if err := l.DeleteBelow(5); err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateTo(6); err != nil {
		t.Fatal(err)
	}
	if l.StartOffset() != 5 || l.EndOffset() != 5 || l.RecoveryPoint() != 5 {
		t.Fatalf("log [%d, %d) rp %d, want empty at 5", l.StartOffset(), l.EndOffset(), l.RecoveryPoint())
	}
	if segs := l.Segments(); len(segs) != 1 || segs[0].BaseOffset != 5 {
		t.Fatalf("segments %+v", segs)
	}
	appendN(t, l, 1, 1, 100)
	if l.EndOffset() != 6 {
		t.Fatalf("end %d after appending", l.EndOffset())
	}
}

// TestTruncateIsDurable crashes memFS right after TruncateTo returned: no crash may bring
// the removed suffix back.
func TestTruncateIsDurable(t *testing.T) {
	m := newMemFS()
	l := mustOpen(t, m, "p", LogConfig{SegmentBytesMax: 200})
	appendN(t, l, 8, 2, 100)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 3, 2, 100) // unsynced, then truncated away with part of the synced data
	if err := l.TruncateTo(9); err != nil {
		t.Fatal(err)
	}
	want, err := l.Read(0, 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(100) {
		img := m.crash(newRand(seed))
		l2 := mustOpen(t, img, "p", LogConfig{SegmentBytesMax: 200})
		got, err := l2.Read(0, 100, 1<<20)
		if l2.EndOffset() != 8 || err != nil || !bytes.Equal(got, want) {
			t.Fatalf("seed %d: after crash end %d, %d bytes, %v; want end 8", seed, l2.EndOffset(), len(got), err)
		}
		if r := l2.Recovery(); r.CutTail() {
			t.Fatalf("seed %d: recovery cut a durable log: %+v", seed, r)
		}
	}
}

func TestDeleteBelow(t *testing.T) {
	o, l := osLog(t, LogConfig{SegmentBytesMax: 300})
	defer func() { l.Close() }()
	appendN(t, l, 10, 3, 100) // 0..29
	segs := l.Segments()
	if err := l.DeleteBelow(segs[1].BaseOffset + 1); err != nil {
		t.Fatal(err)
	}
	if got := l.Segments(); got[0] != segs[1] || l.StartOffset() != segs[1].BaseOffset+1 {
		t.Fatalf("after deleting below %d: start %d, segments %+v", segs[1].BaseOffset+1, l.StartOffset(), got)
	}
	if _, err := o.Stat("topic-0/" + SegmentFileName(0, LogFileSuffix)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("first segment file still there: %v", err)
	}
	if _, err := l.Read(segs[1].BaseOffset, 100, 1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below the start: %v", err)
	}
	// Never backwards.
	if err := l.DeleteBelow(1); err != nil || l.StartOffset() != segs[1].BaseOffset+1 {
		t.Fatalf("start moved backwards: %v, %d", err, l.StartOffset())
	}
	if err := l.DeleteBelow(31); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("delete past the end: %v", err)
	}
	// At the end offset the log rolls so every old segment goes.
	if err := l.DeleteBelow(30); err != nil {
		t.Fatal(err)
	}
	if got := l.Segments(); len(got) != 1 || got[0] != (SegmentInfo{BaseOffset: 30, NextOffset: 30, MaxTimestamp: -1, RollTimestamp: -1}) {
		t.Fatalf("after deleting everything: %+v", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, o, "topic-0", LogConfig{})
	if l.StartOffset() != 30 || l.EndOffset() != 30 {
		t.Fatalf("reopened [%d, %d), want [30, 30)", l.StartOffset(), l.EndOffset())
	}
}

// startCheckingFS checks, at every removal of a segment file, that the durable offsets
// checkpoint already holds the start offset the deletion is for.
type startCheckingFS struct {
	*memFS
	t         *testing.T
	wantStart int64
	removals  int
}

func (c *startCheckingFS) Remove(name string) error {
	if strings.HasSuffix(name, LogFileSuffix) {
		c.removals++
		ino := c.durable[path.Join("p", OffsetsCheckpointName)]
		if ino == nil {
			c.t.Fatal("segment removed before any checkpoint was durable")
		}
		ck, err := decodeOffsetsCheckpoint(ino.synced)
		if err != nil || ck.logStartOffset != c.wantStart {
			c.t.Fatalf("segment %s removed while the durable checkpoint is %+v, %v; want start %d", name, ck, err, c.wantStart)
		}
	}
	return c.memFS.Remove(name)
}

func TestDeleteBelowPersistsStartFirst(t *testing.T) {
	c := &startCheckingFS{memFS: newMemFS(), t: t}
	l := mustOpen(t, c, "p", LogConfig{SegmentBytesMax: 200})
	defer l.Close()
	appendN(t, l, 10, 2, 100)
	c.wantStart = 7
	if err := l.DeleteBelow(7); err != nil {
		t.Fatal(err)
	}
	c.wantStart = 20
	if err := l.DeleteBelow(20); err != nil {
		t.Fatal(err)
	}
	if c.removals < 2 {
		t.Fatalf("only %d segment removals: the test did not exercise deletion", c.removals)
	}
}

func TestTruncateFullyAndStartAt(t *testing.T) {
	o, l := osLog(t, LogConfig{SegmentBytesMax: 200})
	defer func() { l.Close() }()
	appendN(t, l, 6, 2, 100)
	if err := l.TruncateFullyAndStartAt(1000); err != nil {
		t.Fatal(err)
	}
	if l.StartOffset() != 1000 || l.EndOffset() != 1000 || l.RecoveryPoint() != 1000 {
		t.Fatalf("log [%d, %d) rp %d", l.StartOffset(), l.EndOffset(), l.RecoveryPoint())
	}
	want := []string{
		SegmentFileName(1000, IndexFileSuffix), SegmentFileName(1000, LogFileSuffix),
		SegmentFileName(1000, TimeIndexFileSuffix), OffsetsCheckpointName,
	}
	if got := listDir(t, o, "topic-0"); !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	appendN(t, l, 2, 2, 100)
	// Back to an offset that names an existing segment.
	if err := l.TruncateFullyAndStartAt(1000); err != nil || l.EndOffset() != 1000 {
		t.Fatalf("restart at 1000: %v, end %d", err, l.EndOffset())
	}
	if err := l.TruncateFullyAndStartAt(3); err != nil || l.StartOffset() != 3 || l.EndOffset() != 3 {
		t.Fatalf("restart at 3: %v, [%d, %d)", err, l.StartOffset(), l.EndOffset())
	}
	if err := l.TruncateFullyAndStartAt(-1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("negative start: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, o, "topic-0", LogConfig{})
	if l.StartOffset() != 3 || l.EndOffset() != 3 {
		t.Fatalf("reopened [%d, %d)", l.StartOffset(), l.EndOffset())
	}
}

func TestFailedSyncFailsTheLog(t *testing.T) {
	m := newMemFS()
	l := mustOpen(t, m, "p", LogConfig{})
	batches := appendN(t, l, 2, 1, 100)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 1, 1, 100)
	m.syncFault = func(string) error { return syscall.EIO }
	err := l.Sync()
	if !errors.Is(err, ErrLogFailed) || !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "reopen") {
		t.Fatalf("failed sync: %v", err)
	}
	m.syncFault = nil
	// A later successful fsync proves nothing: the log refuses to go on.
	for name, op := range map[string]func() error{
		"sync":     l.Sync,
		"append":   func() error { return l.Append(simpleBatch(t, l.EndOffset(), 1, 0)) },
		"truncate": func() error { return l.TruncateTo(0) },
		"delete":   func() error { return l.DeleteBelow(1) },
		"reset":    func() error { return l.TruncateFullyAndStartAt(0) },
	} {
		if err := op(); !errors.Is(err, ErrLogFailed) {
			t.Errorf("%s after a failed sync: %v", name, err)
		}
	}
	if l.RecoveryPoint() != 2 {
		t.Fatalf("recovery point %d after a failed sync, want 2", l.RecoveryPoint())
	}
	if got, err := l.Read(0, 2, 1<<20); err != nil || !bytes.Equal(got, slices.Concat(batches...)) {
		t.Fatalf("read after a failed sync: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, m, "p", LogConfig{})
	defer l.Close()
	if l.EndOffset() < 2 {
		t.Fatalf("reopened log lost synced data: end %d", l.EndOffset())
	}
	appendN(t, l, 1, 1, 100)
	if err := l.Sync(); err != nil {
		t.Fatalf("reopened log cannot sync: %v", err)
	}
}

func TestFailedWriteFailsTheLog(t *testing.T) {
	m := newMemFS()
	l := mustOpen(t, m, "p", LogConfig{})
	defer l.Close()
	m.writeFault = func(name string) error {
		if strings.HasSuffix(name, LogFileSuffix) {
			return syscall.ENOSPC
		}
		return nil
	}
	err := l.Append(simpleBatch(t, 0, 1, 0))
	if !errors.Is(err, ErrLogFailed) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append with a failing write: %v", err)
	}
	m.writeFault = nil
	if err := l.Append(simpleBatch(t, l.EndOffset(), 1, 0)); !errors.Is(err, ErrLogFailed) {
		t.Fatalf("append after a failed write: %v", err)
	}
}

func TestRecoveryPointCheckpointing(t *testing.T) {
	m := newMemFS()
	l := mustOpen(t, m, "p", LogConfig{SegmentBytesMax: 300})
	checkpointed := func() offsetsCheckpoint {
		t.Helper()
		c, err := readOffsetsCheckpoint(m, "p")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	appendN(t, l, 1, 2, 100)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if l.RecoveryPoint() != 2 {
		t.Fatalf("recovery point %d, want 2", l.RecoveryPoint())
	}
	// Progress inside the first segment is not worth a checkpoint write, and a new log
	// has none yet: recovery scans it from its first segment.
	if _, err := readOffsetsCheckpoint(m, "p"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("checkpoint after a sync inside the first segment: %v", err)
	}
	for len(l.Segments()) < 3 {
		appendN(t, l, 1, 2, 100)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if c := checkpointed(); c.recoveryPoint != l.EndOffset() {
		t.Fatalf("checkpoint %+v after a sync into a later segment, want %d", c, l.EndOffset())
	}
	appendN(t, l, 1, 1, 100)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	end := l.EndOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if c := checkpointed(); c.recoveryPoint != end {
		t.Fatalf("checkpoint %+v after close, want %d", c, end)
	}
}

func TestClosedLogRefusesWork(t *testing.T) {
	l := mustOpen(t, newMemFS(), "p", LogConfig{})
	appendN(t, l, 1, 1, 0)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := l.Read(0, 1, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("read: %v", err)
	}
	if _, _, err := l.OffsetForTimestamp(0); !errors.Is(err, ErrClosed) {
		t.Errorf("offset for timestamp: %v", err)
	}
	if err := l.Append(simpleBatch(t, 1, 1, 0)); !errors.Is(err, ErrClosed) {
		t.Errorf("append: %v", err)
	}
	if err := l.Sync(); !errors.Is(err, ErrClosed) {
		t.Errorf("sync: %v", err)
	}
}

func TestFailedTruncateAndDeleteFailTheLog(t *testing.T) {
	m := newMemFS()
	l := mustOpen(t, m, "p", LogConfig{SegmentBytesMax: 200})
	appendN(t, l, 6, 2, 100)
	m.syncFault = func(string) error { return syscall.EIO }
	if err := l.TruncateTo(5); !errors.Is(err, ErrLogFailed) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("truncate with a failing sync: %v", err)
	}
	l.Close()

	// A DeleteBelow whose checkpoint cannot be made durable must not remove anything.
	m = newMemFS()
	l = mustOpen(t, m, "p", LogConfig{SegmentBytesMax: 200})
	appendN(t, l, 6, 2, 100)
	before := listDir(t, m, "p")
	m.syncFault = func(string) error { return syscall.EIO }
	if err := l.DeleteBelow(8); !errors.Is(err, ErrLogFailed) {
		t.Fatalf("delete with a failing checkpoint: %v", err)
	}
	if got := listDir(t, m, "p"); !slices.Equal(got, before) {
		t.Fatalf("segments removed although the start offset is not durable: %v -> %v", before, got)
	}
	l.Close()
}

// TestReadRetriesTransientDamage damages one read: Read must read again rather than
// report damage the disk does not hold.
func TestReadRetriesTransientDamage(t *testing.T) {
	m := newMemFS()
	l := mustOpen(t, m, "p", LogConfig{})
	defer l.Close()
	batches := appendN(t, l, 3, 2, 100)
	damaged := 0
	m.readFault = func(name string, p []byte, off int64) {
		if damaged == 0 && len(p) > 100 {
			p[len(p)-1] ^= 1
			damaged++
		}
	}
	got, err := l.Read(0, 6, 1<<20)
	if damaged != 1 || err != nil || !bytes.Equal(got, slices.Concat(batches...)) {
		t.Fatalf("damaged %d reads: %d bytes, %v", damaged, len(got), err)
	}
	// Damage on every read is damage: the read stops before the bad batch, and one
	// starting at it gets ErrCorrupt.
	m.readFault = func(name string, p []byte, off int64) {
		if off+int64(len(p)) == 3*int64(len(batches[0])) {
			p[len(p)-1] ^= 1
		}
	}
	if got, err := l.Read(0, 6, 1<<20); err != nil || !bytes.Equal(got, slices.Concat(batches[:2]...)) {
		t.Fatalf("read with persistent damage: %d bytes, %v", len(got), err)
	}
	if _, err := l.Read(4, 6, 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read of the damaged batch: %v", err)
	}
}

// Segment files are named as Kafka names them: the base offset in 20 zero-padded
// digits, then the suffix; and the names parse back.
func TestSegmentFileNames(t *testing.T) {
	for _, base := range []int64{0, 7, 1234, 99999999999, 1<<63 - 1} {
		name := SegmentFileName(base, IndexFileSuffix)
		if want := fmt.Sprintf("%020d.index", base); name != want {
			t.Errorf("SegmentFileName(%d) = %q, want %q", base, name, want)
		}
		if got, suffix, ok := parseSegmentFileName(name); !ok || got != base || suffix != IndexFileSuffix {
			t.Errorf("%q parsed as %d %q %v", name, got, suffix, ok)
		}
	}
}

// A read across segments reads into one buffer sized up front: nothing is grown (and
// copied) segment by segment, and the buffer is about what the read returns, never more
// than its byte budget. A read bounded by maxOffset sizes it by the offset index.
func TestReadSizesItsBufferOnce(t *testing.T) {
	m := newMemFS()
	l := mustOpen(t, m, "p", LogConfig{SegmentBytesMax: 4 << 10})
	appendN(t, l, 400, 5, 1)
	if len(l.segments) < 10 {
		t.Fatalf("%d segments", len(l.segments))
	}
	for _, c := range []struct {
		offset, maxOffset int64
		maxBytes          int
	}{
		{0, l.EndOffset(), 16 << 10},
		{7, l.EndOffset(), 64 << 10},
		{0, l.EndOffset(), 1 << 20},
		{20, 600, 1 << 20},
	} {
		b, err := l.Read(c.offset, c.maxOffset, c.maxBytes)
		if err != nil {
			t.Fatal(err)
		}
		batch := len(splitBatches(t, b)[0])
		if cap(b) > c.maxBytes || cap(b)-len(b) > batch+4<<10 {
			t.Fatalf("read at %d (to %d, %d bytes): %d bytes in a buffer of %d", c.offset, c.maxOffset, c.maxBytes, len(b), cap(b))
		}
	}
}
