package group

import (
	"math"
	"testing"
)

func TestDescribeGroup(t *testing.T) {
	h := newHarness(t)
	ids, _ := h.stableGroup("g", 2)
	d := h.c.DescribeGroup(h.now, "g")
	if d.ErrorCode != codeNone || d.State != "Stable" || d.ProtocolType != "consumer" || d.Protocol != "range" ||
		d.AuthorizedOperations != math.MinInt32 || len(d.Members) != 2 {
		t.Fatalf("describe: %+v", d)
	}
	for _, m := range d.Members {
		i := 0
		if m.MemberID == ids[1] {
			i = 1
		}
		if string(m.MemberAssignment) != []string{"p0", "p1"}[i] || string(m.ProtocolMetadata) != "sub-range" ||
			m.ClientID != "client" || m.ClientHost != "/10.0.0.1" {
			t.Errorf("described member %+v", m)
		}
	}
	if d.Members[0].MemberID > d.Members[1].MemberID {
		t.Error("members not sorted")
	}
	h.join(joinReq("g", ids[0]))
	d = h.c.DescribeGroup(h.now, "g")
	if d.State != "PreparingRebalance" || d.Protocol != "" || d.Members[0].MemberAssignment != nil {
		t.Errorf("describe during a rebalance shows protocol or assignments: %+v", d)
	}
	if d := h.c.DescribeGroup(h.now, "nope"); d.State != "Dead" || d.ErrorCode != codeNone || len(d.Members) != 0 {
		t.Errorf("unknown group: %+v", d)
	}
}

func TestListGroups(t *testing.T) {
	h := newHarness(t)
	h.stableGroup("b", 1)
	h.commit(commitReq("a", "", -1, map[int32]int64{0: 1}))
	ids, _ := h.stableGroup("c", 1)
	h.join(joinReq("c", ids[0]+"x")) // unknown member: no effect
	all := h.c.ListGroups(h.now, nil)
	if len(all) != 3 || all[0].Group != "a" || all[1].Group != "b" || all[2].Group != "c" {
		t.Fatalf("list %+v", all)
	}
	if all[0].GroupState != "Empty" || all[0].ProtocolType != "" || all[1].GroupState != "Stable" ||
		all[1].ProtocolType != "consumer" || all[1].GroupType != "classic" {
		t.Errorf("list entries %+v", all)
	}
	stable := h.c.ListGroups(h.now, []string{"stable", "Dead"})
	if len(stable) != 2 || stable[0].Group != "b" || stable[1].Group != "c" {
		t.Errorf("filtered list %+v", stable)
	}
	if got := h.c.ListGroups(h.now, []string{"PreparingRebalance"}); len(got) != 0 {
		t.Errorf("no group rebalances, got %+v", got)
	}
}

func TestDeleteGroup(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup("g", 1)
	h.commit(commitReq("g", ids[0], gen, map[int32]int64{0: 1, 1: 2}))
	del := func(id string) *call[int16] {
		dc := &call[int16]{t: t}
		h.c.DeleteGroup(h.now, id, dc.reply)
		return dc
	}
	wantCode(t, "group with members", del("g").get(), codeNonEmptyGroup)
	wantCode(t, "unknown group", del("nope").get(), codeGroupIDNotFound)
	h.leave("g", ids[0])

	h.log.auto = false
	dc := del("g")
	if dc.answered() {
		t.Fatal("delete answered before the tombstones were durable")
	}
	if st := h.group("g"); st.State != "Dead" {
		t.Errorf("group %s while being deleted", st.State)
	}
	wantCode(t, "join while deleting", h.join(joinReq("g", "")).get().ErrorCode, codeCoordinatorNotAvailable)
	wantCode(t, "commit while deleting", commitCodes(h.commit(commitReq("g", "", -1, map[int32]int64{0: 9})).get())[0], codeCoordinatorNotAvailable)
	wantCode(t, "second delete", del("g").get(), codeGroupIDNotFound)
	h.log.complete(0)
	wantCode(t, "delete", dc.get(), codeNone)
	if h.hasGroup("g") {
		t.Error("group still there after its deletion")
	}
	if h.fetch("g", 0, false).Offset != -1 {
		t.Error("offset survived the deletion")
	}
	// A replay agrees: the tombstones removed the group and both offsets.
	h.failover(h.cfg)
	if h.hasGroup("g") {
		t.Error("deleted group came back on load")
	}
}

func TestDeleteGroupFailure(t *testing.T) {
	h := newHarness(t)
	h.commit(commitReq("g", "", -1, map[int32]int64{0: 1}))
	h.log.auto = false
	dc := &call[int16]{t: t}
	h.c.DeleteGroup(h.now, "g", dc.reply)
	h.log.fail(0, ErrNotLeader)
	wantCode(t, "failed delete", dc.get(), codeNotCoordinator)
	if st := h.group("g"); st.State != "Empty" || h.fetch("g", 0, false).Offset != 1 {
		t.Errorf("group after a failed delete: %+v", st)
	}
}

func TestDeleteCoversCommitsInFlight(t *testing.T) {
	h := newHarness(t)
	h.commit(commitReq("g", "", -1, map[int32]int64{0: 1}))
	h.log.auto = false
	cc := h.commit(commitReq("g", "", -1, map[int32]int64{5: 50}))
	dc := &call[int16]{t: t}
	h.c.DeleteGroup(h.now, "g", dc.reply)
	h.log.completeAll() // the commit's record, then the tombstones
	wantCode(t, "commit", commitCodes(cc.get())[0], codeNone)
	wantCode(t, "delete", dc.get(), codeNone)
	h.failover(h.cfg)
	if h.hasGroup("g") {
		t.Error("a commit in flight at deletion resurrected the group on load")
	}
}
