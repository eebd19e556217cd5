package txn

import (
	"math"
	"time"

	"github.com/seedlog/seedlog/core/plant"
)

// expirePerTick bounds the ids one Tick expires, so that a mass expiry (a coordinator
// loading a partition of long-idle ids) is spread over Ticks with other inputs between
// them. The rest are due at once, so the next Tick goes on.
const expirePerTick = 64

// Expiry (Kafka's transactional.id.expiration.ms): an id whose state is Empty,
// CompleteCommit or CompleteAbort and whose record was last updated Config.IDExpiration
// ago is removed. Its tombstone (the key, a null value) is written like any record, and
// the id is forgotten only once the tombstone is durable; until then it is busy (its
// requests wait or get CONCURRENT_TRANSACTIONS). A later InitProducerID finds nothing
// and starts the id over with a fresh producer id. An id with a transaction open or
// ending never expires. Unlike Kafka, which looks every hour
// (transaction.remove.expired.transaction.cleanup.interval.ms), an id expires as soon as
// it is due: the ids are kept in order of when they are.

// mayExpire: t's state lets it expire.
func (c *Coordinator) mayExpire(t *txn) bool {
	if c.cfg.Plants.On(plant.TxnIDExpiresOngoing) {
		return true // Planted bug: expire ids whatever their state.
	}
	s := t.rec.state
	return s == stateEmpty || s.complete()
}

// expiresAt is when t is due to expire, in nanoseconds on the coordinator's clock: the
// first instant whose millisecond is at least its last update plus the expiration.
func (c *Coordinator) expiresAt(t *txn) int64 {
	expMs := millis(int64(c.cfg.IDExpiration))
	const nsPerMs = int64(time.Millisecond)
	ms := t.rec.updateMs
	switch {
	case ms > math.MaxInt64/nsPerMs-expMs: // a record from far in the future: never
		return math.MaxInt64
	case ms+expMs < 0:
		return max(0, t.expireRetryAt)
	}
	return max((ms+expMs)*nsPerMs, t.expireRetryAt)
}

// scheduleExpiry files t in the expiry queue if it may expire, or takes it out.
func (c *Coordinator) scheduleExpiry(t *txn) {
	if c.txns[t.id] == t && t.durable && !t.expiring && c.mayExpire(t) {
		c.expiries.set(t, c.expiresAt(t))
		return
	}
	c.expiries.remove(t)
}

// expireIdle writes the tombstones of the ids due at now, at most expirePerTick, in the
// order they fell due.
func (c *Coordinator) expireIdle(now int64) {
	for _, t := range c.expiries.popDue(now, expirePerTick) {
		c.expire(t, now)
	}
}

// expire writes t's tombstone and forgets t once it is durable. A busy id (a write or
// a producer id under way) is looked at again after MarkerRetry, when that is done.
func (c *Coordinator) expire(t *txn, now int64) {
	if c.txns[t.id] != t || !t.durable || !c.mayExpire(t) {
		return
	}
	if t.busy != idle {
		t.expireRetryAt = now + int64(c.cfg.MarkerRetry)
		c.scheduleExpiry(t)
		return
	}
	t.busy, t.expiring = writing, true
	prev := t.rec
	finish := c.begin(nil)
	c.log.Append(c.now, []KV{{Key: encodeKey(t.id)}}, func(_ int64, err error) {
		finish(func() {
			t.busy, t.expiring = idle, false
			if err != nil {
				// Kafka keeps the id and tries at its next check; here after MarkerRetry.
				t.expireRetryAt = c.now + int64(c.cfg.MarkerRetry)
				c.scheduleExpiry(t)
				return
			}
			c.forget(t)
			c.event(Event{Kind: TxnIDExpired, TxnID: t.id, ProducerID: prev.pid, ProducerEpoch: prev.epoch,
				State: prev.state.String(), UpdateMs: prev.updateMs})
		})
	})
}

// forget drops t, whose tombstone is durable.
func (c *Coordinator) forget(t *txn) {
	if c.txns[t.id] == t {
		delete(c.txns, t.id)
	}
	if c.ongoing[t.id] == t {
		delete(c.ongoing, t.id)
	}
	c.retries.remove(t)
	c.expiries.remove(t)
	t.round = nil
}
