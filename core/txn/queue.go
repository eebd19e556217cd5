package txn

import "slices"

// queueMax bounds the requests waiting for one transactional id; more are answered
// CONCURRENT_TRANSACTIONS at once, as Kafka answers them all.
const queueMax = 16

// A request that finds its transactional id busy (a record being written, or the
// markers of the transaction that just ended still on their way) waits for it, for at
// most Config.QueueWait, instead of being answered CONCURRENT_TRANSACTIONS at once.
// Producers add partitions from several connections at once and begin the next
// transaction as soon as EndTxn answers; each CONCURRENT_TRANSACTIONS costs them a
// backoff (franz-go: 20 ms) that is far longer than the write they wait for.
type queued struct {
	deadline int64
	retry    func()           // runs the request again once the id is free
	answer   func(code int16) // answers it without running it
	// add, for AddPartitions and AddOffsets, lets later requests of the same producer
	// join this one: they wait for one write instead of one each.
	add *queuedAdd
}

type queuedAdd struct {
	pid     int64
	epoch   int16
	tv      int16 // 2: implicit adds of a version-2 producer
	parts   []TopicPartition
	answers []func(int16)
}

func (a *queuedAdd) answer(code int16) {
	for _, f := range a.answers {
		f(code)
	}
}

// free reports whether t can take a request now: no write, no producer id awaited,
// no marker round under way.
func (t *txn) free() bool { return t.busy == idle && !t.rec.state.preparing() }

// enqueue makes a request for t wait; false when its queue is full.
func (c *Coordinator) enqueue(t *txn, retry func(), answer func(int16)) bool {
	if len(t.queue) >= queueMax || c.depth == 0 {
		return false // a request always comes within an input
	}
	if len(t.queue) == 0 {
		c.queuedTxns = append(c.queuedTxns, t)
	}
	t.queue = append(t.queue, queued{deadline: c.now + int64(c.cfg.QueueWait), retry: retry, answer: answer})
	c.deadlineKnown = false
	return true
}

// enqueueAdd makes an AddPartitions or AddOffsets wait for t, joining the request
// waiting last when it comes from the same producer.
func (c *Coordinator) enqueueAdd(t *txn, pid int64, epoch int16, parts []TopicPartition, tv int16, answer func(int16)) bool {
	if n := len(t.queue); n > 0 {
		if a := t.queue[n-1].add; a != nil && a.pid == pid && a.epoch == epoch && a.tv == tv && len(a.parts)+len(parts) <= c.cfg.PartitionsMax {
			a.parts = append(a.parts, parts...)
			a.answers = append(a.answers, answer)
			return true
		}
	}
	a := &queuedAdd{pid: pid, epoch: epoch, tv: tv, parts: slices.Clone(parts), answers: []func(int16){answer}}
	retry := func() { c.addPartitions(t.id, a.pid, a.epoch, a.parts, a.tv, a.answer) }
	if !c.enqueue(t, retry, a.answer) {
		return false
	}
	t.queue[len(t.queue)-1].add = a
	return true
}

// runQueued runs the waiting requests of every id that became free, oldest first, until
// one makes the id busy again. It runs when the outermost input or callback returns.
func (c *Coordinator) runQueued() {
	if c.runningQueued || c.phase != phaseServing {
		return
	}
	c.runningQueued = true
	defer func() { c.runningQueued = false }()
	for _, t := range slices.Clone(c.queuedTxns) {
		for len(t.queue) > 0 && t.free() {
			q := t.queue[0]
			t.queue = t.queue[1:]
			c.depth++ // the request runs as the input it came with
			q.retry()
			c.depth--
		}
	}
	c.dropEmptyQueues()
}

// expireQueued answers CONCURRENT_TRANSACTIONS to the requests that waited their
// longest: the client backs off and asks again.
func (c *Coordinator) expireQueued(now int64) {
	for _, t := range c.queuedTxns {
		for len(t.queue) > 0 && t.queue[0].deadline <= now {
			q := t.queue[0]
			t.queue = t.queue[1:]
			q.answer(codeConcurrentTransactions)
		}
	}
	c.dropEmptyQueues()
}

// closeQueued answers NOT_COORDINATOR to every waiting request.
func (c *Coordinator) closeQueued() {
	for _, t := range c.queuedTxns {
		for _, q := range t.queue {
			q.answer(codeNotCoordinator)
		}
		t.queue = nil
	}
	c.queuedTxns = nil
}

func (c *Coordinator) dropEmptyQueues() {
	c.queuedTxns = slices.DeleteFunc(c.queuedTxns, func(t *txn) bool { return len(t.queue) == 0 })
}

// queueDeadline is the earliest time a waiting request expires.
func (c *Coordinator) queueDeadline() int64 {
	d := int64(1<<63 - 1)
	for _, t := range c.queuedTxns {
		if len(t.queue) > 0 {
			d = min(d, t.queue[0].deadline)
		}
	}
	return d
}
