package partition

import "math"

// tailIndex remembers the offsets and sizes of the most recent batches, up to a bound, so
// a long-polling fetch can tell whether enough bytes are readable without reading them.
// Older batches are forgotten; a range reaching below the oldest one remembered is
// assumed to hold enough.
type tailIndex struct {
	// ring grows as batches come, up to max entries, and then wraps: most replicas never
	// hold max batches, and a replica is created at every start of its node.
	ring  []tailBatch
	max   int
	head  int // index of the oldest entry; 0 until ring wraps
	count int
}

type tailBatch struct {
	base, next int64
	size       int32
}

func newTailIndex(n int) tailIndex { return tailIndex{max: n} }

func (t *tailIndex) at(i int) *tailBatch { return &t.ring[(t.head+i)%len(t.ring)] }

func (t *tailIndex) add(base, next int64, size int) {
	switch {
	case t.count < len(t.ring):
	case len(t.ring) < t.max:
		t.ring = append(t.ring, tailBatch{}) // head is 0: the ring has not wrapped
	default:
		t.head = (t.head + 1) % len(t.ring)
		t.count--
	}
	*t.at(t.count) = tailBatch{base: base, next: next, size: int32(min(size, math.MaxInt32))}
	t.count++
}

// truncate forgets batches at or above offset.
func (t *tailIndex) truncate(offset int64) {
	for t.count > 0 && t.at(t.count-1).base >= offset {
		t.count--
	}
}

func (t *tailIndex) reset() { t.head, t.count = 0, 0 }

// bytesBetween estimates the bytes a read of [from, to) returns: exact when every batch
// in the range is remembered, math.MaxInt64 when the range reaches below the oldest
// remembered batch.
func (t *tailIndex) bytesBetween(from, to int64) int64 {
	if from >= to {
		return 0
	}
	if t.count == 0 || from < t.at(0).base {
		return math.MaxInt64
	}
	var n int64
	for i := t.count - 1; i >= 0; i-- {
		b := t.at(i)
		if b.next <= from {
			break
		}
		if b.base < to {
			n += int64(b.size)
		}
	}
	return n
}
