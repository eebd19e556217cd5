package partition

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/record"
)

// memDisk is a model of one node's disk for tests: logs as lists of whole batches with a
// durable prefix, small files, leader-epoch checkpoints. Ops take effect when executed;
// a crash keeps the durable prefix of each log and a random part of what follows it.
type memDisk struct {
	logs  map[disk.LogID]*memLog
	files map[string][]byte
	// scanAtRecovery makes recovery find damaged batches (as a scan of their segment
	// would) and fence them; otherwise only a read meets them.
	scanAtRecovery bool
	// abortedLostFrom, when at least 0, makes the next recovery find the aborted-
	// transactions index damaged from that offset: the entries from there are gone.
	abortedLostFrom int64
}

type memLog struct {
	start   int64
	batches []memBatch
	synced  int // batches[:synced] are durable
	epochs  []disk.EpochEntry
}

type memBatch struct {
	base, next int64
	maxTS      int64
	epoch      int32
	data       []byte
	sum        uint64
	// damaged: the bytes fail validation (not found yet); fenced: the range is a fence
	// of that kind, with no data.
	damaged bool
	fenced  disk.FenceKind
	// aborted is the aborted-transactions index entry of the abort marker this batch
	// is, if any: it lives and goes with the batch.
	aborted *disk.AbortedTxn
}

func newMemDisk() *memDisk {
	return &memDisk{logs: map[disk.LogID]*memLog{}, files: map[string][]byte{}, abortedLostFrom: -1}
}

func (l *memLog) end() int64 {
	if n := len(l.batches); n > 0 {
		return l.batches[n-1].next
	}
	return l.start
}

var errMem = errors.New("memdisk")

func (d *memDisk) exec(op disk.Op) disk.Done {
	done := disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log}
	l := d.logs[op.Log]
	needLog := op.Kind != disk.CreateLog && op.Kind != disk.WriteFile && op.Kind != disk.RemoveFile
	if needLog && l == nil {
		done.Err = fmt.Errorf("%w: no log %s", errMem, op.Log)
		return done
	}
	switch op.Kind {
	case disk.CreateLog:
		d.logs[op.Log] = &memLog{start: op.Offset}
	case disk.Append:
		done.Err = l.append(op)
	case disk.Sync:
		l.synced = len(l.batches)
	case disk.Truncate:
		if op.Offset < l.start {
			done.Err = fmt.Errorf("%w: truncate to %d below start %d", errMem, op.Offset, l.start)
			break
		}
		done.Aborted = l.abortedIn(op.Offset, op.Offset)
		n := len(l.batches)
		for n > 0 && l.batches[n-1].next > op.Offset {
			n--
		}
		var cut *memBatch
		if n < len(l.batches) && l.batches[n].fenced != 0 && l.batches[n].base < op.Offset {
			b := l.batches[n]
			b.next = op.Offset // a fence holding the offset is cut there
			cut = &b
		}
		l.batches = l.batches[:n]
		l.synced = min(l.synced, n)
		if cut != nil {
			l.batches = append(l.batches, *cut)
			if l.synced == n {
				l.synced++
			}
		}
	case disk.Reset:
		l.batches, l.synced, l.start = nil, 0, op.Offset
	case disk.DeleteBelow:
		if op.Offset > l.end() {
			done.Err = fmt.Errorf("%w: delete below %d past end %d", errMem, op.Offset, l.end())
			break
		}
		l.deleteBelow(op.Offset)
	case disk.Read:
		done.Data, done.Offset, done.Corrupt, done.Fences, done.Err = l.read(op)
		if op.ListAborted && done.Err == nil {
			end, _ := record.BatchesEnd(done.Data)
			done.Aborted = l.abortedIn(op.Offset, max(end, op.Offset))
		}
	case disk.SetAborted:
		for i := range l.batches {
			if l.batches[i].base >= op.Offset {
				l.batches[i].aborted = nil
			}
		}
		for _, a := range op.Aborted {
			if i := l.batchAt(a.MarkerOffset); i < 0 || a.MarkerOffset < op.Offset {
				done.Err = fmt.Errorf("%w: set aborted %+v from %d: no marker there", errMem, a, op.Offset)
			} else {
				l.batches[i].aborted = &a
			}
		}
	case disk.FindTime:
		done.Offset, done.Timestamp = -1, -1
		for _, b := range l.batches {
			if b.base >= op.MaxOffset {
				break
			}
			if b.maxTS >= op.Offset {
				done.Offset, done.Timestamp = max(b.base, l.start), b.maxTS
				break
			}
		}
	case disk.FindMaxTime:
		// At batch granularity: the first batch carrying the largest max timestamp.
		done.Offset, done.Timestamp = -1, -1
		for _, b := range l.batches {
			if b.base >= op.MaxOffset {
				break
			}
			if b.maxTS > done.Timestamp {
				done.Offset, done.Timestamp = max(b.base, l.start), b.maxTS
			}
		}
	case disk.Retain:
		l.retain(op)
		done.Offset = l.start
	case disk.CheckDamage:
		done.Fences = l.fenceDamaged()
	case disk.Skip:
		if op.Offset != l.end() || op.MaxOffset <= op.Offset {
			done.Err = fmt.Errorf("%w: skip %d->%d, log ends at %d", errMem, op.Offset, op.MaxOffset, l.end())
			break
		}
		l.batches = append(l.batches, memBatch{base: op.Offset, next: op.MaxOffset, fenced: disk.FenceLost})
		l.synced = len(l.batches)
	case disk.LeaderEpochs:
		l.epochs = slices.Clone(op.Epochs)
	case disk.WriteFile:
		d.files[op.Name] = slices.Clone(op.Data)
	case disk.RemoveFile:
		delete(d.files, op.Name)
	default:
		done.Err = fmt.Errorf("%w: op %s", errMem, op.Kind)
	}
	return done
}

