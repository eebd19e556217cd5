package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/seedlog/seedlog/core/kafka/wire"
	"github.com/seedlog/seedlog/netsim"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Errors a call can end with besides a response. errNotSent means the request never left
// the client (safe to retry anywhere); the others leave its effect unknown.
var (
	errNotSent   = errors.New("not sent: connection refused")
	errNoVersion = fmt.Errorf("%w: no version both ends serve", errNotSent)
	errTimeout   = errors.New("request timed out")
	errBroken    = errors.New("connection broke with the request in flight")
	errMalformed = errors.New("response could not be decoded")
	// errNoResponse ends an acks=0 produce once sent: no answer ever comes.
	errNoResponse = errors.New("sent; acks=0 gets no response")
)

// clientMinVersion is the lowest version a simulated client uses per API key, where an
// older version cannot express what the client means (Metadata v0 cannot ask for no
// topics; DescribeCluster before v2 cannot include fenced brokers; DeleteTopics and
// CreatePartitions are fine from v0).
//
// Data clients: Produce before v3 and Fetch before v4 carry the old message format, which
// seedlog does not store; ListOffsets v0 answers with an offset list; OffsetCommit and
// OffsetFetch before v1 and v2 keep offsets in ZooKeeper; JoinGroup before v4 has no
// member id round trip (KIP-394), which every client since uses.
var clientMinVersion = map[int16]int16{metadataKey: 1, describeClusterKey: 2, produceKey: 3, fetchKey: 4,
	listOffsetsKey: 1, offsetCommitKey: 2, offsetFetchKey: 1, joinGroupKey: 4, syncGroupKey: 1, heartbeatKey: 1, leaveGroupKey: 1}

// Client is a small deterministic Kafka client: connections to brokers with an
// ApiVersions handshake, correlation ids, in-order response matching, per-request
// timeouts, metadata refresh and controller discovery. Operations built on it (the
// workload) record themselves in the history.
type Client struct {
	w    *World
	id   int32
	addr netsim.Addr
	rng  *rand.Rand
	fmt  *kmsg.RequestFormatter
	// conns holds the open connection to each node, by node id - 1.
	conns []*conn
	// brokers are the broker ids from the latest metadata; bootstrap is every broker of
	// the cluster, the client's seed list, which it falls back on after a refused
	// connection (a broker list learned from a stale broker may name only dead ones).
	brokers   []int32
	bootstrap []int32
	refused   bool
	// controller is the broker that forwards to the controller (Metadata ControllerID),
	// -1 when unknown.
	controller int32
	corr       int32
	timers     map[uint64]func()
	nextTimer  uint64
	// role says what drives the client: the workload, the liveness probe, final reads.
	role clientRole
	// stopped clients start no new operations.
	stopped bool
	// busy is set while an operation runs.
	busy bool
	// metadataLists is set once a broker did not serve DescribeCluster v2: broker lists
	// then come from Metadata, which leaves fenced brokers out.
	metadataLists bool
	// direct sends admin requests to the known controller-forwarding broker every time
	// (scenarios); otherwise a quarter of them go to any broker, to exercise forwarding.
	direct bool
	// topics is what the client knows of the data topics; refreshing is set while a
	// Metadata request for them is out, and refreshWaiters run when it ends.
	topics         map[string]*topicMeta
	extraTopics    []string // topics beyond the data topics the client refreshes
	refreshing     bool
	refreshWaiters []func()
	// act, when set, starts the client's next operation instead of the metadata
	// workload; interval is its mean think time.
	act      func()
	interval time.Duration
	// desc says what the client is, for scenario files; onStep starts a step of a
	// schedule (script.go) and returns why it could not, if it could not; steps holds
	// the steps waiting for the client to be free.
	desc   string
	onStep func(st *Step) string
	steps  []int
	// listener names the node listener the client's connections reach ("": the first).
	listener string
	// isolation is the isolation level of the client's fetches (1: read_committed).
	isolation int8
}

type clientRole uint8

