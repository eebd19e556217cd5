package txn

// timerQueue orders the transactional ids that have a timer of one kind (a marker round
// waiting to be sent again, an idle id due to expire) by when it is due, ties by id, so
// that Tick and Deadline cost the ids that are due rather than every id. Each txn holds
// its place in every queue (txn.timerAt, txn.timerIdx), so a timer is moved or removed
// in O(log n) and an id is in a queue at most once.
type timerQueue struct {
	kind timerKind
	h    []*txn
}

// timerKind names a timerQueue and indexes a txn's timer fields.
type timerKind uint8

const (
	timerRetry  timerKind = iota // a marker round, or its completion, sent again
	timerExpire                  // an idle id removed (transactional.id.expiration.ms)
	timerKinds
)

func (q *timerQueue) less(i, j int) bool {
	a, b := q.h[i], q.h[j]
	if a.timerAt[q.kind] != b.timerAt[q.kind] {
		return a.timerAt[q.kind] < b.timerAt[q.kind]
	}
	return a.id < b.id
}

func (q *timerQueue) swap(i, j int) {
	q.h[i], q.h[j] = q.h[j], q.h[i]
	q.h[i].timerIdx[q.kind] = i + 1
	q.h[j].timerIdx[q.kind] = j + 1
}

func (q *timerQueue) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			return
		}
		q.swap(i, p)
		i = p
	}
}

func (q *timerQueue) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(q.h) {
			return
		}
		m := l
		if r := l + 1; r < len(q.h) && q.less(r, l) {
			m = r
		}
		if !q.less(m, i) {
			return
		}
		q.swap(i, m)
		i = m
	}
}

// set schedules t's timer at at, moving it if it was scheduled.
func (q *timerQueue) set(t *txn, at int64) {
	t.timerAt[q.kind] = at
	if i := t.timerIdx[q.kind] - 1; i >= 0 {
		q.up(i)
		q.down(t.timerIdx[q.kind] - 1)
		return
	}
	q.h = append(q.h, t)
	t.timerIdx[q.kind] = len(q.h)
	q.up(len(q.h) - 1)
}

// remove unschedules t's timer, if it has one.
func (q *timerQueue) remove(t *txn) {
	i := t.timerIdx[q.kind] - 1
	if i < 0 {
		return
	}
	last := len(q.h) - 1
	if i != last {
		q.swap(i, last)
	}
	q.h[last] = nil
	q.h = q.h[:last]
	t.timerIdx[q.kind] = 0
	if i != last {
		q.down(i) // what moved down leaves a child in i, not above i's parent
		q.up(i)
	}
}

// scheduled reports whether t has a timer in q.
func (q *timerQueue) scheduled(t *txn) bool { return t.timerIdx[q.kind] > 0 }

// next is when the earliest timer is due (ok false when none is scheduled).
func (q *timerQueue) next() (int64, bool) {
	if len(q.h) == 0 {
		return 0, false
	}
	return q.h[0].timerAt[q.kind], true
}

// popDue removes and returns, in order, the timers due at now, at most max of them.
func (q *timerQueue) popDue(now int64, max int) []*txn {
	var out []*txn
	for len(q.h) > 0 && len(out) < max && q.h[0].timerAt[q.kind] <= now {
		t := q.h[0]
		q.remove(t)
		out = append(out, t)
	}
	return out
}
