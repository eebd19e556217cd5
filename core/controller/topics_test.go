package controller

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func strp(s string) *string { return &s }

func TestCreateTopics(t *testing.T) {
	type topic = kmsg.CreateTopicsRequestTopic
	cfg := func(k string, v *string) kmsg.CreateTopicsRequestTopicConfig {
		return kmsg.CreateTopicsRequestTopicConfig{Name: k, Value: v}
	}
	assign := func(as ...[]int32) []kmsg.CreateTopicsRequestTopicReplicaAssignment {
		var out []kmsg.CreateTopicsRequestTopicReplicaAssignment
		for p, rs := range as {
			out = append(out, kmsg.CreateTopicsRequestTopicReplicaAssignment{Partition: int32(p), Replicas: rs})
		}
		return out
	}
	cases := []struct {
		name string
		t    topic
		code int16
	}{
		{"defaults", topic{Topic: "d", NumPartitions: -1, ReplicationFactor: -1}, 0},
		{"explicit", topic{Topic: "e", NumPartitions: 5, ReplicationFactor: 3}, 0},
		{"empty name", topic{Topic: "", NumPartitions: 1, ReplicationFactor: 1}, errInvalidTopicException},
		{"dot", topic{Topic: ".", NumPartitions: 1, ReplicationFactor: 1}, errInvalidTopicException},
		{"dotdot", topic{Topic: "..", NumPartitions: 1, ReplicationFactor: 1}, errInvalidTopicException},
		{"slash", topic{Topic: "a/b", NumPartitions: 1, ReplicationFactor: 1}, errInvalidTopicException},
		{"long name", topic{Topic: strings.Repeat("x", 250), NumPartitions: 1, ReplicationFactor: 1}, errInvalidTopicException},
		{"longest name", topic{Topic: strings.Repeat("x", 249), NumPartitions: 1, ReplicationFactor: 1}, 0},
		{"exists", topic{Topic: "existing", NumPartitions: 1, ReplicationFactor: 1}, errTopicAlreadyExists},
		{"collides", topic{Topic: "my.topic", NumPartitions: 1, ReplicationFactor: 1}, errInvalidTopicException},
		{"zero partitions", topic{Topic: "z", NumPartitions: 0, ReplicationFactor: 1}, errInvalidPartitions},
		{"negative partitions", topic{Topic: "z", NumPartitions: -2, ReplicationFactor: 1}, errInvalidPartitions},
		{"too many partitions", topic{Topic: "z", NumPartitions: RecordsPerProposalMax, ReplicationFactor: 1}, errInvalidPartitions},
		{"rf above brokers", topic{Topic: "z", NumPartitions: 1, ReplicationFactor: 4}, errInvalidReplicationFactor},
		{"rf zero", topic{Topic: "z", NumPartitions: 1, ReplicationFactor: 0}, errInvalidReplicationFactor},
		{"rf negative", topic{Topic: "z", NumPartitions: 1, ReplicationFactor: -3}, errInvalidReplicationFactor},
		{"manual", topic{Topic: "m", NumPartitions: -1, ReplicationFactor: -1, ReplicaAssignment: assign([]int32{3, 1}, []int32{2, 3})}, 0},
		{"manual with counts", topic{Topic: "z", NumPartitions: 2, ReplicationFactor: -1, ReplicaAssignment: assign([]int32{1})}, errInvalidRequest},
		{"manual gap", topic{Topic: "z", NumPartitions: -1, ReplicationFactor: -1,
			ReplicaAssignment: []kmsg.CreateTopicsRequestTopicReplicaAssignment{{Partition: 1, Replicas: []int32{1}}}}, errInvalidReplicaAssignment},
		{"manual repeated partition", topic{Topic: "z", NumPartitions: -1, ReplicationFactor: -1,
			ReplicaAssignment: []kmsg.CreateTopicsRequestTopicReplicaAssignment{{Partition: 0, Replicas: []int32{1}}, {Partition: 0, Replicas: []int32{2}}}}, errInvalidReplicaAssignment},
		{"manual duplicate replica", topic{Topic: "z", NumPartitions: -1, ReplicationFactor: -1, ReplicaAssignment: assign([]int32{1, 1})}, errInvalidReplicaAssignment},
		{"manual unregistered", topic{Topic: "z", NumPartitions: -1, ReplicationFactor: -1, ReplicaAssignment: assign([]int32{1, 7})}, errInvalidReplicaAssignment},
		{"manual uneven", topic{Topic: "z", NumPartitions: -1, ReplicationFactor: -1, ReplicaAssignment: assign([]int32{1, 2}, []int32{3})}, errInvalidReplicaAssignment},
		{"manual empty", topic{Topic: "z", NumPartitions: -1, ReplicationFactor: -1, ReplicaAssignment: assign([]int32{})}, errInvalidReplicaAssignment},
		{"manual all fenced", topic{Topic: "z", NumPartitions: -1, ReplicationFactor: -1, ReplicaAssignment: assign([]int32{4})}, errInvalidReplicaAssignment},
		{"config", topic{Topic: "c", NumPartitions: 1, ReplicationFactor: 1,
			Configs: []kmsg.CreateTopicsRequestTopicConfig{cfg("retention.ms", strp("1000")), cfg("cleanup.policy", strp("compact"))}}, 0},
		{"unknown config", topic{Topic: "z", NumPartitions: 1, ReplicationFactor: 1,
			Configs: []kmsg.CreateTopicsRequestTopicConfig{cfg("retention.minutes", strp("1"))}}, errInvalidConfig},
		{"bad config value", topic{Topic: "z", NumPartitions: 1, ReplicationFactor: 1,
			Configs: []kmsg.CreateTopicsRequestTopicConfig{cfg("min.insync.replicas", strp("0"))}}, errInvalidConfig},
		{"null config", topic{Topic: "z", NumPartitions: 1, ReplicationFactor: 1,
			Configs: []kmsg.CreateTopicsRequestTopicConfig{cfg("retention.ms", nil)}}, errInvalidConfig},
		{"unclean election", topic{Topic: "z", NumPartitions: 1, ReplicationFactor: 1,
			Configs: []kmsg.CreateTopicsRequestTopicConfig{cfg("unclean.leader.election.enable", strp("true"))}}, errInvalidConfig},
		{"repeated config", topic{Topic: "z", NumPartitions: 1, ReplicationFactor: 1,
			Configs: []kmsg.CreateTopicsRequestTopicConfig{cfg("retention.ms", strp("1")), cfg("retention.ms", strp("2"))}}, errInvalidRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			h.cluster(3)
			h.register(4, "") // registered, fenced
			h.createTopic("existing", 1, 1)
			h.createTopic("my_topic", 1, 1)
			records := len(h.q.entries)
			m := kmsg.NewPtrCreateTopicsRequest()
			m.Version = 7
			m.Topics = []kmsg.CreateTopicsRequestTopic{c.t}
			r := h.call(-1, m).(*kmsg.CreateTopicsResponse).Topics[0]
			if r.ErrorCode != c.code {
				t.Fatalf("code %d (%s), want %d", r.ErrorCode, deref(r.ErrorMessage), c.code)
			}
			if c.code != 0 {
				if len(h.q.entries) != records || r.NumPartitions != -1 || r.ReplicationFactor != -1 || r.ErrorMessage == nil && c.code != errTopicAlreadyExists {
					t.Fatalf("failure proposed records or filled fields: %+v", r)
				}
				return
			}
			checkCreated(t, h, c.t, r, records)
		})
	}
}

