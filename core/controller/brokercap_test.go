package controller

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// capHarness is three brokers under max.broker.partitions=capMax.
func capHarness(t *testing.T, capMax int) *harness {
	cfg := testConfig(1)
	cfg.BrokerPartitionsMax = capMax
	h := newHarnessConfig(t, cfg)
	h.cluster(3)
	return h
}

func (h *harness) replicasOn(id int32) int { return len(h.committed.PartitionsReplicatedOn(id)) }

func createPartitionsReq(topic string, count int32, validateOnly bool) *kmsg.CreatePartitionsRequest {
	m := kmsg.NewPtrCreatePartitionsRequest()
	m.Version, m.ValidateOnly = 3, validateOnly
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = topic, count
	m.Topics = append(m.Topics, rt)
	return m
}

const capMessage = "broker 1 would hold 5 partition replicas, above max.broker.partitions=4"

// CreateTopics fills the brokers exactly to the bound, and one replica more is refused
// with POLICY_VIOLATION and the broker's count, validate-only as well; the topics of
// one request count together.
func TestBrokerCapCreateTopics(t *testing.T) {
	h := capHarness(t, 4)
	h.createTopic("full", 4, 3) // four replicas on each broker: at the bound
	for _, id := range []int32{1, 2, 3} {
		if n := h.replicasOn(id); n != 4 {
			t.Fatalf("broker %d holds %d replicas, want 4", id, n)
		}
	}
	for _, validateOnly := range []bool{false, true} {
		m := createReq("more", 1, 3)
		m.ValidateOnly = validateOnly
		rt := h.call(-1, m).(*kmsg.CreateTopicsResponse).Topics[0]
		if rt.ErrorCode != errPolicyViolation || deref(rt.ErrorMessage) != capMessage {
			t.Fatalf("validate-only %v: %d %q, want POLICY_VIOLATION %q", validateOnly, rt.ErrorCode, deref(rt.ErrorMessage), capMessage)
		}
	}
	if _, exists := h.committed.Topic("more"); exists {
		t.Fatal("refused topic created")
	}

	// Two topics that fit one at a time but not together: the second is refused.
	h = capHarness(t, 4)
	m := createReq("a", 3, 3)
	m.Topics = append(m.Topics, createReq("b", 2, 3).Topics...)
	m.ValidateOnly = true
	r := h.call(-1, m).(*kmsg.CreateTopicsResponse)
	if r.Topics[0].ErrorCode != 0 || r.Topics[1].ErrorCode != errPolicyViolation {
		t.Fatalf("together: %d, %d; want 0 and POLICY_VIOLATION", r.Topics[0].ErrorCode, r.Topics[1].ErrorCode)
	}
	m.ValidateOnly = false
	r = h.call(-1, m).(*kmsg.CreateTopicsResponse)
	if r.Topics[0].ErrorCode != 0 || r.Topics[1].ErrorCode != errPolicyViolation || h.replicasOn(1) != 3 {
		t.Fatalf("together: %d, %d, broker 1 holds %d", r.Topics[0].ErrorCode, r.Topics[1].ErrorCode, h.replicasOn(1))
	}
	h.createTopic("c", 1, 3) // exactly to the bound
}

// CreatePartitions may grow a topic to the bound and no further.
func TestBrokerCapCreatePartitions(t *testing.T) {
	h := capHarness(t, 4)
	tid := h.createTopic("t", 2, 3)
	for _, validateOnly := range []bool{false, true} {
		rt := h.call(-1, createPartitionsReq("t", 5, validateOnly)).(*kmsg.CreatePartitionsResponse).Topics[0]
		if rt.ErrorCode != errPolicyViolation || deref(rt.ErrorMessage) != capMessage {
			t.Fatalf("validate-only %v: %d %q, want POLICY_VIOLATION %q", validateOnly, rt.ErrorCode, deref(rt.ErrorMessage), capMessage)
		}
	}
	if rt := h.call(-1, createPartitionsReq("t", 4, false)).(*kmsg.CreatePartitionsResponse).Topics[0]; rt.ErrorCode != 0 {
		t.Fatalf("growing to the bound: %d %s", rt.ErrorCode, deref(rt.ErrorMessage))
	}
	if n := len(h.committed.Partitions(tid)); n != 4 || h.replicasOn(3) != 4 {
		t.Fatalf("%d partitions, broker 3 holds %d", n, h.replicasOn(3))
	}
}

// A reassignment counts the replicas it adds from the moment it starts: a broker at the
// bound takes no more, a move away from it makes room, and retargeting a moving
// partition counts what it would add on top.
func TestBrokerCapReassign(t *testing.T) {
	h := capHarness(t, 2)
	h.manualTopic("t", [][]int32{{1}, {1}, {3}})
	if code, msg := h.reassign("t", 2, []int32{1}); code != errPolicyViolation || msg != "broker 1 would hold 3 partition replicas, above max.broker.partitions=2" {
		t.Fatalf("move onto a full broker: %d %q", code, msg)
	}
	// Moving partition 0 from broker 1 to broker 3 fills broker 3 at once, while broker
	// 1 keeps its replica until the move ends.
	if code, msg := h.reassign("t", 0, []int32{3}); code != 0 {
		t.Fatalf("move to broker 3: %d %s", code, msg)
	}
	if n := h.replicasOn(3); n != 2 {
		t.Fatalf("broker 3 holds %d replicas during the move, want 2 (one being added)", n)
	}
	if code, _ := h.reassign("t", 1, []int32{3}); code != errPolicyViolation {
		t.Fatalf("second move onto broker 3, which an adding replica filled: %d", code)
	}
	if code, _ := h.reassign("t", 2, []int32{1}); code != errPolicyViolation {
		t.Fatalf("move onto broker 1 while its replica is still being removed: %d", code)
	}
	// Asking for partition 0's target again adds nothing.
	if code, msg := h.reassign("t", 0, []int32{3}); code != 0 {
		t.Fatalf("same target: %d %s", code, msg)
	}
	// The partitions of one request count together: broker 3 takes two of these three.
	h = capHarness(t, 2)
	h.manualTopic("u", [][]int32{{1}, {1}, {2}})
	m := reassignReq("u", 0, []int32{3})
	for p := int32(1); p < 3; p++ {
		m.Topics[0].Partitions = append(m.Topics[0].Partitions, reassignReq("u", p, []int32{3}).Topics[0].Partitions...)
	}
	r := h.call(-1, m).(*kmsg.AlterPartitionAssignmentsResponse)
	if p := r.Topics[0].Partitions; p[0].ErrorCode != 0 || p[1].ErrorCode != 0 || p[2].ErrorCode != errPolicyViolation {
		t.Fatalf("together: %d, %d, %d; want the third refused", p[0].ErrorCode, p[1].ErrorCode, p[2].ErrorCode)
	}
}
