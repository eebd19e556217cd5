package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// diskLog is a log in an OS temp dir with helpers to damage its files between runs.
type diskLog struct {
	t   *testing.T
	o   *OSFS
	cfg LogConfig
}

const diskLogDir = "p0"

func newDiskLog(t *testing.T, cfg LogConfig) *diskLog {
	return &diskLog{t: t, o: NewOSFS(t.TempDir()), cfg: cfg}
}

func (d *diskLog) open() *Log { return mustOpen(d.t, d.o, diskLogDir, d.cfg) }

func (d *diskLog) path(name string) string {
	return filepath.Join(d.o.Root(), diskLogDir, name)
}

func (d *diskLog) read(name string) []byte {
	d.t.Helper()
	b, err := os.ReadFile(d.path(name))
	if err != nil {
		d.t.Fatal(err)
	}
	return b
}

func (d *diskLog) write(name string, data []byte) {
	d.t.Helper()
	if err := os.WriteFile(d.path(name), data, 0o644); err != nil {
		d.t.Fatal(err)
	}
}

func (d *diskLog) remove(name string) {
	d.t.Helper()
	if err := os.Remove(d.path(name)); err != nil {
		d.t.Fatal(err)
	}
}

func (d *diskLog) exists(name string) bool {
	_, err := os.Stat(d.path(name))
	return err == nil
}

func (d *diskLog) files() []string {
	d.t.Helper()
	return listDir(d.t, d.o, diskLogDir)
}

// fill writes count batches of two records, syncs if asked, closes, and returns them
// and the segments. (Reopening to ask for the segments would run recovery, which syncs.)
func (d *diskLog) fill(count int, sync bool) ([][]byte, []SegmentInfo) {
	d.t.Helper()
	l := d.open()
	batches := appendN(d.t, l, count, 2, 1000)
	if sync {
		if err := l.Sync(); err != nil {
			d.t.Fatal(err)
		}
	}
	segs := l.Segments()
	if err := l.Close(); err != nil {
		d.t.Fatal(err)
	}
	return batches, segs
}

// readAll returns the whole log's bytes, failing the test on any error.
func readAllOf(t *testing.T, l *Log) []byte {
	t.Helper()
	var out []byte
	for offset := l.StartOffset(); offset < l.EndOffset(); {
		b, err := l.Read(offset, l.EndOffset(), 1<<20)
		if err != nil {
			t.Fatalf("read at %d: %v", offset, err)
		}
		out = append(out, b...)
		offset = nextOffsetAfter(t, b)
	}
	return out
}

func seg(base int64, suffix string) string { return SegmentFileName(base, suffix) }

