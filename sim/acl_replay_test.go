package sim_test

import (
	"os"
	"testing"
	"time"

	"github.com/seedlog/seedlog/sim"
)

// An ACL removal is acknowledged only once a partition leader cut off from the
// controller can no longer decide on the binding it removed (see the scenario's
// header): the answer waits out the leader's lease, and ann is not let in after it.
func TestAclRevokeOnLaggingBroker(t *testing.T) {
	requireNode(t)
	r := runScenarioFile(t, "testdata/acl-revoke-on-lagging-broker.scenario", nil)
	if r.Failure != nil {
		t.Fatalf("%s: %s", r.Failure.Checker, r.Failure.Message)
	}
	var removal, access *sim.Op
	for _, op := range r.History.Ops {
		switch {
		case op.Kind == sim.OpAclChange && op.Delete:
			removal = op
		case op.Kind == sim.OpAccess && removal != nil:
			access = op
		}
	}
	if removal == nil || access == nil || removal.Outcome != sim.OK {
		t.Fatalf("the scenario no longer removes the ACL and tries an access after: removal %v, access %v", removal, access)
	}
	if waited := time.Duration(removal.Return - removal.Call); waited < 500*time.Millisecond {
		t.Errorf("the removal was answered after %v, before the cut-off leader's lease could end", waited)
	}
	if access.Outcome == sim.OK {
		t.Errorf("ann read at the cut-off leader after the removal was acknowledged: %v", access)
	}
}

// runScenarioFile replays a scenario file, with plants when given.
func runScenarioFile(t *testing.T, path string, plants []string) sim.Result {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := sim.ParseScenario(string(text))
	if err != nil {
		t.Fatal(err)
	}
	sc.Plants = append(sc.Plants, plants...)
	// Replayed with the draws of when it was written: the quota client and the later
	// workloads change the scenario's seed, and with them acl-ack-early went uncaught.
	return sim.Run(sc.Options(sim.Options{Adjust: func(c *sim.Config) {
		c.Data.QuotaRate, c.Data.QuotaRequestPercent = 0, 0
		c.WithoutLaterDraws()
	}}))
}
