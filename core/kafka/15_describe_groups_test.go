package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func describeGroups(t *testing.T, b *fakeBroker, version int16, ids ...string) *kmsg.DescribeGroupsResponse {
	t.Helper()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.SetVersion(version)
	req.Groups, req.IncludeAuthorizedOperations = ids, true
	rs := &replies{t: t}
	DescribeGroups(b, viaWire(t, req), rs.reply)
	resp := rs.one().(*kmsg.DescribeGroupsResponse)
	checkWire(t, resp)
	if len(resp.Groups) != len(ids) {
		t.Fatalf("v%d: %d groups described, want %d", version, len(resp.Groups), len(ids))
	}
	for i, g := range resp.Groups {
		if g.Group != ids[i] {
			t.Fatalf("v%d: group %d is %q, want %q", version, i, g.Group, ids[i])
		}
	}
	return resp
}

func describeOne(t *testing.T, b *fakeBroker, version int16, id string) kmsg.DescribeGroupsResponseGroup {
	t.Helper()
	return describeGroups(t, b, version, id).Groups[0]
}

func TestDescribeGroupsEveryVersion(t *testing.T) {
	for _, v := range versions(t, 15) {
		b := newFakeBroker(t)
		static := groupOn(0, "static")
		m := stableMember(t, b, static, str("instance-a"))
		ghost, far := groupOn(0, "ghost"), groupOn(3, "far")
		resp := describeGroups(t, b, v, far, static, ghost)

		if g := resp.Groups[0]; g.ErrorCode != kerr.NotCoordinator.Code || g.State != "" || len(g.Members) != 0 {
			t.Errorf("v%d %s: %+v", v, far, g)
		}
		g := resp.Groups[1]
		if g.ErrorCode != 0 || g.State != "Stable" || g.ProtocolType != "consumer" || len(g.Members) != 1 || g.Members[0].MemberID != m.id {
			t.Fatalf("v%d %s: %+v", v, static, g)
		}
		if (g.Members[0].InstanceID != nil) != (v >= 4) {
			t.Errorf("v%d: instance id %v", v, g.Members[0].InstanceID)
		}
		if g.AuthorizedOperations != -2147483648 {
			t.Errorf("v%d: authorized operations %d", v, g.AuthorizedOperations)
		}
		// Before v6, an unknown group is Dead with no error.
		if g := resp.Groups[2]; g.ErrorCode != 0 || g.State != "Dead" {
			t.Errorf("v%d %s: code %d, state %q", v, ghost, g.ErrorCode, g.State)
		}
	}
}
