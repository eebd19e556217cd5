package controller

import (
	"cmp"
	"math/rand/v2"
	"slices"

	"github.com/seedlog/seedlog/core/metadata"
)

// place assigns rf distinct replicas to each of n partitions over brokers (which must
// hold at least rf entries), leader first.
//
// The brokers are laid out in one cycle that visits the racks in turn (rack "" counts
// as one rack), and partition p takes the rf consecutive slots starting at
// start + p*rf, from a random start. Consecutive slots over a cycle make every
// broker's replica count differ by at most one; when all racks have the same number of
// brokers, any window of up to #racks slots also spans distinct racks. With uneven racks
// a window can repeat a rack while another is unused: such a replica is swapped for the
// least loaded broker of an unused rack, so a partition spans min(rf, #racks) racks.
// The leader is the replica that leads the fewest of these partitions so far (earliest in
// the window on ties); with no racks or equal racks this keeps leader counts within one
// of each other too (a property the tests check).
func place(rng *rand.Rand, brokers []metadata.Broker, n, rf int) [][]int32 {
	cycle := rackCycle(brokers)
	racks := map[int32]string{}
	for _, b := range brokers {
		racks[b.ID] = b.Rack
	}
	rackCount := len(distinctRacks(brokers))
	replicaCount := map[int32]int{}
	leaderCount := map[int32]int{}
	start := rng.IntN(len(cycle))
	out := make([][]int32, n)
	for p := range n {
		window := make([]int32, rf)
		for j := range window {
			window[j] = cycle[(start+p*rf+j)%len(cycle)]
		}
		if rackCount > 1 {
			spreadRacks(window, cycle, racks, replicaCount, (start+p*rf)%len(cycle))
		}
		lead := 0
		for j, id := range window {
			if leaderCount[id] < leaderCount[window[lead]] {
				lead = j
			}
		}
		// The leader goes first (Kafka's preferred leader); followers keep window order.
		replicas := make([]int32, 0, rf)
		replicas = append(replicas, window[lead])
		replicas = append(replicas, window[:lead]...)
		replicas = append(replicas, window[lead+1:]...)
		leaderCount[replicas[0]]++
		for _, id := range replicas {
			replicaCount[id]++
		}
		out[p] = replicas
	}
	return out
}

// spreadRacks replaces window members whose rack an earlier member already uses with
// the least loaded broker of an unused rack, when one exists.
func spreadRacks(window, cycle []int32, racks map[int32]string, load map[int32]int, from int) {
	used := map[string]bool{}
	for j, id := range window {
		if !used[racks[id]] {
			used[racks[id]] = true
			continue
		}
		best, found := int32(0), false
		for k := range cycle {
			cand := cycle[(from+k)%len(cycle)]
			if used[racks[cand]] || slices.Contains(window, cand) {
				continue
			}
			if !found || load[cand] < load[best] {
				best, found = cand, true
			}
		}
		if found {
			window[j] = best
			used[racks[best]] = true
		}
	}
}

// rackCycle orders brokers so that consecutive entries alternate racks: the first broker
// (by id) of each rack in rack order, then the second of each, and so on.
func rackCycle(brokers []metadata.Broker) []int32 {
	byRack := map[string][]int32{}
	for _, b := range brokers {
		byRack[b.Rack] = append(byRack[b.Rack], b.ID)
	}
	racks := distinctRacks(brokers)
	for _, r := range racks {
		slices.Sort(byRack[r])
	}
	cycle := make([]int32, 0, len(brokers))
	for i := 0; len(cycle) < len(brokers); i++ {
		for _, r := range racks {
			if i < len(byRack[r]) {
				cycle = append(cycle, byRack[r][i])
			}
		}
	}
	return cycle
}

func distinctRacks(brokers []metadata.Broker) []string {
	var racks []string
	for _, b := range brokers {
		racks = append(racks, b.Rack)
	}
	slices.SortFunc(racks, cmp.Compare[string])
	return slices.Compact(racks)
}

// eligibleBrokers are the brokers new replicas and leaders may go to: registered,
// unfenced and not shutting down, sorted by id.
func (c *Controller) eligibleBrokers() []metadata.Broker {
	var out []metadata.Broker
	for _, b := range c.pending.Brokers() {
		if !c.leaving(b.ID) {
			out = append(out, b)
		}
	}
	return out
}
