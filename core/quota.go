package core

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/seedlog/seedlog/core/kafka"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Client quotas, as Kafka's broker enforces them (KIP-13, KIP-55, KIP-219): each broker
// measures, per quota entity, the bytes clients produce and fetch as a rate over a
// sliding window of Config.QuotaWindowNum samples of Config.QuotaWindowSize each. A
// response that takes the rate over the quota carries the time the client must wait,
// (rate - quota) / quota * window, and the connection is muted that long: requests that
// arrive on it meanwhile wait inside the node (within the in-flight bound) and are
// handled once the mute ended. A throttled Fetch is answered without its records, which
// are not counted, as in Kafka; a fetch asks for at most the quota's bytes over the
// window.
//
// request_percentage bounds the time the node spends on a quota entity's requests, in
// percent of one thread: the shell measures it (Request.ThreadNanos) and every answered
// request records it, as Kafka's request quota does. Its throttle is at most one window
// (Kafka bounds it so), and when it exceeds a byte-rate throttle it is the one the
// response carries; a Fetch throttled by it goes without its records too. A cluster
// without quotas does one check per request.

// quotaSensorsMax bounds the measured rates a node keeps (one per quota kind, entity
// and the request's user and client id).
const quotaSensorsMax = 10_000

// quotaKind tells the enforced quotas apart.
type quotaKind uint8

const (
	quotaProduce quotaKind = iota
	quotaFetch
	quotaRequest
)

func (k quotaKind) key() string {
	switch k {
	case quotaProduce:
		return metadata.QuotaProducerByteRate
	case quotaFetch:
		return metadata.QuotaConsumerByteRate
	}
	return metadata.QuotaRequestPercentage
}

// sensorKey names one measured rate: the quota kind and the tags Kafka's default quota
// callback gives it, the user and client id of the request for the entity types of the
// quota entity that matched (so that clients under one user quota share a rate, while
// each client id under a default client-id quota has its own).
type sensorKey struct {
	kind   quotaKind
	entity metadata.QuotaEntity // the matched entity's types with the request's names
}

// quotaState is the node's quota enforcement.
type quotaState struct {
	sensors map[sensorKey]*rateSensor
	// muted lists the connections that are muted or hold requests, sorted.
	muted []ConnID
	// sweepAt is when idle sensors are next forgotten.
	sweepAt int64
}

// sample is one window of a sampled rate (Kafka's SampledStat.Sample).
type sample struct {
	start int64 // ns
	value float64
}

// rateSensor is Kafka's Rate over a SampledStat: samples of windowNs each, at most num
// of them, the oldest reused when a new window starts.
type rateSensor struct {
	samples []sample
	current int
	lastAt  int64
}

// record adds v at now (Kafka's SampledStat.record).
func (s *rateSensor) record(num int, windowNs int64, now int64, v float64) {
	s.lastAt = now
	if len(s.samples) == 0 {
		s.samples = append(s.samples, sample{start: now})
		s.current = 0
	}
	if now-s.samples[s.current].start >= windowNs {
		s.current = (s.current + 1) % num
		if s.current >= len(s.samples) {
			s.samples = append(s.samples, sample{start: now})
		} else {
			s.samples[s.current] = sample{start: now}
		}
	}
	s.samples[s.current].value += v
}

// measure returns the rate in units per second at now and the window it was measured
// over in ns (Kafka's Rate.measure and Rate.windowSize): samples older than the whole
// window are reset first, and the window counts at least num-1 full samples, so a new
// sensor does not read a short burst as a high rate.
func (s *rateSensor) measure(num int, windowNs int64, now int64) (rate float64, spanNs int64) {
	total := 0.0
	oldest := now
	for i := range s.samples {
		if now-s.samples[i].start >= int64(num)*windowNs {
			s.samples[i] = sample{start: now}
		}
		total += s.samples[i].value
		oldest = min(oldest, s.samples[i].start)
	}
	elapsed := now - oldest
	if full := elapsed / windowNs; full < int64(num-1) {
		elapsed += (int64(num-1) - full) * windowNs
	}
	spanNs = max(elapsed, int64(1e6))
	return total / (float64(spanNs) / 1e9), spanNs
}

// throttleMillis is Kafka's ClientQuotaManager.throttleTime: how long until the rate
// falls back to the quota if nothing more is recorded.
func throttleMillis(rate, quota float64, spanNs int64) int32 {
	if rate <= quota {
		return 0
	}
	ms := math.Round((rate - quota) / quota * float64(spanNs) / 1e6)
	return int32(min(ms, math.MaxInt32))
}

// quotaUser is the user name quotas know a principal by: its name after "User:".
func quotaUser(principal string) string {
	return strings.TrimPrefix(principal, "User:")
}

