package controller

import (
	"slices"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestConfigValidate(t *testing.T) {
	base := testConfig(1)
	if err := base.Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	mutate := map[string]func(*Config){
		"negative node":              func(c *Config) { c.NodeID = -1 },
		"zero heartbeat":             func(c *Config) { c.HeartbeatInterval = 0 },
		"session below heartbeat":    func(c *Config) { c.SessionTimeout = c.HeartbeatInterval },
		"lease below heartbeat":      func(c *Config) { c.LeaseDuration = c.HeartbeatInterval },
		"negative quorum timeout":    func(c *Config) { c.QuorumFetchTimeout = -1 },
		"drift too large":            func(c *Config) { c.ClockDriftMax = 0.5 },
		"negative drift":             func(c *Config) { c.ClockDriftMax = -0.1 },
		"zero partitions":            func(c *Config) { c.DefaultPartitions = 0 },
		"zero replication":           func(c *Config) { c.DefaultReplicationFactor = 0 },
		"zero block":                 func(c *Config) { c.ProducerIDBlockSize = 0 },
		"huge block":                 func(c *Config) { c.ProducerIDBlockSize = 1 << 31 },
		"no rand":                    func(c *Config) { c.Rand = nil },
		"lease plus quorum too long": func(c *Config) { c.LeaseDuration = 6 * time.Second },
	}
	for name, f := range mutate {
		c := base
		f(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The lease inequality at its edge: with no drift it is (L+Q) < S; drift eats into it
// from both sides.
func TestLeaseSafeBoundary(t *testing.T) {
	s := 10 * time.Second
	if !LeaseSafe(6*time.Second, 4*time.Second-1, s, 0) {
		t.Fatal("just inside, no drift")
	}
	if LeaseSafe(6*time.Second, 4*time.Second, s, 0) {
		t.Fatal("equality is not safe")
	}
	// With drift 0.01: (L+Q)*1.01 < 9.9s, so L+Q must be below 9.80198s.
	if !LeaseSafe(5*time.Second, 4801*time.Millisecond, s, 0.01) {
		t.Fatal("9.801s should be safe at 1% drift")
	}
	if LeaseSafe(5*time.Second, 4803*time.Millisecond, s, 0.01) {
		t.Fatal("9.803s should be unsafe at 1% drift")
	}
}

func TestInactiveAnswersNotController(t *testing.T) {
	c := New(testConfig(1))
	name := "t"
	reqs := []kmsg.Request{
		registerReq(1, "", 1), heartbeatReq(1, 0, 0), kmsg.NewPtrAlterPartitionRequest(),
		createReq("t", 1, 1), &kmsg.DeleteTopicsRequest{Version: 6, Topics: []kmsg.DeleteTopicsRequestTopic{{Topic: &name}}},
		&kmsg.CreatePartitionsRequest{Version: 1, Topics: []kmsg.CreatePartitionsRequestTopic{{Topic: "t", Count: 2}}},
		&kmsg.IncrementalAlterConfigsRequest{Resources: []kmsg.IncrementalAlterConfigsRequestResource{{ResourceType: 2, ResourceName: "t"}}},
		&kmsg.AlterConfigsRequest{Resources: []kmsg.AlterConfigsRequestResource{{ResourceType: 2, ResourceName: "t"}}},
		kmsg.NewPtrAllocateProducerIDsRequest(),
	}
	for i, req := range reqs {
		c.Handle(0, nil, Request{ID: uint64(i), Msg: req})
		out := c.Ready()
		if len(out) != 1 || out[0].ID != uint64(i) {
			t.Fatalf("%T: %d responses", req, len(out))
		}
		if codes := errorCodes(out[0].Msg); len(codes) == 0 || slices.ContainsFunc(codes, func(c int16) bool { return c != errNotController }) {
			t.Fatalf("%T: codes %v", req, codes)
		}
	}
	if c.Deadline() != 1<<63-1 {
		t.Fatal("inactive controller has a deadline")
	}
}

// errorCodes collects every error code of a response.
func errorCodes(r kmsg.Response) []int16 {
	switch r := r.(type) {
	case *kmsg.BrokerRegistrationResponse:
		return []int16{r.ErrorCode}
	case *kmsg.BrokerHeartbeatResponse:
		return []int16{r.ErrorCode}
	case *kmsg.AlterPartitionResponse:
		return []int16{r.ErrorCode}
	case *kmsg.AllocateProducerIDsResponse:
		return []int16{r.ErrorCode}
	case *kmsg.CreateTopicsResponse:
		var out []int16
		for _, t := range r.Topics {
			out = append(out, t.ErrorCode)
		}
		return out
	case *kmsg.DeleteTopicsResponse:
		var out []int16
		for _, t := range r.Topics {
			out = append(out, t.ErrorCode)
		}
		return out
	case *kmsg.CreatePartitionsResponse:
		var out []int16
		for _, t := range r.Topics {
			out = append(out, t.ErrorCode)
		}
		return out
	case *kmsg.IncrementalAlterConfigsResponse:
		var out []int16
		for _, t := range r.Resources {
			out = append(out, t.ErrorCode)
		}
		return out
	case *kmsg.AlterConfigsResponse:
		var out []int16
		for _, t := range r.Resources {
			out = append(out, t.ErrorCode)
		}
		return out
	}
	return nil
}

func TestRegistration(t *testing.T) {
	h := newHarness(t)
	epoch := h.register(1, "a")
	b, _ := h.committed.Broker(1)
	if epoch != b.Epoch || epoch != h.committed.Offset() || !b.Fenced || b.Rack != "a" {
		t.Fatalf("epoch %d, broker %+v at offset %d", epoch, b, h.committed.Offset())
	}
	if b.Listeners[0] != (metadata.Listener{Name: "PLAINTEXT", Host: "host", Port: 9093}) {
		t.Fatalf("listeners %+v", b.Listeners)
	}
	records := len(h.q.entries)
	// The same incarnation again: same epoch, nothing proposed.
	if again := h.register(1, "a"); again != epoch || len(h.q.entries) != records {
		t.Fatalf("re-registration: epoch %d, %d new records", again, len(h.q.entries)-records)
	}
	h.heartbeat(1) // unfenced, session live
	r := h.call(1, registerReq(1, "a", 2)).(*kmsg.BrokerRegistrationResponse)
	if r.ErrorCode != errDuplicateBrokerRegistration || r.BrokerEpoch != -1 {
		t.Fatalf("duplicate incarnation: %+v", r)
	}
	if r := h.call(2, registerReq(1, "a", 2)).(*kmsg.BrokerRegistrationResponse); r.ErrorCode != errClusterAuthorizationFailed {
		t.Fatalf("registration from another broker: %+v", r)
	}
	// Once the session ran out (and the old incarnation is fenced) a new one may come.
	h.advance(h.cfg.SessionTimeout)
	if b, _ := h.committed.Broker(1); !b.Fenced {
		t.Fatal("silent broker not fenced")
	}
	r = h.call(1, registerReq(1, "b", 2)).(*kmsg.BrokerRegistrationResponse)
	if r.ErrorCode != 0 || r.BrokerEpoch <= epoch {
		t.Fatalf("new incarnation: %+v", r)
	}
	if b, _ := h.committed.Broker(1); b.Epoch != r.BrokerEpoch || b.Rack != "b" || !b.Fenced {
		t.Fatalf("new registration %+v", b)
	}
}

// A new incarnation whose predecessor's session expired but was not yet fenced by a
// tick: the controller fences the old one first, then registers.
func TestRegistrationFencesExpiredPredecessor(t *testing.T) {
	h := newHarness(t)
	h.cluster(1)
	h.now += int64(h.cfg.SessionTimeout) // no tick
	r := h.call(1, registerReq(1, "", 9)).(*kmsg.BrokerRegistrationResponse)
	if r.ErrorCode != 0 {
		t.Fatalf("error %d", r.ErrorCode)
	}
	last := h.q.proposals[len(h.q.proposals)-1]
	prev := h.q.proposals[len(h.q.proposals)-2]
	if _, ok := last[0].(metadata.RegisterBroker); !ok {
		t.Fatalf("last proposal %+v", last)
	}
	if _, ok := prev[0].(metadata.FenceBroker); !ok {
		t.Fatalf("fence not proposed first: %+v", prev)
	}
}

func TestBrokersMax(t *testing.T) {
	h := newHarness(t)
	for i := range BrokersMax {
		h.register(int32(i), "")
	}
	r := h.call(BrokersMax, registerReq(BrokersMax, "", 1)).(*kmsg.BrokerRegistrationResponse)
	if r.ErrorCode != errInvalidRegistration {
		t.Fatalf("registration beyond the bound: %+v", r)
	}
}

func TestHeartbeat(t *testing.T) {
	h := newHarness(t)
	epoch := h.register(1, "")
	if r := h.call(2, heartbeatReq(2, 0, 0)).(*kmsg.BrokerHeartbeatResponse); r.ErrorCode != errBrokerIDNotRegistered {
		t.Fatalf("unknown broker: %+v", r)
	}
	if r := h.call(1, heartbeatReq(1, epoch+1, 100)).(*kmsg.BrokerHeartbeatResponse); r.ErrorCode != errStaleBrokerEpoch {
		t.Fatalf("stale epoch: %+v", r)
	}
	if r := h.call(3, heartbeatReq(1, epoch, 100)).(*kmsg.BrokerHeartbeatResponse); r.ErrorCode != errClusterAuthorizationFailed || !r.IsFenced {
		t.Fatalf("heartbeat for another broker: %+v", r)
	}
	// Behind its registration: stays fenced.
	r := h.call(1, heartbeatReq(1, epoch, epoch-1)).(*kmsg.BrokerHeartbeatResponse)
	if r.ErrorCode != 0 || !r.IsFenced || r.IsCaughtUp {
		t.Fatalf("lagging broker: %+v", r)
	}
	// Caught up but asking to stay fenced.
	m := heartbeatReq(1, epoch, epoch)
	m.WantFence = true
	if r := h.call(1, m).(*kmsg.BrokerHeartbeatResponse); !r.IsFenced || !r.IsCaughtUp {
		t.Fatalf("want fence: %+v", r)
	}
	// Caught up: unfenced by a record.
	if r := h.call(1, heartbeatReq(1, epoch, epoch)).(*kmsg.BrokerHeartbeatResponse); r.IsFenced || !r.IsCaughtUp {
		t.Fatalf("caught up: %+v", r)
	}
	if _, ok := h.q.entries[len(h.q.entries)-1].Record.(metadata.UnfenceBroker); !ok || h.committed.IsFenced(1) {
		t.Fatal("no UnfenceBroker record")
	}
	// An unfenced broker asking to be fenced is fenced.
	m = heartbeatReq(1, epoch, h.committed.Offset())
	m.WantFence = true
	if r := h.call(1, m).(*kmsg.BrokerHeartbeatResponse); !r.IsFenced || !h.committed.IsFenced(1) {
		t.Fatalf("fence on request: %+v", r)
	}
}

// Responses wait for the commit of every record proposed before them.
func TestResponsesWaitForCommit(t *testing.T) {
	h := newHarness(t)
	h.manual = true
	reg := h.send(1, registerReq(1, "", 1))
	if _, ok := h.responses[reg]; ok {
		t.Fatal("registration answered before its record committed")
	}
	// A request that proposes nothing still waits behind the registration.
	hb := h.send(2, heartbeatReq(2, 0, 0))
	if _, ok := h.responses[hb]; ok {
		t.Fatal("a later response overtook an earlier one")
	}
	h.commit()
	if _, ok := h.responses[reg]; !ok {
		t.Fatal("registration not answered after commit")
	}
	if r, ok := h.responses[hb]; !ok || r.(*kmsg.BrokerHeartbeatResponse).ErrorCode != errBrokerIDNotRegistered {
		t.Fatal("heartbeat not answered after commit")
	}
	// Nothing in flight: answered at once.
	id := h.send(2, heartbeatReq(2, 0, 0))
	if _, ok := h.responses[id]; !ok {
		t.Fatal("idle controller did not answer at once")
	}
}

// The pending image validates back-to-back requests before anything commits.
func TestPendingImageValidatesBackToBack(t *testing.T) {
	h := newHarness(t)
	h.cluster(2)
	h.manual = true
	first := h.send(-1, createReq("a", 1, 1))
	second := h.send(-1, createReq("a", 1, 1))
	if len(h.responses) != 0 && (h.responses[first] != nil || h.responses[second] != nil) {
		t.Fatal("answered before commit")
	}
	h.commit()
	r1 := h.responses[first].(*kmsg.CreateTopicsResponse)
	r2 := h.responses[second].(*kmsg.CreateTopicsResponse)
	if r1.Topics[0].ErrorCode != 0 || r2.Topics[0].ErrorCode != errTopicAlreadyExists {
		t.Fatalf("codes %d, %d", r1.Topics[0].ErrorCode, r2.Topics[0].ErrorCode)
	}
}

func TestDeactivateFailsWaiting(t *testing.T) {
	h := newHarness(t)
	h.cluster(2)
	h.manual = true
	id := h.send(-1, createReq("a", 1, 1))
	h.c.Deactivate()
	h.collect()
	r, ok := h.responses[id]
	if !ok || r.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode != errNotController {
		t.Fatalf("waiting request after deactivation: %v", r)
	}
	if st := h.c.Status(); st.Active || st.Waiting != 0 || st.PendingOffset != h.committed.Offset() {
		t.Fatalf("status %+v", st)
	}
	// The proposal never commits (the quorum truncates it); the next term starts from
	// the committed image, where "a" does not exist.
	h.q.entries = h.q.entries[:h.applied]
	h.c.Activate(h.now, h.committed)
	h.manual = false
	if id := h.createTopic("a", 1, 1); id == ([16]byte{}) {
		t.Fatal("no topic id")
	}
}

func TestProposeRefused(t *testing.T) {
	h := newHarness(t)
	h.cluster(1)
	h.q.refuse = errRefused
	r := h.call(-1, createReq("a", 1, 1)).(*kmsg.CreateTopicsResponse)
	if r.Topics[0].ErrorCode != errNotController {
		t.Fatalf("refused proposal: %d", r.Topics[0].ErrorCode)
	}
	if _, ok := h.c.pending.Topic("a"); ok {
		t.Fatal("refused records reached the pending image")
	}
}

func TestWaitingBound(t *testing.T) {
	h := newHarness(t)
	h.manual = true
	// One uncommitted proposal holds everything that follows.
	h.send(3, registerReq(3, "", 1))
	for range WaitingMax - 1 {
		h.send(9, heartbeatReq(9, 0, 0))
	}
	if st := h.c.Status(); st.Waiting != WaitingMax || len(h.responses) != 0 {
		t.Fatalf("waiting %d, answered %d", st.Waiting, len(h.responses))
	}
	id := h.send(9, heartbeatReq(9, 0, 0))
	r, ok := h.responses[id]
	if !ok || r.(*kmsg.BrokerHeartbeatResponse).ErrorCode != errRequestTimedOut {
		t.Fatalf("request beyond the bound: %v", r)
	}
	h.commit()
	if st := h.c.Status(); st.Waiting != 0 || len(h.responses) != WaitingMax+1 {
		t.Fatalf("after commit: waiting %d, %d responses", st.Waiting, len(h.responses))
	}
}

// Fencing after a session timeout: leaderships move to the first unfenced ISR member in
// replica order, the broker leaves every ISR where others remain, and a partition whose
// only ISR member it was keeps it, leaderless.
func TestFencingAfterSessionTimeout(t *testing.T) {
	h := newHarness(t)
	h.cluster(3)
	tid := h.manualTopic("t", [][]int32{{1, 2, 3}, {2, 1, 3}, {1, 2, 3}, {1, 3, 2}})
	h.alterISR(1, tid, 2, []int32{1})
	h.alterISR(1, tid, 3, []int32{1, 2, 3})
	before := h.committed.Partitions(tid)

	h.silence(1, h.cfg.SessionTimeout-1)
	if h.committed.IsFenced(1) {
		t.Fatal("fenced before the session timeout")
	}
	h.silence(1, 1)
	if !h.committed.IsFenced(1) {
		t.Fatal("not fenced after the session timeout")
	}
	after := h.committed.Partitions(tid)
	want := []struct {
		leader int32
		isr    []int32
	}{{2, []int32{2, 3}}, {2, []int32{2, 3}}, {metadata.NoLeader, []int32{1}}, {3, []int32{2, 3}}}
	for p, w := range want {
		got := after[p]
		if got.Leader != w.leader || !slices.Equal(got.ISR, w.isr) {
			t.Errorf("partition %d: leader %d ISR %v, want %d %v", p, got.Leader, got.ISR, w.leader, w.isr)
		}
		if got.Leader != before[p].Leader && got.LeaderEpoch != before[p].LeaderEpoch+1 {
			t.Errorf("partition %d: leader epoch %d after %d", p, got.LeaderEpoch, before[p].LeaderEpoch)
		}
	}
	b1, _ := h.committed.Broker(1)
	if b1.CatchUpOffset <= b1.Epoch {
		t.Fatal("catch-up offset did not move")
	}

	// Broker 1 returns, behind on metadata: it stays fenced and elects nothing.
	r := h.call(1, heartbeatReq(1, b1.Epoch, b1.CatchUpOffset-1)).(*kmsg.BrokerHeartbeatResponse)
	if !r.IsFenced || r.IsCaughtUp {
		t.Fatalf("lagging broker unfenced: %+v", r)
	}
	// Caught up: unfenced, and the leaderless partitions whose ISR holds it elect it.
	r = h.call(1, heartbeatReq(1, b1.Epoch, h.committed.Offset())).(*kmsg.BrokerHeartbeatResponse)
	if r.IsFenced {
		t.Fatalf("caught-up broker still fenced: %+v", r)
	}
	if ps, _ := h.committed.Partition(tid, 2); ps.Leader != 1 {
		t.Errorf("leaderless partition: leader %d after broker 1 came back", ps.Leader)
	}
	if ps, _ := h.committed.Partition(tid, 0); ps.Leader != 2 {
		t.Error("a partition with a live leader moved back")
	}
}

// A newly active controller waits a whole session from its activation before fencing.
func TestNewControllerGracePeriod(t *testing.T) {
	h := newHarness(t)
	h.cluster(2)
	h.advance(h.cfg.SessionTimeout / 2) // brokers last heard half a session ago
	h.c.Deactivate()
	activation := h.now
	h.c.Activate(h.now, h.committed)
	if d := h.c.Deadline(); d != activation {
		t.Fatalf("deadline %d right after activation, want %d (leftover work check)", d, activation)
	}
	h.advance(0)
	if d := h.c.Deadline(); d != activation+int64(h.cfg.SessionTimeout) {
		t.Fatalf("deadline %d, want a session after activation", d)
	}
	h.advance(h.cfg.SessionTimeout - 1)
	if h.committed.IsFenced(1) || h.committed.IsFenced(2) {
		t.Fatal("fenced during the grace period")
	}
	h.advance(1)
	if !h.committed.IsFenced(1) || !h.committed.IsFenced(2) {
		t.Fatal("not fenced a session after activation")
	}
}

func TestStatusLeases(t *testing.T) {
	h := newHarness(t)
	h.cluster(2)
	st := h.c.Status()
	if !st.Active || len(st.Brokers) != 2 {
		t.Fatalf("status %+v", st)
	}
	for _, b := range st.Brokers {
		if b.Fenced || b.LastHeartbeat != h.now || b.FenceAt != h.now+int64(h.cfg.SessionTimeout) {
			t.Fatalf("broker status %+v", b)
		}
		if b.LeaseEndMax <= b.LastHeartbeat+int64(h.cfg.LeaseDuration) || b.LeaseEndMax >= b.FenceAt {
			t.Fatalf("lease end %d outside (heartbeat+lease, fence) = (%d, %d)", b.LeaseEndMax,
				b.LastHeartbeat+int64(h.cfg.LeaseDuration), b.FenceAt)
		}
	}
}

func TestControlledShutdown(t *testing.T) {
	h := newHarness(t)
	h.cluster(3)
	tid := h.manualTopic("t", [][]int32{{1, 2}, {2, 1}, {1, 3}, {3, 2}})
	h.alterISR(1, tid, 2, []int32{1})
	b1, _ := h.committed.Broker(1)
	m := heartbeatReq(1, b1.Epoch, h.committed.Offset())
	m.WantShutdown = true
	r := h.call(1, m).(*kmsg.BrokerHeartbeatResponse)
	if !r.ShouldShutdown || !r.IsFenced {
		t.Fatalf("shutdown response %+v", r)
	}
	if led := h.committed.PartitionsLedBy(1); len(led) != 0 {
		t.Fatalf("still leads %v", led)
	}
	want := [][]int32{{2}, {2}, {1}, {3, 2}}
	for p, isr := range want {
		ps, _ := h.committed.Partition(tid, int32(p))
		if !slices.Equal(ps.ISR, isr) {
			t.Errorf("partition %d ISR %v, want %v", p, ps.ISR, isr)
		}
	}
	if ps, _ := h.committed.Partition(tid, 2); ps.Leader != metadata.NoLeader {
		t.Errorf("sole-replica partition leader %d", ps.Leader)
	}
	// Shutting down brokers get no new replicas.
	r2 := h.call(-1, createReq("u", 4, 3)).(*kmsg.CreateTopicsResponse)
	if r2.Topics[0].ErrorCode != errInvalidReplicationFactor {
		t.Fatalf("placement used a shut-down broker: %d", r2.Topics[0].ErrorCode)
	}
}

// Fencing work larger than one proposal is split and finished.
func TestReconcileSplitsProposals(t *testing.T) {
	h := newHarness(t)
	h.cluster(2)
	var as [][]int32
	for range 10 {
		as = append(as, []int32{1, 2})
	}
	tid := h.manualTopic("t", as)
	h.c.proposalMax = 3
	proposals := len(h.q.proposals)
	h.silence(1, h.cfg.SessionTimeout)
	for p, ps := range h.committed.Partitions(tid) {
		if ps.Leader != 2 || !slices.Equal(ps.ISR, []int32{2}) {
			t.Fatalf("partition %d: %+v", p, ps)
		}
	}
	for _, batch := range h.q.proposals[proposals:] {
		if len(batch) > 3 {
			t.Fatalf("proposal of %d records", len(batch))
		}
	}
}

// manualTopic creates a topic with a manual assignment (ISR = replicas, leader first).
func (h *harness) manualTopic(name string, assignment [][]int32) [16]byte {
	h.t.Helper()
	m := createReq(name, -1, -1)
	for p, rs := range assignment {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = int32(p), rs
		m.Topics[0].ReplicaAssignment = append(m.Topics[0].ReplicaAssignment, a)
	}
	r := h.call(-1, m).(*kmsg.CreateTopicsResponse)
	if r.Topics[0].ErrorCode != 0 {
		h.t.Fatalf("create %s: %d %s", name, r.Topics[0].ErrorCode, deref(r.Topics[0].ErrorMessage))
	}
	return r.Topics[0].TopicID
}

// alterISR has the leader set a partition's ISR.
func (h *harness) alterISR(leader int32, tid [16]byte, p int32, isr []int32) *kmsg.AlterPartitionResponse {
	h.t.Helper()
	ps, _ := h.committed.Partition(tid, p)
	b, _ := h.committed.Broker(leader)
	m := kmsg.NewPtrAlterPartitionRequest()
	m.Version = 2
	m.BrokerID, m.BrokerEpoch = leader, b.Epoch
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.TopicID = tid
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch, rp.NewISR = p, ps.LeaderEpoch, ps.PartitionEpoch, isr
	rt.Partitions = append(rt.Partitions, rp)
	m.Topics = append(m.Topics, rt)
	return h.call(leader, m).(*kmsg.AlterPartitionResponse)
}

// silence lets d pass while every broker but id heartbeats on schedule.
func (h *harness) silence(id int32, d time.Duration) {
	h.t.Helper()
	for d > 0 {
		step := min(d, h.cfg.HeartbeatInterval)
		h.advance(step)
		h.heartbeatAll(id)
		d -= step
	}
}

// When the quorum refuses a proposal, Deadline moves forward instead of asking for a
// Tick at the same instant forever; the work is done once the quorum accepts again.
func TestRefusedProposalBacksOff(t *testing.T) {
	h := newHarness(t)
	h.cluster(2)
	h.createTopic("t", 2, 2)
	h.q.refuse = errRefused
	h.silence(1, h.cfg.SessionTimeout)
	if h.committed.IsFenced(1) {
		t.Fatal("fenced without the quorum")
	}
	if d := h.c.Deadline(); d <= h.now {
		t.Fatalf("deadline %d not after now %d", d, h.now)
	}
	h.q.refuse = nil
	h.advance(time.Duration(h.c.Deadline() - h.now))
	if !h.committed.IsFenced(1) || len(h.committed.PartitionsLedBy(1)) != 0 {
		t.Fatal("fencing not retried")
	}
	if d := h.c.Deadline(); d <= h.now {
		t.Fatalf("deadline %d with no work left", d)
	}
}
