package partition

import (
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"

	"github.com/seedlog/seedlog/core/enc"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
)

// producerBatchesKept is how many recent batches are remembered per producer. Kafka
// clients keep at most five requests in flight with idempotence on, so a retry is always
// of one of the last five batches written, and at most five of a producer's batches are
// uncommitted at any time. One more is kept so that truncating those five (a follower
// cutting an uncommitted suffix) still leaves the producer's last committed sequence.
const producerBatchesKept = 6

// producerBatch is what is remembered of one batch of an idempotent producer.
// maxTimestamp is the batch's largest timestamp (ms), -1 when not known (a state
// restored from a version 1 snapshot).
type producerBatch struct {
	epoch             int16
	firstSeq, lastSeq int32
	base, last        int64
	maxTimestamp      int64
}

// producerEntry is the state of one producer id: its epoch and its latest batches,
// oldest first.
type producerEntry struct {
	id      int64
	epoch   int16
	batches [producerBatchesKept]producerBatch
	n       int
}

func (e *producerEntry) newest() *producerBatch { return &e.batches[e.n-1] }

func (e *producerEntry) push(b producerBatch) {
	if e.n == producerBatchesKept {
		copy(e.batches[:], e.batches[1:])
		e.n--
	}
	e.batches[e.n] = b
	e.n++
}

// dropFrom forgets the batches ending at or above offset and reports whether any batch
// is left; the epoch falls back to that of the newest one left.
func (e *producerEntry) dropFrom(offset int64) bool {
	for e.n > 0 && e.newest().last >= offset {
		e.n--
	}
	if e.n == 0 {
		return false
	}
	e.epoch = e.newest().epoch
	return true
}

// producerState tracks idempotent producers. It changes when batches are appended, on the
// leader and on followers alike, so a new leader has it at once.
type producerState struct {
	m   map[int64]*producerEntry
	max int
}

func newProducerState(maxProducers int) producerState {
	return producerState{m: map[int64]*producerEntry{}, max: maxProducers}
}

// seqVerdict is the leader's decision about an idempotent batch.
type seqVerdict uint8

const (
	seqAppend     seqVerdict = iota // in sequence (or from a producer not known)
	seqDuplicate                    // one of the last batches again: answer, do not append
	seqOlder                        // written before every batch remembered: DUPLICATE_SEQUENCE_NUMBER
	seqOutOfOrder                   // OUT_OF_ORDER_SEQUENCE_NUMBER
	seqOldEpoch                     // INVALID_PRODUCER_EPOCH
)

// lastSeqOf is the sequence of a batch's last record; sequences wrap from MaxInt32 to 0.
func lastSeqOf(h record.Header) int32 {
	d := h.LastOffsetDelta
	if h.BaseSequence > math.MaxInt32-d {
		return d - (math.MaxInt32 - h.BaseSequence) - 1
	}
	return h.BaseSequence + d
}

func inSequence(last, next int32) bool {
	return next == last+1 || (last == math.MaxInt32 && next == 0)
}

// check decides what to do with an idempotent batch (ProducerID >= 0). A producer the
// replica does not know must start at sequence 0. Kafka accepts any sequence there (the
// state may have gone with the log it described, through retention or DeleteRecords),
// but that lets a batch in ahead of an earlier one that failed, reordering the
// producer's records; seedlog answers OUT_OF_ORDER_SEQUENCE_NUMBER, on which Kafka
// clients take a new producer id or epoch and start again at 0.
func (p *producerState) check(h record.Header) (seqVerdict, producerBatch) {
	e := p.m[h.ProducerID]
	if e == nil {
		if h.BaseSequence != 0 {
			return seqOutOfOrder, producerBatch{}
		}
		return seqAppend, producerBatch{}
	}
	switch {
	case h.ProducerEpoch < e.epoch:
		return seqOldEpoch, producerBatch{}
	case h.ProducerEpoch > e.epoch:
		if h.BaseSequence != 0 {
			return seqOutOfOrder, producerBatch{}
		}
		return seqAppend, producerBatch{}
	}
	last := lastSeqOf(h)
	for i := 0; i < e.n; i++ {
		if b := e.batches[i]; b.epoch == h.ProducerEpoch && b.firstSeq == h.BaseSequence && b.lastSeq == last {
			return seqDuplicate, b
		}
	}
	if e.n == 0 || inSequence(e.newest().lastSeq, h.BaseSequence) {
		return seqAppend, producerBatch{}
	}
	// A leader appends a producer's batches of one epoch in sequence order only, so a
	// batch whose sequences all precede the oldest one remembered was written before it
	// (its own metadata is gone: pushed out, or deleted with the log it described).
	oldest := e.batches[0]
	if oldest.epoch == h.ProducerEpoch && h.BaseSequence <= last && last < oldest.firstSeq &&
		oldest.firstSeq <= e.newest().lastSeq {
		return seqOlder, oldest
	}
	return seqOutOfOrder, producerBatch{}
}

