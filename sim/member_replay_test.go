package sim_test

import (
	"os"
	"testing"

	"github.com/seedlog/seedlog/sim"
)

// A group leader that plans twice in one generation must watch for new partitions
// against the plan the coordinator kept, which may be its first. The scenario (see its
// header) ends with a group that never processed a record when the leader compares with
// its last plan instead.
func TestLeaderReplansInOneGeneration(t *testing.T) {
	requireNode(t)
	text, err := os.ReadFile("testdata/leader-replans-in-one-generation.scenario")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := sim.ParseScenario(string(text))
	if err != nil {
		t.Fatal(err)
	}
	// Shrunk before the draws of leader balance and moves, and before idle followers
	// asked for longer long-polls (the offsets partition's followers must come back to
	// its leader late): without them, as it was shrunk.
	r := sim.Run(sc.Options(sim.Options{Adjust: func(c *sim.Config) {
		c.LeaderBalance, c.Data.ElectInterval = sim.LeaderBalance{}, 0
		c.WithoutMoves()
		c.Timing.ReplicaFetchIdleMaxWait = c.Timing.ReplicaFetchMaxWait
	}}))
	if r.Failure != nil {
		t.Fatalf("%s: %s", r.Failure.Checker, r.Failure.Message)
	}
	if r.Coverage["group:leader-replanned"] == 0 {
		// The seed's draws changed under the scenario: shrink a new one that reaches it.
		t.Fatal("the scenario no longer has a leader planning twice in one generation")
	}
}

// Seed 2739 restarts a broker whose metadata log lost most of its records: replaying
// them, the broker meets a reassignment that moved a replica away before a later one
// moved it back, and used to delete that replica's log, though the ISR counted on it;
// elected leader, it then answered a committed offset OFFSET_OUT_OF_RANGE. It keeps
// the log now, until it is caught up.
func TestCatchUpKeepsMovedLog(t *testing.T) {
	requireNode(t)
	r := sim.Run(sim.Options{Seed: 2739})
	if r.Failure != nil {
		t.Fatalf("%s: %s", r.Failure.Checker, r.Failure.Message)
	}
	if r.Coverage["note:replica-kept-while-catching-up"] == 0 {
		t.Fatal("the seed no longer has a broker keep a replica while catching up: find another")
	}
}
