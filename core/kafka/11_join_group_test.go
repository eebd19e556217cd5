package kafka

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestGroupLifecycleEveryVersion runs one member through join, sync, heartbeat,
// describe and leave, at every JoinGroup version and the matching versions of the
// others, checking each response's version-specific fields and wire shape.
func TestGroupLifecycleEveryVersion(t *testing.T) {
	for _, v := range versions(t, 11) {
		b := newFakeBroker(t)
		g := groupOn(1, "life")
		b.coordinate(g, nil)
		m := &member{group: g}
		if v >= 5 {
			m.instanceID = str("instance-a")
		}
		jr := join(t, b, v, m)
		if jr.Generation < 1 || !m.leader || len(jr.Members) != 1 || jr.Members[0].MemberID != m.id {
			t.Fatalf("v%d join: generation %d, leader %q, members %+v", v, jr.Generation, jr.LeaderID, jr.Members)
		}
		if jr.Protocol == nil || *jr.Protocol != "range" {
			t.Errorf("v%d join: protocol %v", v, jr.Protocol)
		}
		if (jr.ProtocolType != nil) != (v >= 7) || (v >= 7 && *jr.ProtocolType != "consumer") {
			t.Errorf("v%d join: protocol type %v", v, jr.ProtocolType)
		}
		if v >= 5 && (jr.Members[0].InstanceID == nil || *jr.Members[0].InstanceID != "instance-a") {
			t.Errorf("v%d join: member instance id %v", v, jr.Members[0].InstanceID)
		}

		sv := min(v, 5)
		sr := sync(t, b, sv, m, []byte("assignment"))
		if sr.ErrorCode != 0 || !bytes.Equal(sr.MemberAssignment, []byte("assignment")) {
			t.Fatalf("v%d sync: code %d, assignment %q", sv, sr.ErrorCode, sr.MemberAssignment)
		}
		if (sr.Protocol != nil) != (sv >= 5) || (sr.ProtocolType != nil) != (sv >= 5) {
			t.Errorf("v%d sync: protocol %v, type %v", sv, sr.Protocol, sr.ProtocolType)
		}

		hv := min(v, 4)
		hb := kmsg.NewPtrHeartbeatRequest()
		hb.SetVersion(hv)
		hb.Group, hb.Generation, hb.MemberID, hb.InstanceID = g, m.generation, m.id, m.instanceID
		rs := &replies{t: t}
		Heartbeat(b, viaWire(t, hb), rs.reply)
		hr := rs.one().(*kmsg.HeartbeatResponse)
		checkWire(t, hr)
		if hr.ErrorCode != 0 {
			t.Errorf("v%d heartbeat: code %d", hv, hr.ErrorCode)
		}

		dv := min(v, 5)
		d := describeOne(t, b, dv, g)
		if d.ErrorCode != 0 || d.State != "Stable" || d.Protocol != "range" || len(d.Members) != 1 {
			t.Fatalf("v%d describe: %+v", dv, d)
		}
		if dm := d.Members[0]; dm.MemberID != m.id || dm.ClientID != "client-1" || dm.ClientHost != "" ||
			!bytes.Equal(dm.MemberAssignment, []byte("assignment")) {
			t.Errorf("v%d describe: member %+v", dv, dm)
		}

		lv := min(v, 5)
		lr := leave(t, b, lv, g, m)
		if lr.ErrorCode != 0 || (lv >= 3) != (len(lr.Members) == 1) {
			t.Errorf("v%d leave: %+v", lv, lr)
		}
		if lv >= 3 && lr.Members[0].ErrorCode != 0 {
			t.Errorf("v%d leave: member code %d", lv, lr.Members[0].ErrorCode)
		}
		if d := describeOne(t, b, dv, g); d.State != "Empty" || len(d.Members) != 0 {
			t.Errorf("v%d: after leaving the group is %s with %d members", v, d.State, len(d.Members))
		}
	}
}

func leave(t *testing.T, b *fakeBroker, version int16, groupID string, m *member) *kmsg.LeaveGroupResponse {
	t.Helper()
	req := kmsg.NewPtrLeaveGroupRequest()
	req.SetVersion(version)
	req.Group, req.MemberID = groupID, m.id
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID, lm.InstanceID = m.id, m.instanceID
	req.Members = append(req.Members, lm)
	rs := &replies{t: t}
	LeaveGroup(b, viaWire(t, req), rs.reply)
	resp := rs.one().(*kmsg.LeaveGroupResponse)
	checkWire(t, resp)
	return resp
}

