package kafka

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestDeleteGroupsEveryVersion(t *testing.T) {
	for _, v := range versions(t, 42) {
		b := newFakeBroker(t)
		empty, busy, ghost, far := groupOn(0, "empty"), groupOn(0, "busy"), groupOn(1, "ghost"), groupOn(3, "far")
		stableMember(t, b, busy, nil)
		b.coordinate(ghost, nil)
		commit(t, b, 8, empty, map[string][]int32{"orders": {0, 1}}, []string{"orders"}, 10)
		log := b.logs[0]
		log.hold = true

		req := kmsg.NewPtrDeleteGroupsRequest()
		req.SetVersion(v)
		req.Groups = []string{far, empty, busy, ghost, empty, busy}
		rs := &replies{t: t}
		DeleteGroups(b, viaWire(t, req), rs.reply)
		if len(rs.got) != 0 {
			t.Fatalf("v%d: answered before the tombstones were durable", v)
		}
		log.releaseAll()
		resp := rs.one().(*kmsg.DeleteGroupsResponse)
		checkWire(t, resp)
		type outcome struct {
			group string
			code  int16
		}
		var got []outcome
		for _, g := range resp.Groups {
			got = append(got, outcome{g.Group, g.ErrorCode})
		}
		want := []outcome{
			{far, kerr.NotCoordinator.Code},
			{empty, 0},
			{busy, kerr.NonEmptyGroup.Code},
			{ghost, kerr.GroupIDNotFound.Code},
			{empty, 0}, // named twice: deleted once, both mentions told
			{busy, kerr.NonEmptyGroup.Code},
		}
		if !slices.Equal(got, want) {
			t.Errorf("v%d: got %+v, want %+v", v, got, want)
		}
		if d := describeOne(t, b, 5, empty); d.State != "Dead" {
			t.Errorf("v%d: deleted group reads %s", v, d.State)
		}
		if got := fetchOffsets(t, b, 7, empty, nil); len(got) != 0 {
			t.Errorf("v%d: deleted group still has offsets %v", v, got)
		}
	}
}
