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
// stays valid while the file's inode and durable generation stay the same and its
// certain durable size does not drop below pos (a truncation not yet synced lowers it
// without a new generation: a crash may keep it); started says it describes a file at
// all.
type truthWalk struct {
	file       string
	swap       bool // file is a cleaned segment being swapped in (truthLog.swaps)
	started    bool
	inode, gen uint64
	pos, next  int64
}

type truthKey struct {
	fs  *disksim.FS
	log disk.LogID
}

// truthLog is what durableTruth remembers of one log directory on one disk: its segment
// files and their bases (sorted) as of a generation of the directory's entries, and each
// segment's walk.
type truthLog struct {
	listed bool
	gen    uint64
	names  []string
	bases  []int64
	walks  map[int64]*truthWalk
	// swaps maps a base to the cleaned segment a compaction swap left (storage's
	// <base>-<end>.swap): recovery replaces the segments in [base, end) with it, so it
	// is what the disk gives back there.
	swaps map[int64]string
}

// durableTruth reads partition logs from the disks' durable images, remembering each
// segment's walk so that every byte is checksummed once per durable generation.
type durableTruth struct {
	logs map[truthKey]*truthLog
	// buf and names are scratch space for reading segments and listing directories.
	buf   []byte
	names []string
}

// truthChunk is how many durable bytes a walk reads at once (more when a batch is
// larger): a read resolves the file's name, so batches are not read one by one.
const truthChunk = 32 << 10

func newDurableTruth() *durableTruth {
	return &durableTruth{logs: map[truthKey]*truthLog{}}
}

// log returns what is remembered of log on fs, its segment list brought up to date
// with fs's durable image; false when the image has no such directory.
func (t *durableTruth) log(fs *disksim.FS, log disk.LogID) (*truthLog, bool) {
	gen, ok := fs.DirGen(string(log))
	if !ok {
		return nil, false
	}
	k := truthKey{fs, log}
	tl := t.logs[k]
	if tl == nil {
		tl = &truthLog{walks: map[int64]*truthWalk{}}
		t.logs[k] = tl
	}
	if tl.listed && tl.gen == gen {
		return tl, true
	}
	tl.listed, tl.gen = true, gen
	// Most changes to the directory are its checkpoints': the segment files stay.
	t.names = fs.AppendDurable(t.names[:0], string(log), storage.LogFileSuffix)
	t.names = fs.AppendDurable(t.names, string(log), storage.SwapSuffix)
	if slices.Equal(t.names, tl.names) {
		return tl, true
	}
	tl.names, tl.bases, tl.swaps = append(tl.names[:0], t.names...), tl.bases[:0], nil
	for _, name := range tl.names {
		if base, suffix, ok := storage.ParseSegmentFileName(name); ok && suffix == storage.LogFileSuffix {
			tl.bases = append(tl.bases, base)
		}
	}
	for _, name := range tl.names {
		if base, end, ok := storage.ParseSwapName(name); ok {
			if tl.swaps == nil {
				tl.swaps = map[int64]string{}
			}
			tl.swaps[base] = path.Join(string(log), name)
			tl.bases = slices.DeleteFunc(tl.bases, func(b int64) bool { return b >= base && b < end })
			tl.bases = append(tl.bases, base)
		}
	}
	slices.Sort(tl.bases)
	return tl, true
}

// segmentBelow finds the base of the segment that would hold offset o: the largest
// base at or below it.
func (tl *truthLog) segmentBelow(o int64) (int64, bool) {
	i, found := slices.BinarySearch(tl.bases, o)
	if found {
		return o, true
	}
	if i == 0 {
		return 0, false
	}
	return tl.bases[i-1], true
}