// checkCreated checks the records and the response of a successful creation.
func checkCreated(t *testing.T, h *harness, req kmsg.CreateTopicsRequestTopic, r kmsg.CreateTopicsResponseTopic, recordsBefore int) {
	t.Helper()
	batch := h.q.proposals[len(h.q.proposals)-1]
	if len(h.q.entries)-recordsBefore != len(batch) {
		t.Fatal("creation spread over several proposals")
	}
	top, ok := batch[0].(metadata.Topic)
	if !ok || top.Name != req.Topic || top.ID != r.TopicID || r.TopicID == ([16]byte{}) {
		t.Fatalf("first record %+v, response id %x", batch[0], r.TopicID)
	}
	n := int(r.NumPartitions)
	for p := range n {
		pr, ok := batch[1+p].(metadata.Partition)
		if !ok || pr.Partition != int32(p) || pr.Leader != pr.Replicas[0] || !slices.Equal(pr.ISR, pr.Replicas) ||
			pr.LeaderEpoch != 0 || pr.PartitionEpoch != 0 || len(pr.Replicas) != int(r.ReplicationFactor) {
			t.Fatalf("partition record %d: %+v", p, batch[1+p])
		}
	}
	if len(batch) != 1+n+len(req.Configs) {
		t.Fatalf("%d records for %d partitions and %d configs", len(batch), n, len(req.Configs))
	}
	for _, rec := range batch[1+n:] {
		if c, ok := rec.(metadata.Config); !ok || c.Name != req.Topic || c.Resource != metadata.ConfigTopic {
			t.Fatalf("config record %+v", rec)
		}
	}
	if len(r.Configs) != len(metadata.TopicConfigDefs()) {
		t.Fatalf("%d configs described", len(r.Configs))
	}
	for _, cf := range r.Configs {
		want, src, _ := h.committed.ResolveTopicConfig(req.Topic, cf.Name, nil)
		if deref(cf.Value) != want || cf.Source != int8(src) {
			t.Fatalf("config %s = %q (source %d), image says %q (%d)", cf.Name, deref(cf.Value), cf.Source, want, src)
		}
	}
}

