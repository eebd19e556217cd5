package sim

import (
	"fmt"
	"maps"
	"slices"
	"testing"
)

func tps(specs ...string) []TopicPartition {
	var out []TopicPartition
	for _, s := range specs {
		var tp TopicPartition
		var p int
		if _, err := fmt.Sscanf(s, "%2s/%d", &tp.Topic, &p); err != nil {
			panic(err)
		}
		tp.Partition = int32(p)
		out = append(out, tp)
	}
	return out
}

// The examples of Kafka's assignor documentation: two members subscribed to two topics
// of three partitions each.
func TestRangeAssignorMatchesKafka(t *testing.T) {
	members := []assignMember{{id: "c1", topics: []string{"t0", "t1"}}, {id: "c0", topics: []string{"t0", "t1"}}}
	got := rangeAssign(members, map[string]int32{"t0": 3, "t1": 3})
	want := map[string][]TopicPartition{
		"c0": tps("t0/0", "t0/1", "t1/0", "t1/1"),
		"c1": tps("t0/2", "t1/2"),
	}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("range: %v, want %v", got, want)
	}
}

func TestRoundRobinAssignorMatchesKafka(t *testing.T) {
	members := []assignMember{{id: "c0", topics: []string{"t0", "t1"}}, {id: "c1", topics: []string{"t0", "t1"}}}
	got := roundRobinAssign(members, map[string]int32{"t0": 3, "t1": 3})
	want := map[string][]TopicPartition{
		"c0": tps("t0/0", "t0/2", "t1/1"),
		"c1": tps("t0/1", "t1/0", "t1/2"),
	}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("round-robin: %v, want %v", got, want)
	}
}

// Round-robin skips members not subscribed to a topic; range gives a topic only to its
// subscribers.
func TestAssignorsRespectSubscriptions(t *testing.T) {
	members := []assignMember{{id: "a", topics: []string{"t0"}}, {id: "b", topics: []string{"t0", "t1"}}}
	counts := map[string]int32{"t0": 2, "t1": 2}
	rr := roundRobinAssign(members, counts)
	if !slices.Equal(rr["a"], tps("t0/0")) || !slices.Equal(rr["b"], tps("t0/1", "t1/0", "t1/1")) {
		t.Fatalf("round-robin: %v", rr)
	}
	rg := rangeAssign(members, counts)
	if !slices.Equal(rg["a"], tps("t0/0")) || !slices.Equal(rg["b"], tps("t0/1", "t1/0", "t1/1")) {
		t.Fatalf("range: %v", rg)
	}
}

// Static members are ordered by group.instance.id, so a restarted member (new member
// id) keeps its place.
func TestAssignorsOrderStaticMembersByInstance(t *testing.T) {
	members := []assignMember{{id: "zzz", instance: "i0", topics: []string{"t0"}}, {id: "aaa", instance: "i1", topics: []string{"t0"}}}
	got := rangeAssign(members, map[string]int32{"t0": 2})
	if !slices.Equal(got["zzz"], tps("t0/0")) || !slices.Equal(got["aaa"], tps("t0/1")) {
		t.Fatalf("range with instance ids: %v", got)
	}
}

// Every partition goes to exactly one member, whatever the shape.
func TestAssignorsCoverEveryPartitionOnce(t *testing.T) {
	for n := 1; n <= 5; n++ {
		for parts := int32(0); parts <= 7; parts++ {
			var members []assignMember
			for i := range n {
				members = append(members, assignMember{id: fmt.Sprintf("m%d", i), topics: []string{"t0", "t1"}})
			}
			counts := map[string]int32{"t0": parts, "t1": parts/2 + 1}
			for name, assign := range map[string]func([]assignMember, map[string]int32) map[string][]TopicPartition{"range": rangeAssign, "roundrobin": roundRobinAssign} {
				seen := map[TopicPartition]int{}
				for _, got := range assign(members, counts) {
					for _, tp := range got {
						seen[tp]++
					}
				}
				total := int(counts["t0"] + counts["t1"])
				if len(seen) != total {
					t.Fatalf("%s with %d members, %v: %d partitions assigned, want %d", name, n, counts, len(seen), total)
				}
				for tp, k := range seen {
					if k != 1 {
						t.Fatalf("%s: %v assigned %d times", name, tp, k)
					}
				}
			}
		}
	}
}

func TestAssignmentCodecRoundTrip(t *testing.T) {
	in := tps("t0/0", "t0/3", "t1/2")
	out, err := decodeAssignment(encodeAssignment(in))
	if err != nil || !slices.Equal(in, out) {
		t.Fatalf("round trip: %v, %v", out, err)
	}
	if out, err := decodeAssignment(nil); err != nil || out != nil {
		t.Fatalf("empty assignment: %v, %v", out, err)
	}
	topics, err := decodeSubscription(encodeSubscription([]string{"t0", "t1"}))
	if err != nil || !slices.Equal(topics, []string{"t0", "t1"}) {
		t.Fatalf("subscription: %v, %v", topics, err)
	}
}

func TestSpansMergeAndCover(t *testing.T) {
	var s []span
	for _, r := range []span{{5, 8}, {0, 2}, {2, 5}, {10, 12}, {9, 10}} {
		s = addSpan(s, r)
	}
	if !slices.Equal(s, []span{{0, 8}, {9, 12}}) {
		t.Fatalf("merged %v", s)
	}
	if !covers(s, span{0, 8}) || covers(s, span{0, 12}) || !covers(s, span{9, 11}) {
		t.Fatal("covers is wrong")
	}
}
