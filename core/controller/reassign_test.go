package controller

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/metadata"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func reassignReq(topic string, partition int32, replicas []int32) *kmsg.AlterPartitionAssignmentsRequest {
	m := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	m.Version, m.AllowReplicationFactorChange = 1, true
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	rp.Partition, rp.Replicas = partition, replicas
	rt.Partitions = append(rt.Partitions, rp)
	m.Topics = append(m.Topics, rt)
	return m
}

func (h *harness) reassign(topic string, partition int32, replicas []int32) (int16, string) {
	h.t.Helper()
	r := h.call(-1, reassignReq(topic, partition, replicas)).(*kmsg.AlterPartitionAssignmentsResponse)
	p := r.Topics[0].Partitions[0]
	return p.ErrorCode, deref(p.ErrorMessage)
}

// A move adds the new replica, hands leadership to the target once the new replica is
// in sync, and removes the old one only after the old leader applied the handoff.
func TestReassignWaitsForISR(t *testing.T) {
	h := newHarness(t)
	h.cluster(4)
	tid := h.manualTopic("t", [][]int32{{1, 2, 3}})
	if code, msg := h.reassign("t", 0, []int32{4, 2, 3}); code != 0 {
		t.Fatalf("reassign: %d %s", code, msg)
	}
	ps, _ := h.committed.Partition(tid, 0)
	if !slices.Equal(ps.Replicas, []int32{4, 2, 3, 1}) || !slices.Equal(ps.Adding, []int32{4}) || !slices.Equal(ps.Removing, []int32{1}) {
		t.Fatalf("started: %+v", ps)
	}
	h.silence(-1, 2*time.Second)
	if ps, _ = h.committed.Partition(tid, 0); !ps.Moving() || ps.Leader != 1 {
		t.Fatalf("moved on before broker 4 was in sync: %+v", ps)
	}
	h.alterISR(1, tid, 0, []int32{1, 2, 3, 4})
	h.advance(0)
	if ps, _ = h.committed.Partition(tid, 0); ps.Leader != 4 || !ps.Moving() {
		t.Fatalf("want leadership handed to broker 4, broker 1 still a replica: %+v", ps)
	}
	// Broker 1 has not said it applied the handoff, and its lease may run: it stays.
	b1, _ := h.committed.Broker(1)
	h.call(1, heartbeatReq(1, b1.Epoch, b1.CatchUpOffset-1))
	h.advance(moveRecheck)
	if ps, _ = h.committed.Partition(tid, 0); !slices.Contains(ps.Replicas, 1) {
		t.Fatalf("old leader removed before it applied the handoff: %+v", ps)
	}
	h.heartbeatAll()
	h.advance(moveRecheck)
	ps, _ = h.committed.Partition(tid, 0)
	if ps.Moving() || !slices.Equal(ps.Replicas, []int32{4, 2, 3}) || !slices.Equal(ps.ISR, []int32{2, 3, 4}) || ps.Leader != 4 {
		t.Fatalf("finished: %+v", ps)
	}
	h.advance(moveRecheck)
	if len(h.c.moving) != 0 {
		t.Fatalf("still watching %v", h.c.moving)
	}
}

