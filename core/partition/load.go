package partition

import (
	"fmt"

	"github.com/seedlog/seedlog/core/disk"
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
}

func (r *Replica) startLoading(now int64, snap []byte) {
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
			r.producers.trimAborted(r.startOffset)
			from = max(off, r.startOffset)
			r.snapOffset = off
		}
	}
	if from >= r.leo {
		return
	}
	r.loading = &loader{next: from, end: r.leo}
	r.note("loading", "replaying [%d, %d) for producer state", from, r.leo)
	r.emitLoadRead()
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
	r.producers.applyBatch(h, h.BaseOffset, batch)
	r.tail.add(h.BaseOffset, h.NextOffset(), h.Size())
	e := h.PartitionLeaderEpoch
	at := max(h.BaseOffset, r.startOffset) // the log may start inside its first batch
	switch {
	case e > r.epochs.latest():
		r.epochs = append(r.epochs, disk.EpochEntry{Epoch: e, StartOffset: at})
	case e == r.epochs.epochAt(at):
		return
	default:
		// The checkpoint disagrees with the log: the log wins.
		r.note("epoch-cache-repaired", "batch at %d has epoch %d, checkpoint says %d", at, e, r.epochs.epochAt(at))
		c := r.epochs
		for n := len(c); n > 0 && (c[n-1].Epoch >= e || c[n-1].StartOffset > at); n = len(c) {
			c = c[:n-1]
		}
		r.epochs = append(c, disk.EpochEntry{Epoch: e, StartOffset: at})
	}
	r.loading.epochsChanged = true
}

func (r *Replica) finishLoading(now int64) {
	if r.loading.epochsChanged {
		r.persistEpochs()
	}
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
	r.snapOffset = off
	r.emit(disk.Op{Kind: disk.WriteFile, Name: r.snapName, Data: r.producers.encodeSnapshot(off, r.startOffset)}, pendingOp{})
}
