package diskexec

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/record"
	"github.com/seedlog/seedlog/disksim"
	"github.com/seedlog/seedlog/storage"
)

func newFS(t *testing.T) *disksim.FS {
	t.Helper()
	return disksim.New(rand.New(rand.NewPCG(1, 2)), disksim.DefaultConfig())
}

func open(t *testing.T, fsys storage.FS) (*Executor, disk.Recovered) {
	t.Helper()
	e, rec, err := Open(fsys, Config{Log: storage.LogConfig{SegmentBytesMax: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	return e, rec
}

// batch builds a batch of n records at base.
func batch(t *testing.T, base int64, n int) []byte {
	t.Helper()
	var vals [][]byte
	for i := range n {
		vals = append(vals, []byte{byte(base), byte(i)})
	}
	b, err := record.BuildValues(record.Spec{BaseOffset: base, PartitionLeaderEpoch: 1, FirstTimestamp: 1}.NoProducer(), vals...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// crashAll drops everything unsynced: only what a completed Sync covered survives.
func crashAll(fsys *disksim.FS) *disksim.FS {
	return fsys.CrashWith(rand.New(rand.NewPCG(3, 4)), disksim.CrashConfig{BlockDropWeight: 1})
}

func mustDone(t *testing.T, ds ...disk.Done) {
	t.Helper()
	for _, d := range ds {
		if d.Err != nil {
			t.Fatalf("op #%d %s: %v", d.ID, d.Kind, d.Err)
		}
	}
}

// TestDoAllSyncCoversTheWholeBatch: the syncs of a batch run once per log after every
// other op, so an append that follows a Sync in the same batch is durable too once the
// batch completes; and every op completes in order with its own id.
func TestDoAllSyncCoversTheWholeBatch(t *testing.T) {
	fsys := newFS(t)
	e, _ := open(t, fsys)
	a, b := disk.LogID("a-0"), disk.LogID("b-0")
	ops := []disk.Op{
		{ID: 1, Kind: disk.CreateLog, Log: a},
		{ID: 2, Kind: disk.CreateLog, Log: b},
		{ID: 3, Kind: disk.Append, Log: a, Offset: 0, Data: batch(t, 0, 2)},
		{ID: 4, Kind: disk.Sync, Log: a},
		{ID: 5, Kind: disk.Append, Log: a, Offset: 2, Data: batch(t, 2, 3)},
		{ID: 6, Kind: disk.Sync, Log: a},
		{ID: 7, Kind: disk.Append, Log: b, Offset: 0, Data: batch(t, 0, 1)},
		{ID: 8, Kind: disk.Sync, Log: b},
		{ID: 9, Kind: disk.Read, Log: a, Offset: 0, MaxOffset: 5, MaxBytes: 1 << 20},
	}
	dones := e.DoAll(ops)
	mustDone(t, dones...)
	for i, d := range dones {
		if d.ID != ops[i].ID || d.Kind != ops[i].Kind {
			t.Fatalf("done %d is #%d %s, want #%d %s", i, d.ID, d.Kind, ops[i].ID, ops[i].Kind)
		}
	}
	if want := append(batch(t, 0, 2), batch(t, 2, 3)...); !bytes.Equal(dones[8].Data, want) {
		t.Fatalf("read %d bytes, want the two batches (%d bytes)", len(dones[8].Data), len(want))
	}
	if n := fsys.UnsyncedBytes(); n != 0 {
		t.Fatalf("%d bytes unsynced after a batch whose syncs completed", n)
	}
	e2, rec := open(t, crashAll(fsys))
	defer e2.Close()
	ends := map[disk.LogID]int64{}
	for _, l := range rec.Logs {
		ends[l.ID] = l.EndOffset
	}
	if ends[a] != 5 || ends[b] != 1 {
		t.Fatalf("after a crash logs end at %v, want a-0 at 5 and b-0 at 1", ends)
	}
}

// TestDoAllReportsAFailedSyncOnEverySyncOfThatLog: one fsync serves all the Syncs of a
// log in a batch, so its failure is every one's; another log's Sync is unaffected.
func TestDoAllReportsAFailedSyncOnEverySyncOfThatLog(t *testing.T) {
	fsys := newFS(t)
	e, _ := open(t, fsys)
	a, b := disk.LogID("a-0"), disk.LogID("b-0")
	mustDone(t, e.DoAll([]disk.Op{{ID: 1, Kind: disk.CreateLog, Log: a}, {ID: 2, Kind: disk.CreateLog, Log: b}})...)
	if err := fsys.FailNextSync("a-0/" + storage.SegmentFileName(0, storage.LogFileSuffix)); err != nil {
		t.Fatal(err)
	}
	dones := e.DoAll([]disk.Op{
		{ID: 3, Kind: disk.Append, Log: a, Offset: 0, Data: batch(t, 0, 1)},
		{ID: 4, Kind: disk.Sync, Log: a},
		{ID: 5, Kind: disk.Append, Log: b, Offset: 0, Data: batch(t, 0, 1)},
		{ID: 6, Kind: disk.Sync, Log: b},
		{ID: 7, Kind: disk.Append, Log: a, Offset: 1, Data: batch(t, 1, 1)},
		{ID: 8, Kind: disk.Sync, Log: a},
	})
	mustDone(t, dones[0], dones[2], dones[3], dones[4])
	if dones[1].Err == nil || dones[5].Err == nil {
		t.Fatalf("syncs of the failed log: %v, %v; want both failed", dones[1].Err, dones[5].Err)
	}
}

// TestDoSyncsAtOnce: Do carries out a Sync itself.
func TestDoSyncsAtOnce(t *testing.T) {
	fsys := newFS(t)
	e, _ := open(t, fsys)
	a := disk.LogID("a-0")
	mustDone(t, e.Do(disk.Op{ID: 1, Kind: disk.CreateLog, Log: a}))
	mustDone(t, e.Do(disk.Op{ID: 2, Kind: disk.Append, Log: a, Offset: 0, Data: batch(t, 0, 4)}))
	if fsys.UnsyncedBytes() == 0 {
		t.Fatal("an append was durable before any sync")
	}
	mustDone(t, e.Do(disk.Op{ID: 3, Kind: disk.Sync, Log: a}))
	if n := fsys.UnsyncedBytes(); n != 0 {
		t.Fatalf("%d bytes unsynced after Do(Sync)", n)
	}
}

// TestOpsOnUnknownLogsFail: an op on a log that was never created, or was deleted, fails
// with ErrUnknownLog; a Sync of a deleted log has nothing left to do.
func TestOpsOnUnknownLogsFail(t *testing.T) {
	e, _ := open(t, newFS(t))
	a := disk.LogID("a-0")
	if d := e.Do(disk.Op{ID: 1, Kind: disk.Append, Log: a, Data: batch(t, 0, 1)}); !errors.Is(d.Err, ErrUnknownLog) {
		t.Fatalf("append to a log never created: %v", d.Err)
	}
	mustDone(t, e.Do(disk.Op{ID: 2, Kind: disk.CreateLog, Log: a}))
	if d := e.Do(disk.Op{ID: 3, Kind: disk.CreateLog, Log: a}); d.Err == nil {
		t.Fatal("a log created twice")
	}
	mustDone(t, e.Do(disk.Op{ID: 4, Kind: disk.DeleteLog, Log: a}))
	mustDone(t, e.DoAll([]disk.Op{{ID: 5, Kind: disk.Sync, Log: a}})...)
	if d := e.Do(disk.Op{ID: 6, Kind: disk.Read, Log: a, MaxOffset: 1, MaxBytes: 100}); !errors.Is(d.Err, ErrUnknownLog) {
		t.Fatalf("read of a deleted log: %v", d.Err)
	}
	if len(e.Logs()) != 0 {
		t.Fatalf("logs left: %v", e.Logs())
	}
}

// TestAppendMustContinueTheLog: an append at any offset but the log's end fails rather
// than leave a gap or overwrite.
func TestAppendMustContinueTheLog(t *testing.T) {
	e, _ := open(t, newFS(t))
	a := disk.LogID("a-0")
	mustDone(t, e.Do(disk.Op{ID: 1, Kind: disk.CreateLog, Log: a}))
	mustDone(t, e.Do(disk.Op{ID: 2, Kind: disk.Append, Log: a, Offset: 0, Data: batch(t, 0, 2)}))
	for _, off := range []int64{0, 1, 3} {
		if d := e.Do(disk.Op{ID: 3, Kind: disk.Append, Log: a, Offset: off, Data: batch(t, off, 1)}); d.Err == nil {
			t.Fatalf("an append at %d of a log ending at 2 passed", off)
		}
	}
}

// TestRecoveryReportsFilesAndLogs: what Open finds after a restart is what completed ops
// made durable: small files, logs with their start and end, and the metadata log's
// batches.
func TestRecoveryReportsFilesAndLogs(t *testing.T) {
	fsys := newFS(t)
	e, _ := open(t, fsys)
	mustDone(t, e.DoAll([]disk.Op{
		{ID: 1, Kind: disk.WriteFile, Name: "quorum-state", Data: []byte("epoch 3")},
		{ID: 2, Kind: disk.CreateLog, Log: disk.MetadataLog},
		{ID: 3, Kind: disk.Append, Log: disk.MetadataLog, Offset: 0, Data: batch(t, 0, 3)},
		{ID: 4, Kind: disk.Sync, Log: disk.MetadataLog},
		{ID: 5, Kind: disk.CreateLog, Log: "t-1", Offset: 40},
		{ID: 6, Kind: disk.WriteFile, Name: "t-1/topic-id", Data: []byte("id")},
		{ID: 7, Kind: disk.WriteFile, Name: "gone", Data: []byte("x")},
		{ID: 8, Kind: disk.RemoveFile, Name: "gone"},
	})...)
	e2, rec := open(t, crashAll(fsys))
	defer e2.Close()
	if string(rec.Files["quorum-state"]) != "epoch 3" || string(rec.Files["t-1/topic-id"]) != "id" {
		t.Fatalf("files %v", rec.Files)
	}
	if _, ok := rec.Files["gone"]; ok {
		t.Fatal("a removed file came back")
	}
	if !bytes.Equal(rec.Metadata, batch(t, 0, 3)) {
		t.Fatalf("metadata log recovered as %d bytes", len(rec.Metadata))
	}
	for _, l := range rec.Logs {
		if l.ID == "t-1" && (l.StartOffset != 40 || l.EndOffset != 40) {
			t.Fatalf("log t-1 recovered at [%d, %d), want it empty at 40", l.StartOffset, l.EndOffset)
		}
	}
}

func TestRetentionCutoffKeepsTheActiveSegmentAndTheUncommitted(t *testing.T) {
	segs := []storage.SegmentInfo{
		{BaseOffset: 0, NextOffset: 10, SizeBytes: 100, MaxTimestamp: 1000},
		{BaseOffset: 10, NextOffset: 20, SizeBytes: 100, MaxTimestamp: 2000},
		{BaseOffset: 20, NextOffset: 30, SizeBytes: 100, MaxTimestamp: 3000},
	}
	for _, tc := range []struct {
		name string
		hw   int64
		p    disk.Retention
		want int64
	}{
		{"nothing expired", 30, disk.Retention{Ms: 10_000, Bytes: -1, NowMs: 3500}, 0},
		{"time: the two oldest", 30, disk.Retention{Ms: 1000, Bytes: -1, NowMs: 3500}, 20},
		{"time: never the active segment", 30, disk.Retention{Ms: 1, Bytes: -1, NowMs: 1_000_000}, 20},
		{"time: not past the high watermark", 15, disk.Retention{Ms: 1, Bytes: -1, NowMs: 1_000_000}, 10},
		{"size: down to the limit", 30, disk.Retention{Ms: -1, Bytes: 150, NowMs: 0}, 20},
		{"size: one segment over", 30, disk.Retention{Ms: -1, Bytes: 250, NowMs: 0}, 10},
		{"both off", 30, disk.Retention{Ms: -1, Bytes: -1, NowMs: 1_000_000}, 0},
	} {
		if got := retentionCutoff(segs, 0, tc.hw, tc.p); got != tc.want {
			t.Errorf("%s: cut at %d, want %d", tc.name, got, tc.want)
		}
	}
}

// A fenced range between two segments (damage that emptied a segment, a gap copied from
// a leader) holds no segment: deleting the segment before it must not move the log start
// past the high watermark into the next segment's base.
func TestRetentionCutoffStopsAtTheHighWatermarkAcrossAGap(t *testing.T) {
	segs := []storage.SegmentInfo{
		{BaseOffset: 77, NextOffset: 79, SizeBytes: 100, MaxTimestamp: 1000},
		{BaseOffset: 95, NextOffset: 100, SizeBytes: 100, MaxTimestamp: 2000},
		{BaseOffset: 100, NextOffset: 136, SizeBytes: 100, MaxTimestamp: 3000},
	}
	p := disk.Retention{Ms: -1, Bytes: 150, NowMs: 0}
	for _, tc := range []struct{ hw, want int64 }{{79, 79}, {90, 90}, {95, 95}, {136, 100}} {
		if got := retentionCutoff(segs, 77, tc.hw, p); got != tc.want {
			t.Errorf("high watermark %d: cut at %d, want %d", tc.hw, got, tc.want)
		}
	}
}

// TestRecoveryCutsTheMetadataLogAtDamageBelowTheRecoveryPoint: bytes that decayed at
// rest in a sealed segment of the metadata log, below the recovery point that recovery
// scans from, end the recovered metadata where they begin, and the log is cut there
// too, so that the log the core is told about and the one on disk agree: the next
// append goes where the recovered batches end. Damage to a batch's header ends the
// log there too.
func TestRecoveryCutsTheMetadataLogAtDamageBelowTheRecoveryPoint(t *testing.T) {
	const batchBytes = 88 // a batch of three two-byte records
	t.Run("body", func(t *testing.T) { testMetadataDamage(t, batchBytes+record.HeaderSize+2, 3) })
	t.Run("header", func(t *testing.T) { testMetadataDamage(t, batchBytes, 3) })
}

// testMetadataDamage damages, at byte at, the segment of the metadata log that holds
// offsets 6 to 12 in two batches, and checks that the first keep batches of the log
// survive, and no more.
func testMetadataDamage(t *testing.T, at int64, keep int) {
	fsys := newFS(t)
	cfg := Config{Log: storage.LogConfig{SegmentBytesMax: 200}}
	e, _, err := Open(fsys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ops := []disk.Op{{ID: 1, Kind: disk.CreateLog, Log: disk.MetadataLog}}
	var want []byte
	for i := range 6 {
		b := batch(t, int64(3*i), 3)
		ops = append(ops, disk.Op{ID: disk.OpID(2 + i), Kind: disk.Append, Log: disk.MetadataLog, Offset: int64(3 * i), Data: b})
		if i < keep {
			want = append(want, b...)
		}
	}
	ops = append(ops, disk.Op{ID: 20, Kind: disk.Sync, Log: disk.MetadataLog})
	mustDone(t, e.DoAll(ops)...)
	shape, _ := e.Shape(disk.MetadataLog)
	if shape.Segments < 3 {
		t.Fatalf("%d segments; the test needs the damage in a sealed one", shape.Segments)
	}
	fsys = crashAll(fsys)
	seg := string(disk.MetadataLog) + "/00000000000000000006.log"
	if err := fsys.CorruptAtRest(seg, at, 4); err != nil {
		t.Fatal(err)
	}
	e2, rec, err := Open(fsys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if !bytes.Equal(rec.Metadata, want) {
		t.Fatalf("metadata recovered as %d bytes, want the %d bytes before the damage", len(rec.Metadata), len(want))
	}
	for _, l := range rec.Logs {
		if l.ID == disk.MetadataLog && l.EndOffset != int64(3*keep) {
			t.Fatalf("the metadata log is reported to end at %d, want %d", l.EndOffset, 3*keep)
		}
	}
	mustDone(t, e2.Do(disk.Op{ID: 1, Kind: disk.Append, Log: disk.MetadataLog, Offset: int64(3 * keep), Data: batch(t, int64(3*keep), 3)}))
}

// damageBatchIn flips bits in the second batch of the first segment of log id, at
// rest.
func damageBatchIn(t *testing.T, fsys *disksim.FS, id disk.LogID) {
	t.Helper()
	name := string(id) + "/" + storage.SegmentFileName(0, storage.LogFileSuffix)
	data, err := storage.ReadFile(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	h, err := record.ParseHeader(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := fsys.CorruptAtRest(name, int64(h.Size())+30, 2); err != nil {
		t.Fatal(err)
	}
}

// fillSegments appends batches of two records to log id until it has several segments,
// syncs, and returns the log's end.
func fillSegments(t *testing.T, e *Executor, id disk.LogID, create bool) int64 {
	t.Helper()
	if create {
		mustDone(t, e.Do(disk.Op{Kind: disk.CreateLog, Log: id}))
	}
	off := int64(0)
	for range 40 {
		mustDone(t, e.Do(disk.Op{Kind: disk.Append, Log: id, Offset: off, Data: batch(t, off, 2)}))
		off += 2
	}
	mustDone(t, e.Do(disk.Op{Kind: disk.Sync, Log: id}))
	return off
}

// Damage in a closed segment of a partition log is fenced when a read meets it
// (CheckDamage), the log keeps its end, and recovery reports the fence; the metadata
// log is cut where the batches handed to raft end instead, so that raft's next append
// continues it.
func TestDamageFencedInPartitionsCutInTheMetadataLog(t *testing.T) {
	fsys := newFS(t)
	cfg := Config{Log: storage.LogConfig{SegmentBytesMax: 400}}
	e, _, err := Open(fsys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	part := disk.PartitionLog("t", 0)
	end := fillSegments(t, e, part, true)
	fillSegments(t, e, disk.MetadataLog, true)
	damageBatchIn(t, fsys, part)
	damageBatchIn(t, fsys, disk.MetadataLog)

	d := e.Do(disk.Op{Kind: disk.Read, Log: part, Offset: 2, MaxOffset: end, MaxBytes: 1 << 20})
	if d.Err == nil || !d.Corrupt {
		t.Fatalf("read of the damaged batch: %+v", d)
	}
	d = e.Do(disk.Op{Kind: disk.CheckDamage, Log: part, Offset: 2})
	mustDone(t, d)
	want := disk.Fence{From: 2, To: 4, Kind: disk.FenceDamaged}
	if len(d.Fences) != 1 || d.Fences[0] != want {
		t.Fatalf("check: %+v", d)
	}
	d = e.Do(disk.Op{Kind: disk.Read, Log: part, Offset: 3, MaxOffset: end, MaxBytes: 1 << 20})
	if d.Err == nil || len(d.Fences) != 1 || d.Fences[0] != want {
		t.Fatalf("read in the fence: %+v", d)
	}
	mustDone(t, e.Do(disk.Op{Kind: disk.Read, Log: part, Offset: 4, MaxOffset: end, MaxBytes: 1 << 20}))
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e, rec, err := Open(fsys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, l := range rec.Logs {
		switch l.ID {
		case part:
			if l.EndOffset != end || len(l.Fences) != 1 || l.Fences[0] != want {
				t.Fatalf("partition log recovered as %+v", l)
			}
		case disk.MetadataLog:
			if l.EndOffset != 2 {
				t.Fatalf("metadata log recovered as %+v, want it cut at 2", l)
			}
		}
	}
	if lastNextOffset(rec.Metadata) != 2 {
		t.Fatalf("metadata batches end at %d", lastNextOffset(rec.Metadata))
	}
	mustDone(t, e.Do(disk.Op{Kind: disk.Append, Log: disk.MetadataLog, Offset: 2, Data: batch(t, 2, 1)}))
}
