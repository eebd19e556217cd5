package controller

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func electReq(typ int8, topic string, partitions ...int32) *kmsg.ElectLeadersRequest {
	m := kmsg.NewPtrElectLeadersRequest()
	m.Version, m.ElectionType = 2, typ
	if topic != "" {
		m.Topics = []kmsg.ElectLeadersRequestTopic{{Topic: topic, Partitions: partitions}}
	}
	return m
}

// loseAndRejoin lets broker id's session run out, so that its leaderships move, and
// has it heartbeat again, unfenced.
func (h *harness) loseAndRejoin(id int32) {
	h.t.Helper()
	h.silence(id, h.cfg.SessionTimeout+time.Second)
	if led := h.committed.PartitionsLedBy(id); len(led) != 0 {
		h.t.Fatalf("broker %d still leads %v after its session ended", id, led)
	}
	b, _ := h.committed.Broker(id)
	if r := h.call(id, heartbeatReq(id, b.Epoch, h.committed.Offset())).(*kmsg.BrokerHeartbeatResponse); r.ErrorCode != 0 || r.IsFenced {
		h.t.Fatalf("broker %d not unfenced: %+v", id, r)
	}
}

// electCodes maps each answered partition of topic to its error code.
func electCodes(r *kmsg.ElectLeadersResponse) map[int32]int16 {
	out := map[int32]int16{}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			out[p.Partition] = p.ErrorCode
		}
	}
	return out
}

// A preferred election moves a leadership back to the first replica when it is in the
// ISR and eligible, and says why it does not otherwise; an unclean one is never made.
func TestElectLeaders(t *testing.T) {
	h := newHarness(t)
	h.cluster(3)
	tid := h.manualTopic("t", [][]int32{{1, 2}, {2, 1}, {3, 1}, {1, 3}})
	// Broker 1 stops and comes back: partitions 0 and 3 move off it.
	h.loseAndRejoin(1)
	// Broker 1 is back in partition 0's ISR, not in partition 3's.
	h.alterISR(2, tid, 0, []int32{1, 2})

	r := h.call(-1, electReq(0, "t", 0, 1, 3, 9)).(*kmsg.ElectLeadersResponse)
	got := electCodes(r)
	want := map[int32]int16{0: 0, 1: errElectionNotNeeded, 3: errPreferredLeaderNotAvailable, 9: errUnknownTopicOrPartition}
	for p, code := range want {
		if got[p] != code {
			t.Errorf("partition %d: code %d, want %d", p, got[p], code)
		}
	}
	if ps, _ := h.committed.Partition(tid, 0); ps.Leader != 1 || !slices.Equal(ps.ISR, []int32{1, 2}) {
		t.Fatalf("partition 0 after the election: leader %d ISR %v", ps.Leader, ps.ISR)
	}
	// Every partition, as a null topic list asks: only those needing an election are
	// answered.
	h.alterISR(3, tid, 3, []int32{1, 3})
	r = h.call(-1, electReq(0, "")).(*kmsg.ElectLeadersResponse)
	if got := electCodes(r); len(got) != 1 || got[3] != 0 {
		t.Fatalf("election of every partition: %v", got)
	}
	// Unclean: a partition with a leader needs none; seedlog elects nobody outside the
	// ISR.
	if got := electCodes(h.call(-1, electReq(1, "t", 0)).(*kmsg.ElectLeadersResponse)); got[0] != errElectionNotNeeded {
		t.Fatalf("unclean election of a led partition: %v", got)
	}
	if r := h.call(-1, electReq(5, "t", 0)).(*kmsg.ElectLeadersResponse); r.ErrorCode != errInvalidRequest {
		t.Fatalf("election type 5: %d", r.ErrorCode)
	}
}