// TestGroupRoutingErrors checks the answers of the member APIs when the group cannot be
// served here, at every version.
func TestGroupRoutingErrors(t *testing.T) {
	loading := groupOn(2, "loading")
	cases := []struct {
		name  string
		group string
		setup func(*fakeBroker)
		want  int16
	}{
		{"empty group id", "", func(*fakeBroker) {}, kerr.InvalidGroupID.Code},
		{"not here", groupOn(0, "far"), func(*fakeBroker) {}, kerr.NotCoordinator.Code},
		{"loading", loading, func(b *fakeBroker) { b.coordinate(loading, &groupLog{loading: true}) },
			kerr.CoordinatorLoadInProgress.Code},
		{"routing refused", "refused", func(b *fakeBroker) { b.routing["refused"] = kerr.CoordinatorNotAvailable.Code },
			kerr.CoordinatorNotAvailable.Code},
	}
	for _, c := range cases {
		b := newFakeBroker(t)
		c.setup(b)
		m := &member{group: c.group, id: "m-1", generation: 3}
		for _, v := range versions(t, 11) {
			rs := &replies{t: t}
			JoinGroup(b, viaWire(t, joinRequest(v, m)), "client-1", rs.reply)
			r := rs.one().(*kmsg.JoinGroupResponse)
			checkWire(t, r)
			if r.ErrorCode != c.want || r.Generation != -1 || r.MemberID != "m-1" {
				t.Errorf("%s: join v%d: code %d, generation %d, member %q", c.name, v, r.ErrorCode, r.Generation, r.MemberID)
			}
		}
		for _, v := range versions(t, 14) {
			req := kmsg.NewPtrSyncGroupRequest()
			req.SetVersion(v)
			req.Group, req.Generation, req.MemberID = c.group, 3, "m-1"
			rs := &replies{t: t}
			SyncGroup(b, viaWire(t, req), rs.reply)
			r := rs.one().(*kmsg.SyncGroupResponse)
			checkWire(t, r)
			if r.ErrorCode != c.want {
				t.Errorf("%s: sync v%d: code %d", c.name, v, r.ErrorCode)
			}
		}
		for _, v := range versions(t, 12) {
			req := kmsg.NewPtrHeartbeatRequest()
			req.SetVersion(v)
			req.Group, req.Generation, req.MemberID = c.group, 3, "m-1"
			rs := &replies{t: t}
			Heartbeat(b, viaWire(t, req), rs.reply)
			r := rs.one().(*kmsg.HeartbeatResponse)
			checkWire(t, r)
			if r.ErrorCode != c.want {
				t.Errorf("%s: heartbeat v%d: code %d", c.name, v, r.ErrorCode)
			}
		}
		for _, v := range versions(t, 13) {
			r := leave(t, b, v, c.group, m)
			if r.ErrorCode != c.want || len(r.Members) != 0 {
				t.Errorf("%s: leave v%d: code %d, %d members", c.name, v, r.ErrorCode, len(r.Members))
			}
		}
	}
}

// TestJoinResponseShape feeds responses with every field set through the shaping of
// each version: what is left must survive the wire unchanged.
func TestJoinResponseShape(t *testing.T) {
	for _, v := range versions(t, 11) {
		for _, protocol := range []*string{nil, str("range")} {
			resp := kmsg.NewPtrJoinGroupResponse()
			resp.ErrorCode, resp.Generation, resp.LeaderID, resp.MemberID = 0, 4, "a", "a"
			resp.ProtocolType, resp.Protocol, resp.SkipAssignment = str("consumer"), protocol, true
			resp.Members = []kmsg.JoinGroupResponseMember{
				{MemberID: "a", InstanceID: str("i-a"), ProtocolMetadata: []byte{1}},
				{MemberID: "b", ProtocolMetadata: []byte{2}},
			}
			shapeJoinResponse(resp, v)
			checkWire(t, resp)
			if len(resp.Members) != 2 || resp.Members[1].MemberID != "b" {
				t.Errorf("v%d: members %+v", v, resp.Members)
			}
			if (resp.Members[0].InstanceID != nil) != (v >= 5) {
				t.Errorf("v%d: instance id %v", v, resp.Members[0].InstanceID)
			}
			if v >= 7 && protocol == nil && resp.Protocol != nil {
				t.Errorf("v%d: a null protocol became %q", v, *resp.Protocol)
			}
		}
	}
}
