package sim

import (
	"math/rand/v2"
	"path"
	"testing"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/record"
	"github.com/seedlog/seedlog/disksim"
	"github.com/seedlog/seedlog/storage"
)

// truthDisk is a disk holding log "t-0", with segment files written through the
// storage.FS interface as a node would.
type truthDisk struct {
	t  *testing.T
	fs *disksim.FS
}

const truthLogID = disk.LogID("t-0")

func newTruthDisk(t *testing.T) *truthDisk {
	fs := disksim.New(rand.New(rand.NewPCG(1, 2)), disksim.DefaultConfig())
	if err := fs.MkdirAll(string(truthLogID)); err != nil {
		t.Fatal(err)
	}
	if err := fs.SyncDir("."); err != nil {
		t.Fatal(err)
	}
	return &truthDisk{t: t, fs: fs}
}

func (d *truthDisk) name(base int64) string {
	return path.Join(string(truthLogID), storage.SegmentFileName(base, storage.LogFileSuffix))
}

// segment creates the segment file at base, its entry synced, holding the batches
// append writes from offset base.
func (d *truthDisk) segment(base int64, sizes ...int) storage.File {
	f, err := d.fs.Create(d.name(base))
	if err != nil {
		d.t.Fatal(err)
	}
	if err := d.fs.SyncDir(string(truthLogID)); err != nil {
		d.t.Fatal(err)
	}
	d.append(f, base, 0, sizes...)
	return f
}

// append writes at byte pos of f, from offset at, one batch per entry of sizes with that
// many records, syncs them and returns the byte after them. A batch of one record at an
// odd offset carries a value longer than a walk reads at once.
func (d *truthDisk) append(f storage.File, at, pos int64, sizes ...int) int64 {
	for _, n := range sizes {
		values := make([][]byte, n)
		for i := range values {
			values[i] = []byte("v")
		}
		if n == 1 && at%2 == 1 {
			values[0] = make([]byte, 3*truthChunk)
		}
		b, err := record.BuildValues(record.Spec{BaseOffset: at}.NoProducer(), values...)
		if err != nil {
			d.t.Fatal(err)
		}
		if _, err := f.WriteAt(b, pos); err != nil {
			d.t.Fatal(err)
		}
		pos += int64(len(b))
		at += int64(n)
	}
	if err := f.Sync(); err != nil {
		d.t.Fatal(err)
	}
	return pos
}

func (d *truthDisk) want(tr *durableTruth, o int64, ok bool, reached int64) {
	d.t.Helper()
	if gotOK, gotReached := tr.holds(d.fs, truthLogID, o); gotOK != ok || gotReached != reached {
		d.t.Fatalf("holds(%d) = %v, %d; want %v, %d", o, gotOK, gotReached, ok, reached)
	}
}

// The durable truth walks the segment that would hold an offset, follows segments
// coming and going, and trusts a walk only while the synced bytes it read stay certain.
func TestDurableTruthFollowsTheDisk(t *testing.T) {
	d := newTruthDisk(t)
	tr := newDurableTruth()
	d.want(tr, 1, false, 0) // no segment yet
	f := d.segment(0, 2, 3)
	d.want(tr, 5, true, 5)
	d.want(tr, 6, false, 5)
	d.want(tr, 3, true, 5)
	pos := d.append(f, 5, d.size(0), 1, 1, 1, 2, 1, 1)
	d.want(tr, 8, true, 8)
	d.want(tr, 12, true, 12)
	d.want(tr, 13, false, 12)
	// Synced bytes after the last batch that do not parse (what recovery would cut).
	if _, err := f.WriteAt([]byte("torn"), pos); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	d.want(tr, 13, false, 12)
	if err := f.Truncate(pos); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	d.want(tr, 12, true, 12)

	// A new segment holds what lies above its base, and nothing below it.
	g := d.segment(12, 2)
	d.want(tr, 14, true, 14)
	d.want(tr, 15, false, 14)
	d.want(tr, 11, true, 12)

	// Bytes written but not synced do not count.
	size := d.size(12)
	b, err := record.BuildValues(record.Spec{BaseOffset: 14}.NoProducer(), []byte("w"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.WriteAt(b, size); err != nil {
		t.Fatal(err)
	}
	d.want(tr, 15, false, 14)
	if err := g.Sync(); err != nil {
		t.Fatal(err)
	}
	d.want(tr, 15, true, 15)

	// A truncation not yet synced may be what a crash keeps: the batches it cut are no
	// longer certain, although the walk had read them.
	if err := g.Truncate(size); err != nil {
		t.Fatal(err)
	}
	d.want(tr, 15, false, 14)

	// Every segment starting above an offset: the log start moved past it.
	if err := d.fs.Remove(d.name(0)); err != nil {
		t.Fatal(err)
	}
	if err := d.fs.SyncDir(string(truthLogID)); err != nil {
		t.Fatal(err)
	}
	d.want(tr, 3, true, 3)
	d.want(tr, 14, true, 14)
}

// size is the certain durable size of the segment file at base.
func (d *truthDisk) size(base int64) int64 {
	st, ok := d.fs.StatDurable(d.name(base))
	if !ok {
		d.t.Fatalf("segment %d is not certain", base)
	}
	return st.Size
}

// A compaction swap interrupted after its commit leaves <base>-<end>.swap and some of
// the segments it replaces: recovery finishes it, so the swap file is what the disk
// holds in [base, end), whatever is left of the old segments.
func TestDurableTruthReadsAnInterruptedSwap(t *testing.T) {
	d := newTruthDisk(t)
	tr := newDurableTruth()
	d.segment(0, 2, 3)
	d.segment(5, 4)
	d.segment(9, 1)
	d.want(tr, 9, true, 9)
	// The cleaned run [0, 9) written in full and renamed to its swap name; segment 0's
	// files removed, segment 5's not yet.
	swap := path.Join(string(truthLogID), storage.SegmentFileName(0, "-")+storage.SegmentFileName(9, storage.SwapSuffix))
	f, err := d.fs.Create(swap)
	if err != nil {
		t.Fatal(err)
	}
	d.append(f, 0, 0, 9)
	if err := d.fs.Remove(d.name(0)); err != nil {
		t.Fatal(err)
	}
	if err := d.fs.SyncDir(string(truthLogID)); err != nil {
		t.Fatal(err)
	}
	d.want(tr, 3, true, 9)
	d.want(tr, 9, true, 9)
	d.want(tr, 10, true, 10)
	// The swap done: the file is <base>.log again.
	if err := d.fs.Rename(swap, d.name(0)); err != nil {
		t.Fatal(err)
	}
	if err := d.fs.Remove(d.name(5)); err != nil {
		t.Fatal(err)
	}
	if err := d.fs.SyncDir(string(truthLogID)); err != nil {
		t.Fatal(err)
	}
	d.want(tr, 9, true, 9)
	d.want(tr, 10, true, 10)
}
