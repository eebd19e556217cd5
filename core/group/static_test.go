package group

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func staticJoinReq(group, memberID, instance string, protocols ...string) *kmsg.JoinGroupRequest {
	req := joinReq(group, memberID, protocols...)
	req.InstanceID = &instance
	return req
}

// staticGroup forms a Stable group of static members with the given instance ids. It
// returns their member ids (by instance order) and the generation.
func (h *harness) staticGroup(group string, instances ...string) ([]string, int32) {
	h.t.Helper()
	var ids []string
	var calls []*joinCall
	for _, inst := range instances {
		jc := h.join(staticJoinReq(group, "", inst))
		calls = append(calls, jc)
	}
	h.runUntil(calls[0].answered)
	for _, jc := range calls {
		ids = append(ids, jc.get().MemberID)
	}
	return ids, h.syncAll(group, ids, calls)
}

func TestStaticMemberJoinsWithoutMemberIDRequired(t *testing.T) {
	h := newHarness(t)
	jc := h.join(staticJoinReq("g", "", "i1"))
	h.runUntil(jc.answered)
	resp := jc.get()
	wantCode(t, "static join", resp.ErrorCode, codeNone)
	if !strings.HasPrefix(resp.MemberID, "i1-") {
		t.Errorf("static member id %q, want the instance id as prefix", resp.MemberID)
	}
	if resp.Members[0].InstanceID == nil || *resp.Members[0].InstanceID != "i1" {
		t.Errorf("leader's member list lacks the instance id: %+v", resp.Members[0])
	}
}

func TestStaticReplacementWithoutRebalance(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.staticGroup("g", "i1", "i2")
	h.log.auto = false
	jc := h.join(staticJoinReq("g", "", "i2")) // i2 restarts with the same metadata
	if jc.answered() {
		t.Fatal("replacement answered before the new member id was durable")
	}
	h.log.complete(0)
	resp := jc.get()
	wantCode(t, "replacement", resp.ErrorCode, codeNone)
	newID := resp.MemberID
	if newID == ids[1] || !strings.HasPrefix(newID, "i2-") {
		t.Errorf("replacement member id %q", newID)
	}
	if resp.Generation != gen || resp.LeaderID != ids[0] || len(resp.Members) != 0 {
		t.Errorf("replacement response %+v, want the current generation and leader", resp)
	}
	st := h.group("g")
	if st.State != "Stable" || st.Generation != gen {
		t.Errorf("group %s %d after a static replacement, want no rebalance", st.State, st.Generation)
	}
	sc := h.sync(syncReq("g", newID, gen, nil))
	if got := string(sc.get().MemberAssignment); got != "p1" {
		t.Errorf("replacement holds %q, want the old member's assignment", got)
	}
	wantCode(t, "old id with the instance", h.heartbeatStatic("g", ids[1], "i2", gen), codeFencedInstanceID)
	wantCode(t, "old id alone", h.heartbeat("g", ids[1], gen), codeUnknownMemberID)
	wantCode(t, "new id", h.heartbeatStatic("g", newID, "i2", gen), codeNone)
	rec := h.log.lastGroupRecord("g")
	if rec == nil || rec.Members[1].MemberID != newID || string(rec.Members[1].Assignment) != "p1" {
		t.Errorf("group record after the replacement: %+v", rec)
	}
}

// TestStaticReplacementOfLeader: a static leader that rejoins a Stable group must not
// run a new assignment, yet must keep leading (it alone watches the group's metadata).
// From JoinGroup v9 it is named leader with SkipAssignment (KIP-814); before, the old
// member id stays the named leader, which clients recognize by its instance prefix.
func TestStaticReplacementOfLeader(t *testing.T) {
	h := newHarness(t)
	_, gen := h.staticGroup("g", "i1", "i2")
	resp := h.join(staticJoinReq("g", "", "i1")).get()
	if resp.LeaderID != resp.MemberID || !resp.SkipAssignment || len(resp.Members) != 2 {
		t.Errorf("v9: replaced leader told leader %s member %s skip %v with %d members; want itself, skip, both members",
			resp.LeaderID, resp.MemberID, resp.SkipAssignment, len(resp.Members))
	}
	if st := h.group("g"); st.Leader != resp.MemberID || st.Generation != gen {
		t.Errorf("group leader %s generation %d", st.Leader, st.Generation)
	}
	old := staticJoinReq("g", "", "i1")
	old.Version = 8
	prev := resp.MemberID
	resp = h.join(old).get()
	if resp.LeaderID != prev || resp.MemberID == prev || resp.SkipAssignment || len(resp.Members) != 0 {
		t.Errorf("v8: replaced leader told leader %s member %s skip %v with %d members; want the old id named",
			resp.LeaderID, resp.MemberID, resp.SkipAssignment, len(resp.Members))
	}
}

func TestStaticReplacementWithNewMetadataRebalances(t *testing.T) {
	h := newHarness(t)
	_, gen := h.staticGroup("g", "i1", "i2")
	jc := h.join(staticJoinReq("g", "", "i2", "range", "sticky"))
	if jc.answered() {
		t.Error("replacement with new metadata answered without a rebalance")
	}
	if st := h.group("g"); st.State != "PreparingRebalance" || st.Generation != gen {
		t.Errorf("group %s %d", st.State, st.Generation)
	}
}

