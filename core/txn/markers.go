package txn

import (
	"maps"
	"slices"
)

// startRound begins sending the markers of t's durable Prepare* record.
func (c *Coordinator) startRound(t *txn) {
	assert(t.rec.state.preparing(), "markers for %q in state %s", t.id, t.rec.state)
	c.retries.remove(t)
	t.round = &round{pending: slices.Clone(t.rec.parts)}
	c.sendMarkers(t)
}

// sendMarkers sends the markers still missing, or writes the completion when none is.
func (c *Coordinator) sendMarkers(t *txn) {
	r := t.round
	if len(r.pending) == 0 {
		c.complete(t)
		return
	}
	c.stopRetry(t)
	req := MarkerRequest{
		ProducerID:       t.rec.pid,
		ProducerEpoch:    t.rec.epoch,
		Commit:           t.rec.state == statePrepareCommit,
		CoordinatorEpoch: c.cfg.CoordinatorEpoch,
		Partitions:       slices.Clone(r.pending),
	}
	if t.rec.tv >= 2 {
		req.TransactionVersion = 2
	}
	finish := c.begin(nil)
	c.cfg.SendMarkers(c.now, req, func(codes []int16) {
		finish(func() { c.markersAnswered(t, r, req, codes) })
	})
}

// markersAnswered takes a round's codes: a partition is done when its marker was
// written, when its topic is gone, or when it refuses the marker for good (the producer
// has a newer epoch there, or a newer coordinator wrote to it); any other code is sent
// again after MarkerRetry. A missing code counts as one to retry.
func (c *Coordinator) markersAnswered(t *txn, r *round, req MarkerRequest, codes []int16) {
	if t.round != r || c.txns[t.id] != t {
		return
	}
	var retry []TopicPartition
	for i, p := range req.Partitions {
		code := codeCoordinatorNotAvailable
		if i < len(codes) {
			code = codes[i]
		}
		switch code {
		case codeNone, codeUnknownTopicOrPartition:
		case codeInvalidProducerEpoch, codeTransactionCoordinatorFenced:
			c.event(Event{Kind: MarkerRefused, TxnID: t.id, ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch,
				Partitions: []TopicPartition{p}, Code: code})
		default:
			retry = append(retry, p)
		}
	}
	r.pending = retry
	if len(retry) == 0 {
		c.complete(t)
		return
	}
	c.waitRetry(t)
}

// waitRetry makes t's round wait out MarkerRetry. A callback outside any input has no
// time: the wait starts at the next input (startPendingTimers).
func (c *Coordinator) waitRetry(t *txn) {
	r := t.round
	r.waiting = true
	r.retryFrom = c.timeNow()
	if r.retryFrom == timerPending {
		c.retries.remove(t)
		c.pendingRounds = append(c.pendingRounds, t)
		return
	}
	c.retries.set(t, r.retryFrom+int64(c.cfg.MarkerRetry))
}

// stopRetry: t's round is under way again (markers out, or its completion written).
func (c *Coordinator) stopRetry(t *txn) {
	t.round.waiting = false
	c.retries.remove(t)
}

// retryRound runs a round that waited out its backoff.
func (c *Coordinator) retryRound(t *txn) {
	if t.busy != idle {
		c.waitRetry(t) // the planted early end may still have its Prepare* write out
		return
	}
	c.sendMarkers(t)
}

// complete writes t's Complete* record once every marker is written. A failed write is
// tried again after MarkerRetry; the transaction stays in Prepare* meanwhile.
func (c *Coordinator) complete(t *txn) {
	r := t.round
	c.stopRetry(t)
	if t.busy != idle {
		c.waitRetry(t) // the planted early end's Prepare* write is still out
		return
	}
	next := t.rec
	next.parts = nil
	next.updateMs = millis(c.now)
	if next.tv >= 2 && next.nextPid >= 0 {
		// The end overflowed the epoch: the producer goes on with the new id.
		next.prevPid, next.pid, next.epoch, next.nextPid = next.pid, next.nextPid, 0, -1
	}
	next.state = stateCompleteAbort
	if t.rec.state == statePrepareCommit {
		next.state = stateCompleteCommit
	}
	prev := t.rec
	c.write(t, next, func(err error) {
		if err != nil {
			if t.round == r {
				c.waitRetry(t)
			}
			return
		}
		t.round = nil
		c.retries.remove(t)
		kind := TxnCompleteAbort
		if next.state == stateCompleteCommit {
			kind = TxnCompleteCommit
		}
		c.event(Event{Kind: kind, TxnID: t.id, ProducerID: t.rec.pid, ProducerEpoch: t.rec.epoch,
			Partitions: slices.Clone(prev.parts)})
	}, nil)
}

// abortTimedOut aborts, with a bumped epoch, every Ongoing transaction whose timeout
// ran out (Kafka's rule: start + timeout before now) and that is not busy; a busy one
// is looked at again at the next check.
func (c *Coordinator) abortTimedOut(now int64) {
	nowMs := millis(now)
	for _, id := range slices.Sorted(maps.Keys(c.ongoing)) {
		t := c.ongoing[id]
		if t.rec.state == stateOngoing && t.busy == idle && t.rec.startMs+int64(t.rec.timeoutMs) < nowMs {
			c.prepareEnd(t, false, TxnTimedOut, t.rec.tv, nil)
		}
	}
}
