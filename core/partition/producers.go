package partition

import (
	"cmp"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"

	"github.com/seedlog/seedlog/core/disk"
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

// producerEntry is the state of one producer id: its epoch, its latest batches, oldest
// first, and where it stands in transactions.
type producerEntry struct {
	id      int64
	epoch   int16
	batches [producerBatchesKept]producerBatch
	n       int
	// txnFirst is the offset of the first batch of the producer's open transaction, -1
	// when none is open.
	txnFirst int64
	// coordEpoch is the coordinator epoch of the producer's newest marker, -1 before any:
	// a marker from an older coordinator is refused.
	coordEpoch int32
	// ended is the producer's last transaction that a marker closed. Truncation that
	// removes that marker (and not the transaction's first batch) opens it again.
	ended endedTxn
	// since is the offset of the first batch or marker that made the replica know the
	// producer (-1 when restored from a snapshot, which describes the log before it); a
	// truncation at or below it forgets the producer.
	since int64
	// last is the largest offset the producer wrote (batch or marker), as far as known.
	last int64
	// epochAt is the offset of the batch or marker that brought epoch, -1 when that lies
	// before what the replica knows: a truncation that removes it leaves the epoch
	// unknown (-1) unless a batch of the producer is left below it, so the log the
	// replica fetches back (with the older epoch) is applied again.
	epochAt int64
}

// endedTxn is a transaction closed by a marker; marker is -1 when there is none.
type endedTxn struct {
	first, marker int64
	commit        bool
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

// cut forgets what the producer wrote at or above offset and reports whether anything
// is left to remember. The epoch falls back to that of the newest batch left; a
// transaction whose marker is cut is open again, one whose first batch is cut never was.
func (e *producerEntry) cut(offset int64) bool {
	if e.last < offset {
		return true
	}
	for e.n > 0 && e.newest().last >= offset {
		e.n--
	}
	if e.epochAt >= offset {
		e.epoch, e.epochAt = -1, -1
		for _, b := range e.batches[:e.n] {
			if b.epoch > e.epoch {
				e.epoch, e.epochAt = b.epoch, b.base
			}
		}
	}
	if e.txnFirst >= offset {
		e.txnFirst = -1
	}
	if e.ended.marker >= offset {
		if e.ended.first < offset {
			e.txnFirst = e.ended.first
		}
		e.ended = endedTxn{first: -1, marker: -1}
	}
	e.last = offset - 1
	return e.n > 0 || e.txnFirst >= 0 || e.ended.marker >= 0 || e.since < offset
}

// producerState tracks idempotent and transactional producers. It changes when batches
// are appended, on the leader and on followers alike (and as a restart replays the log),
// so a new leader has it at once.
type producerState struct {
	m   map[int64]*producerEntry
	max int
	// open lists the open transactions by first offset (then producer id): the oldest
	// bounds the last stable offset.
	open []txnRange
	// unstable lists, by marker offset, the transactions closed by a marker the high
	// watermark may not cover yet: until it does, a truncation could remove the marker
	// and open the transaction again, so they bound the last stable offset too.
	unstable []txnRange
	// aborted lists the transactions aborted by the batches applied since the last
	// takeAborted: the log's aborted-transactions index lives on disk (see
	// disk.AbortedTxn), and each Append carries the entries of the markers it writes.
	aborted []disk.AbortedTxn
}

// txnRange is one transaction of a producer: its first offset and its marker's offset
// (-1 while open).
type txnRange struct {
	pid           int64
	first, marker int64
}

// AbortedTxn is an aborted transaction a read_committed fetch reports: the producer and
// the offset of its first batch in the partition (its data up to the producer's abort
// marker is to be dropped).
type AbortedTxn struct {
	ProducerID, FirstOffset int64
}

// endMarker is what a control batch says: valid only for a commit or abort marker.
type endMarker struct {
	valid, commit bool
	coordEpoch    int32
}

// controlBatchBytesMax bounds the decompressed records of a control batch read for its
// marker: one record of a few bytes.
const controlBatchBytesMax = 1 << 16

// markerOf reads the commit or abort marker of a control batch; anything else (another
// control type, a record that does not decode) is not a marker.
func markerOf(batch []byte) endMarker {
	it, err := record.NewIter(batch, controlBatchBytesMax)
	if err != nil || !it.Next() {
		return endMarker{}
	}
	rec := it.Record()
	k, err := record.ParseControlKey(rec.Key)
	if err != nil || (k.Type != record.ControlAbort && k.Type != record.ControlCommit) {
		return endMarker{}
	}
	v, err := record.ParseEndTxnMarker(rec.Value)
	if err != nil {
		return endMarker{}
	}
	return endMarker{valid: true, commit: k.Type == record.ControlCommit, coordEpoch: v.CoordinatorEpoch}
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
	if e.n == 0 {
		// Known by its epoch only (a marker, or batches a truncation removed): like a
		// producer not known, it starts at 0.
		if h.BaseSequence != 0 {
			return seqOutOfOrder, producerBatch{}
		}
		return seqAppend, producerBatch{}
	}
	if inSequence(e.newest().lastSeq, h.BaseSequence) {
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

// apply records a data batch appended at base; applyBatch any batch.
func (p *producerState) apply(h record.Header, base int64) { p.record(h, base, endMarker{}) }

// applyBatch records the batch appended at base (on a leader after its checks, on a
// follower as it comes, on a restart as the log is replayed): the same state follows
// from the same log wherever it is applied.
func (p *producerState) applyBatch(h record.Header, base int64, batch []byte) {
	var m endMarker
	if h.IsControl() && h.ProducerID >= 0 {
		m = markerOf(batch)
	}
	p.record(h, base, m)
}

// record applies one batch. Non-idempotent batches leave nothing; a control batch
// leaves no sequence, and as a marker it closes the producer's open transaction (an
// abort is listed) and sets its coordinator epoch; a transactional data batch opens a
// transaction when none is open; a batch written by a coordinator (no sequence) leaves
// no sequence either.
func (p *producerState) record(h record.Header, base int64, m endMarker) {
	if h.ProducerID < 0 {
		return
	}
	e := p.m[h.ProducerID]
	if e == nil {
		p.evictFor(1)
		e = &producerEntry{id: h.ProducerID, epoch: h.ProducerEpoch, txnFirst: -1, coordEpoch: -1,
			ended: endedTxn{first: -1, marker: -1}, since: base, last: -1, epochAt: base}
		p.m[h.ProducerID] = e
	}
	switch {
	case h.ProducerEpoch > e.epoch:
		e.epoch, e.n, e.epochAt = h.ProducerEpoch, 0, base
	case h.ProducerEpoch < e.epoch:
		return
	}
	last := base + int64(h.LastOffsetDelta)
	e.last = max(e.last, last)
	if h.IsControl() {
		if m.valid {
			p.endTxn(e, base, m)
		}
		return
	}
	if h.IsTransactional() && e.txnFirst < 0 {
		e.txnFirst = base
		p.open = insertTxn(p.open, txnRange{pid: e.id, first: base, marker: -1})
	}
	if h.BaseSequence < 0 {
		return
	}
	if e.n > 0 && !inSequence(e.newest().lastSeq, h.BaseSequence) {
		// Batches in between are unknown here (replay could not see them: they lay
		// between a snapshot and a later log start). Older ones would mislead the
		// duplicate checks; only what follows can be vouched for.
		e.n = 0
	}
	e.push(producerBatch{epoch: h.ProducerEpoch, firstSeq: h.BaseSequence, lastSeq: lastSeqOf(h),
		base: base, last: last, maxTimestamp: h.MaxTimestamp})
}

// endTxn applies a marker at offset: a marker for a producer with nothing open changes
// nothing but the coordinator epoch (a marker sent again is harmless).
func (p *producerState) endTxn(e *producerEntry, offset int64, m endMarker) {
	e.coordEpoch = m.coordEpoch
	if e.txnFirst < 0 {
		return
	}
	t := txnRange{pid: e.id, first: e.txnFirst, marker: offset}
	p.open = removeTxn(p.open, e.id, e.txnFirst)
	e.txnFirst = -1
	e.ended = endedTxn{first: t.first, marker: offset, commit: m.commit}
	p.unstable = append(p.unstable, t)
	if !m.commit {
		stable := offset + 1
		if len(p.open) > 0 {
			stable = p.open[0].first
		}
		p.aborted = append(p.aborted, disk.AbortedTxn{ProducerID: t.pid, FirstOffset: t.first, MarkerOffset: offset, StableOffset: stable})
	}
}

// transactional reports whether a producer the replica knows wrote transactions here.
func (p *producerState) transactional() bool {
	// order-independent: any one producer answers.
	for _, e := range p.m {
		if e.txnFirst >= 0 || e.coordEpoch >= 0 || e.ended.marker >= 0 {
			return true
		}
	}
	return false
}

// takeAborted returns the transactions aborted since the last call and forgets them.
func (p *producerState) takeAborted() []disk.AbortedTxn {
	a := p.aborted
	p.aborted = nil
	return a
}

// reopen opens again the aborted transactions a truncation cut the marker of but not
// the first batch (the disk lists them: Truncate's Done), so that the marker fetched
// back ends them and lists them again. The producer's last ended transaction was
// reopened by the truncation itself.
func (p *producerState) reopen(cut []disk.AbortedTxn) {
	for _, t := range cut {
		if e := p.m[t.ProducerID]; e != nil && e.txnFirst < 0 {
			e.txnFirst = t.FirstOffset
		}
	}
	p.rebuildOpen()
}

// insertTxn adds t to open, kept sorted by first offset, then producer id.
func insertTxn(open []txnRange, t txnRange) []txnRange {
	i, _ := slices.BinarySearchFunc(open, t, cmpOpen)
	return slices.Insert(open, i, t)
}

func removeTxn(open []txnRange, pid, first int64) []txnRange {
	if i, found := slices.BinarySearchFunc(open, txnRange{pid: pid, first: first}, cmpOpen); found {
		return slices.Delete(open, i, i+1)
	}
	return open
}

func cmpOpen(a, b txnRange) int {
	if a.first != b.first {
		return cmp.Compare(a.first, b.first)
	}
	return cmp.Compare(a.pid, b.pid)
}

// rebuildOpen lists the open transactions again from the producers.
func (p *producerState) rebuildOpen() {
	p.open = p.open[:0]
	for _, id := range p.sortedIDs() {
		if e := p.m[id]; e.txnFirst >= 0 {
			p.open = append(p.open, txnRange{pid: id, first: e.txnFirst, marker: -1})
		}
	}
	slices.SortFunc(p.open, cmpOpen)
}

// stableBelow is the last stable offset for high watermark hw: the smaller of hw and the
// first offset of the oldest transaction that is open, or closed by a marker hw does not
// cover yet. Closed transactions hw covers are forgotten here.
func (p *producerState) stableBelow(hw int64) int64 {
	i := 0
	for i < len(p.unstable) && p.unstable[i].marker < hw {
		i++
	}
	if i > 0 {
		n := copy(p.unstable, p.unstable[i:])
		p.unstable = p.unstable[:n]
	}
	lso := hw
	if len(p.open) > 0 {
		lso = min(lso, p.open[0].first)
	}
	for _, t := range p.unstable {
		lso = min(lso, t.first)
	}
	return lso
}

// cutRanges drops the transactions whose marker is at or above offset from ts, sorted
// by marker.
func cutRanges(ts []txnRange, offset int64) []txnRange {
	i, _ := slices.BinarySearchFunc(ts, offset, func(t txnRange, off int64) int { return cmp.Compare(t.marker, off) })
	return ts[:i]
}

// evictFor makes room for n new producers by forgetting those whose newest write is the
// oldest: a producer that wrote nothing for that long is not retrying anything. Producers
// with an open transaction go last: forgetting one would move the last stable offset
// past records a later abort marker disowns.
func (p *producerState) evictFor(n int) {
	for len(p.m)+n > p.max && len(p.m) > 0 {
		var victim *producerEntry
		// order-independent: olderProducer is a total order (ties go by producer id), so the oldest is one producer whatever the order.
		for _, e := range p.m {
			if victim == nil || olderProducer(e, victim) {
				victim = e
			}
		}
		p.forget(victim)
	}
}

func (p *producerState) forget(e *producerEntry) {
	if e.txnFirst >= 0 {
		p.open = removeTxn(p.open, e.id, e.txnFirst)
	}
	delete(p.m, e.id)
}

func olderProducer(a, b *producerEntry) bool {
	if oa, ob := a.txnFirst >= 0, b.txnFirst >= 0; oa != ob {
		return ob
	}
	if a.last != b.last {
		return a.last < b.last
	}
	return a.id < b.id
}

// truncate forgets everything written at or above offset (the log was truncated there).
func (p *producerState) truncate(offset int64) {
	// order-independent: each producer is cut on its own.
	for id, e := range p.m {
		if !e.cut(offset) {
			delete(p.m, id)
		}
	}
	// cut reopens each producer's last ended transaction only. A repair truncation
	// (damaged data fetched back) may cut far below it, through older transactions of
	// the producer: the one whose marker is cut and whose first batch is not is open
	// again, or the marker fetched back would find nothing to end and its abort would
	// not be listed. Commits are known here while unstable; aborts are in the disk's
	// index, and the Truncate's Done lists them (reopen).
	for _, t := range p.unstable {
		if e := p.m[t.pid]; e != nil && t.first < offset && offset <= t.marker && e.txnFirst < 0 {
			e.txnFirst = t.first
		}
	}
	p.unstable = cutRanges(p.unstable, offset)
	p.rebuildOpen()
}

func (p *producerState) clear() {
	clear(p.m)
	p.open, p.unstable, p.aborted = nil, nil, nil
}

// openAt lists the transactions that began below start and are open at it: open, or
// closed by a marker the high watermark does not cover yet (which lies at or above
// start, as the log start never passes the high watermark). Sorted by first offset,
// then producer id.
func (p *producerState) openAt(start int64) []OpenTxn {
	var out []OpenTxn
	add := func(t txnRange) {
		if e := p.m[t.pid]; e != nil && t.first < start {
			out = append(out, OpenTxn{ProducerID: t.pid, ProducerEpoch: e.epoch, FirstOffset: t.first})
		}
	}
	for _, t := range p.open {
		add(t)
	}
	for _, t := range p.unstable {
		add(t)
	}
	slices.SortFunc(out, func(a, b OpenTxn) int {
		return cmpOpen(txnRange{pid: a.ProducerID, first: a.FirstOffset}, txnRange{pid: b.ProducerID, first: b.FirstOffset})
	})
	return out
}

// adoptOpen makes the transactions of ts, begun below start, open here: the log starts
// over at start and none of their batches is left to fetch, only their markers. A
// producer listed twice, or not below start, is taken once or not at all.
func (p *producerState) adoptOpen(ts []OpenTxn, start int64) {
	for _, t := range ts {
		if t.ProducerID < 0 || t.FirstOffset < 0 || t.FirstOffset >= start {
			continue
		}
		e := p.m[t.ProducerID]
		if e == nil {
			p.evictFor(1)
			e = &producerEntry{id: t.ProducerID, epoch: t.ProducerEpoch, txnFirst: -1, coordEpoch: -1,
				ended: endedTxn{first: -1, marker: -1}, since: -1, last: start - 1, epochAt: -1}
			p.m[t.ProducerID] = e
		}
		if e.txnFirst < 0 {
			e.txnFirst = t.FirstOffset
		}
	}
	p.rebuildOpen()
}

func (p *producerState) sortedIDs() []int64 {
	ids := make([]int64, 0, len(p.m))
	for id := range p.m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Producer-state snapshot file layout (enc encoding): version (4), the offset it
// describes the log up to, the producers sorted by id, each with its epoch, its batches
// (epoch, sequences, offsets, largest timestamp) and its place in transactions (the
// offsets it was first and last seen at, its open transaction's first offset, its
// coordinator epoch, its last ended transaction), then a CRC-32C of everything before
// it. Version 1 (without the timestamps and what follows them), version 2 (without the
// transactions) and version 3 (with, after the producers, the aborted transactions
// whose marker lies between the log start and the snapshot offset: producer, first
// offset, marker offset) still decode.
const snapshotVersion = 4

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// encodeSnapshot encodes the state the log had below offset: what was written at or above offset is left out, so the snapshot is exact for every
// producer that wrote fewer than producerBatchesKept batches since offset.
func (p *producerState) encodeSnapshot(offset int64) []byte {
	var w enc.Writer
	w.U8(snapshotVersion)
	w.I64(offset)
	var entries []producerEntry
	for _, id := range p.sortedIDs() {
		e := *p.m[id]
		if e.cut(offset) {
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
		w.I64(e.since)
		w.I64(e.last)
		w.I64(e.epochAt)
		w.I64(e.txnFirst)
		w.I32(e.coordEpoch)
		w.I64(e.ended.first)
		w.I64(e.ended.marker)
		w.Bool(e.ended.commit)
	}
	w.I32(int32(crc32.Checksum(w.B, crcTable)))
	return w.B
}

var errSnapshot = errors.New("partition: bad producer-state snapshot")

// The smallest encodings of one producer (versions 1-2, version 3) and of one aborted
// transaction.
const (
	snapshotProducerBytesMin   = 8 + 2 + 1
	snapshotProducerV3BytesMin = snapshotProducerBytesMin + 8 + 8 + 8 + 8 + 4 + 8 + 8 + 1
	snapshotAbortedBytes       = 3 * 8
)

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
	if v < 1 || v > snapshotVersion {
		return p, 0, fmt.Errorf("%w: version %d", errSnapshot, v)
	}
	offset := r.I64()
	minBytes := snapshotProducerBytesMin
	if v >= 3 {
		minBytes = snapshotProducerV3BytesMin
	}
	n := r.Len(minBytes)
	for range n {
		e := &producerEntry{id: r.I64(), epoch: r.I16(), n: int(r.U8()), txnFirst: -1, coordEpoch: -1,
			ended: endedTxn{first: -1, marker: -1}, since: -1, last: -1, epochAt: -1}
		if e.n > producerBatchesKept || (e.n == 0 && v < 3) {
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
		if e.n > 0 {
			e.last = e.newest().last
		}
		if v >= 3 {
			e.since, e.last, e.epochAt, e.txnFirst, e.coordEpoch = r.I64(), r.I64(), r.I64(), r.I64(), r.I32()
			e.ended = endedTxn{first: r.I64(), marker: r.I64(), commit: r.Bool()}
			if !e.txnConsistent(offset) {
				return p, 0, fmt.Errorf("%w: producer %d: transaction state at offset %d", errSnapshot, e.id, offset)
			}
		}
		if r.Err() != nil || p.m[e.id] != nil || e.id < 0 {
			return p, 0, fmt.Errorf("%w: producer %d", errSnapshot, e.id)
		}
		p.m[e.id] = e
	}
	if v == 3 {
		// Version 3 listed the aborted transactions, which the disk's index holds
		// since: they are handed to it once (startLoading). Their stable offsets were
		// not kept; 0 never ends a lookup early.
		n := r.Len(snapshotAbortedBytes)
		p.aborted = make([]disk.AbortedTxn, 0, n)
		for range n {
			t := disk.AbortedTxn{ProducerID: r.I64(), FirstOffset: r.I64(), MarkerOffset: r.I64()}
			if t.ProducerID < 0 || t.FirstOffset < 0 || t.FirstOffset > t.MarkerOffset || t.MarkerOffset >= offset ||
				(len(p.aborted) > 0 && p.aborted[len(p.aborted)-1].MarkerOffset >= t.MarkerOffset) {
				return p, 0, fmt.Errorf("%w: aborted transaction %+v at offset %d", errSnapshot, t, offset)
			}
			p.aborted = append(p.aborted, t)
		}
	}
	if err := r.Done(); err != nil {
		return p, 0, fmt.Errorf("%w: %v", errSnapshot, err)
	}
	p.rebuildOpen()
	p.evictFor(0)
	return p, offset, nil
}

// txnConsistent checks the fields of a producer read from a snapshot at offset against
// each other: everything it wrote lies below offset, its ended transaction precedes its
// open one.
func (e *producerEntry) txnConsistent(offset int64) bool {
	switch {
	case e.since < -1 || e.since >= offset || e.last < -1 || e.last >= offset || e.coordEpoch < -1 ||
		e.epochAt < -1 || e.epochAt >= offset:
		return false
	case e.n > 0 && e.newest().last > e.last:
		return false
	case e.txnFirst < -1 || e.txnFirst > e.last:
		return false
	case e.ended.marker == -1:
		return e.ended.first == -1 && !e.ended.commit
	case e.ended.first < 0 || e.ended.first > e.ended.marker || e.ended.marker > e.last:
		return false
	}
	return e.txnFirst < 0 || e.txnFirst > e.ended.marker
}

// ProducerInfo is one producer as a leader remembers it (DescribeProducers).
type ProducerInfo struct {
	ID            int64
	Epoch         int16
	LastSequence  int32 // -1 when no batch with a sequence is remembered
	LastTimestamp int64 // ms; -1 when not known
	// CoordinatorEpoch is the coordinator epoch of the producer's newest marker, -1
	// before any.
	CoordinatorEpoch int32
	// CurrentTxnStartOffset is the first offset of the producer's open transaction, -1
	// when none is open.
	CurrentTxnStartOffset int64
}

// Producers lists the producers the replica remembers, by id, when it leads and serves
// clients; otherwise the error a client gets.
func (r *Replica) Producers(now int64) ([]ProducerInfo, int16) {
	r.changes++
	if r.dead() {
		return nil, CodeNotLeaderOrFollower
	}
	if code := r.clientGate(now, -1); code != CodeNone {
		return nil, code
	}
	out := make([]ProducerInfo, 0, len(r.producers.m))
	for _, id := range r.producers.sortedIDs() {
		e := r.producers.m[id]
		pi := ProducerInfo{ID: id, Epoch: e.epoch, LastSequence: -1, LastTimestamp: -1,
			CoordinatorEpoch: e.coordEpoch, CurrentTxnStartOffset: e.txnFirst}
		if e.n > 0 {
			b := e.newest()
			pi.LastSequence, pi.LastTimestamp = b.lastSeq, b.maxTimestamp
			if r.on(plant.DescribeProducersFirstSeq) {
				pi.LastSequence = b.firstSeq
			}
		}
		out = append(out, pi)
	}
	return out, CodeNone
}
