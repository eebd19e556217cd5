package sim

import (
	"fmt"
	"path"
	"slices"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/record"
	"github.com/seedlog/seedlog/disksim"
	"github.com/seedlog/seedlog/storage"
)

// Durable truth: what the simulated disks would give back after a power loss, whatever
// the crash draws (disksim's certain durable state), read without the node's storage or
// its claims. The checkers that compare acknowledgements with it:
//
//   - an acks=all produce answered with success, a high watermark a partition leader
//     advances, and a group record an OffsetCommit or SyncGroup answer promises must
//     be covered by the synced data of at least min.insync.replicas replicas: every
//     batch below the offset, on their disks' durable images, parsed and checksummed
//     here (invariant:durable). Every broker counts, up or down: the leader may count
//     replicas it is adding to its ISR, and members that went down after reporting
//     their syncs; a broker that never replicated the partition has no such log.
//
//   - after every restart, every batch recovery kept in each log's last segment (the
//     one it always scans) and every batch of the metadata log it handed the node
//     passes its checksum, up to the log end it reported (recovery); a log's fenced
//     ranges and batches a fault damaged on that node are exempt.
//
// A segment whose walk stops at a batch that a fault damaged on that node (partDamage)
// counts as holding what it held: that copy is not a lie of the node, and the damage
// checkers judge it.

// truthWalk is how far the durable image of one segment file was walked: its batches
// up to byte pos parse, pass their checksums and run densely up to offset next. It
// stays valid while the file's inode and durable generation stay the same.
type truthWalk struct {
	inode, gen uint64
	pos, next  int64
}

type truthKey struct {
	fs   *disksim.FS
	file string
}

// durableTruth reads partition logs from the disks' durable images, remembering each
// segment's walk so that every byte is checksummed once per durable generation.
type durableTruth struct {
	walks map[truthKey]*truthWalk
	// segments holds each log directory's segment bases (sorted) as of a generation of
	// its entries.
	segments map[truthKey]segmentList
	// names holds segment file paths already built, by log and base.
	names map[segmentName]string
	buf   []byte
}

type segmentName struct {
	log  disk.LogID
	base int64
}

// segmentFile returns the path of log's segment file at base.
func (t *durableTruth) segmentFile(log disk.LogID, base int64) string {
	k := segmentName{log, base}
	name, ok := t.names[k]
	if !ok {
		name = path.Join(string(log), storage.SegmentFileName(base, storage.LogFileSuffix))
		t.names[k] = name
	}
	return name
}

type segmentList struct {
	gen   uint64
	bases []int64
}

func newDurableTruth() *durableTruth {
	return &durableTruth{walks: map[truthKey]*truthWalk{}, segments: map[truthKey]segmentList{}, names: map[segmentName]string{}}
}

// segmentBelow finds the base of the segment of log that would hold offset o on fs's
// durable image: the largest base at or below it.
func (t *durableTruth) segmentBelow(fs *disksim.FS, log disk.LogID, o int64) (int64, bool) {
	gen, ok := fs.DirGen(string(log))
	if !ok {
		return 0, false
	}
	k := truthKey{fs, string(log)}
	sl, cached := t.segments[k]
	if !cached || sl.gen != gen {
		sl = segmentList{gen: gen}
		for _, name := range fs.ListDurable(string(log)) {
			if base, suffix, ok := storage.ParseSegmentFileName(name); ok && suffix == storage.LogFileSuffix {
				sl.bases = append(sl.bases, base)
			}
		}
		slices.Sort(sl.bases)
		t.segments[k] = sl
	}
	i, found := slices.BinarySearch(sl.bases, o)
	if found {
		return o, true
	}
	if i == 0 {
		return 0, false
	}
	return sl.bases[i-1], true
}

// startsAbove reports whether every segment of log on fs's durable image starts above
// offset o: the log start moved past o there (DeleteRecords, retention, or a follower
// that restarted its log at its leader's log start), which happens only below a high
// watermark that was checked when it advanced.
func (t *durableTruth) startsAbove(fs *disksim.FS, log disk.LogID, o int64) bool {
	if _, ok := fs.DirGen(string(log)); !ok {
		return false
	}
	t.segmentBelow(fs, log, o) // brings the segment list up to date
	sl := t.segments[truthKey{fs, string(log)}]
	return len(sl.bases) > 0 && sl.bases[0] > o
}

// forget drops the walks of a disk that a crash replaced.
func (t *durableTruth) forget(fs *disksim.FS) {
	// order-independent: deleting every key of one disk, whatever the order.
	for k := range t.walks {
		if k.fs == fs {
			delete(t.walks, k)
		}
	}
	// order-independent: the same.
	for k := range t.segments {
		if k.fs == fs {
			delete(t.segments, k)
		}
	}
}