func TestCreateTopicsRequestLevel(t *testing.T) {
	h := newHarness(t)
	h.cluster(2)
	m := createReq("a", 1, 1)
	m.Topics = append(m.Topics, m.Topics[0], kmsg.CreateTopicsRequestTopic{Topic: "b", NumPartitions: 1, ReplicationFactor: 1})
	r := h.call(-1, m).(*kmsg.CreateTopicsResponse)
	if codes := errorCodes(r); !slices.Equal(codes, []int16{errInvalidRequest, errInvalidRequest, 0}) {
		t.Fatalf("duplicate names: %v", codes)
	}
	// ValidateOnly proposes nothing and creates nothing.
	records := len(h.q.entries)
	m = createReq("c", 2, 2)
	m.ValidateOnly = true
	r = h.call(-1, m).(*kmsg.CreateTopicsResponse)
	if r.Topics[0].ErrorCode != 0 || r.Topics[0].NumPartitions != 2 || len(h.q.entries) != records {
		t.Fatalf("validate only: %+v", r.Topics[0])
	}
	if _, ok := h.committed.Topic("c"); ok {
		t.Fatal("validate only created the topic")
	}
	// Version 0 answers at version 0.
	m = createReq("v0", 1, 1)
	m.Version = 0
	if r := h.call(-1, m).(*kmsg.CreateTopicsResponse); r.Topics[0].ErrorCode != 0 {
		t.Fatalf("v0: %+v", r)
	}
}

func TestDeleteTopics(t *testing.T) {
	h := newHarness(t)
	h.cluster(1)
	h.createTopic("a", 1, 1)
	bid := h.createTopic("b", 1, 1)

	v1 := kmsg.NewPtrDeleteTopicsRequest()
	v1.Version = 1
	v1.TopicNames = []string{"a", "nope"}
	r := h.call(-1, v1).(*kmsg.DeleteTopicsResponse)
	if codes := errorCodes(r); !slices.Equal(codes, []int16{0, errUnknownTopicOrPartition}) {
		t.Fatalf("by name: %v", codes)
	}
	if _, ok := h.committed.Topic("a"); ok {
		t.Fatal("a not deleted")
	}
	v6 := kmsg.NewPtrDeleteTopicsRequest()
	v6.Version = 6
	v6.Topics = []kmsg.DeleteTopicsRequestTopic{{TopicID: bid}, {TopicID: [16]byte{9}}, {}}
	r = h.call(-1, v6).(*kmsg.DeleteTopicsResponse)
	if codes := errorCodes(r); !slices.Equal(codes, []int16{0, errUnknownTopicID, errInvalidRequest}) {
		t.Fatalf("by id: %v", codes)
	}
	if deref(r.Topics[0].Topic) != "b" || r.Topics[0].TopicID != bid {
		t.Fatalf("response names %+v", r.Topics[0])
	}
	if len(h.committed.Topics()) != 0 {
		t.Fatal("topics left")
	}
}

