package controller

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeQuorum is a Proposer that logs decoded records and commits when told.
type fakeQuorum struct {
	t         testing.TB
	entries   []metadata.Entry
	proposals [][]metadata.Record
	next      int64 // offset of the next record
	gap       int64 // offsets skipped before the next proposal (quorum control records)
	refuse    error
}

func (q *fakeQuorum) Propose(now int64, records [][]byte) (int64, error) {
	if q.refuse != nil {
		return 0, q.refuse
	}
	q.next += q.gap
	q.gap = 0
	var batch []metadata.Record
	for _, b := range records {
		rec, err := metadata.Decode(b)
		if err != nil {
			q.t.Fatalf("controller proposed undecodable bytes: %v", err)
		}
		q.entries = append(q.entries, metadata.Entry{Offset: q.next, Record: rec})
		batch = append(batch, rec)
		q.next++
	}
	q.proposals = append(q.proposals, batch)
	return q.next - 1, nil
}

// harness drives one Controller with a fake quorum and a virtual clock.
type harness struct {
	t          *testing.T
	cfg        Config
	c          *Controller
	q          *fakeQuorum
	committed  metadata.Image
	applied    int // entries of q applied to committed
	now        int64
	manual     bool // commit only when told
	nextID     uint64
	responses  map[uint64]kmsg.Response
	responseAt map[uint64]int64
}

func testConfig(seed uint64) Config {
	cfg := DefaultConfig(0, rand.New(rand.NewPCG(seed, 1)))
	cfg.DefaultPartitions, cfg.DefaultReplicationFactor = 3, 2
	return cfg
}

func newHarness(t *testing.T) *harness {
	return newHarnessConfig(t, testConfig(1))
}

func newHarnessConfig(t *testing.T, cfg Config) *harness {
	h := &harness{t: t, cfg: cfg, c: New(cfg), q: &fakeQuorum{t: t}, now: int64(time.Hour),
		responses: map[uint64]kmsg.Response{}, responseAt: map[uint64]int64{}}
	h.q.gap = 1 // the quorum's own leader-change record
	h.c.Activate(h.now, h.committed)
	return h
}

// commit applies every proposed record and tells the controller.
func (h *harness) commit() {
	h.t.Helper()
	if h.applied == len(h.q.entries) {
		return
	}
	im, err := h.committed.ApplyBatch(h.q.entries[h.applied:])
	if err != nil {
		h.t.Fatalf("committed records do not apply: %v", err)
	}
	h.applied = len(h.q.entries)
	if h.c.active && im.Offset() >= h.c.proposedOffset && !metadata.Equal(im, h.c.pending) {
		h.t.Fatal("pending image differs from the committed one with nothing in flight")
	}
	h.committed = im
	h.c.Committed(h.now, im)
	h.collect()
}

// collect takes the responses after an input, and checks that Deadline equals the one
// computed from scratch: a cached answer left stale by some input would delay a Tick.
func (h *harness) collect() {
	if d, want := h.c.Deadline(), h.c.nextDeadline(); d != want {
		h.t.Fatalf("Deadline %d, computed from the controller's state %d", d, want)
	}
	for _, r := range h.c.Ready() {
		if _, dup := h.responses[r.ID]; dup {
			h.t.Fatalf("second response for request %d", r.ID)
		}
		h.responses[r.ID] = r.Msg
		h.responseAt[r.ID] = h.now
	}
}

func (h *harness) send(from int32, msg kmsg.Request) uint64 {
	h.t.Helper()
	h.nextID++
	id := h.nextID
	h.c.Handle(h.now, h.q, Request{ID: id, From: from, Msg: msg})
	h.collect()
	if !h.manual {
		h.commit()
	}
	return id
}

