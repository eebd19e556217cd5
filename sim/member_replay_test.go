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
	// Shrunk before the draws of leader balance and moves: without them, as it was
	// shrunk.
	r := sim.Run(sc.Options(sim.Options{Adjust: func(c *sim.Config) {
		c.LeaderBalance, c.Data.ElectInterval = sim.LeaderBalance{}, 0
		c.WithoutMoves()
	}}))
	if r.Failure != nil {
		t.Fatalf("%s: %s", r.Failure.Checker, r.Failure.Message)
	}
	if r.Coverage["group:leader-replanned"] == 0 {
		// The seed's draws changed under the scenario: shrink a new one that reaches it.
		t.Fatal("the scenario no longer has a leader planning twice in one generation")
	}
}