// apply records a batch appended at base (on a leader after check, on a follower as it
// comes). Non-idempotent batches and control batches leave no sequence behind.
func (p *producerState) apply(h record.Header, base int64) {
	if h.ProducerID < 0 {
		return
	}
	e := p.m[h.ProducerID]
	if e == nil {
		p.evictFor(1)
		e = &producerEntry{id: h.ProducerID, epoch: h.ProducerEpoch}
		p.m[h.ProducerID] = e
	}
	switch {
	case h.ProducerEpoch > e.epoch:
		e.epoch, e.n = h.ProducerEpoch, 0
	case h.ProducerEpoch < e.epoch:
		return
	}
	if h.IsControl() {
		return
	}
	if e.n > 0 && !inSequence(e.newest().lastSeq, h.BaseSequence) {
		// Batches in between are unknown here (replay could not see them: they lay
		// between a snapshot and a later log start). Older ones would mislead the
		// duplicate checks; only what follows can be vouched for.
		e.n = 0
	}
	e.push(producerBatch{epoch: h.ProducerEpoch, firstSeq: h.BaseSequence, lastSeq: lastSeqOf(h),
		base: base, last: base + int64(h.LastOffsetDelta), maxTimestamp: h.MaxTimestamp})
}

// evictFor makes room for n new producers by forgetting those whose newest batch is the
// oldest: a producer that wrote nothing for that long is not retrying anything.
func (p *producerState) evictFor(n int) {
	for len(p.m)+n > p.max && len(p.m) > 0 {
		var victim *producerEntry
		// order-independent: olderProducer is a total order (ties go by producer id), so the oldest is one producer whatever the order.
		for _, e := range p.m {
			if victim == nil || olderProducer(e, victim) {
				victim = e
			}
		}
		delete(p.m, victim.id)
	}
}

func olderProducer(a, b *producerEntry) bool {
	la, lb := int64(-1), int64(-1)
	if a.n > 0 {
		la = a.newest().last
	}
	if b.n > 0 {
		lb = b.newest().last
	}
	if la != lb {
		return la < lb
	}
	return a.id < b.id
}

// truncate forgets every batch at or above offset (the log was truncated there).
func (p *producerState) truncate(offset int64) {
	for id, e := range p.m {
		if !e.dropFrom(offset) {
			delete(p.m, id)
		}
	}
}

func (p *producerState) clear() { clear(p.m) }

