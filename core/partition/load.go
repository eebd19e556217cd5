package partition

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
)

// loader rebuilds the producer state after start-up by replaying the batch headers of
// the log after the newest snapshot. Replaying also completes the leader-epoch cache:
// its checkpoint may miss the epochs of the newest batches if the node stopped between
// the two writes.
type loader struct {
	next, end     int64
	epochsChanged bool
	// waitCheck: a replay read failed validation; read again once CheckDamage is done.
	waitCheck bool
	// from is where the replay of the producer state starts (the snapshot offset, or the
	// log start); the aborted-transactions index is listed again from there. Below it,
	// when the index lost entries the snapshot covers, collect replays the batches from
	// the log start on a state of its own, only to list their aborts again.
	from    int64
	collect *producerState
	// repair: recovery found the index damaged; the disk rewrites it only once told
	// the aborts, even none.
	repair bool
}

// startLoading replays the log after the producer-state snapshot snap. st says whether
// recovery found the log's aborted-transactions index damaged.
func (r *Replica) startLoading(now int64, snap []byte, st disk.LogState) {
	from := r.startOffset
	if snap != nil {
		p, off, err := decodeSnapshot(snap, r.cfg.ProducersMax)
		switch {
		case err != nil:
			r.note("snapshot-ignored", "%v", err)
		case off > r.leo:
			r.note("snapshot-ignored", "snapshot at %d is past the log end %d", off, r.leo)
		case r.leo > r.startOffset && (len(r.epochs) == 0 || r.epochs[0].StartOffset > r.startOffset):
			// The epoch checkpoint was lost, or it was cut for a log start that never
			// became durable (the DeleteBelow that moved it failed after the checkpoint
			// was written): rebuild it, and the producers, from the start.
		default:
			r.producers = p
			from = max(off, r.startOffset)
			r.snapOffset = off
		}
	}
	l := &loader{next: from, end: r.leo, from: from, repair: st.AbortedCut}
	if st.AbortedCut && st.AbortedCutOffset < from && !r.on(plant.AbortedIndexDamageIgnored) {
		r.note("aborted-index-damaged", "the aborted-transactions index may lack entries from offset %d (%s): listing the aborts again from the log start %d",
			st.AbortedCutOffset, st.AbortedCutReason, r.startOffset)
		collect := newProducerState(r.cfg.ProducersMax)
		l.next, l.collect = r.startOffset, &collect
	}
	if l.next >= r.leo {
		r.setAborted(from, nil, l.repair)
		return
	}
	r.loading = l
	r.note("loading", "replaying [%d, %d) for producer state", l.next, r.leo)
	r.emitLoadRead()
}

// setAborted hands the disk the aborted transactions a replay from offset from listed
// (those below it are durable in its index), with those a version-3 snapshot held;
// with repair, even none.
func (r *Replica) setAborted(from int64, collected []disk.AbortedTxn, repair bool) {
	entries := append(collected, r.producers.takeAborted()...)
	slices.SortStableFunc(entries, func(a, b disk.AbortedTxn) int { return cmp.Compare(a.MarkerOffset, b.MarkerOffset) })
	entries = slices.CompactFunc(entries, func(a, b disk.AbortedTxn) bool { return a.MarkerOffset == b.MarkerOffset })
	entries = slices.DeleteFunc(entries, func(a disk.AbortedTxn) bool { return a.MarkerOffset < r.startOffset })
	if len(entries) == 0 && !repair {
		// Recovery kept no entry for a marker the log no longer holds, and the replay
		// met none: the index is whole.
		return
	}
	if len(entries) > 0 {
		from = min(from, entries[0].MarkerOffset)
	}
	from = min(from, r.leo)
	r.emit(disk.Op{Kind: disk.SetAborted, Offset: from, Aborted: entries}, pendingOp{})
}

func (r *Replica) emitLoadRead() {
	l := r.loading
	r.emit(disk.Op{Kind: disk.Read, Offset: l.next, MaxOffset: l.end, MaxBytes: r.cfg.ReplayBytesMax},
		pendingOp{purpose: opLoadRead, truncs: r.truncs})
}