// The offsets topic can be neither deleted nor grown: either would lose or move every
// group's committed offsets.
func TestInternalTopicKeepsItsShape(t *testing.T) {
	h := newHarness(t)
	h.cluster(1)
	tid := h.createTopic("__consumer_offsets", 2, 1)
	del := kmsg.NewPtrDeleteTopicsRequest()
	del.Version = 6
	name := "__consumer_offsets"
	del.Topics = []kmsg.DeleteTopicsRequestTopic{{Topic: &name}, {TopicID: tid}}
	r := h.call(-1, del).(*kmsg.DeleteTopicsResponse)
	if codes := errorCodes(r); !slices.Equal(codes, []int16{errInvalidRequest, errInvalidRequest}) {
		t.Fatalf("delete: %v", codes)
	}
	if msg := deref(r.Topics[0].ErrorMessage); !strings.Contains(msg, "internal") {
		t.Fatalf("delete message %q does not say why", msg)
	}
	grow := kmsg.NewPtrCreatePartitionsRequest()
	grow.Version = 3
	grow.Topics = []kmsg.CreatePartitionsRequestTopic{{Topic: name, Count: 4}}
	if got := h.call(-1, grow).(*kmsg.CreatePartitionsResponse).Topics[0].ErrorCode; got != errInvalidRequest {
		t.Fatalf("create partitions: code %d", got)
	}
	if _, ok := h.committed.Topic(name); !ok || len(h.committed.Partitions(tid)) != 2 {
		t.Fatalf("the offsets topic changed: %d partitions", len(h.committed.Partitions(tid)))
	}
}

func TestCreatePartitions(t *testing.T) {
	h := newHarness(t)
	h.cluster(3)
	tid := h.createTopic("t", 2, 2)
	req := func(count int32, assignment ...[]int32) *kmsg.CreatePartitionsRequest {
		m := kmsg.NewPtrCreatePartitionsRequest()
		m.Version = 3
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = "t", count
		for _, rs := range assignment {
			rt.Assignment = append(rt.Assignment, kmsg.CreatePartitionsRequestTopicAssignment{Replicas: rs})
		}
		m.Topics = append(m.Topics, rt)
		return m
	}
	code := func(m *kmsg.CreatePartitionsRequest) int16 {
		return h.call(-1, m).(*kmsg.CreatePartitionsResponse).Topics[0].ErrorCode
	}
	for name, c := range map[string]struct {
		m    *kmsg.CreatePartitionsRequest
		code int16
	}{
		"same count":        {req(2), errInvalidPartitions},
		"fewer":             {req(1), errInvalidPartitions},
		"wrong assignments": {req(4, []int32{1, 2}), errInvalidReplicaAssignment},
		"wrong rf":          {req(3, []int32{1}), errInvalidReplicaAssignment},
		"unregistered":      {req(3, []int32{1, 9}), errInvalidReplicaAssignment},
	} {
		if got := code(c.m); got != c.code {
			t.Errorf("%s: code %d, want %d", name, got, c.code)
		}
	}
	unknown := req(3)
	unknown.Topics[0].Topic = "u"
	if got := code(unknown); got != errUnknownTopicOrPartition {
		t.Errorf("unknown topic: %d", got)
	}
	validate := req(5)
	validate.ValidateOnly = true
	if got := code(validate); got != 0 || len(h.committed.Partitions(tid)) != 2 {
		t.Fatalf("validate only: code %d, %d partitions", got, len(h.committed.Partitions(tid)))
	}
	if got := code(req(3, []int32{3, 1})); got != 0 {
		t.Fatalf("manual increase: %d", got)
	}
	if got := code(req(6)); got != 0 {
		t.Fatalf("placed increase: %d", got)
	}
	ps := h.committed.Partitions(tid)
	if len(ps) != 6 || !slices.Equal(ps[2].Replicas, []int32{3, 1}) {
		t.Fatalf("partitions %+v", ps)
	}
	for _, p := range ps {
		if len(p.Replicas) != 2 || p.Leader != p.Replicas[0] {
			t.Fatalf("new partition %+v", p)
		}
	}
}

