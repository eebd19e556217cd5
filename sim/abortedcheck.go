package sim

import (
	"slices"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/record"
)

// The aborted-transactions index check (part of the replicas checker): at the end of a
// run, every up replica's log below its high watermark is read back from its node's disk
// with the aborted transactions the disk lists for each read (the lookup a read_committed
// fetch makes), and those are compared with the aborts the batches themselves show: a
// transaction of a producer begins at its first transactional batch after its previous
// marker (batches of an older epoch are ignored, as partitions ignore them) and an abort
// marker ends it. A read must be told exactly the aborted transactions whose range, first
// batch to marker, overlaps what it returned. A transaction that began below the log
// start may be listed with any first offset, or not at all (a replica that copied the
// log from its start never saw it begin), and one with no batch at or above the start
// may be listed by a replica that saw it. Logs with fenced ranges or damage nobody read
// are skipped: the batches there are unknown.

// truthTxn is an aborted transaction the batches show; firstKnown is false when it began
// below the log start read.
type truthTxn struct {
	pid, first, marker int64
	firstKnown         bool
}

// abortTruth follows the transactions of a log's batches in order, from start.
type abortTruth struct {
	start   int64
	epochs  map[int64]int16
	open    map[int64]int64 // producer -> first offset (-1: may have begun below start)
	ended   map[int64]bool  // producers with a marker read: their next begins where seen
	aborted []truthTxn
}

func (a *abortTruth) batch(h record.Header, b []byte) {
	if h.ProducerID < 0 || !h.IsTransactional() {
		return
	}
	if e, ok := a.epochs[h.ProducerID]; ok && h.ProducerEpoch < e {
		return
	}
	a.epochs[h.ProducerID] = h.ProducerEpoch
	first, open := a.open[h.ProducerID]
	if !h.IsControl() {
		if !open {
			a.open[h.ProducerID] = h.BaseOffset
			if a.start > 0 && !a.ended[h.ProducerID] {
				// Its first batch may lie below the start.
				a.open[h.ProducerID] = -1
			}
		}
		return
	}
	commit, ok := markerKind(b)
	if !ok {
		return
	}
	a.ended[h.ProducerID] = true
	if !open {
		return
	}
	delete(a.open, h.ProducerID)
	if !commit {
		a.aborted = append(a.aborted, truthTxn{pid: h.ProducerID, first: first, marker: h.BaseOffset, firstKnown: first >= 0})
	}
}

// markerKind reads a control batch's marker: commit or abort, ok false for anything else.
func markerKind(b []byte) (commit, ok bool) {
	it, err := record.NewIter(b, 1<<16)
	if err != nil || !it.Next() {
		return false, false
	}
	k, err := record.ParseControlKey(it.Record().Key)
	if err != nil || (k.Type != record.ControlAbort && k.Type != record.ControlCommit) {
		return false, false
	}
	return k.Type == record.ControlCommit, true
}

// checkAbortedIndex checks what node n's disk lists of tp's aborted transactions below
// the replica's high watermark.
func (c *checkers) checkAbortedIndex(n *simNode, r ReplicaView, tp TopicPartition) bool {
	w := c.w
	id := disk.PartitionLog(r.Topic, r.Partition)
	if x := executorOf(n.exec); x == nil || len(x.Fences(id)) > 0 || w.faults.partDamage.overlaps(n.spec.ID, id, offRange{r.Start, r.HW}) {
		return true
	}
	truth := &abortTruth{start: r.Start, epochs: map[int64]int16{}, open: map[int64]int64{}, ended: map[int64]bool{}}
	type read struct {
		from, to int64
		listed   []disk.AbortedTxn
	}
	var reads []read
	for at := r.Start; at < r.HW; {
		d := n.exec.DoAll([]disk.Op{{Kind: disk.Read, Log: id, Offset: at, MaxOffset: r.HW, MaxBytes: 1 << 16, ListAborted: true}})[0]
		if d.Err != nil {
			return true // the replicas check reports what cannot be read
		}
		next := at
		if _, err := record.Split(d.Data, func(h record.Header, b []byte) error {
			truth.batch(h, b)
			next = h.NextOffset()
			return nil
		}); err != nil || next <= at {
			return true
		}
		reads = append(reads, read{at, next, d.Aborted})
		at = next
	}
	for _, rd := range reads {
		var want []truthTxn
		for _, t := range truth.aborted {
			if t.marker >= rd.from && (!t.firstKnown || t.first < rd.to) {
				want = append(want, t)
			}
		}
		got := slices.Clone(rd.listed)
		for _, t := range want {
			i := slices.IndexFunc(got, func(a disk.AbortedTxn) bool {
				return a.ProducerID == t.pid && a.MarkerOffset == t.marker && (!t.firstKnown || a.FirstOffset == t.first)
			})
			switch {
			case i >= 0:
				got = slices.Delete(got, i, i+1)
			case t.firstKnown:
				w.fail("replicas", n.spec.ID, "node %d's disk does not list the abort of producer %d's transaction [%d, %d] of %s to a read of [%d, %d); it lists %v",
					n.spec.ID, t.pid, t.first, t.marker, tp, rd.from, rd.to, rd.listed)
				return false
			}
		}
		// One that began below the start and left no batch after it: only a replica that
		// saw it begin lists it.
		got = slices.DeleteFunc(got, func(a disk.AbortedTxn) bool { return a.FirstOffset < r.Start })
		if len(got) > 0 {
			w.fail("replicas", n.spec.ID, "node %d's disk lists aborts %v of %s to a read of [%d, %d) that the batches do not show", n.spec.ID, got, tp, rd.from, rd.to)
			return false
		}
		if len(rd.listed) > 0 {
			w.cov.Inc("check:aborted-index")
		}
	}
	return true
}
