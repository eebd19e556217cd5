package sim_test

import (
	"testing"
	"time"

	"github.com/seedlog/seedlog/sim"
)

// Session readers on a steady load: every reader fetches through incremental fetch
// sessions, two partitions at a time out of six, so that sessions are created, answer
// incrementally, leave out partitions with nothing new and forget partitions their
// reader moved away from; every checker, the sessions checker included, passes.
func TestSessionReaders(t *testing.T) {
	requireNode(t)
	r := sim.Run(sim.Options{Seed: 7, Adjust: func(c *sim.Config) {
		steadyProduce(c)
		c.Data.Topics = []sim.DataTopic{{Name: "d0", Partitions: 6, RF: 3, MinISR: 2}}
		c.Data.Groups = nil
		c.Data.Readers, c.Data.SessionReaders, c.Data.SessionPartitions = 2, 2, 2
		c.SafetyDuration = 20 * time.Second
	}})
	if r.Failure != nil {
		t.Fatalf("%s: %s", r.Failure.Checker, r.Failure.Message)
	}
	for _, k := range []string{"fetch-session:created", "fetch-session:incremental", "fetch-session:left-out", "fetch-session:forgotten", "fetch-session:offsets-moved"} {
		if r.Coverage[k] == 0 {
			t.Errorf("%s never happened", k)
		}
	}
	t.Logf("created %d, incremental %d, left out %d, forgotten %d", r.Coverage["fetch-session:created"],
		r.Coverage["fetch-session:incremental"], r.Coverage["fetch-session:left-out"], r.Coverage["fetch-session:forgotten"])
}