// abortedIn lists the index entries whose range overlaps [from, to) (with to == from,
// those a cut at from splits).
func (l *memLog) abortedIn(from, to int64) []disk.AbortedTxn {
	var out []disk.AbortedTxn
	for _, b := range l.batches {
		if a := b.aborted; a != nil && a.MarkerOffset >= from && a.FirstOffset < to {
			out = append(out, *a)
		}
	}
	return out
}

// batchAt is the index of the batch holding offset, or -1.
func (l *memLog) batchAt(offset int64) int {
	for i, b := range l.batches {
		if b.base <= offset && offset < b.next {
			return i
		}
	}
	return -1
}

func (l *memLog) append(op disk.Op) error {
	if op.Offset != l.end() {
		return fmt.Errorf("%w: append at %d, log ends at %d", errMem, op.Offset, l.end())
	}
	next := op.Offset
	var add []memBatch
	_, err := record.Split(op.Data, func(h record.Header, b []byte) error {
		if h.BaseOffset != next {
			return fmt.Errorf("%w: batch at %d, expected %d", errMem, h.BaseOffset, next)
		}
		next = h.NextOffset()
		add = append(add, memBatch{base: h.BaseOffset, next: next, maxTS: h.MaxTimestamp,
			epoch: h.PartitionLeaderEpoch, data: slices.Clone(b), sum: batchSum(b)})
		return nil
	})
	if err != nil {
		return err
	}
	l.batches = append(l.batches, add...)
	for _, a := range op.Aborted {
		i := l.batchAt(a.MarkerOffset)
		if i < len(l.batches)-len(add) {
			return fmt.Errorf("%w: aborted %+v outside the append", errMem, a)
		}
		l.batches[i].aborted = &a
	}
	return nil
}

func (l *memLog) deleteBelow(offset int64) {
	if offset <= l.start {
		return
	}
	l.start = offset
	n := 0
	for n < len(l.batches) && l.batches[n].next <= offset {
		n++
	}
	l.batches = l.batches[n:]
	l.synced = max(l.synced-n, 0)
}

