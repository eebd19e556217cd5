package sim

import (
	"fmt"
	"slices"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// quotaCheck follows client quotas on every node (runs with DataConfig.QuotaRate):
//
//   - a mute is a promise (KIP-219): once a response told a connection to wait (the
//     node's quota-throttled note, with the end of the mute on its clock), no request
//     that arrived on that connection after it may be answered before the mute ended;
//   - the throttle times hold a client id to its rate: the bytes of the produce requests
//     a node counted for a client id (from the quota-sensor note that started its
//     measure) within any quotaWindow stay within twice the rate over the window (Kafka's
//     rate spreads a fresh burst over the whole window, and its throttle time assumes
//     the window keeps growing, which lets a burst and its successor overlap), plus, for
//     each connection that produced in the window, the most produce bytes it had in
//     flight at once: a node serves a connection's requests pipelined, so all the
//     requests that arrived before a throttled answer are counted, and a mute's end
//     releases every request it held.
//
// Times are the node's local clock, within one incarnation (a restart forgets mutes and
// measures).
type quotaCheck struct {
	fail     func(checker string, node int32, format string, args ...any)
	count    func(what string)
	rate     float64
	seq      int64 // arrivals so far
	arrivals map[quotaReqKey]quotaArrival
	mutes    map[quotaConnKey][]quotaMute
	// produced holds each measured sensor's produce requests within the last window.
	produced map[quotaSensorKey][]quotaProduced
	// inFlight is the produce bytes of each connection that arrived and are not
	// answered.
	inFlight map[quotaConnKey]int
}

type quotaConnKey struct {
	node int32
	inc  uint32
	conn core.ConnID
}

type quotaReqKey struct {
	quotaConnKey
	corr int32
}

type quotaArrival struct {
	seq      int64
	clientID string
	bytes    int // a produce request's record bytes; -1 for other requests
	inFlight int // the connection's produce bytes in flight with it
}

type quotaMute struct {
	seq   int64 // arrivals before the mute began
	until int64
}

type quotaSensorKey struct {
	node   int32
	inc    uint32
	sensor string
}

type quotaProduced struct {
	at       int64
	bytes    int
	conn     core.ConnID
	inFlight int
}

// quotaNode is what the checker knows of the node an event happened on.
type quotaNode struct {
	id  int32
	inc uint32
	now int64   // local time
	m   Machine // nil: assume its image holds the quota
}

func (n *simNode) quotaNode() quotaNode { return quotaNode{n.spec.ID, n.inc, n.localNow(), n.m} }

func newQuotaCheck(w *World) *quotaCheck {
	return &quotaCheck{fail: w.fail, count: w.cov.Inc, rate: w.cfg.Data.QuotaRate, arrivals: map[quotaReqKey]quotaArrival{},
		mutes: map[quotaConnKey][]quotaMute{}, produced: map[quotaSensorKey][]quotaProduced{}, inFlight: map[quotaConnKey]int{}}
}

// arrived notes a request delivered to node n.
func (q *quotaCheck) arrived(n quotaNode, conn core.ConnID, corr int32, clientID string, req kmsg.Request) {
	q.seq++
	a := quotaArrival{seq: q.seq, clientID: clientID, bytes: -1}
	if p, ok := req.(*kmsg.ProduceRequest); ok {
		a.bytes = 0
		for _, t := range p.Topics {
			for _, pp := range t.Partitions {
				a.bytes += len(pp.Records)
			}
		}
		ck := quotaConnKey{n.id, n.inc, conn}
		q.inFlight[ck] += a.bytes
		a.inFlight = q.inFlight[ck]
	}
	q.arrivals[quotaReqKey{quotaConnKey{n.id, n.inc, conn}, corr}] = a
}

// note follows node n's quota notes.
func (q *quotaCheck) note(n quotaNode, kind, text string) {
	switch kind {
	case "quota-throttled":
		var conn core.ConnID
		var ms int32
		var until int64
		if _, err := fmt.Sscanf(text, "connection %d muted %d ms until %d", &conn, &ms, &until); err != nil {
			q.fail("quota", n.id, "unreadable quota-throttled note %q: %v", text, err)
			return
		}
		// Each throttle binds the requests that arrive after it, until its own end: a
		// later, longer one does not hold back what arrived before it.
		k := quotaConnKey{n.id, n.inc, conn}
		live := slices.DeleteFunc(q.mutes[k], func(m quotaMute) bool { return m.until <= n.now })
		q.mutes[k] = append(live, quotaMute{seq: q.seq, until: until})
		q.count("quota:throttled")
	case "quota-sensor":
		q.produced[quotaSensorKey{n.id, n.inc, text}] = []quotaProduced{}
	}
}

// answered checks a response (or the completion of an acks=0 produce) node n emitted at
// local time now.
func (q *quotaCheck) answered(n quotaNode, r core.Response) {
	now := n.now
	ck := quotaConnKey{n.id, n.inc, r.Conn}
	rk := quotaReqKey{ck, r.Corr}
	a, ok := q.arrivals[rk]
	if !ok {
		return
	}
	delete(q.arrivals, rk)
	if a.bytes >= 0 {
		if q.inFlight[ck] -= a.bytes; q.inFlight[ck] <= 0 {
			delete(q.inFlight, ck)
		}
	}
	for _, m := range q.mutes[ck] {
		if a.seq <= m.seq {
			continue
		}
		if now < m.until {
			q.fail("quota", n.id, "connection %d: a request (corr %d) that arrived after its throttled response was answered at %d, %.3f ms before its mute ended at %d",
				r.Conn, r.Corr, now, float64(m.until-now)/1e6, m.until)
			return
		}
		q.count("quota:held-then-served")
		break
	}
	if a.bytes < 0 {
		return
	}
	sk := quotaSensorKey{n.id, n.inc, "producer_byte_rate {client-id=" + a.clientID + "}"}
	list, measured := q.produced[sk]
	if !measured || !nodeHasQuota(n, a.clientID) {
		// A node counts what it answers while its image holds a quota for the client;
		// one whose image lags (or lost it in a restart) does not.
		return
	}
	list = append(list, quotaProduced{at: now, bytes: a.bytes, conn: r.Conn, inFlight: a.inFlight})
	from := now - int64(quotaWindow)
	i := 0
	for i < len(list) && list[i].at <= from {
		i++
	}
	list = list[i:]
	q.produced[sk] = list
	total := 0
	largest := map[core.ConnID]int{}
	for _, p := range list {
		total += p.bytes
		largest[p.conn] = max(largest[p.conn], p.inFlight)
	}
	slack := 0
	// order-independent: a sum.
	for _, b := range largest {
		slack += b
	}
	bound := 2*q.rate*quotaWindow.Seconds() + float64(slack)
	if float64(total) > bound {
		q.fail("quota", n.id, "client id %s produced %d bytes to node %d within %v, more than its producer_byte_rate of %.0f B/s allows (%.0f, of which %d for what each of its %d connections had in flight at most)",
			a.clientID, total, n.id, quotaWindow, q.rate, bound, slack, len(largest))
	}
}

// nodeHasQuota reports whether node n's image gives clientID a producer_byte_rate (the
// run sets one on client ids or the default client-id only).
func nodeHasQuota(n quotaNode, clientID string) bool {
	h, ok := n.m.(imageHolder)
	if !ok {
		return true
	}
	im := h.Image()
	for _, e := range []metadata.QuotaEntity{{HasClientID: true, ClientID: clientID}, {HasClientID: true}} {
		if _, set := im.ClientQuota(e, metadata.QuotaProducerByteRate); set {
			return true
		}
	}
	return false
}

// holds reports whether machine m keeps a request arriving on conn at now waiting for a
// client quota's mute. The serve watch, which checks a node's decision against its state
// at a request's arrival, skips such a request: the node decides when the mute ends.
func holds(m Machine, conn core.ConnID, now int64) bool {
	h, ok := m.(interface{ Holds(core.ConnID, int64) bool })
	return ok && h.Holds(conn, now)
}