func TestAlterPartition(t *testing.T) {
	h := newHarness(t)
	h.cluster(4)
	h.register(5, "") // registered, fenced
	tid := h.manualTopic("t", [][]int32{{1, 2, 3}, {2, 3, 5}})
	epochs := map[int32]int64{}
	for _, b := range h.committed.Brokers() {
		epochs[b.ID] = b.Epoch
	}
	send := func(version int16, from int32, p int32, mut func(*kmsg.AlterPartitionRequestTopicPartition), isr ...int32) *kmsg.AlterPartitionResponse {
		ps, _ := h.committed.Partition(tid, p)
		m := kmsg.NewPtrAlterPartitionRequest()
		m.Version, m.BrokerID, m.BrokerEpoch = version, from, epochs[from]
		rt := kmsg.AlterPartitionRequestTopic{Topic: "t", TopicID: tid}
		rp := kmsg.AlterPartitionRequestTopicPartition{Partition: p, LeaderEpoch: ps.LeaderEpoch, PartitionEpoch: ps.PartitionEpoch}
		for _, id := range isr {
			rp.NewISR = append(rp.NewISR, id)
			rp.NewEpochISR = append(rp.NewEpochISR, kmsg.AlterPartitionRequestTopicPartitionNewEpochISR{BrokerID: id, BrokerEpoch: epochs[id]})
		}
		if mut != nil {
			mut(&rp)
		}
		rt.Partitions = append(rt.Partitions, rp)
		m.Topics = append(m.Topics, rt)
		return h.call(from, m).(*kmsg.AlterPartitionResponse)
	}
	partCode := func(r *kmsg.AlterPartitionResponse) int16 {
		if r.ErrorCode != 0 {
			return r.ErrorCode
		}
		return r.Topics[0].Partitions[0].ErrorCode
	}

	// A shrink by the leader, at v0 (by name), v2 (by id) and v3 (with epochs).
	before, _ := h.committed.Partition(tid, 0)
	r := send(0, 1, 0, nil, 1, 2)
	got := r.Topics[0].Partitions[0]
	after, _ := h.committed.Partition(tid, 0)
	if got.ErrorCode != 0 || !slices.Equal(got.ISR, []int32{1, 2}) || got.PartitionEpoch != before.PartitionEpoch+1 ||
		got.LeaderEpoch != before.LeaderEpoch || got.LeaderID != 1 || r.Topics[0].Topic != "t" {
		t.Fatalf("shrink: %+v", got)
	}
	if !slices.Equal(after.ISR, got.ISR) || after.PartitionEpoch != got.PartitionEpoch {
		t.Fatalf("image %+v does not match the response", after)
	}
	if got := send(2, 1, 0, nil, 1, 2, 3).Topics[0]; got.Partitions[0].ErrorCode != 0 || got.TopidID != tid {
		t.Fatalf("expand at v2: %+v", got)
	}
	if code := partCode(send(3, 1, 0, nil, 1, 3)); code != 0 {
		t.Fatalf("v3: %d", code)
	}
	// Asking for the current ISR changes nothing and answers with the current state.
	records := len(h.q.entries)
	if r := send(3, 1, 0, nil, 1, 3); partCode(r) != 0 || len(h.q.entries) != records {
		t.Fatal("no-op change proposed a record")
	}

	cases := []struct {
		name    string
		version int16
		from    int32
		p       int32
		mut     func(*kmsg.AlterPartitionRequestTopicPartition)
		isr     []int32
		code    int16
	}{
		{"stale leader epoch", 2, 1, 0, func(rp *kmsg.AlterPartitionRequestTopicPartition) { rp.LeaderEpoch-- }, []int32{1}, errFencedLeaderEpoch},
		{"future leader epoch", 2, 1, 0, func(rp *kmsg.AlterPartitionRequestTopicPartition) { rp.LeaderEpoch++ }, []int32{1}, errFencedLeaderEpoch},
		{"partition epoch CAS", 2, 1, 0, func(rp *kmsg.AlterPartitionRequestTopicPartition) { rp.PartitionEpoch-- }, []int32{1}, errInvalidUpdateVersion},
		{"not the leader", 2, 2, 0, nil, []int32{2}, errInvalidRequest},
		{"ISR without leader, not a resignation", 2, 1, 0, nil, []int32{2}, errInvalidRequest},
		{"empty ISR", 2, 1, 0, nil, nil, errInvalidRequest},
		{"ISR outside replicas", 2, 1, 0, nil, []int32{1, 4}, errInvalidRequest},
		{"ISR duplicate", 2, 1, 0, nil, []int32{1, 1}, errInvalidRequest},
		{"fenced member", 2, 2, 1, nil, []int32{2, 5}, errIneligibleReplica},
		{"stale member epoch", 3, 1, 0, func(rp *kmsg.AlterPartitionRequestTopicPartition) { rp.NewEpochISR[1].BrokerEpoch = 1 << 40 }, []int32{1, 2}, errIneligibleReplica},
		{"recovering", 2, 1, 0, func(rp *kmsg.AlterPartitionRequestTopicPartition) { rp.LeaderRecoveryState = 1 }, []int32{1}, errInvalidRequest},
		{"unknown partition", 2, 1, 7, nil, []int32{1}, errUnknownTopicOrPartition},
	}
	for _, c := range cases {
		records := len(h.q.entries)
		if code := partCode(send(c.version, c.from, c.p, c.mut, c.isr...)); code != c.code {
			t.Errorf("%s: code %d, want %d", c.name, code, c.code)
		}
		if len(h.q.entries) != records {
			t.Errorf("%s: proposed a record", c.name)
		}
	}

	// Request-level checks.
	m := kmsg.NewPtrAlterPartitionRequest()
	m.Version, m.BrokerID, m.BrokerEpoch = 2, 1, epochs[1]+1
	if r := h.call(1, m).(*kmsg.AlterPartitionResponse); r.ErrorCode != errStaleBrokerEpoch {
		t.Fatalf("stale broker epoch: %d", r.ErrorCode)
	}
	m.BrokerEpoch = epochs[1]
	if r := h.call(2, m).(*kmsg.AlterPartitionResponse); r.ErrorCode != errClusterAuthorizationFailed {
		t.Fatalf("spoofed sender: %d", r.ErrorCode)
	}
	m.Topics = []kmsg.AlterPartitionRequestTopic{{TopicID: [16]byte{7}, Partitions: []kmsg.AlterPartitionRequestTopicPartition{{}}}}
	if r := h.call(1, m).(*kmsg.AlterPartitionResponse); r.Topics[0].Partitions[0].ErrorCode != errUnknownTopicID {
		t.Fatalf("unknown topic id: %+v", r)
	}
}

