package controller

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/seedlog/seedlog/core/metadata"
	"pgregory.net/rapid"
)

// spread returns max-min of the counts of ids over all brokers.
func spread(brokers []metadata.Broker, count map[int32]int) int {
	lo, hi := 1<<30, 0
	for _, b := range brokers {
		lo, hi = min(lo, count[b.ID]), max(hi, count[b.ID])
	}
	return hi - lo
}

func TestPlacementProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 12).Draw(t, "brokers")
		mode := rapid.SampledFrom([]string{"none", "equal", "uneven"}).Draw(t, "racks")
		var divisors []int
		for k := 1; k <= n; k++ {
			if n%k == 0 {
				divisors = append(divisors, k)
			}
		}
		k := rapid.SampledFrom(divisors).Draw(t, "rackCount")
		brokers := make([]metadata.Broker, n)
		ids := rapid.SliceOfNDistinct(rapid.Int32Range(0, 100), n, n, rapid.ID[int32]).Draw(t, "ids")
		slices.Sort(ids)
		for i := range brokers {
			brokers[i].ID = ids[i]
			switch mode {
			case "equal":
				brokers[i].Rack = fmt.Sprint("r", i%k)
			case "uneven":
				brokers[i].Rack = rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, "rack")
			}
		}
		parts := rapid.IntRange(1, 60).Draw(t, "partitions")
		rf := rapid.IntRange(1, n).Draw(t, "rf")
		rng := rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 0))

		got := place(rng, brokers, parts, rf)

		racks := map[int32]string{}
		for _, b := range brokers {
			racks[b.ID] = b.Rack
		}
		rackCount := len(distinctRacks(brokers))
		replicas, leaders := map[int32]int{}, map[int32]int{}
		if len(got) != parts {
			t.Fatalf("%d partitions placed", len(got))
		}
		for p, rs := range got {
			if len(rs) != rf {
				t.Fatalf("partition %d: %v", p, rs)
			}
			seen := map[string]bool{}
			for i, id := range rs {
				if _, ok := racks[id]; !ok || slices.Contains(rs[:i], id) {
					t.Fatalf("partition %d: replicas %v", p, rs)
				}
				seen[racks[id]] = true
				replicas[id]++
			}
			leaders[rs[0]]++
			if len(seen) != min(rf, rackCount) {
				t.Fatalf("partition %d spans racks %v, want %d of %d", p, seen, min(rf, rackCount), rackCount)
			}
		}
		if mode != "uneven" {
			if s := spread(brokers, replicas); s > 1 {
				t.Fatalf("replica counts %v spread by %d", replicas, s)
			}
			if s := spread(brokers, leaders); s > 1 {
				t.Fatalf("leader counts %v spread by %d", leaders, s)
			}
		}
	})
}

// The start is random: different seeds spread single-partition topics over brokers.
func TestPlacementStartIsRandom(t *testing.T) {
	brokers := []metadata.Broker{{ID: 1}, {ID: 2}, {ID: 3}, {ID: 4}}
	rng := rand.New(rand.NewPCG(7, 7))
	firsts := map[int32]bool{}
	for range 64 {
		firsts[place(rng, brokers, 1, 1)[0][0]] = true
	}
	if len(firsts) != 4 {
		t.Fatalf("leaders of one-partition topics: %v", firsts)
	}
}

// Racks alternate in the cycle, brokers within a rack by id.
func TestRackCycle(t *testing.T) {
	brokers := []metadata.Broker{{ID: 1, Rack: "b"}, {ID: 2, Rack: "a"}, {ID: 3, Rack: "b"}, {ID: 4, Rack: "a"}, {ID: 5, Rack: "c"}}
	if got := rackCycle(brokers); !slices.Equal(got, []int32{2, 1, 5, 4, 3}) {
		t.Fatalf("cycle %v", got)
	}
}

// Placement in the controller uses only eligible brokers and follows racks.
func TestCreateTopicsRackAware(t *testing.T) {
	h := newHarness(t)
	h.cluster(6, "x", "y", "z")
	h.register(7, "x") // fenced: never placed
	tid := h.createTopic("t", 12, 3)
	count := map[int32]int{}
	for _, ps := range h.committed.Partitions(tid) {
		seen := map[string]bool{}
		for _, id := range ps.Replicas {
			b, _ := h.committed.Broker(id)
			seen[b.Rack] = true
			count[id]++
			if id == 7 {
				t.Fatal("placed on a fenced broker")
			}
		}
		if len(seen) != 3 {
			t.Fatalf("partition %d racks %v", ps.Partition, seen)
		}
	}
	for id := int32(1); id <= 6; id++ {
		if count[id] != 6 {
			t.Fatalf("replica counts %v", count)
		}
	}
}
