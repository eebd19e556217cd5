package kafka

import (
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchTopic is one topic of an OffsetFetch request.
type fetchTopic struct {
	topic      string
	partitions []int32
}

func fetchRequest(version int16, groupID string, topics []fetchTopic, stable bool) *kmsg.OffsetFetchRequest {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.SetVersion(version)
	req.Group, req.RequireStable = groupID, stable
	if topics != nil {
		req.Topics = []kmsg.OffsetFetchRequestTopic{}
	}
	for _, t := range topics {
		req.Topics = append(req.Topics, kmsg.OffsetFetchRequestTopic{Topic: t.topic, Partitions: t.partitions})
	}
	return req
}

// fetchOffsets fetches one group's offsets (v0-7) and renders each partition as
// topic/partition=offset@epoch:metadata!code, in response order. A top-level error
// renders as !code.
func fetchOffsets(t *testing.T, b *fakeBroker, version int16, groupID string, topics []fetchTopic) []string {
	t.Helper()
	rs := &replies{t: t}
	OffsetFetch(b, viaWire(t, fetchRequest(version, groupID, topics, false)), rs.reply)
	resp := rs.one().(*kmsg.OffsetFetchResponse)
	checkWire(t, resp)
	out := renderFetched(resp.Topics)
	if resp.ErrorCode != 0 {
		out = append(out, fmt.Sprintf("!%d", resp.ErrorCode))
	}
	return out
}

func renderFetched(topics []kmsg.OffsetFetchResponseTopic) []string {
	var out []string
	for _, rt := range topics {
		for _, p := range rt.Partitions {
			out = append(out, renderOffset(rt.Topic, p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode))
		}
	}
	return out
}

func renderGroupFetched(topics []kmsg.OffsetFetchResponseGroupTopic) []string {
	var out []string
	for _, rt := range topics {
		for _, p := range rt.Partitions {
			out = append(out, renderOffset(rt.Topic, p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode))
		}
	}
	return out
}

func renderOffset(topic string, p int32, offset int64, epoch int32, meta *string, code int16) string {
	m := "<nil>"
	if meta != nil {
		m = *meta
	}
	return fmt.Sprintf("%s/%d=%d@%d:%s!%d", topic, p, offset, epoch, m, code)
}

func TestOffsetFetchEveryVersion(t *testing.T) {
	for _, v := range versions(t, 9) {
		if v >= 8 {
			continue // batched groups: TestOffsetFetchBatchedGroups
		}
		b := newFakeBroker(t)
		g := groupOn(2, "fetch")
		b.coordinate(g, nil)
		commit(t, b, 8, g, map[string][]int32{"orders": {0, 1}, "events": {0}}, []string{"orders", "events"}, 10)
		epoch := int32(4)
		if v < 5 {
			epoch = -1 // v5+
		}
		got := fetchOffsets(t, b, v, g, []fetchTopic{{"orders", []int32{1, 2, 0}}})
		want := []string{
			fmt.Sprintf("orders/1=11@%d:m!0", epoch),
			"orders/2=-1@-1:!0",
			fmt.Sprintf("orders/0=10@%d:m!0", epoch),
		}
		if !slices.Equal(got, want) {
			t.Errorf("v%d: got %q, want %q", v, got, want)
		}
		if v < 2 {
			if got := fetchOffsets(t, b, v, g, []fetchTopic{}); len(got) != 0 {
				t.Errorf("v%d: an empty topic list answered %q", v, got)
			}
			continue
		}
		all := fetchOffsets(t, b, v, g, nil)
		want = []string{
			fmt.Sprintf("events/0=10@%d:m!0", epoch),
			fmt.Sprintf("orders/0=10@%d:m!0", epoch),
			fmt.Sprintf("orders/1=11@%d:m!0", epoch),
		}
		if !slices.Equal(all, want) {
			t.Errorf("v%d: all offsets %q, want %q", v, all, want)
		}
	}
}

func TestOffsetFetchCoordinatorErrorByVersion(t *testing.T) {
	for _, v := range versions(t, 9) {
		if v >= 8 {
			continue
		}
		b := newFakeBroker(t)
		g := groupOn(1, "loading")
		b.coordinate(g, &groupLog{loading: true})
		got := fetchOffsets(t, b, v, g, []fetchTopic{{"orders", []int32{0, 1}}})
		code := kerr.CoordinatorLoadInProgress.Code
		want := []string{fmt.Sprintf("!%d", code)}
		if v < 2 { // no top-level code: every partition carries it
			want = []string{
				fmt.Sprintf("orders/0=-1@-1:!%d", code),
				fmt.Sprintf("orders/1=-1@-1:!%d", code),
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("v%d: got %q, want %q", v, got, want)
		}
	}
}

func TestOffsetFetchBatchedGroups(t *testing.T) {
	for _, v := range []int16{8, 9} {
		b := newFakeBroker(t)
		g, loading, far := groupOn(2, "fetch"), groupOn(1, "loading"), groupOn(3, "far")
		b.coordinate(g, nil)
		b.coordinate(loading, &groupLog{loading: true})
		commit(t, b, 8, g, map[string][]int32{"orders": {0}, "events": {0}}, []string{"orders", "events"}, 10)

		req := kmsg.NewPtrOffsetFetchRequest()
		req.SetVersion(v)
		for _, rg := range []kmsg.OffsetFetchRequestGroup{
			{Group: far, Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "orders", Partitions: []int32{0}}}},
			{Group: g, Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "orders", Partitions: []int32{0, 1}}}},
			{Group: loading},
			{Group: g}, // null topics: every committed partition
		} {
			rg.MemberEpoch = -1
			req.Groups = append(req.Groups, rg)
		}
		rs := &replies{t: t}
		OffsetFetch(b, viaWire(t, req), rs.reply)
		resp := rs.one().(*kmsg.OffsetFetchResponse)
		checkWire(t, resp)
		type answer struct {
			group   string
			code    int16
			offsets string
		}
		var got []answer
		for _, rg := range resp.Groups {
			got = append(got, answer{rg.Group, rg.ErrorCode, fmt.Sprint(renderGroupFetched(rg.Topics))})
		}
		want := []answer{
			{far, kerr.NotCoordinator.Code, "[]"},
			{g, 0, "[orders/0=10@4:m!0 orders/1=-1@-1:!0]"},
			{loading, kerr.CoordinatorLoadInProgress.Code, "[]"},
			{g, 0, "[events/0=10@4:m!0 orders/0=10@4:m!0]"},
		}
		if !slices.Equal(got, want) {
			t.Errorf("v%d: got %+v, want %+v", v, got, want)
		}
	}
}

