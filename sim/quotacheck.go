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
//   - the throttle times hold a client id to its quotas: what a node counted for a
//     client id (from the quota-sensor note that started its measure) within any
//     quotaWindow, the bytes of its produce requests for producer_byte_rate and the
//     thread time of its requests (core.Request.ThreadNanos) for request_percentage,
//     stays within twice the quota over the window (Kafka's rate spreads a fresh burst
//     over the whole window, and its throttle time assumes the window keeps growing,
//     which lets a burst and its successor overlap), plus, for each connection that used
//     it in the window, the most it had in flight at once: a node serves a connection's
//     requests pipelined, so all the requests that arrived before a throttled answer
//     are counted, and a mute's end releases every request it held. A request quota's
//     throttle is at most one quota window, so there a connection may bring its
//     in-flight requests through once per quota window.
//
// Times are the node's local clock, within one incarnation (a restart forgets mutes and
// measures).
type quotaCheck struct {
	fail     func(checker string, node int32, format string, args ...any)
	count    func(what string)
	meters   []quotaMeter
	seq      int64 // arrivals so far
	arrivals map[quotaReqKey]quotaArrival
	mutes    map[quotaConnKey][]quotaMute
	// used holds each measured sensor's uses within the last window.
	used map[quotaSensorKey][]quotaUse
	// inFlight is what each connection's arrived and unanswered requests would count,
	// per meter.
	inFlight map[quotaConnKey][quotaMeters]float64
}

// quotaMeters is how many quotas the checker follows.
const quotaMeters = 2