// call sends msg and returns its response, which must be out.
func (h *harness) call(from int32, msg kmsg.Request) kmsg.Response {
	h.t.Helper()
	id := h.send(from, msg)
	r, ok := h.responses[id]
	if !ok {
		h.t.Fatalf("no response to %T", msg)
	}
	if r.GetVersion() != msg.GetVersion() || r.Key() != msg.Key() {
		h.t.Fatalf("response %T v%d to %T v%d", r, r.GetVersion(), msg, msg.GetVersion())
	}
	// The response must survive the wire at its version.
	again := kmsg.ResponseForKey(r.Key())
	again.SetVersion(r.GetVersion())
	if err := again.ReadFrom(r.AppendTo(nil)); err != nil {
		h.t.Fatalf("%T v%d does not round-trip: %v", r, r.GetVersion(), err)
	}
	return r
}

func (h *harness) advance(d time.Duration) {
	h.now += int64(d)
	h.c.Tick(h.now, h.q)
	h.collect()
	if !h.manual {
		h.commit()
	}
}

func registerReq(id int32, rack string, incarnation byte) *kmsg.BrokerRegistrationRequest {
	m := kmsg.NewPtrBrokerRegistrationRequest()
	m.Version = 2
	m.BrokerID = id
	m.IncarnationID = [16]byte{incarnation, byte(id)}
	if rack != "" {
		m.Rack = &rack
	}
	l := kmsg.NewBrokerRegistrationRequestListener()
	l.Name, l.Host, l.Port = "PLAINTEXT", "host", uint16(9092+id)
	m.Listeners = append(m.Listeners, l)
	return m
}

func (h *harness) register(id int32, rack string) int64 {
	h.t.Helper()
	r := h.call(id, registerReq(id, rack, 1)).(*kmsg.BrokerRegistrationResponse)
	if r.ErrorCode != 0 {
		h.t.Fatalf("register %d: error %d", id, r.ErrorCode)
	}
	return r.BrokerEpoch
}

func heartbeatReq(id int32, epoch, offset int64) *kmsg.BrokerHeartbeatRequest {
	m := kmsg.NewPtrBrokerHeartbeatRequest()
	m.Version = 1
	m.BrokerID, m.BrokerEpoch, m.CurrentMetadataOffset = id, epoch, offset
	return m
}

func (h *harness) heartbeat(id int32) *kmsg.BrokerHeartbeatResponse {
	h.t.Helper()
	b, ok := h.committed.Broker(id)
	if !ok {
		h.t.Fatalf("broker %d not registered", id)
	}
	return h.call(id, heartbeatReq(id, b.Epoch, h.committed.Offset())).(*kmsg.BrokerHeartbeatResponse)
}

// cluster registers brokers 1..n (with racks when given) and unfences them.
func (h *harness) cluster(n int, racks ...string) {
	h.t.Helper()
	for i := 1; i <= n; i++ {
		rack := ""
		if len(racks) > 0 {
			rack = racks[(i-1)%len(racks)]
		}
		h.register(int32(i), rack)
	}
	for i := 1; i <= n; i++ {
		if r := h.heartbeat(int32(i)); r.ErrorCode != 0 || r.IsFenced {
			h.t.Fatalf("broker %d not unfenced: %+v", i, r)
		}
	}
}

// heartbeatAll keeps every broker except skip alive.
func (h *harness) heartbeatAll(skip ...int32) {
	h.t.Helper()
outer:
	for _, b := range h.committed.Brokers() {
		for _, s := range skip {
			if b.ID == s {
				continue outer
			}
		}
		if !b.Fenced {
			h.heartbeat(b.ID)
		}
	}
}

func createReq(name string, partitions int32, rf int16) *kmsg.CreateTopicsRequest {
	m := kmsg.NewPtrCreateTopicsRequest()
	m.Version = 7
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = name, partitions, rf
	m.Topics = append(m.Topics, t)
	return m
}

func (h *harness) createTopic(name string, partitions int32, rf int16) [16]byte {
	h.t.Helper()
	r := h.call(-1, createReq(name, partitions, rf)).(*kmsg.CreateTopicsResponse)
	if r.Topics[0].ErrorCode != 0 {
		h.t.Fatalf("create %s: error %d %v", name, r.Topics[0].ErrorCode, deref(r.Topics[0].ErrorMessage))
	}
	return r.Topics[0].TopicID
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

var errRefused = errors.New("not the leader")