func TestRecoverCutsTornTail(t *testing.T) {
	d := newDiskLog(t, LogConfig{})
	l := d.open()
	batches := appendN(t, l, 5, 2, 1000)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	batches = append(batches, appendN(t, l, 2, 2, 1000)...)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data := d.read(seg(0, LogFileSuffix))
	d.write(seg(0, LogFileSuffix), data[:len(data)-10])

	l = d.open()
	r := l.Recovery()
	if l.EndOffset() != 12 || l.RecoveryPoint() != 12 {
		t.Fatalf("end %d rp %d, want 12", l.EndOffset(), l.RecoveryPoint())
	}
	if !r.CutTail() || r.CutOffset != 12 || r.BytesCut != int64(len(batches[6])-10) || r.CutBelowRecoveryPoint || r.SegmentsDeleted != 0 {
		t.Fatalf("report %+v", r)
	}
	if got := readAllOf(t, l); !bytes.Equal(got, slices.Concat(batches[:6]...)) {
		t.Fatal("surviving batches differ")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if r := d.open().Recovery(); r.CutTail() || r.IndexesRebuilt != 0 {
		t.Fatalf("second recovery was not clean: %+v", r)
	}
}

func TestRecoverCutsAtCorruptionAndDropsLaterSegments(t *testing.T) {
	d := newDiskLog(t, LogConfig{SegmentBytesMax: 300})
	batches, segsBefore := d.fill(12, false)
	if len(segsBefore) < 4 {
		t.Fatalf("want several segments, got %d", len(segsBefore))
	}
	// Damage the second batch of the second segment.
	second := segsBefore[1]
	name := seg(second.BaseOffset, LogFileSuffix)
	data := d.read(name)
	data[len(batches[0])+30] ^= 1
	d.write(name, data)

	l := d.open()
	r := l.Recovery()
	cutAt := second.BaseOffset + 2
	if l.EndOffset() != cutAt || r.CutOffset != cutAt || r.SegmentsDeleted != len(segsBefore)-2 || r.CutBelowRecoveryPoint {
		t.Fatalf("end %d, report %+v", l.EndOffset(), r)
	}
	if !strings.Contains(r.CutReason, "CRC") {
		t.Fatalf("cut reason %q does not name the CRC", r.CutReason)
	}
	for _, s := range segsBefore[2:] {
		if d.exists(seg(s.BaseOffset, LogFileSuffix)) || d.exists(seg(s.BaseOffset, IndexFileSuffix)) {
			t.Fatalf("files of segment %d survived the cut", s.BaseOffset)
		}
	}
	if got := readAllOf(t, l); !bytes.Equal(got, slices.Concat(batches[:cutAt/2]...)) {
		t.Fatal("surviving batches differ")
	}
}

// TestRecoverTrustsDurableSegments shows the trust model: a segment wholly below the
// recovery point is not read at open, so damage in its middle is found by Read, which
// refuses to serve it.
func TestRecoverTrustsDurableSegments(t *testing.T) {
	d := newDiskLog(t, LogConfig{SegmentBytesMax: 500, IndexIntervalBytes: 100})
	batches, _ := d.fill(12, true)
	name := seg(0, LogFileSuffix)
	data := d.read(name)
	data[len(batches[0])+len(batches[1])/2] ^= 1 // inside the second batch, an indexed one
	d.write(name, data)
	l := d.open()
	if r := l.Recovery(); r.CutTail() || r.ScannedFromOffset == 0 {
		t.Fatalf("report %+v", r)
	}
	if _, err := l.Read(2, 100, 1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read of the damaged batch: %v", err)
	}
	if got, err := l.Read(0, 100, 1); err != nil || !bytes.Equal(got, batches[0]) {
		t.Fatalf("read of the batch before: %v", err)
	}
}

func TestRecoverDetectsGaps(t *testing.T) {
	for _, synced := range []bool{false, true} {
		d := newDiskLog(t, LogConfig{SegmentBytesMax: 300})
		batches, segs := d.fill(12, synced)
		d.remove(seg(segs[2].BaseOffset, LogFileSuffix))
		l := d.open()
		r := l.Recovery()
		if l.EndOffset() != segs[1].NextOffset || r.CutOffset != segs[1].NextOffset ||
			r.SegmentsDeleted != len(segs)-3 || !strings.Contains(r.CutReason, "does not continue") {
			t.Fatalf("synced=%v: end %d, report %+v", synced, l.EndOffset(), r)
		}
		if r.CutBelowRecoveryPoint != synced {
			t.Fatalf("synced=%v: CutBelowRecoveryPoint %v", synced, r.CutBelowRecoveryPoint)
		}
		if got := readAllOf(t, l); !bytes.Equal(got, slices.Concat(batches[:segs[1].NextOffset/2]...)) {
			t.Fatal("surviving batches differ")
		}
		for _, name := range d.files() {
			if base, _, ok := parseSegmentFileName(name); ok && base > segs[1].BaseOffset {
				t.Fatalf("file %s survived the cut", name)
			}
		}
	}
}

func TestRecoverChecksSegmentNames(t *testing.T) {
	d := newDiskLog(t, LogConfig{SegmentBytesMax: 300})
	_, segs := d.fill(12, false)
	// Give the third segment's file the name of an offset it does not hold.
	wrong := segs[2].BaseOffset + 1
	d.write(seg(wrong, LogFileSuffix), d.read(seg(segs[2].BaseOffset, LogFileSuffix)))
	d.remove(seg(segs[2].BaseOffset, LogFileSuffix))
	l := d.open()
	if r := l.Recovery(); l.EndOffset() != segs[1].NextOffset || !r.CutTail() {
		t.Fatalf("end %d, report %+v", l.EndOffset(), r)
	}
	// And a first segment whose batches do not start at its name.
	d2 := newDiskLog(t, LogConfig{})
	_, _ = d2.fill(3, true)
	d2.write(seg(7, LogFileSuffix), d2.read(seg(0, LogFileSuffix)))
	d2.remove(seg(0, LogFileSuffix))
	if err := os.Remove(d2.path(OffsetsCheckpointName)); err != nil {
		t.Fatal(err)
	}
	l = d2.open()
	if r := l.Recovery(); l.StartOffset() != 7 || l.EndOffset() != 7 || r.CutOffset != 7 {
		t.Fatalf("log [%d, %d), report %+v", l.StartOffset(), l.EndOffset(), r)
	}
}

func TestRecoverWithoutUsableCheckpoint(t *testing.T) {
	for name, damage := range map[string]func(d *diskLog){
		"missing": func(d *diskLog) { d.remove(OffsetsCheckpointName) },
		"garbled": func(d *diskLog) {
			data := d.read(OffsetsCheckpointName)
			data[len(data)/2] ^= 1
			d.write(OffsetsCheckpointName, data)
		},
		// Not read at all: a file this large cannot be one the log wrote.
		"oversized": func(d *diskLog) {
			d.write(OffsetsCheckpointName, append(d.read(OffsetsCheckpointName), make([]byte, smallFileBytesMax)...))
		},
	} {
		d := newDiskLog(t, LogConfig{SegmentBytesMax: 300})
		batches, _ := d.fill(8, true)
		damage(d)
		l := d.open()
		r := l.Recovery()
		if r.CheckpointProblem == "" || r.ScannedFromOffset != 0 || r.SegmentsScanned != len(l.Segments()) || r.CutTail() {
			t.Fatalf("%s: report %+v", name, r)
		}
		if got := readAllOf(t, l); !bytes.Equal(got, slices.Concat(batches...)) {
			t.Fatalf("%s: batches differ", name)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if r := d.open().Recovery(); r.CheckpointProblem != "" {
			t.Fatalf("%s: checkpoint not rewritten: %+v", name, r)
		}
	}
}

func TestRecoverIgnoresRecoveryPointBeyondDisk(t *testing.T) {
	d := newDiskLog(t, LogConfig{SegmentBytesMax: 300})
	batches, segs := d.fill(8, false)
	if err := writeOffsetsCheckpoint(d.o, diskLogDir, offsetsCheckpoint{logStartOffset: 0, recoveryPoint: 1000}); err != nil {
		t.Fatal(err)
	}
	// Tear the last segment: recovery must still scan and cut it.
	lastName := seg(segs[len(segs)-1].BaseOffset, LogFileSuffix)
	data := d.read(lastName)
	d.write(lastName, data[:len(data)-1])
	l := d.open()
	if l.EndOffset() != 14 || l.RecoveryPoint() != 14 || !l.Recovery().CutTail() {
		t.Fatalf("end %d rp %d report %+v", l.EndOffset(), l.RecoveryPoint(), l.Recovery())
	}
	if got := readAllOf(t, l); !bytes.Equal(got, slices.Concat(batches[:7]...)) {
		t.Fatal("batches differ")
	}
}

func TestRecoverHandlesStrayAndUnknownFiles(t *testing.T) {
	d := newDiskLog(t, LogConfig{})
	_, _ = d.fill(2, true)
	d.write(OffsetsCheckpointName+TmpSuffix, []byte("half"))
	d.write("producer-state.tmp", nil)
	d.write(seg(99, IndexFileSuffix), make([]byte, 8))
	d.write(seg(99, TimeIndexFileSuffix), nil)
	d.write("notes.txt", []byte("not ours"))
	d.write("123.log", []byte("short name"))
	if err := os.Mkdir(d.path(seg(500, LogFileSuffix)), 0o755); err != nil {
		t.Fatal(err)
	}
	l := d.open()
	r := l.Recovery()
	if r.StrayFilesRemoved != 4 || r.CutTail() || l.EndOffset() != 4 {
		t.Fatalf("end %d, report %+v", l.EndOffset(), r)
	}
	if want := []string{seg(500, LogFileSuffix), "123.log", "notes.txt"}; !slices.Equal(r.UnknownFiles, want) {
		t.Fatalf("unknown files %v, want %v", r.UnknownFiles, want)
	}
	want := []string{
		seg(0, IndexFileSuffix), seg(0, LogFileSuffix), seg(0, TimeIndexFileSuffix),
		seg(500, LogFileSuffix), "123.log", LeaderEpochCheckpointName, OffsetsCheckpointName, "notes.txt",
	}
	if err := WriteLeaderEpochs(d.o, diskLogDir, []EpochEntry{{1, 0}}); err != nil {
		t.Fatal(err)
	}
	if got := d.files(); !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
}

func TestRecoverRebuildsBadIndexes(t *testing.T) {
	damages := map[string]func(d *diskLog, base int64){
		"odd size": func(d *diskLog, base int64) {
			b := d.read(seg(base, IndexFileSuffix))
			d.write(seg(base, IndexFileSuffix), b[:len(b)-3])
		},
		"not monotonic": func(d *diskLog, base int64) {
			b := d.read(seg(base, IndexFileSuffix))
			copy(b[8:16], b[16:24])
			d.write(seg(base, IndexFileSuffix), b)
		},
		"position outside": func(d *diskLog, base int64) {
			b := d.read(seg(base, IndexFileSuffix))
			binary.BigEndian.PutUint32(b[len(b)-4:], 1<<30)
			d.write(seg(base, IndexFileSuffix), b)
		},
		"entry inside a batch": func(d *diskLog, base int64) {
			b := d.read(seg(base, IndexFileSuffix))
			pos := binary.BigEndian.Uint32(b[len(b)-4:])
			binary.BigEndian.PutUint32(b[len(b)-4:], pos+1)
			d.write(seg(base, IndexFileSuffix), b)
		},
		"entry with the wrong offset": func(d *diskLog, base int64) {
			b := d.read(seg(base, IndexFileSuffix))
			rel := binary.BigEndian.Uint32(b[len(b)-8:])
			binary.BigEndian.PutUint32(b[len(b)-8:], rel+1)
			d.write(seg(base, IndexFileSuffix), b)
		},
		"missing index": func(d *diskLog, base int64) { d.remove(seg(base, IndexFileSuffix)) },
		"time index garbage": func(d *diskLog, base int64) {
			d.write(seg(base, TimeIndexFileSuffix), bytes.Repeat([]byte{0xff}, 24))
		},
		"missing time index": func(d *diskLog, base int64) { d.remove(seg(base, TimeIndexFileSuffix)) },
		// More entries than the segment has batches: refused before it is read.
		"oversized index": func(d *diskLog, base int64) {
			d.write(seg(base, IndexFileSuffix), append(d.read(seg(base, IndexFileSuffix)), make([]byte, 1<<20)...))
		},
	}
	for name, damage := range damages {
		d := newDiskLog(t, LogConfig{SegmentBytesMax: 500, IndexIntervalBytes: 100})
		batches, segs := d.fill(20, true)
		if len(segs) < 3 {
			t.Fatalf("want several segments: %+v", segs)
		}
		target := segs[1].BaseOffset
		goodIndex, goodTime := d.read(seg(target, IndexFileSuffix)), d.read(seg(target, TimeIndexFileSuffix))
		if len(goodIndex) < 24 {
			t.Fatalf("index too small for the damages: %d bytes", len(goodIndex))
		}
		damage(d, target)
		l := d.open()
		r := l.Recovery()
		if r.ScannedFromOffset != target || r.IndexesRebuilt < 1 || r.CutTail() {
			t.Fatalf("%s: report %+v", name, r)
		}
		if !bytes.Equal(d.read(seg(target, IndexFileSuffix)), goodIndex) || !bytes.Equal(d.read(seg(target, TimeIndexFileSuffix)), goodTime) {
			t.Fatalf("%s: rebuilt indexes differ from the originals", name)
		}
		if got := readAllOf(t, l); !bytes.Equal(got, slices.Concat(batches...)) {
			t.Fatalf("%s: batches differ", name)
		}
		if !slices.Equal(l.Segments(), segs) {
			t.Fatalf("%s: segments %+v, want %+v", name, l.Segments(), segs)
		}
		l.Close()
	}
}

func TestRecoverFinishesInterruptedDeleteBelow(t *testing.T) {
	d := newDiskLog(t, LogConfig{SegmentBytesMax: 300})
	_, segs := d.fill(12, true)
	l := d.open()
	saved := map[string][]byte{}
	for _, suffix := range []string{LogFileSuffix, IndexFileSuffix, TimeIndexFileSuffix} {
		saved[seg(0, suffix)] = d.read(seg(0, suffix))
	}
	start := segs[1].BaseOffset + 1
	if err := l.DeleteBelow(start); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// As if the removals had not reached the disk before a crash.
	for name, data := range saved {
		d.write(name, data)
	}
	l = d.open()
	if r := l.Recovery(); r.SegmentsBelowStartDeleted != 1 || l.StartOffset() != start || r.CutTail() {
		t.Fatalf("start %d, report %+v", l.StartOffset(), r)
	}
	if d.exists(seg(0, LogFileSuffix)) || d.exists(seg(0, IndexFileSuffix)) {
		t.Fatal("files below the start survived recovery")
	}
}

func TestRecoverRestartsEmptyWhenNothingReachesTheStart(t *testing.T) {
	d := newDiskLog(t, LogConfig{})
	batches, _ := d.fill(6, true)
	l := d.open()
	if err := l.DeleteBelow(9); err != nil {
		t.Fatal(err)
	}
	l.Close()
	// Damage below the start offset takes everything after it too.
	data := d.read(seg(0, LogFileSuffix))
	d.write(seg(0, LogFileSuffix), data[:len(batches[0])+5])
	l = d.open()
	r := l.Recovery()
	if !r.ResetToStart || l.StartOffset() != 9 || l.EndOffset() != 9 || r.CutOffset != 2 {
		t.Fatalf("log [%d, %d), report %+v", l.StartOffset(), l.EndOffset(), r)
	}
	if got := d.files(); !slices.Equal(got, []string{seg(9, IndexFileSuffix), seg(9, LogFileSuffix), seg(9, TimeIndexFileSuffix), OffsetsCheckpointName}) {
		t.Fatalf("files %v", got)
	}
}

func TestRecoverEmptyDirectoryAtCheckpointedStart(t *testing.T) {
	m := newMemFS()
	if err := m.MkdirAll("p"); err != nil {
		t.Fatal(err)
	}
	if err := writeOffsetsCheckpoint(m, "p", offsetsCheckpoint{logStartOffset: 42, recoveryPoint: 42}); err != nil {
		t.Fatal(err)
	}
	l := mustOpen(t, m, "p", LogConfig{})
	if l.StartOffset() != 42 || l.EndOffset() != 42 || l.Segments()[0].BaseOffset != 42 {
		t.Fatalf("log [%d, %d), segments %+v", l.StartOffset(), l.EndOffset(), l.Segments())
	}
	if err := l.Append(simpleBatch(t, 42, 1, 0)); err != nil {
		t.Fatal(err)
	}
}

func TestRecoverSurvivesHugeLengthField(t *testing.T) {
	m := newMemFS()
	if err := m.MkdirAll("p"); err != nil {
		t.Fatal(err)
	}
	b := simpleBatch(t, 0, 1, 0)
	bad := slices.Clone(b)
	binary.BigEndian.PutUint32(bad[8:], 1<<30-12) // claims a 1 GiB batch
	f, _ := m.Create("p/" + seg(0, LogFileSuffix))
	f.WriteAt(slices.Concat(b, bad), 0)
	f.Close()
	l := mustOpen(t, m, "p", LogConfig{})
	if l.EndOffset() != 1 || l.Recovery().CutOffset != 1 {
		t.Fatalf("end %d, report %+v", l.EndOffset(), l.Recovery())
	}
}

func TestOpenFailsOnUnreadableDirectory(t *testing.T) {
	m := newMemFS()
	if err := m.MkdirAll("p"); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLog(errListFS{m}, "p", LogConfig{}); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("OpenLog = %v, want the list error", err)
	}
}

type errListFS struct{ *memFS }

func (errListFS) List(string) ([]string, error) { return nil, fs.ErrPermission }

// TestRecoverRereadsBeforeCutting damages one read of a durable batch: recovery must not
// cut data the disk still holds intact.
func TestRecoverRereadsBeforeCutting(t *testing.T) {
	m := newMemFS()
	l := mustOpen(t, m, "p", LogConfig{})
	batches := appendN(t, l, 5, 2, 100)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	damaged := 0
	m.readFault = func(name string, p []byte, off int64) {
		if strings.HasSuffix(name, LogFileSuffix) && damaged == 0 && len(p) > 100 {
			p[100] ^= 1
			damaged++
		}
	}
	l = mustOpen(t, m, "p", LogConfig{})
	if r := l.Recovery(); damaged != 1 || r.CutTail() || r.ReadsRetried != 1 || l.EndOffset() != 10 {
		t.Fatalf("damaged %d reads; end %d, report %+v", damaged, l.EndOffset(), r)
	}
	if got := readAllOf(t, l); !bytes.Equal(got, slices.Concat(batches...)) {
		t.Fatal("batches differ")
	}
}

// A checkpoint far larger than any the log writes is refused before it is read: nothing
// is allocated for a garbled size.
func TestOversizedCheckpointIsNotRead(t *testing.T) {
	m := newMemFS()
	if err := m.MkdirAll("p"); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(m, path.Join("p", OffsetsCheckpointName), make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	_, err := readOffsetsCheckpoint(m, "p")
	if !errors.Is(err, ErrBadCheckpoint) || !strings.Contains(err.Error(), ErrFileTooLarge.Error()) {
		t.Fatalf("read an oversized checkpoint: %v", err)
	}
	if _, err := ReadFileAtMost(m, path.Join("p", OffsetsCheckpointName), 1<<20); err != nil {
		t.Fatalf("a file of exactly the bound: %v", err)
	}
}
