package storage

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/seedlog/seedlog/core/compact"
	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// keyed is one record of a compacted log in the tests: Value "" with Tombstone set is a
// null value.
type keyed struct {
	Offset    int64
	Key       string
	Value     string
	Tombstone bool
}

// appendKeyed appends one batch of recs (offsets assigned from the log end) with codec
// and producer pid (-1: none), stamped ts, and returns the records with their offsets.
func appendKeyed(tb fatalfer, l *Log, codec record.Codec, pid int64, ts int64, recs ...keyed) []keyed {
	tb.Helper()
	base := l.EndOffset()
	krs := make([]kmsg.Record, len(recs))
	for i, r := range recs {
		krs[i].Key = []byte(r.Key)
		if !r.Tombstone {
			krs[i].Value = []byte(r.Value)
		}
		recs[i].Offset = base + int64(i)
	}
	spec := record.Spec{BaseOffset: base, FirstTimestamp: ts, Codec: codec}.NoProducer()
	if pid >= 0 {
		spec.ProducerID, spec.ProducerEpoch, spec.BaseSequence = pid, 0, int32(base)
	}
	b, err := record.Build(spec, krs)
	if err != nil {
		tb.Fatalf("build: %v", err)
	}
	if err := l.Append(b); err != nil {
		tb.Fatalf("append: %v", err)
	}
	return recs
}

// readKeyed reads the whole log back, checking that its batches are dense.
func readKeyed(tb fatalfer, l *Log) []keyed {
	tb.Helper()
	var out []keyed
	next := l.StartOffset()
	for next < l.EndOffset() {
		b, err := l.Read(next, l.EndOffset(), 1<<20)
		if err != nil {
			tb.Fatalf("read at %d: %v", next, err)
		}
		for _, batch := range splitBatches(tb, b) {
			h, _ := record.ParseHeader(batch)
			if h.BaseOffset > next {
				tb.Fatalf("batch at %d after offset %d: offsets not dense", h.BaseOffset, next)
			}
			it, err := record.NewIter(batch, 1<<20)
			if err != nil {
				tb.Fatalf("iter: %v", err)
			}
			for it.Next() {
				r := it.Record()
				out = append(out, keyed{Offset: it.Offset(), Key: string(r.Key), Value: string(r.Value), Tombstone: r.Value == nil})
			}
			if err := it.Err(); err != nil {
				tb.Fatalf("records at %d: %v", h.BaseOffset, err)
			}
			next = h.NextOffset()
		}
	}
	return out
}

// checkCompacted checks a compacted read against everything written: each record read
// is one written, at its offset; the latest record of every key is there (tombstones
// unless gone is set); an older record is there only when gone is not the point.
func checkCompacted(tb fatalfer, got, written []keyed, tombstonesGone bool) {
	tb.Helper()
	byOffset := map[int64]keyed{}
	latest := map[string]keyed{}
	for _, r := range written {
		byOffset[r.Offset] = r
		latest[r.Key] = r
	}
	present := map[int64]bool{}
	for _, r := range got {
		if w, ok := byOffset[r.Offset]; !ok || w != r {
			tb.Fatalf("read %+v, written there: %+v", r, w)
		}
		present[r.Offset] = true
	}
	for _, k := range slices.Sorted(maps.Keys(latest)) {
		r := latest[k]
		switch {
		case r.Tombstone && tombstonesGone && present[r.Offset]:
			tb.Fatalf("tombstone %+v outlived its retention", r)
		case (!r.Tombstone || !tombstonesGone) && !present[r.Offset]:
			tb.Fatalf("latest record of key %q (%+v) is gone", k, r)
		}
	}
}

var testPolicy = compact.Policy{NowMs: 1000, DirtyRatioMin: 0, LagMinMs: 0, LagMaxMs: -1, DeleteRetentionMs: 500}

// writeKeys writes rounds of overwrites of keys k0..k(keys-1), batches of per records,
// alternating codecs, a tombstone every seventh record.
func writeKeys(tb fatalfer, l *Log, rounds, keys, per int) []keyed {
	var written []keyed
	codecs := []record.Codec{record.CodecNone, record.CodecLZ4, record.CodecZstd, record.CodecGzip, record.CodecSnappy}
	n := 0
	for round := range rounds {
		for k := 0; k < keys; k += per {
			var recs []keyed
			for i := k; i < min(k+per, keys); i++ {
				r := keyed{Key: fmt.Sprintf("k%d", i), Value: fmt.Sprintf("v%d-%d", i, round), Tombstone: n%7 == 6}
				if r.Tombstone {
					r.Value = ""
				}
				recs = append(recs, r)
				n++
			}
			written = append(written, appendKeyed(tb, l, codecs[n%len(codecs)], -1, int64(round), recs...)...)
		}
	}
	return written
}