func (r *Replica) loadReadDone(now int64, p pendingOp, d disk.Done) {
	l := r.loading
	switch {
	case d.Err != nil && len(d.Fences) > 0 && d.Fences[0].Contains(l.next):
		// Nothing to replay in a fenced range: go on after it.
		r.fenceMet(p, d.Fences)
		l.next = d.Fences[0].To
		if l.next >= l.end {
			r.finishLoading(now)
			return
		}
		r.emitLoadRead()
		return
	case d.Err != nil && d.Corrupt:
		l.waitCheck = true
		r.checkDamage(l.next)
		return
	case d.Err != nil:
		r.fail(fmt.Errorf("partition %s: replay read at %d: %w", r.log, l.next, d.Err))
		return
	}
	progressed := false
	for pos := 0; pos < len(d.Data); {
		h, err := record.ParseHeader(d.Data[pos:])
		if err == nil && len(d.Data)-pos < h.Size() {
			err = record.ErrShort
		}
		if err != nil {
			r.fail(fmt.Errorf("partition %s: replay at %d: %w", r.log, l.next, err))
			return
		}
		batch := d.Data[pos : pos+h.Size()]
		pos += h.Size()
		if h.NextOffset() <= l.next {
			continue
		}
		if l.collect != nil && h.BaseOffset < l.from {
			l.collect.applyBatch(h, h.BaseOffset, batch)
			l.next = h.NextOffset()
			progressed = true
			continue
		}
		r.replay(h, batch)
		l.next = h.NextOffset()
		progressed = true
	}
	if l.next >= l.end {
		r.finishLoading(now)
		return
	}
	if !progressed {
		r.fail(fmt.Errorf("partition %s: replay made no progress at %d of %d", r.log, l.next, l.end))
		return
	}
	r.emitLoadRead()
}

func (r *Replica) replay(h record.Header, batch []byte) {
	r.appendedSinceSnap += len(batch)
	r.producers.applyBatch(h, h.BaseOffset, batch)
	r.tail.add(h.BaseOffset, h.NextOffset(), h.Size())
	e := h.PartitionLeaderEpoch
	at := max(h.BaseOffset, r.startOffset) // the log may start inside its first batch
	switch {
	case e > r.epochs.latest():
		// An older epoch the checkpoint names at this very offset wrote nothing: it
		// goes (assign cuts entries from at), as on a follower that fetched this batch.
		r.epochs, _, _ = r.epochs.assign(e, at)
	case e == r.epochs.epochAt(at):
		return
	default:
		// The checkpoint disagrees with the log: the log wins.
		r.note("epoch-cache-repaired", "batch at %d has epoch %d, checkpoint says %d", at, e, r.epochs.epochAt(at))
		c := r.epochs
		for n := len(c); n > 0 && (c[n-1].Epoch > e || c[n-1].StartOffset > at); n = len(c) {
			c = c[:n-1]
		}
		if n := len(c); n == 0 || c[n-1].Epoch != e {
			// An entry of the batch's own epoch starting below it is kept: the entries
			// after it were what disagreed.
			c = append(c, disk.EpochEntry{Epoch: e, StartOffset: at})
		}
		r.epochs = c
	}
	r.loading.epochsChanged = true
}

func (r *Replica) finishLoading(now int64) {
	if r.loading.epochsChanged {
		r.persistEpochs()
	}
	var collected []disk.AbortedTxn
	from := r.loading.from
	if c := r.loading.collect; c != nil {
		collected, from = c.takeAborted(), r.startOffset
	}
	r.setAborted(from, collected, r.loading.repair)
	r.loading = nil
	r.note("loaded", "%d producers", len(r.producers.m))
	r.applyState(now)
}

// maybeSnapshot writes the producer state as of the smaller of the high watermark and
// the durable offset: below both, no truncation should ever reach in normal operation.
func (r *Replica) maybeSnapshot() {
	if r.loading != nil {
		return
	}
	if off := min(r.hw, r.durable); off > r.snapOffset && off >= r.startOffset {
		r.writeSnapshot(off)
	}
}

func (r *Replica) writeSnapshot(off int64) {
	r.snapOffset, r.appendedSinceSnap = off, 0
	r.emit(disk.Op{Kind: disk.WriteFile, Name: r.snapName, Data: r.producers.encodeSnapshot(off)}, pendingOp{})
}
