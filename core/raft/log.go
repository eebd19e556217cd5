package raft

import (
	"fmt"
	"sort"
)

// memLog is the metadata log held in memory, as whole batches, from its start offset to
// its end. A snapshot covers everything below start.
type memLog struct {
	start int64
	// startEpoch is the epoch of the entry at start-1: the snapshot's epoch, or 0 for a
	// log that starts at 0. -1 while unknown (only during recovery).
	startEpoch int32
	// batches are dense: batches[0].base == start, batches[i].next == batches[i+1].base,
	// and their epochs never decrease.
	batches []logBatch
	// epochs lists, for each epoch present in batches, the offset of its first batch;
	// epochs strictly increase.
	epochs []epochStart
}

type logBatch struct {
	base, next int64
	epoch      int32
	data       []byte
}

type epochStart struct {
	epoch  int32
	offset int64
}

func newMemLog(start int64, startEpoch int32) memLog {
	return memLog{start: start, startEpoch: startEpoch}
}

func (l *memLog) end() int64 {
	if n := len(l.batches); n > 0 {
		return l.batches[n-1].next
	}
	return l.start
}

// lastEpoch is the epoch of the last entry (startEpoch when no batch is held).
func (l *memLog) lastEpoch() int32 {
	if n := len(l.batches); n > 0 {
		return l.batches[n-1].epoch
	}
	return l.startEpoch
}

func (l *memLog) append(b logBatch) {
	if b.base != l.end() || b.next <= b.base {
		panic(fmt.Sprintf("raft: appending batch [%d,%d) to a log ending at %d", b.base, b.next, l.end()))
	}
	if b.epoch < l.lastEpoch() {
		panic(fmt.Sprintf("raft: appending epoch %d after epoch %d", b.epoch, l.lastEpoch()))
	}
	if n := len(l.epochs); n == 0 || l.epochs[n-1].epoch < b.epoch {
		l.epochs = append(l.epochs, epochStart{b.epoch, b.base})
	}
	l.batches = append(l.batches, b)
}

// find returns the index of the batch holding offset o, or -1.
func (l *memLog) find(o int64) int {
	i := sort.Search(len(l.batches), func(i int) bool { return l.batches[i].next > o })
	if i == len(l.batches) || l.batches[i].base > o {
		return -1
	}
	return i
}

// isBoundary reports whether o is start, end or the base of a held batch.
func (l *memLog) isBoundary(o int64) bool {
	if o == l.start || o == l.end() {
		return true
	}
	i := l.find(o)
	return i >= 0 && l.batches[i].base == o
}

// epochBefore is the epoch of the entry at o-1, or -1 when it is not known (below the
// snapshot, or beyond the end).
func (l *memLog) epochBefore(o int64) int32 {
	if o == l.start {
		return l.startEpoch
	}
	i := l.find(o - 1)
	if i < 0 {
		return -1
	}
	return l.batches[i].epoch
}

// endOfEpoch finds the largest epoch <= e that this log knows and the offset where it
// ends (the first offset of the next epoch, or the log end). ok is false when e is below
// every epoch known, i.e. below the snapshot.
func (l *memLog) endOfEpoch(e int32) (epoch int32, end int64, ok bool) {
	i := sort.Search(len(l.epochs), func(i int) bool { return l.epochs[i].epoch > e })
	if i > 0 {
		end = l.end()
		if i < len(l.epochs) {
			end = l.epochs[i].offset
		}
		return l.epochs[i-1].epoch, end, true
	}
	if l.startEpoch >= 0 && l.startEpoch <= e {
		end = l.end()
		if len(l.epochs) > 0 {
			end = l.epochs[0].offset
		}
		return l.startEpoch, end, true
	}
	return 0, 0, false
}

// truncate removes every batch at or above o, which must be a batch boundary at or above
// start.
func (l *memLog) truncate(o int64) {
	if o < l.start || o > l.end() || !l.isBoundary(o) {
		panic(fmt.Sprintf("raft: truncating at %d, not a batch boundary of [%d,%d)", o, l.start, l.end()))
	}
	i := sort.Search(len(l.batches), func(i int) bool { return l.batches[i].base >= o })
	clear(l.batches[i:])
	l.batches = l.batches[:i]
	for n := len(l.epochs); n > 0 && l.epochs[n-1].offset >= o; n-- {
		l.epochs = l.epochs[:n-1]
	}
}

// reset empties the log and restarts it at o, after a snapshot of epoch e.
func (l *memLog) reset(o int64, e int32) {
	*l = memLog{start: o, startEpoch: e}
}

// deleteBelow drops the batches below o, a batch boundary in [start, end].
func (l *memLog) deleteBelow(o int64) {
	if o < l.start || o > l.end() || !l.isBoundary(o) {
		panic(fmt.Sprintf("raft: deleting below %d, not a batch boundary of [%d,%d)", o, l.start, l.end()))
	}
	l.startEpoch = l.epochBefore(o)
	i := sort.Search(len(l.batches), func(i int) bool { return l.batches[i].base >= o })
	l.batches = append([]logBatch(nil), l.batches[i:]...)
	l.start = o
	l.epochs = nil
	for _, b := range l.batches {
		if n := len(l.epochs); n == 0 || l.epochs[n-1].epoch < b.epoch {
			l.epochs = append(l.epochs, epochStart{b.epoch, b.base})
		}
	}
}

// slice returns whole batches from the one holding from, at most bytesMax bytes except
// that the first batch is always whole, and the offset after the last of them (from
// when there are none).
func (l *memLog) slice(from int64, bytesMax int) ([]byte, int64) {
	i := l.find(from)
	if i < 0 {
		return nil, from
	}
	var out []byte
	next := from
	for ; i < len(l.batches); i++ {
		d := l.batches[i].data
		if len(out) > 0 && len(out)+len(d) > bytesMax {
			break
		}
		out = append(out, d...)
		next = l.batches[i].next
	}
	return out, next
}

// bytesFrom sums the sizes of the batches at or above o.
func (l *memLog) bytesFrom(o int64) int {
	n := 0
	for i := len(l.batches) - 1; i >= 0 && l.batches[i].base >= o; i-- {
		n += len(l.batches[i].data)
	}
	return n
}
