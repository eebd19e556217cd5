//go:build simbugs

package raft

import (
	"strings"
	"testing"
)

// Each planted bug must make the simulation's checkers fail within 200 seeds; a checker
// that never fails is not a checker. Raft's own assertions (a member stopping when told
// to truncate committed entries) do not count: fatalFails is off, so a stopped member
// just restarts and the checkers have to see the damage.
func TestPlantsAreCaught(t *testing.T) {
	for _, name := range []string{"vote-before-sync", "commit-old-epoch", "no-truncate-divergent"} {
		t.Run(name, func(t *testing.T) {
			set := plants(t, name)
			for seed := uint64(1); seed <= 200; seed++ {
				cfg := drawConfig(seed)
				cfg.plants = set
				cfg.fatalFails = false
				if err := runSim(cfg); err != nil {
					first, _, _ := strings.Cut(err.Error(), "\nlast events")
					t.Logf("caught at seed %d:\n%s", seed, first)
					return
				}
			}
			t.Fatalf("plant %s survived 200 seeds", name)
		})
	}
}

// With vote-before-sync a vote leaves before the quorum state that records it is durable.
func TestPlantVoteBeforeSyncReleasesEarly(t *testing.T) {
	c := newClusterWith(t, three, nil, func(cfg *Config) { cfg.Plants = plants(t, "vote-before-sync") })
	c.n(2).r.Step(c.now, 1, &VoteRequest{Epoch: 1, CandidateID: 1})
	c.pump()
	if len(c.msgs) != 1 {
		t.Fatalf("the planted vote did not leave early: %v", c.msgs)
	}
	if resp, ok := msgOf[*VoteResponse](c.msgs[0]); !ok || !resp.Granted {
		t.Fatalf("response %+v", c.msgs[0].env.Msg)
	}
}
