package kafka

import (
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestOffsetCommitEveryVersion(t *testing.T) {
	unknown := kerr.UnknownTopicOrPartition.Code
	for _, v := range versions(t, 8) {
		b := newFakeBroker(t)
		g := groupOn(2, "commit")
		b.coordinate(g, nil)
		topics := map[string][]int32{"orders": {2, 9, 0, -1}, "nope": {0}, "events": {0}}
		order := []string{"orders", "nope", "events"}
		codes := commit(t, b, v, g, topics, order, 100)
		want := [][]int16{{0, unknown, 0, unknown}, {unknown}, {0}}
		if fmt.Sprint(codes) != fmt.Sprint(want) {
			t.Errorf("v%d: codes %v, want %v", v, codes, want)
		}
		got := fetchOffsets(t, b, 7, g, nil)
		epoch := int32(4)
		if v < 6 {
			epoch = -1 // the commit's leader epoch is v6+
		}
		wantOffsets := []string{
			fmt.Sprintf("events/0=100@%d:m!0", epoch),
			fmt.Sprintf("orders/0=100@%d:m!0", epoch),
			fmt.Sprintf("orders/2=102@%d:m!0", epoch),
		}
		if !slices.Equal(got, wantOffsets) {
			t.Errorf("v%d: committed %q, want %q", v, got, wantOffsets)
		}
	}
}

func TestOffsetCommitRouting(t *testing.T) {
	unknown := kerr.UnknownTopicOrPartition.Code
	for _, v := range versions(t, 8) {
		b := newFakeBroker(t)
		b.routing["g"] = kerr.NotCoordinator.Code
		// Nothing known: answered without the coordinator, so no routing error shows.
		codes := commit(t, b, v, "g", map[string][]int32{"nope": {0}, "orders": {3}}, []string{"nope", "orders"}, 1)
		if fmt.Sprint(codes) != fmt.Sprint([][]int16{{unknown}, {unknown}}) {
			t.Errorf("v%d: all unknown: %v", v, codes)
		}
		codes = commit(t, b, v, "g", map[string][]int32{"nope": {0}, "orders": {1, 3}}, []string{"nope", "orders"}, 1)
		if want := [][]int16{{unknown}, {kerr.NotCoordinator.Code, unknown}}; fmt.Sprint(codes) != fmt.Sprint(want) {
			t.Errorf("v%d: mixed: %v, want %v", v, codes, want)
		}
	}
}

func TestOffsetCommitFromAMember(t *testing.T) {
	b := newFakeBroker(t)
	g := groupOn(0, "members")
	m := stableMember(t, b, g, nil)
	for _, c := range []struct {
		generation int32
		want       int16
	}{{m.generation, 0}, {m.generation - 1, kerr.IllegalGeneration.Code}} {
		req := commitRequest(9, g, map[string][]int32{"orders": {0}}, []string{"orders"}, 5)
		req.Generation, req.MemberID = c.generation, m.id
		rs := &replies{t: t}
		OffsetCommit(b, viaWire(t, req), rs.reply)
		resp := rs.one().(*kmsg.OffsetCommitResponse)
		checkWire(t, resp)
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != c.want {
			t.Errorf("generation %d: code %d, want %d", c.generation, code, c.want)
		}
	}
}

// A commit of unknown partitions only never reaches the coordinator, which would
// otherwise create an empty group for it.
func TestOffsetCommitOfUnknownPartitionsCreatesNoGroup(t *testing.T) {
	b := newFakeBroker(t)
	g := groupOn(1, "phantom")
	b.coordinate(g, nil)
	codes := commit(t, b, 8, g, map[string][]int32{"nope": {0}}, []string{"nope"}, 1)
	if codes[0][0] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("code %d", codes[0][0])
	}
	if resp := listGroups(t, b, 4); len(resp.Groups) != 0 {
		t.Errorf("groups after a commit of unknown partitions: %+v", resp.Groups)
	}
}