// resolveQuota finds the quota of kind k for user u and client id c in Kafka's order:
// user and client id, user and default client id, user, default user and client id,
// default user and default client id, default user, client id, default client id. It
// returns the sensor the request counts against. A request without a client id ("")
// matches the default client-id entities only, since no entity names "".
func resolveQuota(im metadata.Image, k quotaKind, u, c string) (float64, sensorKey, bool) {
	key := k.key()
	try := [...]metadata.QuotaEntity{ // an array: no allocation per request
		{HasUser: true, User: u, HasClientID: true, ClientID: c},
		{HasUser: true, User: u, HasClientID: true},
		{HasUser: true, User: u},
		{HasUser: true, HasClientID: true, ClientID: c},
		{HasUser: true, HasClientID: true},
		{HasUser: true},
		{HasClientID: true, ClientID: c},
		{HasClientID: true},
	}
	for _, e := range try {
		if v, ok := im.ClientQuota(e, key); ok {
			tags := metadata.QuotaEntity{HasUser: e.HasUser, HasClientID: e.HasClientID}
			if e.HasUser {
				tags.User = u
			}
			if e.HasClientID {
				tags.ClientID = c
			}
			return v, sensorKey{kind: k, entity: tags}, true
		}
	}
	return 0, sensorKey{}, false
}

// quotaCheck records amount (bytes, or percent-seconds of thread time) against the quota
// of kind k of the request being handled (its principal and client id) and returns the
// throttle time; zero without a quota.
func (n *Node) quotaCheck(k quotaKind, principal, clientID string, amount float64) int32 {
	s, q := n.quotaSensor(k, principal, clientID)
	if s == nil {
		return 0
	}
	num, win := n.cfg.QuotaWindowNum, int64(n.cfg.QuotaWindowSize)
	s.record(num, win, n.now, amount)
	rate, span := s.measure(num, win, n.now)
	t := throttleMillis(rate, q, span)
	if k == quotaRequest {
		t = min(t, int32(n.cfg.QuotaWindowSize.Milliseconds()))
	}
	return t
}

// quotaUnrecord takes back bytes a throttled Fetch counted against its consumer quota:
// the response goes without its records (Kafka's unrecordQuotaSensor).
func (n *Node) quotaUnrecord(principal, clientID string, bytes int) {
	if s, _ := n.quotaSensor(quotaFetch, principal, clientID); s != nil && bytes > 0 {
		s.record(n.cfg.QuotaWindowNum, int64(n.cfg.QuotaWindowSize), n.now, -float64(bytes))
	}
}

// quotaSensor is the measured rate a request of principal and clientID counts against
// for quota kind k, and the quota; nil without a quota.
func (n *Node) quotaSensor(k quotaKind, principal, clientID string) (*rateSensor, float64) {
	q, key, ok := resolveQuota(n.quorum.image, k, quotaUser(principal), clientID)
	if !ok {
		return nil, 0
	}
	qs := &n.quotas
	if qs.sensors == nil {
		qs.sensors = map[sensorKey]*rateSensor{}
	}
	s := qs.sensors[key]
	if s == nil && len(qs.sensors) >= quotaSensorsMax {
		// Client ids are the client's to choose: past the bound, new ones share the
		// sensor of the entity that matched, names left out, until idle sensors go.
		key.entity.User, key.entity.ClientID = "", ""
		s = qs.sensors[key]
	}
	if s == nil {
		s = &rateSensor{}
		qs.sensors[key] = s
		n.note("quota-sensor", k.key()+" "+key.entity.String())
	}
	return s, q
}

// fetchQuotaBytes is the most a fetch of the request being handled may read under its
// consumer quota: the quota over num-1 windows (Kafka's getMaxValueInQuotaWindow); -1
// without a quota.
func (n *Node) fetchQuotaBytes(principal, clientID string) int64 {
	q, _, ok := resolveQuota(n.quorum.image, quotaFetch, quotaUser(principal), clientID)
	if !ok {
		return -1
	}
	secs := float64(n.cfg.QuotaWindowNum-1) * n.cfg.QuotaWindowSize.Seconds()
	return int64(min(q*secs, math.MaxInt32))
}

// mute keeps connection c's requests waiting until now + ms, for a quota of kind k.
func (n *Node) mute(c ConnID, ms int32, k quotaKind) {
	cn := n.conns.byID[c]
	if cn == nil || ms <= 0 {
		return
	}
	until := n.now + int64(ms)*1e6
	n.note("quota-throttled", fmt.Sprintf("connection %d muted %d ms until %d by %s", c, ms, until, k.key()))
	if n.cfg.Plants.On(plant.QuotaMuteIgnored) {
		return
	}
	cn.mutedUntil = max(cn.mutedUntil, until)
	n.quotas.track(c)
}

func (qs *quotaState) track(c ConnID) {
	if i, found := slices.BinarySearch(qs.muted, c); !found {
		qs.muted = slices.Insert(qs.muted, i, c)
	}
}

// Holds reports whether a request arriving on connection c at now would wait for the
// end of a client quota's mute rather than be handled at once. The simulator's checkers
// of what a node decides at a request's arrival skip such requests.
func (n *Node) Holds(c ConnID, now int64) bool {
	cn := n.conns.byID[c]
	return cn != nil && (cn.mutedUntil > now || len(cn.held) > 0)
}