// walk returns the walk of the segment at base.
func (tl *truthLog) walk(log disk.LogID, base int64) *truthWalk {
	wk := tl.walks[base]
	swap, swapped := tl.swaps[base]
	switch {
	case swapped && (wk == nil || wk.file != swap):
		wk = &truthWalk{file: swap, swap: true}
	case !swapped && (wk == nil || wk.swap):
		wk = &truthWalk{file: path.Join(string(log), storage.SegmentFileName(base, storage.LogFileSuffix))}
	default:
		return wk
	}
	tl.walks[base] = wk
	return wk
}

// forget drops the walks of a disk that a crash replaced.
func (t *durableTruth) forget(fs *disksim.FS) {
	// order-independent: deleting every key of one disk, whatever the order.
	for k := range t.logs {
		if k.fs == fs {
			delete(t.logs, k)
		}
	}
}

// holds reports whether the durable image of log on fs holds every batch below offset
// o, in the segment that holds o-1, checksummed and dense from the segment's start, and
// how far it got when it does not (the offset after its last good batch). When every
// segment starts above o-1, the log start moved past it there (DeleteRecords,
// retention, or a follower that restarted its log at its leader's log start), which
// happens only below a high watermark that was checked when it advanced.
func (t *durableTruth) holds(fs *disksim.FS, log disk.LogID, o int64) (bool, int64) {
	if o <= 0 {
		return true, 0
	}
	tl, ok := t.log(fs, log)
	if !ok {
		return false, 0
	}
	base, ok := tl.segmentBelow(o - 1)
	if !ok {
		if len(tl.bases) > 0 && tl.bases[0] > o-1 {
			return true, o
		}
		return false, 0
	}
	wk := tl.walk(log, base)
	st, ok := fs.StatDurable(wk.file)
	if !ok {
		return false, base
	}
	if !wk.started || wk.inode != st.Inode || wk.gen != st.Gen || wk.pos > st.Size {
		*wk = truthWalk{file: wk.file, swap: wk.swap, started: true, inode: st.Inode, gen: st.Gen, next: base}
	}
	t.walkTo(fs, wk, st.Size, o)
	return wk.next >= o, wk.next
}

// walkTo walks wk's file, whose first size bytes are durable, until its batches reach
// offset o or the next one does not parse, pass its checksum or follow on from the one
// before it.
func (t *durableTruth) walkTo(fs *disksim.FS, wk *truthWalk, size, o int64) {
	var win []byte // the durable bytes read from wk.pos on
	for wk.next < o && wk.pos < size {
		if len(win) < record.HeaderSize {
			if win = t.read(fs, wk, size, record.HeaderSize); len(win) < record.HeaderSize {
				break
			}
		}
		h, err := record.ParseHeader(win[:record.HeaderSize])
		if err != nil || h.BaseOffset != wk.next || wk.pos+int64(h.Size()) > size {
			break
		}
		if len(win) < h.Size() {
			win = t.read(fs, wk, size, h.Size())
		}
		if _, err := record.Check(win[:h.Size()]); err != nil {
			break
		}
		wk.pos += int64(h.Size())
		wk.next = h.NextOffset()
		win = win[h.Size():]
	}
}

// read reads durable bytes of wk's file from wk.pos: a chunk, or need when that is
// more, short where the first size bytes end.
func (t *durableTruth) read(fs *disksim.FS, wk *truthWalk, size int64, need int) []byte {
	n := int(min(size-wk.pos, int64(max(need, truthChunk))))
	if cap(t.buf) < n {
		t.buf = make([]byte, n)
	}
	return t.buf[:fs.ReadDurable(wk.file, t.buf[:n], wk.pos)]
}

