package group

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestJoinMemberIDRequired(t *testing.T) {
	h := newHarness(t)
	first := h.join(joinReq("g", "")).get()
	wantCode(t, "first join", first.ErrorCode, codeMemberIDRequired)
	if !strings.HasPrefix(first.MemberID, "client-") || len(first.MemberID) != len("client-")+36 {
		t.Errorf("member id %q, want client id, a dash and a UUID", first.MemberID)
	}
	if st := h.group("g"); len(st.Members) != 0 || st.State != "Empty" {
		t.Errorf("group after MEMBER_ID_REQUIRED: %+v, want Empty without members", st)
	}
	second := h.join(joinReq("g", first.MemberID))
	if second.answered() {
		t.Fatal("second join answered before the initial delay")
	}
	if st := h.group("g"); st.State != "PreparingRebalance" || len(st.Members) != 1 {
		t.Errorf("group after the second join: %+v", st)
	}

	// Before v4 there is no round trip.
	old := joinReq("h", "")
	old.Version = 3
	jc := h.join(old)
	h.run(testDelay)
	resp := jc.get()
	wantCode(t, "v3 join", resp.ErrorCode, codeNone)
	if resp.MemberID == "" || resp.Generation != 1 {
		t.Errorf("v3 join: member %q generation %d", resp.MemberID, resp.Generation)
	}
}

func TestJoinErrors(t *testing.T) {
	type setup func(h *harness)
	withMember := func(protocolType string, protocols ...string) setup {
		return func(h *harness) {
			req := joinReq("g", "", protocols...)
			req.Version = 3
			req.ProtocolType = protocolType
			h.join(req)
		}
	}
	cases := []struct {
		name  string
		cfg   func(*Config)
		setup setup
		req   func() *kmsg.JoinGroupRequest
		want  int16
	}{
		{name: "empty group id", req: func() *kmsg.JoinGroupRequest { return joinReq("", "") }, want: codeInvalidGroupID},
		{name: "session too short", req: func() *kmsg.JoinGroupRequest {
			r := joinReq("g", "")
			r.SessionTimeoutMillis = 5999
			return r
		}, want: codeInvalidSessionTimeout},
		{name: "session too long", req: func() *kmsg.JoinGroupRequest {
			r := joinReq("g", "")
			r.SessionTimeoutMillis = int32(30*time.Minute/time.Millisecond) + 1
			return r
		}, want: codeInvalidSessionTimeout},
		{name: "no protocol type", req: func() *kmsg.JoinGroupRequest {
			r := joinReq("g", "")
			r.ProtocolType = ""
			return r
		}, want: codeInconsistentGroupProtocol},
		{name: "no protocols", req: func() *kmsg.JoinGroupRequest {
			r := joinReq("g", "")
			r.Protocols = nil
			return r
		}, want: codeInconsistentGroupProtocol},
		{name: "unknown member of unknown group", req: func() *kmsg.JoinGroupRequest { return joinReq("g", "who") }, want: codeUnknownMemberID},
		{name: "unknown member", setup: withMember("consumer"), req: func() *kmsg.JoinGroupRequest { return joinReq("g", "who") }, want: codeUnknownMemberID},
		{name: "protocol type mismatch", setup: withMember("connect"), req: func() *kmsg.JoinGroupRequest { return joinReq("g", "") }, want: codeInconsistentGroupProtocol},
		{name: "no common protocol", setup: withMember("consumer", "range", "sticky"), req: func() *kmsg.JoinGroupRequest {
			return joinReq("g", "", "roundrobin")
		}, want: codeInconsistentGroupProtocol},
		{name: "group full", cfg: func(c *Config) { c.MembersMax = 1 }, setup: withMember("consumer"), req: func() *kmsg.JoinGroupRequest {
			return joinReq("g", "")
		}, want: codeGroupMaxSizeReached},
		{name: "too many protocols", cfg: func(c *Config) { c.ProtocolsMax = 2 }, req: func() *kmsg.JoinGroupRequest {
			return joinReq("g", "", "a", "b", "c")
		}, want: codeInvalidRequest},
		{name: "metadata too large", cfg: func(c *Config) { c.MetadataBytesMax = 3 }, req: func() *kmsg.JoinGroupRequest {
			return joinReq("g", "")
		}, want: codeInvalidRequest},
		{name: "too many groups", cfg: func(c *Config) { c.GroupsMax = 1 }, setup: func(h *harness) {
			h.join(joinReq("other", ""))
		}, req: func() *kmsg.JoinGroupRequest { return joinReq("g", "") }, want: codeCoordinatorNotAvailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			h := newHarnessConfig(t, cfg)
			if tc.setup != nil {
				tc.setup(h)
			}
			resp := h.join(tc.req()).get()
			wantCode(t, "join", resp.ErrorCode, tc.want)
			if resp.Generation != -1 {
				t.Errorf("error response carries generation %d, want -1", resp.Generation)
			}
		})
	}
}

