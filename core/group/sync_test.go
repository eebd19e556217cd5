package group

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// completing forms a group of n members up to CompletingRebalance and returns their ids
// (ids[0] leads) and the generation.
func (h *harness) completing(group string, n int) ([]string, int32) {
	h.t.Helper()
	var ids []string
	var calls []*joinCall
	for range n {
		id, jc := h.joinNew(group)
		ids, calls = append(ids, id), append(calls, jc)
	}
	h.runUntil(calls[0].answered)
	if calls[0].get().LeaderID != ids[0] {
		h.t.Fatalf("leader %s, want the first member", calls[0].get().LeaderID)
	}
	return ids, calls[0].get().Generation
}

func TestSyncWaitsForDurableAssignment(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.completing("g", 2)
	h.log.auto = false
	follower := h.sync(syncReq("g", ids[1], gen, nil))
	leader := h.sync(syncReq("g", ids[0], gen, map[string]string{ids[0]: "A", ids[1]: "B"}))
	if follower.answered() || leader.answered() {
		t.Fatal("sync answered before the assignment was durable")
	}
	if st := h.group("g"); st.State != "CompletingRebalance" || st.Members[0].Assignment != nil || st.Members[1].Assignment != nil {
		t.Errorf("group before the append is done: %+v", st)
	}
	if len(h.log.pending) != 1 {
		t.Fatalf("%d appends pending, want the group record", len(h.log.pending))
	}
	h.log.complete(0)
	if got := string(leader.get().MemberAssignment); got != "A" {
		t.Errorf("leader assigned %q", got)
	}
	if got := string(follower.get().MemberAssignment); got != "B" {
		t.Errorf("follower assigned %q", got)
	}
	if resp := leader.get(); resp.Version != 5 || *resp.Protocol != "range" || *resp.ProtocolType != "consumer" {
		t.Errorf("sync response %+v", resp)
	}
	st := h.group("g")
	if st.State != "Stable" {
		t.Errorf("group %s after the append", st.State)
	}
	rec := h.log.lastGroupRecord("g")
	if rec == nil || rec.Generation != gen || *rec.Protocol != "range" || *rec.Leader != ids[0] || len(rec.Members) != 2 {
		t.Fatalf("group record %+v", rec)
	}
	for i, want := range []string{"A", "B"} {
		m := rec.Members[i]
		if m.MemberID != ids[i] || string(m.Assignment) != want || string(m.Subscription) != "sub-range" ||
			m.SessionTimeoutMillis != 10000 || m.RebalanceTimeoutMillis != 20000 || m.ClientID != "client" {
			t.Errorf("recorded member %d: %+v", i, m)
		}
	}
}

func TestSyncErrors(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.completing("g", 2)
	wantCode(t, "wrong generation", h.sync(syncReq("g", ids[1], gen+1, nil)).get().ErrorCode, codeIllegalGeneration)
	wantCode(t, "unknown member", h.sync(syncReq("g", "who", gen, nil)).get().ErrorCode, codeUnknownMemberID)
	wantCode(t, "unknown group", h.sync(syncReq("nope", ids[0], gen, nil)).get().ErrorCode, codeUnknownMemberID)
	wantCode(t, "no group id", h.sync(syncReq("", ids[0], gen, nil)).get().ErrorCode, codeInvalidGroupID)
	bad := syncReq("g", ids[1], gen, nil)
	bad.Protocol = kmsg.StringPtr("sticky")
	wantCode(t, "other protocol", h.sync(bad).get().ErrorCode, codeInconsistentGroupProtocol)
	bad = syncReq("g", ids[1], gen, nil)
	bad.ProtocolType = kmsg.StringPtr("connect")
	wantCode(t, "other protocol type", h.sync(bad).get().ErrorCode, codeInconsistentGroupProtocol)

	h.sync(syncReq("g", ids[0], gen, map[string]string{ids[0]: "A", ids[1]: "B"}))
	h.join(joinReq("g", ids[0])) // the leader rejoins: a rebalance
	wantCode(t, "sync during the join phase", h.sync(syncReq("g", ids[1], gen, nil)).get().ErrorCode, codeRebalanceInProgress)
}

func TestSyncInStableAnswersAtOnce(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.completing("g", 2)
	h.sync(syncReq("g", ids[0], gen, map[string]string{ids[0]: "A", ids[1]: "B"}))
	late := h.sync(syncReq("g", ids[1], gen, nil))
	if got := string(late.get().MemberAssignment); got != "B" {
		t.Errorf("late follower assigned %q", got)
	}
	// A member the leader left out gets an empty assignment.
	h2 := newHarness(t)
	ids, gen = h2.completing("g", 2)
	h2.sync(syncReq("g", ids[0], gen, map[string]string{ids[0]: "A", "stranger": "X"}))
	resp := h2.sync(syncReq("g", ids[1], gen, nil)).get()
	if resp.ErrorCode != codeNone || len(resp.MemberAssignment) != 0 {
		t.Errorf("left-out member: code %d assignment %q", resp.ErrorCode, resp.MemberAssignment)
	}
}