// The broker a preferred election took a leadership from gets no lease until it has
// applied the change, and its new leader may not drop it from the ISR meanwhile, until
// its lease has surely ended.
func TestDeposedLeaderHeldUntilApplied(t *testing.T) {
	h := newHarness(t)
	h.cluster(2)
	tid := h.manualTopic("t", [][]int32{{1, 2}})
	h.loseAndRejoin(1)
	h.alterISR(2, tid, 0, []int32{1, 2})
	// Broker 2 leads, broker 1 is preferred and in sync: move it back.
	before := h.committed.Offset()
	if got := electCodes(h.call(-1, electReq(0, "t", 0)).(*kmsg.ElectLeadersResponse)); got[0] != 0 {
		t.Fatalf("election: %v", got)
	}
	b2, _ := h.committed.Broker(2)
	if b2.CatchUpOffset <= before {
		t.Fatalf("broker 2's catch-up offset %d does not cover the election after %d", b2.CatchUpOffset, before)
	}
	// Broker 2 reports an offset before the election: no lease.
	if r := h.call(2, heartbeatReq(2, b2.Epoch, before)).(*kmsg.BrokerHeartbeatResponse); r.ErrorCode != errMetadataBehind {
		t.Fatalf("lagging deposed leader's heartbeat: %+v", r)
	}
	// The new leader may not drop it yet.
	if r := h.alterISR(1, tid, 0, []int32{1}); r.Topics[0].Partitions[0].ErrorCode != errIneligibleReplica {
		t.Fatalf("dropping the deposed leader: %+v", r.Topics[0].Partitions[0])
	}
	// Once it applied the election, it may be dropped (and gets leases again).
	if r := h.call(2, heartbeatReq(2, b2.Epoch, h.committed.Offset())).(*kmsg.BrokerHeartbeatResponse); r.ErrorCode != 0 || r.IsFenced {
		t.Fatalf("caught-up heartbeat: %+v", r)
	}
	if r := h.alterISR(1, tid, 0, []int32{1}); r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("dropping the deposed leader once it applied the change: %+v", r.Topics[0].Partitions[0])
	}
	if ps, _ := h.committed.Partition(tid, 0); !slices.Equal(ps.ISR, []int32{1}) {
		t.Fatalf("ISR %v", ps.ISR)
	}
}

// The deposed leader may also be dropped once every lease it could hold has ended, even
// if it never says it applied the change.
func TestDeposedLeaderDroppedAfterLease(t *testing.T) {
	h := newHarness(t)
	h.cluster(2)
	tid := h.manualTopic("t", [][]int32{{1, 2}})
	h.loseAndRejoin(1)
	h.alterISR(2, tid, 0, []int32{1, 2})
	h.call(-1, electReq(0, "t", 0))
	h.advance(time.Duration(h.c.leaseGoneAt(2)-h.now) + time.Millisecond)
	h.heartbeat(1)
	if r := h.alterISR(1, tid, 0, []int32{1}); r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("dropping a deposed leader whose lease ended: %+v", r.Topics[0].Partitions[0])
	}
}

// auto.leader.rebalance.enable: past the imbalance threshold, the check moves the
// leaderships back where the preferred replica is in the ISR; at or below it, nothing
// moves.
func TestAutoLeaderRebalance(t *testing.T) {
	for _, tc := range []struct {
		percent int
		moved   bool
	}{{40, true}, {100, false}} {
		cfg := testConfig(1)
		cfg.LeaderImbalanceCheckInterval = 30 * time.Second
		cfg.LeaderImbalancePercent = tc.percent
		h := newHarnessConfig(t, cfg)
		h.cluster(3)
		tid := h.manualTopic("t", [][]int32{{1, 2}, {1, 3}, {1, 2}, {2, 1}, {3, 1}})
		h.loseAndRejoin(1)
		// Broker 1 prefers partitions 0-2 and leads none, 3 of 3 (100 %); it rejoins
		// two ISRs.
		h.alterISR(2, tid, 0, []int32{1, 2})
		h.alterISR(3, tid, 1, []int32{1, 3})
		for end := h.now + int64(cfg.LeaderImbalanceCheckInterval); h.now < end; {
			h.advance(h.cfg.HeartbeatInterval)
			h.heartbeatAll()
		}
		var leaders []int32
		for p := range int32(3) {
			ps, _ := h.committed.Partition(tid, p)
			leaders = append(leaders, ps.Leader)
		}
		switch {
		case tc.moved && (leaders[0] != 1 || leaders[1] != 1 || leaders[2] == 1):
			t.Fatalf("threshold %d%%: leaders of partitions 0-2 %v, want 1, 1 and not 1 (out of its ISR)", tc.percent, leaders)
		case !tc.moved && slices.Contains(leaders, 1):
			t.Fatalf("threshold %d%%: leaders of partitions 0-2 %v, though no imbalance passed it", tc.percent, leaders)
		}
	}
}

// A request naming more partitions than partitionsListedMax is refused before any work.
func TestElectLeadersBounded(t *testing.T) {
	h := newHarness(t)
	h.cluster(1)
	m := electReq(0, "t")
	m.Topics[0].Partitions = make([]int32, partitionsListedMax+1)
	if r := h.call(-1, m).(*kmsg.ElectLeadersResponse); r.ErrorCode != errInvalidRequest || len(r.Topics) != 0 {
		t.Fatalf("oversized request: code %d, %d topics", r.ErrorCode, len(r.Topics))
	}
}
