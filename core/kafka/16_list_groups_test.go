package kafka

import (
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func listGroups(t *testing.T, b *fakeBroker, version int16, states ...string) *kmsg.ListGroupsResponse {
	t.Helper()
	req := kmsg.NewPtrListGroupsRequest()
	req.SetVersion(version)
	req.StatesFilter = states
	rs := &replies{t: t}
	ListGroups(b, viaWire(t, req), rs.reply)
	resp := rs.one().(*kmsg.ListGroupsResponse)
	checkWire(t, resp)
	return resp
}

func TestListGroupsEveryVersion(t *testing.T) {
	for _, v := range versions(t, 16) {
		b := newFakeBroker(t)
		// Stable groups on partitions 3 and 0, an Empty one (offsets only) on 1: listed
		// sorted by id across coordinators.
		stable3, stable0, empty1 := groupOn(3, "s"), groupOn(0, "t"), groupOn(1, "a")
		stableMember(t, b, stable3, nil)
		stableMember(t, b, stable0, nil)
		b.coordinate(empty1, nil)
		commit(t, b, 8, empty1, map[string][]int32{"orders": {0}}, []string{"orders"}, 1)

		resp := listGroups(t, b, v)
		if resp.ErrorCode != 0 {
			t.Errorf("v%d: code %d", v, resp.ErrorCode)
		}
		want := []kmsg.ListGroupsResponseGroup{
			{Group: empty1, ProtocolType: "", GroupState: "Empty"},
			{Group: stable3, ProtocolType: "consumer", GroupState: "Stable"},
			{Group: stable0, ProtocolType: "consumer", GroupState: "Stable"},
		}
		slices.SortFunc(want, func(a, b kmsg.ListGroupsResponseGroup) int { return strings.Compare(a.Group, b.Group) })
		if v < 4 {
			for i := range want {
				want[i].GroupState = ""
			}
		}
		if got := listed(resp); !slices.Equal(got, listed(&kmsg.ListGroupsResponse{Groups: want})) {
			t.Errorf("v%d: listed %q, want %q", v, got, listed(&kmsg.ListGroupsResponse{Groups: want}))
		}
		if v >= 4 {
			filtered := listGroups(t, b, v, "EMPTY")
			if got := listed(filtered); !slices.Equal(got, []string{empty1 + "/Empty"}) {
				t.Errorf("v%d: filtered by Empty: %q", v, got)
			}
		}
	}
}

func listed(resp *kmsg.ListGroupsResponse) []string {
	var out []string
	for _, g := range resp.Groups {
		out = append(out, g.Group+"/"+g.ProtocolType+g.GroupState)
	}
	return out
}

func TestListGroupsWhileACoordinatorLoads(t *testing.T) {
	for _, c := range []struct {
		name string
		log  *groupLog
		want int16
	}{
		{"loading", &groupLog{loading: true}, kerr.CoordinatorLoadInProgress.Code},
		{"failed", &groupLog{loadFail: true}, kerr.CoordinatorNotAvailable.Code},
	} {
		b := newFakeBroker(t)
		ready := groupOn(2, "ready")
		stableMember(t, b, ready, nil)
		b.coordinate(groupOn(1, "x"), c.log)
		resp := listGroups(t, b, 4)
		if resp.ErrorCode != c.want || len(resp.Groups) != 1 || resp.Groups[0].Group != ready {
			t.Errorf("%s: code %d, groups %+v; want code %d and %s", c.name, resp.ErrorCode, resp.Groups, c.want, ready)
		}
	}
}
