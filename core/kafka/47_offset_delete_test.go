package kafka

import (
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func offsetDeleteRequest(groupID string, topics ...fetchTopic) *kmsg.OffsetDeleteRequest {
	req := kmsg.NewPtrOffsetDeleteRequest()
	req.Group = groupID
	for _, t := range topics {
		rt := kmsg.NewOffsetDeleteRequestTopic()
		rt.Topic = t.topic
		for _, p := range t.partitions {
			rt.Partitions = append(rt.Partitions, kmsg.OffsetDeleteRequestTopicPartition{Partition: p})
		}
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// renderDeleted renders an OffsetDelete answer as topic/partition!code in response
// order, a group error as !code.
func renderDeleted(resp *kmsg.OffsetDeleteResponse) []string {
	var out []string
	if resp.ErrorCode != 0 {
		out = append(out, fmt.Sprintf("!%d", resp.ErrorCode))
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out = append(out, fmt.Sprintf("%s/%d!%d", t.Topic, p.Partition, p.ErrorCode))
		}
	}
	return out
}

func TestOffsetDeleteEveryVersion(t *testing.T) {
	for _, v := range versions(t, 47) {
		b := newFakeBroker(t)
		g := groupOn(0, "empty")
		b.coordinate(g, nil)
		commit(t, b, 8, g, map[string][]int32{"orders": {0, 1}}, []string{"orders"}, 10)
		b.logs[0].hold = true
		req := offsetDeleteRequest(g, fetchTopic{"orders", []int32{0, 7}}, fetchTopic{"nope", []int32{0}})
		req.SetVersion(v)
		rs := &replies{t: t}
		OffsetDelete(b, viaWire(t, req), rs.reply)
		if len(rs.got) != 0 {
			t.Fatalf("v%d: answered before the tombstones were durable", v)
		}
		b.logs[0].releaseAll()
		resp := rs.one().(*kmsg.OffsetDeleteResponse)
		checkWire(t, resp)
		unknown := kerr.UnknownTopicOrPartition.Code
		want := []string{"orders/0!0", fmt.Sprintf("orders/7!%d", unknown), fmt.Sprintf("nope/0!%d", unknown)}
		if got := renderDeleted(resp); !slices.Equal(got, want) {
			t.Errorf("v%d: got %v, want %v", v, got, want)
		}
		got := fetchOffsets(t, b, 7, g, []fetchTopic{{"orders", []int32{0, 1}}})
		if want := []string{"orders/0=-1@-1:!0", "orders/1=11@4:m!0"}; !slices.Equal(got, want) {
			t.Errorf("v%d: offsets after the delete %v, want %v", v, got, want)
		}
	}
}

func TestOffsetDeleteGroupErrors(t *testing.T) {
	b := newFakeBroker(t)
	ghost, far := groupOn(0, "ghost"), groupOn(3, "far")
	b.coordinate(ghost, nil)
	cases := []struct {
		group string
		want  int16
	}{
		{"", kerr.InvalidGroupID.Code},
		{far, kerr.NotCoordinator.Code},
		{ghost, kerr.GroupIDNotFound.Code},
	}
	for _, tc := range cases {
		rs := &replies{t: t}
		OffsetDelete(b, viaWire(t, offsetDeleteRequest(tc.group, fetchTopic{"orders", []int32{0}}, fetchTopic{"nope", []int32{0}})), rs.reply)
		resp := rs.one().(*kmsg.OffsetDeleteResponse)
		checkWire(t, resp)
		if got := renderDeleted(resp); !slices.Equal(got, []string{fmt.Sprintf("!%d", tc.want)}) {
			t.Errorf("group %q: got %v, want only the group error %d", tc.group, got, tc.want)
		}
	}
}