const (
	roleWorkload clientRole = iota + 1
	roleProbe
	roleReader
	roleSetup
	roleProducer
	roleConsumer
	roleMember
	roleDataProbe
	roleGrower
	roleOffsetAdmin
	// roleCredentials changes SCRAM credentials and authenticates; roleSASL is the
	// connection pool it authenticates on (the nodes' SASL listener).
	roleCredentials
	roleSASL
	// roleQuota sets and removes the client quota of the run.
	roleQuota
	// roleElector asks for preferred leader elections (leaders.go).
	roleElector
	// roleMover reassigns partitions (moves.go).
	roleMover
)

// conn is a client's connection to one node.
type conn struct {
	c    *Client
	node int32
	link *link
	// ready is set once the ApiVersions handshake gave the served versions.
	ready    bool
	versions map[int16][2]int16
	queued   []*call // waiting for the handshake
	inflight []*call // sent, answers expected in this order
	dead     bool
}

// call is one request and what to do with its answer.
type call struct {
	req      kmsg.Request
	corr     int32
	timer    uint64
	timeout  time.Duration
	done     bool
	cb       func(kmsg.Response, error)
	internal bool // the handshake
	// lo and hi narrow the versions this call may use, when limited (a field that only
	// some versions carry).
	lo, hi  int16
	limited bool
	// silent marks an acks=0 produce: the broker never answers it.
	silent bool
}

func newClient(w *World, id int32, role clientRole) *Client {
	return &Client{
		w:          w,
		id:         id,
		addr:       netsim.Addr(clientAddrBase + id),
		rng:        Stream(w.cfg.Seed, streamClient, int64(id)),
		fmt:        kmsg.NewRequestFormatter(kmsg.FormatterClientID(fmt.Sprintf("sim-client-%d", id))), // clientID()
		conns:      make([]*conn, len(w.nodes)),
		brokers:    w.cfg.Brokers(),
		bootstrap:  w.cfg.Brokers(),
		controller: -1,
		timers:     map[uint64]func(){},
		role:       role,
	}
}

// addClient creates a client with the next id.
func (w *World) addClient(role clientRole) *Client {
	c := newClient(w, int32(len(w.clients)+1), role)
	w.clients = append(w.clients, c)
	return c
}

// later runs fn after d of virtual time.
func (c *Client) later(d time.Duration, fn func()) uint64 {
	c.nextTimer++
	tok := c.nextTimer
	c.timers[tok] = fn
	e := c.w.schedule(c.w.now+int64(d), evClient)
	e.node = c.id
	e.token = tok
	return tok
}

func (c *Client) cancel(tok uint64) { delete(c.timers, tok) }

// timer runs the callback of a timer event, unless it was cancelled.
func (c *Client) timer(tok uint64) {
	fn, ok := c.timers[tok]
	if !ok {
		return
	}
	delete(c.timers, tok)
	fn()
}

// send sends req to node and calls cb with the response or an error, always later than
// now (never from inside send).
func (c *Client) send(node int32, req kmsg.Request, timeout time.Duration, cb func(kmsg.Response, error)) {
	c.sendCall(node, &call{req: req, timeout: timeout, cb: cb})
}

// sendLimited is send with the request's version limited to [lo, hi].
func (c *Client) sendLimited(node int32, req kmsg.Request, lo, hi int16, timeout time.Duration, cb func(kmsg.Response, error)) {
	c.sendCall(node, &call{req: req, timeout: timeout, cb: cb, lo: lo, hi: hi, limited: true})
}

func (c *Client) sendCall(node int32, cl *call) {
	cb, timeout := cl.cb, cl.timeout
	if p, ok := cl.req.(*kmsg.ProduceRequest); ok && p.Acks == 0 {
		cl.silent = true
	}
	cc := c.connTo(node)
	if cc == nil {
		c.later(0, func() { cb(nil, errNotSent) })
		return
	}
	cl.timer = c.later(timeout, func() { c.timedOut(cc, cl) })
	if !cc.ready {
		cc.queued = append(cc.queued, cl)
		return
	}
	cc.write(cl)
}

// connTo returns the connection to node, opening it (and starting the handshake) if
// needed; nil when the connection is refused.
func (c *Client) connTo(node int32) *conn {
	i := int(node - 1)
	if i < 0 || i >= len(c.conns) {
		return nil
	}
	if cc := c.conns[i]; cc != nil && !cc.dead {
		return cc
	}
	cc := &conn{c: c, node: node}
	l, ok := c.w.openLink(c, cc, node)
	if !ok {
		c.w.cov.Inc("client:connect-refused")
		c.refused = true
		return nil
	}
	cc.link = l
	c.conns[i] = cc
	c.handshake(cc, c.pickApiVersionsVersion())
	return cc
}