func (l *memLog) read(op disk.Op) ([]byte, int64, bool, []disk.Fence, error) {
	if op.Offset < l.start || op.Offset > l.end() {
		return nil, l.start, false, nil, fmt.Errorf("%w: read at %d, log spans [%d, %d]", errMem, op.Offset, l.start, l.end())
	}
	var out []byte
	for _, b := range l.batches {
		if b.next <= op.Offset {
			continue
		}
		if b.base >= op.MaxOffset || (len(out) > 0 && len(out)+len(b.data) > int(op.MaxBytes)) {
			break
		}
		switch {
		case b.fenced != 0 && len(out) == 0:
			f := disk.Fence{From: b.base, To: b.next, Kind: b.fenced}
			return nil, l.start, false, []disk.Fence{f}, fmt.Errorf("%w: read at %d in fence %v", errMem, op.Offset, f)
		case b.damaged && len(out) == 0:
			return nil, l.start, true, nil, fmt.Errorf("%w: batch at %d fails its CRC", errMem, b.base)
		case b.fenced != 0 || b.damaged:
			return out, l.start, false, nil, nil
		}
		out = append(out, b.data...)
	}
	return out, l.start, false, nil, nil
}

// fenceDamaged turns the damaged batches into damaged fences and returns them.
func (l *memLog) fenceDamaged() []disk.Fence {
	var out []disk.Fence
	for i := range l.batches {
		if b := &l.batches[i]; b.damaged {
			b.damaged, b.fenced, b.data = false, disk.FenceDamaged, nil
			out = append(out, disk.Fence{From: b.base, To: b.next, Kind: disk.FenceDamaged})
		}
	}
	return out
}

// fences returns the log's fences, merged as storage merges them.
func (l *memLog) fences() []disk.Fence {
	var out []disk.Fence
	for _, b := range l.batches {
		if b.fenced == 0 {
			continue
		}
		if n := len(out); n > 0 && out[n-1].To == b.base {
			if b.fenced == disk.FenceDamaged {
				out[n-1].Kind = disk.FenceDamaged
			}
			out[n-1].To = b.next
			continue
		}
		out = append(out, disk.Fence{From: b.base, To: b.next, Kind: b.fenced})
	}
	return out
}

// damage makes the batch of log id holding offset fail validation, as bytes decayed at
// rest would.
func (d *memDisk) damage(id disk.LogID, offset int64) {
	for i := range d.logs[id].batches {
		if b := &d.logs[id].batches[i]; b.base <= offset && offset < b.next {
			b.damaged = true
			return
		}
	}
	panic(fmt.Sprintf("no batch at %d", offset))
}

func (l *memLog) retain(op disk.Op) {
	cut := l.start
	var size int64
	for _, b := range l.batches {
		size += int64(len(b.data))
	}
	for _, b := range l.batches {
		if b.next > op.MaxOffset {
			break
		}
		old := op.Retention.Ms >= 0 && b.maxTS < op.Retention.NowMs-op.Retention.Ms
		big := op.Retention.Bytes >= 0 && size > op.Retention.Bytes
		if !old && !big {
			break
		}
		size -= int64(len(b.data))
		cut = b.next
	}
	l.deleteBelow(cut)
}

// crash keeps each log's durable prefix and a random number of the batches after it.
func (d *memDisk) crash(rng *rand.Rand) {
	for _, l := range d.logs {
		keep := l.synced
		if extra := len(l.batches) - l.synced; extra > 0 {
			keep += rng.IntN(extra + 1)
		}
		l.batches = l.batches[:keep]
		l.synced = keep
	}
}

// recovered is what recovery reports for log id, and the files.
func (d *memDisk) recovered(id disk.LogID) (disk.LogState, map[string][]byte) {
	l := d.logs[id]
	if l == nil {
		return disk.LogState{}, d.files
	}
	l.synced = len(l.batches)
	var now []disk.Fence
	if d.scanAtRecovery {
		now = l.fenceDamaged()
	}
	st := disk.LogState{ID: id, StartOffset: l.start, EndOffset: l.end(), Epochs: slices.Clone(l.epochs),
		Fences: l.fences(), FencedNow: now}
	if d.abortedLostFrom >= 0 {
		for i := range l.batches {
			if a := l.batches[i].aborted; a != nil && a.MarkerOffset >= d.abortedLostFrom {
				l.batches[i].aborted = nil
			}
		}
		st.AbortedCut, st.AbortedCutOffset, st.AbortedCutReason = true, d.abortedLostFrom, "a test lost them"
		d.abortedLostFrom = -1
	}
	return st, d.files
}
