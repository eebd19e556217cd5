package storage

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/seedlog/seedlog/core/record"
)

// readFenced reads the whole log, skipping fences, and returns the batches read and
// the fences met. Any other error fails the test.
func readFenced(t *testing.T, l *Log) ([]byte, []Fence) {
	t.Helper()
	var out []byte
	var met []Fence
	for offset := l.StartOffset(); offset < l.EndOffset(); {
		b, err := l.Read(offset, l.EndOffset(), 1<<20)
		var fe *FencedError
		if errors.As(err, &fe) {
			met = append(met, fe.Fence)
			offset = fe.Fence.To
			continue
		}
		if err != nil || len(b) == 0 {
			t.Fatalf("read at %d: %d bytes, %v", offset, len(b), err)
		}
		out = append(out, b...)
		offset = nextOffsetAfter(t, b)
	}
	return out, met
}

// offsetsOf lists the first offset of each batch in b.
func offsetsOf(t *testing.T, b []byte) []int64 {
	t.Helper()
	var out []int64
	if _, err := record.Split(b, func(h record.Header, _ []byte) error {
		out = append(out, h.BaseOffset)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRecoverFencesDamageBelowRecoveryPoint(t *testing.T) {
	d := newDiskLog(t, LogConfig{})
	batches, _ := d.fill(4, true)
	name := seg(0, LogFileSuffix)
	data := d.read(name)
	data[len(batches[0])+len(batches[1])-1] ^= 1 // the second batch, offsets 2 and 3
	d.write(name, data)

	l := d.open()
	r := l.Recovery()
	want := Fence{From: 2, To: 4, Kind: FenceDamaged}
	if r.CutTail() || !slices.Equal(r.Fenced, []Fence{want}) || l.EndOffset() != 8 || l.RecoveryPoint() != 8 {
		t.Fatalf("end %d, report %+v", l.EndOffset(), r)
	}
	got, met := readFenced(t, l)
	if !bytes.Equal(got, slices.Concat(batches[0], batches[2], batches[3])) || !slices.Equal(met, []Fence{want}) {
		t.Fatalf("read batches at %v, fences %v", offsetsOf(t, got), met)
	}
	for _, off := range []int64{2, 3} {
		var fe *FencedError
		if _, err := l.Read(off, 8, 1<<20); !errors.As(err, &fe) || fe.Fence != want {
			t.Fatalf("read at %d: %v", off, err)
		}
	}
	// New writes go after the end: no offset is used twice.
	more := appendN(t, l, 1, 2, 2000)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// The fence survives a restart, and nothing is left to repair.
	l = d.open()
	defer l.Close()
	if r := l.Recovery(); r.CutTail() || len(r.Fenced) != 0 || !slices.Equal(l.Fences(), []Fence{want}) || l.EndOffset() != 10 {
		t.Fatalf("after restart: end %d fences %v report %+v", l.EndOffset(), l.Fences(), r)
	}
	got, _ = readFenced(t, l)
	if !bytes.Equal(got, slices.Concat(batches[0], batches[2], batches[3], more[0])) {
		t.Fatalf("after restart read batches at %v", offsetsOf(t, got))
	}
}

// TestRecoverKeepsIntactBatchesAfterDamage is the case of a log of about a thousand
// records in one segment with 16 bytes flipped in the middle: recovery used to cut it
// at the damage, intact batches after it included, and new writes then took offsets it
// had acknowledged. Now the log keeps its end, every intact batch stays readable, the
// damaged range answers an error, and new writes go after the end.
func TestRecoverKeepsIntactBatchesAfterDamage(t *testing.T) {
	d := newDiskLog(t, LogConfig{})
	batches, _ := d.fill(500, true) // 1000 records
	name := seg(0, LogFileSuffix)
	data := d.read(name)
	mid := int64(len(data) / 2)
	for i := range int64(16) {
		data[mid+i] ^= 0x10
	}
	d.write(name, data)

	l := d.open()
	defer l.Close()
	r := l.Recovery()
	if r.CutTail() || len(r.Fenced) != 1 || l.EndOffset() != 1000 {
		t.Fatalf("end %d, report %+v", l.EndOffset(), r)
	}
	f := r.Fenced[0]
	if f.To-f.From > 4 || !f.Contains(mid/int64(len(batches[0]))*2) {
		t.Fatalf("fence %v does not cover just the batches around byte %d", f, mid)
	}
	got, _ := readFenced(t, l)
	var intact [][]byte
	for i, b := range batches {
		if !f.Contains(int64(2 * i)) {
			intact = append(intact, b)
		}
	}
	if !bytes.Equal(got, slices.Concat(intact...)) {
		t.Fatalf("read %d bytes, want every intact batch (%d of %d)", len(got), len(intact), len(batches))
	}
	if err := l.Append(simpleBatch(t, 1000, 2, 5000)); err != nil {
		t.Fatal(err)
	}
	if l.EndOffset() != 1002 {
		t.Fatalf("end after append %d", l.EndOffset())
	}
}

func TestRecoverFencesDamagedFirstBatch(t *testing.T) {
	d := newDiskLog(t, LogConfig{})
	batches, _ := d.fill(3, true)
	name := seg(0, LogFileSuffix)
	data := d.read(name)
	data[record.HeaderSize+2] ^= 1
	d.write(name, data)
	l := d.open()
	defer l.Close()
	want := Fence{From: 0, To: 2, Kind: FenceDamaged}
	if l.StartOffset() != 0 || l.EndOffset() != 6 || !slices.Equal(l.Fences(), []Fence{want}) {
		t.Fatalf("log [%d, %d) fences %v", l.StartOffset(), l.EndOffset(), l.Fences())
	}
	if got, _ := readFenced(t, l); !bytes.Equal(got, slices.Concat(batches[1:]...)) {
		t.Fatalf("read batches at %v", offsetsOf(t, got))
	}
	if d.exists(seg(0, LogFileSuffix)) {
		t.Fatal("the damaged segment held nothing valid but its file stayed")
	}
}

func TestRecoverFencesDamagedLastBatchUpToRecoveryPoint(t *testing.T) {
	d := newDiskLog(t, LogConfig{})
	batches, _ := d.fill(3, true)
	name := seg(0, LogFileSuffix)
	data := d.read(name)
	data[len(data)-1] ^= 1
	d.write(name, data)
	l := d.open()
	defer l.Close()
	want := Fence{From: 4, To: 6, Kind: FenceDamaged}
	if l.EndOffset() != 6 || !slices.Equal(l.Fences(), []Fence{want}) {
		t.Fatalf("end %d fences %v report %+v", l.EndOffset(), l.Fences(), l.Recovery())
	}
	if got, _ := readFenced(t, l); !bytes.Equal(got, slices.Concat(batches[:2]...)) {
		t.Fatalf("read batches at %v", offsetsOf(t, got))
	}
}

// TestRecoverRedoesInterruptedFence puts back the damaged bytes after a fencing, as a
// crash that lost the cut of the damaged segment would: recovery redoes the fencing.
func TestRecoverRedoesInterruptedFence(t *testing.T) {
	d := newDiskLog(t, LogConfig{})
	batches, _ := d.fill(4, true)
	name := seg(0, LogFileSuffix)
	data := d.read(name)
	data[len(batches[0])+10] ^= 1
	d.write(name, data)
	d.open().Close()
	d.write(name, data) // the cut is undone; the copy at offset 4 stays
	l := d.open()
	defer l.Close()
	if r := l.Recovery(); r.InterruptedFencesRedone != 1 || len(r.Fenced) != 1 {
		t.Fatalf("report %+v", r)
	}
	got, met := readFenced(t, l)
	if !bytes.Equal(got, slices.Concat(batches[0], batches[2], batches[3])) || len(met) != 1 || l.EndOffset() != 8 {
		t.Fatalf("read batches at %v, fences %v", offsetsOf(t, got), met)
	}
}

func TestFencesSurviveADamagedCopy(t *testing.T) {
	d := newDiskLog(t, LogConfig{})
	batches, _ := d.fill(3, true)
	data := d.read(seg(0, LogFileSuffix))
	data[len(batches[0])+10] ^= 1
	d.write(seg(0, LogFileSuffix), data)
	d.open().Close()
	for _, copyName := range []string{FencesFileName, FencesCopyFileName} {
		good := d.read(copyName)
		bad := slices.Clone(good)
		bad[len(bad)/2] ^= 1
		oversized := append(slices.Clone(good), make([]byte, fencesBytesMax)...)
		for _, damaged := range [][]byte{bad, oversized} {
			d.write(copyName, damaged)
			l := d.open()
			if !slices.Equal(l.Fences(), []Fence{{From: 2, To: 4, Kind: FenceDamaged}}) || l.Recovery().FencesProblem == "" {
				t.Fatalf("with %s damaged (%d bytes): fences %v report %+v", copyName, len(damaged), l.Fences(), l.Recovery())
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			d.write(copyName, good)
		}
	}
}

// damagedMultiSegmentLog returns a synced log of several segments over a memFS, with
// one batch in the middle of its first segment damaged at rest behind its back.
func damagedMultiSegmentLog(t *testing.T) (*memFS, *Log, [][]byte, int64) {
	m := newMemFS()
	cfg := LogConfig{SegmentBytesMax: 600, IndexIntervalBytes: 100}
	l := mustOpen(t, m, "p", cfg)
	batches := appendN(t, l, 20, 2, 100)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if len(l.Segments()) < 3 {
		t.Fatalf("segments %+v", l.Segments())
	}
	// Batch 2 (offsets 4 and 5) of segment 0: damaged at rest.
	ino := m.live["p/"+seg(0, LogFileSuffix)]
	ino.data[2*len(batches[0])+20] ^= 4
	ino.synced[2*len(batches[0])+20] ^= 4
	return m, l, batches, 4
}

func TestCheckDamageFencesAtRunTime(t *testing.T) {
	m, l, batches, damaged := damagedMultiSegmentLog(t)
	end := l.EndOffset()
	if _, err := l.Read(damaged, end, 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read of the damaged batch: %v", err)
	}
	found, err := l.CheckDamage(damaged)
	want := Fence{From: damaged, To: damaged + 2, Kind: FenceDamaged}
	if err != nil || !slices.Equal(found, []Fence{want}) || l.EndOffset() != end {
		t.Fatalf("found %v, %v, end %d", found, err, l.EndOffset())
	}
	got, met := readFenced(t, l)
	intact := slices.Concat(slices.Concat(batches[:2]...), slices.Concat(batches[3:]...))
	if !bytes.Equal(got, intact) || !slices.Equal(met, []Fence{want}) {
		t.Fatalf("read batches at %v, fences %v", offsetsOf(t, got), met)
	}
	// The same check again finds nothing new; appends and a restart keep it all.
	if found, err := l.CheckDamage(damaged + 2); err != nil || len(found) != 0 {
		t.Fatalf("second check: %v, %v", found, err)
	}
	more := appendN(t, l, 1, 2, 500)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := mustOpen(t, m, "p", LogConfig{SegmentBytesMax: 600, IndexIntervalBytes: 100})
	defer l2.Close()
	got, met = readFenced(t, l2)
	if !bytes.Equal(got, slices.Concat(intact, more[0])) || !slices.Equal(met, []Fence{want}) || l2.EndOffset() != end+2 {
		t.Fatalf("after restart: read batches at %v, fences %v, end %d", offsetsOf(t, got), met, l2.EndOffset())
	}
}

func TestCheckDamageIgnoresTransientReadFaults(t *testing.T) {
	m := newMemFS()
	l := mustOpen(t, m, "p", LogConfig{SegmentBytesMax: 600, IndexIntervalBytes: 100})
	defer l.Close()
	appendN(t, l, 20, 2, 100)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	m.readFault = func(name string, p []byte, off int64) {
		if len(p) > 0 && rng.IntN(3) == 0 {
			p[rng.IntN(len(p))] ^= 1 << rng.IntN(8)
		}
	}
	for off := int64(0); off < l.EndOffset(); off += 2 {
		if found, err := l.CheckDamage(off); err != nil || len(found) != 0 {
			t.Fatalf("check at %d: %v, %v", off, found, err)
		}
	}
	m.readFault = nil
	if _, met := readFenced(t, l); len(met) != 0 {
		t.Fatalf("fences %v", met)
	}
}

func TestTruncateAndDeleteAroundFences(t *testing.T) {
	_, l, _, damaged := damagedMultiSegmentLog(t)
	defer l.Close()
	if _, err := l.CheckDamage(damaged); err != nil {
		t.Fatal(err)
	}
	f := Fence{From: damaged, To: damaged + 2, Kind: FenceDamaged}
	// Into the middle of the fence: it is cut there and the log ends there.
	if err := l.TruncateTo(damaged + 1); err != nil {
		t.Fatal(err)
	}
	if l.EndOffset() != damaged+1 || !slices.Equal(l.Fences(), []Fence{{From: damaged, To: damaged + 1, Kind: FenceDamaged}}) {
		t.Fatalf("end %d fences %v", l.EndOffset(), l.Fences())
	}
	if err := l.Append(simpleBatch(t, damaged+1, 2, 100)); err != nil {
		t.Fatal(err)
	}
	// To its start: the fence goes, the log ends before it.
	if err := l.TruncateTo(f.From); err != nil {
		t.Fatal(err)
	}
	if l.EndOffset() != f.From || len(l.Fences()) != 0 {
		t.Fatalf("end %d fences %v", l.EndOffset(), l.Fences())
	}
	// A skip adds a lost range at the end; DeleteBelow into it keeps its rest.
	if err := l.SkipTo(f.From+3, FenceLost); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(simpleBatch(t, f.From+3, 2, 100)); err != nil {
		t.Fatal(err)
	}
	lost := Fence{From: f.From, To: f.From + 3, Kind: FenceLost}
	if !slices.Equal(l.Fences(), []Fence{lost}) || l.EndOffset() != f.From+5 {
		t.Fatalf("end %d fences %v", l.EndOffset(), l.Fences())
	}
	if err := l.DeleteBelow(f.From + 1); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l.Fences(), []Fence{{From: f.From + 1, To: f.From + 3, Kind: FenceLost}}) || l.StartOffset() != f.From+1 {
		t.Fatalf("start %d fences %v", l.StartOffset(), l.Fences())
	}
	if _, err := l.Read(f.From+1, l.EndOffset(), 1<<20); !errors.Is(err, ErrFenced) {
		t.Fatalf("read in the fence: %v", err)
	}
	if err := l.TruncateFullyAndStartAt(100); err != nil {
		t.Fatal(err)
	}
	if len(l.Fences()) != 0 {
		t.Fatalf("fences after a reset: %v", l.Fences())
	}
}

func TestSkipSurvivesRestartAndCrash(t *testing.T) {
	d := newDiskLog(t, LogConfig{})
	l := d.open()
	appendN(t, l, 2, 2, 100)
	if err := l.SkipTo(10, FenceLost); err != nil {
		t.Fatal(err)
	}
	if err := l.SkipTo(12, FenceLost); err != nil { // an empty active segment is replaced
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = d.open()
	defer l.Close()
	if l.EndOffset() != 12 || !slices.Equal(l.Fences(), []Fence{{From: 4, To: 12, Kind: FenceLost}}) {
		t.Fatalf("end %d fences %v", l.EndOffset(), l.Fences())
	}
	if err := l.SkipTo(12, FenceLost); !errors.Is(err, ErrInvalidAppend) {
		t.Fatalf("skip to the end: %v", err)
	}
}

func TestFencesRecordRoundTrips(t *testing.T) {
	fences := []Fence{{From: 0, To: 3, Kind: FenceDamaged}, {From: 5, To: 9, Kind: FenceLost}}
	gen, got, err := decodeFences(encodeFences(7, fences))
	if err != nil || gen != 7 || !slices.Equal(got, fences) {
		t.Fatalf("%d %v %v", gen, got, err)
	}
	for _, bad := range []string{
		"",
		"seedlog-fenced-ranges 1\ngeneration 1\ndamaged 3 3\n",
		"seedlog-fenced-ranges 1\ngeneration 1\ndamaged 5 9\nlost 0 3\n",
		"seedlog-fenced-ranges 1\ngeneration 01\n",
	} {
		body := []byte(bad)
		if _, _, err := decodeFences(append(body, encodeFences(0, nil)[len(encodeFences(0, nil))-16:]...)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// FuzzFences feeds arbitrary bytes to the fenced-ranges decoder: it never panics, and
// whatever it accepts encodes back to the same bytes.
func FuzzFences(f *testing.F) {
	f.Add(encodeFences(1, nil))
	f.Add(encodeFences(3, []Fence{{From: 0, To: 3, Kind: FenceDamaged}, {From: 5, To: 9, Kind: FenceLost}}))
	f.Add([]byte("seedlog-fenced-ranges 1\ngeneration 1\ndamaged 3 1\ncrc32c 00000000\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		gen, fences, err := decodeFences(data)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeFences(gen, fences), data) {
			t.Fatalf("accepted %q, which encodes as %q", data, encodeFences(gen, fences))
		}
	})
}

// A cut at the base offset of a batch whose header is damaged needs nothing from that
// header: the batches before it end there, and so does the log after the cut.
func TestTruncateToADamagedHeader(t *testing.T) {
	m := newMemFS()
	cfg := LogConfig{SegmentBytesMax: 600, IndexIntervalBytes: 100}
	l := mustOpen(t, m, "p", cfg)
	defer l.Close()
	batches := appendN(t, l, 20, 2, 100)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	// The base offset of batch 2 (offsets 4 and 5) of segment 0.
	ino := m.live["p/"+seg(0, LogFileSuffix)]
	ino.data[2*len(batches[0])+3] ^= 4
	ino.synced[2*len(batches[0])+3] ^= 4
	if err := l.TruncateTo(4); err != nil || l.EndOffset() != 4 {
		t.Fatalf("truncate to the damaged batch: %v, end %d", err, l.EndOffset())
	}
	got, _ := readFenced(t, l)
	if !bytes.Equal(got, slices.Concat(batches[:2]...)) {
		t.Fatalf("read batches at %v", offsetsOf(t, got))
	}
}

// TestRecoverRedoesAFencingMergedWithTheFenceBefore: damage in the first batch of a
// segment that follows a fence makes one fence of both, and a crash after the merged
// fence was recorded but before the segment after the damage was made leaves a fence
// ending where no segment starts. Recovery keeps the part of it before the damaged
// segment, and the damage is fenced again when found; recovery used to drop the whole
// fence and cut the log where it began, acknowledged batches after it included.
func TestRecoverRedoesAFencingMergedWithTheFenceBefore(t *testing.T) {
	d := newDiskLog(t, LogConfig{SegmentBytesMax: 600, IndexIntervalBytes: 100})
	batches, segs := d.fill(30, true)
	if len(segs) < 3 {
		t.Fatalf("segments %+v", segs)
	}
	k := segs[1].BaseOffset
	first := seg(0, LogFileSuffix)
	data := d.read(first)
	data[len(data)-1] ^= 1 // the last batch of the first segment, offsets k-2 and k-1
	d.write(first, data)
	l := d.open()
	want := Fence{From: k - 2, To: k, Kind: FenceDamaged}
	if found, err := l.CheckDamage(k - 2); err != nil || !slices.Equal(found, []Fence{want}) {
		t.Fatalf("found %v, %v", found, err)
	}
	end := l.EndOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// The first batch of the next segment decays, and a fencing of it was interrupted
	// once the merged fence was recorded.
	second := seg(k, LogFileSuffix)
	data = d.read(second)
	data[record.HeaderSize+2] ^= 1
	d.write(second, data)
	merged := Fence{From: k - 2, To: k + 2, Kind: FenceDamaged}
	d.writeFences(merged)

	l = d.open()
	defer l.Close()
	if r := l.Recovery(); r.CutTail() || l.EndOffset() != end || !slices.Equal(l.Fences(), []Fence{want}) {
		t.Fatalf("end %d (want %d), fences %v, report %+v", l.EndOffset(), end, l.Fences(), r)
	}
	// The damaged segment lies below the recovery point, trusted: a read finds the
	// damage, and the check fences it again.
	if _, err := l.Read(k, end, 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read of the damaged batch: %v", err)
	}
	if _, err := l.CheckDamage(k); err != nil || !slices.Equal(l.Fences(), []Fence{merged}) {
		t.Fatalf("fences %v, %v", l.Fences(), err)
	}
	if got, _ := readFenced(t, l); !bytes.Equal(got, outside(batches, merged)) {
		t.Fatalf("read batches at %v", offsetsOf(t, got))
	}
}

// TestRecoverKeepsTheFenceBeforeTheFirstSegment: the log begins with a fence (its first
// segment was all damaged and went), the next segment's first batch decays, and a crash
// interrupts the fencing after the merged fence was recorded and the segment after the
// damage was made, before the damaged segment was cut. Recovery keeps the part of the
// fence no segment holds, so the log start stays where it was and the offsets fenced
// there still answer as fenced; it used to drop the whole fence and move the log start.
func TestRecoverKeepsTheFenceBeforeTheFirstSegment(t *testing.T) {
	d := newDiskLog(t, LogConfig{SegmentBytesMax: 600, IndexIntervalBytes: 100})
	_, segs := d.fill(30, true)
	if len(segs) < 3 {
		t.Fatalf("segments %+v", segs)
	}
	k, next := segs[1].BaseOffset, segs[2].BaseOffset
	for _, suffix := range []string{LogFileSuffix, IndexFileSuffix, TimeIndexFileSuffix} {
		d.remove(seg(0, suffix))
	}
	// The segment after the damage: the batches of segment k from offset k+2 on.
	data := d.read(seg(k, LogFileSuffix))
	h, err := record.ParseHeader(data)
	if err != nil || h.NextOffset() != k+2 {
		t.Fatalf("first batch of segment %d: %+v %v", k, h, err)
	}
	d.write(seg(k+2, LogFileSuffix), data[h.Size():])
	data[record.HeaderSize+2] ^= 1
	d.write(seg(k, LogFileSuffix), data)
	merged := encodeFences(100, []Fence{{From: 0, To: k + 2, Kind: FenceDamaged}})
	d.write(FencesFileName, merged)
	d.write(FencesCopyFileName, merged)

	l := d.open()
	defer l.Close()
	if l.StartOffset() != 0 {
		t.Fatalf("log start %d after recovery, want 0; fences %v", l.StartOffset(), l.Fences())
	}
	if fs := l.Fences(); len(fs) == 0 || fs[0].From != 0 || fs[0].To < k {
		t.Fatalf("fences %v, want [0, %d) at least fenced", fs, k)
	}
	if _, err := l.Read(0, next, 1<<20); err == nil || errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read at 0: %v, want the fence", err)
	}
}

// lostSectorLog is a log whose first segment lost its first sector at rest, a
// stretch that ends inside a batch, after DeleteRecords moved the log start to
// startAt: its index has no entry in the lost stretch, so a read there walks from the
// segment's start through the lost bytes. It returns the log, its batches and the index of the
// first batch wholly after the lost bytes.
func lostSectorLog(t *testing.T, startAt int64) (*memFS, *Log, [][]byte, int) {
	t.Helper()
	m := newMemFS()
	l := mustOpen(t, m, "p", LogConfig{SegmentBytesMax: 1400, IndexIntervalBytes: 4096})
	batches := appendN(t, l, 20, 1, 100) // offsets 0..19, one record a batch
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.DeleteBelow(startAt); err != nil {
		t.Fatal(err)
	}
	const lost = 512
	intact := lost/len(batches[0]) + 1
	if segs := l.Segments(); len(segs) < 2 || segs[0].NextOffset <= int64(intact) {
		t.Fatalf("segments %+v: the lost sector must end inside the first one", segs)
	}
	ino := m.live["p/"+seg(0, LogFileSuffix)]
	for i := range lost {
		ino.data[i], ino.synced[i] = 0, 0
	}
	return m, l, batches, intact
}

// A batch the lost sector spared, but that no read can reach by walking the segment
// from its start, is found again (resync) and stays readable; only the batches whose
// bytes were lost are fenced, and no fence reaches below the log start.
func TestCheckDamageResyncsPastALostSector(t *testing.T) {
	const startAt = 4
	m, l, batches, intact := lostSectorLog(t, startAt)
	end := l.EndOffset()
	if _, err := l.Read(startAt, end, 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read through the lost sector: %v", err)
	}
	found, err := l.CheckDamage(startAt)
	want := Fence{From: startAt, To: int64(intact), Kind: FenceDamaged}
	if err != nil || !slices.Equal(found, []Fence{want}) || !slices.Equal(l.Fences(), []Fence{want}) || l.EndOffset() != end {
		t.Fatalf("found %v, %v, fences %v, end %d; want %v", found, err, l.Fences(), l.EndOffset(), want)
	}
	got, met := readFenced(t, l)
	if !bytes.Equal(got, slices.Concat(batches[intact:]...)) || !slices.Equal(met, []Fence{want}) {
		t.Fatalf("read batches at %v, fences %v", offsetsOf(t, got), met)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, m, "p", LogConfig{SegmentBytesMax: 1400, IndexIntervalBytes: 4096})
	defer l.Close()
	if got, met := readFenced(t, l); !bytes.Equal(got, slices.Concat(batches[intact:]...)) || !slices.Equal(met, []Fence{want}) {
		t.Fatalf("after restart: read batches at %v, fences %v", offsetsOf(t, got), met)
	}
}

// Damage wholly below the log start fences nothing: the batches after it move to a
// segment of their own and the read that failed passes.
func TestCheckDamageBelowTheStartFencesNothing(t *testing.T) {
	_, l, batches, intact := lostSectorLog(t, 0)
	defer l.Close()
	startAt := int64(intact + 1)
	if err := l.DeleteBelow(startAt); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Read(startAt, l.EndOffset(), 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read through the lost sector: %v", err)
	}
	if found, err := l.CheckDamage(startAt); err != nil || len(found) != 0 || len(l.Fences()) != 0 {
		t.Fatalf("found %v, %v, fences %v", found, err, l.Fences())
	}
	got, met := readFenced(t, l)
	if !bytes.Equal(got, slices.Concat(batches[startAt:]...)) || len(met) != 0 {
		t.Fatalf("read batches at %v, fences %v", offsetsOf(t, got), met)
	}
}

// TestRecoverRedoesInterruptedRunTimeFence: damage found at run time in batches synced
// since the log opened (above the checkpointed recovery point) is fenced, and a crash
// undoes the cut of the damaged segment. Recovery redoes the fencing its record
// describes instead of taking the damage for a torn tail: the synced batches after it
// stay.
func TestRecoverRedoesInterruptedRunTimeFence(t *testing.T) {
	d := newDiskLog(t, LogConfig{})
	l := d.open()
	batches := appendN(t, l, 4, 2, 1000)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	name := seg(0, LogFileSuffix)
	data := d.read(name)
	data[len(batches[0])+10] ^= 1
	d.write(name, data)
	if found, err := l.CheckDamage(2); err != nil || len(found) != 1 {
		t.Fatalf("check: %v, %v", found, err)
	}
	d.write(name, data) // a crash: the cut is undone, the copy at offset 4 and the record stay
	l2 := d.open()
	defer l2.Close()
	if r := l2.Recovery(); r.InterruptedFencesRedone != 1 || len(r.Fenced) != 1 || r.BytesCut != 0 {
		t.Fatalf("report %+v", r)
	}
	got, met := readFenced(t, l2)
	if !bytes.Equal(got, slices.Concat(batches[0], batches[2], batches[3])) || len(met) != 1 || l2.EndOffset() != 8 {
		t.Fatalf("read batches at %v, fences %v, end %d", offsetsOf(t, got), met, l2.EndOffset())
	}
}

// TestRecoverAfterFencingAcrossTheStart: damage that begins below the log start and
// ends above it is fenced from the start only, and the damaged segment keeps its
// batches below the damage. After a crash, recovery takes the stretch below the start
// and the fence together as the log's continuation, and cuts nothing.
func TestRecoverAfterFencingAcrossTheStart(t *testing.T) {
	m, l, batches, damaged := damagedMultiSegmentLog(t)
	end := l.EndOffset()
	if err := l.DeleteBelow(damaged + 1); err != nil {
		t.Fatal(err)
	}
	found, err := l.CheckDamage(damaged + 1)
	want := Fence{From: damaged + 1, To: damaged + 2, Kind: FenceDamaged}
	if err != nil || !slices.Equal(found, []Fence{want}) {
		t.Fatalf("found %v, %v", found, err)
	}
	l2 := mustOpen(t, m.crash(rand.New(rand.NewPCG(1, 2))), "p", LogConfig{SegmentBytesMax: 600, IndexIntervalBytes: 100})
	defer l2.Close()
	if r := l2.Recovery(); r.BytesCut != 0 || l2.EndOffset() != end || l2.StartOffset() != damaged+1 {
		t.Fatalf("end %d (want %d), start %d, report %+v", l2.EndOffset(), end, l2.StartOffset(), r)
	}
	got, met := readFenced(t, l2)
	if !bytes.Equal(got, slices.Concat(batches[3:]...)) || !slices.Equal(met, []Fence{want}) {
		t.Fatalf("read batches at %v, fences %v", offsetsOf(t, got), met)
	}
}

// TestRecoverFinishesAFencingThatMergedThreeFences: a segment lies between two fences
// and its only batch decays; fencing it merges the three fences, and a crash after the
// merged fence was recorded leaves the damaged segment inside it, the segment after it
// in place. Recovery keeps the fence whole and removes the segment; it used to drop the
// fence and cut the log where it began, every acknowledged batch after it included.
func TestRecoverFinishesAFencingThatMergedThreeFences(t *testing.T) {
	d := newDiskLog(t, LogConfig{SegmentBytesMax: 600, IndexIntervalBytes: 100})
	batches, segs := d.fill(30, true)
	if len(segs) < 3 {
		t.Fatalf("segments %+v", segs)
	}
	k := segs[1].BaseOffset
	first, second := seg(0, LogFileSuffix), seg(k, LogFileSuffix)
	data := d.read(first)
	data[len(data)-1] ^= 1 // the last batch of the first segment, offsets k-2 and k-1
	d.write(first, data)
	data = d.read(second)
	h, err := record.ParseHeader(data)
	if err != nil {
		t.Fatal(err)
	}
	data[h.Size()+record.HeaderSize+2] ^= 1 // the second batch of segment k, offsets k+2 and k+3
	d.write(second, data)
	l := d.open()
	for _, off := range []int64{k - 2, k + 2} {
		if found, err := l.CheckDamage(off); err != nil || len(found) != 1 {
			t.Fatalf("check at %d: %v, %v", off, found, err)
		}
	}
	end := l.EndOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Segment k now holds only [k, k+2), and that batch decays too.
	data = d.read(second)
	if len(data) != h.Size() {
		t.Fatalf("segment %d holds %d bytes, want its first batch's %d", k, len(data), h.Size())
	}
	data[record.HeaderSize+2] ^= 1
	d.write(second, data)
	merged := Fence{From: k - 2, To: k + 4, Kind: FenceDamaged}
	d.writeFences(merged)

	l = d.open()
	defer l.Close()
	r := l.Recovery()
	if r.CutTail() || l.EndOffset() != end || !slices.Equal(l.Fences(), []Fence{merged}) || r.SegmentsInFencesRemoved != 1 {
		t.Fatalf("end %d (want %d), fences %v, report %+v", l.EndOffset(), end, l.Fences(), r)
	}
	if got, _ := readFenced(t, l); !bytes.Equal(got, outside(batches, merged)) {
		t.Fatalf("read batches at %v", offsetsOf(t, got))
	}
}

// TestRecoverAfterATruncationIntoAFenceCutShort: a truncation into a fence makes its new
// segment inside the fence before the segments after the fence go; a crash in between
// leaves the log as it was.
func TestRecoverAfterATruncationIntoAFenceCutShort(t *testing.T) {
	d := newDiskLog(t, LogConfig{SegmentBytesMax: 600, IndexIntervalBytes: 100})
	batches, segs := d.fill(30, true)
	k := segs[1].BaseOffset
	data := d.read(seg(k, LogFileSuffix))
	h, err := record.ParseHeader(data)
	if err != nil {
		t.Fatal(err)
	}
	data[h.Size()+record.HeaderSize+2] ^= 1
	d.write(seg(k, LogFileSuffix), data)
	l := d.open()
	found, err := l.CheckDamage(k + 2)
	if err != nil || len(found) != 1 {
		t.Fatalf("check: %v, %v", found, err)
	}
	end := l.EndOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	d.write(seg(k+3, LogFileSuffix), nil) // TruncateTo(k+3)'s new segment, and then a crash

	l = d.open()
	defer l.Close()
	if r := l.Recovery(); r.CutTail() || l.EndOffset() != end || !slices.Equal(l.Fences(), found) || r.SegmentsInFencesRemoved != 1 {
		t.Fatalf("end %d (want %d), fences %v, report %+v", l.EndOffset(), end, l.Fences(), r)
	}
	got, _ := readFenced(t, l)
	if want := slices.Concat(slices.Concat(batches[:k/2+1]...), slices.Concat(batches[k/2+2:]...)); !bytes.Equal(got, want) {
		t.Fatalf("read batches at %v", offsetsOf(t, got))
	}
	if err := l.TruncateTo(k + 3); err != nil || l.EndOffset() != k+3 {
		t.Fatalf("truncate again: end %d, %v", l.EndOffset(), err)
	}
}

// outside is the bytes of the batches of two records each from offset 0 that fence f
// does not hold.
func outside(batches [][]byte, f Fence) []byte {
	var out []byte
	for i, b := range batches {
		if !f.Contains(int64(2 * i)) {
			out = append(out, b...)
		}
	}
	return out
}

// writeFences writes both copies of a fenced-ranges record holding fences, as a
// fencing records them before it moves anything.
func (d *diskLog) writeFences(fences ...Fence) {
	rec := encodeFences(100, fences)
	d.write(FencesFileName, rec)
	d.write(FencesCopyFileName, rec)
}