func TestCleanKeepsLatestOfEachKey(t *testing.T) {
	fsys := newMemFS()
	cfg := LogConfig{SegmentBytesMax: 2048, IndexIntervalBytes: 256}
	l := mustOpen(t, fsys, "t-0", cfg)
	written := writeKeys(t, l, 20, 30, 3)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	segsBefore, end := len(l.segments), l.EndOffset()
	rep, err := l.Clean(l.EndOffset(), testPolicy)
	if err != nil || !rep.Cleaned {
		t.Fatalf("clean: %+v, %v", rep, err)
	}
	if rep.RecordsRemoved == 0 || rep.BytesOut >= rep.BytesIn || rep.SegmentsIn != segsBefore-1 {
		t.Fatalf("pass removed nothing: %+v, %d segments before", rep, segsBefore)
	}
	if l.EndOffset() != end {
		t.Fatalf("end moved from %d to %d", end, l.EndOffset())
	}
	got := readKeyed(t, l)
	checkCompacted(t, got, written, false)
	// A read at any offset starts with the batch holding it; an empty run that holds it
	// starts there, as a follower whose log ends there needs.
	empties := 0
	for o := l.StartOffset(); o < l.EndOffset(); o++ {
		b, err := l.Read(o, l.EndOffset(), 1)
		if err != nil {
			t.Fatalf("read at %d: %v", o, err)
		}
		h, _ := record.ParseHeader(b)
		if h.BaseOffset > o || h.NextOffset() <= o || h.IsEmptyRun() && h.BaseOffset != o {
			t.Fatalf("read at %d starts with batch [%d, %d) (empty run %v)", o, h.BaseOffset, h.NextOffset(), h.IsEmptyRun())
		}
		if _, err := record.Check(b[:h.Size()]); err != nil {
			t.Fatalf("read at %d: %v", o, err)
		}
		if h.IsEmptyRun() {
			empties++
		}
	}
	if empties == 0 {
		t.Fatal("no read met a run of compacted offsets")
	}
	// Only the latest of each key, and the last (active) segment's records, are left.
	if want := 30; len(got) > want+len(written)/10 {
		t.Fatalf("%d records left of %d", len(got), len(written))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, fsys, "t-0", cfg)
	if rec := l.Recovery(); rec.CutOffset >= 0 || rec.SegmentsScanned > 1 {
		t.Fatalf("reopen after clean did not trust the cleaned segments: %+v", rec)
	}
	checkCompacted(t, readKeyed(t, l), written, false)
	// A second pass with nothing new to clean does nothing.
	if rep, err := l.Clean(l.EndOffset(), testPolicy); err != nil || rep.Cleaned {
		t.Fatalf("second pass: %+v, %v", rep, err)
	}
}