func TestRefusedJoinLeavesNoGroup(t *testing.T) {
	h := newHarness(t)
	r := joinReq("g", "")
	r.SessionTimeoutMillis = 1
	h.join(r)
	h.join(joinReq("", ""))
	if n := len(h.c.Status().Groups); n != 0 {
		t.Errorf("%d groups after refused joins, want 0", n)
	}
	// A member id handed out and never used is forgotten after its session timeout, and
	// the group with it.
	h.join(joinReq("g", ""))
	if !h.hasGroup("g") {
		t.Fatal("no group after MEMBER_ID_REQUIRED")
	}
	h.run(testSession)
	if h.hasGroup("g") {
		t.Error("group kept after its only pending member id expired")
	}
}

func TestInitialDelay(t *testing.T) {
	h := newHarness(t)
	start := h.now
	id, jc := h.joinNew("g")
	h.run(testDelay - 1)
	if jc.answered() {
		t.Fatal("join answered before the initial delay")
	}
	h.run(1)
	resp := jc.get()
	wantCode(t, "join", resp.ErrorCode, codeNone)
	if resp.Generation != 1 || resp.LeaderID != id || resp.MemberID != id || *resp.Protocol != "range" {
		t.Errorf("join response %+v", resp)
	}
	if len(resp.Members) != 1 || resp.Members[0].MemberID != id || string(resp.Members[0].ProtocolMetadata) != "sub-range" {
		t.Errorf("leader's member list %+v", resp.Members)
	}
	if h.now-start != int64(testDelay) {
		t.Errorf("joined after %v", time.Duration(h.now-start))
	}
	if st := h.group("g"); st.State != "CompletingRebalance" || st.Generation != 1 {
		t.Errorf("group %s generation %d", st.State, st.Generation)
	}
}

func TestInitialDelayExtendedByNewMembers(t *testing.T) {
	h := newHarness(t)
	start := h.now
	_, a := h.joinNew("g")
	h.run(2 * time.Second)
	_, b := h.joinNew("g")
	h.run(time.Second) // the first delay ends, but a member arrived: wait another delay
	if a.answered() || b.answered() {
		t.Fatal("joins answered at the end of the first delay although a member arrived")
	}
	h.run(testDelay)
	if !a.answered() || !b.answered() {
		t.Fatal("joins not answered after the extension")
	}
	if a.get().Generation != 1 || b.get().Generation != 1 {
		t.Errorf("generations %d and %d, want both 1", a.get().Generation, b.get().Generation)
	}
	if got := time.Duration(h.now - start); got != 2*testDelay {
		t.Errorf("join phase took %v, want %v", got, 2*testDelay)
	}
}

func TestInitialDelayCappedByRebalanceTimeout(t *testing.T) {
	h := newHarness(t)
	start := h.now
	answeredAt := int64(-1)
	var first *kmsg.JoinGroupResponse
	for i := range 10 {
		req := joinReq("g", "")
		req.Version = 3
		req.RebalanceTimeoutMillis = 5000
		h.c.JoinGroup(h.now, req, "client", "host", func(resp *kmsg.JoinGroupResponse) {
			if i == 0 {
				first, answeredAt = resp, h.now
			}
		})
		h.run(time.Second)
	}
	if first == nil {
		t.Fatal("first join never answered")
	}
	// 3 s of delay, then only 2 s more although members keep coming: the rebalance
	// timeout bounds the phase, and the members arriving later join the next generation.
	if got := time.Duration(answeredAt - start); got != 5*time.Second {
		t.Errorf("join phase took %v, want 5s", got)
	}
	if n := len(first.Members); n != 5 {
		t.Errorf("%d members in the first generation, want the 5 that joined before 5s", n)
	}
}

func TestJoinCompletesWhenAllRejoin(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup("g", 2)
	a := h.join(joinReq("g", ids[0])) // the leader rejoins: a rebalance
	wantCode(t, "heartbeat during the join phase", h.heartbeat("g", ids[1], gen), codeRebalanceInProgress)
	if a.answered() {
		t.Fatal("join answered before every member rejoined")
	}
	b := h.join(joinReq("g", ids[1]))
	if !a.answered() || !b.answered() {
		t.Fatal("join phase did not complete when the last member rejoined")
	}
	if a.get().Generation != gen+1 || a.get().LeaderID != ids[0] {
		t.Errorf("generation %d leader %s, want %d and the old leader", a.get().Generation, a.get().LeaderID, gen+1)
	}
	if len(b.get().Members) != 0 {
		t.Error("a follower got the member list")
	}
}

func TestLoneLeaderRejoinCompletesAtOnce(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup("g", 1)
	jc := h.join(joinReq("g", ids[0]))
	if !jc.answered() || jc.get().Generation != gen+1 {
		t.Fatalf("lone leader's rejoin: answered %v", jc.answered())
	}
}