// holds reports whether the durable image of log on fs holds every batch below offset
// o, in the segment that holds o-1, checksummed and dense from the segment's start, and
// how far it got when it does not (the offset after its last good batch).
func (t *durableTruth) holds(fs *disksim.FS, log disk.LogID, o int64) (bool, int64) {
	if o <= 0 {
		return true, 0
	}
	base, ok := t.segmentBelow(fs, log, o-1)
	if !ok {
		if t.startsAbove(fs, log, o-1) {
			return true, o
		}
		return false, 0
	}
	file := t.segmentFile(log, base)
	st, ok := fs.StatDurable(file)
	if !ok {
		return false, base
	}
	k := truthKey{fs, file}
	wk := t.walks[k]
	if wk == nil || wk.inode != st.Inode || wk.gen != st.Gen {
		wk = &truthWalk{inode: st.Inode, gen: st.Gen, next: base}
		t.walks[k] = wk
	}
	for wk.next < o && wk.pos < st.Size {
		var head [record.HeaderSize]byte
		if fs.ReadDurable(file, head[:], wk.pos) < len(head) {
			break
		}
		h, err := record.ParseHeader(head[:])
		if err != nil || h.BaseOffset != wk.next || wk.pos+int64(h.Size()) > st.Size {
			break
		}
		if cap(t.buf) < h.Size() {
			t.buf = make([]byte, h.Size())
		}
		b := t.buf[:h.Size()]
		fs.ReadDurable(file, b, wk.pos)
		if _, err := record.Check(b); err != nil {
			break
		}
		wk.pos += int64(h.Size())
		wk.next = h.NextOffset()
	}
	return wk.next >= o, wk.next
}

// checkDurable checks that offsets below o of leader r's partition are on the synced
// disks of at least min.insync.replicas replicas. what says which acknowledgement
// counts on it.
func (d *dataInvariants) checkDurable(r *ReplicaView, o int64, what string) error {
	if d.async || o <= r.Start {
		return nil
	}
	log := disk.PartitionLog(r.Topic, r.Partition)
	need := max(int(r.MinISR), 1)
	var holding, short []string
	for _, id := range d.brokers {
		n := d.w.node(id)
		ok, reached := d.truth.holds(n.fs, log, o)
		switch {
		case ok:
			holding = append(holding, fmt.Sprint(id))
		case d.w.faults.partDamage.overlaps(id, log, offRange{reached, o}):
			d.w.cov.Inc("check:durable-damaged")
			holding = append(holding, fmt.Sprintf("%d (damaged)", id))
		case d.declaredCovers(TopicPartition{r.Topic, r.Partition}, reached, o):
			// What it lacks was declared lost: it holds the gap the leader declared,
			// a fence and no batch.
			d.w.cov.Inc("check:durable-declared-lost")
			holding = append(holding, fmt.Sprintf("%d (declared lost from %d)", id, reached))
		default:
			short = append(short, fmt.Sprintf("%d (synced up to %d)", id, reached))
		}
	}
	d.w.cov.Inc("check:durable")
	if len(holding) >= need {
		return nil
	}
	return durableViolation{fmt.Errorf("%s at offset %d (leader epoch %d, ISR %v) but only %d replicas' synced disks hold it, below min.insync.replicas %d: holding %v, short %v",
		what, o, r.LeaderEpoch, r.ISR, len(holding), need, holding, short)}
}

// declaredCovers reports whether ranges tp declared lost cover [from, to).
func (d *dataInvariants) declaredCovers(tp TopicPartition, from, to int64) bool {
	for from < to {
		i := slices.IndexFunc(d.declared[tp], func(r offRange) bool { return r.contains(from) })
		if i < 0 {
			return false
		}
		from = d.declared[tp][i].to
	}
	return true
}

// durableViolation marks an acknowledgement the disks' durable images do not back.
type durableViolation struct{ error }

// checkRecovered checks what recovery returned on node n against the disk: diskexec
// synced what it kept, so the durable image is what it kept.
func (t *durableTruth) checkRecovered(w *World, n *simNode, rec *disk.Recovered) error {
	if _, err := record.Split(rec.Metadata, func(h record.Header, b []byte) error {
		if _, err := record.Check(b); err != nil {
			return fmt.Errorf("metadata batch at offset %d: %w", h.BaseOffset, err)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("node %d recovered a metadata log that fails its checks: %v", n.spec.ID, err)
	}
	for _, l := range rec.Logs {
		if l.EndOffset <= l.StartOffset || l.ID == disk.MetadataLog {
			continue
		}
		ok, reached := t.holds(n.fs, l.ID, l.EndOffset)
		switch {
		case ok:
			w.cov.Inc("check:recovered-log")
		case slices.ContainsFunc(l.Fences, func(f disk.Fence) bool { return f.To > reached }),
			w.faults.partDamage.overlaps(n.spec.ID, l.ID, offRange{reached, l.EndOffset}):
			w.cov.Inc("check:recovered-log-damaged")
		default:
			return fmt.Errorf("node %d recovered %s up to offset %d, but its last segment holds valid batches only up to %d", n.spec.ID, l.ID, l.EndOffset, reached)
		}
	}
	return nil
}
