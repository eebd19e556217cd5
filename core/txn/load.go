package txn

import (
	"fmt"
	"maps"
	"slices"

	"github.com/seedlog/seedlog/core/record"
)

// loadRecordsBytesMax bounds the decompressed records of one batch read while loading.
const loadRecordsBytesMax = 64 << 20

// loader accumulates the partition's records while loading: the last record of each
// transactional id wins, a tombstone deletes it (nil).
type loader struct {
	txns map[string]*txnRecord
	err  error
}

func newLoader() *loader { return &loader{txns: map[string]*txnRecord{}} }

// loadChunk takes one chunk of whole batches from Log.Load. A batch that fails its
// checks, or a record that does not decode, fails the load: skipping it could bring back
// an older epoch or forget a decided end.
func (c *Coordinator) loadChunk(b []byte) {
	c.deadlineKnown = false
	if c.phase != phaseLoading || c.load.err != nil {
		return
	}
	_, err := record.Split(b, func(h record.Header, batch []byte) error {
		if h.IsControl() || h.IsTransactional() {
			return nil // nothing seedlog writes here
		}
		return c.load.batch(batch)
	})
	if err != nil {
		c.load.err = err
	}
}

func (l *loader) batch(batch []byte) error {
	it, err := record.NewIter(batch, loadRecordsBytesMax)
	if err != nil {
		return err
	}
	for it.Next() {
		r := it.Record()
		if err := l.record(r.Key, r.Value); err != nil {
			return fmt.Errorf("record at offset %d: %w", it.Offset(), err)
		}
	}
	return it.Err()
}

func (l *loader) record(key, value []byte) error {
	id, known, err := decodeKey(key)
	if err != nil || !known {
		return err
	}
	if value == nil {
		l.txns[id] = nil
		return nil
	}
	rec, err := decodeValue(value)
	if err != nil {
		return err
	}
	switch rec.state {
	case stateDead:
		l.txns[id] = nil // Kafka writes Dead on the way to a tombstone
		return nil
	case statePrepareEpochFence:
		return fmt.Errorf("%w: state %s is never written", errRecord, rec.state)
	}
	l.txns[id] = &rec
	return nil
}

// loadDone ends loading: the transactions are rebuilt and served, and the markers of
// every decided end resume; or the coordinator fails.
func (c *Coordinator) loadDone(err error) {
	if c.phase != phaseLoading {
		return
	}
	l := c.load
	c.load = nil
	if err == nil {
		err = l.err
	}
	if err != nil {
		c.phase = phaseFailed
		c.loadErr = fmt.Errorf("txn: loading __transaction_state partition %d: %w", c.cfg.Partition, err)
		return
	}
	ids := slices.Sorted(maps.Keys(l.txns))
	for _, id := range ids {
		if rec := l.txns[id]; rec != nil {
			t := newTxn(id)
			c.txns[id] = t
			c.setRec(t, *rec)
		}
	}
	c.phase = phaseServing
	c.nextAbortCheck = c.now + int64(c.cfg.AbortCheckInterval)
	c.event(Event{Kind: CoordinatorLoaded, Txns: len(c.txns)})
	for _, id := range ids {
		if t := c.txns[id]; t != nil && t.rec.state.preparing() {
			c.startRound(t)
		}
	}
}