func (c *Client) pickApiVersionsVersion() int16 {
	hi := kmsg.NewPtrApiVersionsRequest().MaxVersion()
	switch c.w.cfg.Workload.Versions {
	case "min":
		return 0
	case "random":
		return int16(c.rng.IntN(int(hi) + 1))
	}
	return hi
}

// handshake asks the node which versions it serves (KIP-511: on UNSUPPORTED_VERSION the
// client retries at version 0).
func (c *Client) handshake(cc *conn, version int16) {
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(version)
	req.ClientSoftwareName = "seedlog-sim"
	req.ClientSoftwareVersion = "1.0.0"
	cl := &call{req: req, timeout: c.w.cfg.Timing.RequestTimeout, internal: true}
	cl.cb = func(resp kmsg.Response, err error) {
		if err != nil {
			return // the connection is broken; queued calls were failed with it
		}
		r := resp.(*kmsg.ApiVersionsResponse)
		if r.ErrorCode == errUnsupportedVersion && version > 0 {
			c.handshake(cc, 0)
			return
		}
		if r.ErrorCode != errNone {
			c.w.fail("client", cc.node, "node %d answered ApiVersions v%d with %s", cc.node, version, errorName(r.ErrorCode))
			return
		}
		cc.versions = map[int16][2]int16{}
		for _, k := range r.ApiKeys {
			cc.versions[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
		}
		cc.ready = true
		queued := cc.queued
		cc.queued = nil
		for _, q := range queued {
			if !q.done {
				cc.write(q)
			}
		}
	}
	cl.timer = c.later(cl.timeout, func() { c.timedOut(cc, cl) })
	cc.write(cl)
}

// pickVersion chooses a version of key both ends serve, per the seed's policy.
func (cc *conn) pickVersion(cl *call) (int16, bool) {
	req := cl.req
	key := req.Key()
	r, ok := cc.versions[key]
	if !ok {
		return 0, false
	}
	lo := max(r[0], clientMinVersion[key])
	hi := min(r[1], req.MaxVersion())
	if cl.limited {
		lo, hi = max(lo, cl.lo), min(hi, cl.hi)
	}
	if lo > hi {
		return 0, false
	}
	switch cc.c.w.cfg.Workload.Versions {
	case "min":
		return lo, true
	case "random":
		return lo + int16(cc.c.rng.IntN(int(hi-lo)+1)), true
	}
	return hi, true
}

// write encodes and sends a call on the connection.
func (cc *conn) write(cl *call) {
	c := cc.c
	if !cl.internal {
		v, ok := cc.pickVersion(cl)
		if !ok {
			c.w.cov.Inc("client:no-common-version")
			c.finish(cl, nil, errNoVersion)
			return
		}
		cl.req.SetVersion(v)
	}
	c.corr++
	cl.corr = c.corr
	frame := c.w.frameOf(func(b []byte) []byte { return c.fmt.AppendRequest(b, cl.req, cl.corr) })
	if cl.silent {
		c.w.streamSend(cc.link, c.addr, netsim.Addr(cc.node), frame)
		c.later(0, func() { c.finish(cl, nil, errNoResponse) })
		return
	}
	cc.inflight = append(cc.inflight, cl)
	c.w.streamSend(cc.link, c.addr, netsim.Addr(cc.node), frame)
}

// receive matches a response frame with the oldest call in flight: brokers answer in
// request order, so anything else is a broker bug.
func (cc *conn) receive(frame []byte) {
	c := cc.c
	if cc.dead {
		return
	}
	body := frame[4:]
	if len(cc.inflight) == 0 {
		c.w.fail("client", cc.node, "client %d got a response from node %d with no request in flight", c.id, cc.node)
		return
	}
	cl := cc.inflight[0]
	cc.inflight = cc.inflight[1:]
	if len(body) < 4 {
		c.w.fail("client", cc.node, "client %d: short response frame from node %d", c.id, cc.node)
		return
	}
	if corr := int32(binary.BigEndian.Uint32(body)); corr != cl.corr {
		c.w.fail("client", cc.node, "client %d: node %d answered correlation id %d while %d was the oldest in flight (responses out of order)", c.id, cc.node, corr, cl.corr)
		return
	}
	resp, err := parseResponse(body, cl.req)
	if err != nil {
		c.w.fail("client", cc.node, "client %d: node %d sent an undecodable %s response: %v", c.id, cc.node, kmsg.NameForKey(cl.req.Key()), err)
		return
	}
	c.finish(cl, resp, nil)
}

// parseResponse decodes a response at the request's version. An ApiVersions answer may
// come at version 0 when the broker did not serve the version asked (KIP-511).
func parseResponse(body []byte, req kmsg.Request) (kmsg.Response, error) {
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	_, err := wire.ParseResponse(body, resp)
	if err != nil && req.Key() == apiVersionsKey && req.GetVersion() > 0 {
		resp = req.ResponseKind()
		resp.SetVersion(0)
		_, err = wire.ParseResponse(body, resp)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	return resp, nil
}

// finish completes a call once.
func (c *Client) finish(cl *call, resp kmsg.Response, err error) {
	if cl.done {
		return
	}
	cl.done = true
	c.cancel(cl.timer)
	if cl.cb != nil {
		cl.cb(resp, err)
	}
}

// timedOut gives up on a call. Responses come in order, so a client cannot skip one: it
// drops the connection, as Kafka clients do, and the calls behind it fail too.
func (c *Client) timedOut(cc *conn, cl *call) {
	if cl.done {
		return
	}
	c.w.cov.Inc("client:timeout")
	sent := slices.Contains(cc.inflight, cl)
	cc.inflight = slices.DeleteFunc(cc.inflight, func(x *call) bool { return x == cl })
	cc.queued = slices.DeleteFunc(cc.queued, func(x *call) bool { return x == cl })
	if sent {
		c.finish(cl, nil, errTimeout)
	} else {
		c.finish(cl, nil, errNotSent)
	}
	if !cc.dead {
		c.w.breakLink(cc.link.id, false)
	}
}

// broken fails every call on a broken connection: those sent have unknown effects,
// those still queued were never sent.
func (cc *conn) broken() {
	if cc.dead {
		return
	}
	cc.dead = true
	c := cc.c
	if i := int(cc.node - 1); c.conns[i] == cc {
		c.conns[i] = nil
	}
	inflight, queued := cc.inflight, cc.queued
	cc.inflight, cc.queued = nil, nil
	for _, cl := range inflight {
		c.finish(cl, nil, errBroken)
	}
	for _, cl := range queued {
		c.finish(cl, nil, errNotSent)
	}
}

// randomBroker picks a known broker, or one of the seed list after a refused
// connection.
func (c *Client) randomBroker() int32 {
	list := c.brokers
	if c.refused {
		c.refused = false
		list = c.bootstrap
	}
	return list[c.rng.IntN(len(list))]
}

// adminTarget is where admin requests go: the broker the last metadata named as
// controller (it forwards to the active controller), else any broker.
func (c *Client) adminTarget() int32 {
	if c.controller > 0 && (c.direct || c.rng.IntN(4) != 0) {
		return c.controller
	}
	return c.randomBroker()
}

// refreshMetadata asks a broker for the cluster's brokers and controller; cb runs after,
// whatever happened.
func (c *Client) refreshMetadata(cb func()) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	c.send(c.randomBroker(), req, c.w.cfg.Timing.RequestTimeout, func(resp kmsg.Response, err error) {
		if err == nil {
			c.learn(resp.(*kmsg.MetadataResponse))
		}
		if cb != nil {
			cb()
		}
	})
}

// learn updates the client's view of the cluster from a Metadata response.
func (c *Client) learn(r *kmsg.MetadataResponse) {
	var ids []int32
	for _, b := range r.Brokers {
		if c.w.node(b.NodeID) != nil {
			ids = append(ids, b.NodeID)
		}
	}
	if len(ids) > 0 {
		slices.Sort(ids)
		c.brokers = slices.Compact(ids)
	}
	if c.w.node(r.ControllerID) != nil {
		c.controller = r.ControllerID
	} else {
		c.controller = -1
	}
}