// Two leaders' requests computed from the same partition epoch: the second loses the
// compare-and-set, even before the first commits.
func TestAlterPartitionCompareAndSet(t *testing.T) {
	h := newHarness(t)
	h.cluster(3)
	tid := h.manualTopic("t", [][]int32{{1, 2, 3}})
	ps, _ := h.committed.Partition(tid, 0)
	b1, _ := h.committed.Broker(1)
	req := func(isr ...int32) *kmsg.AlterPartitionRequest {
		m := kmsg.NewPtrAlterPartitionRequest()
		m.Version, m.BrokerID, m.BrokerEpoch = 2, 1, b1.Epoch
		m.Topics = []kmsg.AlterPartitionRequestTopic{{TopicID: tid, Partitions: []kmsg.AlterPartitionRequestTopicPartition{
			{Partition: 0, LeaderEpoch: ps.LeaderEpoch, PartitionEpoch: ps.PartitionEpoch, NewISR: isr}}}}
		return m
	}
	h.manual = true
	first := h.send(1, req(1, 2))
	second := h.send(1, req(1, 3))
	h.commit()
	c1 := h.responses[first].(*kmsg.AlterPartitionResponse).Topics[0].Partitions[0].ErrorCode
	c2 := h.responses[second].(*kmsg.AlterPartitionResponse).Topics[0].Partitions[0].ErrorCode
	if c1 != 0 || c2 != errInvalidUpdateVersion {
		t.Fatalf("codes %d, %d", c1, c2)
	}
	if got, _ := h.committed.Partition(tid, 0); !slices.Equal(got.ISR, []int32{1, 2}) {
		t.Fatalf("ISR %v", got.ISR)
	}
}