// Cancelling reverts; retargeting starts from the whole current set; bad targets are
// refused with the reason.
func TestReassignCancelAndRefusals(t *testing.T) {
	h := newHarness(t)
	h.cluster(4)
	tid := h.manualTopic("t", [][]int32{{1, 2}})
	h.reassign("t", 0, []int32{3, 4})
	if ps, _ := h.committed.Partition(tid, 0); !slices.Equal(ps.Adding, []int32{3, 4}) || !slices.Equal(ps.Removing, []int32{1, 2}) {
		t.Fatalf("started: %+v", ps)
	}
	// A new target replaces the old: 3 is still being added, 4 goes.
	h.reassign("t", 0, []int32{1, 3})
	if ps, _ := h.committed.Partition(tid, 0); !slices.Equal(ps.Replicas, []int32{1, 3, 4, 2}) || !slices.Equal(ps.Adding, []int32{3}) ||
		!slices.Equal(ps.Removing, []int32{4, 2}) {
		t.Fatalf("retargeted: %+v", ps)
	}
	if code, msg := h.reassign("t", 0, nil); code != 0 {
		t.Fatalf("cancel: %d %s", code, msg)
	}
	ps, _ := h.committed.Partition(tid, 0)
	if ps.Moving() || !slices.Equal(ps.Replicas, []int32{1, 4, 2}) || !slices.Equal(ps.ISR, []int32{1, 2}) {
		t.Fatalf("cancelled: %+v", ps)
	}
	if code, _ := h.reassign("t", 0, nil); code != errNoReassignmentInProgress {
		t.Fatalf("second cancel: %d", code)
	}
	// The same set in another order completes at once.
	h.reassign("t", 0, []int32{2, 1, 4})
	if ps, _ := h.committed.Partition(tid, 0); ps.Moving() || !slices.Equal(ps.Replicas, []int32{2, 1, 4}) {
		t.Fatalf("reordered: %+v", ps)
	}
	for _, c := range []struct {
		topic    string
		replicas []int32
		code     int16
	}{
		{"t", []int32{}, errInvalidReplicaAssignment},
		{"t", []int32{9}, errInvalidReplicaAssignment},
		{"t", []int32{1, 1}, errInvalidReplicaAssignment},
		{"u", []int32{1}, errUnknownTopicOrPartition},
	} {
		if code, _ := h.reassign(c.topic, 0, c.replicas); code != c.code {
			t.Errorf("%s %v: code %d, want %d", c.topic, c.replicas, code, c.code)
		}
	}
	m := reassignReq("t", 0, []int32{1})
	m.AllowReplicationFactorChange = false
	if r := h.call(-1, m).(*kmsg.AlterPartitionAssignmentsResponse); r.Topics[0].Partitions[0].ErrorCode != errInvalidReplicationFactor {
		t.Fatalf("replication factor change refused: %+v", r.Topics[0].Partitions[0])
	}
}

// A broker is unregistered only once it holds no replica and is stopped.
func TestUnregisterBroker(t *testing.T) {
	h := newHarness(t)
	h.cluster(3)
	h.manualTopic("t", [][]int32{{1, 2}})
	unregister := func(id int32) int16 {
		m := kmsg.NewPtrUnregisterBrokerRequest()
		m.BrokerID = id
		return h.call(-1, m).(*kmsg.UnregisterBrokerResponse).ErrorCode
	}
	if code := unregister(1); code != errInvalidRequest {
		t.Fatalf("broker holding replicas: %d", code)
	}
	if code := unregister(3); code != errInvalidRequest {
		t.Fatalf("running broker: %d", code)
	}
	h.silence(3, h.cfg.SessionTimeout+time.Second)
	if code := unregister(3); code != 0 {
		t.Fatalf("stopped idle broker: %d", code)
	}
	if _, ok := h.committed.Broker(3); ok {
		t.Fatal("broker 3 still registered")
	}
	if code := unregister(3); code != errBrokerIDNotRegistered {
		t.Fatalf("again: %d", code)
	}
}

// Every request the controller takes has an error answer: a deactivated or busy
// controller fails each waiting request with one.
func TestEveryKeyHasErrorResponse(t *testing.T) {
	for k := int16(0); k < 100; k++ {
		if !Supports(k) {
			continue
		}
		req := kmsg.RequestForKey(k)
		if r := errorResponse(req, fail(errNotController, "")); r.Key() != k {
			t.Errorf("key %d answered with key %d", k, r.Key())
		}
	}
}

// A cancellation that would leave fewer in-sync replicas than min.insync.replicas is
// refused: an acknowledged record may be on the added replica and one original alone.
func TestCancelKeepsMinISR(t *testing.T) {
	cfg := testConfig(1)
	cfg.Static = metadata.StaticConfig{{Key: "min.insync.replicas", Value: "2"}}
	h := newHarnessConfig(t, cfg)
	h.cluster(3)
	tid := h.manualTopic("t", [][]int32{{1, 2}})
	h.reassign("t", 0, []int32{1, 3})
	h.alterISR(1, tid, 0, []int32{1, 2, 3})
	h.alterISR(1, tid, 0, []int32{1, 3}) // broker 2 falls behind
	if code, msg := h.reassign("t", 0, nil); code != errInvalidReplicaAssignment || !strings.Contains(msg, "min.insync.replicas 2") {
		t.Fatalf("cancel leaving one in-sync replica: %d %s", code, msg)
	}
	h.alterISR(1, tid, 0, []int32{1, 2, 3})
	if code, msg := h.reassign("t", 0, nil); code != 0 {
		t.Fatalf("cancel with both originals in sync: %d %s", code, msg)
	}
}