func TestCleanRemovesTombstonesAfterDeleteRetention(t *testing.T) {
	fsys := newMemFS()
	cfg := LogConfig{SegmentBytesMax: 512}
	l := mustOpen(t, fsys, "t-0", cfg)
	var written []keyed
	written = append(written, appendKeyed(t, l, record.CodecNone, -1, 1, keyed{Key: "a", Value: "1"}, keyed{Key: "b", Value: "1"})...)
	written = append(written, appendKeyed(t, l, record.CodecNone, -1, 2, keyed{Key: "a", Tombstone: true})...)
	// Enough later records that the tombstone's segment closes.
	for i := range 40 {
		written = append(written, appendKeyed(t, l, record.CodecNone, -1, 3, keyed{Key: fmt.Sprintf("x%d", i%5), Value: "filler-value"})...)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	tomb := written[2]
	pass := func(now int64) {
		t.Helper()
		p := testPolicy
		p.NowMs = now
		p.DirtyRatioMin = 0
		if _, err := l.Clean(l.EndOffset(), p); err != nil {
			t.Fatal(err)
		}
	}
	has := func() bool {
		return slices.ContainsFunc(readKeyed(t, l), func(r keyed) bool { return r.Offset == tomb.Offset })
	}
	pass(1000)
	if !has() {
		t.Fatal("the first pass removed the tombstone")
	}
	// More data, so that a later pass has something dirty and runs.
	for range 20 {
		written = append(written, appendKeyed(t, l, record.CodecNone, -1, 4, keyed{Key: "y", Value: "filler-value"})...)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	pass(1000 + testPolicy.DeleteRetentionMs - 1)
	if !has() {
		t.Fatal("a pass within delete.retention.ms removed the tombstone")
	}
	// Nothing new is dirty: the pass runs for the tombstone alone.
	pass(1000 + testPolicy.DeleteRetentionMs)
	if has() {
		t.Fatal("the tombstone outlived delete.retention.ms")
	}
	got := readKeyed(t, l)
	if slices.ContainsFunc(got, func(r keyed) bool { return r.Key == "a" }) {
		t.Fatalf("key a still has records: %v", got)
	}
	if !slices.ContainsFunc(got, func(r keyed) bool { return r.Key == "b" }) {
		t.Fatal("key b lost its only value")
	}
}

func TestCleanKeepsEachProducersLastBatch(t *testing.T) {
	fsys := newMemFS()
	l := mustOpen(t, fsys, "t-0", LogConfig{SegmentBytesMax: 300})
	appendKeyed(t, l, record.CodecNone, 7, 1, keyed{Key: "a", Value: "old"})
	appendKeyed(t, l, record.CodecNone, 7, 1, keyed{Key: "b", Value: "old"})
	last := appendKeyed(t, l, record.CodecNone, 7, 1, keyed{Key: "a", Value: "mid"})[0]
	for range 10 {
		appendKeyed(t, l, record.CodecNone, -1, 2, keyed{Key: "a", Value: "new"}, keyed{Key: "b", Value: "new"})
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Clean(l.EndOffset(), testPolicy); err != nil {
		t.Fatal(err)
	}
	b, err := l.Read(last.Offset, l.EndOffset(), 1)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := record.ParseHeader(b)
	if h.BaseOffset != last.Offset || h.ProducerID != 7 || h.RecordCount != 0 {
		t.Fatalf("producer 7's last batch: %+v, want it kept empty at %d", h, last.Offset)
	}
	b, err = l.Read(0, l.EndOffset(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := record.ParseHeader(b); h.ProducerID == 7 {
		t.Fatalf("producer 7's first batch survived: %+v", h)
	}
}

func TestCleanCutsHistoryOnTruncation(t *testing.T) {
	fsys := newMemFS()
	l := mustOpen(t, fsys, "t-0", LogConfig{SegmentBytesMax: 512})
	writeKeys(t, l, 10, 10, 2)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	rep, err := l.Clean(l.EndOffset(), testPolicy)
	if err != nil || !rep.Cleaned {
		t.Fatalf("clean: %+v, %v", rep, err)
	}
	cut := rep.DirtyEnd - 3
	if err := l.TruncateTo(cut); err != nil {
		t.Fatal(err)
	}
	if got := l.passes.Cleaned(); got > l.EndOffset() {
		t.Fatalf("cleaning history claims %d after a truncation to %d", got, l.EndOffset())
	}
	ps, err := readPasses(fsys, "t-0")
	if err != nil || ps.Cleaned() > l.EndOffset() {
		t.Fatalf("persisted history %v (%v) claims past %d", ps, err, l.EndOffset())
	}
}

func TestCleanRefusesWhenOneSegmentOverflowsTheMap(t *testing.T) {
	l := mustOpen(t, newMemFS(), "t-0", LogConfig{SegmentBytesMax: 1 << 20, DedupeBytes: 1 << 10})
	var recs []keyed
	for i := range 100 {
		recs = append(recs, keyed{Key: fmt.Sprintf("k%d", i), Value: "v"})
	}
	appendKeyed(t, l, record.CodecNone, -1, 1, recs...)
	l.cfg.SegmentBytesMax = 1 // roll at the next append
	appendKeyed(t, l, record.CodecNone, -1, 1, keyed{Key: "k", Value: "v"})
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	_, err := l.Clean(l.EndOffset(), testPolicy)
	mustErrIs(t, err, ErrDedupeBufferSmall)
	if l.failure != nil {
		t.Fatalf("a refused pass failed the log: %v", l.failure)
	}
}

func FuzzDecodePasses(f *testing.F) {
	f.Add(withCRCLine(passesMagic + "\n10 5\n20 7\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := decodePasses(data)
		if err != nil {
			return
		}
		for i := 1; i < len(ps); i++ {
			if ps[i].End <= ps[i-1].End {
				t.Fatalf("ends not rising: %v", ps)
			}
		}
		var b []byte
		b = append(b, passesMagic+"\n"...)
		for _, p := range ps {
			b = fmt.Appendf(b, "%d %d\n", p.End, p.TimeMs)
		}
		if again, err := decodePasses(withCRCLine(string(b))); err != nil || !slices.Equal(again, ps) {
			t.Fatalf("round trip: %v %v", again, err)
		}
	})
}

func FuzzParseCleanName(f *testing.F) {
	f.Add(cleanName(0, 10, swapSuffix))
	f.Add(cleanName(12345, 99999999, cleaningSuffix))
	f.Add("00000000000000000001-00000000000000000000.swap")
	f.Fuzz(func(t *testing.T, name string) {
		base, end, ok := parseCleanName(name, swapSuffix)
		if !ok {
			return
		}
		if base < 0 || end <= base || cleanName(base, end, swapSuffix) != name {
			t.Fatalf("%q parsed as [%d, %d)", name, base, end)
		}
	})
}

// The CRC does not cover a batch's base offset: damage there must stop a pass, as it
// stops a read, not make the cleaner cover a wrong range.
func TestCleanStopsAtADamagedBaseOffset(t *testing.T) {
	fsys := newMemFS()
	l := mustOpen(t, fsys, "t-0", LogConfig{SegmentBytesMax: 1024})
	writeKeys(t, l, 6, 8, 2)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	s := l.segments[0]
	first, err := record.ParseHeader(readSegmentBytes(t, s)[:record.HeaderSize])
	if err != nil {
		t.Fatal(err)
	}
	// Flip a high bit of the second batch's base offset.
	if _, err := s.logFile.WriteAt([]byte{0x80}, int64(first.Size())+6); err != nil {
		t.Fatal(err)
	}
	before := l.Segments()
	rep, err := l.Clean(l.EndOffset(), testPolicy)
	mustErrIs(t, err, ErrCorrupt)
	if rep.DirtyEnd != first.NextOffset() || l.failure != nil || !slices.Equal(before, l.Segments()) {
		t.Fatalf("pass over damage: %+v, failure %v, segments %v -> %v", rep, l.failure, before, l.Segments())
	}
}

func readSegmentBytes(t *testing.T, s *segment) []byte {
	t.Helper()
	b := make([]byte, s.sizeBytes)
	if err := readFull(s.logFile, b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSegmentIndexBytesRollsSegments(t *testing.T) {
	l := mustOpen(t, newMemFS(), "t-0", LogConfig{IndexIntervalBytes: 1})
	if err := l.SetSegmentLimits(0, 0, 48); err != nil {
		t.Fatal(err)
	}
	writeKeys(t, l, 10, 4, 1)
	segs := l.Segments()
	if len(segs) < 3 {
		t.Fatalf("%d segments: segment.index.bytes rolled none", len(segs))
	}
	for _, s := range segs[:len(segs)-1] {
		if s.IndexBytes > 48 {
			t.Fatalf("segment %d has %d index bytes, above 48", s.BaseOffset, s.IndexBytes)
		}
	}
}

// A pass carried out in steps of any budget, with batches appended between the steps,
// leaves the segments it cleaned exactly as a pass in one call does; every step but
// the last stops near its budget.
func TestCleanInStepsMatchesOnePass(t *testing.T) {
	cfg := LogConfig{SegmentBytesMax: 2048, IndexIntervalBytes: 256}
	for _, stepBytes := range []int64{1, 61, 700, 3000, 1 << 20} {
		t.Run(fmt.Sprint(stepBytes), func(t *testing.T) {
			whole, stepped := mustOpen(t, newMemFS(), "t-0", cfg), mustOpen(t, newMemFS(), "t-0", cfg)
			written := writeKeys(t, whole, 20, 30, 3)
			writeKeys(t, stepped, 20, 30, 3)
			for _, l := range []*Log{whole, stepped} {
				if err := l.Sync(); err != nil {
					t.Fatal(err)
				}
			}
			bound := whole.EndOffset()
			if _, err := whole.Clean(bound, testPolicy); err != nil {
				t.Fatal(err)
			}
			steps := 0
			for {
				steps++
				rep, err := stepped.CleanStep(bound, testPolicy, stepBytes)
				if err != nil {
					t.Fatalf("step %d: %v", steps, err)
				}
				if rep.StepBytes == 0 {
					t.Fatalf("step %d did nothing", steps)
				}
				if rep.More && stepBytes > 1 && rep.StepBytes > stepBytes+2*int64(cfg.SegmentBytesMax) {
					t.Fatalf("step %d spent %d bytes of a %d budget", steps, rep.StepBytes, stepBytes)
				}
				appendKeyed(t, stepped, record.CodecNone, -1, 99, keyed{Key: "new", Value: fmt.Sprint(steps)})
				if !rep.More {
					break
				}
			}
			if stepBytes < 1<<20 && steps < 3 {
				t.Fatalf("%d steps of %d bytes", steps, stepBytes)
			}
			got, want := readKeyed(t, stepped), readKeyed(t, whole)
			if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
				t.Fatalf("stepped pass kept %d records, the one-call pass %d", len(got), len(want))
			}
			checkCompacted(t, want, written, false)
			for i, s := range whole.Segments()[:len(whole.Segments())-1] {
				if g := stepped.Segments()[i]; g != s {
					t.Fatalf("segment %d: stepped %+v, one call %+v", i, g, s)
				}
			}
		})
	}
}

// A call that moves segments other than at the end drops the pass under way and its
// unfinished run; the next step starts a new pass.
func TestCleanPassDroppedByTruncation(t *testing.T) {
	fsys := newMemFS()
	cfg := LogConfig{SegmentBytesMax: 2048, IndexIntervalBytes: 256}
	l := mustOpen(t, fsys, "t-0", cfg)
	written := writeKeys(t, l, 20, 30, 3)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	for l.pass == nil || l.pass.run == nil {
		if rep, err := l.CleanStep(l.EndOffset(), testPolicy, 200); err != nil || !rep.More {
			t.Fatalf("step: %+v %v", rep, err)
		}
	}
	cleaning := l.pass.run.name
	written = written[:len(written)-3] // the last batch
	if err := l.TruncateTo(written[len(written)-1].Offset + 1); err != nil {
		t.Fatal(err)
	}
	if l.pass != nil {
		t.Fatal("truncation left the pass under way")
	}
	if _, err := fsys.Stat(cleaning); err == nil {
		t.Fatalf("%s outlived the pass", cleaning)
	}
	for {
		rep, err := l.CleanStep(l.EndOffset(), testPolicy, 200)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.More {
			break
		}
	}
	checkCompacted(t, readKeyed(t, l), written, false)
}

// Passes over a log of a few keys, overwritten between passes by two producers, keep
// it small: the empty batches earlier passes left (over dropped batches, or a
// producer's last batch that is no longer its last) merge into the next pass's, so the
// log does not grow by one empty batch per segment and pass.
func TestCleanPassesDoNotPileUpEmptyBatches(t *testing.T) {
	cfg := LogConfig{SegmentBytesMax: 600, IndexIntervalBytes: 128}
	l := mustOpen(t, newMemFS(), "t-0", cfg)
	var written []keyed
	batches := func() int {
		n := 0
		for next := l.StartOffset(); next < l.EndOffset(); {
			b, err := l.Read(next, l.EndOffset(), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			for _, batch := range splitBatches(t, b) {
				h, _ := record.ParseHeader(batch)
				next = h.NextOffset()
				n++
			}
		}
		return n
	}
	var counts []int
	for pass := range 40 {
		for k := range 3 {
			pid := int64(k % 2)
			written = append(written, appendKeyed(t, l, record.CodecNone, pid, int64(pass), keyed{Key: fmt.Sprint("k", k), Value: fmt.Sprint(pass)})...)
		}
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Clean(l.EndOffset(), testPolicy); err != nil {
			t.Fatal(err)
		}
		counts = append(counts, batches())
	}
	checkCompacted(t, readKeyed(t, l), written, false)
	if last, mid := counts[len(counts)-1], counts[len(counts)/2]; last > mid+2 {
		t.Fatalf("the log kept %d batches after %d passes, %d after %d: empty batches pile up (%v)", last, len(counts), mid, len(counts)/2, counts)
	}
}