// quotaMeter is one quota the run sets: its key, its limit in units a second, and what
// a request counts against it.
type quotaMeter struct {
	key   string
	quota float64 // as set
	limit float64 // units a second
	unit  string
	// burstsPerWindow is how many times within quotaWindow a connection may bring its
	// in-flight requests through a mute.
	burstsPerWindow float64
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
	// amounts is what the request counts against each meter when answered: a produce
	// request's record bytes, and the thread time in seconds of every request that gets
	// an answer (but SASL requests, which no quota measures).
	amounts [quotaMeters]float64
	// inFlight is, per meter, what the connection's requests in flight with it count.
	inFlight [quotaMeters]float64
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

type quotaUse struct {
	at       int64
	amount   float64
	conn     core.ConnID
	inFlight float64
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
	return newQuotaChecker(w.fail, w.cov.Inc, w.cfg.Data.QuotaRate, w.cfg.Data.QuotaRequestPercent)
}

// newQuotaChecker follows a producer_byte_rate of rate bytes a second and a
// request_percentage of percent; a zero one is not set.
func newQuotaChecker(fail func(string, int32, string, ...any), count func(string), rate, percent float64) *quotaCheck {
	return &quotaCheck{fail: fail, count: count,
		meters: []quotaMeter{
			{key: metadata.QuotaProducerByteRate, quota: rate, limit: rate, unit: "bytes", burstsPerWindow: 1},
			{key: metadata.QuotaRequestPercentage, quota: percent, limit: percent / 100, unit: "thread-seconds",
				burstsPerWindow: 1 + float64(quotaWindow/quotaWindowSize)},
		},
		arrivals: map[quotaReqKey]quotaArrival{}, mutes: map[quotaConnKey][]quotaMute{},
		used: map[quotaSensorKey][]quotaUse{}, inFlight: map[quotaConnKey][quotaMeters]float64{}}
}

// arrived notes a request delivered to node n with the thread time it reports.
func (q *quotaCheck) arrived(n quotaNode, conn core.ConnID, corr int32, clientID string, req kmsg.Request, threadNanos int64) {
	q.seq++
	a := quotaArrival{seq: q.seq, clientID: clientID}
	answered := true
	if p, ok := req.(*kmsg.ProduceRequest); ok {
		for _, t := range p.Topics {
			for _, pp := range t.Partitions {
				a.amounts[0] += float64(len(pp.Records))
			}
		}
		answered = p.Acks != 0
	}
	if k := req.Key(); answered && k != saslHandshakeKey && k != saslAuthenticateKey {
		a.amounts[1] = float64(threadNanos) / 1e9
	}
	ck := quotaConnKey{n.id, n.inc, conn}
	f := q.inFlight[ck]
	for i := range f {
		f[i] += a.amounts[i]
	}
	q.inFlight[ck], a.inFlight = f, f
	q.arrivals[quotaReqKey{ck, corr}] = a
}

// note follows node n's quota notes.
func (q *quotaCheck) note(n quotaNode, kind, text string) {
	switch kind {
	case "quota-throttled":
		var conn core.ConnID
		var ms int32
		var until int64
		var key string
		if _, err := fmt.Sscanf(text, "connection %d muted %d ms until %d by %s", &conn, &ms, &until, &key); err != nil {
			q.fail("quota", n.id, "unreadable quota-throttled note %q: %v", text, err)
			return
		}
		// Each throttle binds the requests that arrive after it, until its own end: a
		// later, longer one does not hold back what arrived before it.
		k := quotaConnKey{n.id, n.inc, conn}
		live := slices.DeleteFunc(q.mutes[k], func(m quotaMute) bool { return m.until <= n.now })
		q.mutes[k] = append(live, quotaMute{seq: q.seq, until: until})
		q.count("quota:throttled:" + key)
	case "quota-sensor":
		q.used[quotaSensorKey{n.id, n.inc, text}] = []quotaUse{}
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
	f := q.inFlight[ck]
	for i := range f {
		f[i] -= a.amounts[i]
	}
	if f == ([quotaMeters]float64{}) {
		delete(q.inFlight, ck)
	} else {
		q.inFlight[ck] = f
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
	for i, m := range q.meters {
		if m.limit > 0 && a.amounts[i] > 0 {
			q.use(n, m, a.clientID, quotaUse{at: now, amount: a.amounts[i], conn: r.Conn, inFlight: a.inFlight[i]})
		}
	}
}

// use counts u against meter m of clientID on node n and checks the window it ends.
func (q *quotaCheck) use(n quotaNode, m quotaMeter, clientID string, u quotaUse) {
	sk := quotaSensorKey{n.id, n.inc, m.key + " {client-id=" + clientID + "}"}
	list, measured := q.used[sk]
	if !measured || !nodeHasQuota(n, clientID, m.key) {
		// A node counts what it answers while its image holds a quota for the client;
		// one whose image lags (or lost it in a restart) does not.
		return
	}
	list = append(list, u)
	from := u.at - int64(quotaWindow)
	i := 0
	for i < len(list) && list[i].at <= from {
		i++
	}
	list = list[i:]
	q.used[sk] = list
	total := 0.0
	largest := map[core.ConnID]float64{}
	for _, p := range list {
		total += p.amount
		largest[p.conn] = max(largest[p.conn], p.inFlight)
	}
	slack := 0.0
	// order-independent: a sum.
	for _, b := range largest {
		slack += b
	}
	slack *= m.burstsPerWindow
	bound := 2*m.limit*quotaWindow.Seconds() + slack
	if total > bound {
		q.fail("quota", n.id, "client id %s used %.6g %s of node %d within %v, more than its %s of %g allows (%.6g, of which %.6g for what each of its %d connections had in flight at most)",
			clientID, total, m.unit, n.id, quotaWindow, m.key, m.quota, bound, slack, len(largest))
	}
}

// nodeHasQuota reports whether node n's image gives clientID a quota of key (the run
// sets them on client ids or the default client-id only).
func nodeHasQuota(n quotaNode, clientID, key string) bool {
	h, ok := n.m.(imageHolder)
	if !ok {
		return true
	}
	im := h.Image()
	for _, e := range []metadata.QuotaEntity{{HasClientID: true, ClientID: clientID}, {HasClientID: true}} {
		if _, set := im.ClientQuota(e, key); set {
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
