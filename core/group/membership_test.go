package group

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestHeartbeatCodes(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.completing("g", 2)
	wantCode(t, "CompletingRebalance", h.heartbeat("g", ids[1], gen), codeNone)
	h.sync(syncReq("g", ids[0], gen, map[string]string{ids[0]: "A", ids[1]: "B"}))
	wantCode(t, "Stable", h.heartbeat("g", ids[1], gen), codeNone)
	wantCode(t, "old generation", h.heartbeat("g", ids[1], gen-1), codeIllegalGeneration)
	wantCode(t, "unknown member", h.heartbeat("g", "who", gen), codeUnknownMemberID)
	wantCode(t, "unknown group", h.heartbeat("nope", ids[1], gen), codeUnknownMemberID)
	wantCode(t, "no group id", h.heartbeat("", ids[1], gen), codeInvalidGroupID)
	h.join(joinReq("g", ids[0]))
	wantCode(t, "PreparingRebalance", h.heartbeat("g", ids[1], gen), codeRebalanceInProgress)
	h.c.Close()
	wantCode(t, "closed", h.heartbeat("g", ids[1], gen), codeNotCoordinator)
}

func TestSessionExpiry(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup("g", 2)
	// ids[0] heartbeats every 3 s; ids[1] falls silent.
	start := h.now
	for h.now-start < int64(testSession)-int64(3*time.Second) {
		h.run(3 * time.Second)
		wantCode(t, "heartbeat", h.heartbeat("g", ids[0], gen), codeNone)
	}
	if st := h.group("g"); len(st.Members) != 2 {
		t.Fatalf("%d members before any session expired", len(st.Members))
	}
	h.run(3 * time.Second)
	st := h.group("g")
	if len(st.Members) != 1 || st.Members[0].ID != ids[0] {
		t.Fatalf("members %+v after ids[1]'s session expired", st.Members)
	}
	if st.State != "PreparingRebalance" {
		t.Errorf("group %s after an expiry, want a rebalance", st.State)
	}
	wantCode(t, "expired member", h.heartbeat("g", ids[1], gen), codeUnknownMemberID)
	// The survivor rejoins alone and the phase completes at once.
	jc := h.join(joinReq("g", ids[0]))
	if jc.get().Generation != gen+1 {
		t.Errorf("generation %d after the expiry, want %d", jc.get().Generation, gen+1)
	}
}

func TestSessionExpiresExactlyAtDeadline(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup("g", 1)
	wantCode(t, "heartbeat", h.heartbeat("g", ids[0], gen), codeNone)
	if d := h.c.Deadline(); d != h.now+int64(testSession) {
		t.Errorf("deadline %d, want the session's end %d", d, h.now+int64(testSession))
	}
	h.run(testSession - 1)
	if len(h.group("g").Members) != 1 {
		t.Fatal("member expired before its session ended")
	}
	h.run(1)
	if st := h.group("g"); len(st.Members) != 0 || st.State != "Empty" || st.Generation != gen+1 {
		t.Errorf("group after the last member expired: %+v, want Empty in generation %d", st, gen+1)
	}
	// The empty generation is recorded, so a successor continues from it.
	if rec := h.log.lastGroupRecord("g"); rec == nil || rec.Generation != gen+1 || len(rec.Members) != 0 {
		t.Errorf("last group record %+v", rec)
	}
}

func TestWaitingMembersDoNotExpire(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup("g", 2)
	slow := h.join(joinReq("g", ids[0])) // waits for ids[1] to rejoin
	for range 5 {
		h.run(3 * time.Second)
		wantCode(t, "heartbeat", h.heartbeat("g", ids[1], gen), codeRebalanceInProgress)
	}
	if slow.answered() {
		t.Fatal("join answered early")
	}
	h.join(joinReq("g", ids[1]))
	if slow.get().ErrorCode != codeNone {
		t.Errorf("waiting member's join: code %d after 15 s of waiting (session 10 s)", slow.get().ErrorCode)
	}
}

func TestLeaveGroup(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup("g", 3)
	resp := h.leave("g", ids[1], "who")
	wantCode(t, "top level", resp.ErrorCode, codeNone)
	if len(resp.Members) != 2 {
		t.Fatalf("%d member results", len(resp.Members))
	}
	wantCode(t, "leaving member", resp.Members[0].ErrorCode, codeNone)
	wantCode(t, "unknown member", resp.Members[1].ErrorCode, codeUnknownMemberID)
	if st := h.group("g"); st.State != "PreparingRebalance" || len(st.Members) != 2 {
		t.Errorf("group after a leave: %s with %d members", st.State, len(st.Members))
	}
	wantCode(t, "left member's heartbeat", h.heartbeat("g", ids[1], gen), codeUnknownMemberID)

	// A member waiting in JoinGroup that leaves gets UNKNOWN_MEMBER_ID for the join.
	jc := h.join(joinReq("g", ids[0]))
	h.leave("g", ids[0])
	wantCode(t, "waiting join of a leaver", jc.get().ErrorCode, codeUnknownMemberID)

	// The last member leaving empties the group in a new generation.
	h.leave("g", ids[2])
	if st := h.group("g"); st.State != "Empty" || st.Generation != gen+1 {
		t.Errorf("group after the last leave: %s %d", st.State, st.Generation)
	}
	resp = h.leave("nope", "x")
	wantCode(t, "unknown group", resp.Members[0].ErrorCode, codeUnknownMemberID)
}

func TestLeaveGroupOldVersions(t *testing.T) {
	h := newHarness(t)
	ids, _ := h.stableGroup("g", 2)
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version = 1
	req.Group, req.MemberID = "g", ids[0]
	lc := &call[*kmsg.LeaveGroupResponse]{t: t}
	h.c.LeaveGroup(h.now, req, lc.reply)
	if resp := lc.get(); resp.ErrorCode != codeNone || resp.Members != nil || resp.Version != 1 {
		t.Errorf("v1 leave: %+v", resp)
	}
	req.MemberID = "who"
	lc = &call[*kmsg.LeaveGroupResponse]{t: t}
	h.c.LeaveGroup(h.now, req, lc.reply)
	wantCode(t, "v1 unknown member", lc.get().ErrorCode, codeUnknownMemberID)
}

func TestLeavePendingMemberID(t *testing.T) {
	h := newHarness(t)
	ids, _ := h.stableGroup("g", 1)
	first := h.join(joinReq("g", "")).get() // a member id handed out, not yet used
	jc := h.join(joinReq("g", ids[0]))      // rebalance: waits for the pending member too
	if jc.answered() {
		t.Fatal("join phase completed while a handed-out member id was expected")
	}
	resp := h.leave("g", first.MemberID)
	wantCode(t, "pending member leaves", resp.Members[0].ErrorCode, codeNone)
	if !jc.answered() {
		t.Error("join phase still waits after the pending member id left")
	}
}