// quotaDeadline is when the earliest muted connection that holds requests may go on.
func (n *Node) quotaDeadline() int64 {
	d := NoDeadline
	for _, c := range n.quotas.muted {
		if cn := n.conns.byID[c]; cn != nil && len(cn.held) > 0 {
			d = min(d, cn.mutedUntil)
		}
	}
	return d
}

// tickQuotas handles the requests of connections whose mute ended, in connection order,
// and forgets sensors idle for a whole window.
func (n *Node) tickQuotas(now int64) {
	qs := &n.quotas
	if len(qs.muted) > 0 {
		// handle may mute connections again (track), so the list is rebuilt.
		ids := qs.muted
		qs.muted = nil
		for _, c := range ids {
			cn := n.conns.byID[c]
			for cn != nil && cn.mutedUntil <= now && len(cn.held) > 0 {
				h := cn.held[0]
				cn.held[0] = heldRequest{}
				cn.held = cn.held[1:]
				n.note("quota-released", fmt.Sprintf("connection %d", c))
				n.handle(cn, h.s, h.req)
				cn = n.conns.byID[c]
			}
			if cn != nil && (cn.mutedUntil > now || len(cn.held) > 0) {
				qs.track(c)
			}
		}
	}
	if len(qs.sensors) > 0 && now >= qs.sweepAt {
		idle := int64(n.cfg.QuotaWindowNum) * int64(n.cfg.QuotaWindowSize)
		// order-independent: deletes each idle sensor, whatever the order.
		for k, s := range qs.sensors {
			if now-s.lastAt >= idle {
				delete(qs.sensors, k)
			}
		}
		qs.sweepAt = now + idle
	}
}

// produceBytes is the size of a Produce request's record batches.
func produceBytes(m *kmsg.ProduceRequest) int {
	total := 0
	for _, t := range m.Topics {
		for _, p := range t.Partitions {
			total += len(p.Records)
		}
	}
	return total
}

// quotaReply wraps the reply of a Produce or Fetch of the request being handled when a
// quota may apply; otherwise it returns reply unchanged.
func (n *Node) quotaReply(req Request, reply func(kmsg.Response)) func(kmsg.Response) {
	if n.quorum.image.QuotaEntityCount() == 0 {
		return reply
	}
	principal, clientID, conn := n.ctx.principal, req.ClientID, req.Conn
	switch m := req.Msg.(type) {
	case *kmsg.ProduceRequest:
		bytes := produceBytes(m)
		return func(resp kmsg.Response) {
			t := n.quotaCheck(quotaProduce, principal, clientID, float64(bytes))
			if r, ok := resp.(*kmsg.ProduceResponse); ok && t > 0 {
				r.ThrottleMillis = t
			}
			reply(resp)
			n.mute(conn, t, quotaProduce)
		}
	case *kmsg.FetchRequest:
		if most := n.fetchQuotaBytes(principal, clientID); most >= 0 && m.Version >= 3 {
			m.MaxBytes = int32(min(int64(m.MaxBytes), max(most, 1)))
		}
		return func(resp kmsg.Response) {
			r, ok := resp.(*kafka.FetchAnswer)
			if !ok {
				reply(resp)
				return
			}
			bytes := int(r.RecordBytes())
			t := n.quotaCheck(quotaFetch, principal, clientID, float64(bytes))
			if t > 0 {
				n.quotaUnrecord(principal, clientID, bytes)
				r.ThrottleMillis = t
				r.DropRecords()
			}
			reply(resp)
			n.mute(conn, t, quotaFetch)
		}
	}
	return reply
}

// requestQuotaReply wraps the reply of the request being handled so that the thread time
// the shell measured for it counts against its request_percentage quota, if any; the
// byte-rate quotas (quotaReply) wrap inside it, so a response reaches it with their
// throttle already set. An acks=0 produce, answered with nothing, is not counted (as in
// Kafka).
func (n *Node) requestQuotaReply(req Request, reply func(kmsg.Response)) func(kmsg.Response) {
	if n.quorum.image.QuotaEntityCount() == 0 {
		return reply
	}
	principal, clientID, conn := n.ctx.principal, req.ClientID, req.Conn
	percent := float64(max(req.ThreadNanos, 0)) * 100 / 1e9 // percent of a thread for a second
	return func(resp kmsg.Response) {
		if resp == nil {
			reply(resp)
			return
		}
		t := n.quotaCheck(quotaRequest, principal, clientID, percent)
		if n.cfg.Plants.On(plant.RequestQuotaIgnored) {
			t = 0
		}
		if t > 0 {
			if r, ok := resp.(kmsg.ThrottleResponse); ok {
				if had, _ := r.Throttle(); had < t {
					resp.(kmsg.SetThrottleResponse).SetThrottle(t)
				}
			}
			if r, ok := resp.(*kafka.FetchAnswer); ok {
				n.quotaUnrecord(principal, clientID, int(r.RecordBytes()))
				r.DropRecords()
			}
		}
		reply(resp)
		n.mute(conn, t, quotaRequest)
	}
}