func TestRebalanceTimeoutRemovesNonRejoiners(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup("g", 2)
	c, cj := h.joinNew("g") // a new member: rebalance
	aj := h.join(joinReq("g", ids[0]))
	// The laggard keeps its session alive but never rejoins.
	for range int((testRebalance - time.Second) / (3 * time.Second)) {
		h.run(3 * time.Second)
		wantCode(t, "laggard's heartbeat", h.heartbeat("g", ids[1], gen), codeRebalanceInProgress)
	}
	h.run(testRebalance - time.Second - 6*3*time.Second)
	if aj.answered() {
		t.Fatal("join phase completed without the laggard")
	}
	h.run(time.Second)
	if !aj.answered() || !cj.answered() {
		t.Fatal("join phase did not complete at the rebalance timeout")
	}
	if aj.get().Generation != gen+1 {
		t.Errorf("generation %d, want %d", aj.get().Generation, gen+1)
	}
	var members []string
	for _, m := range aj.get().Members {
		members = append(members, m.MemberID)
	}
	if len(members) != 2 || !contains(members, ids[0]) || !contains(members, c) {
		t.Errorf("members %v, want the two that rejoined", members)
	}
	wantCode(t, "removed member's heartbeat", h.heartbeat("g", ids[1], gen), codeUnknownMemberID)
}

func TestProtocolVote(t *testing.T) {
	cases := []struct {
		name    string
		members [][]string
		want    string
	}{
		{"majority", [][]string{{"x", "y"}, {"y", "x"}, {"y", "x", "z"}}, "y"},
		{"only common", [][]string{{"z", "x"}, {"x", "y"}, {"y", "x"}}, "x"},
		{"tie to first member", [][]string{{"x", "y"}, {"y", "x"}}, "x"},
		{"tie to first member, other order", [][]string{{"y", "x"}, {"x", "y"}}, "y"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			var calls []*joinCall
			for _, ps := range tc.members {
				_, jc := h.joinNew("g", ps...)
				calls = append(calls, jc)
			}
			h.runUntil(calls[0].answered)
			for i, jc := range calls {
				if got := *jc.get().Protocol; got != tc.want {
					t.Errorf("member %d told protocol %q, want %q", i, got, tc.want)
				}
			}
			leader := calls[0].get()
			for _, m := range leader.Members {
				if string(m.ProtocolMetadata) != "sub-"+tc.want {
					t.Errorf("leader sees metadata %q for %s", m.ProtocolMetadata, m.MemberID)
				}
			}
		})
	}
}

func TestNewLeaderWhenLeaderLeaves(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup("g", 3)
	h.leave("g", ids[0])
	b := h.join(joinReq("g", ids[1]))
	c := h.join(joinReq("g", ids[2]))
	if b.get().Generation != gen+1 || b.get().LeaderID != ids[1] || c.get().LeaderID != ids[1] {
		t.Errorf("leader %s generation %d, want the earliest remaining member %s and %d",
			b.get().LeaderID, b.get().Generation, ids[1], gen+1)
	}
}

func TestRejoinWithoutRebalance(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup("g", 2)
	// A follower rejoining a Stable group with the same metadata gets the generation back.
	jc := h.join(joinReq("g", ids[1]))
	resp := jc.get()
	if resp.Generation != gen || resp.LeaderID != ids[0] || len(resp.Members) != 0 {
		t.Errorf("follower rejoin: %+v", resp)
	}
	if st := h.group("g"); st.State != "Stable" || st.Generation != gen {
		t.Errorf("group %s %d after a follower's rejoin", st.State, st.Generation)
	}
	// Changed metadata rebalances.
	jc = h.join(joinReq("g", ids[1], "range", "sticky"))
	if jc.answered() {
		t.Error("rejoin with new metadata answered at once")
	}
	if st := h.group("g"); st.State != "PreparingRebalance" {
		t.Errorf("group %s after a rejoin with new metadata", st.State)
	}
	// During CompletingRebalance, the same metadata gets the pending generation (a lost
	// JoinGroup response).
	lj := h.join(joinReq("g", ids[0]))
	if !lj.answered() || !jc.answered() {
		t.Fatal("join phase did not complete")
	}
	again := h.join(joinReq("g", ids[0])).get()
	if again.Generation != gen+1 || len(again.Members) != 2 {
		t.Errorf("leader's repeated join in CompletingRebalance: generation %d, %d members", again.Generation, len(again.Members))
	}
	if st := h.group("g"); st.State != "CompletingRebalance" {
		t.Errorf("group %s after a repeated join", st.State)
	}
}

func TestSupersededJoin(t *testing.T) {
	h := newHarness(t)
	ids, _ := h.stableGroup("g", 2)
	first := h.join(joinReq("g", ids[0]))
	second := h.join(joinReq("g", ids[0]))
	wantCode(t, "superseded join", first.get().ErrorCode, codeRebalanceInProgress)
	h.join(joinReq("g", ids[1]))
	wantCode(t, "second join", second.get().ErrorCode, codeNone)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