func (p *producerState) sortedIDs() []int64 {
	ids := make([]int64, 0, len(p.m))
	for id := range p.m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Producer-state snapshot file layout (enc encoding): version (2), the offset it
// describes the log up to, the producers sorted by id, each with its epoch and batches
// (epoch, sequences, offsets, largest timestamp), then a CRC-32C of everything before
// it. Version 1, without the timestamps, still decodes.
const snapshotVersion = 2

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// encodeSnapshot encodes the state the log had below offset: batches at or above it are
// left out, so the snapshot is exact for every producer that wrote fewer than
// producerBatchesKept batches since offset.
func (p *producerState) encodeSnapshot(offset int64) []byte {
	var w enc.Writer
	w.U8(snapshotVersion)
	w.I64(offset)
	var entries []producerEntry
	for _, id := range p.sortedIDs() {
		e := *p.m[id]
		if e.dropFrom(offset) {
			entries = append(entries, e)
		}
	}
	w.Len(len(entries))
	for i := range entries {
		e := &entries[i]
		w.I64(e.id)
		w.I16(e.epoch)
		w.U8(uint8(e.n))
		for _, b := range e.batches[:e.n] {
			w.I16(b.epoch)
			w.I32(b.firstSeq)
			w.I32(b.lastSeq)
			w.I64(b.base)
			w.I64(b.last)
			w.I64(b.maxTimestamp)
		}
	}
	w.I32(int32(crc32.Checksum(w.B, crcTable)))
	return w.B
}

var errSnapshot = errors.New("partition: bad producer-state snapshot")

// snapshotProducerBytesMin is the smallest encoding of one producer.
const snapshotProducerBytesMin = 8 + 2 + 1

// decodeSnapshot reads a snapshot written by encodeSnapshot, checking its CRC and its
// fields, and returns the offset it describes.
func decodeSnapshot(b []byte, maxProducers int) (producerState, int64, error) {
	p := newProducerState(maxProducers)
	if len(b) < 4 {
		return p, 0, errSnapshot
	}
	body := b[:len(b)-4]
	r := enc.Reader{B: b[len(b)-4:]}
	if uint32(r.I32()) != crc32.Checksum(body, crcTable) {
		return p, 0, fmt.Errorf("%w: checksum", errSnapshot)
	}
	r = enc.Reader{B: body}
	v := r.U8()
	if v != 1 && v != snapshotVersion {
		return p, 0, fmt.Errorf("%w: version %d", errSnapshot, v)
	}
	offset := r.I64()
	n := r.Len(snapshotProducerBytesMin)
	for range n {
		e := &producerEntry{id: r.I64(), epoch: r.I16(), n: int(r.U8())}
		if e.n > producerBatchesKept || e.n == 0 {
			return p, 0, fmt.Errorf("%w: %d batches", errSnapshot, e.n)
		}
		for i := range e.n {
			e.batches[i] = producerBatch{epoch: r.I16(), firstSeq: r.I32(), lastSeq: r.I32(), base: r.I64(), last: r.I64(), maxTimestamp: -1}
			if v >= 2 {
				e.batches[i].maxTimestamp = r.I64()
			}
			if b := e.batches[i]; b.base > b.last || b.last >= offset {
				return p, 0, fmt.Errorf("%w: batch [%d, %d] at offset %d", errSnapshot, b.base, b.last, offset)
			}
		}
		if r.Err() != nil || p.m[e.id] != nil || e.id < 0 {
			return p, 0, fmt.Errorf("%w: producer %d", errSnapshot, e.id)
		}
		p.m[e.id] = e
	}
	if err := r.Done(); err != nil {
		return p, 0, fmt.Errorf("%w: %v", errSnapshot, err)
	}
	p.evictFor(0)
	return p, offset, nil
}

// ProducerInfo is one idempotent producer as a leader remembers it (DescribeProducers).
type ProducerInfo struct {
	ID            int64
	Epoch         int16
	LastSequence  int32
	LastTimestamp int64 // ms; -1 when not known
}

// Producers lists the idempotent producers the replica remembers, by id, when it leads
// and serves clients; otherwise the error a client gets.
func (r *Replica) Producers(now int64) ([]ProducerInfo, int16) {
	if r.dead() {
		return nil, CodeNotLeaderOrFollower
	}
	if code := r.clientGate(now, -1); code != CodeNone {
		return nil, code
	}
	out := make([]ProducerInfo, 0, len(r.producers.m))
	for _, id := range r.producers.sortedIDs() {
		e := r.producers.m[id]
		if e.n == 0 {
			continue
		}
		b := e.newest()
		last := b.lastSeq
		if r.on(plant.DescribeProducersFirstSeq) {
			last = b.firstSeq
		}
		out = append(out, ProducerInfo{ID: id, Epoch: e.epoch, LastSequence: last, LastTimestamp: b.maxTimestamp})
	}
	return out, CodeNone
}