func TestSyncAppendFailure(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int16
	}{
		{fmt.Errorf("partition moved: %w", ErrNotLeader), codeNotCoordinator},
		{errTimeout, codeCoordinatorNotAvailable},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			h := newHarness(t)
			ids, gen := h.completing("g", 2)
			h.log.auto = false
			follower := h.sync(syncReq("g", ids[1], gen, nil))
			leader := h.sync(syncReq("g", ids[0], gen, map[string]string{ids[0]: "A", ids[1]: "B"}))
			h.log.fail(0, tc.err)
			wantCode(t, "leader", leader.get().ErrorCode, tc.want)
			wantCode(t, "follower", follower.get().ErrorCode, tc.want)
			st := h.group("g")
			if st.State != "PreparingRebalance" {
				t.Errorf("group %s after a failed append, want a rebalance", st.State)
			}
			for _, m := range st.Members {
				if m.Assignment != nil {
					t.Errorf("member %s holds assignment %q that never became durable", m.ID, m.Assignment)
				}
			}
			wantCode(t, "heartbeat", h.heartbeat("g", ids[1], gen), codeRebalanceInProgress)
		})
	}
}

func TestSyncTimeoutRemovesMembersThatNeverSync(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.completing("g", 2)
	follower := h.sync(syncReq("g", ids[1], gen, nil))
	// The leader never assigns; it heartbeats, so only the sync timeout catches it.
	for range 6 {
		h.run(testRebalance / 7)
		wantCode(t, "leader heartbeat", h.heartbeat("g", ids[0], gen), codeNone)
	}
	if follower.answered() {
		t.Fatal("follower answered before the rebalance timeout")
	}
	h.run(testRebalance - 6*(testRebalance/7))
	wantCode(t, "waiting follower", follower.get().ErrorCode, codeRebalanceInProgress)
	wantCode(t, "leader's heartbeat after removal", h.heartbeat("g", ids[0], gen), codeUnknownMemberID)
	jc := h.join(joinReq("g", ids[1]))
	if resp := jc.get(); resp.Generation != gen+1 || resp.LeaderID != ids[1] {
		t.Errorf("rejoin: generation %d leader %s", resp.Generation, resp.LeaderID)
	}
}

func TestRebalanceDisownsAssignmentInFlight(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.completing("g", 3)
	h.log.auto = false
	follower := h.sync(syncReq("g", ids[1], gen, nil))
	leader := h.sync(syncReq("g", ids[0], gen, map[string]string{ids[0]: "A", ids[1]: "B", ids[2]: "C"}))
	h.log.auto = true
	h.leave("g", ids[2])
	wantCode(t, "leader", leader.get().ErrorCode, codeRebalanceInProgress)
	wantCode(t, "follower", follower.get().ErrorCode, codeRebalanceInProgress)
	h.log.complete(0) // the abandoned generation's record becomes durable anyway
	st := h.group("g")
	if st.State != "PreparingRebalance" || st.Generation != gen {
		t.Errorf("group %s %d after the stale append completed", st.State, st.Generation)
	}
	for _, m := range st.Members {
		if m.Assignment != nil {
			t.Errorf("member %s was given %q from an abandoned generation", m.ID, m.Assignment)
		}
	}
}

func TestSupersededSync(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.completing("g", 2)
	first := h.sync(syncReq("g", ids[1], gen, nil))
	second := h.sync(syncReq("g", ids[1], gen, nil))
	wantCode(t, "superseded sync", first.get().ErrorCode, codeRebalanceInProgress)
	h.sync(syncReq("g", ids[0], gen, map[string]string{ids[1]: "B"}))
	if got := string(second.get().MemberAssignment); got != "B" {
		t.Errorf("second sync assigned %q", got)
	}
}

func TestOversizedAssignment(t *testing.T) {
	cfg := testConfig()
	cfg.MetadataBytesMax = 16
	h := newHarnessConfig(t, cfg)
	ids, gen := h.completing("g", 2)
	follower := h.sync(syncReq("g", ids[1], gen, nil))
	leader := h.sync(syncReq("g", ids[0], gen, map[string]string{ids[1]: "0123456789abcdefX"}))
	wantCode(t, "leader", leader.get().ErrorCode, codeInvalidRequest)
	wantCode(t, "follower", follower.get().ErrorCode, codeRebalanceInProgress)
	if h.log.appends != 0 {
		t.Errorf("%d appends for a refused assignment", h.log.appends)
	}
}

func TestRepliesMayCallBack(t *testing.T) {
	// Members that answer each reply with their next request, from inside the reply.
	h := newHarness(t)
	var assigned []string
	var ids []string
	for range 2 {
		first := h.join(joinReq("g", "")).get()
		ids = append(ids, first.MemberID)
	}
	for _, id := range ids {
		h.c.JoinGroup(h.now, joinReq("g", id), "c", "h", func(resp *kmsg.JoinGroupResponse) {
			var assign map[string]string
			if resp.LeaderID == resp.MemberID {
				assign = map[string]string{ids[0]: "A", ids[1]: "B"}
			}
			h.c.SyncGroup(h.now, syncReq("g", resp.MemberID, resp.Generation, assign), func(s *kmsg.SyncGroupResponse) {
				assigned = append(assigned, resp.MemberID+"="+string(s.MemberAssignment))
			})
		})
	}
	h.runUntil(func() bool { return len(assigned) == 2 })
	if st := h.group("g"); st.State != "Stable" {
		t.Errorf("group %s", st.State)
	}
	for _, a := range assigned {
		if a != ids[0]+"=A" && a != ids[1]+"=B" {
			t.Errorf("assignment %s", a)
		}
	}
}