// checkDurable checks that offsets below o of leader r's partition are on the synced
// disks of at least min.insync.replicas replicas. what says which acknowledgement
// counts on it; it is built only to describe a violation.
func (d *dataInvariants) checkDurable(r *ReplicaView, o int64, what func() string) error {
	if d.async || o <= r.Start {
		return nil
	}
	tp := TopicPartition{r.Topic, r.Partition}
	need := max(int(r.MinISR), 1)
	holding := d.countCopies(tp, d.brokers, o)
	d.w.cov.Inc("check:durable")
	if holding >= need {
		return nil
	}
	held, short := describeCopies(d.copies)
	return durableViolation{fmt.Errorf("%s at offset %d (leader epoch %d, ISR %v) but only %d replicas' synced disks hold it, below min.insync.replicas %d: holding %v, short %v",
		what(), o, r.LeaderEpoch, r.ISR, holding, need, held, short)}
}

// countCopies counts the brokers among ids whose synced disks hold tp's offsets below
// o, or lack them only where a fault damaged them or the partition declared them
// lost; d.copies describes each.
func (d *dataInvariants) countCopies(tp TopicPartition, ids []int32, o int64) int {
	log := d.partitionLog(tp)
	d.copies = d.copies[:0]
	holding := 0
	for _, id := range ids {
		n := d.w.node(id)
		c := durableCopy{id: id}
		var ok bool
		ok, c.reached = d.truth.holds(n.fs, log, o)
		switch {
		case ok:
			c.state = copyHeld
		case d.w.faults.partDamage.overlaps(id, log, offRange{c.reached, o}):
			d.w.cov.Inc("check:durable-damaged")
			c.state = copyDamaged
		case d.declaredCovers(tp, c.reached, o):
			// What it lacks was declared lost: it holds the gap the leader declared,
			// a fence and no batch.
			d.w.cov.Inc("check:durable-declared-lost")
			c.state = copyDeclared
		case d.repairCut(id, tp, log, o):
			// It cut its log back to damage below o to fetch the rest again: the fault
			// took what it held above the damage with it until it has.
			d.w.cov.Inc("check:durable-repair-cut")
			c.state = copyDamaged
		default:
			c.state = copyShort
		}
		if c.state != copyShort {
			holding++
		}
		d.copies = append(d.copies, c)
	}
	return holding
}

// repairCut reports whether broker id's replica of tp cut its log to repair damage a
// fault did below o (in this incarnation).
func (d *dataInvariants) repairCut(id int32, tp TopicPartition, log disk.LogID, o int64) bool {
	if int(id) > len(d.replicas) {
		return false
	}
	reps := d.replicas[id-1]
	i := slices.IndexFunc(reps, func(r ReplicaView) bool { return r.Topic == tp.Topic && r.Partition == tp.Partition })
	return i >= 0 && reps[i].Repairs > 0 && d.w.faults.partDamage.overlaps(id, log, offRange{0, o})
}

// durableCopy is how the synced disk of one broker stands for checkDurable: whether it
// counts as holding the offsets, and the offset after its last good batch.
type durableCopy struct {
	id      int32
	state   copyState
	reached int64
}

type copyState uint8

const (
	copyHeld     copyState = iota
	copyDamaged            // short where a fault damaged a batch on it
	copyDeclared           // short where the leader declared the offsets lost
	copyShort
)

// describeCopies describes the copies holding the offsets and those short of them.
func describeCopies(copies []durableCopy) (holding, short []string) {
	for _, c := range copies {
		switch c.state {
		case copyHeld:
			holding = append(holding, fmt.Sprint(c.id))
		case copyDamaged:
			holding = append(holding, fmt.Sprintf("%d (damaged)", c.id))
		case copyDeclared:
			holding = append(holding, fmt.Sprintf("%d (declared lost from %d)", c.id, c.reached))
		default:
			short = append(short, fmt.Sprintf("%d (synced up to %d)", c.id, c.reached))
		}
	}
	return holding, short
}

// partitionLog returns the log of a partition, naming it once.
func (d *dataInvariants) partitionLog(tp TopicPartition) disk.LogID {
	log, ok := d.logs[tp]
	if !ok {
		log = disk.PartitionLog(tp.Topic, tp.Partition)
		d.logs[tp] = log
	}
	return log
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
