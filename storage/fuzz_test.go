package storage

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/seedlog/seedlog/core/record"
)

// Flags of fuzz inputs.
const (
	fuzzSecondSegment = 1 << iota // seg1 is a second segment based at base1
	fuzzIndexes                   // index0 and timeIndex0 are segment 0's index files
	fuzzCheckpoint                // an offsets checkpoint with recovery point rp and start rp/4
)

const fuzzIndexIntervalBytes = 64

// FuzzRecover writes arbitrary bytes as segment and index files, opens the log and
// checks what recovery makes of them: it never panics and never fails on an FS that does
// not fail; every batch a read returns passes record.Check, offsets are dense, the end
// offset matches the segments, and every batch served is one that was on disk; the same
// read as spans holds the same bytes, where its spans say. A second open finds nothing
// left to repair.
func FuzzRecover(f *testing.F) {
	f.Fuzz(func(t *testing.T, seg0, seg1 []byte, base1 uint16, index0, timeIndex0 []byte, rp uint16, flags uint16) {
		m := newMemFS()
		put := func(name string, data []byte) {
			file, err := m.Create("p/" + name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := file.WriteAt(data, 0); err != nil {
				t.Fatal(err)
			}
			file.Close()
		}
		if err := m.MkdirAll("p"); err != nil {
			t.Fatal(err)
		}
		put(seg(0, LogFileSuffix), seg0)
		if flags&fuzzSecondSegment != 0 && base1 > 0 {
			put(seg(int64(base1), LogFileSuffix), seg1)
		}
		if flags&fuzzIndexes != 0 {
			put(seg(0, IndexFileSuffix), index0)
			put(seg(0, TimeIndexFileSuffix), timeIndex0)
		}
		trusting := flags&fuzzCheckpoint != 0
		if trusting {
			c := offsetsCheckpoint{logStartOffset: int64(rp / 4), recoveryPoint: int64(rp)}
			put(OffsetsCheckpointName, c.encode())
		}
		cfg := LogConfig{IndexIntervalBytes: fuzzIndexIntervalBytes}
		l, err := OpenLog(m, "p", cfg)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		onDisk := [][]byte{seg0, seg1}
		served := checkRecoveredLog(t, l, onDisk, trusting)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l2, err := OpenLog(m, "p", cfg)
		if err != nil {
			t.Fatalf("second open: %v", err)
		}
		again := checkRecoveredLog(t, l2, onDisk, trusting)
		// When the first open validated everything it kept, the second has nothing left
		// to repair. (A trusted segment may hide damage that a later scan finds.)
		if l.Recovery().SegmentsTrusted > 0 {
			return
		}
		if r := l2.Recovery(); r.CutTail() || r.ResetToStart || l2.EndOffset() != l.EndOffset() || l2.StartOffset() != l.StartOffset() {
			t.Fatalf("second open repaired more: [%d, %d) -> [%d, %d), %+v",
				l.StartOffset(), l.EndOffset(), l2.StartOffset(), l2.EndOffset(), r)
		}
		if !bytes.Equal(again, served) {
			t.Fatal("second open serves different bytes")
		}
	})
}

// checkRecoveredLog reads the whole log and checks it. When the checkpoint let recovery
// trust segments without reading them, a read may find damage: it must then say
// ErrCorrupt, which ends the walk.
func checkRecoveredLog(t *testing.T, l *Log, onDisk [][]byte, trusting bool) []byte {
	t.Helper()
	start, end := l.StartOffset(), l.EndOffset()
	segs := l.Segments()
	fences := l.Fences()
	first := segs[0].BaseOffset
	if len(fences) > 0 && fences[0].To == first {
		first = fences[0].From
	}
	if start > end || first > start || segs[len(segs)-1].NextOffset != end || l.RecoveryPoint() != end {
		t.Fatalf("log [%d, %d) rp %d, segments %+v, fences %v", start, end, l.RecoveryPoint(), segs, fences)
	}
	for i := 1; i < len(segs); i++ {
		gap := slices.Contains(fences, Fence{From: segs[i-1].NextOffset, To: segs[i].BaseOffset, Kind: FenceDamaged})
		if segs[i].BaseOffset != segs[i-1].NextOffset && !gap {
			t.Fatalf("segments not dense: %+v, fences %v", segs, fences)
		}
	}
	for _, f := range fences {
		if f.From < start || f.To > end || !slices.ContainsFunc(segs, func(s SegmentInfo) bool { return s.BaseOffset == f.To }) {
			t.Fatalf("fence %v out of place in [%d, %d), segments %+v", f, start, end, segs)
		}
	}
	var served []byte
	for offset := start; offset < end; {
		b, err := l.Read(offset, end, 1<<12)
		if trusting && errors.Is(err, ErrCorrupt) {
			return served
		}
		var fe *FencedError
		if errors.As(err, &fe) {
			if !fe.Fence.Contains(offset) || !slices.Contains(fences, fe.Fence) {
				t.Fatalf("read at %d: %v, fences %v", offset, err, fences)
			}
			offset = fe.Fence.To
			continue
		}
		if err != nil || len(b) == 0 {
			t.Fatalf("read at %d of [%d, %d): %d bytes, %v", offset, start, end, len(b), err)
		}
		spansMatch(t, l, offset, end, 1<<12, b)
		first := true
		if _, err := record.Split(b, func(h record.Header, batch []byte) error {
			if first && (h.BaseOffset > offset || h.NextOffset() <= offset) {
				return fmt.Errorf("first batch [%d, %d) does not hold %d", h.BaseOffset, h.NextOffset(), offset)
			}
			if !first && h.BaseOffset != offset {
				return fmt.Errorf("batch at %d, want %d", h.BaseOffset, offset)
			}
			if !slices.ContainsFunc(onDisk, func(file []byte) bool { return bytes.Contains(file, batch) }) {
				return fmt.Errorf("batch at %d was not on disk", h.BaseOffset)
			}
			first = false
			offset = h.NextOffset()
			return nil
		}); err != nil {
			t.Fatalf("read at %d: %v", offset, err)
		}
		served = append(served, b...)
	}
	for _, ts := range []int64{-2, 0, 1 << 40} {
		if _, _, err := l.OffsetForTimestamp(ts); err != nil && !(trusting && errors.Is(err, ErrCorrupt)) {
			t.Fatalf("OffsetForTimestamp(%d): %v", ts, err)
		}
	}
	return served
}

var writeFuzzSeeds = flag.Bool("storage.writefuzzseeds", false, "rewrite testdata/fuzz/FuzzRecover from fuzzSeeds")

// TestFuzzSeedsAreCurrent checks the checked-in seed corpus against fuzzSeeds, and
// rewrites it with -storage.writefuzzseeds.
func TestFuzzSeedsAreCurrent(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzRecover")
	seeds := fuzzSeeds(t)
	if *writeFuzzSeeds {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, s := range seeds {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(s.encode()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, s := range seeds {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != s.encode() {
			t.Errorf("seed %s is missing or stale (%v); rerun with -storage.writefuzzseeds", name, err)
		}
	}
}

type fuzzSeed struct {
	seg0, seg1         []byte
	base1              uint16
	index0, timeIndex0 []byte
	rp, flags          uint16
}

// encode renders the seed in the corpus file format of go test fuzz.
func (s fuzzSeed) encode() string {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range []any{s.seg0, s.seg1, s.base1, s.index0, s.timeIndex0, s.rp, s.flags} {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case uint16:
			fmt.Fprintf(&b, "uint16(%d)\n", v)
		}
	}
	return b.String()
}

// fuzzSeeds builds valid, torn and damaged logs from real batches.
func fuzzSeeds(t *testing.T) map[string]fuzzSeed {
	var batches [][]byte
	next := int64(0)
	for i := range 6 {
		b := makeBatch(t, next, batchSpec{records: 1 + i%3, valueBytes: 5 * i, firstTS: 100 + int64(i), maxTS: 100 + int64(3*i%7)})
		batches = append(batches, b)
		next += int64(1 + i%3)
	}
	whole := slices.Concat(batches[:3]...) // offsets 0..5
	rest := slices.Concat(batches[3:]...)  // offsets 6..11
	garbage := bytes.Repeat([]byte{0xa5}, 40)
	hugeLength := slices.Clone(batches[0])
	hugeLength[8], hugeLength[9] = 0x3f, 0xff

	// A real log's files, for seeds with indexes and a checkpoint.
	m := newMemFS()
	l := mustOpen(t, m, "p", LogConfig{IndexIntervalBytes: fuzzIndexIntervalBytes, SegmentBytesMax: int64(len(whole))})
	for _, b := range batches {
		if err := l.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	file := func(name string) []byte { return m.live["p/"+name].data }

	return map[string]fuzzSeed{
		"valid-one-segment":  {seg0: slices.Concat(batches...)},
		"torn-last-batch":    {seg0: whole[:len(whole)-7]},
		"torn-header":        {seg0: slices.Concat(whole, batches[3][:20])},
		"garbage-tail":       {seg0: slices.Concat(whole, garbage)},
		"corrupt-middle":     {seg0: slices.Concat(batches[0], flipByte(batches[1], 30), batches[2])},
		"empty":              {},
		"huge-length":        {seg0: slices.Concat(batches[0], hugeLength)},
		"two-segments":       {seg0: whole, seg1: rest, base1: 6, flags: fuzzSecondSegment},
		"two-segments-gap":   {seg0: whole, seg1: rest, base1: 7, flags: fuzzSecondSegment},
		"wrong-first-offset": {seg0: rest},
		"with-indexes-trusted": {
			seg0: file(seg(0, LogFileSuffix)), seg1: file(seg(6, LogFileSuffix)), base1: 6,
			index0: file(seg(0, IndexFileSuffix)), timeIndex0: file(seg(0, TimeIndexFileSuffix)),
			rp: 12, flags: fuzzSecondSegment | fuzzIndexes | fuzzCheckpoint,
		},
		"with-bad-indexes-trusted": {
			seg0: file(seg(0, LogFileSuffix)), seg1: file(seg(6, LogFileSuffix)), base1: 6,
			index0: garbage[:16], timeIndex0: garbage[:12],
			rp: 12, flags: fuzzSecondSegment | fuzzIndexes | fuzzCheckpoint,
		},
	}
}

func flipByte(b []byte, at int) []byte {
	c := slices.Clone(b)
	c[at] ^= 0x10
	return c
}