func TestAllocateProducerIDs(t *testing.T) {
	h := newHarness(t)
	h.cluster(2)
	alloc := func(from int32, epochDelta int64) *kmsg.AllocateProducerIDsResponse {
		b, _ := h.committed.Broker(from)
		m := kmsg.NewPtrAllocateProducerIDsRequest()
		m.BrokerID, m.BrokerEpoch = from, b.Epoch+epochDelta
		return h.call(from, m).(*kmsg.AllocateProducerIDsResponse)
	}
	type block struct{ start, end int64 }
	var blocks []block
	for i := range 10 {
		if i == 5 { // a controller failover in the middle
			h.c.Deactivate()
			h.c.Activate(h.now, h.committed)
		}
		r := alloc(int32(1+i%2), 0)
		if r.ErrorCode != 0 || r.ProducerIDLen != int32(h.cfg.ProducerIDBlockSize) {
			t.Fatalf("allocation %d: %+v", i, r)
		}
		blocks = append(blocks, block{r.ProducerIDStart, r.ProducerIDStart + int64(r.ProducerIDLen)})
	}
	for i, a := range blocks {
		for _, b := range blocks[i+1:] {
			if a.start < b.end && b.start < a.end {
				t.Fatalf("blocks %v and %v overlap", a, b)
			}
		}
	}
	if h.committed.NextProducerID() != blocks[len(blocks)-1].end {
		t.Fatal("image counter does not match the last block")
	}
	if r := alloc(1, 1); r.ErrorCode != errStaleBrokerEpoch {
		t.Fatalf("stale epoch: %+v", r)
	}
	m := kmsg.NewPtrAllocateProducerIDsRequest()
	m.BrokerID = 9
	if r := h.call(9, m).(*kmsg.AllocateProducerIDsResponse); r.ErrorCode != errBrokerIDNotRegistered {
		t.Fatalf("unknown broker: %+v", r)
	}
	if r := h.call(2, m).(*kmsg.AllocateProducerIDsResponse); r.ErrorCode != errClusterAuthorizationFailed {
		t.Fatalf("spoofed sender: %+v", r)
	}
}