func TestOffsetFetchRequireStable(t *testing.T) {
	for _, v := range []int16{6, 7} {
		b := newFakeBroker(t)
		g := groupOn(2, "stable")
		b.coordinate(g, nil)
		b.logs[2].hold = true
		rs := &replies{t: t}
		OffsetCommit(b, viaWire(t, commitRequest(8, g, map[string][]int32{"orders": {0}}, []string{"orders"}, 10)), rs.reply)
		if len(rs.got) != 0 {
			t.Fatal("a commit was acknowledged before it was durable")
		}
		fs := &replies{t: t}
		OffsetFetch(b, viaWire(t, fetchRequest(v, g, []fetchTopic{{"orders", []int32{0}}}, true)), fs.reply)
		resp := fs.one().(*kmsg.OffsetFetchResponse)
		checkWire(t, resp)
		want := "orders/0=-1@-1:!0" // before v7 a commit on its way is simply not visible
		if v >= 7 {
			want = fmt.Sprintf("orders/0=-1@-1:!%d", kerr.UnstableOffsetCommit.Code)
		}
		if got := renderFetched(resp.Topics); !slices.Equal(got, []string{want}) {
			t.Errorf("v%d: got %q, want %q", v, got, want)
		}
		b.logs[2].releaseAll()
		resp2 := rs.one().(*kmsg.OffsetCommitResponse)
		if code := resp2.Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Errorf("v%d: commit code %d", v, code)
		}
	}
}