func TestStaticReplacementFencesWaitingRequests(t *testing.T) {
	h := newHarness(t)
	var calls []*joinCall
	for _, inst := range []string{"i1", "i2"} {
		calls = append(calls, h.join(staticJoinReq("g", "", inst)))
	}
	h.runUntil(calls[0].answered)
	gen := calls[0].get().Generation
	old := calls[1].get().MemberID
	waiting := h.sync(syncReq("g", old, gen, nil))
	jc := h.join(staticJoinReq("g", "", "i2"))
	wantCode(t, "old incarnation's sync", waiting.get().ErrorCode, codeFencedInstanceID)
	if jc.answered() {
		t.Error("replacement during CompletingRebalance answered without a rebalance")
	}
	if st := h.group("g"); st.State != "PreparingRebalance" {
		t.Errorf("group %s", st.State)
	}
	// Old ids are fenced for joins, syncs and commits too.
	wantCode(t, "old join", h.join(staticJoinReq("g", old, "i2")).get().ErrorCode, codeFencedInstanceID)
	bad := syncReq("g", old, gen, nil)
	bad.InstanceID = kmsg.StringPtr("i2")
	wantCode(t, "old sync", h.sync(bad).get().ErrorCode, codeFencedInstanceID)
	cr := commitReq("g", old, gen, map[int32]int64{0: 1})
	cr.InstanceID = kmsg.StringPtr("i2")
	wantCode(t, "old commit", commitCodes(h.commit(cr).get())[0], codeFencedInstanceID)
	wantCode(t, "unknown instance", h.heartbeatStatic("g", old, "i9", gen), codeUnknownMemberID)
}

func TestStaticMemberSessionExpiry(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.staticGroup("g", "i1")
	h.run(testSession)
	if st := h.group("g"); len(st.Members) != 0 {
		t.Fatalf("static member kept after its session expired: %+v", st.Members)
	}
	wantCode(t, "expired static member", h.heartbeatStatic("g", ids[0], "i1", gen), codeUnknownMemberID)
	// Its instance id is free again: a new incarnation joins as a new member.
	jc := h.join(staticJoinReq("g", "", "i1"))
	h.runUntil(jc.answered)
	if jc.get().Generation != gen+2 { // +1 for the empty generation, +1 for this one
		t.Errorf("generation %d, want %d", jc.get().Generation, gen+2)
	}
}

func TestLeaveByInstanceID(t *testing.T) {
	h := newHarness(t)
	ids, _ := h.staticGroup("g", "i1", "i2")
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version = 4
	req.Group = "g"
	req.Members = []kmsg.LeaveGroupRequestMember{
		{InstanceID: kmsg.StringPtr("i2")},
		{InstanceID: kmsg.StringPtr("i9")},
		{MemberID: "stale", InstanceID: kmsg.StringPtr("i1")},
	}
	lc := &call[*kmsg.LeaveGroupResponse]{t: t}
	h.c.LeaveGroup(h.now, req, lc.reply)
	resp := lc.get()
	wantCode(t, "by instance", resp.Members[0].ErrorCode, codeNone)
	wantCode(t, "unknown instance", resp.Members[1].ErrorCode, codeUnknownMemberID)
	wantCode(t, "fenced member id", resp.Members[2].ErrorCode, codeFencedInstanceID)
	st := h.group("g")
	if len(st.Members) != 1 || st.Members[0].ID != ids[0] {
		t.Errorf("members %+v", st.Members)
	}
}

func TestStaticReplacementAppendFails(t *testing.T) {
	h := newHarness(t)
	_, gen := h.staticGroup("g", "i1", "i2")
	h.log.auto = false
	jc := h.join(staticJoinReq("g", "", "i2"))
	h.log.fail(0, ErrNotLeader)
	wantCode(t, "replacement", jc.get().ErrorCode, codeNotCoordinator)
	if st := h.group("g"); st.State != "Stable" || st.Generation != gen {
		t.Errorf("group %s %d", st.State, st.Generation)
	}
}

func TestRebalanceDuringStaticReplacement(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.staticGroup("g", "i1", "i2", "i3")
	h.log.auto = false
	jc := h.join(staticJoinReq("g", "", "i2"))
	h.leave("g", ids[2]) // a rebalance starts while the new id is on its way
	h.join(staticJoinReq("g", ids[0], "i1"))
	// The replacement counts as rejoined: the join phase completes and answers it.
	resp := jc.get()
	if resp.ErrorCode != codeNone || resp.Generation != gen+1 {
		t.Fatalf("replacement answered code %d generation %d, want the new generation %d", resp.ErrorCode, resp.Generation, gen+1)
	}
	h.log.completeAll() // the replacement's record: its answer is already out
	if st := h.group("g"); st.State != "CompletingRebalance" || len(st.Members) != 2 {
		t.Errorf("group %+v", st)
	}
}

func TestStaticReplacedTwiceWhileRecording(t *testing.T) {
	h := newHarness(t)
	h.staticGroup("g", "i1", "i2")
	h.log.auto = false
	first := h.join(staticJoinReq("g", "", "i2"))
	second := h.join(staticJoinReq("g", "", "i2"))
	wantCode(t, "first incarnation", first.get().ErrorCode, codeFencedInstanceID)
	h.log.complete(0) // the first replacement's record
	if second.answered() {
		t.Fatal("second incarnation answered when the first's record became durable")
	}
	h.log.complete(0)
	resp := second.get()
	if resp.ErrorCode != codeNone || h.log.lastGroupRecord("g").Members[1].MemberID != resp.MemberID {
		t.Errorf("second incarnation: %+v", resp)
	}
}