// Every version kmsg knows is answered at that version, and the answer encodes.
func TestAllVersions(t *testing.T) {
	h := newHarness(t)
	h.cluster(2)
	tid := h.createTopic("t", 1, 1)
	b1, _ := h.committed.Broker(1)
	build := []func() kmsg.Request{
		func() kmsg.Request { return registerReq(1, "", 1) },
		func() kmsg.Request { return heartbeatReq(1, b1.Epoch, h.committed.Offset()) },
		func() kmsg.Request {
			m := kmsg.NewPtrAlterPartitionRequest()
			m.BrokerID, m.BrokerEpoch = 1, b1.Epoch
			m.Topics = []kmsg.AlterPartitionRequestTopic{{Topic: "t", TopicID: tid,
				Partitions: []kmsg.AlterPartitionRequestTopicPartition{{Partition: 0, LeaderEpoch: 99}}}}
			return m
		},
		func() kmsg.Request { return createReq("x", 1, 1) },
		func() kmsg.Request {
			return &kmsg.DeleteTopicsRequest{TopicNames: []string{"nope"}, Topics: []kmsg.DeleteTopicsRequestTopic{{Topic: strp("nope")}}}
		},
		func() kmsg.Request {
			return &kmsg.CreatePartitionsRequest{Topics: []kmsg.CreatePartitionsRequestTopic{{Topic: "t", Count: 1}}}
		},
		func() kmsg.Request { return incReq(2, "t", incOp{"segment.ms", 0, strp("9")}) },
		func() kmsg.Request {
			return &kmsg.AlterConfigsRequest{Resources: []kmsg.AlterConfigsRequestResource{{ResourceType: 2, ResourceName: "nope"}}}
		},
		func() kmsg.Request {
			m := kmsg.NewPtrAllocateProducerIDsRequest()
			m.BrokerID, m.BrokerEpoch = 1, b1.Epoch
			return m
		},
	}
	for _, f := range build {
		for v := int16(0); v <= f().MaxVersion(); v++ {
			m := f()
			m.SetVersion(v)
			if m.Key() == 19 {
				m.(*kmsg.CreateTopicsRequest).Topics[0].Topic = fmt.Sprint("x", v)
			}
			h.call(1, m) // checks version and encoding
		}
	}
}

// A leader whose log is damaged leaves its ISR: the controller elects another member,
// never the damaged one again (it is out of the ISR, which a new controller reads from
// the metadata), and leaves the partition leaderless rather than elect it when every
// other member is down.
func TestAlterPartitionResignation(t *testing.T) {
	h := newHarness(t)
	h.cluster(3)
	tid := h.manualTopic("t", [][]int32{{1, 2, 3}, {1, 2, 3}})
	before, _ := h.committed.Partition(tid, 0)
	r := h.alterISR(1, tid, 0, []int32{2, 3})
	got := r.Topics[0].Partitions[0]
	after, _ := h.committed.Partition(tid, 0)
	if got.ErrorCode != 0 || got.LeaderID != 2 || got.LeaderEpoch != before.LeaderEpoch+1 ||
		after.Leader != 2 || !slices.Equal(after.ISR, []int32{2, 3}) {
		t.Fatalf("resignation: answer %+v, image %+v", got, after)
	}
	// Only the ISR without the leader is a resignation.
	if r := h.alterISR(2, tid, 0, []int32{3, 1}); r.Topics[0].Partitions[0].ErrorCode != errInvalidRequest {
		t.Fatalf("ISR gaining a member without the leader: %+v", r.Topics[0].Partitions[0])
	}
	// Its next leader fails: a new controller elects the remaining member, not 1.
	h.silence(2, h.cfg.SessionTimeout+h.cfg.HeartbeatInterval)
	h.c.Deactivate()
	h.c.Activate(h.now, h.committed)
	h.heartbeatAll(2)
	h.advance(0)
	if ps, _ := h.committed.Partition(tid, 0); ps.Leader != 3 || slices.Contains(ps.ISR, 1) {
		t.Fatalf("after failover: %+v", ps)
	}
	// Partition 1: once its other members are fenced they leave its ISR, and the last
	// member cannot resign: it is the only copy left, damaged or not.
	h.silence(3, h.cfg.SessionTimeout+h.cfg.HeartbeatInterval)
	ps1, _ := h.committed.Partition(tid, 1)
	if ps1.Leader != 1 || !slices.Equal(ps1.ISR, []int32{1}) {
		t.Fatalf("partition 1 before: %+v", ps1)
	}
	if r := h.alterISR(1, tid, 1, nil); r.Topics[0].Partitions[0].ErrorCode != errInvalidRequest {
		t.Fatalf("the last member resigned: %+v", r.Topics[0].Partitions[0])
	}
}
